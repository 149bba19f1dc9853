"""Queries: a thread, its messages and its drafts, the keyset-paged lists of threads, messages
and notes, and the one numbered read of the platform's wire (:func:`numbered_page`).

Every forward read takes ``limit`` and an opaque ``cursor`` and answers a :class:`Page`; the old
names (``per_page``, ``page_token``, ``page``) are folded in by :mod:`threadcore.inbox._paging`.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar, Unpack, overload

import attrs

from threadcore.domain import transitions as tx
from threadcore.domain.errors import InvalidInput, InvalidPageToken, MessageNotFound
from threadcore.domain.model import Message, Note, Thread, ThreadStatus
from threadcore.domain.queries import (
    MessageFilter,
    NoteFilter,
    NumberedPage,
    Page,
    Paging,
    ThreadFilter,
)
from threadcore.domain.validation import check_extension_id
from threadcore.inbox._paging import DEFAULT_LIMIT, Deprecated, Legacy, check_limit, legacy
from threadcore.inbox._spine import _ALIVE, _DRAFT, _UNLIMITED, BEFORE_ALL, Spine
from threadcore.inbox.handlers._load import existing_message
from threadcore.ports import MessageQuery, NoteQuery, Queries, ThreadQuery, UnitOfWork, require

__all__ = [
    "drafts",
    "get",
    "list_messages",
    "list_notes",
    "list_threads",
    "message",
    "messages",
    "numbered_paging",
    "thread_page",
]


def get(self: Spine, thread_id: str, *, actor: str) -> Thread:
    """The thread as it is now (expiry applied), if ``actor`` handles its resource."""
    actor = check_extension_id(actor, "actor")
    now = self.now()

    def read(uow: UnitOfWork) -> Thread:
        stored, _ = self._visible(uow, thread_id, actor)
        self._saw((stored,))
        return stored

    return tx.effective(self._read(read, at=now), now, self._policy.ttl)


def messages(
    self: Spine,
    thread_id: str,
    *,
    actor: str,
    limit: int | None = None,
    cursor: str | None = None,
    **old: Unpack[Deprecated],
) -> Page[Message]:
    """The thread's alive messages, oldest first (none once the thread is deleted).

    Without ``limit`` every message comes in one page (as before issue 23, so a list's default
    of 100 does not apply here); with it, pages of that size and a ``next_cursor`` for the next
    one. ``per_page``, ``page_token`` and ``page`` are deprecated (``limit``, ``cursor``; a
    numbered page of a thread's messages is
    ``numbered_page(MessageFilter(thread_ids=[thread_id]), ...)``).
    """
    paging = legacy("messages", limit, cursor, default=None, old=old)
    return thread_page(self, "messages", thread_id, actor, lambda m: m.status is not _DRAFT, paging)


def drafts(
    self: Spine,
    thread_id: str,
    *,
    actor: str,
    limit: int | None = None,
    cursor: str | None = None,
    **old: Unpack[Deprecated],
) -> Page[Message]:
    """The thread's drafts, oldest first, paged as :meth:`~threadcore.Inbox.messages` (all of
    them without ``limit``; ``per_page``, ``page_token`` and ``page`` deprecated)."""
    paging = legacy("drafts", limit, cursor, default=None, old=old)
    return thread_page(self, "drafts", thread_id, actor, lambda m: m.status is _DRAFT, paging)


def thread_page(
    self: Spine,
    kind: str,
    thread_id: str,
    actor: str,
    belongs: Callable[[Message], bool],
    paging: Legacy,
) -> Page[Message]:
    """One page of a thread's alive records of one ``kind`` (its messages, or its drafts),
    oldest first, as :func:`messages` describes. A cursor holds the place in the thread's stored
    records, where tombstones keep their places, so a walk is stable while records change."""
    actor = check_extension_id(actor, "actor")
    per_page, page_token, page = paging.limit, paging.cursor, paging.page
    _check_page(page, page_token)
    if per_page is not None:
        per_page = check_limit(per_page, paging.limit_name)
    start, size = 0, per_page
    if page_token is not None:
        payload = self._tokens.decode(page_token, kind, actor, InvalidPageToken)
        if payload.get("t") != thread_id or not isinstance(payload.get("i"), int):
            raise InvalidPageToken("issued for another thread")
        start = payload["i"]
        if size is None and isinstance(payload.get("n"), int):
            size = payload["n"]  # a walk goes on in the page size it began with

    def onward(position: int, size: int) -> str:
        return self._tokens.encode(kind, actor, {"t": thread_id, "i": position, "n": size})

    def read(uow: UnitOfWork) -> Page[Message]:
        self._visible(uow, thread_id, actor)
        stored = [m for m in uow.messages(thread_id) if belongs(m)]
        if page is not None:
            places = [i for i, m in enumerate(stored) if m.availability is _ALIVE]
            numbered_size = per_page or _DEFAULT_PER_PAGE
            numbered = _numbered_page([stored[i] for i in places], page, numbered_size)
            if not numbered or page * numbered_size >= len(places):
                return numbered
            after = places[page * numbered_size - 1] + 1  # after the page's last record
            return NumberedPage(numbered.records, onward(after, numbered_size), numbered.paging)
        limit = _UNLIMITED if size is None else size
        found: list[Message] = []
        position = start
        while position < len(stored) and len(found) < limit:
            if stored[position].availability is _ALIVE:
                found.append(stored[position])
            position += 1
        more = any(m.availability is _ALIVE for m in stored[position:])
        if size is not None:
            return Page(tuple(found), onward(position, size) if more else None, Paging(size))
        return _numbered_page(found, 1, max(len(found), 1))  # all of them: one page

    return self._read(read)


def message(self: Spine, message_id: str, *, actor: str) -> Message:
    """One message (alive or a tombstone), if ``actor`` handles its thread's resource."""
    actor = check_extension_id(actor, "actor")
    message_id = check_extension_id(message_id, "message_id")

    def read(uow: UnitOfWork) -> Message:
        message = existing_message(uow, message_id)
        self._visible_as(uow, message.thread_id, actor, MessageNotFound, message_id)
        return message

    return self._read(read)


