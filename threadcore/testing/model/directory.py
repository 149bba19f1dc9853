"""The model's directory changes and what they do to open threads (R11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec

from threadcore.testing.model._base import OPEN, Err, MEvent, ModelBase, MResource, MThread, Ok

P = ParamSpec("P")


def _of_resource(
    change: Callable[Concatenate[DirectoryModel, MResource, P], Ok | Err],
) -> Callable[Concatenate[DirectoryModel, str, P], Ok | Err]:
    """A change to the resource named by its extension id (ResourceNotFound without one)."""

    def named(
        self: DirectoryModel, extension_id: str, /, *args: P.args, **kw: P.kwargs
    ) -> Ok | Err:
        resource = self.resources.get(extension_id)
        if resource is None:
            return Err("ResourceNotFound")
        return change(self, resource, *args, **kw)

    return named


class DirectoryModel(ModelBase):
    """Directory changes."""

    def _follow(self, threads: list[MThread], reason: str | None) -> Ok:
        events: list[MEvent] = []
        changed = []
        for t in threads:
            if self.due(t):
                events += self.materialise(t)
                continue
            if reason is None:
                events.append(self._assigned(t, None, None))
            else:
                events.append(self._resolved(t, reason, None))
            changed.append(t.id)
        return Ok(sorted(changed), tuple(events))

    def _open_threads(self, **match: str) -> list[MThread]:
        return [
            t
            for t in self.threads.values()
            if t.status == OPEN
            and t.alive
            and all(getattr(t, key) == value for key, value in match.items())
        ]

    def remove_resource(self, extension_id: str) -> Ok | Err:
        if extension_id not in self.resources:
            return Err("ResourceNotFound")
        del self.resources[extension_id]
        return self._follow(self._open_threads(owner_ext=extension_id), "OwnerDeleted")

    def add_resource(self, resource: MResource) -> Ok | Err:
        if resource.extension_id in self.resources:
            return Err("ResourceExists")
        if any(self.owner_of(n) is not None for n in resource.numbers):
            return Err("PhoneNumberInUse")
        self.resources[resource.extension_id] = resource
        return Ok()

    @_of_resource
    def remove_phone_number(self, resource: MResource, number: str) -> Ok | Err:
        if number not in resource.numbers:
            return Err("UnknownPhoneNumber")
        resource.numbers.remove(number)
        threads = self._open_threads(owner_ext=resource.extension_id, owner=number)
        return self._follow(threads, "OwnerPhoneNumberDeleted")

    @_of_resource
    def add_phone_number(self, resource: MResource, number: str) -> Ok | Err:
        if number in resource.numbers:
            return Ok()
        if self.owner_of(number) is not None:
            return Err("PhoneNumberInUse")
        resource.numbers.append(number)
        return Ok()

    @_of_resource
    def remove_handler(self, resource: MResource, handler: str) -> Ok | Err:
        if handler not in resource.handlers:
            return Err("InvalidInput")
        del resource.handlers[handler]
        threads = self._open_threads(owner_ext=resource.extension_id, assignee=handler)
        return self._follow(threads, None)

    @_of_resource
    def add_handler(self, resource: MResource, handler: str, name: str | None) -> Ok | Err:
        resource.handlers[handler] = name
        return Ok()
