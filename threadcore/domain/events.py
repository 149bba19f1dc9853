"""Typed domain events: one for every change to a thread.

Every event names its thread and the instant it happened (``at``). ``initiator`` is the extension id
of the handler who caused it, or ``None`` when the system acted (an inbound message, an expiry, a
directory change).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from threadcore.domain.model import DeliveryStatus, Direction, StatusReason, ThreadUser
from threadcore.domain.records import record_maker

__all__ = [
    "CarrierIdAttached",
    "DeliveryStatusChanged",
    "DraftDiscarded",
    "DraftSaved",
    "DraftSent",
    "CREATING",
    "EVENT_TYPES",
    "Event",
    "GuestOptedIn",
    "GuestOptedOut",
    "MessageAdded",
    "MessageClassified",
    "MessageDeleted",
    "NoteAdded",
    "NoteDeleted",
    "NoteEdited",
    "ThreadAssigned",
    "ThreadDeleted",
    "ThreadOpened",
    "ThreadResolved",
]


@attrs.define(weakref_slot=False)
class _ThreadEvent:
    """The fields every event begins with: its thread and the instant it happened. Each event is
    a frozen class of its own (events are equal only to events of their class); this base is
    not frozen, so that :func:`~threadcore.domain.records.record_maker` can fill its slots."""

    thread_id: str
    at: datetime


@attrs.frozen(weakref_slot=False)
class ThreadOpened(_ThreadEvent):
    """A new thread was created for a pair of numbers (by an inbound or an outbound message)."""

    owner_extension_id: str
    owner_number: str
    guest_number: str
    assignee: ThreadUser | None
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class MessageAdded(_ThreadEvent):
    """A message was stored on a thread."""

    message_id: str
    direction: Direction
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class ThreadAssigned(_ThreadEvent):
    """A thread's assignee changed (``assignee`` is ``None`` when it was unassigned)."""

    assignee: ThreadUser | None
    previous_assignee: ThreadUser | None
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class ThreadResolved(_ThreadEvent):
    """A thread was resolved, with the reason (Manual, ThreadExpired, OwnerDeleted …)."""

    reason: StatusReason
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class ThreadDeleted(_ThreadEvent):
    """A thread was deleted: its record became a tombstone and its messages are gone."""

    initiator: str | None


@attrs.frozen(weakref_slot=False)
class DeliveryStatusChanged(_ThreadEvent):
    """A carrier callback moved an outbound message's delivery status forward."""

    message_id: str
    status: DeliveryStatus
    previous_status: DeliveryStatus
    initiator: str | None = None


@attrs.frozen(weakref_slot=False)
class MessageClassified(_ThreadEvent):
    """An automation attached a classification to a message."""

    message_id: str
    classification: str
    initiator: str | None = None


@attrs.frozen(weakref_slot=False)
class MessageDeleted(_ThreadEvent):
    """A single message was deleted (it is a tombstone now). ``relabelled``: the deletion
    changed the thread's label (its latest text), so the thread record changed too."""

    message_id: str
    initiator: str | None
    #: Not part of equality: two reports of one deletion are the same event either way.
    relabelled: bool = attrs.field(default=False, eq=False)


@attrs.frozen(weakref_slot=False)
class _NoteChange(_ThreadEvent):
    """The fields of the three note events (each is its own class: events are equal only to
    events of their class)."""

    note_id: str
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class NoteAdded(_NoteChange):
    """A handler added an internal note to a thread."""


@attrs.frozen(weakref_slot=False)
class NoteEdited(_NoteChange):
    """A note's author changed its text."""


@attrs.frozen(weakref_slot=False)
class NoteDeleted(_NoteChange):
    """A note's author deleted it (it is a tombstone now)."""


@attrs.frozen(weakref_slot=False)
class _DraftChange(_ThreadEvent):
    """The fields of a draft saved or discarded."""

    draft_id: str
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class DraftSaved(_DraftChange):
    """A draft was created or changed on a thread."""


@attrs.frozen(weakref_slot=False)
class DraftDiscarded(_DraftChange):
    """A draft was thrown away unsent."""


@attrs.frozen(weakref_slot=False)
class DraftSent(_ThreadEvent):
    """A draft was sent: it is gone, and ``message_id`` is the message it became."""

    draft_id: str
    message_id: str
    initiator: str | None


@attrs.frozen(weakref_slot=False)
class _ConsentChange(_ThreadEvent):
    """The fields of a guest's opt-out or opt-in (``message_id`` is their message)."""

    owner_number: str
    guest_number: str
    message_id: str
    initiator: str | None = None


@attrs.frozen(weakref_slot=False)
class GuestOptedOut(_ConsentChange):
    """The guest texted an opt-out keyword: nothing more may be sent to them from the owner
    number."""


@attrs.frozen(weakref_slot=False)
class GuestOptedIn(_ConsentChange):
    """The guest texted an opt-in keyword after opting out: sending is allowed again."""


@attrs.frozen(weakref_slot=False)
class CarrierIdAttached(_ThreadEvent):
    """The carrier accepted an outbound message and its id for it was recorded: delivery
    reports may name the message by that id from now on."""

    message_id: str
    provider_message_id: str
    initiator: str | None = None


Event = (
    ThreadOpened
    | MessageAdded
    | ThreadAssigned
    | ThreadResolved
    | ThreadDeleted
    | DeliveryStatusChanged
    | MessageClassified
    | MessageDeleted
    | NoteAdded
    | NoteEdited
    | NoteDeleted
    | DraftSaved
    | DraftDiscarded
    | DraftSent
    | GuestOptedOut
    | GuestOptedIn
    | CarrierIdAttached
)
#: Every event class, for adapters that store events by name.
EVENT_TYPES: tuple[type[Event], ...] = (
    ThreadOpened,
    MessageAdded,
    ThreadAssigned,
    ThreadResolved,
    ThreadDeleted,
    DeliveryStatusChanged,
    MessageClassified,
    MessageDeleted,
    NoteAdded,
    NoteEdited,
    NoteDeleted,
    DraftSaved,
    DraftDiscarded,
    DraftSent,
    GuestOptedOut,
    GuestOptedIn,
    CarrierIdAttached,
)

#: The events that create a record walks by creation time return (rule Q2), and the field that
#: names it: a thread, a message, a note (drafts are not walked).
CREATING: dict[type[Event], str] = {
    ThreadOpened: "thread_id",
    MessageAdded: "message_id",
    NoteAdded: "note_id",
}

#: Positional constructors for the events every message makes (see ``records``).
make_thread_opened = record_maker(ThreadOpened)
make_message_added = record_maker(MessageAdded)
