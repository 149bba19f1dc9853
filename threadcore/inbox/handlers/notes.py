"""Handlers of the note commands: add, edit, delete."""

from __future__ import annotations

from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.model import Note
from threadcore.inbox import commands as c
from threadcore.inbox._runner import Context
from threadcore.inbox.handlers._load import note, visible

__all__ = ["add_note", "delete_notes", "edit_note"]


def add_note(cmd: c.AddNote, ctx: Context) -> Note:
    stored, resource = visible(ctx, cmd.thread_id, cmd.actor)
    thread = tx.effective(stored, ctx.now, ctx.policy.ttl)
    new, added = messaging.new_note(
        ctx.ids.new_id(), thread, resource.user(cmd.actor), cmd.text, ctx.now
    )
    ctx.save_note(new, 0, added)
    return new


def edit_note(cmd: c.EditNote, ctx: Context) -> Note:
    old, thread = note(ctx, cmd.note_id, cmd.actor)
    new, edited = messaging.edit_note(old, thread, cmd.actor, cmd.text, ctx.now)
    ctx.save_note(new, old.version, edited)
    return new


def delete_notes(cmd: c.DeleteNotes, ctx: Context) -> list[Note]:
    changes = []
    for note_id in cmd.note_ids:  # every note checked before anything changes
        old, thread = note(ctx, note_id, cmd.actor)
        changes.append((old, messaging.delete_note(old, thread, cmd.actor, ctx.now)))
    result = []
    for old, (new, deleted) in changes:
        ctx.save_note(new, old.version, deleted)
        result.append(new)
    return result
