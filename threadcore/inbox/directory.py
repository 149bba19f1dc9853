"""Directory changes and their effect on open threads (rule R11)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime

from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
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
    MutableDirectoryPort,
    UnitOfWork,
)


def _mutable_directory(self: Spine) -> MutableDirectoryPort:
    directory = self._directory
    if not isinstance(directory, MutableDirectoryPort):
        raise NotPermitted("This inbox's directory cannot be changed through the inbox")
    return directory


def add_resource(self: Spine, resource: Resource) -> None:
    """Add a resource (its extension id and numbers must be unused)."""
    _mutable_directory(self).add_resource(resource)


def add_phone_number(self: Spine, extension_id: str, phone_number: str) -> None:
    """Give a resource another phone number."""
    _mutable_directory(self).add_phone_number(extension_id, phone_number)


def add_handler(self: Spine, extension_id: str, handler: Handler | str) -> None:
    """Make a handler (an extension id or a :class:`Handler`) an SMS handler of a resource."""
    directory = _mutable_directory(self)
    if not isinstance(handler, Handler):
        handler = Handler(check_extension_id(handler, "handler"))
    directory.add_handler(extension_id, handler)


def remove_resource(self: Spine, extension_id: str) -> builtins.list[Thread]:
    """Remove a resource; its open threads are resolved with reason OwnerDeleted (returned)."""
    directory = _mutable_directory(self)
    removed = directory.remove_resource(extension_id)
    return _resolve_resource(
        self, removed.extension_id, undo=lambda: directory.add_resource(removed)
    )


def remove_phone_number(self: Spine, extension_id: str, phone_number: str) -> builtins.list[Thread]:
    """Take a number from a resource; its open threads on that number are resolved with
    reason OwnerPhoneNumberDeleted (returned)."""
    directory = _mutable_directory(self)
    number = e164(phone_number, "phone_number")
    directory.remove_phone_number(extension_id, number)
    return _resolve_number(
        self, extension_id, number, undo=lambda: directory.add_phone_number(extension_id, number)
    )


def remove_handler(self: Spine, extension_id: str, handler_id: str) -> builtins.list[Thread]:
    """Remove an SMS handler from a resource; the resource's open threads assigned to them
    become unassigned (returned)."""
    directory = _mutable_directory(self)
    resource = directory.resource(extension_id) if isinstance(extension_id, str) else None
    handler = resource.handler(handler_id) if resource and isinstance(handler_id, str) else None
    directory.remove_handler(extension_id, handler_id)
    assert handler is not None  # remove_handler raised otherwise
    return _unassign_handler(
        self, extension_id, handler_id, undo=lambda: directory.add_handler(extension_id, handler)
    )


# --- a directory the service keeps itself (a read-only DirectoryPort) --------------------------
def resource_removed(self: Spine, extension_id: str) -> builtins.list[Thread]:
    """Tell the inbox that the service removed a resource from its own directory: the
    resource's open threads are resolved with reason OwnerDeleted, in one transaction, as
    :meth:`remove_resource` does (returned). For directories the inbox cannot change."""
    return _resolve_resource(self, check_extension_id(extension_id, "extension_id"))


def phone_number_removed(
    self: Spine, extension_id: str, phone_number: str
) -> builtins.list[Thread]:
    """Tell the inbox that the service took a number from a resource in its own directory:
    the resource's open threads on that number are resolved with reason
    OwnerPhoneNumberDeleted, in one transaction (returned)."""
    extension_id = check_extension_id(extension_id, "extension_id")
    return _resolve_number(self, extension_id, e164(phone_number, "phone_number"))


def handler_removed(self: Spine, extension_id: str, handler_id: str) -> builtins.list[Thread]:
    """Tell the inbox that a handler left a resource in the service's own directory: the
    resource's open threads assigned to them become unassigned, in one transaction (returned).
    The resource must still be in the directory (a removed resource: :meth:`resource_removed`)."""
    extension_id = check_extension_id(extension_id, "extension_id")
    handler_id = check_extension_id(handler_id, "handler_id")
    if self._directory.resource(extension_id) is None:
        raise ResourceNotFound(f"Resource [{extension_id}] not found")
    return _unassign_handler(self, extension_id, handler_id)


def _resolve_resource(
    self: Spine, extension_id: str, undo: Callable[[], None] = lambda: None
) -> builtins.list[Thread]:
    return _follow_directory(
        self,
        lambda uow: uow.open_threads(owner_extension_id=extension_id),
        lambda thread, now: tx.resolve(thread, StatusReason.OWNER_DELETED, None, now),
        undo=undo,
    )


def _resolve_number(
    self: Spine, extension_id: str, number: str, undo: Callable[[], None] = lambda: None
) -> builtins.list[Thread]:
    return _follow_directory(
        self,
        lambda uow: uow.open_threads(owner_extension_id=extension_id, owner_number=number),
        lambda thread, now: tx.resolve(thread, StatusReason.OWNER_PHONE_NUMBER_DELETED, None, now),
        undo=undo,
    )


def _unassign_handler(
    self: Spine, extension_id: str, handler_id: str, undo: Callable[[], None] = lambda: None
) -> builtins.list[Thread]:
    """The resource's open threads assigned to ``handler_id``, unassigned (the resource as the
    directory has it now, without the handler)."""
    resource = self._directory.resource(extension_id)
    assert resource is not None

    return _follow_directory(
        self,
        lambda uow: uow.open_threads(owner_extension_id=extension_id, assignee_id=handler_id),
        lambda thread, now: _unassign(thread, resource, now),
        undo=undo,
    )


def _follow_directory(
    self: Spine,
    select: Callable[[UnitOfWork], Sequence[Thread]],
    change: Callable[[Thread, datetime], tuple[Thread, Event]],
    undo: Callable[[], None],
) -> builtins.list[Thread]:
    ttl = self._policy.ttl

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Thread]:
        changed = []
        for stored in select(uow):
            thread, expired = tx.catch_up(stored, now, ttl)
            if expired is not None:
                uow.save_thread(thread, stored.version)
                events.append(expired)
                continue
            new, event = change(thread, now)
            uow.save_thread(new, stored.version)
            events.append(event)
            changed.append(new)
        return changed

    try:
        return self._run(work)
    except BaseException:
        undo()
        raise


def _unassign(thread: Thread, resource: Resource, now: datetime) -> tuple[Thread, Event]:
    new, event = tx.assign(thread, resource, None, None, now)
    assert event is not None
    return new, event
