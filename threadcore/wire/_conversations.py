"""Seed 002's shapes: a message as its "get message by id" returns it, and its error body
(``statusCode``, ``message``, ``error``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final, NewType

import attrs

from threadcore.domain.errors import (
    Conflict,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    NotPermitted,
    RequestTooLarge,
    StorageError,
    ThreadcoreError,
    Unauthenticated,
    Unsupported,
    UnsupportedMediaType,
    WireFormatError,
)
from threadcore.domain.model import DeliveryStatus, Direction, Message, MessageSource, ThreadUser
from threadcore.wire._base import STR, Bad, Id, SeedDirection, Shape, check, ensure, refuse
from threadcore.wire._platform import rebuild_error

__all__ = [
    "BadRequest",
    "Gone",
    "dump_conversation_message",
    "dump_error",
    "load_conversation_message",
    "load_error",
]

SHAPE: Final = Shape(camel=True, omit_none=True)

#: Seed 002's number for ``TYPE_SMS`` (its types are numbered in the order it lists them:
#: TYPE_CALL 1, TYPE_SMS 2, TYPE_EMAIL 3 …, which its notes on types 1, 3 and 10 confirm).
SMS_TYPE: Final = 2


class ConversationStatus(enum.StrEnum):
    """Seed 002's delivery statuses (all of them; threadcore writes only some)."""

    CONNECTED = "connected"
    DELIVERED = "delivered"
    FAILED = "failed"
    OPENED = "opened"
    PENDING = "pending"
    READ = "read"
    SCHEDULED = "scheduled"
    SENT = "sent"
    UNDELIVERED = "undelivered"
    CLICKED = "clicked"
    OPT_OUT = "opt_out"


class MessageType(enum.StrEnum):
    """Seed 002's ``messageType``: threadcore's messages are all SMS."""

    SMS = "TYPE_SMS"


#: DeliveryStatus -> seed 002 status. An inbound message (Received) is ``delivered``; a Draft has
#: no 002 status (``scheduled`` would promise a send nobody asked for) and is refused.
TO_CONVERSATION_STATUS: Final[Mapping[DeliveryStatus, ConversationStatus]] = {
    DeliveryStatus.QUEUED: ConversationStatus.PENDING,
    DeliveryStatus.SENT: ConversationStatus.SENT,
    DeliveryStatus.DELIVERED: ConversationStatus.DELIVERED,
    DeliveryStatus.READ: ConversationStatus.READ,
    DeliveryStatus.SENDING_FAILED: ConversationStatus.FAILED,
    DeliveryStatus.DELIVERY_FAILED: ConversationStatus.UNDELIVERED,
    DeliveryStatus.RECEIVED: ConversationStatus.DELIVERED,
}
_OUTBOUND_STATUS: Final[Mapping[ConversationStatus, DeliveryStatus]] = {
    conv: status
    for status, conv in TO_CONVERSATION_STATUS.items()
    if status is not DeliveryStatus.RECEIVED
}


@attrs.frozen(kw_only=True)
class _ConversationMessage:
    id: Id
    type: int
    message_type: MessageType
    conversation_id: Id
    date_added: datetime
    body: str
    direction: SeedDirection
    status: ConversationStatus
    content_type: str
    attachments: tuple[str, ...] = ()
    source: MessageSource | None = None
    user_id: Id | None = None


def dump_conversation_message(message: Message) -> dict[str, Any]:
    """Seed 002's message: ``id``, ``type`` 2 and ``messageType`` TYPE_SMS, ``conversationId``
    (the thread id), ``dateAdded`` (the creation time), ``body``, ``direction``, ``status`` in
    that platform's values, ``contentType``, ``attachments`` (when there are some), ``source`` (when
    known) and ``userId`` (the author of an outbound message). threadcore has no location or
    contact ids, so ``locationId`` and ``contactId`` are not written. A draft raises
    :class:`WireFormatError`."""
    ensure(message, Message, "message")
    status = TO_CONVERSATION_STATUS.get(message.status)
    if status is None:
        raise WireFormatError(
            f"Parameter [status] {message.status!s} has no status on this platform",
            parameter="status",
        )
    outbound = message.direction is Direction.OUTBOUND
    author = message.author
    shape = _ConversationMessage(
        id=Id(message.id),
        type=SMS_TYPE,
        message_type=MessageType.SMS,
        conversation_id=Id(message.thread_id),
        date_added=message.created_at,
        body=message.body,
        direction=SeedDirection[message.direction.name],
        status=status,
        content_type=message.content_type,
        attachments=tuple(message.attachments),
        source=message.source,
        user_id=Id(author.extension_id) if outbound and author is not None else None,
    )
    return SHAPE.dump(shape)


