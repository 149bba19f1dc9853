"""Pure transitions of the thread lifecycle over one static transition table.

Each function takes a thread (and the instant ``now``) and returns the new thread plus the event
that records the change; none reads a clock or touches storage. :data:`TRANSITIONS` is the single
source of truth for which command is allowed in which lifecycle state; the diagram in the docs is
generated from it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from threadcore.domain.errors import (
    AssigneeNotHandler,
    NotAssignee,
    NotPermitted,
    ThreadcoreError,
    ThreadDeletedError,
    ThreadNotOpen,
    ThreadUnassigned,
)
from threadcore.domain.events import (
    MessageAdded,
    ThreadAssigned,
    ThreadOpened,
    ThreadResolved,
    make_message_added,
    make_thread_opened,
)
from threadcore.domain.events import ThreadDeleted as ThreadDeletedEvent
from threadcore.domain.model import (
    Availability,
    Direction,
    Message,
    Party,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
    changed,
    make_thread,
)

__all__ = [
    "is_due",
    "status_now",
    "TRANSITIONS",
    "Command",
    "Lifecycle",
    "add_message",
    "assign",
    "catch_up",
    "check",
    "delete",
    "effective",
    "expire",
    "lifecycle",
    "open_thread",
    "resolve",
    "sender_may_send",
]


class Lifecycle(enum.StrEnum):
    """The lifecycle state of a thread: open, resolved (final) or deleted (a tombstone)."""

    OPEN = "Open"
    RESOLVED = "Resolved"
    DELETED = "Deleted"


class Command(enum.StrEnum):
    """What can be done to an existing thread."""

    ADD_MESSAGE = "add_message"
    ASSIGN = "assign"
    RESOLVE = "resolve"
    EXPIRE = "expire"
    DELETE = "delete"
    #: add, edit or delete an internal note
    ANNOTATE = "annotate"
    #: save or change a draft
    DRAFT = "draft"
    DISCARD_DRAFT = "discard_draft"
    DELETE_MESSAGE = "delete_message"


_O, _R, _D = Lifecycle.OPEN, Lifecycle.RESOLVED, Lifecycle.DELETED
# Enum members as module constants: attribute access on an Enum class is slow on the hot path.
_OPEN_STATUS, _ALIVE, _INBOUND = ThreadStatus.OPEN, Availability.ALIVE, Direction.INBOUND

#: state x command -> the next state, or the error the command fails with.
TRANSITIONS: Final[Mapping[tuple[Lifecycle, Command], Lifecycle | type[ThreadcoreError]]] = (
    MappingProxyType(
        {
            (_O, Command.ADD_MESSAGE): _O,
            (_O, Command.ASSIGN): _O,
            (_O, Command.RESOLVE): _R,
            (_O, Command.EXPIRE): _R,
            (_O, Command.DELETE): _D,
            (_O, Command.ANNOTATE): _O,
            (_O, Command.DRAFT): _O,
            (_O, Command.DISCARD_DRAFT): _O,
            (_O, Command.DELETE_MESSAGE): _O,
            (_R, Command.ADD_MESSAGE): ThreadNotOpen,
            (_R, Command.ASSIGN): ThreadNotOpen,
            (_R, Command.RESOLVE): ThreadNotOpen,
            (_R, Command.EXPIRE): ThreadNotOpen,
            (_R, Command.DELETE): _D,
            (_R, Command.ANNOTATE): ThreadNotOpen,
            (_R, Command.DRAFT): ThreadNotOpen,
            (_R, Command.DISCARD_DRAFT): _R,
            (_R, Command.DELETE_MESSAGE): _R,
            (_D, Command.ADD_MESSAGE): ThreadDeletedError,
            (_D, Command.ASSIGN): ThreadDeletedError,
            (_D, Command.RESOLVE): ThreadDeletedError,
            (_D, Command.EXPIRE): ThreadDeletedError,
            (_D, Command.DELETE): ThreadDeletedError,
            (_D, Command.ANNOTATE): ThreadDeletedError,
            (_D, Command.DRAFT): ThreadDeletedError,
            (_D, Command.DISCARD_DRAFT): ThreadDeletedError,
            (_D, Command.DELETE_MESSAGE): ThreadDeletedError,
        }
    )
)

_MESSAGES: Final[Mapping[type[ThreadcoreError], str]] = {
    ThreadNotOpen: "Thread [{id}] is resolved; resolved threads cannot be reopened",
    ThreadDeletedError: "Thread [{id}] was deleted",
}


def lifecycle(thread: Thread) -> Lifecycle:
    """The lifecycle state of a stored thread (expiry not applied: see :func:`effective`)."""
    if thread.availability is Availability.DELETED:
        return _D
    return _O if thread.status is ThreadStatus.OPEN else _R


def check(thread: Thread, command: Command) -> Lifecycle:
    """Return the state ``command`` leads to from ``thread``'s state, or raise the table's error."""
    outcome = TRANSITIONS[lifecycle(thread), command]
    if isinstance(outcome, Lifecycle):
        return outcome
    raise outcome(_MESSAGES[outcome].format(id=thread.id))


def open_thread(
    thread_id: str,
    resource: Resource,
    owner_number: str,
    guest_number: str,
    assignee: ThreadUser | None,
    initiator: str | None,
    now: datetime,
) -> tuple[Thread, ThreadOpened]:
    """A new open thread for the pair, owned by ``resource``, with no message yet.

    Callers add the message that caused it in the same command (see :func:`add_message`).
    """
    thread = make_thread(
        thread_id,
        Party(owner_number),
        Party(guest_number),
        resource.owner,
        now,
        _OPEN_STATUS,
        _ALIVE,
        assignee,
        None,  # status_reason
        None,  # label
        now,  # last_modified_time
        None,  # last_inbound_at
        None,  # last_outbound_at
        now,  # latest_message_at
        1,  # version
    )
    event = make_thread_opened(
        thread_id, now, resource.extension_id, owner_number, guest_number, assignee, initiator
    )
    return thread, event


def add_message(thread: Thread, message: Message) -> tuple[Thread, MessageAdded]:
    """The thread after ``message`` was added: label, activity times and version move on."""
    if thread.status is not _OPEN_STATUS or thread.availability is not _ALIVE:
        check(thread, Command.ADD_MESSAGE)  # raises the table's error
    at = message.created_at
    inbound = message.direction is _INBOUND
    new = make_thread(
        thread.id,
        thread.owner_party,
        thread.guest_party,
        thread.owner,
        thread.creation_time,
        thread.status,
        thread.availability,
        thread.assignee,
        thread.status_reason,
        message.body or thread.label,  # a picture without text leaves the label as it was
        at,
        at if inbound else thread.last_inbound_at,
        thread.last_outbound_at if inbound else at,
        at,
        thread.version + 1,
    )
    author = message.author
    initiator = author.extension_id if author is not None else None
    return new, make_message_added(thread.id, at, message.id, message.direction, initiator)


def is_due(thread: Thread, cutoff: datetime) -> bool:
    """Rule R10, stated once: an Open, Alive thread whose latest message is at or before
    ``cutoff`` (now - ttl) has expired, whether or not anything has written that yet. (The SQL
    adapters say the same in SQL: ``adapters/_sql.py``'s status clause.)"""
    return (
        thread.status is _OPEN_STATUS
        and thread.availability is _ALIVE
        and thread.latest_message_at <= cutoff
    )


def status_now(thread: Thread, cutoff: datetime) -> ThreadStatus:
    """The thread's status as readers see it, with ``cutoff`` = now - ttl (:func:`is_due`)."""
    return ThreadStatus.RESOLVED if is_due(thread, cutoff) else thread.status


def effective(thread: Thread, now: datetime, ttl: timedelta) -> Thread:
    """The thread as it is at ``now``: an open thread whose due time has come is resolved
    (ThreadExpired) as of its due time, whether or not a sweep has written that yet."""
    return catch_up(thread, now, ttl)[0]


def catch_up(thread: Thread, now: datetime, ttl: timedelta) -> tuple[Thread, ThreadResolved | None]:
    """Like :func:`effective`, and also the expiry event when the thread expired unwritten."""
    if is_due(thread, now - ttl):
        return expire(thread, ttl)
    return thread, None


def expire(thread: Thread, ttl: timedelta) -> tuple[Thread, ThreadResolved]:
    """Resolve the thread with reason ThreadExpired as of its due time (latest message + ttl)."""
    check(thread, Command.EXPIRE)
    due = thread.due_at(ttl)
    new = _resolved(thread, StatusReason.THREAD_EXPIRED, due)
    return new, ThreadResolved(thread.id, due, StatusReason.THREAD_EXPIRED, None)


def resolve(
    thread: Thread, reason: StatusReason, initiator: str | None, now: datetime
) -> tuple[Thread, ThreadResolved]:
    """Resolve an open thread for ``reason``; the assignee is removed. Resolved is final."""
    check(thread, Command.RESOLVE)
    return _resolved(thread, reason, now), ThreadResolved(thread.id, now, reason, initiator)


def _resolved(thread: Thread, reason: StatusReason, at: datetime) -> Thread:
    """``thread`` resolved for ``reason`` at ``at`` (by hand or expired), without an assignee."""
    return changed(thread, at, status=ThreadStatus.RESOLVED, status_reason=reason, assignee=None)


def delete(thread: Thread, initiator: str, now: datetime) -> tuple[Thread, ThreadDeletedEvent]:
    """Make the thread a tombstone: availability Deleted, assignee removed, no message text
    left (its label, the latest message's body, is gone with the messages), status and status
    reason left as they were."""
    check(thread, Command.DELETE)
    new = changed(thread, now, availability=Availability.DELETED, assignee=None, label=None)
    return new, ThreadDeletedEvent(thread.id, now, initiator)


def assign(
    thread: Thread,
    resource: Resource,
    actor: str | None,
    assignee: str | None,
    now: datetime,
) -> tuple[Thread, ThreadAssigned | None]:
    """Assign, reassign or (``assignee=None``) unassign an open thread.

    The assignee must be a handler of the thread's resource. Anyone may assign an unassigned
    thread; the current assignee may hand it to anyone or unassign it; any other handler may only
    take it for themselves. ``actor=None`` is the system (e.g. a handler removed from the
    directory) and may do anything. Assigning the current assignee again changes nothing and
    returns no event.
    """
    check(thread, Command.ASSIGN)
    if assignee is not None and not resource.is_handler(assignee):
        raise AssigneeNotHandler(
            f"Extension [{assignee}] is not an SMS handler of resource [{resource.extension_id}]",
            parameter="assignee",
        )
    current = thread.assignee.extension_id if thread.assignee is not None else None
    if assignee == current:
        return thread, None
    if actor is not None and current is not None and actor != current and assignee != actor:
        raise NotPermitted(
            f"Extension [{actor}] may only take thread [{thread.id}] for themselves: "
            f"it is assigned to extension [{current}]"
        )
    user = resource.user(assignee) if assignee is not None else None
    new = changed(thread, now, assignee=user)
    return new, ThreadAssigned(thread.id, now, user, thread.assignee, actor)


def sender_may_send(
    thread: Thread, resource: Resource, actor: str, claim_on_send: bool, now: datetime
) -> tuple[Thread, ThreadAssigned | None]:
    """Check that ``actor`` may send on the open ``thread``: only its assignee may. An unassigned
    thread is refused unless ``claim_on_send``, in which case the sender takes it."""
    check(thread, Command.ADD_MESSAGE)
    if thread.assignee is None:
        if not claim_on_send:
            raise ThreadUnassigned(
                f"Thread [{thread.id}] has no assignee; assign it before sending on it"
            )
        return assign(thread, resource, actor, actor, now)
    if thread.assignee.extension_id != actor:
        raise NotAssignee(actor)
    return thread, None
