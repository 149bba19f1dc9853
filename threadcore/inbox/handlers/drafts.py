"""Handlers of the draft commands: save (new or changed), send, discard."""

from __future__ import annotations

from threadcore.domain import events as ev
from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.errors import DraftNotFound
from threadcore.domain.model import Message
from threadcore.inbox import commands as c
from threadcore.inbox._runner import Context
from threadcore.inbox.handlers._load import check_files, draft, store_files, visible
from threadcore.inbox.handlers._posting import send_as

__all__ = ["discard_draft", "save_draft", "send_draft"]


def save_draft(cmd: c.SaveDraft, ctx: Context) -> Message:
    check_files(ctx.uow, cmd.uploads)
    draft_id = cmd.draft_id
    saved = _new_draft(cmd, ctx) if draft_id is None else _edit_draft(cmd, draft_id, ctx)
    store_files(ctx.uow, cmd.uploads)
    return saved


def _new_draft(cmd: c.SaveDraft, ctx: Context) -> Message:
    stored, resource = visible(ctx, cmd.thread_id, cmd.actor)
    thread = tx.effective(stored, ctx.now, ctx.policy.ttl)
    author = None if cmd.actor is None else resource.user(cmd.actor)
    new, saved = messaging.new_draft(
        ctx.ids.new_id(), thread, author, cmd.body, cmd.attachments, cmd.is_automated,
        cmd.source, ctx.now,
    )  # fmt: skip
    ctx.uow.add_message(new)
    ctx.events.append(saved)
    return new


def _edit_draft(cmd: c.SaveDraft, draft_id: str, ctx: Context) -> Message:
    old, seen = draft(ctx, draft_id, cmd.actor)
    if old.thread_id != cmd.thread_id:
        raise DraftNotFound(f"Draft [{draft_id}] not found on thread [{cmd.thread_id[:64]}]")
    stored, _ = seen or visible(ctx, old.thread_id, cmd.actor)
    thread = tx.effective(stored, ctx.now, ctx.policy.ttl)
    new, changed = messaging.edit_draft(
        old, thread, cmd.actor, cmd.body, cmd.attachments, cmd.is_automated, cmd.source, ctx.now
    )
    ctx.save_message(new, old.version, changed)
    return new


def send_draft(cmd: c.SendDraft, ctx: Context) -> Message:
    old, seen = draft(ctx, cmd.draft_id, cmd.actor)
    stored, resource = seen or visible(ctx, old.thread_id, cmd.actor)
    content = (old.attachments, old.content_type, old.is_automated, old.source)
    message = send_as(ctx, stored, resource, cmd.actor, old.body, None, content)
    ctx.uow.save_message(messaging.tombstone(old, ctx.now), old.version)
    sent = ev.DraftSent(old.thread_id, ctx.now, old.id, message.id, cmd.actor)
    ctx.events.insert(len(ctx.events) - 1, sent)  # before the MessageAdded it became
    return message


def discard_draft(cmd: c.DiscardDraft, ctx: Context) -> Message:
    old, seen = draft(ctx, cmd.draft_id, cmd.actor)
    stored, _ = seen or visible(ctx, old.thread_id, cmd.actor)
    gone, event = messaging.discard_draft(old, stored, cmd.actor, ctx.now)
    ctx.save_message(gone, old.version, event)
    return gone
