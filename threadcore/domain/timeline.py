"""A thread's timeline as entries: messages, notes and the system's hints (pure functions).

An entries sync (``Inbox.sync_entries``) is built from these: a full sync from the stored messages
and notes, an incremental one from the event outbox (see ``docs/rules.md``, E1-E4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from threadcore.domain import events as ev
from threadcore.domain.model import (
    Availability,
    Entry,
    EntryType,
    Message,
    Note,
    StatusReason,
    Thread,
    ThreadUser,
)

__all__ = [
    "expiry_hint",
    "hint_entry",
    "hint_id",
    "message_entry",
    "note_entry",
    "order",
    "threads_with",
]

_ALIVE = Availability.ALIVE


def message_entry(message: Message) -> Entry:
    """A message as an AliveMessage entry, or a DeletedMessage one (identifying fields only)."""
    if message.availability is not _ALIVE:
        return Entry(
            EntryType.DELETED_MESSAGE,
            message.id,
            message.thread_id,
            message.availability,
            message.created_at,
            message.last_modified_at,
        )
    return Entry(
        EntryType.ALIVE_MESSAGE,
        message.id,
        message.thread_id,
        _ALIVE,
        message.created_at,
        message.last_modified_at,
        direction=message.direction,
        message_status=message.status,
        text=message.body,
        attachments=message.attachments,
        author=message.author,
    )


def note_entry(note: Note) -> Entry:
    """A note as an AliveNote entry, or a DeletedNote one (identifying fields only)."""
    if note.availability is not _ALIVE:
        return Entry(
            EntryType.DELETED_NOTE,
            note.id,
            note.thread_id,
            note.availability,
            note.creation_time,
            note.last_modified_time,
        )
    return Entry(
        EntryType.ALIVE_NOTE,
        note.id,
        note.thread_id,
        _ALIVE,
        note.creation_time,
        note.last_modified_time,
        text=note.text,
        author=note.author,
    )


def hint_id(thread_id: str, kind: EntryType, position: int | None = None) -> str:
    """The stable id of a hint: ``{thread}-created``, ``-resolved``, ``-deleted`` or
    ``-assigned-{event position}``."""
    suffix = {
        EntryType.THREAD_CREATED_HINT: "created",
        EntryType.THREAD_RESOLVED_HINT: "resolved",
        EntryType.THREAD_DELETED_HINT: "deleted",
        EntryType.THREAD_ASSIGNED_HINT: f"assigned-{position}",
    }[kind]
    return f"{thread_id}-{suffix}"


def hint_entry(
    position: int, event: ev.Event, user_of: Callable[[str | None], ThreadUser | None]
) -> Entry | None:
    """The hint an event stands for (``None`` for events that are not hints); ``user_of`` turns
    an initiator's extension id into the user a record names."""
    assignee = previous = reason = None
    if isinstance(event, ev.ThreadOpened):
        kind, assignee = EntryType.THREAD_CREATED_HINT, event.assignee
    elif isinstance(event, ev.ThreadAssigned):
        kind, assignee = EntryType.THREAD_ASSIGNED_HINT, event.assignee
        previous = event.previous_assignee
    elif isinstance(event, ev.ThreadResolved):
        kind, reason = EntryType.THREAD_RESOLVED_HINT, event.reason
    elif isinstance(event, ev.ThreadDeleted):
        kind = EntryType.THREAD_DELETED_HINT
    else:
        return None
    return Entry(
        kind,
        hint_id(event.thread_id, kind, position),
        event.thread_id,
        _ALIVE,
        event.at,
        event.at,
        initiator=user_of(event.initiator),
        assignee=assignee,
        previous_assignee=previous,
        status_reason=reason,
    )


def expiry_hint(thread: Thread, ttl: timedelta) -> Entry:
    """The ThreadResolvedHint of an open thread that is due, dated at its due instant (the same
    hint the sweep's event will stand for)."""
    due = thread.due_at(ttl)
    kind = EntryType.THREAD_RESOLVED_HINT
    return Entry(
        kind,
        hint_id(thread.id, kind),
        thread.id,
        _ALIVE,
        due,
        due,
        status_reason=StatusReason.THREAD_EXPIRED,
    )


def threads_with(entries: Iterable[Entry], kind: EntryType) -> set[str]:
    """The ids of the threads that have an entry of ``kind`` among ``entries``."""
    return {e.thread_id for e in entries if e.record_type is kind}


def order(entries: Iterable[Entry]) -> list[Entry]:
    """Entries newest modification first (ties: id descending), as a sync returns them."""
    return sorted(entries, key=lambda e: (e.last_modified_time, e.id), reverse=True)
