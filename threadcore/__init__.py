"""threadcore: the thread rules of a shared SMS inbox, as an embeddable library.

Import everything from here; the submodules are private unless documented.
``PostgresRepository`` is imported on first use (it needs the ``postgres`` extra), so
``import threadcore`` works without psycopg installed.
"""

from typing import TYPE_CHECKING, Any

from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.clock import ManualClock, SystemClock
from threadcore.connect import connect
from threadcore.domain.errors import (
    AssigneeNotHandler,
    ConcurrencyConflict,
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    InvalidPageToken,
    InvalidSyncToken,
    NotAssignee,
    NotFound,
    NotPermitted,
    PhoneNumberInUse,
    ResourceExists,
    ResourceNotFound,
    SchemaVersionError,
    StorageError,
    ThreadcoreError,
    ThreadDeleted,
    ThreadNotFound,
    ThreadNotOpen,
    ThreadUnassigned,
    UnknownPhoneNumber,
)
from threadcore.domain.events import (
    Event,
    MessageAdded,
    ThreadAssigned,
    ThreadOpened,
    ThreadResolved,
)
from threadcore.domain.events import (
    ThreadDeleted as ThreadDeletedEvent,
)
from threadcore.domain.model import (
    Availability,
    Direction,
    Handler,
    Message,
    OwnerResource,
    Party,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import Page, Paging, SyncResult, SyncType, ThreadFilter
from threadcore.domain.transitions import TRANSITIONS, Command, Lifecycle
from threadcore.ids import RandomIds, SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import (
    Clock,
    DirectoryPort,
    IdGenerator,
    MutableDirectoryPort,
    Repository,
    StoredEvent,
    ThreadQuery,
    UnitOfWork,
)

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__version__ = "0.1.0"

__all__ = [
    "TRANSITIONS",
    "AssigneeNotHandler",
    "Availability",
    "Clock",
    "Command",
    "ConcurrencyConflict",
    "Conflict",
    "Direction",
    "Directory",
    "DirectoryPort",
    "Event",
    "Handler",
    "IdGenerator",
    "IdempotencyConflict",
    "InMemoryRepository",
    "Inbox",
    "InvalidInput",
    "InvalidPageToken",
    "InvalidSyncToken",
    "Lifecycle",
    "ManualClock",
    "Message",
    "MessageAdded",
    "MutableDirectoryPort",
    "NotAssignee",
    "NotFound",
    "NotPermitted",
    "OwnerResource",
    "Page",
    "Paging",
    "Party",
    "PhoneNumberInUse",
    "Policy",
    "RandomIds",
    "Repository",
    "Resource",
    "ResourceExists",
    "ResourceNotFound",
    "SQLiteRepository",
    "SchemaVersionError",
    "SequentialIds",
    "StatusReason",
    "StorageError",
    "StoredEvent",
    "SyncResult",
    "SyncType",
    "SystemClock",
    "Thread",
    "ThreadAssigned",
    "ThreadDeleted",
    "ThreadDeletedEvent",
    "ThreadFilter",
    "ThreadNotFound",
    "ThreadNotOpen",
    "ThreadOpened",
    "ThreadQuery",
    "ThreadResolved",
    "ThreadStatus",
    "ThreadUnassigned",
    "ThreadUser",
    "ThreadcoreError",
    "UnitOfWork",
    "UnknownPhoneNumber",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    """Import ``PostgresRepository`` on first use: only then is psycopg needed."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    raise AttributeError(f"module 'threadcore' has no attribute {name!r}")
