"""The PostgreSQL adapter's statements: the SQL of one schema, built once (claims, the event
feed), and the batched writes of a unit of work. ``threadcore.adapters.postgres`` uses them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    THREAD_COLUMNS,
    THREAD_STATE_COLUMNS,
    TOMBSTONE_MESSAGE_SET,
    TOMBSTONE_NOTE_SET,
)

__all__ = ["CACHED_CHARS", "CACHED_PARAMS", "Statements"]

_T_COLS = ", ".join(THREAD_COLUMNS)
_M_COLS = ", ".join(MESSAGE_COLUMNS)
_N_COLS = ", ".join(NOTE_COLUMNS)
_XID = "pg_current_xact_id()::text::bigint"
_WATERMARK = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_STATE_WIDTH = len(THREAD_STATE_COLUMNS)
_STATE_AT = len(THREAD_COLUMNS) - _STATE_WIDTH  # where a thread row's state columns start

_THREAD_TYPES = {
    "creation_time": "timestamptz",
    "last_modified_time": "timestamptz",
    "last_inbound_at": "timestamptz",
    "last_outbound_at": "timestamptz",
    "latest_message_at": "timestamptz",
    "version": "integer",
}
_MESSAGE_TYPES = {
    "created_at": "timestamptz",
    "last_modified_at": "timestamptz",
    "sent_at": "timestamptz",
    "delivered_at": "timestamptz",
    "read_at": "timestamptz",
    "is_automated": "boolean",
    "version": "integer",
}
_NOTE_TYPES = {
    "creation_time": "timestamptz",
    "last_modified_time": "timestamptz",
    "version": "integer",
}
#: Bind parameters per statement of a batch's group, well under the protocol's 65535.
_PARAMS_PER_STATEMENT = 20_000
#: A unit of work's statements stay within psycopg's query-conversion cache
#: (``psycopg._queries``: ``MAX_CACHED_STATEMENT_PARAMS``, ``MAX_CACHED_STATEMENT_LENGTH``):
#: a longer one, or one with more parameters, is converted again (``%s`` to ``$n``) at every
#: run, 80-100 µs a command, where a cached one costs 5-7 (issue 24).
CACHED_PARAMS = 50
CACHED_CHARS = 4096
#: How many statement shapes (kinds and row counts) keep their text: a unit of work's few
#: recur; a batch's groups, of any size, are built anew past this.
_SHAPES_KEPT = 256

Statement = tuple[str, list[Any]]
#: The kinds of write counted by ``threadcore_expect``: versioned updates.
_VERSIONED = frozenset({"update", "message_update", "note_update"})


def _typed(columns: tuple[str, ...], types: dict[str, str]) -> list[str]:
    return [f"%s::{types.get(c, 'text')}" for c in columns]


def _versioned_update(table: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """The head and tail of a versioned ``UPDATE table ... FROM (VALUES`` rows ``)``: each row
    is ``columns`` and the expected version; only rows whose stored version matches change."""
    assignments = ", ".join(f"{c} = v.{c}" for c in columns[1:])
    head = f"UPDATE {table} AS r SET {assignments} FROM (VALUES "
    tail = (
        f") AS v ({', '.join(columns)}, expected) "
        "WHERE r.id = v.id AND r.version = v.expected RETURNING 1"
    )
    return head, tail


class Statements:
    """The SQL of one schema, built once; :meth:`write` builds the writes of a unit of work."""

    def __init__(self, s: str) -> None:
        t = f"{s}.threads"
        self.s = s
        self.threads = t
        self._shapes: dict[tuple[Any, ...], str] = {}  # a statement's text by its shape
        # how a unit of work's pieces are packed, by their kinds and sizes (see ``_planned``)
        self._plans: dict[tuple[Any, ...], list[tuple[str, int, int]]] = {}
        self.events = (
            f"SELECT xid, ordinal, kind, payload FROM {s}.events "
            f"WHERE (xid, ordinal) > (%s, %s) AND xid < {_WATERMARK} "
            "ORDER BY xid, ordinal LIMIT %s"
        )
        self.events_since = (
            f"SELECT e.xid, e.ordinal, e.kind, e.payload FROM {s}.events AS e "
            f'JOIN {t} AS t ON t.id = e.thread_id COLLATE "C" '
            "WHERE (e.xid, e.ordinal) > (%s, %s) AND (e.xid, e.ordinal) <= (%s, %s) "
            f"AND e.xid < {_WATERMARK} AND t.owner_extension_id = ANY(%s) "
            "ORDER BY e.xid, e.ordinal LIMIT %s"
        )
        # Claims (see ``UnitOfWork.claim``): the walks' gate (rule Q2: schema version 11,
        # ``walks_sql``: a function that locks its table, so that the gate comes in the same
        # statement as the first advisory lock), a transaction-level advisory lock on the stored
        # directory (shared by the commands that read it, exclusive for a change of it) and one
        # per pair of numbers (the key text is schema, owner and guest joined by U+001F); then,
        # once granted, one row: the latest instant stored (the newest message or note
        # anywhere, the last change of the claimed thread) and the claimed thread's columns
        # (NULLs when there is none), which the command reads next. Each lock statement takes
        # the gate first (again, if an earlier one took it: a lock held is granted at once), so
        # that it is taken before any other lock. A batch takes no gate (``lock``,
        # ``lock_directory``).
        gated = f"FROM {s}.threadcore_gate()"
        lock = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
        shared = "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))"
        self.lock = lock
        self.lock_directory = {"read": shared, "change": lock}
        self.gate = f"SELECT {s}.threadcore_gate()"
        self.gated_lock = f"{lock} {gated}"
        self.gated_directory = {"read": f"{shared} {gated}", "change": self.gated_lock}
        self.gated_lock_thread = (  # (no such thread: a NULL key, no lock; the gate still)
            "SELECT pg_advisory_xact_lock(hashtextextended("
            f"%s || t.owner_number || chr(31) || t.guest_number, 0)) {gated} AS g "
            f"LEFT JOIN {t} AS t ON t.id = %s"
        )
        # a page of a list walk waits for the commands under way (and holds new ones back while
        # it reads: one statement), giving up after a while if one of them hangs
        self.walk = (
            "SELECT set_config('lock_timeout', '2s', true)",
            f"LOCK TABLE {s}.threadcore_walks IN SHARE MODE",
        )
        latest = (
            f"GREATEST((SELECT max(created_at) FROM {s}.messages), "
            f"(SELECT max(creation_time) FROM {s}.notes))"
        )
        self.latest = f"SELECT {latest}"
        # ... and whether the pair's guest opted out (the read a send or a keyword makes next;
        # NULL: never recorded), under the same lock (issue 24: no round trip of its own)
        opted = f"(SELECT o.opted_out FROM {s}.opt_outs AS o WHERE o.owner_number = %s AND "
        columns = ", ".join(f"t.{c}" for c in THREAD_COLUMNS)
        tail = f"FROM (SELECT 1) AS one LEFT JOIN {t} AS t ON "
        self.claim_pair = (
            f"SELECT GREATEST({latest}, t.last_modified_time), {opted}o.guest_number = %s), "
            f"{columns} {tail}t.owner_number = %s AND t.guest_number = %s "
            "AND t.status = 'Open' AND t.availability = 'Alive'"
        )
        self.claim_thread = (
            f"SELECT GREATEST({latest}, t.last_modified_time), "
            f"{opted.replace('%s', 't.owner_number')}o.guest_number = t.guest_number), "
            f"{columns} {tail}t.id = %s"
        )
        # the message a command names by its carrier id, read with the claim (see
        # ``PostgresUnitOfWork.look_for``)
        self.claim_carrier_id = f"SELECT {_M_COLS} FROM {s}.messages WHERE provider_message_id = %s"
        self.change_position = f"SELECT {_WATERMARK} - 1"
        self.watermark = f"SELECT {_WATERMARK}"
        typed = _typed(THREAD_COLUMNS, _THREAD_TYPES)
        self._thread_values = f"({', '.join(typed)})"
        # a thread update sets the state columns alone (the others are fixed when the thread is
        # created, as on SQLite): 13 parameters, where a whole row took 20
        updated = ("id", *THREAD_STATE_COLUMNS)
        self._update_values = f"({', '.join(_typed(updated, _THREAD_TYPES))}, %s::integer)"
        # a message row, then its resource (the thread's: known when the thread is written in
        # the same unit of work, else read from the stored thread)
        self._message_values = (
            f"({', '.join(['%s'] * len(MESSAGE_COLUMNS))}, coalesce(%s, "
            f"(SELECT o.owner_extension_id FROM {t} AS o WHERE o.id = %s)))"
        )
        self._message_update_values = (
            f"({', '.join(_typed(MESSAGE_COLUMNS, _MESSAGE_TYPES))}, %s::integer)"
        )
        self._note_values = (  # a note row, then its resource, as for a message
            f"({', '.join(['%s'] * len(NOTE_COLUMNS))}, coalesce(%s, "
            f"(SELECT o.owner_extension_id FROM {t} AS o WHERE o.id = %s)))"
        )
        self._note_update_values = f"({', '.join(_typed(NOTE_COLUMNS, _NOTE_TYPES))}, %s::integer)"
        self._event_values = f"({_XID}, %s, %s, %s, %s)"
        assignments = ", ".join(f"{c} = v.{c}" for c in THREAD_STATE_COLUMNS)
        self._update_head = f"UPDATE {t} AS t SET {assignments}, xid = {_XID} FROM (VALUES "
        self._update_tail = (
            f") AS v ({', '.join(updated)}, expected) "
            f"WHERE t.id = v.id AND t.version = v.expected AND t.xid <= {_XID} RETURNING 1"
        )
        self._insert_head = f"INSERT INTO {t} ({_T_COLS}, xid) SELECT v.*, {_XID} FROM (VALUES "
        self._insert_tail = f") AS v ({_T_COLS}) WHERE "
        self._message_head = f"INSERT INTO {s}.messages ({_M_COLS}, owner_extension_id) VALUES "
        self._message_update = _versioned_update(f"{s}.messages", MESSAGE_COLUMNS)
        self._note_head = f"INSERT INTO {s}.notes ({_N_COLS}, owner_extension_id) VALUES "
        self._note_update = _versioned_update(f"{s}.notes", NOTE_COLUMNS)
        self._opt_out_head = (
            f"INSERT INTO {s}.opt_outs (owner_number, guest_number, opted_out) VALUES "
        )
        self._opt_out_tail = (
            " ON CONFLICT (owner_number, guest_number) DO UPDATE SET opted_out = EXCLUDED.opted_out"
        )
        self._event_head = (
            f"INSERT INTO {s}.events (xid, ordinal, thread_id, kind, payload) VALUES "
        )

    def write(
        self,
        threads: list[tuple[tuple[Any, ...], int]],
        messages: list[tuple[Any, ...]],
        events: list[tuple[Any, ...]],
        *,
        message_updates: Sequence[tuple[tuple[Any, ...], int]] = (),
        notes: Sequence[tuple[tuple[Any, ...], int]] = (),
        tombstones: Sequence[tuple[str, datetime]] = (),
        spared: Sequence[str] = (),
        opt_outs: Sequence[tuple[str, str, bool]] = (),
        compact: bool = False,
    ) -> list[Statement]:
        """The statements that store a unit of work, in order (usually exactly one). A message
        row is a row of ``MESSAGE_COLUMNS`` and then its resource's extension id (``None`` when
        its thread is not written with it) and its thread id again; so is a note row to insert
        (of ``NOTE_COLUMNS``; a note update's row is the note's columns alone).

        Each is ``WITH w0 AS (...), w1 AS (...) SELECT threadcore_expect(updated, wanted)``:
        thread updates (versioned, and never behind a newer writer's stamp), thread inserts
        (ordered after the updates, so a pair's old thread is closed before its new one is
        inserted), messages, message updates (versioned), notes (inserts, versioned updates),
        tombstones of the threads' messages and notes (sparing the ids in ``spared``: rows this
        unit of work writes, which carry their tombstone already), opt-outs (upserts), events. A
        versioned update that matches no row makes ``threadcore_expect`` raise, and the whole
        statement (the transaction) is undone.

        ``compact`` (a unit of work's writes): each statement within psycopg's conversion
        cache (:data:`CACHED_PARAMS`, :data:`CACHED_CHARS`), so the client converts none again:
        usually two or three, sent together with the ``COMMIT`` in one round trip. Otherwise (a
        batch's group, sent without conversion) as few as hold
        ``_PARAMS_PER_STATEMENT`` parameters.
        """
        pieces: list[tuple[str, list[Any], int]] = []  # kind, params, rows
        width = len(THREAD_COLUMNS)
        updates = sorted((r for r in threads if r[1] != 0), key=lambda r: str(r[0][0]))
        inserts: Sequence[tuple[Any, ...]] = [row for row, expected in threads if expected == 0]
        by_id = sorted(message_updates, key=lambda r: str(r[0][0]))
        note_updates = sorted((r for r in notes if r[1] != 0), key=lambda r: str(r[0][0]))
        note_inserts = [row for row, expected in notes if expected == 0]
        buried = [(at, thread_id) for thread_id, at in tombstones]
        most = CACHED_PARAMS if compact else _PARAMS_PER_STATEMENT
        for kind, rows, size in (
            ("update", [(row[0], *row[_STATE_AT:], e) for row, e in updates], _STATE_WIDTH + 2),
            ("insert", inserts, width),
            ("message", messages, len(MESSAGE_COLUMNS) + 2),
            ("message_update", [(*r, e) for r, e in by_id], len(MESSAGE_COLUMNS) + 1),
            ("note", note_inserts, len(NOTE_COLUMNS) + 2),
            ("note_update", [(*r, e) for r, e in note_updates], len(NOTE_COLUMNS) + 1),
            ("tombstone_messages", buried, 2),
            ("tombstone_notes", buried, 2),
            ("opt_out", opt_outs, 3),
            ("event", events, 4),
        ):
            per = max(1, (most - 1) // size)  # (a tombstone's spared ids: one more)
            for i in range(0, len(rows), per):
                chunk = rows[i : i + per]
                params = [value for row in chunk for value in row]
                if kind.startswith("tombstone") and spared:
                    params.append(list(spared))
                pieces.append((kind, params, len(chunk)))
        return self._planned(pieces, bool(spared), most, CACHED_CHARS if compact else None)

    def _planned(
        self, pieces: list[tuple[str, list[Any], int]], spare: bool, most: int, chars: int | None
    ) -> list[Statement]:
        """:meth:`_packed`, planned once per shape of ``pieces`` (their kinds, parameter and
        row counts): a unit of work's few shapes recur, and packing measures the text of each
        piece it adds. Packing keeps the pieces' order and splits a piece only into consecutive
        parts, so each statement's parameters are a slice of all the pieces' parameters in order;
        the plan keeps each statement's text and slice."""
        shape = (spare, most, chars, *((kind, len(values), rows) for kind, values, rows in pieces))
        plan = self._plans.get(shape)
        if plan is None:
            at = 0
            numbered: list[tuple[str, list[Any], int]] = []
            for kind, values, rows in pieces:  # each parameter stands for its position
                numbered.append((kind, list(range(at, at + len(values))), rows))
                at += len(values)
            plan = [
                (sql, positions[0], positions[-1] + 1) if positions else (sql, at, at)
                for sql, positions in self._packed(numbered, spare, most, chars)
            ]
            if len(self._plans) < _SHAPES_KEPT:
                self._plans[shape] = plan
        flat = [value for _, values, _ in pieces for value in values]
        return [(sql, flat[start:end]) for sql, start, end in plan]

    def _packed(
        self, pieces: list[tuple[str, list[Any], int]], spare: bool, most: int, chars: int | None
    ) -> list[Statement]:
        """``pieces`` in order, in as few statements as hold them, each with at most ``most``
        parameters and (unless ``chars`` is ``None``) at most ``chars`` characters: a piece too
        long alone is split into smaller ones."""
        statements: list[Statement] = []
        current: list[tuple[str, list[Any], int]] = []
        held = 0  # the parameters of ``current``
        for piece in pieces:
            if current:
                fits = held + len(piece[1]) <= most
                if fits and chars is not None:
                    fits = len(self._sql([*current, piece], spare)) <= chars
                if not fits:
                    statements.append(self._statement(current, spare))
                    current, held = [], 0
            kind, params, rows = piece
            if chars is not None and rows > 1 and len(self._sql([piece], spare)) > chars:
                size, half = len(params) // rows, rows // 2
                statements += self._packed(
                    [
                        (kind, params[: half * size], half),
                        (kind, params[half * size :], rows - half),
                    ],
                    spare,
                    most,
                    chars,
                )
                continue
            current.append(piece)
            held += len(params)
        if current:
            statements.append(self._statement(current, spare))
        return statements

    def _statement(self, pieces: list[tuple[str, list[Any], int]], spare: bool) -> Statement:
        """One statement of ``pieces``: its text depends only on their kinds and row counts (its
        shape), so a shape's text is built once (a unit of work's few shapes recur)."""
        return self._sql(pieces, spare), [value for _, values, _ in pieces for value in values]

    def _sql(self, pieces: list[tuple[str, list[Any], int]], spare: bool) -> str:
        """The text of a statement of ``pieces`` (built once per shape, see :meth:`_statement`):
        what the packing measures, without gathering the parameters."""
        shape = (spare, *((kind, rows) for kind, _, rows in pieces))
        sql = self._shapes.get(shape)
        if sql is None:
            sql = self._text(pieces, spare)
            if len(self._shapes) < _SHAPES_KEPT:
                self._shapes[shape] = sql
        return sql

    def _text(self, pieces: list[tuple[str, list[Any], int]], spare: bool) -> str:
        ctes: list[str] = []
        updated: list[str] = []
        wanted = 0
        for n, (kind, _, rows) in enumerate(pieces):
            name = f"w{n}"
            if kind == "update":
                body = self._update_head + ", ".join([self._update_values] * rows)
                body += self._update_tail
            elif kind == "insert":
                after = " + ".join(f"(SELECT count(*) FROM {u})" for u in updated) or "0"
                body = self._insert_head + ", ".join([self._thread_values] * rows)
                body += f"{self._insert_tail}{after} >= 0"
            elif kind == "message":
                body = self._message_head + ", ".join([self._message_values] * rows)
            elif kind == "message_update":
                head, tail = self._message_update
                body = head + ", ".join([self._message_update_values] * rows) + tail
            elif kind == "note":
                body = self._note_head + ", ".join([self._note_values] * rows)
            elif kind == "note_update":
                head, tail = self._note_update
                body = head + ", ".join([self._note_update_values] * rows) + tail
            elif kind == "tombstone_messages":
                body = self._tombstone_many("messages", TOMBSTONE_MESSAGE_SET, rows, spare)
            elif kind == "tombstone_notes":
                body = self._tombstone_many("notes", TOMBSTONE_NOTE_SET, rows, spare)
            elif kind == "opt_out":
                body = self._opt_out_head + ", ".join(["(%s, %s, %s)"] * rows)
                body += self._opt_out_tail
            else:
                body = self._event_head + ", ".join([self._event_values] * rows)
            if kind in _VERSIONED:
                updated.append(name)
                wanted += rows
            ctes.append(f"{name} AS ({body})")
        found = " + ".join(f"(SELECT count(*) FROM {u})" for u in updated) or "0"
        # (how many rows it updates is part of its shape: written in it, not a parameter more)
        return f"WITH {', '.join(ctes)} SELECT {self.s}.threadcore_expect({found}, {wanted})"

    def _tombstone_many(self, table: str, assignments: str, rows: int, spare: bool) -> str:
        values = ", ".join(["(%s::timestamptz, %s::text)"] * rows)
        spared = " AND r.id <> ALL(%s::text[])" if spare else ""
        return (
            f"UPDATE {self.s}.{table} AS r SET {assignments.format(at='v.at')} "
            f"FROM (VALUES {values}) AS v (at, thread_id) "
            f"WHERE r.thread_id = v.thread_id AND r.availability = 'Alive'{spared}"
        )
