"""Directory changes and their effect on open threads (rule R11).

One rule decides what a change does to the threads (:func:`_follow`: a resource gone, numbers
gone, handlers gone), whichever way the change comes: through a directory stored with the
threads (changed and followed in one transaction), an in-memory directory the inbox changes
(followed in one transaction, the change undone if that fails), or a directory the service keeps
itself and tells the inbox about (rule R11a).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import datetime

import attrs

from threadcore.adapters.directory import Directory
from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
    InvalidInput,
    NotPermitted,
    ResourceNotFound,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Handler,
    Resource,
    StatusReason,
    Thread,
)
from threadcore.domain.validation import (
    check_extension_id,
    e164,
)
from threadcore.inbox._spine import Spine
from threadcore.ports import (
    DirectoryRecords,
    MutableDirectoryPort,
    Queries,
    UnitOfWork,
    require,
)


def _mutable_directory(self: Spine) -> MutableDirectoryPort:
    directory = self._directory
    if not isinstance(directory, MutableDirectoryPort):
        raise NotPermitted("This inbox's directory cannot be changed through the inbox")
    return directory


def add_resource(self: Spine, resource: Resource) -> None:
    """Add a resource (its extension id and numbers must be unused)."""
    if self._stored is not None:
        _change_stored(self, lambda d: d.add_resource(resource))
    else:
        _mutable_directory(self).add_resource(resource)


def add_phone_number(self: Spine, extension_id: str, phone_number: str) -> None:
    """Give a resource another phone number."""
    if self._stored is not None:
        _change_stored(self, lambda d: d.add_phone_number(extension_id, phone_number))
    else:
        _mutable_directory(self).add_phone_number(extension_id, phone_number)


def add_handler(self: Spine, extension_id: str, handler: Handler | str) -> None:
    """Make a handler (an extension id or a :class:`Handler`) an SMS handler of a resource."""
    if not isinstance(handler, Handler):
        handler = Handler(check_extension_id(handler, "handler"))
    if self._stored is not None:
        _change_stored(self, lambda d: d.add_handler(extension_id, handler))
    else:
        _mutable_directory(self).add_handler(extension_id, handler)


def remove_resource(self: Spine, extension_id: str) -> builtins.list[Thread]:
    """Remove a resource; its open threads are resolved with reason OwnerDeleted (returned)."""
    if self._stored is not None:
        return _change_stored(self, lambda d: d.remove_resource(extension_id))
    directory = _mutable_directory(self)
    removed = directory.remove_resource(extension_id)
    return _follow_in_command(self, removed, None, undo=lambda: directory.add_resource(removed))


def remove_phone_number(self: Spine, extension_id: str, phone_number: str) -> builtins.list[Thread]:
    """Take a number from a resource; its open threads on that number are resolved with
    reason OwnerPhoneNumberDeleted (returned)."""
    if self._stored is not None:
        return _change_stored(self, lambda d: d.remove_phone_number(extension_id, phone_number))
    directory = _mutable_directory(self)
    number = e164(phone_number, "phone_number")
    before = directory.resource(extension_id) if isinstance(extension_id, str) else None
    directory.remove_phone_number(extension_id, number)
    assert before is not None  # remove_phone_number raised otherwise
    return _follow_in_command(
        self,
        before,
        directory.resource(extension_id),
        undo=lambda: directory.add_phone_number(extension_id, number),
    )


def remove_handler(self: Spine, extension_id: str, handler_id: str) -> builtins.list[Thread]:
    """Remove an SMS handler from a resource; the resource's open threads assigned to them
    become unassigned (returned)."""
    if self._stored is not None:
        return _change_stored(self, lambda d: d.remove_handler(extension_id, handler_id))
    directory = _mutable_directory(self)
    before = directory.resource(extension_id) if isinstance(extension_id, str) else None
    handler = before.handler(handler_id) if before and isinstance(handler_id, str) else None
    directory.remove_handler(extension_id, handler_id)
    assert before is not None and handler is not None  # remove_handler raised otherwise
    return _follow_in_command(
        self,
        before,
        directory.resource(extension_id),
        undo=lambda: directory.add_handler(extension_id, handler),
    )


def load_directory(
    self: Spine, resources: Iterable[Resource], *, replace: bool = False
) -> builtins.list[Thread]:
    """Bring a stored directory to ``resources`` in one transaction, with the effect of every
    difference on the threads (rule R11), and return the threads changed.

    ``replace=False`` (merge): each resource given replaces the stored one of its extension id
    (its numbers and handlers become exactly those given) or is added; stored resources not
    given stay. ``replace=True``: the stored directory becomes exactly ``resources``, and a
    resource not given is removed. Only for a directory stored with the threads
    (:func:`threadcore.open_inbox`); elsewhere ``NotPermitted``.
    """
    if isinstance(resources, str | bytes) or not isinstance(resources, Iterable):
        raise InvalidInput(
            "Parameter [resources] must be a list of Resource", parameter="resources"
        )
    given = builtins.list(resources)
    for resource in given:
        if not isinstance(resource, Resource):
            raise InvalidInput(
                "Parameter [resources] must be a list of Resource", parameter="resources"
            )
    if not isinstance(replace, bool):
        raise InvalidInput("Parameter [replace] must be a bool", parameter="replace")
    Directory(given)  # one extension id and one owner per number among those given, or refused
    if self._stored is None:
        raise NotPermitted("load_directory changes a directory stored with the threads only")

    def load(directory: Directory) -> None:
        wanted = {r.extension_id for r in given}
        for old in builtins.list(directory.resources()):
            if replace or old.extension_id in wanted:
                directory.remove_resource(old.extension_id)
        for resource in given:
            directory.add_resource(resource)

    return _change_stored(self, load)


# --- a directory the service keeps itself (a read-only DirectoryPort) --------------------------
def resource_removed(self: Spine, extension_id: str) -> builtins.list[Thread]:
    """Tell the inbox that the service removed a resource from its own directory: the
    resource's open threads are resolved with reason OwnerDeleted, in one transaction, as
    :meth:`remove_resource` does (returned). For directories the inbox cannot change."""
    extension_id = check_extension_id(extension_id, "extension_id")
    return _follow_in_command(self, Resource(extension_id), None)


def phone_number_removed(
    self: Spine, extension_id: str, phone_number: str
) -> builtins.list[Thread]:
    """Tell the inbox that the service took a number from a resource in its own directory:
    the resource's open threads on that number are resolved with reason
    OwnerPhoneNumberDeleted, in one transaction (returned)."""
    extension_id = check_extension_id(extension_id, "extension_id")
    number = e164(phone_number, "phone_number")
    return _follow_in_command(
        self, Resource(extension_id, phone_numbers=(number,)), Resource(extension_id)
    )


def handler_removed(self: Spine, extension_id: str, handler_id: str) -> builtins.list[Thread]:
    """Tell the inbox that a handler left a resource in the service's own directory: the
    resource's open threads assigned to them become unassigned, in one transaction (returned).
    The resource must still be in the directory (a removed resource: :meth:`resource_removed`)."""
    extension_id = check_extension_id(extension_id, "extension_id")
    handler_id = check_extension_id(handler_id, "handler_id")
    resource = self._dir().resource(extension_id)
    if resource is None:
        raise ResourceNotFound(f"Resource [{extension_id}] not found")
    after = attrs.evolve(
        resource, handlers=[h for h in resource.handlers if h.extension_id != handler_id]
    )
    before = attrs.evolve(after, handlers=[*after.handlers, Handler(handler_id)])
    return _follow_in_command(self, before, after)


# --- the one rule, and the ways a change reaches it --------------------------------------------
def _change_stored(self: Spine, change: Callable[[Directory], object]) -> builtins.list[Thread]:
    """Change the stored directory as ``change`` changes a copy of it, store the resources
    that differ and follow each difference on the threads: one command, run alone."""
    stored = self._stored
    assert stored is not None

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Thread]:
        current = stored.refresh(uow)
        changed = Directory(current.resources())
        change(changed)
        followed: dict[str, Thread | None] = {}
        for before, after in _differences(current, changed):
            if after is not None:
                require(uow, DirectoryRecords).save_resource(after)
            if before is not None:
                if after is None:
                    require(uow, DirectoryRecords).delete_resource(before.extension_id)
                _follow(self, uow, events, now, before, after, followed)
        return [t for t in followed.values() if t is not None]

    changed = self._run(work, directory="change")
    with self._repo.unit_of_work() as uow:  # this process's copy shows the change at once
        stored.refresh(uow)
    return changed


def _differences(
    before: Directory, after: Directory
) -> builtins.list[tuple[Resource | None, Resource | None]]:
    """The (before, after) pairs of the resources that differ, ``None`` where there is none."""
    pairs: builtins.list[tuple[Resource | None, Resource | None]] = []
    for old in before.resources():
        new = after.resource(old.extension_id)
        if new != old:
            pairs.append((old, new))
    pairs.extend(
        (None, new) for new in after.resources() if before.resource(new.extension_id) is None
    )
    return pairs


def _follow_in_command(
    self: Spine,
    before: Resource,
    after: Resource | None,
    undo: Callable[[], None] = lambda: None,
) -> builtins.list[Thread]:
    """Follow one resource's change on the threads in a command of its own; ``undo`` the
    directory's change when the command fails."""

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Thread]:
        followed: dict[str, Thread | None] = {}
        _follow(self, uow, events, now, before, after, followed)
        return [t for t in followed.values() if t is not None]

    try:
        return self._run(work)
    except BaseException:
        undo()
        raise


