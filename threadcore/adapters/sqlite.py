"""The SQLite repository: one process's threads in an embedded file (standard library sqlite3).

WAL journal, ``synchronous=NORMAL`` (a committed command survives the process being killed), one
connection guarded by a lock. Each unit of work is one ``BEGIN IMMEDIATE`` transaction, so writers
are serialised by SQLite itself and change positions and event positions grow in commit order. The
storage enforces one open, alive thread per pair with a partial unique index, and every update
checks the version it was loaded at.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from threadcore.adapters._holds import Hold, LocalHolds, unreached
from threadcore.adapters._sql import (
    check_version,
    event_from_json,
    store_id,
    time_from_text,
    time_to_text,
)
from threadcore.adapters._sqlite_base import (
    LATEST,
    MAX_INTEGER,
    STORED_CLOCK,
    UNREAD,
    check_batch_alive,
    translated,
)
from threadcore.adapters._sqlite_schema import SCHEMA, SCHEMA_VERSION, pending_sql
from threadcore.adapters._sqlite_uow import SQLiteUnitOfWork
from threadcore.domain.errors import (
    InvalidInput,
    NestedUnitOfWork,
    SchemaVersionError,
    StorageError,
)
from threadcore.domain.model import Thread
from threadcore.ports import ClockMove, StoredEvent, check_attachment

__all__ = ["SCHEMA_VERSION", "SQLiteRepository", "pending_sql"]


def _stored_version(conn: sqlite3.Connection) -> int | None:
    """The threadcore schema version the file holds (None: no threadcore schema)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'threadcore_schema'"
    ).fetchone()
    found = (
        conn.execute("SELECT max(version) FROM threadcore_schema").fetchone() if exists else None
    )
    return None if found is None else found[0]


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (``executescript`` would commit
    it first). No statement here holds a ``;`` in a literal; a trigger's body holds several
    statements, each ending in ``;``, and is run whole."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                conn.execute(statement)
            statement = ""


#: Per-connection settings. WAL with synchronous=NORMAL: a commit is in the log before the command
#: returns, so it survives the process being killed (docs/rules.md D5). Checkpoints every 10,000
#: pages (40 MB of log): each syncs the log and the database, so rarer ones cost less per commit.
#: 64 MB of page cache (the default is 2 MB), taken only as pages are read. Temporary storage in
#: memory: a savepoint's journal of original pages (one per command in a batch) otherwise spills
#: to a temporary file past 64 KB and stays a file for the rest of the batch.
_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=10000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA foreign_keys=OFF",
)


