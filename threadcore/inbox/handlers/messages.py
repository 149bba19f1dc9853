"""Handlers of the message commands: receive, send (by pair or on a thread), delivery reports,
the carrier's id, classifications, message deletion."""

from __future__ import annotations

import attrs

from threadcore.domain import events as ev
from threadcore.domain import messaging, model
from threadcore.domain import transitions as tx
from threadcore.domain.errors import IdempotencyConflict, MessageNotFound
from threadcore.inbox import commands as c
from threadcore.inbox._runner import Context
from threadcore.inbox.handlers._load import (
    check_files,
    existing_message,
    handled_number,
    owner_of,
    replay,
    store_files,
    visible,
    visible_as,
)
from threadcore.inbox.handlers._posting import check_not_opted_out, open_or_current, post, send_as
from threadcore.ports import UnitOfWork

__all__ = [
    "attach_provider_id",
    "classify",
    "delete_messages",
    "receive",
    "record_delivery",
    "send",
    "send_on_thread",
]

_INBOUND, _OUTBOUND = model.Direction.INBOUND, model.Direction.OUTBOUND
_ALIVE, _DRAFT, _HELP = model.Availability.ALIVE, model.DeliveryStatus.DRAFT, model.Keyword.HELP


def receive(cmd: c.Receive, ctx: Context) -> model.Message:
    owner, guest, pid = cmd.owner, cmd.guest, cmd.provider_message_id
    if pid is not None:
        original = replay(ctx, pid, _INBOUND, cmd.body, None, owner, guest, None)
        if original is not None:
            return original
    resource = owner_of(ctx.directory, owner)
    thread, loaded, now = open_or_current(ctx, resource, owner, guest, None)
    message = post(
        ctx, thread, loaded, _INBOUND, cmd.body, None, now, pid, cmd.content, cmd.keyword
    )
    if cmd.keyword is not None and cmd.keyword is not _HELP:
        opted_out = ctx.uow.opted_out(owner, guest)
        change = messaging.opt_change(
            cmd.keyword, opted_out, thread.id, now, owner, guest, message.id
        )
        if change is not None:
            ctx.uow.set_opted_out(owner, guest, not opted_out)
            ctx.events.append(change)
    return message


def send(cmd: c.Send, ctx: Context) -> model.Message:
    check_files(ctx.uow, cmd.uploads)
    pid, owner, guest = cmd.provider_message_id, cmd.owner, cmd.guest
    original = replay(ctx, pid, _OUTBOUND, cmd.body, cmd.actor, owner, guest, None)
    if original is not None:
        return original
    resource = handled_number(ctx.directory, owner, cmd.actor)
    author = resource.user(cmd.actor)
    thread, loaded, now = open_or_current(ctx, resource, owner, guest, author)
    if loaded:
        thread, claimed = tx.sender_may_send(
            thread, resource, cmd.actor, ctx.policy.claim_on_send, now
        )
        if claimed is not None:
            ctx.events.append(claimed)
    check_not_opted_out(ctx.uow, thread)
    message = post(ctx, thread, loaded, _OUTBOUND, cmd.body, author, now, pid, cmd.content)
    store_files(ctx.uow, cmd.uploads)
    return message


def send_on_thread(cmd: c.SendOnThread, ctx: Context) -> model.Message:
    check_files(ctx.uow, cmd.uploads)
    pid = cmd.provider_message_id
    original = replay(ctx, pid, _OUTBOUND, cmd.body, cmd.actor, None, None, cmd.thread_id)
    if original is not None:
        return original
    stored, resource = visible(ctx, cmd.thread_id, cmd.actor)
    message = send_as(ctx, stored, resource, cmd.actor, cmd.body, pid, cmd.content)
    store_files(ctx.uow, cmd.uploads)
    return message


def record_delivery(cmd: c.RecordDelivery, ctx: Context) -> model.Message:
    stored = _reported(ctx.uow, cmd.message_id, cmd.provider_message_id)
    at = cmd.at or ctx.now
    new, event = messaging.record_delivery(stored, cmd.status, at, cmd.error_code, ctx.now)
    ctx.save_message(new, stored.version, event)
    return new


