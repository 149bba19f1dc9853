"""Typed domain events: one for every change to a thread.

Every event names its thread and the instant it happened (``at``). ``initiator`` is the extension id
of the handler who caused it, or ``None`` when the system acted (an inbound message, an expiry, a
directory change).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from threadcore.domain.model import Direction, StatusReason, ThreadUser

__all__ = [
    "Event",
    "MessageAdded",
    "ThreadAssigned",
    "ThreadDeleted",
    "ThreadOpened",
    "ThreadResolved",
]


@attrs.frozen
class ThreadOpened:
    """A new thread was created for a pair of numbers (by an inbound or an outbound message)."""

    thread_id: str
    at: datetime
    owner_extension_id: str
    owner_number: str
    guest_number: str
    assignee: ThreadUser | None
    initiator: str | None


@attrs.frozen
class MessageAdded:
    """A message was stored on a thread."""

    thread_id: str
    at: datetime
    message_id: str
    direction: Direction
    initiator: str | None


@attrs.frozen
class ThreadAssigned:
    """A thread's assignee changed (``assignee`` is ``None`` when it was unassigned)."""

    thread_id: str
    at: datetime
    assignee: ThreadUser | None
    previous_assignee: ThreadUser | None
    initiator: str | None


@attrs.frozen
class ThreadResolved:
    """A thread was resolved, with the reason (Manual, ThreadExpired, OwnerDeleted …)."""

    thread_id: str
    at: datetime
    reason: StatusReason
    initiator: str | None


@attrs.frozen
class ThreadDeleted:
    """A thread was deleted: its record became a tombstone and its messages are gone."""

    thread_id: str
    at: datetime
    initiator: str | None


Event = ThreadOpened | MessageAdded | ThreadAssigned | ThreadResolved | ThreadDeleted
