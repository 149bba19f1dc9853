"""Files a message carries (issue 25): an :class:`Upload` is a file's bytes, content type and
name; once stored, a message keeps a URL that names its bytes by their SHA-256 (one stored copy
per content, however many messages and drafts carry it).

A stored file's URL is ``https://attachments.threadcore.invalid/<sha256>?type=...&size=...
&name=...`` (``.invalid`` never resolves: the bytes are served by the app's content endpoint
only). The SQL adapters count a message's references with the same reading of its URLs
(:func:`stored_keys`), written in SQL in their triggers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import attrs

from threadcore.domain.errors import InvalidInput, RequestTooLarge

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "STORED_PREFIX",
    "Stored",
    "Upload",
    "parse_stored",
    "stored_keys",
]

#: The largest file taken: 1.5 MB, the platform's MMS ceiling.
MAX_ATTACHMENT_BYTES: Final = 1_500_000
#: What every stored file's URL starts with; its SHA-256 (64 lowercase hex digits) follows.
STORED_PREFIX: Final = "https://attachments.threadcore.invalid/"
_KEY_AT: Final = len(STORED_PREFIX)
_KEY: Final = re.compile(r"[0-9a-f]{64}")
_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


@attrs.frozen
class Upload:
    """A file to attach to a message or draft: its bytes, content type and suggested file name.

    Give it in ``attachments=`` of :meth:`~threadcore.Inbox.send` or
    :meth:`~threadcore.Inbox.save_draft`: its bytes are stored in the same transaction as the
    message, or not at all (rule R24), and the message keeps :attr:`url`."""

    content: bytes
    content_type: str = "application/octet-stream"
    filename: str | None = None

    def checked(self, index: int | str) -> Upload:
        """This upload with its content type and file name made safe, or a typed refusal naming
        ``attachments[index]`` (or ``index`` itself when it is a name, as a form part's)."""
        where = f"attachments[{index}]" if isinstance(index, int) else index
        if not isinstance(self.content, bytes):
            raise InvalidInput(f"Parameter [{where}] must hold bytes", parameter=where)
        if len(self.content) > MAX_ATTACHMENT_BYTES:
            raise RequestTooLarge(
                f"Parameter [{where}] is larger than {MAX_ATTACHMENT_BYTES} bytes",
                parameter=where,
            )
        if not self.content:
            raise InvalidInput(f"Parameter [{where}] is empty", parameter=where)
        raw = self.content_type if isinstance(self.content_type, str) else ""
        kind = raw.partition(";")[0].strip().lower() or "application/octet-stream"
        if not _TYPE.fullmatch(kind):
            raise InvalidInput(
                f"Parameter [{where}] has no valid content type: {raw[:60]!r}", parameter=where
            )
        name = None
        if isinstance(self.filename, str) and self.filename:
            # keep the last path segment only: a name, never a path
            name = re.split(r"[\\/]", self.filename)[-1].strip()[:200]
            name = "".join(c for c in name if c.isprintable()) or None
            if name in (".", ".."):
                name = None
        return Upload(self.content, kind, name)

    @property
    def key(self) -> str:
        """The SHA-256 hex digest of the bytes: the key they are stored under."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def url(self) -> str:
        """The URL a message keeps for this upload (checked), naming its stored bytes."""
        query = {"type": self.content_type, "size": str(len(self.content))}
        if self.filename:
            query["name"] = self.filename
        return f"{STORED_PREFIX}{self.key}?{urlencode(query, quote_via=quote)}"


@attrs.frozen
class Stored:
    """What a stored file's URL says: the key of its bytes, its type, size and name."""

    key: str
    content_type: str
    size: int
    filename: str | None


def _key_of(url: str) -> str | None:
    """The key a stored file's URL names (the reading the SQL triggers repeat), or ``None``."""
    if not url.startswith(STORED_PREFIX):
        return None
    key = url[_KEY_AT : _KEY_AT + 64]
    rest = url[_KEY_AT + 64 : _KEY_AT + 65]
    return key if rest in ("", "?") and _KEY.fullmatch(key) else None


def stored_keys(urls: Iterable[str]) -> frozenset[str]:
    """The keys of the stored files among a message's attachment ``urls`` (each once)."""
    return frozenset(key for key in map(_key_of, urls) if key is not None)


def parse_stored(url: str) -> Stored | None:
    """The stored file ``url`` names, or ``None`` for any other URL (a carrier's media)."""
    key = _key_of(url)
    if key is None:
        return None
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    size = query.get("size", "")
    return Stored(
        key,
        query.get("type", "application/octet-stream"),
        int(size) if size.isdigit() else 0,
        query.get("name"),
    )
