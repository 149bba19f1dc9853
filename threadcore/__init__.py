"""threadcore: the thread rules of a shared SMS inbox, as an embeddable library.

This namespace is the user's API (``docs/api.md`` is its one page): the facade :class:`Inbox`,
its records, filters and pages, the policy, clocks and ids, the repositories and
:func:`connect`, and the root error :class:`ThreadcoreError`. The rest has a home of its own:

- :mod:`threadcore.errors`: every error (``from threadcore.errors import ThreadNotFound``);
- :mod:`threadcore.events`: every event;
- :mod:`threadcore.storage`: what an adapter author needs (the storage port and its parts);
- :mod:`threadcore.wire`: the platform's JSON documents;
- :mod:`threadcore.testing`: the reference model, the stateful machine, the contract suite.

``PostgresRepository`` is imported on first use (it needs the ``postgres`` extra), so
``import threadcore`` works without psycopg installed. The names that lived here before 1.0
(errors, events, ports) still work for one release, with a ``DeprecationWarning``.
"""

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from threadcore import errors, events, storage
from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.adapters.stored_clock import StoredClock
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.aio import AsyncInbox
from threadcore.clock import ManualClock, SystemClock
from threadcore.connect import connect, open_inbox
from threadcore.consumers import Consumer
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Entry,
    EntryScope,
    EntryType,
    Handler,
    Keyword,
    Message,
    MessageSource,
    Note,
    OwnerResource,
    Party,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import (
    MessageFilter,
    NoteFilter,
    Page,
    Paging,
    SyncResult,
    SyncType,
    ThreadFilter,
)
from threadcore.ids import RandomIds, SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import Clock, DirectoryPort

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__version__ = "0.1.0"

__all__ = [
    "AsyncInbox",
    "Availability",
    "Classification",
    "Clock",
    "Consumer",
    "DeliveryStatus",
    "Direction",
    "Directory",
    "DirectoryPort",
    "Entry",
    "EntryScope",
    "EntryType",
    "Handler",
    "InMemoryRepository",
    "Inbox",
    "Keyword",
    "ManualClock",
    "Message",
    "MessageFilter",
    "MessageSource",
    "Note",
    "NoteFilter",
    "OwnerResource",
    "Page",
    "Paging",
    "Party",
    "Policy",
    "PostgresRepository",
    "RandomIds",
    "Resource",
    "SQLiteRepository",
    "SequentialIds",
    "StatusReason",
    "StoredClock",
    "StoredDirectory",
    "SyncResult",
    "SyncType",
    "SystemClock",
    "Thread",
    "ThreadFilter",
    "ThreadStatus",
    "ThreadUser",
    "ThreadcoreError",
    "Upload",
    "__version__",
    "connect",
    "errors",
    "events",
    "open_inbox",
    "storage",
]

#: Names that lived in this namespace before 1.0: where each lives now, and its name there.
_MOVED: dict[str, tuple[str, str]] = {
    **{name: ("threadcore.errors", name) for name in errors.__all__ if name != "ThreadcoreError"},
    **{
        name: ("threadcore.events", name)
        for name in events.__all__
        if name not in ("NoteDeleted", "ThreadDeleted", "EVENT_TYPES")
    },
    "NoteDeletedEvent": ("threadcore.events", "NoteDeleted"),
    "ThreadDeletedEvent": ("threadcore.events", "ThreadDeleted"),
    **{
        name: ("threadcore.storage", name)
        for name in (
            "IdGenerator",
            "MessageQuery",
            "MutableDirectoryPort",
            "NoteQuery",
            "Repository",
            "ThreadQuery",
            "UnitOfWork",
        )
    },
    # internals of the lifecycle (docs/lifecycle.md draws them): not part of the API
    "TRANSITIONS": ("threadcore.domain.transitions", "TRANSITIONS"),
    "Command": ("threadcore.domain.transitions", "Command"),
    "Lifecycle": ("threadcore.domain.transitions", "Lifecycle"),
}


def __getattr__(name: str) -> Any:
    """``PostgresRepository`` on first use (only then is psycopg needed); the names that moved
    in 1.0 from their new home, with a ``DeprecationWarning`` that says where."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    if name in _MOVED:
        module, new_name = _MOVED[name]
        warnings.warn(
            f"threadcore.{name} moved to {module}.{new_name}; the old name goes in the next "
            "release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), new_name)
    raise AttributeError(f"module 'threadcore' has no attribute {name!r}")
