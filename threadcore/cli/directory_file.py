"""The directory file the command line reads: which resources exist, their numbers, handlers.

The command line has no directory service to ask, so ``replay``, ``threads`` and ``sweep`` read
one from a JSON file (``--directory PATH``, or the ``THREADCORE_DIRECTORY`` environment
variable)::

    {"resources": [
        {"extensionId": "6249888001", "name": "Billing Queue", "extensionType": "Department",
         "phoneNumbers": ["+12092480001"],
         "handlers": ["101", {"extensionId": "102", "name": "Ann Lee"}]}
    ]}

Field names follow the platform's (camelCase); a handler is an extension id or an object with
``extensionId`` and an optional ``name``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from threadcore import Directory, Handler, Resource
from threadcore.errors import InvalidInput

__all__ = ["DIRECTORY_VARIABLE", "DirectoryFileError", "dump_directory", "load_directory"]

#: The environment variable read when no ``--directory`` is given.
DIRECTORY_VARIABLE = "THREADCORE_DIRECTORY"


class DirectoryFileError(Exception):
    """The directory file is missing, unreadable or malformed (the message says which)."""


def _handler(value: Any, where: str) -> Handler | str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("extensionId"), str):
        unknown = set(value) - {"extensionId", "name"}
        if unknown:
            raise DirectoryFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return Handler(value["extensionId"], name=value.get("name"))
    raise DirectoryFileError(f'{where}: a handler is an extension id or {{"extensionId": ...}}')


def _resource(value: Any, where: str) -> Resource:
    if not isinstance(value, dict):
        raise DirectoryFileError(f"{where}: a resource must be a JSON object")
    unknown = set(value) - {"extensionId", "name", "extensionType", "phoneNumbers", "handlers"}
    if unknown:
        raise DirectoryFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if not isinstance(value.get("extensionId"), str):
        raise DirectoryFileError(f"{where}: extensionId (a string) is required")
    numbers = value.get("phoneNumbers", [])
    handlers = value.get("handlers", [])
    if not isinstance(numbers, list) or not isinstance(handlers, list):
        raise DirectoryFileError(f"{where}: phoneNumbers and handlers must be lists")
    return Resource(
        extension_id=value["extensionId"],
        name=value.get("name"),
        extension_type=value.get("extensionType", "Department"),
        phone_numbers=numbers,
        handlers=[_handler(h, f"{where}.handlers[{i}]") for i, h in enumerate(handlers)],
    )


def load_directory(path: str | os.PathLike[str]) -> Directory:
    """The :class:`~threadcore.Directory` described by the JSON file at ``path``.

    Raises :class:`DirectoryFileError` with a one-line reason for anything wrong with it.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DirectoryFileError(
            f"cannot read the directory file {str(path)!r}: {error.strerror}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DirectoryFileError(
            f"the directory file {str(path)!r} is not JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise DirectoryFileError(
            f'the directory file {str(path)!r} must be an object with a "resources" list'
        )
    try:
        return Directory(
            _resource(value, f"resources[{i}]") for i, value in enumerate(data["resources"])
        )
    except InvalidInput as error:  # a bad number, id or duplicate, as threadcore words it
        raise DirectoryFileError(f"the directory file {str(path)!r}: {error.message}") from None


def dump_directory(resources: Sequence[Resource]) -> dict[str, Any]:
    """The JSON object :func:`load_directory` reads back as ``resources``."""
    return {
        "resources": [
            {
                "extensionId": r.extension_id,
                "name": r.name,
                "extensionType": r.extension_type,
                "phoneNumbers": list(r.phone_numbers),
                "handlers": [
                    {"extensionId": h.extension_id, "name": h.name} if h.name else h.extension_id
                    for h in r.handlers
                ],
            }
            for r in resources
        ]
    }