def load_conversation_message(data: Mapping[str, Any]) -> Message:
    """A :class:`~threadcore.Message` from seed 002's message.

    An inbound message must be ``delivered`` (it reads as Received); an outbound one reads as
    pending → Queued, sent, delivered, read, failed → SendingFailed, undelivered →
    DeliveryFailed. The statuses threadcore never writes (connected, opened, clicked, scheduled,
    opt_out) and any ``type`` other than 2 raise :class:`WireFormatError`. The shape carries no
    phone numbers (``""``) and no modification time (it reads as ``dateAdded``); ``userId``
    becomes the author (without a name).
    """
    shape = SHAPE.load(data, _ConversationMessage)
    check(shape.type == SMS_TYPE, "type", f"must be {SMS_TYPE} (TYPE_SMS), not {shape.type}")
    inbound = shape.direction is SeedDirection.INBOUND
    if inbound:
        check(
            shape.status is ConversationStatus.DELIVERED,
            "status",
            f"of an inbound message must be delivered, not {shape.status.value!r}",
        )
        check(shape.user_id is None, "userId", "is only for outbound messages")
        status = DeliveryStatus.RECEIVED
    else:
        found = _OUTBOUND_STATUS.get(shape.status)
        if found is None:
            raise refuse("status", f"{shape.status.value!r} is not an SMS status threadcore keeps")
        status = found
    return Message(
        id=shape.id,
        thread_id=shape.conversation_id,
        direction=Direction[shape.direction.name],
        body=shape.body,
        from_number="",
        to_number="",
        author=None if shape.user_id is None else ThreadUser(shape.user_id),
        created_at=shape.date_added,
        last_modified_at=shape.date_added,
        status=status,
        source=shape.source,
        content_type=shape.content_type,
        attachments=shape.attachments,
    )


# --- errors ---------------------------------------------------------------------------------------
class BadRequest(InvalidInput):
    """A 400 error read back from seed 002's error body, which does not say which one (an
    invalid sync or page token)."""

    code = "BadRequest"
    status = 400


class Gone(Conflict):
    """A 410 error read back from seed 002's error body, which does not say what is gone (a
    deleted thread or note)."""

    code = "Gone"
    status = 410


#: The class :func:`load_error` reads each status as: the most general threadcore error with it.
ERROR_BY_STATUS: Final[Mapping[int, type[ThreadcoreError]]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: NotPermitted,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: RequestTooLarge,
    415: UnsupportedMediaType,
    422: InvalidInput,
    500: ThreadcoreError,
    501: Unsupported,
    503: StorageError,
}


#: Seed 002's error ``message``: one sentence, or (on a 422) a list of them.
Sentences = NewType("Sentences", object)


def _sentences(value: object, _: object) -> Sentences:
    if isinstance(value, list):
        if not value or len(value) > 100:
            raise Bad("must hold 1 to 100 sentences")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise Bad(f"[{index}] must be a string, not {type(item).__name__}")
        return Sentences([STR(item, str) for item in value])
    return Sentences(STR(value, str))


@attrs.frozen(kw_only=True)
class _Error:
    status_code: int
    message: Sentences
    error: str


SHAPE.converter.register_structure_hook(Sentences, _sentences)


def dump_error(error: ThreadcoreError) -> dict[str, Any]:
    """``error`` as seed 002's error body: ``statusCode`` (the error's status), ``message`` (a list
    of one sentence for a 422, as that seed shows, else the sentence) and ``error`` (the status's
    reason phrase, e.g. "Unprocessable Entity")."""
    ensure(error, ThreadcoreError, "error")
    message = Sentences([error.message] if error.status == 422 else error.message)
    shape = _Error(status_code=error.status, message=message, error=HTTPStatus(error.status).phrase)
    return SHAPE.dump(shape)


def load_error(data: Mapping[str, Any]) -> ThreadcoreError:
    """The threadcore error a seed 002 error body stands for.

    The body carries no error code, so the class is the most general one with that status
    (:data:`ERROR_BY_STATUS`: 422 InvalidInput, 404 NotFound, 400 :class:`BadRequest` …); the
    message is the body's (a list's sentences joined with "; "). Other statuses raise
    :class:`WireFormatError`.
    """
    shape = SHAPE.load(data, _Error)
    cls = ERROR_BY_STATUS.get(shape.status_code)
    if cls is None:
        raise refuse("statusCode", f"is not a status threadcore errors have: {shape.status_code}")
    text = shape.message
    message = text if isinstance(text, str) else "; ".join(str(t) for t in text)  # type: ignore[attr-defined]
    return rebuild_error(cls, message, None)