def list_messages(
    self: Spine,
    *,
    actor: str,
    filter: MessageFilter | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    **old: Unpack[Deprecated],
) -> Page[Message]:
    """Messages across the threads ``actor`` may see that pass ``filter``, by creation time
    then id, ``limit`` a page: read on with ``cursor=page.next_cursor``. Drafts are never
    listed. ``per_page``, ``page_token`` and ``page`` are deprecated (``limit``, ``cursor``,
    :meth:`numbered_page`)."""
    paging = legacy("list_messages", limit, cursor, default=DEFAULT_LIMIT, old=old)
    return _list_messages(self, actor, filter, paging)


def _list_messages(
    self: Spine, actor: str, filter: MessageFilter | None, paging: Legacy
) -> Page[Message]:
    actor, wanted, owners = _scope(self, actor, filter, MessageFilter)
    now = self.now()
    cutoff = now - self._policy.ttl

    query = MessageQuery(
        owners,
        cutoff,
        thread_status=wanted.thread_status,
        thread_ids=_maybe_set(wanted.thread_ids),
        message_ids=_maybe_set(wanted.message_ids),
        availability=frozenset(wanted.availability),
        creation_time_from=wanted.creation_time_from,
        creation_time_to=wanted.creation_time_to,
    )

    by_status = wanted.thread_status is not None

    def find(uow: UnitOfWork) -> Callable[[MessageQuery, int, int], builtins.list[Message]]:
        def seen(query: MessageQuery, limit: int, offset: int) -> builtins.list[Message]:
            # by the status of their threads now: the due threads' expiries are written (R10b)
            self._saw_due(uow, cutoff, owners)
            return require(uow, Queries).find_messages(query, limit, offset)

        return seen if by_status else require(uow, Queries).find_messages

    return _keyset_list(
        self,
        _Listing("message-list", query, find, lambda uow: require(uow, Queries).count_messages,
                 at=now if by_status else None),
        actor, wanted, paging, _message_key,
    )  # fmt: skip


