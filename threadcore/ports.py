"""The ports threadcore's facade talks through: storage, time, the directory of resources, ids.

Adapters satisfy these Protocols structurally; none needs to inherit from them. Integrators who
write their own adapter check it with the contract suite in :mod:`threadcore.testing`.

The storage port is layered by capability, as eventsourcing layers its recorders: a
:class:`Repository` begins units of work whose core, :class:`UnitOfWork`, is what commands need
(their claim, the reads a command makes, the writes); :class:`Queries`, :class:`ChangeFeed`,
:class:`DirectoryRecords`, :class:`Prefetch`, :class:`CreationClaims`, :class:`CreationTies`
and :class:`AttachmentWrites` are capabilities a unit of work may add, and :class:`AttachmentStore`,
:class:`ConsumerStore`, :class:`ClockStore` and :class:`ReadinessCheck` ones a repository may add.
The facade asks for the smallest layer it uses with :func:`require`, which names what is missing
(:class:`~threadcore.errors.Unsupported`). The ports besides storage (:class:`Clock`,
:class:`IdGenerator`, the directory ports) are declared in ``threadcore._service_ports`` and
re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeGuard, TypeVar, Unpack, runtime_checkable

from threadcore._port_records import (
    Claim,
    ClaimArgs,
    DirectoryAccess,
    MessageQuery,
    NoteQuery,
    OpenThreadsArgs,
    StoredEvent,
    ThreadQuery,
    check_attachment,
)
from threadcore._service_ports import (
    Clock,
    DirectoryPort,
    EditableDirectory,
    IdGenerator,
    MutableDirectoryPort,
)
from threadcore.domain.errors import Unsupported
from threadcore.domain.events import Event
from threadcore.domain.model import Message, Note, Resource, Thread

__all__ = [
    "AttachmentStore",
    "AttachmentWrites",
    "ChangeFeed",
    "Claim",
    "ClaimArgs",
    "ClaimLookups",
    "Claims",
    "Clock",
    "ClockMove",
    "ClockStore",
    "ConsumerHold",
    "ConsumerStore",
    "CreationClaims",
    "CreationTies",
    "DirectoryAccess",
    "DirectoryPort",
    "DirectoryRecords",
    "EditableDirectory",
    "IdGenerator",
    "MessageQuery",
    "MessageReads",
    "MutableDirectoryPort",
    "NoteQuery",
    "NoteReads",
    "OpenThreadsArgs",
    "Prefetch",
    "Queries",
    "ReadinessCheck",
    "Repository",
    "StoredDirectoryPort",
    "StoredEvent",
    "ThreadQuery",
    "ThreadReads",
    "UnitOfWork",
    "Writes",
    "check_attachment",
    "offers",
    "require",
]

C = TypeVar("C")


class Claims(Protocol):
    """**Protocol**: how a command is serialised with the others on its pair (rule R18a)."""

    def claim(self, **on: Unpack[ClaimArgs]) -> Claim:
        """Begin a command: serialise it with every other command on the same pair (the pair of
        numbers, or the pair of the stored thread ``thread_id``) until this unit of work ends,
        and return what the claim read (:class:`Claim`): above all its ``floor``, the latest
        instant the store has already recorded (``None`` when empty).

        The facade reads the clock only after this, and never dates a command before what it
        returns, so a command's time follows the commit order of the changes it builds on.
        PostgreSQL takes a transaction-level advisory lock on the pair; memory and SQLite
        already serialise every writer, so there it only reads the instant.

        With a stored directory, ``directory="read"`` also keeps the directory from changing
        until this unit of work ends (commands that decide on it run together) and
        ``directory="change"`` waits until no such command runs and keeps every other out (a
        change of the directory runs alone); either way :meth:`DirectoryRecords.directory_version`
        is then read with the claim, in the same round trip (:attr:`Claim.directory_version`).
        """
        ...


@runtime_checkable
class CreationClaims(Protocol):
    """**Protocol** (optional): the serialisation of thread creation (rule Q2).

    A new thread must never be dated before a thread already committed, or a keyset walk by
    creation time could skip it. An adapter whose writers run one at a time (memory, SQLite)
    gets that from its claim alone, and need not offer this: without it the facade dates a new
    thread after the claim's floor, which there is the latest instant of every committed write.
    An adapter whose writers run at once keeps Q2 either by offering this (creations then wait
    for each other) or, as the bundled PostgreSQL adapter does since issue 24, by making a page
    of a walk wait for the commands under way (rule R18a; no bundled adapter offers this
    any more: the facade only uses it where it is offered)."""

    def claim_creation(self) -> datetime | None:
        """Serialise the creation of threads (until this unit of work ends) and return the
        latest instant the store has recorded, so a new thread is never dated before a thread
        already committed (keyset walks by creation time then never skip one)."""
        ...


@runtime_checkable
class CreationTies(Protocol):
    """**Protocol** (optional): what a command dated at the store's latest instant must sort
    after (rules Q2 and R18a).

    Walks order records by creation time, ties by id. A command whose clock reads exactly the
    claim's floor is dated at it; if one of the records it creates had an id sorting before one
    already created at that instant, a walk whose cursor is past that one would never return
    it. The facade asks this of such a command (only then: a real clock rarely reads the very
    instant), and dates the command a microsecond later where one of its new ids would sort
    at or before the greatest created then. Without it the facade cannot see such ties (a walk
    may then skip a record two processes created at one instant). Every bundled adapter offers
    it."""

    def last_id_at(self, instant: datetime) -> str | None:
        """The greatest id, in the store's order, among the threads, messages (drafts aside:
        walks do not return them) and notes created at exactly ``instant`` (as this unit of
        work sees them); ``None`` when none was. One probe of each time index: it must not
        cost more as records share an instant (a frozen clock puts every record at one)."""
        ...


class ThreadReads(Protocol):
    """**Protocol**: the reads of stored threads a command makes (expiry not applied: the
    facade applies it)."""

    def thread(self, thread_id: str) -> Thread | None:
        """The stored thread with this id (alive or a tombstone), or ``None``."""
        ...

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        """The pair's stored thread that is Open and Alive (expiry not applied), or ``None``."""
        ...


