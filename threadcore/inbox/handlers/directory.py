"""Handlers of the directory changes and their effect on open threads (rule R11).

One rule decides what a change does to the threads (:func:`follow`: a resource gone, numbers
gone, handlers gone), whichever way the change comes: through a directory stored with the
threads (:func:`change_directory`: changed and followed in one transaction), or a directory the
inbox changes in memory or the service keeps itself (:func:`follow_directory`, rule R11a).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ResourceNotFound
from threadcore.domain.events import Event
from threadcore.domain.model import Handler, Resource, StatusReason, Thread
from threadcore.inbox import commands as c
from threadcore.inbox._runner import Context
from threadcore.ports import DirectoryRecords, EditableDirectory, Queries, require

__all__ = ["apply", "change_directory", "follow", "follow_directory", "handler_removed"]


def change_directory(cmd: c.ChangeDirectory, ctx: Context) -> list[Thread]:
    current = cmd.directory.refresh(ctx.uow)
    changed = cmd.directory.draft(current.resources())
    apply(cmd.change, changed)
    records = require(ctx.uow, DirectoryRecords)
    followed: dict[str, Thread | None] = {}
    for before, after in _differences(current, changed):
        if after is not None:
            records.save_resource(after)
        if before is not None:
            if after is None:
                records.delete_resource(before.extension_id)
            follow(ctx, before, after, followed)
    return [t for t in followed.values() if t is not None]


def apply(change: c.DirectoryChange, directory: EditableDirectory) -> None:
    """Make ``change`` on ``directory`` (which refuses what its rules refuse)."""
    match change:
        case c.AddResource(resource):
            directory.add_resource(resource)
        case c.AddPhoneNumber(extension_id, number):
            directory.add_phone_number(extension_id, number)
        case c.AddHandler(extension_id, handler):
            directory.add_handler(extension_id, handler)
        case c.RemoveResource(extension_id):
            directory.remove_resource(extension_id)
        case c.RemovePhoneNumber(extension_id, number):
            directory.remove_phone_number(extension_id, number)
        case c.RemoveHandler(extension_id, handler_id):
            directory.remove_handler(extension_id, handler_id)
        case c.LoadDirectory(resources, replace):
            wanted = {r.extension_id for r in resources}
            for old in list(directory.resources()):
                if replace or old.extension_id in wanted:
                    directory.remove_resource(old.extension_id)
            for resource in resources:
                directory.add_resource(resource)


def follow_directory(cmd: c.FollowDirectory, ctx: Context) -> list[Thread]:
    followed: dict[str, Thread | None] = {}
    follow(ctx, cmd.before, cmd.after, followed)
    return [t for t in followed.values() if t is not None]


def handler_removed(cmd: c.HandlerRemoved, ctx: Context) -> list[Thread]:
    after = ctx.directory.resource(cmd.extension_id)
    if after is None:
        raise ResourceNotFound(f"Resource [{cmd.extension_id}] not found")
    after = attrs.evolve(  # the service's directory may still list them
        after, handlers=[h for h in after.handlers if h.extension_id != cmd.handler_id]
    )
    before = attrs.evolve(after, handlers=[*after.handlers, Handler(cmd.handler_id)])
    return follow_directory(c.FollowDirectory(before, after), ctx)


def _differences(
    before: EditableDirectory, after: EditableDirectory
) -> list[tuple[Resource | None, Resource | None]]:
    """The (before, after) pairs of the resources that differ, ``None`` where there is none."""
    pairs: list[tuple[Resource | None, Resource | None]] = []
    for old in before.resources():
        new = after.resource(old.extension_id)
        if new != old:
            pairs.append((old, new))
    pairs.extend(
        (None, new) for new in after.resources() if before.resource(new.extension_id) is None
    )
    return pairs


Change = Callable[[Thread], tuple[Thread, Event]]


def follow(
    ctx: Context, before: Resource, after: Resource | None, followed: dict[str, Thread | None]
) -> None:
    """Rule R11 for one resource that was ``before`` and is now ``after`` (``None``: removed):
    its open threads are resolved (OwnerDeleted) when it is gone, those on a number it lost are
    resolved (OwnerPhoneNumberDeleted), and those assigned to a handler it lost are unassigned.
    A thread already due gets its expiry instead. ``followed`` collects each thread changed
    (``None``: expired), so a thread is changed once."""
    queries, now, owner = require(ctx.uow, Queries), ctx.now, before.extension_id
    selections: list[tuple[list[Thread], Change]] = []
    if after is None:
        selections.append(
            (
                queries.open_threads(owner_extension_id=owner),
                lambda t: tx.resolve(t, StatusReason.OWNER_DELETED, None, now),
            )
        )
    else:
        remaining = after
        for number in before.phone_numbers:
            if number not in remaining.phone_numbers:
                selections.append(
                    (
                        queries.open_threads(owner_extension_id=owner, owner_number=number),
                        lambda t: tx.resolve(t, StatusReason.OWNER_PHONE_NUMBER_DELETED, None, now),
                    )
                )
        for handler in before.handlers:
            if not remaining.is_handler(handler.extension_id):
                selections.append(
                    (
                        queries.open_threads(
                            owner_extension_id=owner, assignee_id=handler.extension_id
                        ),
                        lambda t: _unassign(t, remaining, now),
                    )
                )
    for threads, change in selections:
        for stored in threads:
            if stored.id in followed:
                continue
            thread, expired = tx.catch_up(stored, now, ctx.policy.ttl)
            new, event = (thread, expired) if expired is not None else change(thread)
            ctx.save_thread(new, stored.version, event)
            followed[stored.id] = None if expired is not None else new


def _unassign(thread: Thread, resource: Resource, now: datetime) -> tuple[Thread, Event]:
    new, event = tx.assign(thread, resource, None, None, now)
    assert event is not None
    return new, event
