"""The snake_case "SMS thread" of seed 000: a thread with its messages and their
classifications. Nullable fields are written as ``null`` (that shape's way), times as RFC 3339
UTC with milliseconds."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from threadcore.domain.errors import ThreadcoreError, WireFormatError
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Message,
    OwnerResource,
    Party,
    Thread,
    ThreadStatus,
)
from threadcore.wire._base import (
    Id,
    JsonObject,
    Phone,
    SeedDirection,
    Shape,
    ensure,
    ensure_sequence,
)
from threadcore.wire._mirror import Mirrors

__all__ = ["dump_sms_error", "dump_sms_thread", "load_sms_thread"]

SHAPE: Final = Shape(camel=False, omit_none=False)


class SmsStatus(enum.StrEnum):
    """Seed 000's ``status``: every DeliveryStatus in lower snake_case (the seed shows
    ``draft``)."""

    DRAFT = "draft"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    SENDING_FAILED = "sending_failed"
    DELIVERY_FAILED = "delivery_failed"
    RECEIVED = "received"


TO_SMS_STATUS: Final[Mapping[DeliveryStatus, SmsStatus]] = {
    status: SmsStatus[status.name] for status in DeliveryStatus
}
FROM_SMS_STATUS: Final[Mapping[SmsStatus, DeliveryStatus]] = {
    sms: status for status, sms in TO_SMS_STATUS.items()
}

#: A classification object, generated from the record (wire/_mirror.py): what every object of
#: seed 000 begins with (``modified_at`` is the record's ``created_at``), the record's fields
#: (``confidence`` as ``agent_confidence_score``), and the ``object`` kind it ends with.
_CLASSIFICATION: Final = Mirrors(__name__).mirror(
    "_Classification",
    Classification,
    "created_at modified_at id action_recommendation agent_confidence_score classification "
    "is_action_required is_reply_required language reason object",
    sources={"agent_confidence_score": "confidence"},
    types={"modified_at": datetime | None, "object": str},
    defaults={"modified_at": attrs.NOTHING, "object": "classification"},
)
#: The keys a classification object has; a classification's ``details`` fill in the others.
CLASSIFICATION_KEYS: Final = frozenset(_CLASSIFICATION.keys)


@attrs.frozen(kw_only=True)
class _Object:
    """What every object of seed 000 begins with; each ends with its ``object`` kind."""

    created_at: datetime
    modified_at: datetime | None
    id: Id


@attrs.frozen(kw_only=True)
class _Sms(_Object):
    body: str
    classifications: tuple[JsonObject, ...] = ()
    direction: SeedDirection
    from_number: Phone
    to_number: Phone
    status: SmsStatus
    is_automated: bool = False
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    object: str = "sms"


@attrs.frozen(kw_only=True)
class _SmsThread(_Object):
    from_number: Phone
    to_number: Phone
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    latest_message_at: datetime | None
    latest_message_body: str | None
    messages: tuple[_Sms, ...]
    object: str = "sms_thread"


def _classification(record: Classification, path: str) -> JsonObject:
    ensure(record, Classification, path)
    shape = _CLASSIFICATION.dump(record, modified_at=record.created_at, object="classification")
    out = SHAPE.dump(shape)
    clash = sorted(CLASSIFICATION_KEYS.intersection(record.details))
    if clash:
        raise WireFormatError(
            f"Parameter [{path}.details] repeats the classification's own field {clash[0]!r}",
            parameter=f"{path}.details",
        )
    return JsonObject(out | dict(record.details))


def _domain_classification(data: JsonObject, path: str) -> Classification:
    shape: Any = SHAPE.load(data, _CLASSIFICATION.shape, path)
    details = {k: v for k, v in data.items() if k not in CLASSIFICATION_KEYS}
    found: Classification = _CLASSIFICATION.load(shape, Classification, details=details)
    return found


def _sms(message: Message, path: str) -> _Sms:
    ensure(message, Message, path)
    return _Sms(
        created_at=message.created_at,
        modified_at=message.last_modified_at,
        id=Id(message.id),
        body=message.body,
        classifications=tuple(
            _classification(c, f"{path}.classifications[{i}]")
            for i, c in enumerate(message.classifications)
        ),
        direction=SeedDirection[message.direction.name],
        from_number=Phone(message.from_number),
        to_number=Phone(message.to_number),
        status=TO_SMS_STATUS[message.status],
        is_automated=message.is_automated,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
    )


def _domain_sms(shape: _Sms, thread_id: str, path: str) -> Message:
    return Message(
        id=shape.id,
        thread_id=thread_id,
        direction=Direction[shape.direction.name],
        body=shape.body,
        from_number=shape.from_number,
        to_number=shape.to_number,
        author=None,
        created_at=shape.created_at,
        last_modified_at=shape.modified_at or shape.created_at,
        status=FROM_SMS_STATUS[shape.status],
        sent_at=shape.sent_at,
        delivered_at=shape.delivered_at,
        is_automated=shape.is_automated,
        classifications=tuple(
            _domain_classification(c, f"{path}classifications[{i}]")
            for i, c in enumerate(shape.classifications)
        ),
    )


def dump_sms_thread(thread: Thread, messages: Sequence[Message]) -> dict[str, Any]:
    """Seed 000's SMS thread: the thread's numbers (``from_number`` is the owner's, ``to_number``
    the guest's), its activity times, its latest message body and ``messages`` (as given: pass
    ``inbox.messages(...)``, and drafts if the client should see them) with their delivery fields
    and classifications (a classification's ``details`` become further keys of its object).

    The seed's ``partner`` record is not written: threadcore has no partner records.
    """
    ensure(thread, Thread, "thread")
    records = ensure_sequence(messages, "messages")
    shape = _SmsThread(
        created_at=thread.creation_time,
        modified_at=thread.last_modified_time,
        id=Id(thread.id),
        from_number=Phone(thread.owner_party.phone_number),
        to_number=Phone(thread.guest_party.phone_number),
        last_inbound_at=thread.last_inbound_at,
        last_outbound_at=thread.last_outbound_at,
        latest_message_at=thread.latest_message_at,
        latest_message_body=thread.latest_message_body,
        messages=tuple(_sms(m, f"messages[{i}]") for i, m in enumerate(records)),
    )
    return SHAPE.dump(shape)


def load_sms_thread(data: Mapping[str, Any]) -> tuple[Thread, tuple[Message, ...]]:
    """The thread and its messages from seed 000's SMS thread.

    That shape carries no lifecycle and no owner resource: the thread reads as Open, Alive and
    unassigned, with an owner whose extension id is ``""``; a ``null`` ``modified_at`` or
    ``latest_message_at`` reads as ``created_at``. Messages carry no author (``None``).
    """
    shape = SHAPE.load(data, _SmsThread)
    thread = Thread(
        id=shape.id,
        owner_party=Party(shape.from_number),
        guest_party=Party(shape.to_number),
        owner=OwnerResource(""),
        creation_time=shape.created_at,
        status=ThreadStatus.OPEN,
        availability=Availability.ALIVE,
        assignee=None,
        status_reason=None,
        label=shape.latest_message_body,
        last_modified_time=shape.modified_at or shape.created_at,
        last_inbound_at=shape.last_inbound_at,
        last_outbound_at=shape.last_outbound_at,
        latest_message_at=shape.latest_message_at or shape.created_at,
    )
    messages = tuple(
        _domain_sms(m, shape.id, f"messages[{i}].") for i, m in enumerate(shape.messages)
    )
    return thread, messages


def dump_sms_error(error: ThreadcoreError) -> dict[str, Any]:
    """``error`` as seed 000's platform writes errors. The seed shows no error body, but its page
    is FastAPI's (the 200 is "Successful Response", FastAPI's default), so the body is FastAPI's:
    ``{"detail": "<sentence>"}``, and a 422 that names a parameter is FastAPI's validation list
    ``{"detail": [{"type": <threadcore's code>, "loc": ["query", <name>], "msg": <sentence>}]}``
    (a read of that platform takes its input from the path and the query only)."""
    ensure(error, ThreadcoreError, "error")
    if error.status == 422 and error.parameter is not None:
        where = {"type": error.code, "loc": ["query", error.parameter], "msg": error.message}
        return {"detail": [where]}
    return {"detail": error.message}
