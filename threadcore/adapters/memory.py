"""The in-memory repository: the embedded default for one process, and the fake for tests.

Commands are serialised by one lock held for the whole unit of work, so a command's reads and its
buffered writes are one atomic step; writes are applied only on a clean exit.
"""

from __future__ import annotations

import threading
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from heapq import merge
from types import TracebackType

import attrs

from threadcore.adapters._buffer import BufferedWrites
from threadcore.domain.errors import ConcurrencyConflict
from threadcore.domain.events import Event
from threadcore.domain.model import Availability, Message, Thread, ThreadStatus
from threadcore.ports import StoredEvent, ThreadQuery

__all__ = ["InMemoryRepository"]

_OPEN, _RESOLVED, _ALIVE = ThreadStatus.OPEN, ThreadStatus.RESOLVED, Availability.ALIVE
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BUCKET = timedelta(hours=1)

Key = tuple[datetime, str]  # (creation time, thread id): the list order


def _bucket(at: datetime) -> int:
    return (at - _EPOCH) // _BUCKET


def _from(keys: list[Key], after: Key | None) -> Iterator[Key]:
    start = 0 if after is None else bisect_right(keys, after)
    return (keys[i] for i in range(start, len(keys)))


class InMemoryRepository:
    """A :class:`~threadcore.ports.Repository` that keeps everything in dicts and lists.

    Indexes: the open thread of each pair; threads in creation order per resource, per guest
    number and per owner number (for lists); the change order (for incremental sync); open
    threads bucketed by the hour of their latest message (for the sweep and for expiries that
    sync reports before any sweep); each thread's messages; provider message ids.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._threads: dict[str, Thread] = {}
        self._open_by_pair: dict[tuple[str, str], str] = {}
        self._by_owner: dict[str, list[Key]] = {}
        self._by_guest: dict[str, list[Key]] = {}
        self._by_owner_number: dict[str, list[Key]] = {}
        self._changes: OrderedDict[str, int] = OrderedDict()
        self._position = 0
        self._buckets: dict[int, set[str]] = {}
        self._bucket_of: dict[str, int] = {}
        self._messages: dict[str, list[Message]] = {}
        self._by_provider_id: dict[str, Message] = {}
        self._events: list[Event] = []
        self._uow = _MemoryUnitOfWork(self)  # one, reused: the lock lets one command in at a time

    def unit_of_work(self) -> _MemoryUnitOfWork:
        """Begin a unit of work (holds the repository's lock until it ends)."""
        return self._uow

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the repository for a run of commands (no other thread interleaves). Memory has
        no transaction to undo: each command inside is applied when it ends, as outside."""
        with self._lock:
            yield

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events after position ``after`` (positions start at 1)."""
        with self._lock:
            start = max(after, 0)
            chunk = self._events[start : start + max(limit, 0)]
        return list(enumerate(chunk, start + 1))

    def __repr__(self) -> str:
        return f"InMemoryRepository(threads={len(self._threads)})"


class _MemoryUnitOfWork(BufferedWrites):
    __slots__ = ("_repo",)

    def __init__(self, repo: InMemoryRepository) -> None:
        super().__init__()
        self._repo = repo

    def __enter__(self) -> _MemoryUnitOfWork:
        self._repo._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            self._clear()
            self._repo._lock.release()

    # --- reads ----------------------------------------------------------------------------------
    def thread(self, thread_id: str) -> Thread | None:
        return self._repo._threads.get(thread_id)

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        thread_id = self._repo._open_by_pair.get((owner_number, guest_number))
        return None if thread_id is None else self._repo._threads[thread_id]

    def open_threads(
        self,
        *,
        owner_extension_id: str | None = None,
        owner_number: str | None = None,
        assignee_id: str | None = None,
    ) -> list[Thread]:
        threads = self._repo._threads
        found = []
        for (owner, _), thread_id in self._repo._open_by_pair.items():
            if owner_number is not None and owner != owner_number:
                continue
            thread = threads[thread_id]
            if owner_extension_id is not None and thread.owner.extension_id != owner_extension_id:
                continue
            if assignee_id is not None and (
                thread.assignee is None or thread.assignee.extension_id != assignee_id
            ):
                continue
            found.append(thread)
        return found

    def _open_in_buckets(self, first: int, last: int) -> Iterator[Thread]:
        buckets, threads = self._repo._buckets, self._repo._threads
        for key in sorted(k for k in buckets if first <= k <= last):
            for thread_id in buckets[key]:
                yield threads[thread_id]

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        buckets = self._repo._buckets
        first = min(buckets, default=0)
        found = [t for t in self._open_in_buckets(first, _bucket(cutoff))
                 if t.latest_message_at <= cutoff]  # fmt: skip
        found.sort(key=lambda t: (t.latest_message_at, t.id))
        return found[:limit]

    def due_between(
        self, after: datetime, until: datetime, owner_extension_ids: frozenset[str]
    ) -> list[Thread]:
        if until <= after:
            return []
        return [
            t
            for t in self._open_in_buckets(_bucket(after), _bucket(until))
            if after < t.latest_message_at <= until and t.owner.extension_id in owner_extension_ids
        ]

    def _matching(self, query: ThreadQuery) -> Iterator[Thread]:
        repo = self._repo
        if query.guest_number is not None:
            sources = [repo._by_guest.get(query.guest_number, [])]
        elif query.owner_number is not None:
            sources = [repo._by_owner_number.get(query.owner_number, [])]
        else:
            sources = [repo._by_owner.get(ext, []) for ext in sorted(query.owner_extension_ids)]
        keys = merge(*(_from(keys, query.after) for keys in sources))
        threads, cutoff, status = repo._threads, query.due_cutoff, query.status
        start, end = query.creation_time_from, query.creation_time_to
        for created, thread_id in keys:
            if end is not None and created >= end:
                return
            if start is not None and created < start:
                continue
            thread = threads[thread_id]
            if (
                thread.owner.extension_id not in query.owner_extension_ids
                or thread.availability not in query.availability
                or (query.owner_number is not None
                    and thread.owner_party.phone_number != query.owner_number)
                or (query.guest_number is not None
                    and thread.guest_party.phone_number != query.guest_number)
            ):  # fmt: skip
                continue
            if status is not None:
                due = (
                    thread.status is _OPEN
                    and thread.availability is _ALIVE
                    and thread.latest_message_at <= cutoff
                )
                now_status = _RESOLVED if due else thread.status
                if now_status is not status:
                    continue
            yield thread

    def find_threads(self, query: ThreadQuery, limit: int, offset: int = 0) -> list[Thread]:
        found: list[Thread] = []
        for thread in self._matching(query):
            if offset:
                offset -= 1
                continue
            found.append(thread)
            if len(found) >= limit:
                break
        return found

    def count_threads(self, query: ThreadQuery) -> int:
        return sum(1 for _ in self._matching(attrs.evolve(query, after=None)))

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
        return list(self._repo._messages.get(thread_id, ()))

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        return self._repo._by_provider_id.get(provider_message_id)

    def _commit(self) -> None:
        repo = self._repo
        threads = repo._threads
        saved = self._threads.values()
        for thread, expected in saved:
            stored = threads.get(thread.id)
            if (stored.version if stored is not None else 0) != expected:
                raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
            if expected == 0:
                self._check_pair_free(thread)
        changes, buckets, bucket_of = repo._changes, repo._buckets, repo._bucket_of
        for thread, expected in saved:
            thread_id = thread.id
            pair = (thread.owner_party.phone_number, thread.guest_party.phone_number)
            threads[thread_id] = thread
            repo._position += 1
            changes[thread_id] = repo._position
            changes.move_to_end(thread_id)
            if expected == 0:
                self._index_new(thread, pair)
            old_bucket = bucket_of.get(thread_id)
            if thread.status is _OPEN and thread.availability is _ALIVE:
                repo._open_by_pair[pair] = thread_id
                new_bucket = _bucket(thread.latest_message_at)
                if new_bucket != old_bucket:
                    if old_bucket is not None:
                        buckets[old_bucket].discard(thread_id)
                    buckets.setdefault(new_bucket, set()).add(thread_id)
                    bucket_of[thread_id] = new_bucket
            else:
                if repo._open_by_pair.get(pair) == thread_id:
                    del repo._open_by_pair[pair]
                if old_bucket is not None:
                    del bucket_of[thread_id]
                    bucket = buckets[old_bucket]
                    bucket.discard(thread_id)
                    if not bucket:
                        del buckets[old_bucket]
        by_thread = repo._messages
        for message in self._messages:
            by_thread[message.thread_id].append(message)
            if message.provider_message_id is not None:
                repo._by_provider_id[message.provider_message_id] = message
        for thread_id, at in self._tombstones:
            kept = by_thread.get(thread_id, [])
            for i, message in enumerate(kept):
                if message.availability is _ALIVE:
                    gone = attrs.evolve(
                        message, body="", availability=Availability.DELETED, last_modified_at=at
                    )
                    kept[i] = gone
                    if gone.provider_message_id is not None:
                        repo._by_provider_id[gone.provider_message_id] = gone
        if self._events:
            repo._events.extend(self._events)

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

    def _index_new(self, thread: Thread, pair: tuple[str, str]) -> None:
        repo = self._repo
        key = (thread.creation_time, thread.id)
        repo._messages[thread.id] = []
        for index, name in (
            (repo._by_owner, thread.owner.extension_id),
            (repo._by_owner_number, pair[0]),
            (repo._by_guest, pair[1]),
        ):
            keys = index.setdefault(name, [])
            if not keys or keys[-1] < key:
                keys.append(key)
            else:
                insort(keys, key)
