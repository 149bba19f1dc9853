"""Directory changes and their effect on open threads (rule R11).

One rule decides what a change does to the threads
(:func:`threadcore.inbox.handlers.directory.follow`), whichever way the change comes: through a
directory stored with the threads (changed and followed in one transaction), an in-memory
directory the inbox changes (followed in one transaction, the change undone if that fails), or a
directory the service keeps itself and tells the inbox about (rule R11a).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable

from threadcore.domain.errors import InvalidInput, NotPermitted
from threadcore.domain.model import Handler, Resource, Thread
from threadcore.domain.validation import check_extension_id, e164
from threadcore.inbox import commands as c
from threadcore.inbox._spine import Spine
from threadcore.inbox.handlers import directory as h
from threadcore.ports import MutableDirectoryPort

__all__ = [
    "add_handler",
    "add_phone_number",
    "add_resource",
    "handler_removed",
    "load_directory",
    "phone_number_removed",
    "remove_handler",
    "remove_phone_number",
    "remove_resource",
    "resource_removed",
]


def _mutable_directory(self: Spine) -> MutableDirectoryPort:
    directory = self._directory
    if not isinstance(directory, MutableDirectoryPort):
        raise NotPermitted("This inbox's directory cannot be changed through the inbox")
    return directory


def add_resource(self: Spine, resource: Resource) -> None:
    """Add a resource (its extension id and numbers must be unused)."""
    if self._stored is not None:
        _change_stored(self, c.AddResource(resource))
    else:
        _mutable_directory(self).add_resource(resource)


def add_phone_number(self: Spine, extension_id: str, phone_number: str) -> None:
    """Give a resource another phone number."""
    if self._stored is not None:
        _change_stored(self, c.AddPhoneNumber(extension_id, phone_number))
    else:
        _mutable_directory(self).add_phone_number(extension_id, phone_number)


def add_handler(self: Spine, extension_id: str, handler: Handler | str) -> None:
    """Make a handler (an extension id or a :class:`Handler`) an SMS handler of a resource."""
    if not isinstance(handler, Handler):
        handler = Handler(check_extension_id(handler, "handler"))
    if self._stored is not None:
        _change_stored(self, c.AddHandler(extension_id, handler))
    else:
        _mutable_directory(self).add_handler(extension_id, handler)


def remove_resource(self: Spine, extension_id: str) -> builtins.list[Thread]:
    """Remove a resource; its open threads are resolved with reason OwnerDeleted (returned)."""
    if self._stored is not None:
        return _change_stored(self, c.RemoveResource(extension_id))
    directory = _mutable_directory(self)
    removed = directory.remove_resource(extension_id)
    return _follow_in_command(self, removed, None, undo=lambda: directory.add_resource(removed))


def remove_phone_number(self: Spine, extension_id: str, phone_number: str) -> builtins.list[Thread]:
    """Take a number from a resource; its open threads on that number are resolved with
    reason OwnerPhoneNumberDeleted (returned)."""
    if self._stored is not None:
        return _change_stored(self, c.RemovePhoneNumber(extension_id, phone_number))
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
        return _change_stored(self, c.RemoveHandler(extension_id, handler_id))
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
    if self._stored is None:
        raise NotPermitted("load_directory changes a directory stored with the threads only")
    self._stored.draft(given)  # one extension id and one owner per number among those given
    return _change_stored(self, c.LoadDirectory(tuple(given), replace))


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
    return self._run(h.handler_removed, c.HandlerRemoved(extension_id, handler_id))


# --- the ways a change reaches the one rule -----------------------------------------------------
def _change_stored(self: Spine, change: c.DirectoryChange) -> builtins.list[Thread]:
    """Make ``change`` on a copy of the stored directory, store the resources that differ and
    follow each difference on the threads: one command, run alone."""
    stored = self._stored
    assert stored is not None
    changed = self._run(h.change_directory, c.ChangeDirectory(stored, change), directory="change")
    with self._repo.unit_of_work() as uow:  # this process's copy shows the change at once
        stored.refresh(uow)
    return changed


def _follow_in_command(
    self: Spine,
    before: Resource,
    after: Resource | None,
    undo: Callable[[], None] = lambda: None,
) -> builtins.list[Thread]:
    """Follow one resource's change on the threads in a command of its own; ``undo`` the
    directory's change when the command fails."""
    try:
        return self._run(h.follow_directory, c.FollowDirectory(before, after))
    except BaseException:
        undo()
        raise
