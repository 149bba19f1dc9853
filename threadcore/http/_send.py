"""A send as the platform's clients make it (JSON, or a multipart form with files), and a message's
attachments written as the platform's entries: the app's send endpoint, and public pieces for a
service of one's own (``docs/embedding.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.requests import Request

from threadcore.aio import AsyncInbox
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import UnsupportedMediaType
from threadcore.domain.model import Message
from threadcore.http import _attachments as att
from threadcore.http._common import media_type, read_json
from threadcore.http._form import read_send_form
from threadcore.wire import SEND_NAMES, SendRequest, check_send_numbers, renaming
from threadcore.wire._requests import load_send_request

__all__ = ["BASE", "read_send", "send_message", "with_attachment_entries"]

#: The path every message-threads operation is under (``{accountId}``: ``~`` or the account id).
BASE: Final = "/restapi/v1.0/account/{accountId}/message-threads"


async def read_send(request: Request) -> tuple[SendRequest, list[Upload]]:
    """A send request and its files: ``application/json`` (``NewThreadMessageRequest``), or
    ``multipart/form-data`` with a JSON part and file parts (every refusal names its part);
    any other media type is :class:`~threadcore.errors.UnsupportedMediaType` (415)."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        body, uploads = await read_send_form(request)
    elif kind == "application/json":
        body, uploads = await read_json(request), []
    else:
        raise UnsupportedMediaType(
            "A message is sent as application/json, or as multipart/form-data with attachments, "
            f"not {kind[:60] or 'missing'}"
        )
    return load_send_request(body), uploads


async def send_message(
    inbox: AsyncInbox, actor: str, send: SendRequest, files: Sequence[Upload] = ()
) -> Message:
    """Send ``send`` with ``files`` (as :func:`read_send` reads them: ``await
    send_message(inbox, actor, *await read_send(request))``) as ``actor``: a send to a
    thread must name its own numbers (``check_send_numbers``), the files are stored with the
    message or not at all (rule M8), and a refusal names the request's fields
    (``SEND_NAMES``: ``text``, ``from``, ``to``)."""
    if send.thread_id is not None:
        check_send_numbers(send, await inbox.get(send.thread_id, actor=actor))
    # the files go into the send's own unit of work: stored with the message, or not at all
    with renaming(SEND_NAMES):
        return await inbox.send(
            actor=actor,
            body=send.text,
            owner_number=None if send.thread_id else send.owner_number,
            guest_number=None if send.thread_id else send.guest_number,
            thread_id=send.thread_id,
            attachments=files,
        )


def base_of(request: Request) -> str:
    """The URL the message-threads paths of ``request``'s account start with."""
    account = request.path_params.get("accountId", "~")
    return str(request.base_url).rstrip("/") + BASE.replace("{accountId}", account)


def with_attachment_entries(document: dict[str, Any], request: Request) -> dict[str, Any]:
    """``document`` (a message, or a list or sync of messages, as ``threadcore.wire`` writes it)
    with each attachment written as the platform's entry ``{id, contentType, size, filename,
    contentUri}``, its ``contentUri`` under the message-threads paths of ``request``'s server."""
    return att.with_entries(document, base_of(request))