class MessageReads(Protocol):
    """**Protocol**: the reads of stored messages, drafts and opt-outs a command makes."""

    def messages(self, thread_id: str) -> list[Message]:
        """Every stored message of the thread, drafts and tombstones included, oldest first."""
        ...

    def message(self, message_id: str) -> Message | None:
        """The stored message or draft with this id (alive or a tombstone), or ``None``."""
        ...

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        """The message stored with this provider message id, or ``None``."""
        ...

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        """Whether the guest has opted out of messages from the owner number."""
        ...


class NoteReads(Protocol):
    """**Protocol**: the read of a stored internal note a command makes."""

    def note(self, note_id: str) -> Note | None:
        """The stored note with this id (alive or a tombstone), or ``None``."""
        ...


@runtime_checkable
class Queries(Protocol):
    """**Protocol** (required by every read but a command's own): selections of stored threads,
    messages and notes: the lists, counts, the sweep, the reads of what became due, the
    directory's checks of a resource's open threads. Without it a repository runs commands only;
    the rest raises :class:`~threadcore.errors.Unsupported` naming it."""

    def open_threads(self, **of: Unpack[OpenThreadsArgs]) -> list[Thread]:
        """Stored Open and Alive threads matching every given criterion (``owner_extension_id``,
        ``owner_number``, ``assignee_id``)."""
        ...

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        """Up to ``limit`` stored Open and Alive threads whose latest message is at or before
        ``cutoff``, earliest first: the sweep's batch. Where writers run at once (PostgreSQL),
        threads another sweep holds are skipped, so concurrent sweeps take disjoint batches."""
        ...

    def due_between(
        self, after: datetime, until: datetime, owner_extension_ids: frozenset[str]
    ) -> list[Thread]:
        """Stored Open, Alive threads of these resources whose latest message is after ``after``
        and at or before ``until``: those that became due in a window (with ``ttl`` subtracted)."""
        ...

    def find_threads(self, query: ThreadQuery, limit: int, offset: int = 0) -> list[Thread]:
        """Up to ``limit`` stored threads matching ``query``, ordered by (creation time, id),
        skipping the first ``offset``. Costs in proportion to what it returns, not to the number
        of threads stored."""
        ...

    def count_threads(self, query: ThreadQuery) -> int:
        """How many stored threads match ``query`` (``after`` ignored)."""
        ...

    def find_messages(self, query: MessageQuery, limit: int, offset: int = 0) -> list[Message]:
        """Up to ``limit`` stored messages (never drafts) matching ``query``, ordered by
        (creation time, id), skipping the first ``offset``."""
        ...

    def count_messages(self, query: MessageQuery) -> int:
        """How many stored messages (never drafts) match ``query`` (``after`` ignored)."""
        ...

    def find_notes(self, query: NoteQuery, limit: int, offset: int = 0) -> list[Note]:
        """Up to ``limit`` stored notes matching ``query``, ordered by (creation time, id),
        skipping the first ``offset``."""
        ...

    def count_notes(self, query: NoteQuery) -> int:
        """How many stored notes match ``query`` (``after`` ignored)."""
        ...


