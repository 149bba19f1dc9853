"""Attachments sent through the app: their bytes kept in the repository (by SHA-256, so any worker
serves them), a message holding an https URL that names them, and the platform's attachment
entries ``{id, contentType, size, filename, contentUri}`` written in place of those URLs.

A stored attachment's URL is ``https://attachments.threadcore.invalid/<sha256>?type=...&size=...
&name=...`` (``.invalid`` never resolves: the bytes are served by the content endpoint only).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import attrs

from threadcore.domain.errors import InvalidInput, RequestTooLarge
from threadcore.inbox import Inbox
from threadcore.ports import AttachmentStore
from threadcore.wire._base import Shape

__all__ = [
    "AttachmentEntry",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "Stored",
    "Upload",
    "content_path",
    "content_urls",
    "parse_stored",
    "stored_url",
    "with_entries",
]

#: The most attachments one message carries (as ``Inbox.send`` takes).
MAX_ATTACHMENTS: Final = 10
#: The largest attachment taken: 1.5 MB, the platform's MMS ceiling.
MAX_ATTACHMENT_BYTES: Final = 1_500_000

_SHAPE: Final = Shape(camel=True, omit_none=True)
_HOST: Final = "attachments.threadcore.invalid"
_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_KEY: Final = re.compile(r"[0-9a-f]{64}")


@attrs.frozen
class Upload:
    """One file of a send form: its bytes, content type and suggested file name."""

    content: bytes
    content_type: str
    filename: str | None

    def checked(self, where: str) -> Upload:
        """This upload with its content type and file name made safe, or a typed refusal that
        names it ``where`` (its form part: ``attachments[0]``)."""
        if len(self.content) > MAX_ATTACHMENT_BYTES:
            raise RequestTooLarge(
                f"Parameter [{where}] is larger than {MAX_ATTACHMENT_BYTES} bytes",
                parameter=where,
            )
        if not self.content:
            raise InvalidInput(f"Parameter [{where}] is empty", parameter=where)
        kind = self.content_type.partition(";")[0].strip().lower() or "application/octet-stream"
        if not _TYPE.fullmatch(kind):
            raise InvalidInput(
                f"Parameter [{where}] has no valid content type: {self.content_type[:60]!r}",
                parameter=where,
            )
        name = None
        if self.filename:  # keep the last path segment only: a name, never a path
            name = re.split(r"[\\/]", self.filename)[-1].strip()[:200]
            name = "".join(c for c in name if c.isprintable()) or None
            if name in (".", ".."):
                name = None
        return Upload(self.content, kind, name)

    def key(self) -> str:
        """The SHA-256 hex digest of the bytes: the key they are stored under."""
        return hashlib.sha256(self.content).hexdigest()


@attrs.frozen(kw_only=True)
class AttachmentEntry:
    """The platform's attachment entry (``MessageAttachmentResponseEntry``) as the app writes it
    in a message: ``size`` and ``filename`` when known (a carrier's media URL has neither)."""

    id: str
    content_type: str
    size: int | None = None
    filename: str | None = None
    content_uri: str


@attrs.frozen
class Stored:
    """What a stored attachment's URL says: the key of its bytes, its type, size and name."""

    key: str
    content_type: str
    size: int
    filename: str | None


def store_of(inbox: Inbox) -> AttachmentStore:
    """Where ``inbox``'s repository keeps attachments' bytes (every bundled repository does);
    a repository that keeps none refuses files clearly, and nothing is stored."""
    repository = inbox._repo
    if not isinstance(repository, AttachmentStore):
        raise InvalidInput(
            "This inbox's repository stores no attachments: send the message without files",
            parameter="attachments",
        )
    return repository


def stored_url(upload: Upload) -> str:
    """The URL a message keeps for ``upload`` (checked), once its bytes are stored."""
    query = {"type": upload.content_type, "size": str(len(upload.content))}
    if upload.filename:
        query["name"] = upload.filename
    return f"https://{_HOST}/{upload.key()}?{urlencode(query, quote_via=quote)}"


def parse_stored(url: str) -> Stored | None:
    """The stored attachment ``url`` names, or None for any other URL (a carrier's media)."""
    parts = urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.netloc != _HOST or not _KEY.fullmatch(key):
        return None
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    size = query.get("size", "")
    return Stored(
        key,
        query.get("type", "application/octet-stream"),
        int(size) if size.isdigit() else 0,
        query.get("name"),
    )


def content_path(message_id: str, attachment_id: str) -> str:
    """The content endpoint's path for an attachment, under the app's base path."""
    return f"/messages/{quote(message_id, safe='')}/content/{quote(attachment_id, safe='')}"


def _entry(url: str, index: int, message_id: str, base: str) -> dict[str, Any]:
    stored = parse_stored(url)
    if stored is None:
        kind = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
        return _SHAPE.dump(AttachmentEntry(id=str(index + 1), content_type=kind, content_uri=url))
    entry = AttachmentEntry(
        id=str(index + 1),
        content_type=stored.content_type,
        size=stored.size,
        filename=stored.filename,
        content_uri=base + content_path(message_id, str(index + 1)),
    )
    return _SHAPE.dump(entry)


def content_urls(urls: Sequence[str], message_id: str, base: str) -> list[str]:
    """Where each of a message's attachments is read: a stored file at the content endpoint
    under ``base`` (with the caller's bearer token), a carrier's media at its own URL. The same
    ``contentUri`` its platform entry names."""
    return [str(_entry(url, i, message_id, base)["contentUri"]) for i, url in enumerate(urls)]


def with_entries(document: dict[str, Any], base: str) -> dict[str, Any]:
    """``document`` (a message, or a list or sync of messages and entries, as ``threadcore.wire``
    writes them) with each message's attachment URLs written as the platform's attachment
    entries; ``base`` is the URL the app's message-threads paths start with."""
    records: Sequence[dict[str, Any]] = document.get("records", [document])
    for record in records:
        urls = record.get("attachments")
        if urls:
            record["attachments"] = [
                _entry(url, i, record["id"], base) for i, url in enumerate(urls)
            ]
    return document
