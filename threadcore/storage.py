"""What an adapter author needs: the storage port, composed of narrow capabilities, the queries
a repository answers, the other ports, and the adapters threadcore ships.

A repository (:class:`Repository`) begins units of work. The core of a unit of work
(:class:`UnitOfWork`) is what commands need: :class:`Claims`, :class:`ThreadReads`,
:class:`MessageReads`, :class:`NoteReads` and :class:`Writes`. A unit of work may add
capabilities, detected at run time (:func:`require`, :func:`offers`): :class:`Queries`,
:class:`ChangeFeed`, :class:`DirectoryRecords` (the directory stored with the threads),
:class:`Prefetch`, :class:`CreationClaims`, :class:`CreationTies` and :class:`AttachmentWrites`;
a repository may add :class:`AttachmentStore`, :class:`ConsumerStore`, :class:`ClockStore` and
:class:`ReadinessCheck`. The bundled adapters offer them all but :class:`CreationClaims`. Check an
adapter with the contract suite in :mod:`threadcore.testing` (one test case per capability). The
bundled repositories (:class:`InMemoryRepository`, :class:`SQLiteRepository`,
:class:`PostgresRepository`) are here, with :class:`StoredDirectory` and :class:`StoredClock` over
them.
"""

from typing import TYPE_CHECKING, Any

from threadcore import ports as _ports
from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.adapters.stored_clock import StoredClock
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.ports import *  # noqa: F403  (the whole port: every name ports.__all__ lists)

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__all__ = [
    "Directory",
    "InMemoryRepository",
    "PostgresRepository",
    "SQLiteRepository",
    "StoredClock",
    "StoredDirectory",
]
__all__ += _ports.__all__


def __getattr__(name: str) -> Any:
    """Import ``PostgresRepository`` on first use: only then is psycopg needed."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    raise AttributeError(f"module 'threadcore.storage' has no attribute {name!r}")
