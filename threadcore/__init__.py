"""threadcore: the thread rules of a shared SMS inbox, as an embeddable library.

This namespace is the user's API (``docs/api.md`` is its one page): the facade :class:`Inbox`
(and :class:`AsyncInbox`), :func:`open_inbox`, :func:`connect` and the repositories, the
directory, the records, filters and pages a user names, the policy, the clocks, and the root
error :class:`ThreadcoreError`: at most 40 names. The rest has a home of its own:

- :mod:`threadcore.errors`: every error (``from threadcore.errors import ThreadNotFound``);
- :mod:`threadcore.events`: every event;
- :mod:`threadcore.model`: every record and enum, the rarely named ones only there;
- :mod:`threadcore.storage`: ``StoredDirectory`` and ``StoredClock``, and what an adapter author
  needs (the storage port and its parts, the ``Clock`` and directory ports, the repositories);
- :mod:`threadcore.ids`: the id generators; :mod:`threadcore.consumers`: ``Consumer``;
- :mod:`threadcore.wire`: the platform's JSON documents;
- :mod:`threadcore.testing`: the reference model, the stateful machine, the contract suite.

The names that lived here before 1.0 (errors, events, ports; the ids, ports and rarely named
records that moved in 1.0) still work for one release, with a ``DeprecationWarning``.
"""

from typing import TYPE_CHECKING, Any

from threadcore import errors, events, model, storage
from threadcore._moved import deprecated_names
from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.aio import AsyncInbox
from threadcore.clock import ManualClock, SystemClock
from threadcore.connect import connect, open_inbox
from threadcore.domain import queries as _queries
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.model import (
    DeliveryStatus,
    Direction,
    Entry,
    EntryScope,
    EntryType,
    Handler,
    Message,
    Note,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
)
from threadcore.domain.queries import *  # noqa: F403 (the filters, pages, sync records)
from threadcore.inbox import Inbox
from threadcore.inbox import _spine as _composition

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

# The composition root: an inbox given no repository keeps its records in memory.
_composition.default_repository = InMemoryRepository

__version__ = "1.0.0"

__all__ = [
    "AsyncInbox",
    "DeliveryStatus",
    "Direction",
    "Directory",
    "Entry",
    "EntryScope",
    "EntryType",
    "Handler",
    "InMemoryRepository",
    "Inbox",
    "ManualClock",
    "Message",
    "Note",
    "Policy",
    "PostgresRepository",
    "Resource",
    "SQLiteRepository",
    "StatusReason",
    "SystemClock",
    "Thread",
    "ThreadStatus",
    "ThreadcoreError",
    "Upload",
    "__version__",
    "connect",
    "errors",
    "events",
    "model",
    "open_inbox",
    "storage",
]
__all__ += _queries.__all__  # the filters, pages and sync records, all of them top-level names

#: Names that lived in this namespace before: where each lives now, and its name there.
_MOVED: dict[str, tuple[str, str]] = {
    **{
        name: ("threadcore.errors", name)
        for name in errors.__all__
        if name not in ("ThreadcoreError", "NoteDeletedError", "ThreadDeletedError")
    },
    # before 1.0 these names were the errors (the events were ``...Event`` here)
    "NoteDeleted": ("threadcore.errors", "NoteDeletedError"),
    "ThreadDeleted": ("threadcore.errors", "ThreadDeletedError"),
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
    # 1.0: at most 40 names here; the rest went to their homes (CHANGELOG 1.0.0)
    "Clock": ("threadcore.storage", "Clock"),
    "DirectoryPort": ("threadcore.storage", "DirectoryPort"),
    "StoredDirectory": ("threadcore.storage", "StoredDirectory"),
    "Consumer": ("threadcore.consumers", "Consumer"),
    "RandomIds": ("threadcore.ids", "RandomIds"),
    "SequentialIds": ("threadcore.ids", "SequentialIds"),
    "Availability": ("threadcore.model", "Availability"),
    "Classification": ("threadcore.model", "Classification"),
    "ThreadUser": ("threadcore.model", "ThreadUser"),
    "Keyword": ("threadcore.model", "Keyword"),
    "MessageSource": ("threadcore.model", "MessageSource"),
    "OwnerResource": ("threadcore.model", "OwnerResource"),
    "Party": ("threadcore.model", "Party"),
}

_moved_name = deprecated_names("threadcore", _MOVED, depth=1)  # (called by __getattr__ below)


def __getattr__(name: str) -> Any:
    """``PostgresRepository`` on first use (only then is psycopg needed); the names that moved
    from their new home, with a ``DeprecationWarning`` that says where."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    return _moved_name(name)
