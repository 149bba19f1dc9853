"""What an adapter author needs: the storage port, composed of narrow capabilities, the queries
a repository answers, the other ports, and the adapters threadcore ships.

A repository (:class:`Repository`) begins units of work; a unit of work (:class:`UnitOfWork`) is
every capability together: :class:`Claims`, :class:`ThreadReads`, :class:`MessageReads`,
:class:`NoteReads`, :class:`ChangeFeed`, :class:`Writes` and :class:`DirectoryRecords` (the
directory stored with the threads); the bundled ones (:class:`InMemoryRepository`,
:class:`SQLiteRepository`, :class:`PostgresRepository`, with :class:`StoredDirectory` and
:class:`StoredClock` over them) also store the files messages carry
(:class:`AttachmentWrites`, read back through the repository's :class:`AttachmentStore`).
Check an adapter with the contract suite in :mod:`threadcore.testing` (one test case per
capability).
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
    Claims,
    Clock,
    ClockMove,
    ClockStore,
    ConsumerStore,
    DirectoryAccess,
    DirectoryPort,
    DirectoryRecords,
    IdGenerator,
    MessageQuery,
    MessageReads,
    MutableDirectoryPort,
    NoteQuery,
    NoteReads,
    ReadinessCheck,
    Repository,
    StoredEvent,
    ThreadQuery,
    ThreadReads,
    UnitOfWork,
    Writes,
)

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__all__ = [
    "AttachmentStore",
    "AttachmentWrites",
    "ChangeFeed",
    "ConsumerStore",
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
]


def __getattr__(name: str) -> Any:
    """Import ``PostgresRepository`` on first use: only then is psycopg needed."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    raise AttributeError(f"module 'threadcore.storage' has no attribute {name!r}")
