"""Attachments sent through the app: each upload given to ``Inbox.send`` as an
:class:`~threadcore.Upload` (its bytes stored with the message, by SHA-256, so any worker serves
them: :mod:`threadcore.domain.attachments`), and the platform's attachment entries ``{id,
contentType, size, filename, contentUri}`` written in place of the URLs a message keeps.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote, urlsplit

import attrs

from threadcore.domain.attachments import MAX_ATTACHMENT_BYTES, Stored, Upload, parse_stored
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
    "with_entries",
]

#: The most attachments one message carries (as ``Inbox.send`` takes).
MAX_ATTACHMENTS: Final = 10

_SHAPE: Final = Shape(camel=True, omit_none=True)


@attrs.frozen(kw_only=True)
class AttachmentEntry:
    """The platform's attachment entry (``MessageAttachmentResponseEntry``) as the app writes it
    in a message: ``size`` and ``filename`` when known (a carrier's media URL has neither)."""

    id: str
    content_type: str
    size: int | None = None
    filename: str | None = None
    content_uri: str


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
