"""The in-memory repository's :class:`~threadcore.ports.Queries`: selections of threads,
messages and notes over the repository's indexes, a layer of its unit of work."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from heapq import merge
from typing import Protocol, TypeVar, Unpack

import attrs

from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Message,
    Note,
    Thread,
    ThreadStatus,
)
from threadcore.domain.transitions import status_now
from threadcore.ports import MessageQuery, NoteQuery, OpenThreadsArgs, ThreadQuery

__all__ = [
    "Indexes",
    "Key",
    "MemoryQueries",
    "bucket",
    "from_key",
    "hour_of",
    "message_key",
    "slice_of",
]

R = TypeVar("R")

_OPEN, _ALIVE, _DRAFT = ThreadStatus.OPEN, Availability.ALIVE, DeliveryStatus.DRAFT

Key = tuple[datetime, str]  # (creation time, thread id): the list order


def from_key(keys: list[Key], after: Key | None) -> Iterator[Key]:
    start = 0 if after is None else bisect_right(keys, after)
    return (keys[i] for i in range(start, len(keys)))


def slice_of(records: Iterator[R], limit: int, offset: int) -> list[R]:
    """At most ``limit`` of ``records`` after the first ``offset``."""
    if limit <= 0:
        return []
    return list(itertools.islice(records, max(offset, 0), max(offset, 0) + limit))


def bucket(at: datetime) -> int:
    """The UTC hour ``at`` falls in, counted from year 1."""
    if at.tzinfo is not UTC:  # the Inbox passes UTC; a caller of the port may not
        at = at.astimezone(UTC)
    return at.toordinal() * 24 + at.hour


#: An hour: its first instant, the first instant after it, and its :func:`bucket`.
Hour = tuple[datetime, datetime, int]

#: No instant falls in it (the starting point of :func:`hour_of`'s callers).
NO_HOUR: Hour = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC), 0)

_AN_HOUR = timedelta(hours=1)


def hour_of(at: datetime) -> Hour:
    """The UTC hour ``at`` falls in: a caller that keeps it tells with two comparisons whether
    another instant falls in the same :func:`bucket` (most writes of a run do)."""
    start = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start, start + _AN_HOUR, bucket(at)


def message_key(by_id: dict[str, Message]) -> Callable[[str], Key]:
    """The sort key of a message id: (creation time, id)."""

    def key(message_id: str) -> Key:
        return by_id[message_id].created_at, message_id

    return key


class Indexes(Protocol):
    """**Protocol**: the indexes of the in-memory repository that its queries read (the
    repository satisfies it; declared here so that this lower module does not import it)."""

    _threads: dict[str, Thread]
    _open_by_pair: dict[tuple[str, str], str]
    _by_owner: dict[str, list[Key]]
    _by_guest: dict[str, list[Key]]
    _by_owner_number: dict[str, list[Key]]
    _buckets: dict[int, set[str]]
    _message_by_id: dict[str, Message]
    _messages: dict[str, list[str]]
    _message_order: list[str]
    _notes: dict[str, Note]
    _notes_of: dict[str, list[str]]
    _note_keys: list[Key]


class MemoryQueries:
    """Finds, counts, open and due threads, read from the repository's indexes (under the lock
    the unit of work holds)."""

    _repo: Indexes

    def open_threads(self, **of: Unpack[OpenThreadsArgs]) -> list[Thread]:
        owner_id, number = of.get("owner_extension_id"), of.get("owner_number")
        assignee_id = of.get("assignee_id")
        threads = self._repo._threads
        if owner_id is not None:  # the resource's threads: cost follows them alone
            found = [threads[thread_id] for _, thread_id in self._repo._by_owner.get(owner_id, ())]
            found = [t for t in found if t.status is _OPEN and t.availability is _ALIVE]
        else:  # the open thread of every pair
            found = [threads[thread_id] for thread_id in self._repo._open_by_pair.values()]
        return [
            thread
            for thread in found
            if (number is None or thread.owner_party.phone_number == number)
            and (
                assignee_id is None
                or (thread.assignee is not None and thread.assignee.extension_id == assignee_id)
            )
        ]

    def _open_in_buckets(self, first: int, last: int) -> Iterator[Thread]:
        buckets, threads = self._repo._buckets, self._repo._threads
        for key in sorted(k for k in buckets if first <= k <= last):
            for thread_id in buckets[key]:
                yield threads[thread_id]

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        buckets = self._repo._buckets
        first = min(buckets, default=0)
        found = [t for t in self._open_in_buckets(first, bucket(cutoff))
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
            for t in self._open_in_buckets(bucket(after), bucket(until))
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
        keys = merge(*(from_key(keys, query.after) for keys in sources))
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
            if status is not None and status_now(thread, cutoff) is not status:
                continue
            yield thread

    def find_threads(self, query: ThreadQuery, limit: int, offset: int = 0) -> list[Thread]:
        return slice_of(self._matching(query), limit, offset)

    def count_threads(self, query: ThreadQuery) -> int:
        return sum(1 for _ in self._matching(attrs.evolve(query, after=None)))

    def _thread_passes(self, thread_id: str, query: MessageQuery) -> bool:
        thread = self._repo._threads[thread_id]
        if thread.owner.extension_id not in query.owner_extension_ids:
            return False
        if query.thread_status is None:
            return True
        return status_now(thread, query.due_cutoff) is query.thread_status

    def find_messages(self, query: MessageQuery, limit: int, offset: int = 0) -> list[Message]:
        return slice_of(self._matching_messages(query), limit, offset)

    def count_messages(self, query: MessageQuery) -> int:
        return sum(1 for _ in self._matching_messages(attrs.evolve(query, after=None)))

    def _matching_messages(self, query: MessageQuery) -> Iterator[Message]:
        repo = self._repo
        by_id = repo._message_by_id
        if query.message_ids is not None:
            ids = sorted((i for i in query.message_ids if i in by_id), key=message_key(by_id))
        elif query.thread_ids is not None:
            ids = [i for t in query.thread_ids for i in repo._messages.get(t, ())]
            ids.sort(key=message_key(by_id))
        else:
            ids = repo._message_order
        start = 0
        if query.after is not None:
            start = bisect_right(ids, query.after, key=message_key(by_id))
        begin, end = query.creation_time_from, query.creation_time_to
        passes: dict[str, bool] = {}
        for index in range(start, len(ids)):
            message = by_id[ids[index]]
            created = message.created_at
            if end is not None and created >= end:
                return
            if begin is not None and created < begin:
                continue
            if message.status is _DRAFT or message.availability not in query.availability:
                continue
            if query.thread_ids is not None and message.thread_id not in query.thread_ids:
                continue
            ok = passes.get(message.thread_id)
            if ok is None:
                ok = passes[message.thread_id] = self._thread_passes(message.thread_id, query)
            if ok:
                yield message

    def find_notes(self, query: NoteQuery, limit: int, offset: int = 0) -> list[Note]:
        return slice_of(self._matching_notes(query), limit, offset)

    def count_notes(self, query: NoteQuery) -> int:
        return sum(1 for _ in self._matching_notes(attrs.evolve(query, after=None)))

    def _matching_notes(self, query: NoteQuery) -> Iterator[Note]:
        repo = self._repo
        if query.note_ids is not None:
            keys = sorted(
                (n.creation_time, n.id) for i in query.note_ids if (n := repo._notes.get(i))
            )
        elif query.thread_ids is not None:
            keys = sorted(
                (repo._notes[i].creation_time, i)
                for t in query.thread_ids
                for i in repo._notes_of.get(t, ())
            )
        else:
            keys = repo._note_keys
        for _, note_id in from_key(keys, query.after):
            note = repo._notes[note_id]
            if (
                note.availability in query.availability
                and (query.thread_ids is None or note.thread_id in query.thread_ids)
                and repo._threads[note.thread_id].owner.extension_id in query.owner_extension_ids
            ):
                yield note
