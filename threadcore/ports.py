"""The ports threadcore's facade talks through: storage, time, the directory of resources, ids.

Adapters satisfy these Protocols structurally; none needs to inherit from them. Integrators who
write their own adapter check it with the contract suite in :mod:`threadcore.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

import attrs

from threadcore.domain.errors import InvalidInput
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    Handler,
    Message,
    Note,
    Resource,
    Thread,
    ThreadStatus,
)
from threadcore.domain.queries import ThreadFilter

__all__ = [
    "AttachmentStore",
    "AttachmentWrites",
    "ChangeFeed",
    "ConsumerHold",
    "ClockMove",
    "ClockStore",
    "ConsumerStore",
    "Claims",
    "Clock",
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
    "ReadinessCheck",
    "Repository",
    "StoredDirectoryPort",
    "StoredEvent",
    "ThreadQuery",
    "ThreadReads",
    "UnitOfWork",
    "Writes",
    "check_attachment",
]

#: An event as the outbox hands it out: its position in the feed, and the event.
StoredEvent = tuple[int, Event]

#: How a command uses a stored directory (see :meth:`Claims.claim`): ``"read"`` (it decides on
#: the directory as it is), ``"change"`` (it changes it), or ``None`` (no stored directory).
DirectoryAccess = Literal["read", "change"] | None


@attrs.frozen
class ThreadQuery:
    """What a repository's :meth:`UnitOfWork.find_threads` selects, in its terms.

    ``status`` is the status as it is now: a stored Open, Alive thread whose latest message is at
    or before ``due_cutoff`` (now - ttl) counts as Resolved. ``after`` is the keyset position
    (creation time, id) the page starts after. ``creation_time_from`` is inclusive,
    ``creation_time_to`` exclusive.
    """

    owner_extension_ids: frozenset[str]
    due_cutoff: datetime
    status: ThreadStatus | None = None
    creation_time_from: datetime | None = None
    creation_time_to: datetime | None = None
    owner_number: str | None = None
    guest_number: str | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    after: tuple[datetime, str] | None = None

    @classmethod
    def of(cls, wanted: ThreadFilter, owners: frozenset[str], due_cutoff: datetime) -> ThreadQuery:
        """The query of a list's filter ``wanted`` over the resources ``owners``."""
        return cls(
            owner_extension_ids=owners,
            due_cutoff=due_cutoff,
            status=wanted.status,
            creation_time_from=wanted.creation_time_from,
            creation_time_to=wanted.creation_time_to,
            owner_number=wanted.owner_phone_number,
            guest_number=wanted.guest_phone_number,
            availability=frozenset(wanted.availability),
        )


@attrs.frozen
class MessageQuery:
    """What :meth:`UnitOfWork.find_messages` selects: messages (never drafts) of threads owned
    by ``owner_extension_ids``, narrowed by every criterion that is not ``None``.

    ``thread_status`` is the thread's status now (``due_cutoff`` as in :class:`ThreadQuery`).
    ``after`` is the keyset position (creation time, id) the page starts after;
    ``creation_time_from`` is inclusive, ``creation_time_to`` exclusive.
    """

    owner_extension_ids: frozenset[str]
    due_cutoff: datetime
    thread_status: ThreadStatus | None = None
    thread_ids: frozenset[str] | None = None
    message_ids: frozenset[str] | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    creation_time_from: datetime | None = None
    creation_time_to: datetime | None = None
    after: tuple[datetime, str] | None = None


@attrs.frozen
class NoteQuery:
    """What :meth:`UnitOfWork.find_notes` selects: notes of threads owned by
    ``owner_extension_ids``, narrowed by every criterion that is not ``None``; ``after`` is the
    keyset position (creation time, id) the page starts after."""

    owner_extension_ids: frozenset[str]
    thread_ids: frozenset[str] | None = None
    note_ids: frozenset[str] | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    after: tuple[datetime, str] | None = None


