"""The directory file the command line reads: which resources exist, their numbers, handlers.

The command line has no directory service to ask, so ``replay`` and ``threads`` read one from a
JSON file (``--directory PATH``, or the ``THREADCORE_DIRECTORY`` environment variable), or else
use the directory stored in the database, which ``threadcore directory load`` fills from such a
file and ``threadcore directory show`` prints as one::

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

from threadcore import Directory, Resource
from threadcore.adapters.directory import resource_document, resource_from_document
from threadcore.errors import ThreadcoreError

__all__ = ["DIRECTORY_VARIABLE", "DirectoryFileError", "dump_directory", "load_directory"]

#: The environment variable read when no ``--directory`` is given.
DIRECTORY_VARIABLE = "THREADCORE_DIRECTORY"


class DirectoryFileError(Exception):
    """The directory file is missing, unreadable or malformed (the message says which)."""


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
            resource_from_document(value, f"resources[{i}]")
            for i, value in enumerate(data["resources"])
        )
    except ThreadcoreError as error:  # a bad number or id, a duplicate: threadcore's words
        raise DirectoryFileError(f"the directory file {str(path)!r}: {error.message}") from None


def dump_directory(resources: Sequence[Resource]) -> dict[str, Any]:
    """The JSON object :func:`load_directory` reads back as ``resources``."""
    return {"resources": [resource_document(r) for r in resources]}
