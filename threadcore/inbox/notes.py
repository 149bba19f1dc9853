"""Internal notes: add, edit, delete."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
    NoteNotFound,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Note,
    Thread,
)
from threadcore.domain.validation import (
    check_body,
    check_extension_id,
)
from threadcore.inbox._spine import Spine, _id_list
from threadcore.ports import (
    UnitOfWork,
)

__all__ = ["add_note", "delete_notes", "edit_note"]


def add_note(self: Spine, thread_id: str, *, actor: str, text: str) -> Note:
    """Add an internal note (never sent to the guest) to an open thread; any handler of the
    thread's resource may."""
    actor = check_extension_id(actor, "actor")
    text = check_body(text, self._policy.max_note_length, "text")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Note:
        stored, resource = self._visible(uow, thread_id, actor)
        thread = tx.effective(stored, now, self._policy.ttl)
        note, added = messaging.new_note(
            self._ids.new_id(), thread, resource.user(actor), text, now
        )
        uow.save_note(note, 0)
        events.append(added)
        return note

    return self._run(work, thread_id=thread_id)


def edit_note(self: Spine, note_id: str, *, actor: str, text: str) -> Note:
    """Change a note's text: only its author, only while its thread is open."""
    actor = check_extension_id(actor, "actor")
    note_id = check_extension_id(note_id, "note_id")
    text = check_body(text, self._policy.max_note_length, "text")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Note:
        note, thread = _note(self, uow, note_id, actor, now)
        new, edited = messaging.edit_note(note, thread, actor, text, now)
        if edited is not None:
            uow.save_note(new, note.version)
            events.append(edited)
        return new

    return self._run(work)


def delete_notes(self: Spine, note_ids: Sequence[str], *, actor: str) -> builtins.list[Note]:
    """Delete notes (they become tombstones): only their author, only while their threads
    are open. Every id is checked before anything changes."""
    actor = check_extension_id(actor, "actor")
    ids = _id_list(note_ids, "note_ids")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Note]:
        changes = []
        for note_id in ids:
            note, thread = _note(self, uow, note_id, actor, now)
            changes.append((note, messaging.delete_note(note, thread, actor, now)))
        result = []
        for note, (new, deleted) in changes:
            if deleted is not None:
                uow.save_note(new, note.version)
                events.append(deleted)
            result.append(new)
        return result

    return self._run(work)


def _note(
    self: Spine, uow: UnitOfWork, note_id: str, actor: str, now: datetime
) -> tuple[Note, Thread]:
    note = uow.note(note_id)
    if note is None:
        raise NoteNotFound(f"Note [{note_id}] not found")
    stored, _ = self._visible_as(uow, note.thread_id, actor, NoteNotFound, note_id)
    return note, tx.effective(stored, now, self._policy.ttl)
