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

__all__ = ["Directory", "resource_document", "resource_from_document"]


def resource_document(resource: Resource) -> dict[str, Any]:
    """The resource as a JSON object in the platform's spelling (camelCase): how the directory
    file and the stored directory keep it; :func:`resource_from_document` reads it back."""
    return {
        "extensionId": resource.extension_id,
        "name": resource.name,
        "extensionType": resource.extension_type,
        "phoneNumbers": list(resource.phone_numbers),
        "handlers": [
            {"extensionId": h.extension_id, "name": h.name} if h.name else h.extension_id
            for h in resource.handlers
        ],
    }


def _handler_from(value: Any, where: str) -> Handler | str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("extensionId"), str):
        unknown = set(value) - {"extensionId", "name"}
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return Handler(value["extensionId"], name=value.get("name"))
    raise InvalidInput(f'{where}: a handler is an extension id or {{"extensionId": ...}}')


def resource_from_document(value: Any, where: str = "resource") -> Resource:
    """The resource a JSON object of :func:`resource_document`'s shape describes (a handler may
    also be a bare extension id; extensionType defaults to Department); anything else is
    :class:`~threadcore.errors.InvalidInput` whose message starts with ``where``."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: a resource must be a JSON object")
    unknown = set(value) - {"extensionId", "name", "extensionType", "phoneNumbers", "handlers"}
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if not isinstance(value.get("extensionId"), str):
        raise InvalidInput(f"{where}: extensionId (a string) is required")
    numbers = value.get("phoneNumbers", [])
    handlers = value.get("handlers", [])
    if not isinstance(numbers, list) or not isinstance(handlers, list):
        raise InvalidInput(f"{where}: phoneNumbers and handlers must be lists")
    try:
        return Resource(
            extension_id=value["extensionId"],
            name=value.get("name"),
            extension_type=value.get("extensionType", "Department"),
            phone_numbers=numbers,
            handlers=[_handler_from(h, f"{where}.handlers[{i}]") for i, h in enumerate(handlers)],
        )
    except InvalidInput as error:  # a bad id, name or number: say where it is
        if error.message.startswith(where):
            raise
        raise InvalidInput(f"{where}: {error.message}", parameter=error.parameter) from None


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
