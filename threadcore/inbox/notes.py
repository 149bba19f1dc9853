"""Internal notes: add, edit, delete."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from threadcore.domain.model import Note
from threadcore.domain.validation import check_body, check_extension_id
from threadcore.inbox import commands as c
from threadcore.inbox._spine import Spine, _id_list
from threadcore.inbox.handlers import notes as h

__all__ = ["add_note", "delete_notes", "edit_note"]


def add_note(self: Spine, thread_id: str, *, actor: str, text: str) -> Note:
    """Add an internal note (never sent to the guest) to an open thread; any handler of the
    thread's resource may."""
    actor = check_extension_id(actor, "actor")
    text = check_body(text, self._policy.max_note_length, "text")
    return self._run(h.add_note, c.AddNote(thread_id, actor, text), thread_id=thread_id)


def edit_note(self: Spine, note_id: str, *, actor: str, text: str) -> Note:
    """Change a note's text: only its author, only while its thread is open."""
    actor = check_extension_id(actor, "actor")
    note_id = check_extension_id(note_id, "note_id")
    text = check_body(text, self._policy.max_note_length, "text")
    return self._run(h.edit_note, c.EditNote(note_id, actor, text))


def delete_notes(self: Spine, note_ids: Sequence[str], *, actor: str) -> builtins.list[Note]:
    """Delete notes (they become tombstones): only their author, only while their threads
    are open. Every id is checked before anything changes."""
    actor = check_extension_id(actor, "actor")
    return self._run(h.delete_notes, c.DeleteNotes(_id_list(note_ids, "note_ids"), actor))
