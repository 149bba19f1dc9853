"""The SQLite unit of work: one ``BEGIN IMMEDIATE`` transaction (see
:mod:`threadcore.adapters.sqlite`), its claim, the change feed, and the buffered writes applied
when it ends; and the statements it runs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC
from functools import lru_cache
from typing import Any, Protocol, Unpack

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    OPEN,
    THREAD_COLUMNS,
    THREAD_STATE_COLUMNS,
    TOMBSTONE_MESSAGE_SET,
    TOMBSTONE_NOTE_SET,
    event_from_json,
    event_to_json,
    message_to_row,
    note_to_row,
    thread_from_row,
    thread_state_row,
    thread_to_row,
    time_from_text,
    time_to_text,
)
from threadcore.adapters._sql_attachments import sqlite_statements
from threadcore.adapters._sql_reads import Dialect, SQLReads
from threadcore.adapters._sqlite_base import LATEST, UNREAD, any_of, check_batch_alive, translate
from threadcore.domain.errors import ConcurrencyConflict, NestedUnitOfWork
from threadcore.domain.model import Availability, Thread
from threadcore.ports import Claim, ClaimArgs, StoredEvent

__all__ = ["SQLiteUnitOfWork", "UnitTarget"]

_T_COLS = ", ".join(THREAD_COLUMNS)
_STATE_AT = len(THREAD_COLUMNS) - len(THREAD_STATE_COLUMNS)  # where the state starts in a row
# The next change position, as a subquery (the highest is one index step away, and writers are
# serialised by BEGIN IMMEDIATE, so the highest is ours to extend).
_NEXT_CHANGE = "(SELECT coalesce(max(change_position), 0) + 1 FROM threads)"
_INSERT_THREAD = (
    f"INSERT INTO threads ({_T_COLS}, change_position) "
    f"VALUES ({', '.join('?' * len(THREAD_COLUMNS))}, {_NEXT_CHANGE})"
)
# What :meth:`SQLiteUnitOfWork.claim` reads: the newest message or note anywhere (an index's
# last entry) and, in the same statement, the thread the command names (every column: the
# command's read of it is answered from the claim's, one statement fewer per command). The
# constant row keeps one row when no thread matches.
_CLAIM = f"SELECT ({LATEST})"
_CLAIM_THREAD = f"SELECT ({LATEST}), {_T_COLS} FROM (SELECT 1) LEFT JOIN threads ON id = ?"
_CLAIM_PAIR = (
    f"SELECT ({LATEST}), {_T_COLS} FROM (SELECT 1) LEFT JOIN threads "
    f"ON owner_number = ? AND guest_number = ? AND {OPEN}"
)
_UNCLAIMED = Claim(None)  # no claim made yet in this unit of work: no read answered from it
_UPDATE_MESSAGE = (
    f"UPDATE messages SET {', '.join(f'{c} = ?' for c in MESSAGE_COLUMNS[1:])} "
    "WHERE id = ? AND version = ?"
)
_N_COLS = ", ".join(NOTE_COLUMNS)
_INSERT_NOTE = f"INSERT INTO notes ({_N_COLS}) VALUES ({', '.join('?' * len(NOTE_COLUMNS))})"
_UPDATE_NOTE = (
    f"UPDATE notes SET {', '.join(f'{c} = ?' for c in NOTE_COLUMNS[1:])} "
    "WHERE id = ? AND version = ?"
)
_TOMBSTONE_MESSAGES = (
    f"UPDATE messages SET {TOMBSTONE_MESSAGE_SET.format(at='?')} "
    "WHERE thread_id = ? AND availability = 'Alive'"
)
_TOMBSTONE_NOTES = (
    f"UPDATE notes SET {TOMBSTONE_NOTE_SET.format(at='?')} "
    "WHERE thread_id = ? AND availability = 'Alive'"
)
_SET_OPTED_OUT = (
    "INSERT INTO opt_outs (owner_number, guest_number, opted_out) VALUES (?, ?, ?) "
    "ON CONFLICT (owner_number, guest_number) DO UPDATE SET opted_out = excluded.opted_out"
)
_INSERT_EVENT = "INSERT INTO events (thread_id, kind, payload) VALUES (?, ?, ?)"
_EVERY_STATE_COLUMN = tuple(range(len(THREAD_STATE_COLUMNS)))
_EVERY_MESSAGE_COLUMN = tuple(range(len(MESSAGE_COLUMNS)))
_DECODED_LIMIT = 4096  # threads kept decoded per repository (SQLiteUnitOfWork._threads_from)
_ALIVE = Availability.ALIVE


@lru_cache(maxsize=512)
def _insert_message(present: tuple[int, ...]) -> str:
    """The INSERT naming only the message columns at ``present``; the others are NULL. Most of a
    message's 25 columns are NULL, and the driver binds a NULL parameter slowly (it looks for an
    adapter for ``None``): 2.9 of the 9 µs an insert spends binding."""
    columns = ", ".join(MESSAGE_COLUMNS[i] for i in present)
    return f"INSERT INTO messages ({columns}) VALUES ({', '.join('?' * len(present))})"


@lru_cache(maxsize=512)
def _update_thread(changed: tuple[int, ...]) -> str:
    """The UPDATE setting the thread state columns at ``changed`` (and the change position).

    Only what changed is SET: SQLite rewrites an index only when a column it covers is SET, so a
    message leaves the pair's and the owner's indexes, and the partial indexes over status and
    availability, untouched; fewer parameters also bind faster."""
    sets = "".join(f"{THREAD_STATE_COLUMNS[i]} = ?, " for i in changed)
    return f"UPDATE threads SET {sets}change_position = {_NEXT_CHANGE} WHERE id = ? AND version = ?"


_STORE_FILE, _SWEEP_FILES = sqlite_statements()


class UnitTarget(Protocol):
    """**Protocol**: what a :class:`SQLiteUnitOfWork` uses of its repository (the
    :class:`~threadcore.adapters.sqlite.SQLiteRepository` satisfies it; declared here so that
    this lower module does not import it)."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _open: bool  # a unit of work is open (in the thread that holds the lock)
    _depth: int  # nesting of units of work inside a batch
    _clock_seen: object  # the stored clock, as the open unit of work read it
    _decoded: dict[str, tuple[tuple[Any, ...], Thread]]  # see SQLiteUnitOfWork._threads_from