def list_notes(
    self: Spine,
    *,
    actor: str,
    filter: NoteFilter | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    **old: Unpack[Deprecated],
) -> Page[Note]:
    """Notes of the threads ``actor`` may see that pass ``filter``, by creation time then id,
    ``limit`` a page: read on with ``cursor=page.next_cursor``. ``per_page``, ``page_token``
    and ``page`` are deprecated (``limit``, ``cursor``, :meth:`numbered_page`)."""
    paging = legacy("list_notes", limit, cursor, default=DEFAULT_LIMIT, old=old)
    return _list_notes(self, actor, filter, paging)


def _list_notes(self: Spine, actor: str, filter: NoteFilter | None, paging: Legacy) -> Page[Note]:
    actor, wanted, owners = _scope(self, actor, filter, NoteFilter)

    query = NoteQuery(
        owners,
        thread_ids=_maybe_set(wanted.thread_ids),
        note_ids=_maybe_set(wanted.note_ids),
        availability=frozenset(wanted.availability),
    )
    return _keyset_list(
        self,
        _Listing("note-list", query, lambda uow: require(uow, Queries).find_notes,
                 lambda uow: require(uow, Queries).count_notes),
        actor, wanted, paging, _note_key,
    )  # fmt: skip


Q = TypeVar("Q", ThreadQuery, MessageQuery, NoteQuery)
R = TypeVar("R")


@attrs.frozen
class _Listing(Generic[Q, R]):
    """What a list reads: its token kind, its query (``after`` set per page), and the unit of
    work's find (``query, limit, offset``) and count (``query``) for that query."""

    kind: str
    query: Q
    find: Callable[[UnitOfWork], Callable[[Q, int, int], builtins.list[R]]]
    count: Callable[[UnitOfWork], Callable[[Q], int]]
    #: the instant a list of threads answers at (its due threads' expiries written, R10b)
    at: datetime | None = None


def _keyset_list(
    self: Spine,
    listing: _Listing[Q, R],
    actor: str,
    wanted: object,
    paging: Legacy,
    key: Callable[[R], tuple[datetime, str]],
) -> Page[R]:
    """A page of records ordered by (creation time, id): by cursor (keyset, stable under
    change) or by number (a :class:`NumberedPage`, a snapshot with the platform's paging
    block, rule Q2); either way the store reads a page, never the whole list."""
    per_page = check_limit(paging.limit, paging.limit_name)
    page_token, page = paging.cursor, paging.page
    _check_page(page, page_token)
    fingerprint = _fingerprint(wanted)
    after = _page_after(self, listing.kind, actor, fingerprint, page_token)
    query = attrs.evolve(listing.query, after=after)
    if page is None:
        found = self._read(lambda uow: listing.find(uow)(query, per_page + 1, 0), at=listing.at)
        token = None
        if len(found) > per_page:
            token = _page_token(self, listing.kind, actor, fingerprint, *key(found[per_page - 1]))
        return Page(tuple(found[:per_page]), token, Paging(per_page))
    offset = (page - 1) * per_page

    def read(uow: UnitOfWork) -> tuple[builtins.list[R], int]:
        # Two statements: where reads are not one snapshot (PostgreSQL's autocommit reads)
        # records may come or go between them. Counted first, then the page's records, which
        # are the truth the count is made to agree with: one answer never contradicts itself.
        total = listing.count(uow)(query)
        found = listing.find(uow)(query, per_page, offset)
        return found, max(total, offset + len(found)) if found else total

    found, total = self._read(read, at=listing.at)
    numbered = numbered_paging(page, per_page, len(found), total)
    token = None
    if found and offset + len(found) < total:
        token = _page_token(self, listing.kind, actor, fingerprint, *key(found[-1]))
    return NumberedPage(tuple(found), token, numbered)


