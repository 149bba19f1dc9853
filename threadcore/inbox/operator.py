"""The operator's reads: every resource's threads without an actor (rule O1).

A handler reads through ``actor=`` and sees only the resources they handle; an operator (the
console of ``threadcore serve --console``, a support tool, a test) reads the whole inbox: the
directory's resources, every resource's threads by number of page, one thread's whole timeline,
and the outbound messages a carrier would send. These reads change nothing and check no
visibility, so never serve them to a handler.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from threadcore.domain import events as ev
from threadcore.domain import timeline
from threadcore.domain import transitions as tx
from threadcore.domain.errors import Conflict, InvalidInput, ThreadNotFound
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Entry,
    EntryType,
    Message,
    Resource,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import NumberedPage, Page, ThreadFilter
from threadcore.domain.validation import check_extension_id
from threadcore.inbox import _paging
from threadcore.inbox._spine import _UNLIMITED, Spine
from threadcore.inbox.queries import _check_page, _check_per_page, _filter, numbered_paging
from threadcore.ports import (
    ChangeFeed,
    MessageQuery,
    NoteQuery,
    Queries,
    ThreadQuery,
    UnitOfWork,
    require,
)

__all__ = ["Outbound", "ThreadTimeline"]

_BOTH = frozenset({Availability.ALIVE, Availability.DELETED})


@attrs.frozen
class ThreadTimeline:
    """A thread as it is now and its whole timeline, oldest first: messages (tombstones as
    DeletedMessage entries), notes, and the hints of its creation, assignments, resolution
    (an expiry that no sweep has written yet included) and deletion."""

    thread: Thread
    entries: tuple[Entry, ...]


@attrs.frozen(eq=False)
class Outbound(Page[tuple[int, Message]]):
    """The outbound messages a carrier would send, found in the event feed: a page of
    ``(position, message)`` pairs in feed order whose ``next_cursor`` reads the feed on, and
    ``after``, the position it read up to (what a wire that pages by position, the control
    plane's ``/outbound?after=``, hands back)."""

    after: int = 0


def resources(self: Spine) -> builtins.list[Resource]:
    """Every resource of the directory, by extension id.

    The directory must be able to list itself (:class:`~threadcore.Directory` and
    :class:`~threadcore.storage.StoredDirectory` can); another
    :class:`~threadcore.storage.DirectoryPort` without a ``resources()`` method is a
    :class:`~threadcore.errors.Conflict`."""
    listing = getattr(self.directory, "resources", None)
    if not callable(listing):
        raise Conflict("This inbox's directory cannot list its resources")
    found: Sequence[Resource] = self._read(lambda uow: listing())
    return sorted(found, key=lambda r: r.extension_id)


def operator_threads(
    self: Spine,
    *,
    filter: ThreadFilter | None = None,
    page: int = 1,
    per_page: int = 50,
) -> NumberedPage[Thread]:
    """Every resource's threads that pass ``filter`` (no actor: an operator's read), newest
    first, as numbered pages with the platform's ``paging`` block (``total_elements`` counts
    them all). Page 1 holds the newest ``per_page`` threads; each thread is as it is now
    (expiry applied). ``filter.owner_extension_ids`` narrows to those resources (one the
    directory does not hold lists nothing)."""
    filter = _filter(filter, ThreadFilter)
    _check_page(page, None)
    _check_per_page(per_page)
    owners = frozenset(r.extension_id for r in resources(self))
    if filter.owner_extension_ids is not None:
        owners &= frozenset(filter.owner_extension_ids)
    now = self.now()
    query = ThreadQuery.of(filter, owners, now - self.policy.ttl)

    def read(uow: UnitOfWork) -> tuple[builtins.list[Thread], int]:
        queries = require(uow, Queries)
        found, total = _newest_first(
            queries.count_threads, queries.find_threads, query, page, per_page
        )
        self._saw(found)  # what it shows expired is written first (rule R10b)
        if query.status is ThreadStatus.OPEN:  # and what it leaves out as expired
            self._saw_due(uow, query.due_cutoff, owners)
        return found, total

    found, total = self._read(read, at=now)
    ttl = self.policy.ttl
    records = tuple(tx.effective(t, now, ttl) for t in found)
    return NumberedPage(records, None, numbered_paging(page, per_page, len(records), total))


Q = TypeVar("Q", ThreadQuery, MessageQuery)
R = TypeVar("R")


def _newest_first(
    count: Callable[[Q], int],
    find: Callable[[Q, int, int], builtins.list[R]],
    query: Q,
    page: int,
    per_page: int,
) -> tuple[builtins.list[R], int]:
    """Page ``page`` of ``per_page`` records, newest first, over a store that pages oldest
    first (by creation time, then id): the page's window counted from the end, and the total."""
    total = count(query)
    end = max(total - (page - 1) * per_page, 0)
    start = max(end - per_page, 0)
    found = find(query, end - start, start) if end > start else []
    return found[::-1], max(total, start + len(found))


def operator_messages(self: Spine, *, page: int = 1, per_page: int = 100) -> NumberedPage[Message]:
    """Every resource's alive messages (no actor, never a draft), newest first, as numbered
    pages with the platform's ``paging`` block: what the console's outbound queue looks
    through (its outbound ones) on every store."""
    _check_page(page, None)
    _check_per_page(per_page)
    owners = frozenset(r.extension_id for r in resources(self))
    now = self.now()
    query = MessageQuery(owners, now - self.policy.ttl)

    def read(uow: UnitOfWork) -> tuple[list[Message], int]:
        queries = require(uow, Queries)
        return _newest_first(queries.count_messages, queries.find_messages, query, page, per_page)

    found, total = self._read(read)
    return NumberedPage(tuple(found), None, numbered_paging(page, per_page, len(found), total))


def latest_messages(self: Spine, thread_ids: Sequence[str]) -> dict[str, Message]:
    """The latest alive message (never a draft) of each of these threads that has one, by
    thread id: what a list of threads shows as its last message."""
    ids = frozenset(check_extension_id(i, "thread_ids") for i in thread_ids)
    if not ids:
        return {}
    owners = frozenset(r.extension_id for r in resources(self))
    query = MessageQuery(owners, self.now() - self.policy.ttl, thread_ids=ids)
    found = self._read(lambda uow: require(uow, Queries).find_messages(query, _UNLIMITED, 0))
    return {m.thread_id: m for m in found}  # oldest first: the latest one stays


def operator_thread(self: Spine, thread_id: str) -> ThreadTimeline:
    """One thread of any resource (no actor) with its whole timeline, oldest first; a thread
    that does not exist, or whose resource the directory no longer holds, is
    :class:`~threadcore.errors.ThreadNotFound`."""
    thread_id = check_extension_id(thread_id, "thread_id")
    now, ttl = self.now(), self.policy.ttl

    def read(uow: UnitOfWork) -> tuple[Thread, builtins.list[Entry]]:
        thread = uow.thread(thread_id)
        if thread is None or self.directory.resource(thread.owner.extension_id) is None:
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        owner = frozenset({thread.owner.extension_id})
        entries = [
            timeline.message_entry(m)
            for m in uow.messages(thread_id)
            if m.status is not DeliveryStatus.DRAFT
        ]
        notes = require(uow, Queries).find_notes(
            NoteQuery(owner, thread_ids=frozenset({thread_id}), availability=_BOTH), _UNLIMITED
        )
        entries += [timeline.note_entry(n) for n in notes]
        resource = self.directory.resource(thread.owner.extension_id)

        def user_of(extension_id: str | None) -> ThreadUser | None:
            if extension_id is None:
                return None
            handler = None if resource is None else resource.handler(extension_id)
            return ThreadUser(extension_id, handler.name if handler is not None else None)

        feed = require(uow, ChangeFeed)
        events = feed.events_since(0, feed.event_position(), owner, _UNLIMITED)
        for position, event in events:
            if event.thread_id == thread_id:
                hint = timeline.hint_entry(position, event, user_of)
                if hint is not None:
                    entries.append(hint)
        self._saw((thread,))  # shown expired: written first (rule R10b)
        return thread, entries

    stored, entries = self._read(read, at=now)
    thread = tx.effective(stored, now, ttl)
    if thread.status is not stored.status:  # due, and no sweep has written it yet
        resolved = EntryType.THREAD_RESOLVED_HINT
        if not any(e.record_type is resolved for e in entries):
            entries.append(timeline.expiry_hint(stored, ttl))
    entries.sort(key=lambda e: (e.creation_time, _ORDER.get(e.record_type, 1)))
    return ThreadTimeline(thread, tuple(entries))


#: Within one instant: the thread's creation first, its resolution and deletion last.
_ORDER = {
    EntryType.THREAD_CREATED_HINT: 0,
    EntryType.THREAD_RESOLVED_HINT: 2,
    EntryType.THREAD_DELETED_HINT: 3,
}


def outbound_messages(
    self: Spine,
    *,
    limit: int = _paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    after: int | _paging.Unset = _paging.UNSET,
) -> Outbound:
    """The outbound messages a carrier would send (sent messages and sent drafts) among the
    ``limit`` events of the feed from its beginning or after ``cursor`` (a feed's cursor: see
    :meth:`feed_cursor`), each with the position of the event that sent it, as they are now
    (their delivery status included). Poll on with ``cursor=page.next_cursor``. ``after=`` is
    deprecated (issue 23): ``cursor=inbox.feed_cursor(position)``."""
    start = _paging.feed_start(self._tokens, "outbound_messages", cursor, after)
    events = self.events(cursor=_paging.feed_cursor(self._tokens, start), limit=limit)
    wanted: dict[str, int] = {}
    for position, event in events:
        if isinstance(event, ev.DraftSent) or (
            isinstance(event, ev.MessageAdded) and event.direction is Direction.OUTBOUND
        ):
            wanted.setdefault(event.message_id, position)
    found = self._read(lambda uow: {i: uow.message(i) for i in wanted})
    records = tuple(
        (position, message)
        for message_id, position in wanted.items()
        if (message := found[message_id]) is not None
    )
    return Outbound(records, events.next_cursor, after=events[-1][0] if events else start)


def feed_position(self: Spine) -> int:
    """The position of the latest event of the feed that readers can see (0 before any): a
    reader that polls ``events(cursor=feed_cursor(position))`` learns of every later change."""
    return self._read(lambda uow: require(uow, ChangeFeed).event_position())


def feed_cursor(self: Spine, position: int | None = None) -> str:
    """The cursor that reads the event feed (:meth:`events`, :meth:`outbound_messages`) on
    after ``position`` (by default the latest event readers can see: only what comes next).
    A wire that pages the feed by position (the control plane's ``after``) turns it into a
    cursor with this; the cursor is signed and bound to the store, as every cursor."""
    if position is None:
        position = feed_position(self)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise InvalidInput(
            "Parameter [position] must be a non-negative integer", parameter="position"
        )
    return _paging.feed_cursor(self._tokens, position)


def status_counts(self: Spine, extension_id: str) -> dict[str, int]:
    """How many threads of one resource are Open, Resolved (alive) and Deleted now."""
    owner = [check_extension_id(extension_id, "extension_id")]
    counts = {}
    for name, thread_filter in (
        ("open", ThreadFilter(status=ThreadStatus.OPEN, owner_extension_ids=owner)),
        ("resolved", ThreadFilter(status=ThreadStatus.RESOLVED, owner_extension_ids=owner)),
        ("deleted", ThreadFilter(owner_extension_ids=owner, availability=[Availability.DELETED])),
    ):
        paging = operator_threads(self, filter=thread_filter, per_page=1).paging
        counts[name] = (paging.total_elements or 0) if paging is not None else 0
    return counts
