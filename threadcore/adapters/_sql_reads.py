"""The reads SQLite and PostgreSQL share: one SQL read layer over a dialect.

The two adapters store the same tables and ask the same questions of them; what differs is how
their SQL is spelled (the parameter marker, how an instant is passed and read back, a membership
test, schema-qualified table names). :class:`Dialect` holds those differences and the statements
built from them, once; :class:`SQLReads` is the thread, message and note reads of a unit of work
(the ``ThreadReads``, ``MessageReads`` and ``NoteReads`` capabilities of
:mod:`threadcore.storage`) written once over it. What truly differs stays in each adapter: the
claims, the change feed (SQLite counts changes and events itself; PostgreSQL orders them by
transaction id) and the writes.

A string no adapter can store (NUL, a lone surrogate) cannot equal a stored value: a read by such
a key finds nothing, and such values are dropped from a filter's lists before the SQL is built,
alike on both adapters.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, Unpack

import attrs

from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    OPEN,
    THREAD_COLUMNS,
    message_from_row,
    note_from_row,
    thread_from_row,
    unstorable,
)
from threadcore.adapters._sql_where import (
    MESSAGE_ORDER,
    NOTE_ORDER,
    AnyOf,
    message_query_where,
    note_query_where,
    open_threads_where,
    thread_query_where,
)
from threadcore.adapters.directory import resource_document, resource_from_document
from threadcore.domain.model import Message, Note, Resource, Thread, ThreadStatus
from threadcore.ports import MessageQuery, NoteQuery, OpenThreadsArgs, ThreadQuery

__all__ = ["Dialect", "SQLReads"]

R = TypeVar("R")
Q = TypeVar("Q", MessageQuery, NoteQuery)


class Dialect:
    """How one database spells the shared reads, and the statements built from that once.

    ``mark`` is the parameter marker, ``to_db`` turns an instant into a parameter, ``from_db``
    reads one back from a row, ``any_of(column, values)`` writes a membership test, and
    ``prefix`` qualifies the table names (``"schema."`` on PostgreSQL, empty on SQLite).
    """

    def __init__(
        self,
        *,
        mark: str,
        to_db: Callable[[datetime], Any],
        from_db: Callable[[Any], datetime],
        any_of: AnyOf,
        prefix: str = "",
        message_owner: str = "t.owner_extension_id",
        note_owner: str = "t.owner_extension_id",
    ) -> None:
        self.mark, self.to_db, self.from_db, self.any_of = mark, to_db, from_db, any_of
        # where a message's and a note's resource is read (PostgreSQL keeps it on the record,
        # indexed with its time, so a list across threads reads one resource's records)
        self.message_owner = message_owner
        self.note_owner = note_owner
        m, p = mark, prefix
        self.threads = f"{p}threads"
        self.select_threads = f"SELECT {', '.join(THREAD_COLUMNS)} FROM {p}threads WHERE "
        self.thread_by_id = f"{self.select_threads}id = {m}"
        self.open_for_pair = (
            f"{self.select_threads}owner_number = {m} AND guest_number = {m} AND {OPEN}"
        )
        self.select_messages = f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM {p}messages WHERE "
        self.select_notes = f"SELECT {', '.join(NOTE_COLUMNS)} FROM {p}notes WHERE "
        messages = f"FROM {p}messages AS m JOIN {p}threads AS t ON t.id = m.thread_id WHERE "
        notes = f"FROM {p}notes AS n JOIN {p}threads AS t ON t.id = n.thread_id WHERE "
        message_columns = ", ".join(f"m.{c}" for c in MESSAGE_COLUMNS)
        self.find_messages = f"SELECT {message_columns} {messages}"
        self.count_messages = f"SELECT count(*) {messages}"
        # Where the message carries its resource, a list reads no thread row per message
        # (PostgreSQL: a count over one resource probed every thread); the thread's status is
        # then a semi-join on the resources' threads (message_query_where).
        alone = f"FROM {p}messages AS m WHERE "
        self.find_messages_alone = f"SELECT {message_columns} {alone}"
        self.count_messages_alone = f"SELECT count(*) {alone}"
        if note_owner.startswith("n."):
            notes = f"FROM {p}notes AS n WHERE "
        self.find_notes = f"SELECT {', '.join(f'n.{c}' for c in NOTE_COLUMNS)} {notes}"
        self.count_notes = f"SELECT count(*) {notes}"
        self.opted_out = (
            f"SELECT opted_out FROM {p}opt_outs WHERE owner_number = {m} AND guest_number = {m}"
        )
        self.opted_out_pairs = (
            f"SELECT owner_number, guest_number FROM {p}opt_outs WHERE opted_out AND "
        )
        # the greatest id of a walked record created at an instant (CreationTies): each branch
        # reads one end of a time index (threads_by_time, messages_by_time, notes_by_time)
        self.last_id_at = (
            "SELECT max(id) FROM ("
            + " UNION ALL ".join(
                f"SELECT * FROM (SELECT id FROM {p}{table} WHERE {at} = {m}{where} "
                f"ORDER BY id DESC LIMIT 1) AS {table}"
                for table, at, where in (
                    ("threads", "creation_time", ""),
                    ("messages", "created_at", " AND status <> 'Draft'"),
                    ("notes", "creation_time", ""),
                )
            )
            + ") AS created"
        )
        # the stored directory (issue 14): resources as JSON documents, and the change position
        self.directory_version = f"SELECT version FROM {p}threadcore_directory"
        self.directory_resources = f"SELECT resource FROM {p}threadcore_resources ORDER BY seq"
        self.save_resource = (
            f"INSERT INTO {p}threadcore_resources (extension_id, seq, resource) VALUES ({m}, "
            f"(SELECT coalesce(max(seq), 0) + 1 FROM {p}threadcore_resources), {m}) "
            "ON CONFLICT (extension_id) DO UPDATE SET resource = excluded.resource"
        )
        self.delete_resource = f"DELETE FROM {p}threadcore_resources WHERE extension_id = {m}"
        self.stamp_directory = f"UPDATE {p}threadcore_directory SET version = {m}"

    def directory_writes(
        self, changes: dict[str, Resource | None]
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that store a unit of work's directory changes (``None``: removed)
        and give the directory a new change stamp; none when there is no change.

        The stamp is random, never the old one plus one: a change undone (a batch rolled back)
        or a backup restored must not leave a stamp that a process's copy of another state of
        the directory already carries."""
        if not changes:
            return []
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (self.delete_resource, (extension_id,))
            if resource is None
            else (self.save_resource, (extension_id, json.dumps(resource_document(resource))))
            for extension_id, resource in changes.items()
        ]
        statements.append((self.stamp_directory, (secrets.randbits(62) + 1,)))
        return statements