def _page_after(
    self: Spine, kind: str, actor: str, fingerprint: str, page_token: str | None
) -> tuple[datetime, str] | None:
    """The keyset position a page token continues after (``None`` without a token)."""
    if page_token is None:
        return None
    payload = self._tokens.decode(page_token, kind, actor, InvalidPageToken)
    if payload.get("f") != fingerprint:
        raise InvalidPageToken("issued for another filter")
    try:
        return datetime.fromisoformat(payload["c"]), str(payload["i"])
    except (KeyError, TypeError, ValueError):
        raise InvalidPageToken("malformed") from None


def _page_token(
    self: Spine, kind: str, actor: str, fingerprint: str, created: datetime, record_id: str
) -> str:
    return self._tokens.encode(
        kind, actor, {"f": fingerprint, "c": created.isoformat(), "i": record_id}
    )


def list_threads(
    self: Spine,
    *,
    actor: str,
    filter: ThreadFilter | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    **old: Unpack[Deprecated],
) -> Page[Thread]:
    """The threads ``actor`` may see that pass ``filter``, by creation time then id, ``limit``
    a page (1..1000).

    Read on with ``cursor=page.next_cursor`` (stable while threads change: never skips or
    repeats a thread). The platform's numbered pages are :meth:`numbered_page`. ``per_page``,
    ``page_token`` and ``page`` are deprecated (``limit``, ``cursor``, :meth:`numbered_page`).
    """
    paging = legacy("list", limit, cursor, default=DEFAULT_LIMIT, old=old)
    return _list_threads(self, actor, filter, paging)


def _list_threads(
    self: Spine, actor: str, filter: ThreadFilter | None, paging: Legacy
) -> Page[Thread]:
    actor, wanted, owners = _scope(self, actor, filter, ThreadFilter)
    now = self.now()
    query = ThreadQuery.of(wanted, owners, now - self._policy.ttl)

    first = paging.page is None  # the first read of a keyset page of open threads

    def find(uow: UnitOfWork) -> Callable[[ThreadQuery, int, int], builtins.list[Thread]]:
        def seen(query: ThreadQuery, limit: int, offset: int) -> builtins.list[Thread]:
            nonlocal first
            if query.status is ThreadStatus.OPEN and first:
                # A keyset page: the stored open threads, due ones too (no read more), so a due
                # one the page would hold is not left out unwritten (R10b); its expiry is
                # written, and the page read again, as below. (A numbered page's count and
                # offset count every open thread as it is now: all the due ones, below.)
                first = False
                found = require(uow, Queries).find_threads(
                    attrs.evolve(query, due_cutoff=BEFORE_ALL), limit, 0
                )
                self._saw(found, as_stored=True)
                return found
            found = require(uow, Queries).find_threads(query, limit, offset)
            self._saw(found)
            if query.status is ThreadStatus.OPEN:  # what it leaves out as due, all written
                self._saw_due(uow, query.due_cutoff, owners)
            return found

        return seen

    listed = _keyset_list(
        self,
        _Listing("threads", query, find, lambda uow: require(uow, Queries).count_threads, at=now),
        actor, wanted, paging, _thread_key,
    )  # fmt: skip
    ttl = self._policy.ttl
    return attrs.evolve(listed, records=tuple(tx.effective(t, now, ttl) for t in listed))


@overload
def numbered_page(
    self: Spine, filter: ThreadFilter, *, actor: str, page: int = 1, per_page: int = DEFAULT_LIMIT
) -> NumberedPage[Thread]: ...


@overload
def numbered_page(
    self: Spine, filter: MessageFilter, *, actor: str, page: int = 1, per_page: int = DEFAULT_LIMIT
) -> NumberedPage[Message]: ...


@overload
def numbered_page(
    self: Spine, filter: NoteFilter, *, actor: str, page: int = 1, per_page: int = DEFAULT_LIMIT
) -> NumberedPage[Note]: ...


