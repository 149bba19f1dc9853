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
    DraftNotFound,
    IdempotencyConflict,
    ImpossibleStatusChange,
    InvalidInput,
    InvalidPageToken,
    InvalidSyncToken,
    MessageNotFound,
    NotAssignee,
    NotAuthor,
    NoteDeleted,
    NoteNotFound,
    NotFound,
    NotPermitted,
    PhoneNumberInUse,
    RecipientOptedOut,
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
    WireFormatError,
)
from threadcore.domain.events import (
    DeliveryStatusChanged,
    DraftDiscarded,
    DraftSaved,
    DraftSent,
    Event,
    GuestOptedIn,
    GuestOptedOut,
    MessageAdded,
    MessageClassified,
    MessageDeleted,
    NoteAdded,
    NoteEdited,
    ThreadAssigned,
    ThreadOpened,
    ThreadResolved,
)
from threadcore.domain.events import (
    NoteDeleted as NoteDeletedEvent,
)
from threadcore.domain.events import (
    ThreadDeleted as ThreadDeletedEvent,
)
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
from threadcore.domain.transitions import TRANSITIONS, Command, Lifecycle
from threadcore.ids import RandomIds, SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import (
    Clock,
    DirectoryPort,
    IdGenerator,
    MessageQuery,
    MutableDirectoryPort,
    NoteQuery,
    Repository,
    StoredEvent,
    ThreadQuery,
    UnitOfWork,
)

if TYPE_CHECKING:
    from threadcore.adapters.postgres import PostgresRepository as PostgresRepository

__version__ = "0.1.0"

__all__ = [
    "AssigneeNotHandler",
    "Availability",
    "Classification",
    "Clock",
    "Command",
    "ConcurrencyConflict",
    "Conflict",
    "DeliveryStatus",
    "DeliveryStatusChanged",
    "Direction",
    "Directory",
    "DirectoryPort",
    "DraftDiscarded",
    "DraftNotFound",
    "DraftSaved",
    "DraftSent",
    "Entry",
    "EntryScope",
    "EntryType",
    "Event",
    "GuestOptedIn",
    "GuestOptedOut",
    "Handler",
    "IdGenerator",
    "IdempotencyConflict",
    "ImpossibleStatusChange",
    "InMemoryRepository",
    "Inbox",
    "InvalidInput",
    "InvalidPageToken",
    "InvalidSyncToken",
    "Keyword",
    "Lifecycle",
    "ManualClock",
    "Message",
    "MessageAdded",
    "MessageClassified",
    "MessageDeleted",
    "MessageFilter",
    "MessageNotFound",
    "MessageQuery",
    "MessageSource",
    "MutableDirectoryPort",
    "NotAssignee",
    "NotAuthor",
    "NotFound",
    "NotPermitted",
    "Note",
    "NoteAdded",
    "NoteDeleted",
    "NoteDeletedEvent",
    "NoteEdited",
    "NoteFilter",
    "NoteNotFound",
    "NoteQuery",
    "OwnerResource",
    "Page",
    "Paging",
    "Party",
    "PhoneNumberInUse",
    "Policy",
    "RandomIds",
    "RecipientOptedOut",
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
    "TRANSITIONS",
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
    "WireFormatError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    """Import ``PostgresRepository`` on first use: only then is psycopg needed."""
    if name == "PostgresRepository":
        from threadcore.adapters.postgres import PostgresRepository

        return PostgresRepository
    raise AttributeError(f"module 'threadcore' has no attribute {name!r}")