@runtime_checkable
class ClaimLookups(Protocol):
    """**Protocol** (optional): reads a command's claim makes in its own round trip (PostgreSQL).
    Without it each is a read of its own when the command makes it."""

    def look_for(self, provider_message_id: str) -> None:
        """The command about to claim will read the message stored with this carrier id
        (:meth:`MessageReads.message_by_provider_id`): read it with the claim, under its lock."""
        ...


@runtime_checkable
class Prefetch(Protocol):
    """**Protocol** (optional): one read for many, as a bulk import looks ahead (PostgreSQL,
    where each read is a round trip). Without it a batch just reads pair by pair."""

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        """The stored Open, Alive threads of any of these (owner number, guest number) pairs (in
        no particular order): one read for many, as a bulk import looks ahead. Inside a
        PostgreSQL batch, the pairs found without one are then known to have none."""
        ...

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (owner number, guest number) pairs whose guest has opted out: one
        read for many, as a bulk import looks ahead (inside a PostgreSQL batch, every pair's
        answer is then known)."""
        ...

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        """The messages stored with any of these provider message ids (those there are, in no
        particular order): one read for many, as a bulk import looks ahead. Inside a PostgreSQL
        batch, the ids found missing are then known to be missing, without another read."""
        ...


@runtime_checkable
class ChangeFeed(Protocol):
    """**Protocol** (optional): the positions of committed changes and events, for incremental
    sync (``Inbox.sync``, ``Inbox.entries``, the event pages); without it those raise
    :class:`~threadcore.errors.Unsupported` naming it."""

    def change_position(self) -> int:
        """The position of the latest committed change: every change at or below it is visible
        to readers, and every later change will get a higher position."""
        ...

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        """Stored threads of these resources changed after ``position`` (at most ``limit`` + 1,
        so the caller can tell there were more than ``limit``)."""
        ...

    def event_position(self) -> int:
        """The position of the latest committed event that readers can see: every event at or
        below it is visible, and every event committed later gets a higher position."""
        ...

    def events_since(
        self, after: int, until: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[StoredEvent]:
        """The stored events of threads owned by these resources with positions after
        ``after`` and at or below ``until``, in order (at most ``limit`` + 1, so the caller can
        tell there were more than ``limit``)."""
        ...


class Writes(Protocol):
    """**Protocol**: a unit of work's buffered writes, applied together when it commits."""

    def save_thread(self, thread: Thread, expected_version: int) -> None:
        """Insert (``expected_version == 0``) or update a thread whose stored version is
        ``expected_version``."""
        ...

    def add_message(self, message: Message) -> None:
        """Insert a new message or draft."""
        ...

    def save_message(self, message: Message, expected_version: int) -> None:
        """Update a stored message or draft whose stored version is ``expected_version``."""
        ...

    def save_note(self, note: Note, expected_version: int) -> None:
        """Insert (``expected_version == 0``) or update a note whose stored version is
        ``expected_version``."""
        ...

    def set_opted_out(self, owner_number: str, guest_number: str, opted_out: bool) -> None:
        """Record whether the guest has opted out of messages from the owner number."""
        ...

    def tombstone_messages(self, thread_id: str, at: datetime) -> None:
        """Make every alive message, draft and note of the thread a tombstone (availability
        Deleted; body, attachments, classifications and note text gone; modified at ``at``)."""
        ...

    def append_events(self, events: Iterable[Event]) -> None:
        """Store events in the outbox with the rest of this unit of work."""
        ...


@runtime_checkable
class DirectoryRecords(Protocol):
    """**Protocol** (optional): the directory stored with the threads
    (:class:`threadcore.storage.StoredDirectory`): resources in the order they were added, and
    a change stamp that every change replaces.
    Without it a :class:`threadcore.storage.StoredDirectory` cannot be used (``Unsupported``)."""

    def directory_version(self) -> int:
        """The stored directory's change stamp (0 before its first change): every committed
        change gives it a value it never had before, so equal stamps mean equal directories."""
        ...

    def directory_resources(self) -> list[Resource]:
        """Every stored resource, in the order they were first stored."""
        ...

    def save_resource(self, resource: Resource) -> None:
        """Store ``resource`` (a new one, or a new state of one stored: its place in the order
        is kept) with the rest of this unit of work, with a new change stamp."""
        ...

    def delete_resource(self, extension_id: str) -> None:
        """Remove the stored resource with this id with the rest of this unit of work, with a
        new change stamp."""
        ...


