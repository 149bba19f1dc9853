"""Seed 002's platform, served: ``GET /conversations/messages/{messageId}`` ("Get message by
id") with its ``Version: 2021-07-28`` header, the message as
``threadcore.wire.dump_conversation_message`` writes it (attachments as URLs the caller can
read), errors in that platform's body (``statusCode``, ``message``, ``error``:
``threadcore.wire.dump_error``)."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from threadcore.domain.errors import InvalidInput, MessageNotFound, Unauthenticated
from threadcore.domain.model import Availability, DeliveryStatus
from threadcore.http import _attachments as att
from threadcore.http._common import Context, Dialect, Operation, json_response
from threadcore.http._platform import BASE
from threadcore.wire import _conversations as shapes
from threadcore.wire._conversations import BadRequest, dump_conversation_message, dump_error
from threadcore.wire._requests import load_no_query

__all__ = ["DIALECT", "OPERATIONS", "PREFIX", "VERSION"]

#: Where the platform's messages are.
PREFIX: Final = "/conversations/messages"
#: The one ``Version`` header value the seed allows.
VERSION: Final = "2021-07-28"
#: The seed's own sentence for a token it does not know.
INVALID_TOKEN: Final = "Invalid token: access token is invalid"

_ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["statusCode", "message", "error"],
    "properties": {
        "statusCode": {"type": "number"},
        "message": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "error": {"type": "string"},
    },
}

#: Seed 002's errors.
DIALECT: Final = Dialect("ConversationsError", dump_error, _ERROR_SCHEMA)


def check_version(request: Request) -> None:
    """Refuse a request without the seed's ``Version: 2021-07-28`` header, or with another value
    (400, :class:`~threadcore.wire.BadRequest`), as a client of that platform must send it."""
    given = request.headers.getlist("version")
    if given == [VERSION]:
        return
    if not given:
        said = f"Header [Version] is required: send Version: {VERSION}"
    else:
        said = f"Header [Version] must be {VERSION}, not {', '.join(given)[:40]!r}"
    raise BadRequest(said, parameter="Version")


async def get_message(ctx: Context, request: Request) -> Response:
    """One message of a thread the caller handles: not found when there is none, when the caller
    may not see it, when it is a draft (not a message on that platform) or deleted (the shape
    cannot say deleted)."""
    try:
        actor = ctx.actor(request)
    except Unauthenticated:
        if "authorization" not in request.headers:
            raise
        raise Unauthenticated(INVALID_TOKEN) from None
    check_version(request)
    load_no_query(request.query_params.multi_items())
    message_id = request.path_params["messageId"]
    assert isinstance(message_id, str)
    missing = MessageNotFound(f"Message [{message_id[:64]}] not found")
    try:
        message = await ctx.inbox.message(message_id, actor=actor)
    except InvalidInput:  # not even an id: no message has it
        raise missing from None
    if message.status is DeliveryStatus.DRAFT or message.availability is Availability.DELETED:
        raise missing
    document = dump_conversation_message(message)
    if message.attachments:
        base = str(request.base_url).rstrip("/") + BASE.replace("{accountId}", "~")
        document["attachments"] = att.content_urls(message.attachments, message.id, base)
    return json_response(document)


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("GET", "/{messageId}", "getConversationMessage", "Get message by id", get_message,
              headers=("Version",), response=shapes._ConversationMessage, dialect=DIALECT),
)  # fmt: skip