@runtime_checkable
class Clock(Protocol):
    """**Protocol**: the only source of time. ``now()`` returns a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


@runtime_checkable
class IdGenerator(Protocol):
    """**Protocol**: hands out unique ids for new threads and messages."""

    def new_id(self) -> str:
        """A fresh id never handed out before."""
        ...


@runtime_checkable
class DirectoryPort(Protocol):
    """**Protocol**: who owns which number and who handles SMS for whom (read side).

    An embedding service may back this with its own user store.
    """

    def resource(self, extension_id: str) -> Resource | None:
        """The resource with this extension id, or ``None``."""
        ...

    def resource_for_number(self, phone_number: str) -> Resource | None:
        """The resource that owns ``phone_number`` (E.164), or ``None``."""
        ...

    def resources_of_handler(self, extension_id: str) -> Sequence[Resource]:
        """Every resource for which ``extension_id`` is an SMS handler."""
        ...


@runtime_checkable
class MutableDirectoryPort(DirectoryPort, Protocol):
    """**Protocol**: a directory the facade may change (``Inbox.add_resource`` and friends).

    Each method validates fully before it changes anything, and raises a ``ThreadcoreError``
    subclass when the change is not possible.
    """

    def add_resource(self, resource: Resource) -> None:
        """Add a new resource; its extension id and numbers must be unused."""
        ...

    def remove_resource(self, extension_id: str) -> Resource:
        """Remove a resource and return it as it was."""
        ...

    def add_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Give a resource another number (which no other resource owns)."""
        ...

    def remove_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Take a number away from its resource."""
        ...

    def add_handler(self, extension_id: str, handler: Handler) -> None:
        """Make ``handler`` an SMS handler of the resource (or update its name)."""
        ...

    def remove_handler(self, extension_id: str, handler_id: str) -> None:
        """Remove an SMS handler from the resource."""
        ...


class Claims(Protocol):
    """**Protocol**: how a command is serialised with the others on its pair (rule R18a)."""

    def claim(
        self,
        *,
        pair: tuple[str, str] | None = None,
        thread_id: str | None = None,
        directory: DirectoryAccess = None,
    ) -> datetime | None:
        """Begin a command: serialise it with every other command on the same pair (the pair of
        numbers, or the pair of the stored thread ``thread_id``) until this unit of work ends,
        and return the latest instant the store has already recorded (``None`` when empty).

        The facade reads the clock only after this, and never dates a command before what it
        returns, so a command's time follows the commit order of the changes it builds on.
        PostgreSQL takes a transaction-level advisory lock on the pair; memory and SQLite
        already serialise every writer, so there it only reads the instant.

        With a stored directory, ``directory="read"`` also keeps the directory from changing
        until this unit of work ends (commands that decide on it run together) and
        ``directory="change"`` waits until no such command runs and keeps every other out (a
        change of the directory runs alone); either way :meth:`DirectoryRecords.directory_version`
        is then read with the claim, in the same round trip.
        """
        ...

    def claim_creation(self) -> datetime | None:
        """Serialise the creation of threads (until this unit of work ends) and return the
        latest instant the store has recorded, so a new thread is never dated before a thread
        already committed (keyset walks by creation time then never skip one)."""
        ...


class ThreadReads(Protocol):
    """**Protocol**: reading stored threads (expiry not applied: the facade applies it)."""

    def thread(self, thread_id: str) -> Thread | None:
        """The stored thread with this id (alive or a tombstone), or ``None``."""
        ...

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        """The pair's stored thread that is Open and Alive (expiry not applied), or ``None``."""
        ...

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        """The stored Open, Alive threads of any of these (owner number, guest number) pairs (in
        no particular order): one read for many, as a bulk import looks ahead. Inside a
        PostgreSQL batch, the pairs found without one are then known to have none."""
        ...

    def open_threads(
        self,
        *,
        owner_extension_id: str | None = None,
        owner_number: str | None = None,
        assignee_id: str | None = None,
    ) -> list[Thread]:
        """Stored Open and Alive threads matching every given criterion."""
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