def numbered_page(
    self: Spine,
    filter: ThreadFilter | MessageFilter | NoteFilter,
    *,
    actor: str,
    page: int = 1,
    per_page: int = DEFAULT_LIMIT,
) -> NumberedPage[Thread] | NumberedPage[Message] | NumberedPage[Note]:
    """Page ``page`` (1..1000) of ``per_page`` (1..1000) records of the list ``filter`` names
    (threads, messages or notes, as :meth:`list`, :meth:`list_messages`, :meth:`list_notes`
    order them): the platform's numbered pages, the one read that answers them.

    The store reads the page by its offset and counts the whole result (``paging``: page,
    per_page, page_start, page_end, total_pages, total_elements; rule Q2). It is a snapshot:
    records created or changed between calls move the numbered pages; the page's
    ``next_cursor`` continues it as a stable forward read.
    """
    paging = Legacy(per_page, None, page, "perPage")
    _check_page(page, None)
    found: Page[Thread] | Page[Message] | Page[Note]
    if isinstance(filter, ThreadFilter):
        found = _list_threads(self, actor, filter, paging)
    elif isinstance(filter, MessageFilter):
        found = _list_messages(self, actor, filter, paging)
    elif isinstance(filter, NoteFilter):
        found = _list_notes(self, actor, filter, paging)
    else:
        raise InvalidInput(
            "Parameter [filter] must be a ThreadFilter, a MessageFilter or a NoteFilter",
            parameter="filter",
        )
    assert isinstance(found, NumberedPage)
    return found


def _thread_key(thread: Thread) -> tuple[datetime, str]:
    return thread.creation_time, thread.id


_MAX_PAGE = 1000

#: The platform's page size when a numbered page is asked for without one.
_DEFAULT_PER_PAGE = DEFAULT_LIMIT


F = TypeVar("F")


def _maybe_set(values: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


L = TypeVar("L", ThreadFilter, MessageFilter, NoteFilter)


def _scope(
    self: Spine, actor: str, filter: L | None, kind: type[L]
) -> tuple[str, L, frozenset[str]]:
    """A list's caller and filter, checked (no filter: every record), and the resources it
    reads: those ``actor`` handles, narrowed to the filter's (naming another is NotPermitted)."""
    actor = check_extension_id(actor, "actor")
    wanted = _filter(filter, kind)
    return actor, wanted, self._owners(actor, wanted.owner_extension_ids)


def _filter(value: F | None, kind: type[F]) -> F:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise InvalidInput(f"Parameter [filter] must be a {kind.__name__}", parameter="filter")
    return value


def _fingerprint(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def _message_key(message: Message) -> tuple[datetime, str]:
    return message.created_at, message.id


def _note_key(note: Note) -> tuple[datetime, str]:
    return note.creation_time, note.id


def _check_page(page: object, page_token: object) -> None:
    if page is not None and page_token is not None:
        raise InvalidInput("Give either page or page_token, not both", parameter="page")
    if page is not None and (
        not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= _MAX_PAGE
    ):
        raise InvalidInput(f"Parameter [page] must be 1..{_MAX_PAGE}", parameter="page")


def _numbered_page(everything: Sequence[F], page: int, per_page: int) -> NumberedPage[F]:
    """Page ``page`` of ``everything`` with the platform's paging block (the caller adds the
    cursor that continues it)."""
    offset = (page - 1) * per_page
    found = tuple(everything[offset : offset + per_page])
    return NumberedPage(found, None, numbered_paging(page, per_page, len(found), len(everything)))


def numbered_paging(page: int, per_page: int, found: int, total: int) -> Paging:
    """The platform's paging block of page ``page`` holding ``found`` of ``total`` records:
    only ``per_page`` on an empty page (rule Q2)."""
    if not found:
        return Paging(per_page)
    offset = (page - 1) * per_page
    return Paging(
        per_page=per_page,
        page=page,
        page_start=offset,
        page_end=offset + found - 1,
        total_pages=-(-total // per_page),
        total_elements=total,
    )


def _check_per_page(value: object) -> int:
    """A numbered page's size, 1..1000 (``InvalidInput`` naming ``perPage``)."""
    return check_limit(value, "perPage")
