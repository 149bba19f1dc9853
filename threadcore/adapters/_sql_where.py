"""The WHERE clauses of the shared SQL reads (:mod:`threadcore.adapters._sql_reads`), in either
dialect: what a :class:`~threadcore.ports.ThreadQuery`, :class:`~threadcore.ports.MessageQuery`
or :class:`~threadcore.ports.NoteQuery` selects, and the open threads of a resource."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from threadcore.adapters._sql import OPEN, TimeOut
from threadcore.domain.model import ThreadStatus
from threadcore.ports import MessageQuery, NoteQuery, ThreadQuery

__all__ = [
    "MESSAGE_ORDER",
    "NOTE_ORDER",
    "AnyOf",
    "message_query_where",
    "note_query_where",
    "open_threads_where",
    "thread_query_where",
]


AnyOf = Callable[[str, list[str]], tuple[str, list[Any]]]


class _Where:
    """A WHERE clause in a dialect, built up with its parameters: ``mark`` is the placeholder,
    ``time_out`` converts times, ``any_of(column, values)`` writes a membership test."""

    def __init__(self, mark: str, time_out: TimeOut, any_of: AnyOf, *clauses: str) -> None:
        self.mark, self.time_out, self.any_of = mark, time_out, any_of
        self.clauses: list[str] = list(clauses)
        self.params: list[Any] = []

    def member(self, column: str, values: Iterable[str] | None) -> bool:
        """``column`` in ``values`` (no test for ``None``); ``False`` when ``values`` is empty:
        nothing can match, and the clause says so."""
        if values is None:
            return True
        ordered = sorted(values)
        clause, params = self.any_of(column, ordered)
        self.clauses.append(clause)
        self.params += params
        return bool(ordered)

    def records(
        self,
        alias: str,
        owner_column: str,
        query: MessageQuery | NoteQuery,
        ids: frozenset[str] | None,
    ) -> bool:
        """What a message and a note query both narrow by, for the records ``alias`` names: the
        resources (read from ``owner_column``), availabilities, threads and record ``ids``;
        ``False`` when nothing can match."""
        return (
            self.member(owner_column, query.owner_extension_ids)
            and self.member(f"{alias}.availability", {a.value for a in query.availability})
            and self.member(f"{alias}.thread_id", query.thread_ids)
            and self.member(f"{alias}.id", ids)
        )

    def compare(self, expression: str, value: Any) -> None:
        """``expression`` with one ``{}`` for the placeholder, and its value."""
        self.clauses.append(expression.format(self.mark))
        self.params.append(value)

    def created(self, column: str, start: datetime | None, end: datetime | None) -> None:
        """``column`` in the half-open interval [start, end) (either end may be open)."""
        if start is not None:
            self.compare(f"{column} >= {{}}", self.time_out(start))
        if end is not None:
            self.compare(f"{column} < {{}}", self.time_out(end))

    def after(self, columns: str, key: tuple[datetime, str] | None) -> None:
        """Keyset paging: the rows whose ``columns`` (creation time, id) follow ``key``."""
        if key is not None:
            self.clauses.append(f"({columns}) > ({self.mark}, {self.mark})")
            self.params += [self.time_out(key[0]), key[1]]

    def status_now(self, status: ThreadStatus | None, due_cutoff: datetime, prefix: str) -> None:
        if status is not None:
            self.compare(_status_where(status, "{}", prefix), self.time_out(due_cutoff))

    def built(self) -> tuple[str, list[Any]]:
        return " AND ".join(self.clauses), self.params


def thread_query_where(
    query: ThreadQuery,
    with_after: bool,
    mark: str,
    time_out: TimeOut,
    any_of: AnyOf,
) -> tuple[str, list[Any]]:
    """The WHERE clause and its parameters for ``query`` in a dialect: ``mark`` is the
    placeholder, ``time_out`` converts times, ``any_of(column, values)`` writes a membership
    test. The status is the status now: a stored Open, Alive thread whose latest message is at
    or before the query's due cutoff counts as Resolved."""
    where = _Where(mark, time_out, any_of)
    where.member("owner_extension_id", query.owner_extension_ids)
    where.member("availability", (a.value for a in query.availability))
    for column, value in (
        ("owner_number", query.owner_number),
        ("guest_number", query.guest_number),
    ):
        if value is not None:
            where.compare(f"{column} = {{}}", value)
    where.created("creation_time", query.creation_time_from, query.creation_time_to)
    where.status_now(query.status, query.due_cutoff, "")
    if with_after:
        where.after("creation_time, id", query.after)
    return where.built()