class SQLiteUnitOfWork(SQLReads, BufferedWrites):
    __slots__ = ("_claimed", "_conn", "_loaded", "_repo")

    _dialect = Dialect(mark="?", to_db=time_to_text, from_db=time_from_text, any_of=any_of)

    def __init__(self, repo: UnitTarget) -> None:
        super().__init__()
        self._repo = repo
        self._conn = repo._conn
        # the stored row of each thread read in this unit of work, as first read
        self._loaded: dict[str, tuple[Any, ...]] = {}
        self._claimed = _UNCLAIMED  # what the claim read (its thread answers the reads of it)

    def __enter__(self) -> SQLiteUnitOfWork:
        # Outside a batch: one transaction, whose write lock is taken now, so that what this
        # unit of work reads is still so when it writes. Inside one, the batch holds the lock.
        self._repo._lock.acquire()
        if self._repo._open:  # begun again by the thread that holds it: refused everywhere
            self._repo._lock.release()
            raise NestedUnitOfWork()
        self._repo._open = True
        self._conn = self._repo._conn  # (the repository's connection, as it is now)
        if not self._repo._depth:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except BaseException as error:
                self._repo._open = False
                self._repo._lock.release()
                if isinstance(error, sqlite3.Error):
                    raise translate(error) from error
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        conn = self._conn
        try:
            if self._repo._depth:
                if exc_type is None:
                    self._write_in_savepoint()
            elif exc_type is None:
                try:
                    self._write()
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise translate(error) from error
        finally:
            try:
                # The repository hands out this one object for every unit of work (its lock
                # makes them one at a time): nothing of this one is left for the next.
                self._clear()
                if self._loaded:
                    self._loaded.clear()
                self._claimed = _UNCLAIMED
            finally:  # the lock is released whatever interrupts the clearing
                self._repo._open = False
                self._repo._clock_seen = UNREAD
                self._repo._lock.release()

    def _write_in_savepoint(self) -> None:
        """Write inside a batch: in a savepoint, so that a write refused by the storage undoes
        this unit of work alone (a unit of work that writes nothing opens none)."""
        if not self._has_writes():
            return
        conn = self._conn
        check_batch_alive(conn)  # else SAVEPOINT would begin, and RELEASE commit, a new one
        conn.execute("SAVEPOINT threadcore_command")
        try:
            self._write()
        except BaseException:
            conn.execute("ROLLBACK TO threadcore_command")
            conn.execute("RELEASE threadcore_command")
            raise
        conn.execute("RELEASE threadcore_command")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as error:
            raise translate(error) from error

    def _threads_from(self, rows: list[Any]) -> list[Thread]:
        """Threads from rows of :data:`THREAD_COLUMNS`, remembering their stored rows.

        A row equal to the one this repository last wrote for the same thread is answered
        with the thread it wrote (:meth:`_remember`), not decoded again: the next command on a
        thread reads back what the last one wrote, and decoding a row (records, times, enums)
        costs several times the comparison. The threads kept come back from their rows equal
        and alike (the row functions are each other's inverse), so the answer is the one a
        decode would give; a row changed since, by any connection, is decoded."""
        return [self._thread_from(row) for row in rows]

    def _thread_from(self, row: tuple[Any, ...]) -> Thread:
        """The thread of one row of :data:`THREAD_COLUMNS` (:meth:`_threads_from`)."""
        thread_id = row[0]
        known = self._repo._decoded.get(thread_id)
        self._loaded.setdefault(thread_id, row)
        if known is not None and known[0] == row:
            return known[1]
        return thread_from_row(row, time_from_text)

    # --- reads ----------------------------------------------------------------------------------
    def claim(self, **on: Unpack[ClaimArgs]) -> Claim:
        # The write lock taken by BEGIN IMMEDIATE already serialises every writer (and every
        # change of the stored directory with the commands that read it; and thread creation:
        # no CreationClaims needed, rule Q2).
        pair, thread_id = on.get("pair"), on.get("thread_id")
        subject: tuple[str, str] | str
        try:
            if pair is not None:
                subject = pair
                row = self._conn.execute(_CLAIM_PAIR, pair).fetchone()
            elif thread_id is not None:
                subject = thread_id
                row = self._conn.execute(_CLAIM_THREAD, (thread_id,)).fetchone()
            else:
                (latest,) = self._conn.execute(_CLAIM).fetchone()
                return Claim(None if latest is None else time_from_text(latest))
        except sqlite3.Error as error:
            raise translate(error) from error
        latest = row[0]
        floor = None if latest is None else time_from_text(latest)
        thread = None
        if row[1] is not None:
            thread = self._thread_from(row[1:])
            if floor is None or thread.last_modified_time > floor:
                floor = thread.last_modified_time
        self._claimed = claimed = Claim(floor, subject=subject, thread=thread)
        return claimed

    def thread(self, thread_id: str) -> Thread | None:
        claimed = self._claimed
        if claimed.subject == thread_id:
            return claimed.thread  # read by the claim, in this transaction
        return super().thread(thread_id)

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        claimed = self._claimed
        if claimed.subject == (owner_number, guest_number):
            return claimed.thread  # read by the claim, in this transaction
        return super().open_thread_for_pair(owner_number, guest_number)

    def change_position(self) -> int:
        (value,) = self._all("SELECT coalesce(max(change_position), 0) FROM threads")[0]
        return int(value)

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        if not owner_extension_ids:
            return []
        owned, owners = any_of("owner_extension_id", sorted(owner_extension_ids))
        return self._threads_where(
            f"change_position > ? AND {owned}",
            (position, *owners),
            f"ORDER BY change_position LIMIT {int(limit) + 1}",
        )

    def event_position(self) -> int:
        # Writers are serialised and commit in position order: every event at or below the
        # highest stored position is visible, and every later one gets a higher position.
        (value,) = self._all("SELECT coalesce(max(position), 0) FROM events")[0]
        return int(value)

    def events_since(
        self, after: int, until: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[StoredEvent]:
        if not owner_extension_ids or until <= after or limit < 0:
            return []
        owned, owners = any_of("t.owner_extension_id", sorted(owner_extension_ids))
        # CROSS JOIN: walk the events by position and look each thread up, whatever the
        # planner's statistics say.
        rows = self._all(
            "SELECT e.position, e.kind, e.payload FROM events AS e CROSS JOIN threads AS t "
            "ON t.id = e.thread_id WHERE e.position > ? AND e.position <= ? "
            f"AND {owned} ORDER BY e.position LIMIT {int(limit) + 1}",
            (after, until, *owners),
        )
        return [(position, event_from_json(kind, payload)) for position, kind, payload in rows]

    def _write(self) -> None:
        # The writes every command makes come first and inline; the others (rarer) only when
        # there are some: a command writes two or three kinds of record, and each loop over an
        # empty buffer costs.
        execute = self._conn.execute
        if self._attachments:
            for key, content in self._attachments.items():  # before the messages naming them
                execute(_STORE_FILE, (key, content))
        for thread, expected in self._threads.values():
            if expected == 0:
                row = thread_to_row(thread, time_to_text)
                execute(_INSERT_THREAD, row)
                self._remember(thread, row)
                continue
            state = thread_state_row(thread, time_to_text)
            stored = self._loaded.get(thread.id)
            if stored is None:
                changed, params = _EVERY_STATE_COLUMN, [*state]
            else:
                was = stored[_STATE_AT:]
                changed = tuple([i for i in _EVERY_STATE_COLUMN if state[i] != was[i]])
                params = [state[i] for i in changed]
            params += (thread.id, expected)
            if execute(_update_thread(changed), params).rowcount != 1:
                raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
            if stored is not None:  # the row as stored now: its fixed columns, its new state
                self._remember(thread, stored[:_STATE_AT] + state)
        for message in self._messages:
            row = message_to_row(message, time_to_text)
            present = tuple([i for i in _EVERY_MESSAGE_COLUMN if row[i] is not None])
            execute(_insert_message(present), [row[i] for i in present])
        if self._message_updates or self._notes or self._tombstones or self._opt_outs:
            self._write_changes()
        for event in self._events:
            execute(_INSERT_EVENT, (event.thread_id, *event_to_json(event)))
        if self._resources:
            for statement in self._dialect.directory_writes(self._resources):
                execute(*statement)
        if self._touches_attachments():
            execute(_SWEEP_FILES)  # bytes no live message names (rule M8)

    def _remember(self, thread: Thread, row: tuple[Any, ...]) -> None:
        """Keep ``thread`` as the decoding of ``row``, its row as just written
        (:meth:`_threads_from`): only an Alive one with its times in UTC, which its row gives
        back equal and alike (a Deleted thread's row decodes without its label, and a time of
        another zone comes back in UTC). Commands write nothing else; a caller of the port
        may."""
        last_in, last_out = thread.last_inbound_at, thread.last_outbound_at
        if (
            thread.availability is _ALIVE
            and thread.creation_time.tzinfo is UTC
            and thread.last_modified_time.tzinfo is UTC
            and thread.latest_message_at.tzinfo is UTC
            and (last_in is None or last_in.tzinfo is UTC)
            and (last_out is None or last_out.tzinfo is UTC)
        ):
            decoded = self._repo._decoded
            if len(decoded) >= _DECODED_LIMIT:
                decoded.clear()
            decoded[thread.id] = (row, thread)

    def _write_changes(self) -> None:
        """The rarer writes: messages and notes changed, tombstones, opt-outs."""
        execute = self._conn.execute
        for message, expected in self._message_updates.values():
            row = message_to_row(message, time_to_text)
            if execute(_UPDATE_MESSAGE, (*row[1:], message.id, expected)).rowcount != 1:
                raise ConcurrencyConflict(f"Message [{message.id}] was changed concurrently")
        for note, expected in self._notes.values():
            row = note_to_row(note, time_to_text)
            if expected == 0:
                execute(_INSERT_NOTE, row)
            elif execute(_UPDATE_NOTE, (*row[1:], note.id, expected)).rowcount != 1:
                raise ConcurrencyConflict(f"Note [{note.id}] was changed concurrently")
        for thread_id, at in self._tombstones:
            execute(_TOMBSTONE_MESSAGES, (time_to_text(at), thread_id))
            execute(_TOMBSTONE_NOTES, (time_to_text(at), thread_id))
        for (owner_number, guest_number), opted_out in self._opt_outs.items():
            execute(_SET_OPTED_OUT, (owner_number, guest_number, opted_out))
