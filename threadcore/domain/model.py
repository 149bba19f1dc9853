"""The aggregates and value objects of a shared SMS inbox.

Everything here is an immutable ``attrs`` class: a change is a new value made by a pure function in
:mod:`threadcore.domain.transitions`. Nothing here knows about storage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from threadcore.domain.errors import InvalidInput
from threadcore.domain.validation import (
    check_extension_id,
    check_positive_duration,
    e164,
)

__all__ = [
    "Availability",
    "Direction",
    "Handler",
    "Message",
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


@attrs.frozen
class Party:
    """One side of a conversation: a phone number in E.164."""

    phone_number: str


@attrs.frozen
class OwnerResource:
    """The common resource that owns a thread (e.g. a call queue)."""

    extension_id: str
    name: str | None = None
    extension_type: str | None = None


@attrs.frozen
class ThreadUser:
    """A handler named on a record (assignee, author, initiator)."""

    extension_id: str
    name: str | None = None
    extension_type: str = "User"


def _check_name(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(
            f"Parameter [{attribute.name}] must be a string or None", parameter=attribute.name
        )


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


@attrs.frozen
class Policy:
    """The tunable rules of an inbox.

    ``ttl``: a thread with no message for this long is resolved (ThreadExpired); 72 h by default.
    ``claim_on_send``: a handler sending on an unassigned open thread takes it instead of being
    refused. ``max_body_length``: the longest message body accepted. ``sync_max_changes``: the
    most threads one incremental sync may return (beyond it the client must do a full sync).
    ``sync_token_max_age``: how long a sync token stays usable.
    """

    ttl: timedelta = attrs.field(default=timedelta(hours=72), validator=_check_ttl)
    claim_on_send: bool = attrs.field(default=False, validator=_check_bool)
    max_body_length: int = attrs.field(default=1600, validator=_check_int)
    sync_max_changes: int = attrs.field(default=10_000, validator=_check_int)
    sync_token_max_age: timedelta = attrs.field(default=timedelta(days=7), validator=_check_ttl)


@attrs.frozen
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


@attrs.frozen
class Message:
    """One SMS in a thread. ``author`` is the sending handler (outbound only)."""

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