def _enter_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to the WAL journal. SQLite answers a switch that races another connection's
    (two processes opening one new file together) "database is locked" at once, without its busy
    handler, so the wait the connection's ``timeout`` promises is kept here."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class SQLiteRepository:
    """A :class:`~threadcore.ports.Repository` in a SQLite file (``":memory:"`` also works).

    The schema is versioned in ``threadcore_schema``. Opening a current file only reads it; a
    missing or older schema is created or migrated on open, unless ``create_schema=False`` (the
    URL's ``migrate=off``: then a missing file is not created either), which refuses it with
    :class:`~threadcore.errors.SchemaVersionError` naming ``threadcore db upgrade``; a file
    written by a newer threadcore is refused either way (rule D3).
    """

    def __init__(
        self, path: str | Path, *, timeout: float = 30.0, create_schema: bool = True
    ) -> None:
        if create_schema not in (True, False):
            raise InvalidInput(
                "Parameter [create_schema] must be True or False", parameter="create_schema"
            )
        self._path = str(path)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of units of work inside a batch
        self._open = False  # a unit of work is open (in the thread that holds the lock)
        self._clock_seen: object = UNREAD  # the stored clock, as the open unit of work read it
        self._holds = LocalHolds()  # consumer holds of an in-memory database
        # each thread's row as last written or read, and its thread (SQLiteUnitOfWork's reads)
        self._decoded: dict[str, tuple[tuple[Any, ...], Thread]] = {}
        # Without create_schema a missing file is not created: it holds no schema to use.
        existing = not create_schema and self._path != ":memory:"
        target = Path(self._path).resolve().as_uri() + "?mode=rw" if existing else self._path
        if existing and not Path(self._path).is_file():
            raise SchemaVersionError(
                f"{self._path} has no threadcore schema: run `threadcore db upgrade --db URL` "
                "with a role that may change the schema"
            )
        with translated:
            self._conn = sqlite3.connect(
                target,
                timeout=timeout,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=512,  # the thread updates alone have a few dozen shapes
                uri=existing,
            )
            try:
                _enter_wal(self._conn, timeout)
                for pragma in _PRAGMAS:
                    self._conn.execute(pragma)
                self._open_schema(create_schema)
            except BaseException:
                self._conn.close()  # a repository that failed to open holds no file open
                raise
        self._uow = SQLiteUnitOfWork(self)

    def _stored(self) -> tuple[int | None, str | None]:
        """The file's schema version (``None``: no threadcore schema) and store id (``None``:
        none yet), read without writing anything."""
        conn = self._conn
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('threadcore_schema', 'threadcore_store')"
            )
        }
        version = made = None
        if "threadcore_schema" in tables:
            version = conn.execute("SELECT max(version) FROM threadcore_schema").fetchone()[0]
        if "threadcore_store" in tables:
            row = conn.execute("SELECT id FROM threadcore_store").fetchone()
            made = None if row is None else str(row[0])
        return version, made

    def _open_schema(self, migrate: bool) -> None:
        """A current file is only read: no DDL, no write, not even the writer lock (rule D3).
        Otherwise, under the writer lock and after reading again: with ``migrate`` a missing
        schema is created and an older one migrated; without it a missing or older one is
        :class:`~threadcore.errors.SchemaVersionError` naming ``threadcore db upgrade``. A newer
        one is refused either way. The store id is made when there is none."""
        version, made = self._stored()
        if version == SCHEMA_VERSION and made is not None:
            self.store_id = made
            return
        self._refuse_unusable(version, migrate)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version, made = self._stored()  # another process may have done it meanwhile
            self._refuse_unusable(version, migrate)
            if version is None:
                _run_script(conn, SCHEMA)
            elif version < SCHEMA_VERSION:
                _run_script(conn, pending_sql(version))  # the same steps `db sql` prints
            self.store_id = made if made is not None else store_id(conn, "", create=migrate)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _refuse_unusable(self, version: int | None, migrate: bool) -> None:
        """Refuse a newer schema, and, without ``migrate``, a missing or older one."""
        if not migrate or (version is not None and version > SCHEMA_VERSION):
            check_version(version, SCHEMA_VERSION, self._path)

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the connection (the repository cannot be used afterwards)."""
        with self._lock:
            self._conn.close()

    def unit_of_work(self) -> SQLiteUnitOfWork:
        """Begin a transaction (inside :meth:`batch`, the batch's: its writes then go in a
        savepoint of their own when it ends). The same object each time, as on the memory
        repository: its lock, taken when the unit of work begins, makes them one at a time, and
        each leaves nothing behind when it ends (no object and nine buffers made per command).
        Use it only inside its ``with`` block: a write buffered before the block begins would be
        committed by the next unit of work, whichever thread runs it."""
        return self._uow

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many commands in one transaction (bulk import): each command inside writes in a
        savepoint, so a refused one is rolled back alone; an exception escaping the block rolls
        back the whole batch; a clean exit commits it."""
        with self._lock:
            if self._depth:
                raise StorageError("batches do not nest")
            with translated:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:  # an error inside may have ended it already
                    with translated:
                        self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            check_batch_alive(self._conn)
            with translated:
                self._conn.execute("COMMIT")

    def check_ready(self) -> None:
        """Return when the file answers a read and holds this threadcore's schema version
        (``ReadinessCheck``); the reason otherwise, naming no path."""
        with self._lock, translated:
            found = _stored_version(self._conn)
        check_version(found, SCHEMA_VERSION, "The database")

    def consumer_position(self, name: str) -> int:
        """The position the consumer ``name`` has handled (0 before its first commit)."""
        with self._lock, translated:
            row = self._conn.execute(
                "SELECT position FROM threadcore_consumers WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def commit_consumer(self, name: str, position: int) -> int:
        """Advance the cursor of ``name`` to ``position`` (never back, never past the last event);
        where it is now."""
        upsert = (
            "INSERT INTO threadcore_consumers (name, position) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET position = max(position, excluded.position)"
        )
        with self._lock, translated:
            conn = self._conn
            outside = not conn.in_transaction
            if outside:
                conn.execute("BEGIN IMMEDIATE")
            try:
                (end,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
                if position > end:
                    raise unreached(position, end)
                conn.execute(upsert, (name, position))
                (stored,) = conn.execute(
                    "SELECT position FROM threadcore_consumers WHERE name = ?", (name,)
                ).fetchone()
            except BaseException:
                if outside:
                    conn.execute("ROLLBACK")
                raise
            if outside:
                conn.execute("COMMIT")
        return int(stored)

    def stored_clock(self) -> datetime | None:
        """The stored manual instant, or ``None`` on the system clock (rule R18c): a read of a
        one-row table (inside a command, in its transaction)."""
        with self._lock:
            if self._open and self._clock_seen is not UNREAD:
                return cast("datetime | None", self._clock_seen)  # read in this transaction
            with translated:
                row = self._conn.execute(STORED_CLOCK).fetchone()
            instant = None if row is None else time_from_text(row[0])
            if self._open:  # no move can come before this transaction ends (writer lock)
                self._clock_seen = instant
            return instant

    def move_stored_clock(self, move: ClockMove) -> datetime | None:
        """Store what ``move`` makes of the stored instant and the latest recorded one, in one
        transaction (the writer lock serialises the moves)."""
        with self._lock, translated:
            conn = self._conn
            if conn.in_transaction:
                raise NestedUnitOfWork()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(STORED_CLOCK).fetchone()
                (latest,) = conn.execute(LATEST).fetchone()
                old = None if row is None else time_from_text(row[0])
                stored = move(old, None if latest is None else time_from_text(latest))
                if stored == old:
                    pass  # a reading: nothing to write
                elif stored is None:
                    conn.execute("DELETE FROM threadcore_clock")
                else:
                    conn.execute(
                        "INSERT INTO threadcore_clock (id, instant) VALUES (1, ?) "
                        "ON CONFLICT (id) DO UPDATE SET instant = excluded.instant",
                        (time_to_text(stored),),
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return stored

    def attachment(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or ``None``."""
        check_attachment(key)
        with self._lock, translated:
            row = self._conn.execute(
                "SELECT content FROM threadcore_attachments WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def try_hold_consumer(self, name: str) -> Hold | None:
        """A lock file beside the database, one per name (an in-memory database: a lock of
        this process): the kernel releases it when the holding process dies."""
        if self._path == ":memory:":
            return self._holds.try_hold(name)
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        try:
            fd = os.open(f"{self._path}.consumer-{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StorageError("The consumer's lock file cannot be opened; check the "
                               "database's folder") from error  # fmt: skip
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as error:
            os.close(fd)
            raise StorageError("The consumer's lock file cannot be locked") from error
        return Hold(lambda: os.close(fd))

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events after position ``after``, in commit order."""
        if after >= MAX_INTEGER or limit <= 0:
            return []  # no position lies beyond SQLite's largest integer
        limit = min(limit, MAX_INTEGER)
        with self._lock, translated:
            rows = self._conn.execute(
                "SELECT position, kind, payload FROM events WHERE position > ? "
                "ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(position, event_from_json(kind, payload)) for position, kind, payload in rows]

    def __repr__(self) -> str:
        return f"SQLiteRepository({self._path!r})"
