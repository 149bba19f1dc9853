"""A thread's timeline as entries: messages, notes and the system's hints (pure functions).

An entries sync (``Inbox.sync_entries``) is built from these: a full sync from the stored messages
and notes, an incremental one from the event outbox (see ``docs/rules.md``, E1-E4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

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
    return _record_entry(
        message,
        EntryType.ALIVE_MESSAGE,
        EntryType.DELETED_MESSAGE,
        direction=message.direction,
        message_status=message.status,
        text=message.body,
        attachments=message.attachments,
        author=message.author,
    )


def note_entry(note: Note) -> Entry:
    """A note as an AliveNote entry, or a DeletedNote one (identifying fields only)."""
    return _record_entry(
        note, EntryType.ALIVE_NOTE, EntryType.DELETED_NOTE, text=note.text, author=note.author
    )


def _record_entry(
    record: Message | Note, alive: EntryType, deleted: EntryType, **content: Any
) -> Entry:
    """The entry of an alive record with its ``content``, or of a deleted one with only the
    fields that identify it."""
    if record.availability is not _ALIVE:
        return Entry(
            deleted,
            record.id,
            record.thread_id,
            record.availability,
            record.creation_time,
            record.last_modified_time,
        )
    return Entry(
        alive,
        record.id,
        record.thread_id,
        _ALIVE,
        record.creation_time,
        record.last_modified_time,
        **content,
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