def open_threads_where(mark: str, **equal: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters selecting stored Open, Alive threads whose given columns
    equal the given values (``None`` values are not criteria); ``mark`` is the placeholder."""
    where, params = [OPEN], []
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(value)
    return " AND ".join(where), params


def _status_where(status: ThreadStatus, mark: str, prefix: str) -> str:
    """The thread status as it is now (one ``mark``: the due cutoff); ``prefix`` qualifies the
    threads' columns (``"t."``) where another table has columns of the same names."""
    p = prefix
    due = f"({p}status = 'Open' AND {p}availability = 'Alive' AND {p}latest_message_at <= {mark})"
    if status is ThreadStatus.OPEN:
        return f"{p}status = 'Open' AND NOT {due}"
    return f"({p}status = 'Resolved' OR {due})"


#: The keyset order of the query builders below, which expect messages as ``m``, notes as
#: ``n`` and their threads as ``t`` (joined on ``t.id = m.thread_id`` / ``t.id = n.thread_id``).
MESSAGE_ORDER = "ORDER BY m.created_at, m.id"
NOTE_ORDER = "ORDER BY n.creation_time, n.id"


def message_query_where(
    query: MessageQuery,
    mark: str,
    time_out: TimeOut,
    any_of: AnyOf,
    owner_column: str = "t.owner_extension_id",
    threads: str | None = None,
    probe: bool = False,
) -> tuple[str, list[Any]] | None:
    """The WHERE clause and parameters selecting ``query``'s messages from ``messages m`` joined
    with their ``threads t``, or ``None`` when nothing can match (an empty set of owners, ids or
    availabilities). Drafts are never selected. ``mark``, ``time_out`` and ``any_of`` as in
    :func:`thread_query_where`; the thread status is the status now (``query.due_cutoff``). The
    resource is read from ``owner_column``.

    With ``threads`` (the threads table, where messages carry their resource: ``m`` alone, not
    joined), the thread status is a semi-join on the resources' threads: the database reads
    those threads (a few per resource, from an index that covers their status) instead of
    looking up the thread of every message. With ``probe`` as well, each message's thread is
    looked up as the messages are walked in list order instead, so a first page stops after a
    page of matches: right where most messages match (resolved threads, which accumulate, where
    open ones expire within the policy's window); PostgreSQL cannot tell, since it does not know
    that a message's resource is its thread's."""
    where = _Where(mark, time_out, any_of, "m.status <> 'Draft'")
    if not where.records("m", owner_column, query, query.message_ids):
        return None
    where.created("m.created_at", query.creation_time_from, query.creation_time_to)
    if threads is None or query.thread_status is None:
        where.status_now(query.thread_status, query.due_cutoff, "t.")
    else:
        inner = _Where(mark, time_out, any_of)
        if not probe:
            inner.member("t.owner_extension_id", query.owner_extension_ids)
        inner.status_now(query.thread_status, query.due_cutoff, "t.")
        clause, params = inner.built()
        where.clauses.append(
            f"(SELECT {clause} FROM {threads} AS t WHERE t.id = m.thread_id)"
            if probe
            else f"m.thread_id IN (SELECT t.id FROM {threads} AS t WHERE {clause})"
        )
        where.params += params
    where.after("m.created_at, m.id", query.after)
    return where.built()


def note_query_where(
    query: NoteQuery,
    mark: str,
    time_out: TimeOut,
    any_of: AnyOf,
    owner_column: str = "t.owner_extension_id",
) -> tuple[str, list[Any]] | None:
    """The WHERE clause and parameters selecting ``query``'s notes from ``notes n`` joined with
    their ``threads t`` (or alone, when ``owner_column`` is the note's), or ``None`` when nothing
    can match; arguments as in :func:`message_query_where`."""
    where = _Where(mark, time_out, any_of)
    if not where.records("n", owner_column, query, query.note_ids):
        return None
    where.after("n.creation_time, n.id", query.after)
    return where.built()
