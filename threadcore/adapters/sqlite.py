"""The SQLite repository: one process's threads in an embedded file (standard library sqlite3).

WAL journal, ``synchronous=NORMAL`` (a committed command survives the process being killed), one
connection guarded by a lock. Each unit of work is one ``BEGIN IMMEDIATE`` transaction, so writers
are serialised by SQLite itself and change positions and event positions grow in commit order. The
storage enforces one open, alive thread per pair with a partial unique index, and every update
checks the version it was loaded at.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    OPEN,
    SCHEMA_VERSION,
    THREAD_COLUMNS,
    event_from_json,
    event_to_json,
    message_from_row,
    message_to_row,
    open_threads_where,
    thread_from_row,
    thread_query_where,
    thread_to_row,
    time_from_text,
    time_to_text,
)
from threadcore.domain.errors import (
    ConcurrencyConflict,
    SchemaVersionError,
    StorageError,
    ThreadcoreError,
)
from threadcore.domain.model import Message, Thread
from threadcore.ports import StoredEvent, ThreadQuery

__all__ = ["SQLiteRepository"]

_T_COLS = ", ".join(THREAD_COLUMNS)
_M_COLS = ", ".join(MESSAGE_COLUMNS)
# Only what a thread's life changes: SQLite rewrites an index when a column it covers is SET,
# so leaving the pair, owner and creation columns out keeps their indexes untouched on update.
_MUTABLE = THREAD_COLUMNS[THREAD_COLUMNS.index("status") :]  # status ... version
_MUTABLE_AT = tuple(THREAD_COLUMNS.index(c) for c in _MUTABLE)
_UPDATE_THREAD = (
    f"UPDATE threads SET {', '.join(f'{c} = ?' for c in _MUTABLE)}, change_position = ? "
    "WHERE id = ? AND version = ?"
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({_M_COLS}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
)
_INSERT_EVENT = "INSERT INTO events (thread_id, kind, payload) VALUES (?, ?, ?)"
# A message on an open thread leaves status and availability as they were: leaving them out of
# the SET spares the partial indexes over them.
_ACTIVITY_AT = _MUTABLE_AT[2:]
_UPDATE_ACTIVITY = (
    f"UPDATE threads SET {', '.join(f'{c} = ?' for c in _MUTABLE[2:])}, change_position = ? "
    "WHERE id = ? AND version = ? AND status = ? AND availability = ?"
)

_SCHEMA = f"""
CREATE TABLE threadcore_schema (version INTEGER NOT NULL);
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    owner_number TEXT NOT NULL,
    guest_number TEXT NOT NULL,
    owner_extension_id TEXT NOT NULL,
    owner_name TEXT,
    owner_type TEXT,
    creation_time TEXT NOT NULL,
    status TEXT NOT NULL,
    availability TEXT NOT NULL,
    assignee_id TEXT,
    assignee_name TEXT,
    assignee_type TEXT,
    status_reason TEXT,
    label TEXT,
    last_modified_time TEXT NOT NULL,
    last_inbound_at TEXT,
    last_outbound_at TEXT,
    latest_message_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    change_position INTEGER NOT NULL
);
CREATE UNIQUE INDEX threads_one_open_per_pair ON threads (owner_number, guest_number)
    WHERE {OPEN};
CREATE INDEX threads_by_owner ON threads (owner_extension_id, creation_time, id);
CREATE INDEX threads_by_guest ON threads (guest_number, creation_time, id);
CREATE INDEX threads_by_owner_number ON threads (owner_number, creation_time, id);
CREATE INDEX threads_by_change ON threads (change_position);
CREATE INDEX threads_due ON threads (latest_message_at) WHERE {OPEN};
CREATE TABLE messages (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    author_id TEXT,
    author_name TEXT,
    author_type TEXT,
    created_at TEXT NOT NULL,
    last_modified_at TEXT NOT NULL,
    availability TEXT NOT NULL,
    provider_message_id TEXT UNIQUE
);
CREATE INDEX messages_by_thread ON messages (thread_id, position);
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
INSERT INTO threadcore_schema VALUES ({SCHEMA_VERSION});
"""


def _any_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors become threadcore errors: none escapes the adapter."""
    try:
        yield
    except ThreadcoreError:
        raise
    except sqlite3.IntegrityError as error:
        raise ConcurrencyConflict(f"A concurrent writer got there first ({error})") from error
    except sqlite3.Error as error:
        raise StorageError(f"SQLite failed: {error}") from error


