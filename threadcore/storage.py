"""What an adapter author needs: the storage port, composed of narrow capabilities, the queries
a repository answers, the other ports, and the adapters threadcore ships.

A repository (:class:`Repository`) begins units of work. The core of a unit of work
(:class:`UnitOfWork`) is what commands need: :class:`Claims`, :class:`ThreadReads`,
:class:`MessageReads`, :class:`NoteReads` and :class:`Writes`. A unit of work may add
capabilities, detected at run time (:func:`require`, :func:`offers`): :class:`Queries`,
:class:`ChangeFeed`, :class:`DirectoryRecords` (the directory stored with the threads),
:class:`Prefetch`, :class:`CreationClaims` and :class:`AttachmentWrites`; a repository may add
:class:`AttachmentStore`, :class:`ConsumerStore`, :class:`ClockStore` and
:class:`ReadinessCheck`. The bundled adapters offer them all. Check an adapter with the contract
suite in :mod:`threadcore.testing` (one test case per capability). The bundled repositories
(:class:`InMemoryRepository`, :class:`SQLiteRepository`, :class:`PostgresRepository`) are here,
with :class:`StoredDirectory` and :class:`StoredClock` over them.
"""

from typing import TYPE_CHECKING, Any

from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.adapters.stored_clock import StoredClock
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.ports import (
    AttachmentStore,
    AttachmentWrites,
    ChangeFeed,
    Claim,
    Claims,
    Clock,
    ClockMove,
    ClockStore,
    ConsumerStore,
    CreationClaims,
    DirectoryAccess,
    DirectoryPort,
    DirectoryRecords,
    IdGenerator,
    MessageQuery,
    MessageReads,
    MutableDirectoryPort,
    NoteQuery,
    NoteReads,
    Prefetch,
    Queries,
    ReadinessCheck,
    Repository,
    StoredEvent,
    ThreadQuery,
    ThreadReads,
    UnitOfWork,
    Writes,
    offers,
    require,
)

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__all__ = [
    "AttachmentStore",
    "AttachmentWrites",
    "ChangeFeed",
    "Claim",
    "ConsumerStore",
    "CreationClaims",
    "Claims",
    "Clock",
    "ClockMove",
    "ClockStore",
    "Directory",
    "DirectoryAccess",
    "DirectoryPort",
    "DirectoryRecords",
    "IdGenerator",
    "InMemoryRepository",
    "MessageQuery",
    "MessageReads",
    "MutableDirectoryPort",
    "NoteQuery",
    "NoteReads",
    "PostgresRepository",
    "Prefetch",
    "Queries",
    "ReadinessCheck",
    "Repository",
    "SQLiteRepository",
    "StoredClock",
    "StoredDirectory",
    "StoredEvent",
    "ThreadQuery",
    "ThreadReads",
    "UnitOfWork",
    "Writes",
    "offers",
    "require",
]


def __getattr__(name: str) -> Any:
    """Import ``PostgresRepository`` on first use: only then is psycopg needed."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    raise AttributeError(f"module 'threadcore.storage' has no attribute {name!r}")
