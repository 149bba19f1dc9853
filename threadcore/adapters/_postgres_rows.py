"""The rows a PostgreSQL unit of work writes, and the statements that store them (one statement
of data-modifying CTEs per unit of work, or per group of a batch): what the repository, its units
of work and its batches share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._postgres_statements import Statements
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    THREAD_COLUMNS,
    event_to_json,
    message_to_row,
    note_to_row,
    thread_to_row,
    tombstone_message_row,
    tombstone_note_row,
)
from threadcore.adapters._sql_attachments import postgres_store_sql
from threadcore.adapters._sql_reads import Dialect
from threadcore.domain.errors import InvalidInput, StorageError

__all__ = [
    "MAX_BIGINT",
    "MAX_ORDINAL",
    "ORDINAL_BITS",
    "ORDINAL_MASK",
    "UNREAD",
    "Connection",
    "WriteTarget",
    "rows_of",
    "utc",
    "write_statements",
]

Connection = psycopg.Connection[tuple[Any, ...]]

OPT_OUT_COLUMNS = ("owner_number", "guest_number", "opted_out")
ORDINAL_BITS = 32
MAX_BIGINT = 2**63 - 1
MAX_ORDINAL = 2**31 - 1  # the ordinal column is an integer
ORDINAL_MASK = (1 << ORDINAL_BITS) - 1

#: What a unit of work holds for the stored clock before its claim read it.
UNREAD: Any = object()


def utc(value: datetime) -> datetime:
    """Rows come back in the session's time zone: hand out timezone-aware UTC."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def same(value: datetime) -> datetime:
    return value


def refuse_nul(*groups: tuple[Iterable[tuple[Any, ...]], tuple[str, ...]]) -> None:
    """PostgreSQL text cannot hold NUL: refuse such a write (``(rows, their columns)`` groups) as
    bad input (422), not as a storage failure, before anything is sent."""
    for rows, columns in groups:
        for row in rows:
            if "\x00" not in "".join([v for v in row if type(v) is str]):
                continue  # (the usual case, in one pass; which column, only when one has it)
            for column, value in zip(columns, row, strict=True):
                if type(value) is str and "\x00" in value:
                    parameter = "provider_message_id" if column == "provider_message_id" else None
                    raise InvalidInput(
                        f"Text stored in PostgreSQL cannot contain NUL ({column})",
                        parameter=parameter,
                    )


def tombstoned(
    rows: list[tuple[Any, ...]],
    tombstones: dict[str, datetime],
    tombstone: Callable[[tuple[Any, ...], Any], tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """Message or note rows written in this unit of work as the tombstones buffered with them
    leave them (tombstones apply after the other writes, as in the in-memory repository). The
    statement's tombstone UPDATE cannot see rows inserted by the same statement, and must not
    update a row another part of the statement updates, so these rows carry it themselves (and
    are left out of that UPDATE). The thread id is the second column of both tables."""
    out = []
    for row in rows:
        at = tombstones.get(row[1])
        out.append(row if at is None else tombstone(row, at))
    return out


class WriteTarget(Protocol):
    """**Protocol**: what :func:`write_statements` reads of the PostgreSQL repository (which
    satisfies it; declared here so that this lower module does not import it)."""

    _s: str  # the quoted schema name
    _sql: Statements
    _dialect: Dialect
    _notify: bool
    _channel: str


def write_statements(
    repo: WriteTarget, writes: BufferedWrites, first: int, *, compact: bool = False
) -> list[tuple[str, Any]]:
    """The statements that store ``writes`` (a unit of work's, or a batch's group), its
    events numbered from ``first``: the directory's changes, then one statement of
    data-modifying CTEs (several if it is too large; ``compact``: each within psycopg's
    conversion cache, see :meth:`Statements.write`), then a NOTIFY if asked for."""
    thread_rows, message_rows, update_rows, note_rows, opt_outs = rows_of(writes)
    tombstones: dict[str, datetime] = {}
    for thread_id, at in writes._tombstones:
        tombstones.setdefault(thread_id, at)  # the first buries; later ones find none alive
    spared: list[str] = []
    if tombstones:
        message_rows = tombstoned(message_rows, tombstones, tombstone_message_row)
        updated = tombstoned([r for r, _ in update_rows], tombstones, tombstone_message_row)
        update_rows = [(r, v) for r, (_, v) in zip(updated, update_rows, strict=True)]
        noted = tombstoned([r for r, _ in note_rows], tombstones, tombstone_note_row)
        note_rows = [(r, v) for r, (_, v) in zip(noted, note_rows, strict=True)]
        spared = sorted(
            str(row[0])
            for row in (*(r for r, _ in update_rows), *(r for r, _ in note_rows))
            if row[1] in tombstones
        )
    owners = {t.id: t.owner.extension_id for t, _ in writes._threads.values()}
    message_rows = [(*row, owners.get(row[1]), row[1]) for row in message_rows]
    note_rows = [
        ((*row, owners.get(row[1]), row[1]) if version == 0 else row, version)
        for row, version in note_rows
    ]
    events = writes._events
    if first + len(events) > MAX_ORDINAL:
        raise StorageError("Too many events in one transaction")
    event_rows = [(n, e.thread_id, *event_to_json(e)) for n, e in enumerate(events, first)]
    # the directory's changes first (none without a stored directory), files' bytes before
    # the messages naming them (rule M8), then the rest
    statements: list[tuple[str, Any]] = [*repo._dialect.directory_writes(writes._resources)]
    if writes._attachments:  # in key order: rows are locked in one order
        files = sorted(writes._attachments.items())
        statements.append(
            (postgres_store_sql(repo._s, len(files)), [v for file in files for v in file])
        )
    statements += repo._sql.write(
        thread_rows,
        message_rows,
        event_rows,
        message_updates=update_rows,
        notes=note_rows,
        tombstones=list(tombstones.items()),
        spared=spared,
        opt_outs=opt_outs,
        compact=compact,
    )
    if events and repo._notify:  # consumers listening wake at the commit
        statements.append(("SELECT pg_notify(%s, '')", (repo._channel,)))
    return statements


def rows_of(writes: BufferedWrites) -> tuple[list[Any], ...]:
    """The rows of a buffer of writes, with their expected versions where they have one; text
    with NUL is refused (``InvalidInput``) before anything is sent."""
    thread_rows = [(thread_to_row(t, same), v) for t, v in writes._threads.values()]
    message_rows = [message_to_row(m, same) for m in writes._messages]
    update_rows = [(message_to_row(m, same), v) for m, v in writes._message_updates.values()]
    note_rows = [(note_to_row(n, same), v) for n, v in writes._notes.values()]
    opt_outs = [(owner, guest, out) for (owner, guest), out in writes._opt_outs.items()]
    refuse_nul(
        (message_rows, MESSAGE_COLUMNS),
        ((row for row, _ in update_rows), MESSAGE_COLUMNS),
        ((row for row, _ in thread_rows), THREAD_COLUMNS),
        ((row for row, _ in note_rows), NOTE_COLUMNS),
        (opt_outs, OPT_OUT_COLUMNS),
    )
    return thread_rows, message_rows, update_rows, note_rows, opt_outs