class SQLiteRepository:
    """A :class:`~threadcore.ports.Repository` in a SQLite file (``":memory:"`` also works).

    The schema is created on first open and versioned in ``threadcore_schema``; a file written by
    a newer threadcore raises :class:`~threadcore.SchemaVersionError`.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self._path = str(path)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of units of work inside a batch
        with _translated():
            self._conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA wal_autocheckpoint=10000")
            self._conn.execute("PRAGMA foreign_keys=OFF")
            self._migrate()

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'threadcore_schema'"
            ).fetchone()
            if not exists:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            (version,) = conn.execute("SELECT max(version) FROM threadcore_schema").fetchone()
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self._path} has schema version {version}; this threadcore knows "
                    f"{SCHEMA_VERSION}: upgrade threadcore"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the connection (the repository cannot be used afterwards)."""
        with self._lock:
            self._conn.close()

    def unit_of_work(self) -> _SQLiteUnitOfWork:
        """Begin a transaction (or, inside :meth:`batch`, a savepoint)."""
        return _SQLiteUnitOfWork(self)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many commands in one transaction (bulk import): each command inside is a
        savepoint, so a refused one is rolled back alone; an exception escaping the block rolls
        back the whole batch; a clean exit commits it."""
        with self._lock:
            if self._depth:
                raise StorageError("batches do not nest")
            with _translated():
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with _translated():
                    self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            with _translated():
                self._conn.execute("COMMIT")

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events after position ``after``, in commit order."""
        with self._lock, _translated():
            rows = self._conn.execute(
                "SELECT position, kind, payload FROM events WHERE position > ? "
                "ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(position, event_from_json(kind, payload)) for position, kind, payload in rows]

    def __repr__(self) -> str:
        return f"SQLiteRepository({self._path!r})"


class _SQLiteUnitOfWork(BufferedWrites):
    __slots__ = ("_conn", "_loaded", "_repo", "_savepoint")

    def __init__(self, repo: SQLiteRepository) -> None:
        super().__init__()
        self._repo = repo
        self._conn = repo._conn
        self._loaded: dict[str, Thread] = {}  # as read in this unit of work
        self._savepoint = False

    def __enter__(self) -> _SQLiteUnitOfWork:
        self._repo._lock.acquire()
        try:
            with _translated():
                if self._repo._depth:
                    self._conn.execute("SAVEPOINT threadcore_command")
                    self._savepoint = True
                else:
                    self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._repo._lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                try:
                    with _translated():
                        self._write()
                except BaseException:
                    self._rollback()
                    raise
                with _translated():
                    self._conn.execute(
                        "RELEASE threadcore_command" if self._savepoint else "COMMIT"
                    )
            else:
                self._rollback()
        finally:
            self._repo._lock.release()

    def _rollback(self) -> None:
        with _translated():
            if self._savepoint:
                self._conn.execute("ROLLBACK TO threadcore_command")
                self._conn.execute("RELEASE threadcore_command")
            else:
                self._conn.execute("ROLLBACK")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with _translated():
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _threads_where(
        self, where: str, params: Iterable[Any] = (), tail: str = ""
    ) -> list[Thread]:
        rows = self._all(f"SELECT {_T_COLS} FROM threads WHERE {where} {tail}", params)
        found = [thread_from_row(row, time_from_text) for row in rows]
        for thread in found:
            self._loaded.setdefault(thread.id, thread)
        return found

    # --- reads ----------------------------------------------------------------------------------
    def thread(self, thread_id: str) -> Thread | None:
        found = self._threads_where("id = ?", (thread_id,))
        return found[0] if found else None

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        found = self._threads_where(
            f"owner_number = ? AND guest_number = ? AND {OPEN}", (owner_number, guest_number)
        )
        return found[0] if found else None

    def open_threads(
        self,
        *,
        owner_extension_id: str | None = None,
        owner_number: str | None = None,
        assignee_id: str | None = None,
    ) -> list[Thread]:
        where, params = open_threads_where(
            "?",
            owner_extension_id=owner_extension_id,
            owner_number=owner_number,
            assignee_id=assignee_id,
        )
        return self._threads_where(where, params, "ORDER BY creation_time, id")

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        return self._threads_where(
            f"{OPEN} AND latest_message_at <= ?",
            (time_to_text(cutoff),),
            f"ORDER BY latest_message_at, id LIMIT {int(limit)}",
        )

    def due_between(
        self, after: datetime, until: datetime, owner_extension_ids: frozenset[str]
    ) -> list[Thread]:
        if until <= after or not owner_extension_ids:
            return []
        owners = sorted(owner_extension_ids)
        return self._threads_where(
            f"{OPEN} AND latest_message_at > ? AND latest_message_at <= ? "
            f"AND owner_extension_id IN ({', '.join('?' * len(owners))})",
            (time_to_text(after), time_to_text(until), *owners),
        )

    def _query(self, query: ThreadQuery, with_after: bool) -> tuple[str, list[Any]]:
        return thread_query_where(query, with_after, "?", time_to_text, _any_of)

    def find_threads(self, query: ThreadQuery, limit: int, offset: int = 0) -> list[Thread]:
        if not query.owner_extension_ids:
            return []
        where, params = self._query(query, with_after=True)
        return self._threads_where(
            where, params, f"ORDER BY creation_time, id LIMIT {int(limit)} OFFSET {int(offset)}"
        )

    def count_threads(self, query: ThreadQuery) -> int:
        if not query.owner_extension_ids:
            return 0
        where, params = self._query(query, with_after=False)
        (count,) = self._all(f"SELECT count(*) FROM threads WHERE {where}", params)[0]
        return int(count)

    def change_position(self) -> int:
        (value,) = self._all("SELECT coalesce(max(change_position), 0) FROM threads")[0]
        return int(value)

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        if not owner_extension_ids:
            return []
        owners = sorted(owner_extension_ids)
        return self._threads_where(
            f"change_position > ? AND owner_extension_id IN ({', '.join('?' * len(owners))})",
            (position, *owners),
            f"ORDER BY change_position LIMIT {int(limit) + 1}",
        )

    def messages(self, thread_id: str) -> list[Message]:
        rows = self._all(
            f"SELECT {_M_COLS} FROM messages WHERE thread_id = ? ORDER BY position", (thread_id,)
        )
        return [message_from_row(row, time_from_text) for row in rows]

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        rows = self._all(
            f"SELECT {_M_COLS} FROM messages WHERE provider_message_id = ?",
            (provider_message_id,),
        )
        return message_from_row(rows[0], time_from_text) if rows else None

    def _write(self) -> None:
        conn = self._conn
        if self._threads:
            # writers are serialised (BEGIN IMMEDIATE), so the highest position is ours to extend
            (position,) = conn.execute(
                "SELECT coalesce(max(change_position), 0) FROM threads"
            ).fetchone()
        for thread, expected in self._threads.values():
            position += 1
            row = thread_to_row(thread, time_to_text)
            if expected == 0:
                conn.execute(
                    f"INSERT INTO threads ({_T_COLS}, change_position) "
                    f"VALUES ({', '.join('?' * (len(THREAD_COLUMNS) + 1))})",
                    (*row, position),
                )
            else:
                loaded = self._loaded.get(thread.id)
                if (
                    loaded is not None
                    and loaded.status is thread.status
                    and loaded.availability is thread.availability
                ):
                    cursor = conn.execute(
                        _UPDATE_ACTIVITY,
                        (*(row[i] for i in _ACTIVITY_AT), position, thread.id, expected,
                         thread.status.value, thread.availability.value),
                    )  # fmt: skip
                else:
                    cursor = conn.execute(
                        _UPDATE_THREAD,
                        (*(row[i] for i in _MUTABLE_AT), position, thread.id, expected),
                    )
                if cursor.rowcount != 1:
                    raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
        for message in self._messages:
            conn.execute(_INSERT_MESSAGE, message_to_row(message, time_to_text))
        for thread_id, at in self._tombstones:
            conn.execute(
                "UPDATE messages SET body = '', availability = 'Deleted', last_modified_at = ? "
                "WHERE thread_id = ? AND availability = 'Alive'",
                (time_to_text(at), thread_id),
            )
        for event in self._events:
            conn.execute(_INSERT_EVENT, (event.thread_id, *event_to_json(event)))