def _reported(uow: UnitOfWork, message_id: str | None, carrier_id: str | None) -> model.Message:
    """The message a delivery report names, by threadcore's id or (drafts are not messages)
    by the carrier's."""
    if message_id is not None:
        stored = uow.message(message_id)
        if stored is None:
            raise MessageNotFound(f"Message [{message_id}] not found")
        return stored
    assert carrier_id is not None
    stored = uow.message_by_provider_id(carrier_id)
    if stored is None or stored.status is _DRAFT:
        raise MessageNotFound(f"No message has the carrier's id [{carrier_id}]")
    return stored


def attach_provider_id(cmd: c.AttachProviderId, ctx: Context) -> model.Message:
    stored = existing_message(ctx.uow, cmd.message_id)
    holder = ctx.uow.message_by_provider_id(cmd.provider_message_id)
    if holder is not None and holder.id != cmd.message_id:
        raise IdempotencyConflict(
            f"The carrier's id [{cmd.provider_message_id}] belongs to message [{holder.id}]"
        )
    new, event = messaging.attach_carrier_id(stored, cmd.provider_message_id, ctx.now)
    ctx.save_message(new, stored.version, event)
    return new


def classify(cmd: c.Classify, ctx: Context) -> model.Message:
    stored = existing_message(ctx.uow, cmd.message_id)
    if cmd.actor is not None:
        visible_as(ctx, stored.thread_id, cmd.actor, MessageNotFound, cmd.message_id)
    record = model.Classification(
        ctx.ids.new_id(),
        cmd.label,
        ctx.now,
        cmd.confidence,
        cmd.reason,
        cmd.is_action_required,
        cmd.is_reply_required,
        cmd.language,
        cmd.action_recommendation,
        cmd.details,
    )
    new, event = messaging.classify(stored, record, cmd.actor, ctx.now)
    ctx.save_message(new, stored.version, event)
    return new


def delete_messages(cmd: c.DeleteMessages, ctx: Context) -> list[model.Message]:
    uow, now, events = ctx.uow, ctx.now, ctx.events
    found = [existing_message(uow, i) for i in cmd.message_ids]
    threads: dict[str, model.Thread] = {}
    for message in found:  # every id visible before any thread state is told (R14)
        if message.thread_id not in threads:
            threads[message.thread_id] = visible_as(
                ctx, message.thread_id, cmd.actor, MessageNotFound, message.id
            )[0]
    for stored in threads.values():
        tx.check(stored, tx.Command.DELETE_MESSAGE)
    current: dict[str, model.Thread] = {}
    for thread_id, stored in threads.items():  # a due thread's expiry comes first
        current[thread_id], expired = tx.catch_up(stored, now, ctx.policy.ttl)
        if expired is not None:
            events.append(expired)
    result = []
    for message in found:
        new, event = messaging.delete_message(message, threads[message.thread_id], cmd.actor, now)
        ctx.save_message(new, message.version, event)
        result.append(new)
    _relabel(ctx, threads, current, {m.id for m in result})
    return result


def _relabel(
    ctx: Context, stored: dict[str, model.Thread], current: dict[str, model.Thread], gone: set[str]
) -> None:
    """Each thread's label follows its newest alive message once ``gone`` are deleted; a
    thread whose record changed says so on its deletions (``relabelled``)."""
    events = ctx.events
    for thread_id, thread in stored.items():
        alive = [
            m
            for m in ctx.uow.messages(thread_id)
            if m.availability is _ALIVE and m.status is not _DRAFT and m.id not in gone
        ]
        relabelled = messaging.relabel(current[thread_id], alive, ctx.now)
        if relabelled is not current[thread_id]:
            events[:] = [
                attrs.evolve(e, relabelled=True)
                if isinstance(e, ev.MessageDeleted) and e.thread_id == thread_id
                else e
                for e in events
            ]
        if relabelled is not thread:
            ctx.uow.save_thread(relabelled, thread.version)