class MessageReads(Protocol):
    """**Protocol**: reading stored messages, drafts and opt-outs."""

    def messages(self, thread_id: str) -> list[Message]:
        """Every stored message of the thread, drafts and tombstones included, oldest first."""
        ...

    def message(self, message_id: str) -> Message | None:
        """The stored message or draft with this id (alive or a tombstone), or ``None``."""
        ...

    def find_messages(self, query: MessageQuery, limit: int, offset: int = 0) -> list[Message]:
        """Up to ``limit`` stored messages (never drafts) matching ``query``, ordered by
        (creation time, id), skipping the first ``offset``."""
        ...

    def count_messages(self, query: MessageQuery) -> int:
        """How many stored messages (never drafts) match ``query`` (``after`` ignored)."""
        ...

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        """The message stored with this provider message id, or ``None``."""
        ...

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        """The messages stored with any of these provider message ids (those there are, in no
        particular order): one read for many, as a bulk import looks ahead. Inside a PostgreSQL
        batch, the ids found missing are then known to be missing, without another read."""
        ...

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        """Whether the guest has opted out of messages from the owner number."""
        ...

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (owner number, guest number) pairs whose guest has opted out: one
        read for many, as a bulk import looks ahead (inside a PostgreSQL batch, every pair's
        answer is then known)."""
        ...


class NoteReads(Protocol):
    """**Protocol**: reading stored internal notes."""

    def note(self, note_id: str) -> Note | None:
        """The stored note with this id (alive or a tombstone), or ``None``."""
        ...

    def find_notes(self, query: NoteQuery, limit: int, offset: int = 0) -> list[Note]:
        """Up to ``limit`` stored notes matching ``query``, ordered by (creation time, id),
        skipping the first ``offset``."""
        ...

    def count_notes(self, query: NoteQuery) -> int:
        """How many stored notes match ``query`` (``after`` ignored)."""
        ...


class ChangeFeed(Protocol):
    """**Protocol**: the positions of committed changes and events, for incremental sync."""

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


class DirectoryRecords(Protocol):
    """**Protocol**: the directory stored with the threads
    (:class:`threadcore.storage.StoredDirectory`): resources in the order they were added,
    and a change stamp that every change replaces."""

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


class UnitOfWork(
    Claims, ThreadReads, MessageReads, NoteReads, ChangeFeed, Writes, DirectoryRecords, Protocol
):
    """**Protocol**: one transaction on the repository: every capability below, together.

    Reads see the state as of the transaction (plus nothing of its own buffered writes: the facade
    reads before it writes). Writes are buffered and applied together when the context manager
    that produced the unit of work exits cleanly; an exception discards them all. A write whose
    ``expected_version`` no longer matches makes the commit raise
    :class:`~threadcore.domain.errors.ConcurrencyConflict`, and the facade retries the command.
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


def check_attachment(key: object, content: object = b"") -> None:
    """Refuse, alike on every adapter, a key that is not 1 to 128 ASCII letters, digits, ``-``
    or ``_``, and content that is not bytes."""
    bare = key.replace("-", "").replace("_", "") if isinstance(key, str) else ""
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= 128
        or not (bare.isascii() and bare.isalnum())
    ):
        raise InvalidInput(
            "Parameter [key] must be 1 to 128 ASCII letters, digits, - or _", parameter="key"
        )
    if not isinstance(content, bytes):
        raise InvalidInput("Parameter [content] must be bytes", parameter="content")


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
class EditableDirectory(MutableDirectoryPort, Protocol):
    """**Protocol**: a directory as a unit of work read it, which a change can be tried on."""

    def resources(self) -> Sequence[Resource]:
        """Every resource, in the order they were added."""
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

    def refresh(self, uow: DirectoryRecords) -> EditableDirectory:
        """The directory as ``uow`` sees it (kept as this directory's copy too)."""
        ...

    def draft(self, resources: Iterable[Resource]) -> EditableDirectory:
        """A free-standing directory of ``resources``, checked as a stored one (one extension
        id and one owner per number): a change is made on it before it is stored."""
        ...