class SQLReads:
    """The thread, message and note reads of an SQL unit of work, over its :class:`Dialect`.

    A unit of work that inherits this provides ``_dialect``, ``_all(sql, params)`` (the rows a
    statement returns, driver errors translated) and may override ``_threads_from(rows)`` (to
    remember what it loaded) and ``_listed(sql, params)`` (a list's read: see there).
    """

    __slots__ = ()

    _dialect: Dialect

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _listed(self, sql: str, params: Iterable[Any]) -> list[Any]:
        """The rows of a list's page or count, whose filters match a few records for one actor
        and millions for another: a driver that would reuse a plan made for other parameters
        (PostgreSQL's generic plan of a prepared statement) plans it for these instead."""
        return self._all(sql, params)

    def _walked(self, sql: str, params: Iterable[Any]) -> list[Any]:
        """The rows of a page (at most :data:`_PAGE_AT_MOST` records) of a list walked by
        creation time (threads, messages, notes): an adapter whose writers run at once waits
        here until no command that may write a record of the list is under way (rule Q2); one
        whose writers run one at a time reads it as any list."""
        return self._listed(sql, params)

    def last_id_at(self, instant: datetime) -> str | None:
        at = self._dialect.to_db(instant)
        rows = self._all(self._dialect.last_id_at, (at, at, at))
        return rows[0][0] if rows else None

    def directory_version(self) -> int:
        rows = self._all(self._dialect.directory_version)
        return int(rows[0][0]) if rows else 0

    def directory_resources(self) -> list[Resource]:
        return [
            resource_from_document(json.loads(document))
            for (document,) in self._all(self._dialect.directory_resources)
        ]

    def _threads_from(self, rows: list[Any]) -> list[Thread]:
        """Threads from rows of ``THREAD_COLUMNS``."""
        from_db = self._dialect.from_db
        return [thread_from_row(row, from_db) for row in rows]

    def _threads_where(
        self, where: str, params: Iterable[Any] = (), tail: str = ""
    ) -> list[Thread]:
        return self._threads_from(
            self._all(f"{self._dialect.select_threads}{where} {tail}", params)
        )

    def _first_thread(self, sql: str, params: tuple[Any, ...]) -> Thread | None:
        found = self._threads_from(self._all(sql, params))
        return found[0] if found else None

    # --- threads --------------------------------------------------------------------------------
    def thread(self, thread_id: str) -> Thread | None:
        if unstorable(thread_id):
            return None
        return self._first_thread(self._dialect.thread_by_id, (thread_id,))

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        if unstorable(owner_number, guest_number):
            return None
        return self._first_thread(self._dialect.open_for_pair, (owner_number, guest_number))

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        d = self._dialect
        found: list[Thread] = []
        for chunk, params in _pair_chunks(pairs, d.mark):
            found += self._threads_where(
                f"{OPEN} AND (owner_number, guest_number) IN (VALUES {chunk})", params, ""
            )
        return found

    def open_threads(self, **of: Unpack[OpenThreadsArgs]) -> list[Thread]:
        if unstorable(of.get("owner_extension_id"), of.get("owner_number"), of.get("assignee_id")):
            return []
        where, params = open_threads_where(self._dialect.mark, **of)
        return self._threads_where(where, params, "ORDER BY creation_time, id")

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        if limit <= 0:
            return []
        d = self._dialect
        return self._threads_where(
            f"{OPEN} AND latest_message_at <= {d.mark}",
            (d.to_db(cutoff), limit),
            f"ORDER BY latest_message_at, id LIMIT {d.mark}",
        )

    def due_between(
        self, after: datetime, until: datetime, owner_extension_ids: frozenset[str]
    ) -> list[Thread]:
        owners = storable(owner_extension_ids)
        if until <= after or not owners:
            return []
        d = self._dialect
        owned, params = d.any_of("owner_extension_id", owners)
        return self._threads_where(
            f"{OPEN} AND latest_message_at > {d.mark} AND latest_message_at <= {d.mark} "
            f"AND {owned}",
            (d.to_db(after), d.to_db(until), *params),
        )

    def _thread_query(self, query: ThreadQuery, with_after: bool) -> tuple[str, list[Any]] | None:
        """The WHERE clause and parameters of ``query``, or ``None`` when nothing can match."""
        owners = storable(query.owner_extension_ids)
        if not owners or unstorable(query.owner_number, query.guest_number):
            return None
        query = attrs.evolve(
            query, owner_extension_ids=frozenset(owners), after=_storable_after(query.after)
        )
        d = self._dialect
        return thread_query_where(query, with_after, d.mark, d.to_db, d.any_of)

    def find_threads(self, query: ThreadQuery, limit: int, offset: int = 0) -> list[Thread]:
        built = self._thread_query(query, with_after=True)
        select, order = self._dialect.select_threads, "ORDER BY creation_time, id"
        return self._threads_from(self._page(select, built, order, limit, offset))

    def count_threads(self, query: ThreadQuery) -> int:
        built = self._thread_query(query, with_after=False)
        return self._count(f"SELECT count(*) FROM {self._dialect.threads} WHERE ", built)

    # --- messages -------------------------------------------------------------------------------
    def messages(self, thread_id: str) -> list[Message]:
        if unstorable(thread_id):
            return []
        d = self._dialect
        rows = self._all(f"{d.select_messages}thread_id = {d.mark} ORDER BY position", (thread_id,))
        return [message_from_row(row, d.from_db) for row in rows]

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        select = self._dialect.select_messages
        return self._one(select, "provider_message_id", provider_message_id, message_from_row)

    def message(self, message_id: str) -> Message | None:
        return self._one(self._dialect.select_messages, "id", message_id, message_from_row)

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        ids = sorted({p for p in provider_message_ids if not unstorable(p)})
        if not ids:
            return []
        d = self._dialect
        where, params = d.any_of("provider_message_id", ids)
        rows = self._all(f"{d.select_messages}{where}", params)
        return [message_from_row(row, d.from_db) for row in rows]

    def find_messages(self, query: MessageQuery, limit: int, offset: int = 0) -> list[Message]:
        d = self._dialect
        select = d.find_messages if self._joined else d.find_messages_alone
        # a first page of resolved threads' messages: walk the messages, looking up each thread
        probe = offset <= 0 and query.thread_status is ThreadStatus.RESOLVED
        built = self._message_query(query, probe=probe)
        return self._find(select, built, MESSAGE_ORDER, limit, offset, message_from_row)

    def count_messages(self, query: MessageQuery) -> int:
        d = self._dialect
        select = d.count_messages if self._joined else d.count_messages_alone
        return self._count(select, self._message_query(query, after=False))

    @property
    def _joined(self) -> bool:
        """Whether messages are read joined with their thread (``t.``): where the message does
        not carry its resource."""
        return self._dialect.message_owner.startswith("t.")

    def _message_query(
        self, query: MessageQuery, after: bool = True, probe: bool = False
    ) -> tuple[str, list[Any]] | None:
        query = _cleaned(query, "message_ids", after)
        d = self._dialect
        threads = None if self._joined else d.threads
        return message_query_where(
            query, d.mark, d.to_db, d.any_of, d.message_owner, threads, probe
        )

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        if unstorable(owner_number, guest_number):
            return False
        rows = self._all(self._dialect.opted_out, (owner_number, guest_number))
        return bool(rows and rows[0][0])

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for chunk, params in _pair_chunks(pairs, self._dialect.mark):
            rows = self._all(
                f"{self._dialect.opted_out_pairs}(owner_number, guest_number) IN (VALUES {chunk})",
                params,
            )
            out.update((str(owner), str(guest)) for owner, guest in rows)
        return out

    # --- notes ----------------------------------------------------------------------------------
    def note(self, note_id: str) -> Note | None:
        return self._one(self._dialect.select_notes, "id", note_id, note_from_row)

    def find_notes(self, query: NoteQuery, limit: int, offset: int = 0) -> list[Note]:
        built = self._note_query(query)
        return self._find(self._dialect.find_notes, built, NOTE_ORDER, limit, offset, note_from_row)

    def count_notes(self, query: NoteQuery) -> int:
        return self._count(self._dialect.count_notes, self._note_query(query, after=False))

    def _note_query(self, query: NoteQuery, after: bool = True) -> tuple[str, list[Any]] | None:
        d = self._dialect
        query = _cleaned(query, "note_ids", after)
        return note_query_where(query, d.mark, d.to_db, d.any_of, d.note_owner)

    def _one(
        self,
        select: str,
        column: str,
        value: str,
        read: Callable[[Any, Callable[[Any], datetime]], R],
    ) -> R | None:
        """The record ``select`` (which ends in ``WHERE``) finds with ``column`` equal to
        ``value``, or ``None`` (also for an unstorable ``value``: no stored record has it)."""
        if unstorable(value):
            return None
        d = self._dialect
        rows = self._all(f"{select}{column} = {d.mark}", (value,))
        return read(rows[0], d.from_db) if rows else None

    def _find(
        self,
        select: str,
        built: tuple[str, list[Any]] | None,
        order: str,
        limit: int,
        offset: int,
        read: Callable[[Any, Callable[[Any], datetime]], R],
    ) -> list[R]:
        """The records of the rows :meth:`_page` finds, each made by ``read``."""
        from_db = self._dialect.from_db
        return [read(row, from_db) for row in self._page(select, built, order, limit, offset)]

    def _page(
        self, select: str, built: tuple[str, list[Any]] | None, order: str, limit: int, offset: int
    ) -> list[Any]:
        """The rows ``select`` (which ends in ``WHERE``) finds under the built clause (none when
        ``built`` is ``None``: nothing can match), in ``order``, at most ``limit`` after the
        first ``offset``."""
        if built is None or limit <= 0:
            return []
        where, params = built
        mark = self._dialect.mark
        page = f"{order} LIMIT {mark} OFFSET {mark}"
        rows = self._walked if limit <= _PAGE_AT_MOST else self._listed
        return rows(f"{select}{where} {page}", [*params, limit, max(offset, 0)])

    def _count(self, select: str, built: tuple[str, list[Any]] | None) -> int:
        """How many records ``select count(*) ... WHERE`` counts under the built clause."""
        if built is None:
            return 0
        where, params = built
        return int(self._listed(f"{select}{where}", params)[0][0])


