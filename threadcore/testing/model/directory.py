"""The model's directory changes and what they do to open threads (R11)."""

from __future__ import annotations

from threadcore.testing.model._base import OPEN, Err, MEvent, ModelBase, MResource, MThread, Ok


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

    def _resource(self, extension_id: str) -> MResource | Err:
        """The resource a directory change names, or ResourceNotFound."""
        resource = self.resources.get(extension_id)
        return Err("ResourceNotFound") if resource is None else resource

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

    def remove_phone_number(self, extension_id: str, number: str) -> Ok | Err:
        resource = self._resource(extension_id)
        if isinstance(resource, Err):
            return resource
        if number not in resource.numbers:
            return Err("UnknownPhoneNumber")
        resource.numbers.remove(number)
        threads = self._open_threads(owner_ext=extension_id, owner=number)
        return self._follow(threads, "OwnerPhoneNumberDeleted")

    def add_phone_number(self, extension_id: str, number: str) -> Ok | Err:
        resource = self._resource(extension_id)
        if isinstance(resource, Err):
            return resource
        if number in resource.numbers:
            return Ok()
        if self.owner_of(number) is not None:
            return Err("PhoneNumberInUse")
        resource.numbers.append(number)
        return Ok()

    def remove_handler(self, extension_id: str, handler: str) -> Ok | Err:
        resource = self._resource(extension_id)
        if isinstance(resource, Err):
            return resource
        if handler not in resource.handlers:
            return Err("InvalidInput")
        del resource.handlers[handler]
        return self._follow(self._open_threads(owner_ext=extension_id, assignee=handler), None)

    def add_handler(self, extension_id: str, handler: str, name: str | None) -> Ok | Err:
        resource = self._resource(extension_id)
        if isinstance(resource, Err):
            return resource
        resource.handlers[handler] = name
        return Ok()