@runtime_checkable
class UnitOfWork(Claims, ThreadReads, MessageReads, NoteReads, Writes, Protocol):
    """**Protocol**: one transaction on the repository: the core every adapter offers, what
    commands need (their claim, the reads a command makes, the writes), 15 methods.

    Reads see the state as of the transaction (plus nothing of its own buffered writes: the facade
    reads before it writes). Writes are buffered and applied together when the context manager
    that produced the unit of work exits cleanly; an exception discards them all. A write whose
    ``expected_version`` no longer matches makes the commit raise
    :class:`~threadcore.domain.errors.ConcurrencyConflict`, and the facade retries the command.
    The rest are capabilities, detected at run time (:func:`require`; see the module).
    """


class ConsumerHold(Protocol):
    """**Protocol**: a hold on a consumer's name."""

    def held(self) -> bool:
        """Whether this process still holds the name (a lost connection loses it)."""
        ...

    def release(self) -> None:
        """Let the name go; calling it again does nothing."""
        ...

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for new events (returning earlier where the store
        tells its consumers of commits, as PostgreSQL with ``notify`` does)."""
        ...


@runtime_checkable
class ConsumerStore(Protocol):
    """**Protocol**: what durable event consumers need of a repository (issue 14): a cursor per
    consumer name, which never moves back, and a hold on a name that one process at a time has.
    The bundled repositories all offer it; see :meth:`threadcore.Inbox.consumer`."""

    def consumer_position(self, name: str) -> int:
        """The position the consumer ``name`` has handled (0 before its first commit)."""
        ...

    def commit_consumer(self, name: str, position: int) -> int:
        """Advance the cursor of ``name`` to ``position`` (never back); the position it is at.
        A position past the feed's visible end (beyond every position :meth:`Repository.events`
        can answer now) is refused with ``InvalidInput`` naming ``position``, and nothing
        changes."""
        ...

    def try_hold_consumer(self, name: str) -> ConsumerHold | None:
        """Hold the consumer ``name`` (no other holder, in any process, until released), or
        ``None`` when someone else holds it. A holder that dies (its process, its connection)
        releases it; :meth:`ConsumerHold.held` tells the holder whether it still holds it."""
        ...


#: What :meth:`ClockStore.move_stored_clock` asks of its caller: given the stored instant
#: (``None``: the database runs on the system clock) and the latest instant the store has
#: recorded (``None``: nothing yet), the instant to store (``None``: back to the system clock).
ClockMove = Callable[[datetime | None, datetime | None], datetime | None]


@runtime_checkable
class ClockStore(Protocol):
    """**Protocol**: the manual clock stored in the database (issue 25, rule R18c), which every
    process on it runs at (:class:`threadcore.storage.StoredClock`). The bundled repositories
    all offer it."""

    def stored_clock(self) -> datetime | None:
        """The stored manual instant, or ``None`` while the database runs on the system clock.
        Read once or twice by every command: an adapter answers it from what it read with the
        command's claim where it can (PostgreSQL), or with a read that costs microseconds."""
        ...

    def move_stored_clock(self, move: ClockMove) -> datetime | None:
        """In one transaction, serialised with every other move of the clock: read the stored
        instant and the latest instant the store has recorded, store what ``move`` returns for
        them (``None``: the system clock) and return it. An exception ``move`` raises changes
        nothing."""
        ...