#: The most records a page of a walk reads: 1,000 (the largest ``limit``) and one more, which
#: tells whether a page follows. A longer read is not a page (a thread's whole list, sync's and
#: the operator's reads): it does not wait for the commands under way (:meth:`SQLReads._walked`).
_PAGE_AT_MOST = 1_001


def _pair_chunks(
    pairs: Sequence[tuple[str, str]], mark: str, size: int = 400
) -> Iterator[tuple[str, list[str]]]:
    """The storable distinct ``pairs`` as ``VALUES`` rows and their parameters, ``size`` pairs
    a statement."""
    wanted = [pair for pair in dict.fromkeys(pairs) if not unstorable(*pair)]
    for start in range(0, len(wanted), size):
        chunk = wanted[start : start + size]
        yield ", ".join([f"({mark}, {mark})"] * len(chunk)), [v for pair in chunk for v in pair]


def storable(values: Iterable[str]) -> list[str]:
    """``values`` without those no adapter can store (no stored value can equal them), sorted."""
    return sorted(v for v in values if not unstorable(v))


def _storable_set(values: frozenset[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(storable(values))


def _storable_after(after: tuple[datetime, str] | None) -> tuple[datetime, str] | None:
    """No stored id holds NUL: "after p + NUL + rest" is "after p" for every stored id."""
    return None if after is None else (after[0], after[1].split("\x00", 1)[0])


def _cleaned(query: Q, ids: str, after: bool) -> Q:
    """A message or note query without unstorable strings (in its owners, threads, its ``ids``
    field and its keyset), and without its keyset unless ``after``."""
    of_ids: dict[str, Any] = {ids: _storable_set(getattr(query, ids))}
    return attrs.evolve(
        query,
        owner_extension_ids=frozenset(storable(query.owner_extension_ids)),
        thread_ids=_storable_set(query.thread_ids),
        after=_storable_after(query.after) if after else None,
        **of_ids,
    )
