"""The in-memory repository: the embedded default for one process, and the fake for tests.

Commands are serialised by one lock held for the whole unit of work, so a command's reads and its
buffered writes are one atomic step; writes are applied only on a clean exit.
"""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_right, insort
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import TypeVar

from threadcore._port_records import make_claim
from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._file_counts import FileCounts
from threadcore.adapters._holds import Hold, LocalHolds, unreached
from threadcore.adapters._memory_queries import NO_HOUR, Hour, Key, MemoryQueries, hour_of
from threadcore.adapters._memory_queries import message_key as _message_key
from threadcore.domain import messaging
from threadcore.domain.errors import ConcurrencyConflict, NestedUnitOfWork
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Message,
    Note,
    Resource,
    Thread,
    ThreadStatus,
)
from threadcore.ports import Claim, ClockMove, DirectoryAccess, StoredEvent, check_attachment

__all__ = ["InMemoryRepository"]


_OPEN, _ALIVE, _DRAFT = ThreadStatus.OPEN, Availability.ALIVE, DeliveryStatus.DRAFT


class InMemoryRepository:
    """A :class:`~threadcore.ports.Repository` that keeps everything in dicts and lists.

    Indexes: the open thread of each pair; threads in creation order per resource, per guest
    number and per owner number (for lists); the change order (for incremental sync); open
    threads bucketed by the hour of their latest message (for the sweep and for expiries that
    sync reports before any sweep); each thread's messages and notes; messages and notes by id
    and in creation order; provider message ids; opted-out pairs.
    """

    #: Memory has no transaction to undo: a batch applies each command as it ends.
    atomic_batches = False

    def __init__(self, *, store_id: str | None = None) -> None:
        self._lock = threading.RLock()
        self._threads: dict[str, Thread] = {}
        self._open_by_pair: dict[tuple[str, str], str] = {}
        self._by_owner: dict[str, list[Key]] = {}
        self._by_guest: dict[str, list[Key]] = {}
        self._by_owner_number: dict[str, list[Key]] = {}
        # thread id -> its change position, in that order (a changed thread moves to the end)
        self._changes: dict[str, int] = {}
        self._position = 0
        self._buckets: dict[int, set[str]] = {}
        self._bucket_of: dict[str, int] = {}
        self._hour: Hour = NO_HOUR  # the hour of the latest bucket written (most writes share it)
        self._message_by_id: dict[str, Message] = {}
        self._messages: dict[str, list[str]] = {}  # thread id -> its message and draft ids
        self._message_order: list[str] = []  # every message id (no drafts) by (creation time, id)
        self._by_provider_id: dict[str, Message] = {}
        self._notes: dict[str, Note] = {}
        self._notes_of: dict[str, list[str]] = {}
        self._note_keys: list[Key] = []
        self._opted_out: set[tuple[str, str]] = set()
        self._events: list[Event] = []
        self._latest: datetime | None = None  # the latest instant any commit recorded
        self._resources: dict[str, Resource] = {}  # the stored directory, in the order added
        self._directory_version = 0
        self._cursors: dict[str, int] = {}  # durable consumers' positions
        self._files = FileCounts()  # files' bytes by key, counted by the messages naming them
        self._clock: datetime | None = None  # the stored manual clock (None: the system's)
        self._holds = LocalHolds()  # and who holds each name
        #: This store's id, random unless given: tokens are bound to it, so a token from before
        #: a restart (a new store) is refused.
        self.store_id = store_id if store_id is not None else uuid.uuid4().hex
        self._uow = _MemoryUnitOfWork(self)  # one, reused: the lock lets one command in at a time

    def unit_of_work(self) -> _MemoryUnitOfWork:
        """Begin a unit of work (holds the repository's lock until it ends). The same object
        each time: use it only inside its ``with`` block (a write buffered before the block
        begins would be committed by the next unit of work, whichever thread runs it)."""
        return self._uow

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the repository for a run of commands (no other thread interleaves). Memory has
        no transaction to undo: each command inside is applied when it ends, as outside."""
        with self._lock:
            yield

    def consumer_position(self, name: str) -> int:
        """The position the consumer ``name`` has handled (0 before its first commit)."""
        with self._lock:
            return self._cursors.get(name, 0)

    def commit_consumer(self, name: str, position: int) -> int:
        """Advance the cursor of ``name`` to ``position`` (never back, never past the last event);
        where it is now."""
        with self._lock:
            if position > len(self._events):
                raise unreached(position, len(self._events))
            self._cursors[name] = max(self._cursors.get(name, 0), position)
            return self._cursors[name]

    def check_ready(self) -> None:
        """Always ready: the store is this process's memory (see ``ReadinessCheck``)."""

    def try_hold_consumer(self, name: str) -> Hold | None:
        """Hold the consumer ``name`` in this process, or ``None`` if it is held."""
        return self._holds.try_hold(name)

    def stored_clock(self) -> datetime | None:
        """The stored manual instant, or ``None`` on the system clock (rule R18c)."""
        return self._clock

    def move_stored_clock(self, move: ClockMove) -> datetime | None:
        """Store what ``move`` makes of the stored instant and the latest recorded one."""
        with self._lock:
            self._clock = move(self._clock, self._latest)
            return self._clock

    def attachment(self, key: str) -> bytes | None:
        """The bytes kept under ``key``, or ``None``."""
        check_attachment(key)
        with self._lock:
            return self._files.get(key)

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events after position ``after`` (positions start at 1)."""
        with self._lock:
            start = max(after, 0)
            chunk = self._events[start : start + max(limit, 0)]
        return list(enumerate(chunk, start + 1))

    def __repr__(self) -> str:
        return f"InMemoryRepository(threads={len(self._threads)})"


class _MemoryUnitOfWork(MemoryQueries, BufferedWrites):
    __slots__ = ("_open", "_repo")

    _repo: InMemoryRepository  # the whole repository, beyond the indexes its queries read

    def __init__(self, repo: InMemoryRepository) -> None:
        super().__init__()
        self._repo = repo
        self._open = False  # a unit of work is open (in the thread that holds the lock)

    def __enter__(self) -> _MemoryUnitOfWork:
        self._repo._lock.acquire()
        if self._open:  # begun again by the thread that holds it: refused, as on every adapter
            self._repo._lock.release()
            raise NestedUnitOfWork()
        self._open = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        committed = False
        try:
            if exc_type is None:
                self._commit()
                committed = True
        finally:
            self._clear()
            if not committed:  # a finished commit swept what it left (or left nothing)
                self._repo._files.abandon()
            self._open = False
            self._repo._lock.release()

    # --- reads ----------------------------------------------------------------------------------
    def claim(
        self,
        *,
        pair: tuple[str, str] | None = None,
        thread_id: str | None = None,
        directory: DirectoryAccess = None,
    ) -> Claim:
        # The lock held since __enter__ serialises every writer (thread creation too: no
        # CreationClaims needed, rule Q2). (Named parameters, not **on: no dict per command.)
        return make_claim(self._repo._latest, None, None, None)

    def last_id_at(self, instant: datetime) -> str | None:
        # the last key at the instant of each list ordered by (creation time, id): each
        # resource's threads, the notes, the messages (no drafts); asked only at a tie
        repo = self._repo
        by_id = repo._message_by_id
        found = [_last_at(keys, instant, _time_of, _id_of)
                 for keys in (*repo._by_owner.values(), repo._note_keys)]  # fmt: skip
        found.append(_last_at(repo._message_order, instant, lambda i: by_id[i].created_at, str))
        return max(filter(None, found), default=None)

    def directory_version(self) -> int:
        return self._repo._directory_version

    def directory_resources(self) -> list[Resource]:
        return list(self._repo._resources.values())

    def thread(self, thread_id: str) -> Thread | None:
        return self._repo._threads.get(thread_id)

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        thread_id = self._repo._open_by_pair.get((owner_number, guest_number))
        return None if thread_id is None else self._repo._threads[thread_id]

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        found = (self.open_thread_for_pair(*pair) for pair in dict.fromkeys(pairs))
        return [thread for thread in found if thread is not None]

    def change_position(self) -> int:
        return self._repo._position

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        repo = self._repo
        found: list[Thread] = []
        for thread_id in reversed(repo._changes):
            if repo._changes[thread_id] <= position:
                break
            thread = repo._threads[thread_id]
            if thread.owner.extension_id in owner_extension_ids:
                found.append(thread)
                if len(found) > limit:
                    break
        return found

    def messages(self, thread_id: str) -> list[Message]:
        by_id = self._repo._message_by_id
        return [by_id[i] for i in self._repo._messages.get(thread_id, ())]

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        return self._repo._by_provider_id.get(provider_message_id)

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        found = (self._repo._by_provider_id.get(p) for p in dict.fromkeys(provider_message_ids))
        return [m for m in found if m is not None]

    def message(self, message_id: str) -> Message | None:
        return self._repo._message_by_id.get(message_id)

    def note(self, note_id: str) -> Note | None:
        return self._repo._notes.get(note_id)

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        return (owner_number, guest_number) in self._repo._opted_out

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {pair for pair in pairs if pair in self._repo._opted_out}

    def event_position(self) -> int:
        return len(self._repo._events)

    def events_since(
        self, after: int, until: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[StoredEvent]:
        repo = self._repo
        found: list[StoredEvent] = []
        for position in range(max(after, 0) + 1, min(until, len(repo._events)) + 1):
            event = repo._events[position - 1]
            if repo._threads[event.thread_id].owner.extension_id in owner_extension_ids:
                found.append((position, event))
                if len(found) > limit:
                    break
        return found

    def _commit(self) -> None:
        # Check every expected version first, so a conflict leaves the repository untouched; then
        # apply. Most commands fill two or three buffers: the others are skipped at once.
        repo = self._repo
        saved = self._threads.values()
        threads = repo._threads
        for thread, expected in saved:
            stored = threads.get(thread.id)
            if (stored.version if stored is not None else 0) != expected:
                raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
            if expected == 0:
                self._check_pair_free(thread)
        if self._message_updates or self._notes:
            self._check_versions()
        if self._attachments:  # before the messages naming them, as the SQL adapters
            for key, content in self._attachments.items():
                repo._files.store(key, content)
        # the latest instant a commit recorded (what claim returns), kept as the records go in
        latest = repo._latest
        for thread, expected in saved:
            self._apply_thread(thread, expected)
            if latest is None or thread.last_modified_time > latest:
                latest = thread.last_modified_time
        if self._messages:
            latest = self._apply_messages(latest)
        if self._message_updates:
            for message, _ in self._message_updates.values():
                self._replace_message(message)
                if latest is None or message.last_modified_at > latest:
                    latest = message.last_modified_at
        if self._notes:
            for note, expected in self._notes.values():
                if expected == 0:
                    repo._notes_of.setdefault(note.thread_id, []).append(note.id)
                    _insert(repo._note_keys, (note.creation_time, note.id))
                repo._notes[note.id] = note
                if latest is None or note.last_modified_time > latest:
                    latest = note.last_modified_time
        if self._opt_outs:
            for pair, opted_out in self._opt_outs.items():
                if opted_out:
                    repo._opted_out.add(pair)
                else:
                    repo._opted_out.discard(pair)
        if self._tombstones:
            self._apply_tombstones()
        if self._events:
            repo._events.extend(self._events)
        if self._resources:
            for extension_id, resource in self._resources.items():
                if resource is None:
                    repo._resources.pop(extension_id, None)
                else:
                    repo._resources[extension_id] = resource
            repo._directory_version += 1
        if self._attachments or self._message_updates or self._tombstones:
            repo._files.sweep()  # what may have left a file unnamed (rule M8)
        repo._latest = latest

    def _check_versions(self) -> None:
        """Check the expected versions of the messages and notes saved (threads are checked in
        :meth:`_commit`)."""
        repo = self._repo
        for message, expected in self._message_updates.values():
            stored_message = repo._message_by_id.get(message.id)
            if stored_message is None or stored_message.version != expected:
                raise ConcurrencyConflict(f"Message [{message.id}] was changed concurrently")
        for note, expected in self._notes.values():
            stored_note = repo._notes.get(note.id)
            if (stored_note.version if stored_note is not None else 0) != expected:
                raise ConcurrencyConflict(f"Note [{note.id}] was changed concurrently")

    def _apply_thread(self, thread: Thread, expected: int) -> None:
        repo = self._repo
        thread_id = thread.id
        repo._threads[thread_id] = thread
        repo._position = position = repo._position + 1
        changes = repo._changes
        if expected == 0:
            self._index_new(thread)
        else:
            changes.pop(thread_id, None)  # re-inserted below: a dict keeps insertion order
        changes[thread_id] = position
        buckets, bucket_of = repo._buckets, repo._bucket_of
        old_bucket = bucket_of.get(thread_id)  # (only an open thread has one)
        if thread.status is _OPEN and thread.availability is _ALIVE:
            if old_bucket is None:  # newly open: its pair's open thread (an open one is already)
                pair = (thread.owner_party.phone_number, thread.guest_party.phone_number)
                repo._open_by_pair[pair] = thread_id
            at, hour = thread.latest_message_at, repo._hour
            if not hour[0] <= at < hour[1]:
                repo._hour = hour = hour_of(at)
            new_bucket = hour[2]
            if new_bucket != old_bucket:
                if old_bucket is not None:
                    buckets[old_bucket].discard(thread_id)
                buckets.setdefault(new_bucket, set()).add(thread_id)
                bucket_of[thread_id] = new_bucket
        else:
            pair = (thread.owner_party.phone_number, thread.guest_party.phone_number)
            if repo._open_by_pair.get(pair) == thread_id:
                del repo._open_by_pair[pair]
            if old_bucket is not None:
                del bucket_of[thread_id]
                bucket = buckets[old_bucket]
                bucket.discard(thread_id)
                if not bucket:
                    del buckets[old_bucket]

    def _apply_messages(self, latest: datetime | None) -> datetime | None:
        """Store the messages added; the latest instant, after ``latest``, that they record."""
        repo = self._repo
        by_thread, by_id, order = repo._messages, repo._message_by_id, repo._message_order
        for message in self._messages:
            message_id = message.id
            if latest is None or message.last_modified_at > latest:
                latest = message.last_modified_at
            by_id[message_id] = message
            if message.attachments:
                repo._files.count(message.attachments, 1)
            by_thread[message.thread_id].append(message_id)
            if message.status is not _DRAFT:
                if not order:
                    order.append(message_id)
                else:
                    last = by_id[order[-1]]
                    if last.created_at < message.created_at or (
                        last.created_at == message.created_at and last.id < message_id
                    ):
                        order.append(message_id)
                    else:
                        insort(order, message_id, key=_message_key(by_id))
            if message.provider_message_id is not None:
                repo._by_provider_id[message.provider_message_id] = message
        return latest

    def _apply_tombstones(self) -> None:
        repo = self._repo
        by_thread, by_id = repo._messages, repo._message_by_id
        for thread_id, at in self._tombstones:
            for message in map(by_id.__getitem__, by_thread.get(thread_id, ())):
                if message.availability is _ALIVE:
                    self._replace_message(messaging.tombstone(message, at))
            for note_id in repo._notes_of.get(thread_id, ()):
                note = repo._notes[note_id]
                if note.availability is _ALIVE:
                    repo._notes[note_id] = messaging.tombstone_note(note, at)

    def _replace_message(self, message: Message) -> None:
        repo = self._repo
        old = repo._message_by_id[message.id]
        if old.attachments != message.attachments:
            repo._files.count(old.attachments, -1)
            repo._files.count(message.attachments, 1)
        repo._message_by_id[message.id] = message
        if message.provider_message_id is not None:
            repo._by_provider_id[message.provider_message_id] = message

    def _check_pair_free(self, thread: Thread) -> None:
        """Like a unique index: a new open thread needs its pair free of other open threads
        (counting the ones this unit of work closes)."""
        if thread.status is not _OPEN or thread.availability is not _ALIVE:
            return
        pair = (thread.owner_party.phone_number, thread.guest_party.phone_number)
        holder = self._repo._open_by_pair.get(pair)
        if holder is None or holder == thread.id:
            return
        closing = self._threads.get(holder)
        if closing is not None and not (
            closing[0].status is _OPEN and closing[0].availability is _ALIVE
        ):
            return
        raise ConcurrencyConflict(f"The pair {pair} already has an open thread [{holder}]")

    def _index_new(self, thread: Thread) -> None:
        repo = self._repo
        key = (thread.creation_time, thread.id)
        repo._messages[thread.id] = []
        for index, name in (
            (repo._by_owner, thread.owner.extension_id),
            (repo._by_owner_number, thread.owner_party.phone_number),
            (repo._by_guest, thread.guest_party.phone_number),
        ):
            _insert(index.setdefault(name, []), key)


def _insert(keys: list[Key], key: Key) -> None:
    """Add ``key`` to the sorted ``keys`` (usually at the end: records arrive in time order)."""
    if not keys or keys[-1] < key:
        keys.append(key)
    else:
        insort(keys, key)


T = TypeVar("T")
_time_of, _id_of = itemgetter(0), itemgetter(1)  # of a Key


def _last_at(
    items: list[T], instant: datetime, time_of: Callable[[T], datetime], id_of: Callable[[T], str]
) -> str | None:
    """The greatest id created at ``instant`` among ``items``, ordered by (creation time, id)
    (at a tie, the last item is at the instant: no search)."""
    end = len(items)
    if end and time_of(items[-1]) > instant:
        end = bisect_right(items, instant, key=time_of)
    return id_of(items[end - 1]) if end and time_of(items[end - 1]) == instant else None
