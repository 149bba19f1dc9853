"""The in-memory directory: resources, their phone numbers and their SMS handlers."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from threadcore.domain.errors import (
    InvalidInput,
    PhoneNumberInUse,
    ResourceExists,
    ResourceNotFound,
    UnknownPhoneNumber,
)
from threadcore.domain.model import Handler, Resource
from threadcore.domain.validation import check_extension_id, e164

__all__ = ["Directory"]


class Directory:
    """An in-memory :class:`~threadcore.ports.MutableDirectoryPort`.

    ``Directory([Resource(...), ...])``. Phone numbers are unique across resources; a handler may
    serve several resources.
    """

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._lock = threading.Lock()
        self._resources: dict[str, Resource] = {}
        self._by_number: dict[str, Resource] = {}
        self._by_handler: dict[str, tuple[Resource, ...]] = {}
        for resource in resources:
            self.add_resource(resource)

    # --- reads ----------------------------------------------------------------------------------
    def resource(self, extension_id: str) -> Resource | None:
        """The resource with this extension id, or ``None``."""
        return self._resources.get(extension_id)

    def resource_for_number(self, phone_number: str) -> Resource | None:
        """The resource that owns ``phone_number``, or ``None``."""
        return self._by_number.get(phone_number)

    def resources_of_handler(self, extension_id: str) -> Sequence[Resource]:
        """Every resource ``extension_id`` handles SMS for, in the order they were added."""
        return self._by_handler.get(extension_id, ())

    def resources(self) -> Sequence[Resource]:
        """Every resource, in the order they were added."""
        return tuple(self._resources.values())

    # --- changes --------------------------------------------------------------------------------
    def add_resource(self, resource: Resource) -> None:
        """Add a resource whose extension id and phone numbers are not in use."""
        if not isinstance(resource, Resource):
            raise InvalidInput("Parameter [resource] must be a Resource", parameter="resource")
        with self._lock:
            if resource.extension_id in self._resources:
                raise ResourceExists(f"Resource [{resource.extension_id}] already exists")
            for number in resource.phone_numbers:
                self._check_free(number)
            self._put(resource)

    def remove_resource(self, extension_id: str) -> Resource:
        """Remove a resource (with its numbers and handlers) and return it."""
        with self._lock:
            resource = self._get(extension_id)
            self._drop(resource)
            del self._resources[extension_id]
            self._reindex_handlers()
            return resource

    def add_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Give a resource one more phone number; adding a number it has is a no-op."""
        number = e164(phone_number, "phone_number")
        with self._lock:
            resource = self._get(extension_id)
            if number in resource.phone_numbers:
                return
            self._check_free(number)
            self._replace(resource, phone_numbers=(*resource.phone_numbers, number))

    def remove_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Take a phone number away from its resource."""
        number = e164(phone_number, "phone_number")
        with self._lock:
            resource = self._get(extension_id)
            if number not in resource.phone_numbers:
                raise UnknownPhoneNumber(
                    f"Phone number [{number}] does not belong to resource [{extension_id}]"
                )
            numbers = tuple(n for n in resource.phone_numbers if n != number)
            self._replace(resource, phone_numbers=numbers)

    def add_handler(self, extension_id: str, handler: Handler | str) -> None:
        """Make ``handler`` an SMS handler of the resource; re-adding updates its name."""
        if not isinstance(handler, Handler):
            handler = Handler(check_extension_id(handler, "handler"))
        with self._lock:
            resource = self._get(extension_id)
            kept = tuple(h for h in resource.handlers if h.extension_id != handler.extension_id)
            self._replace(resource, handlers=(*kept, handler))

    def remove_handler(self, extension_id: str, handler_id: str) -> None:
        """Remove an SMS handler from the resource."""
        check_extension_id(handler_id, "handler_id")
        with self._lock:
            resource = self._get(extension_id)
            if not resource.is_handler(handler_id):
                raise InvalidInput(
                    f"Extension [{handler_id}] is not an SMS handler of resource [{extension_id}]",
                    parameter="handler_id",
                )
            kept = tuple(h for h in resource.handlers if h.extension_id != handler_id)
            self._replace(resource, handlers=kept)

    # --- internals ------------------------------------------------------------------------------
    def _get(self, extension_id: str) -> Resource:
        resource = self._resources.get(check_extension_id(extension_id, "extension_id"))
        if resource is None:
            raise ResourceNotFound(f"Resource [{extension_id}] does not exist")
        return resource

    def _check_free(self, number: str) -> None:
        owner = self._by_number.get(number)
        if owner is not None:
            raise PhoneNumberInUse(
                f"Phone number [{number}] already belongs to resource [{owner.extension_id}]"
            )

    def _replace(self, old: Resource, **changes: Any) -> None:
        new = attrs.evolve(old, **changes)
        self._drop(old)
        self._put(new)

    def _put(self, resource: Resource) -> None:
        self._resources[resource.extension_id] = resource
        for number in resource.phone_numbers:
            self._by_number[number] = resource
        self._reindex_handlers()

    def _drop(self, resource: Resource) -> None:
        for number in resource.phone_numbers:
            self._by_number.pop(number, None)

    def _reindex_handlers(self) -> None:
        index: dict[str, list[Resource]] = {}
        for resource in self._resources.values():
            for handler in resource.handlers:
                index.setdefault(handler.extension_id, []).append(resource)
        self._by_handler = {k: tuple(v) for k, v in index.items()}

    def __repr__(self) -> str:
        return f"Directory({list(self._resources.values())!r})"
