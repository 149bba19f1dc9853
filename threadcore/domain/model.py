"""The aggregates and value objects of a shared SMS inbox.

Everything here is an immutable ``attrs`` class: a change is a new value made by a pure function in
:mod:`threadcore.domain.transitions`. Nothing here knows about storage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, overload

import attrs

from threadcore.domain.errors import InvalidInput
from threadcore.domain.records import record_maker
from threadcore.domain.validation import (
    check_extension_id,
    check_positive_duration,
    check_text,
    e164,
)

__all__ = [
    "Availability",
    "Classification",
    "DeliveryStatus",
    "Direction",
    "Entry",
    "EntryScope",
    "EntryType",
    "Handler",
    "Keyword",
    "Message",
    "MessageSource",
    "Note",
    "OwnerResource",
    "Party",
    "Policy",
    "Resource",
    "StatusReason",
    "Thread",
    "ThreadStatus",
    "ThreadUser",
]


class ThreadStatus(enum.StrEnum):
    """Whether a thread is open or resolved (final)."""

    OPEN = "Open"
    RESOLVED = "Resolved"


class Availability(enum.StrEnum):
    """Whether a record is alive or a tombstone."""

    ALIVE = "Alive"
    DELETED = "Deleted"


class StatusReason(enum.StrEnum):
    """Why a thread was resolved (the platform's reasons)."""

    MANUAL = "Manual"
    THREAD_EXPIRED = "ThreadExpired"
    OWNER_DELETED = "OwnerDeleted"
    OWNER_PHONE_NUMBER_DELETED = "OwnerPhoneNumberDeleted"


class Direction(enum.StrEnum):
    """Inbound (customer to business) or outbound (handler to customer)."""

    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class DeliveryStatus(enum.StrEnum):
    """Where a message is on its way (the platform's ``messageStatus``, plus the seed's draft).

    Outbound: Queued -> Sent -> Delivered -> Read, with SendingFailed (instead of Sent) and
    DeliveryFailed (instead of Delivered) final. Inbound messages are Received. A Draft is not a
    message yet: it is kept apart until it is sent.
    """

    DRAFT = "Draft"
    QUEUED = "Queued"
    SENT = "Sent"
    DELIVERED = "Delivered"
    READ = "Read"
    SENDING_FAILED = "SendingFailed"
    DELIVERY_FAILED = "DeliveryFailed"
    RECEIVED = "Received"


class MessageSource(enum.StrEnum):
    """What produced an outbound message (the seed's ``source``)."""

    APP = "app"
    API = "api"
    WORKFLOW = "workflow"
    CAMPAIGN = "campaign"
    BULK_ACTIONS = "bulk_actions"


class Keyword(enum.StrEnum):
    """The carrier keyword an inbound message consists of, if any (see ``Policy``)."""

    OPT_OUT = "OptOut"
    OPT_IN = "OptIn"
    HELP = "Help"


class EntryType(enum.StrEnum):
    """The kinds of record an entries sync returns (the platform's ``recordType``)."""

    ALIVE_MESSAGE = "AliveMessage"
    DELETED_MESSAGE = "DeletedMessage"
    ALIVE_NOTE = "AliveNote"
    DELETED_NOTE = "DeletedNote"
    THREAD_CREATED_HINT = "ThreadCreatedHint"
    THREAD_RESOLVED_HINT = "ThreadResolvedHint"
    THREAD_DELETED_HINT = "ThreadDeletedHint"
    THREAD_ASSIGNED_HINT = "ThreadAssignedHint"


class EntryScope(enum.StrEnum):
    """Which threads a full entries sync covers."""

    ACCESSIBLE = "Accessible"
    UNASSIGNED = "Unassigned"
    ASSIGNED_TO_ME = "AssignedToMe"
    ASSIGNED_TO_ME_AND_UNASSIGNED = "AssignedToMeAndUnassigned"
    EXPLICIT = "Explicit"


@attrs.frozen(weakref_slot=False)
class Party:
    """One side of a conversation: a phone number in E.164."""

    phone_number: str


@attrs.frozen(weakref_slot=False)
class OwnerResource:
    """The common resource that owns a thread (e.g. a call queue)."""

    extension_id: str
    name: str | None = None
    extension_type: str | None = None


@attrs.frozen(weakref_slot=False)
class ThreadUser:
    """A handler named on a record (assignee, author, initiator)."""

    extension_id: str
    name: str | None = None
    extension_type: str = "User"


def _check_name(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A display name or type: a string every adapter can store (no NUL, no lone surrogate, at
    most 256 characters), checked when it enters the directory (issue 12, item 14)."""
    if value is None:
        return
    if not isinstance(value, str) or len(value) > _MAX_NAME:
        raise InvalidInput(
            f"Parameter [{attribute.name}] must be a string of at most {_MAX_NAME} characters "
            "or None",
            parameter=attribute.name,
        )
    check_text(value, attribute.name)


_MAX_NAME = 256


def _check_id(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_extension_id(value, attribute.name)


@attrs.frozen
class Handler:
    """An SMS handler of a resource: an extension id and, when known, a display name."""

    extension_id: str = attrs.field(validator=_check_id)
    name: str | None = attrs.field(default=None, validator=_check_name, kw_only=True)

    def as_user(self) -> ThreadUser:
        """This handler as it appears on a record (assignee, author)."""
        return ThreadUser(self.extension_id, self.name)


def _to_handlers(values: Iterable[str | Handler]) -> tuple[Handler, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput("Parameter [handlers] must be a list", parameter="handlers")
    out: dict[str, Handler] = {}
    for value in values:
        handler = value if isinstance(value, Handler) else Handler(value)
        out[handler.extension_id] = handler
    return tuple(out.values())


def _to_numbers(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput("Parameter [phone_numbers] must be a list", parameter="phone_numbers")
    return tuple(dict.fromkeys(e164(v, "phone_numbers") for v in values))


@attrs.frozen
class Resource:
    """A common resource (call queue, department …): its numbers and its SMS handlers.

    ``handlers`` accepts bare extension ids or :class:`Handler` values.
    """

    extension_id: str = attrs.field(validator=_check_id)
    name: str | None = attrs.field(default=None, validator=_check_name)
    extension_type: str | None = attrs.field(default="Department", validator=_check_name)
    phone_numbers: tuple[str, ...] = attrs.field(default=(), converter=_to_numbers)
    handlers: tuple[Handler, ...] = attrs.field(default=(), converter=_to_handlers)
    _by_id: Mapping[str, Handler] = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(lambda self: {h.extension_id: h for h in self.handlers}, True),
    )

    def handler(self, extension_id: str) -> Handler | None:
        """The handler with this extension id, or ``None``."""
        return self._by_id.get(extension_id)

    def is_handler(self, extension_id: str | None) -> bool:
        """Whether ``extension_id`` is an SMS handler of this resource."""
        return extension_id in self._by_id

    def user(self, extension_id: str) -> ThreadUser:
        """The handler as a record names it (with its name when known)."""
        handler = self._by_id.get(extension_id)
        return handler.as_user() if handler is not None else ThreadUser(extension_id)

    @property
    def owner(self) -> OwnerResource:
        """This resource as a thread's ``owner`` field shows it."""
        return OwnerResource(self.extension_id, self.name, self.extension_type)


def _check_int(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(
            f"Parameter [{attribute.name}] must be a positive integer", parameter=attribute.name
        )


def _check_bool(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInput(f"Parameter [{attribute.name}] must be a bool", parameter=attribute.name)


def _check_ttl(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_positive_duration(value, attribute.name)


def _to_keywords(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput("Keyword lists must be lists of words", parameter="keywords")
    words = []
    for value in values:
        if (
            not isinstance(value, str)
            or not value.strip()
            or len(value.split()) != 1
            or not value.strip().isascii()
            or not value.strip().isprintable()
        ):
            raise InvalidInput(
                f"A keyword must be one word of ASCII characters, not {value!r:.40}",
                parameter="keywords",
            )
        words.append(value.strip().upper())
    return frozenset(words)


@attrs.frozen
class Policy:
    """The tunable rules of an inbox.

    ``ttl``: a thread with no message for this long is resolved (ThreadExpired); 72 h by default.
    ``claim_on_send``: a handler sending on an unassigned open thread takes it instead of being
    refused. ``max_body_length``: the longest message body accepted. ``sync_max_changes``: the
    most threads one incremental sync may return (beyond it the client must do a full sync).
    ``sync_token_max_age``: how long a sync token stays usable. ``opt_out_keywords``,
    ``opt_in_keywords`` and ``help_keywords``: an inbound message that is exactly one of these
    ASCII words (case-insensitive, surrounding whitespace ignored) opts the guest out of the owner
    number, back in, or is flagged as a help request. ``max_note_length``: the longest note.
    """

    ttl: timedelta = attrs.field(default=timedelta(hours=72), validator=_check_ttl)
    claim_on_send: bool = attrs.field(default=False, validator=_check_bool)
    max_body_length: int = attrs.field(default=1600, validator=_check_int)
    sync_max_changes: int = attrs.field(default=10_000, validator=_check_int)
    sync_token_max_age: timedelta = attrs.field(default=timedelta(days=7), validator=_check_ttl)
    opt_out_keywords: frozenset[str] = attrs.field(
        default=frozenset(
            {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
        ),
        converter=_to_keywords,
    )
    opt_in_keywords: frozenset[str] = attrs.field(
        default=frozenset({"START", "YES", "UNSTOP"}), converter=_to_keywords
    )
    help_keywords: frozenset[str] = attrs.field(
        default=frozenset({"HELP", "INFO"}), converter=_to_keywords
    )
    max_note_length: int = attrs.field(default=5000, validator=_check_int)

    def __attrs_post_init__(self) -> None:
        lists = (self.opt_out_keywords, self.opt_in_keywords, self.help_keywords)
        if sum(len(k) for k in lists) != len(frozenset().union(*lists)):
            raise InvalidInput(
                "A keyword may be in only one of opt_out_keywords, opt_in_keywords and "
                "help_keywords",
                parameter="opt_out_keywords",
            )

    def keyword(self, body: str) -> Keyword | None:
        """The keyword ``body`` consists of (surrounding whitespace and the case of ASCII letters
        ignored), if any. Carriers match keywords on ASCII letters only: a look-alike ("stop"
        written with a long s, U+017F; "start" with the st ligature, U+FB06) is not a keyword,
        although ``str.upper`` would fold it onto one."""
        word = body.strip()
        if not word.isascii():
            return None
        word = word.upper()
        if word in self.opt_out_keywords:
            return Keyword.OPT_OUT
        if word in self.opt_in_keywords:
            return Keyword.OPT_IN
        if word in self.help_keywords:
            return Keyword.HELP
        return None


@attrs.frozen(weakref_slot=False)
class Thread:
    """A conversation between one owner number and one guest number.

    ``version`` counts the changes made to the record (for optimistic concurrency).
    """

    id: str
    owner_party: Party
    guest_party: Party
    owner: OwnerResource
    creation_time: datetime
    status: ThreadStatus
    availability: Availability
    assignee: ThreadUser | None
    status_reason: StatusReason | None
    label: str | None
    last_modified_time: datetime
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    #: When the latest message (either direction) was added: the thread's last activity.
    latest_message_at: datetime
    version: int = 1

    @property
    def latest_message_body(self) -> str | None:
        """The latest message's body (the same as ``label``)."""
        return self.label

    def due_at(self, ttl: timedelta) -> datetime:
        """The instant the thread expires if no message arrives before it."""
        return self.latest_message_at + ttl


def _default_status(message: Message) -> DeliveryStatus:
    return (
        DeliveryStatus.RECEIVED if message.direction is Direction.INBOUND else DeliveryStatus.QUEUED
    )


@attrs.frozen(weakref_slot=False)
class Classification:
    """What an automation concluded about a message (the seed's classification record).

    ``classification`` is the label (e.g. ``payment_inquiry``); the rest is optional;
    ``details`` holds any further free-form fields (JSON-like values).
    """

    id: str
    classification: str
    created_at: datetime
    confidence: float | None = None
    reason: str | None = None
    is_action_required: bool | None = None
    is_reply_required: bool | None = None
    language: str | None = None
    action_recommendation: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


_T = TypeVar("_T")


class _Alias(Generic[_T]):
    """A read-only second name of a record's field (the seed's and the platform's names differ)."""

    __slots__ = ("_field",)

    def __init__(self, field: str) -> None:
        self._field = field

    @overload
    def __get__(self, record: None, owner: type | None = None) -> _Alias[_T]: ...
    @overload
    def __get__(self, record: object, owner: type | None = None) -> _T: ...
    def __get__(self, record: object, owner: type | None = None) -> _T | _Alias[_T]:
        if record is None:
            return self
        value: _T = getattr(record, self._field)
        return value


@attrs.frozen(weakref_slot=False)
class Message:
    """One SMS in a thread. ``author`` is the sending handler (outbound only).

    ``status`` is the delivery status (Received for inbound; Queued, Sent, Delivered, Read,
    SendingFailed or DeliveryFailed for outbound; Draft for a draft). ``keyword`` marks an inbound
    opt-out, opt-in or help keyword. ``version`` counts the changes made to the record.
    """

    id: str
    thread_id: str
    direction: Direction
    body: str
    from_number: str
    to_number: str
    author: ThreadUser | None
    created_at: datetime
    last_modified_at: datetime
    availability: Availability = Availability.ALIVE
    provider_message_id: str | None = None
    status: DeliveryStatus = attrs.field(default=attrs.Factory(_default_status, takes_self=True))
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    error_code: str | None = None
    is_automated: bool = False
    source: MessageSource | None = None
    content_type: str = "text/plain"
    attachments: tuple[str, ...] = ()
    classifications: tuple[Classification, ...] = ()
    keyword: Keyword | None = None
    version: int = 1

    #: The platform's name for :attr:`created_at`.
    creation_time = _Alias[datetime]("created_at")
    #: The platform's name for :attr:`last_modified_at`.
    last_modified_time = _Alias[datetime]("last_modified_at")


@attrs.frozen(weakref_slot=False)
class Note:
    """An internal note on a thread: private to the handlers, never sent to the guest."""

    id: str
    thread_id: str
    author: ThreadUser
    text: str
    creation_time: datetime
    last_modified_time: datetime
    availability: Availability = Availability.ALIVE
    version: int = 1

    #: The seed's name for :attr:`creation_time`.
    created_at = _Alias[datetime]("creation_time")
    #: The seed's name for :attr:`last_modified_time`.
    last_modified_at = _Alias[datetime]("last_modified_time")


@attrs.frozen(weakref_slot=False)
class Entry:
    """One record of a thread's timeline, as an entries sync returns it.

    Messages and notes (alive or deleted) and the system's hints: thread created, assigned,
    resolved, deleted. A deleted entry carries only its identifying fields. A hint never changes:
    its ``last_modified_time`` is its ``creation_time``. ``initiator`` is the handler who acted
    (``None`` when the system did); ``status_reason`` is a resolved hint's reason.
    """

    record_type: EntryType
    id: str
    thread_id: str
    availability: Availability
    creation_time: datetime
    last_modified_time: datetime
    direction: Direction | None = None
    message_status: DeliveryStatus | None = None
    text: str | None = None
    attachments: tuple[str, ...] = ()
    author: ThreadUser | None = None
    initiator: ThreadUser | None = None
    assignee: ThreadUser | None = None
    previous_assignee: ThreadUser | None = None
    status_reason: StatusReason | None = None


#: Positional constructors for the hot path: every field, in order (see ``records``).
make_thread = record_maker(Thread)
make_message = record_maker(Message)


_Record = TypeVar("_Record", Thread, Message, Note)


def changed(record: _Record, at: datetime, **changes: Any) -> _Record:
    """``record`` with ``changes``, as of ``at``: every change to a stored thread, message or
    note stamps its modification time and counts one more version (optimistic concurrency)."""
    stamp = "last_modified_at" if isinstance(record, Message) else "last_modified_time"
    changes[stamp] = at
    return attrs.evolve(record, version=record.version + 1, **changes)
