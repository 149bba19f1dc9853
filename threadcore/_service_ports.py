"""The ports threadcore talks through besides storage: time, ids, and the directory of resources
(read, changed, and as a unit of work read it). Re-exported by :mod:`threadcore.ports` and
:mod:`threadcore.storage`; adapters satisfy them structurally."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from threadcore.domain.model import Handler, Resource

__all__ = ["Clock", "DirectoryPort", "EditableDirectory", "IdGenerator", "MutableDirectoryPort"]


@runtime_checkable
class Clock(Protocol):
    """**Protocol**: the only source of time. ``now()`` returns a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


@runtime_checkable
class IdGenerator(Protocol):
    """**Protocol**: hands out unique ids for new threads and messages."""

    def new_id(self) -> str:
        """A fresh id never handed out before."""
        ...


@runtime_checkable
class DirectoryPort(Protocol):
    """**Protocol**: who owns which number and who handles SMS for whom (read side).

    An embedding service may back this with its own user store.
    """

    def resource(self, extension_id: str) -> Resource | None:
        """The resource with this extension id, or ``None``."""
        ...

    def resource_for_number(self, phone_number: str) -> Resource | None:
        """The resource that owns ``phone_number`` (E.164), or ``None``."""
        ...

    def resources_of_handler(self, extension_id: str) -> Sequence[Resource]:
        """Every resource for which ``extension_id`` is an SMS handler."""
        ...


@runtime_checkable
class MutableDirectoryPort(DirectoryPort, Protocol):
    """**Protocol**: a directory the facade may change (``Inbox.add_resource`` and friends).

    Each method validates fully before it changes anything, and raises a ``ThreadcoreError``
    subclass when the change is not possible.
    """

    def add_resource(self, resource: Resource) -> None:
        """Add a new resource; its extension id and numbers must be unused."""
        ...

    def remove_resource(self, extension_id: str) -> Resource:
        """Remove a resource and return it as it was."""
        ...

    def add_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Give a resource another number (which no other resource owns)."""
        ...

    def remove_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Take a number away from its resource."""
        ...

    def add_handler(self, extension_id: str, handler: Handler) -> None:
        """Make ``handler`` an SMS handler of the resource (or update its name)."""
        ...

    def remove_handler(self, extension_id: str, handler_id: str) -> None:
        """Remove an SMS handler from the resource."""
        ...


@runtime_checkable
class EditableDirectory(MutableDirectoryPort, Protocol):
    """**Protocol**: a directory as a unit of work read it, which a change can be tried on."""

    def resources(self) -> Sequence[Resource]:
        """Every resource, in the order they were added."""
        ...