def _follow(
    self: Spine,
    uow: UnitOfWork,
    events: list[Event],
    now: datetime,
    before: Resource,
    after: Resource | None,
    followed: dict[str, Thread | None],
) -> None:
    """Rule R11 for one resource that was ``before`` and is now ``after`` (``None``: removed):
    its open threads are resolved (OwnerDeleted) when it is gone, those on a number it lost are
    resolved (OwnerPhoneNumberDeleted), and those assigned to a handler it lost are unassigned.
    A thread already due gets its expiry instead. ``followed`` collects each thread changed
    (``None``: expired), so a thread is changed once."""
    owner = before.extension_id
    selections: builtins.list[
        tuple[builtins.list[Thread], Callable[[Thread], tuple[Thread, Event]]]
    ] = []
    if after is None:
        selections.append(
            (
                require(uow, Queries).open_threads(owner_extension_id=owner),
                lambda t: tx.resolve(t, StatusReason.OWNER_DELETED, None, now),
            )
        )
    else:
        remaining = after
        for number in before.phone_numbers:
            if number not in remaining.phone_numbers:
                selections.append(
                    (
                        require(uow, Queries).open_threads(
                            owner_extension_id=owner, owner_number=number
                        ),
                        lambda t: tx.resolve(t, StatusReason.OWNER_PHONE_NUMBER_DELETED, None, now),
                    )
                )
        for handler in before.handlers:
            if not remaining.is_handler(handler.extension_id):
                selections.append(
                    (
                        require(uow, Queries).open_threads(
                            owner_extension_id=owner, assignee_id=handler.extension_id
                        ),
                        lambda t: _unassign(t, remaining, now),
                    )
                )
    ttl = self._policy.ttl
    for threads, change in selections:
        for stored in threads:
            if stored.id in followed:
                continue
            thread, expired = tx.catch_up(stored, now, ttl)
            if expired is not None:
                uow.save_thread(thread, stored.version)
                events.append(expired)
                followed[stored.id] = None
                continue
            new, event = change(thread)
            uow.save_thread(new, stored.version)
            events.append(event)
            followed[stored.id] = new


def _unassign(thread: Thread, resource: Resource, now: datetime) -> tuple[Thread, Event]:
    new, event = tx.assign(thread, resource, None, None, now)
    assert event is not None
    return new, event
