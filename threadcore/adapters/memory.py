"""The in-memory repository: the embedded default for one process, and the fake for tests.

Commands are serialised by one lock held for the whole unit of work, so a command's reads
and its buffered writes are one atomic step; writes are applied only on a clean exit.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType

import attrs

from threadcore.domain.errors import ConcurrencyConflict
from threadcore.domain.events import Event
from threadcore.domain.model import Availability, Message, Thread, ThreadStatus
from threadcore.ports import StoredEvent

__all__ = ["InMemoryRepository"]

_OPEN, _ALIVE = ThreadStatus.OPEN, Availability.ALIVE


class InMemoryRepository:
    """A :class:`~threadcore.ports.Repository` that keeps everything in dicts and lists.

    Indexes: the open thread of each pair, each thread's messages in order, provider message ids,
    and a heap of open threads by latest activity for the expiry sweep.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, Thread] = {}
        self._open_by_pair: dict[tuple[str, str], str] = {}
        self._messages: dict[str, list[Message]] = {}
        self._by_provider_id: dict[str, Message] = {}
        self._due: list[tuple[datetime, str]] = []
        self._events: list[Event] = []
        self._uow = _MemoryUnitOfWork(self)  # one, reused: the lock lets one command in at a time

    def unit_of_work(self) -> _MemoryUnitOfWork:
        """Begin a unit of work (holds the repository's lock until it ends)."""
        return self._uow

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events after position ``after`` (positions start at 1)."""
        with self._lock:
            start = max(after, 0)
            chunk = self._events[start : start + max(limit, 0)]
        return list(enumerate(chunk, start + 1))

    def __repr__(self) -> str:
        return f"InMemoryRepository(threads={len(self._threads)})"


class _MemoryUnitOfWork:
    __slots__ = ("_events", "_messages", "_repo", "_threads", "_tombstones")

    def __init__(self, repo: InMemoryRepository) -> None:
        self._repo = repo
        self._threads: dict[str, tuple[Thread, int]] = {}
        self._messages: list[Message] = []
        self._tombstones: list[tuple[str, datetime]] = []
        self._events: list[Event] = []

    def __enter__(self) -> _MemoryUnitOfWork:
        self._repo._lock.acquire()
        return self

    def _clear(self) -> None:
        self._threads.clear()
        self._messages.clear()
        self._tombstones.clear()
        self._events.clear()

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

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        heap, threads = self._repo._due, self._repo._threads
        found: list[Thread] = []
        while heap and heap[0][0] <= cutoff and len(found) < limit:
            _, thread_id = heapq.heappop(heap)
            thread = threads[thread_id]
            if thread.status is not _OPEN or thread.availability is not _ALIVE:
                continue  # resolved or deleted since it was queued
            latest = thread.latest_message_at
            if latest > cutoff:
                heapq.heappush(heap, (latest, thread_id))  # had activity since: queue anew
            else:
                found.append(thread)
        for thread in found:  # stays queued until the expiry is committed
            heapq.heappush(heap, (thread.latest_message_at, thread.id))
        return found

    def messages(self, thread_id: str) -> list[Message]:
        return list(self._repo._messages.get(thread_id, ()))

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        return self._repo._by_provider_id.get(provider_message_id)

    # --- buffered writes ------------------------------------------------------------------------
    def save_thread(self, thread: Thread, expected_version: int) -> None:
        previous = self._threads.get(thread.id)
        if previous is not None:  # saved twice in one unit of work: the last state wins
            expected_version = previous[1]
        self._threads[thread.id] = (thread, expected_version)

    def add_message(self, message: Message) -> None:
        self._messages.append(message)

    def tombstone_messages(self, thread_id: str, at: datetime) -> None:
        self._tombstones.append((thread_id, at))

    def append_events(self, events: Iterable[Event]) -> None:
        self._events.extend(events)

    def _commit(self) -> None:
        repo = self._repo
        threads = repo._threads
        saved = self._threads.values()
        for thread, expected in saved:
            stored = threads.get(thread.id)
            if (stored.version if stored is not None else 0) != expected:
                raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
        for thread, expected in saved:
            pair = (thread.owner_party.phone_number, thread.guest_party.phone_number)
            threads[thread.id] = thread
            if thread.status is _OPEN and thread.availability is _ALIVE:
                repo._open_by_pair[pair] = thread.id
                if expected == 0:
                    repo._messages[thread.id] = []
                    heapq.heappush(repo._due, (thread.latest_message_at, thread.id))
            elif repo._open_by_pair.get(pair) == thread.id:
                del repo._open_by_pair[pair]
        by_thread = repo._messages
        for message in self._messages:
            by_thread[message.thread_id].append(message)
            if message.provider_message_id is not None:
                repo._by_provider_id[message.provider_message_id] = message
        for thread_id, at in self._tombstones:
            kept = repo._messages.get(thread_id, [])
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
