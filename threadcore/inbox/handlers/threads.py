"""Handlers of the thread commands: assign, resolve, delete, and one step of the sweep."""

from __future__ import annotations

from threadcore.domain import transitions as tx
from threadcore.domain.model import StatusReason, Thread
from threadcore.inbox import commands as c
from threadcore.inbox._runner import Context
from threadcore.inbox.handlers._load import visible
from threadcore.ports import Queries, require

__all__ = ["assign", "delete", "expire_due", "resolve"]


def assign(cmd: c.Assign, ctx: Context) -> Thread:
    stored, resource = visible(ctx, cmd.thread_id, cmd.actor)
    thread = tx.effective(stored, ctx.now, ctx.policy.ttl)
    new, event = tx.assign(thread, resource, cmd.actor, cmd.assignee, ctx.now)
    ctx.save_thread(new, stored.version, event)
    return new


def resolve(cmd: c.Resolve, ctx: Context) -> Thread:
    stored, _ = visible(ctx, cmd.thread_id, cmd.actor)
    thread = tx.effective(stored, ctx.now, ctx.policy.ttl)
    new, event = tx.resolve(thread, StatusReason.MANUAL, cmd.actor, ctx.now)
    ctx.save_thread(new, stored.version, event)
    return new


def delete(cmd: c.Delete, ctx: Context) -> Thread:
    stored, _ = visible(ctx, cmd.thread_id, cmd.actor)
    thread, expired = tx.catch_up(stored, ctx.now, ctx.policy.ttl)
    if expired is not None:
        ctx.events.append(expired)
    new, event = tx.delete(thread, cmd.actor, ctx.now)
    ctx.save_thread(new, stored.version, event)
    ctx.uow.tombstone_messages(new.id, ctx.now)
    return new


def expire_due(cmd: c.ExpireDue, ctx: Context) -> list[Thread]:
    ttl = ctx.policy.ttl
    resolved = []
    for thread in require(ctx.uow, Queries).due_threads(ctx.now - ttl, cmd.limit):
        new, event = tx.expire(thread, ttl)
        ctx.save_thread(new, thread.version, event)
        resolved.append(new)
    return resolved