@runtime_checkable
class AttachmentStore(Protocol):
    """**Protocol**: the bytes of the files messages carry, read by key (the SHA-256 hex digest
    of the content; issue 15: any worker on the same database serves them). The bundled
    repositories all offer it, and their units of work :class:`AttachmentWrites`."""

    def attachment(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or ``None`` (never stored, or no live message or
        draft carries them any more: rule M8)."""
        ...


@runtime_checkable
class AttachmentWrites(Protocol):
    """**Protocol**: a unit of work that stores files with the messages that carry them (issue
    25, rule M8). Bytes are kept once per content and counted by the live messages and drafts
    whose attachment URLs name them (:func:`threadcore.domain.attachments.stored_keys`); when the
    unit of work commits, bytes that no live message or draft names are gone, in the same
    transaction."""

    def add_attachment(self, content: bytes) -> str:
        """Store ``content`` with the rest of this unit of work if a message or draft it writes
        carries it (else nothing is kept); its key (the SHA-256 hex digest)."""
        ...


@runtime_checkable
class Repository(Protocol):
    """**Protocol**: where threads, messages and the event outbox are kept."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """Begin a transaction; it commits when the block exits cleanly."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Group the units of work begun inside the block in one transaction (bulk import).

        A unit of work refused inside the block is undone alone; an exception escaping the block
        undoes the whole batch where the storage can (durable adapters); a clean exit commits.
        """
        ...

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` stored events whose position is greater than ``after``, in order.

        A reader that follows the positions it was given gets every committed event exactly
        once, each thread's events in the order they happened.
        """
        ...


@runtime_checkable
class ReadinessCheck(Protocol):
    """**Protocol**: a repository that can say whether it is ready to serve (issue 25: ``GET
    /threadcore/v1/ready``, for load balancers). The bundled repositories all offer it."""

    def check_ready(self) -> None:
        """Return when the database answers and holds this threadcore's schema version; raise
        ``StorageError`` saying why not (``SchemaVersionError`` for another version). It changes
        nothing, and waits for no pooled connection."""
        ...


@runtime_checkable
class StoredDirectoryPort(DirectoryPort, Protocol):
    """**Protocol**: a directory stored with the threads, in its repository's database
    (:class:`threadcore.storage.StoredDirectory`). The inbox refreshes it from every unit of work it
    runs (a command decides on the directory as that transaction sees it) and changes it in the
    same transaction as the change's effect on the threads."""

    @property
    def repository(self) -> Repository:
        """The repository this directory is stored in."""
        ...

    def refresh(self, uow: UnitOfWork) -> EditableDirectory:
        """The directory as ``uow`` sees it (kept as this directory's copy too); a unit of work
        without :class:`DirectoryRecords` raises ``Unsupported``."""
        ...

    def draft(self, resources: Iterable[Resource]) -> EditableDirectory:
        """A free-standing directory of ``resources``, checked as a stored one (one extension
        id and one owner per number): a change is made on it before it is stored."""
        ...


#: What each optional capability serves, and what offers it: the words of ``Unsupported``.
_SERVES: dict[type, str] = {
    Queries: "the lists, counts, the sweep and the directory's checks",
    ChangeFeed: "sync, entries and the event pages",
    DirectoryRecords: "a StoredDirectory",
    Prefetch: "a batch's look-ahead",
    ClaimLookups: "a carrier id's message read with the claim",
    CreationClaims: "serialising thread creation",
    CreationTies: "the ids created at an instant",
    AttachmentWrites: "storing attachments",
    AttachmentStore: "reading stored attachments",
    ConsumerStore: "durable consumers",
    ClockStore: "the stored clock",
    ReadinessCheck: "the readiness check",
}

#: Whether a type offers a capability, by (type, capability): ``isinstance`` on a runtime
#: checkable Protocol looks up every method each time, and some checks run on every command.
_OFFERS: dict[tuple[type, type], bool] = {}


def offers(holder: object, capability: type[C]) -> TypeGuard[C]:
    """Whether ``holder`` (a unit of work or a repository) offers ``capability`` (one of the
    runtime checkable Protocols above), decided once per type: every instance of a type offers
    what the first one asked did (a proxy whose capabilities differ by instance needs a type per
    set of capabilities)."""
    key = (type(holder), capability)
    known = _OFFERS.get(key)
    if known is None:
        known = _OFFERS[key] = isinstance(holder, capability)
    return known


def require(holder: object, capability: type[C]) -> C:
    """``holder`` (a unit of work or a repository) as ``capability``, typed; or
    :class:`~threadcore.errors.Unsupported` naming the capability, what needs it and the
    adapter that lacks it (every bundled adapter offers every capability)."""
    if offers(holder, capability):
        return holder
    name = capability.__name__
    serves = _SERVES.get(capability, "this call")
    bundled = (
        "none of threadcore's needs it" if capability is CreationClaims else "threadcore's all do"
    )
    raise Unsupported(
        f"{type(holder).__name__} does not offer {name} ({serves}): use a repository that "
        f"offers it ({bundled})",
        capability=name,
    )
