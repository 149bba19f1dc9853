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
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._holds import Hold, LocalHolds, unreached
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    OPEN,
    THREAD_COLUMNS,
    THREAD_STATE_COLUMNS,
    TOMBSTONE_MESSAGE_SET,
    TOMBSTONE_NOTE_SET,
    check_version,
    directory_sql,
    event_from_json,
    event_to_json,
    message_to_row,
    note_to_row,
    store_id,
    thread_from_row,
    thread_state_row,
    thread_to_row,
    time_from_text,
    time_to_text,
)
from threadcore.adapters._sql_attachments import sqlite_refs_sql, sqlite_statements
from threadcore.adapters._sql_reads import Dialect, SQLReads
from threadcore.domain.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NestedUnitOfWork,
    SchemaVersionError,
    StorageError,
)
from threadcore.domain.model import Thread
from threadcore.ports import Claim, ClockMove, DirectoryAccess, StoredEvent, check_attachment

__all__ = ["SCHEMA_VERSION", "SQLiteRepository"]

R = TypeVar("R")

#: The version of the SQLite schema this library writes; opening a newer one is refused. (Each
#: SQL adapter versions its own schema: PostgreSQL's is in ``postgres.py``.)
SCHEMA_VERSION = 9

_T_COLS = ", ".join(THREAD_COLUMNS)
_M_COLS = ", ".join(MESSAGE_COLUMNS)
_STATE_AT = len(THREAD_COLUMNS) - len(THREAD_STATE_COLUMNS)  # where the state starts in a row
# The next change position, as a subquery (the highest is one index step away, and writers are
# serialised by BEGIN IMMEDIATE, so the highest is ours to extend).
_NEXT_CHANGE = "(SELECT coalesce(max(change_position), 0) + 1 FROM threads)"
_INSERT_THREAD = (
    f"INSERT INTO threads ({_T_COLS}, change_position) "
    f"VALUES ({', '.join('?' * len(THREAD_COLUMNS))}, {_NEXT_CHANGE})"
)
# What :meth:`_SQLiteUnitOfWork.claim` reads: the newest message anywhere (an index's last
# entry) and the last change of the thread the command names.
_LATEST = "SELECT max(created_at) FROM messages"
_CLAIM = f"SELECT ({_LATEST}), NULL"
_STORED_CLOCK = "SELECT instant FROM threadcore_clock"
_UNREAD = object()  # the stored clock, not read yet in the open unit of work
_CLAIM_THREAD = f"SELECT ({_LATEST}), (SELECT last_modified_time FROM threads WHERE id = ?)"
_CLAIM_PAIR = (
    f"SELECT ({_LATEST}), (SELECT last_modified_time FROM threads "
    f"WHERE owner_number = ? AND guest_number = ? AND {OPEN})"
)
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


# The messages table and its indexes, and the events table (schema version 3): shared by the
# fresh schema and the migration from version 2. Message and event positions are plain rowids:
# AUTOINCREMENT would write sqlite_sequence on every insert, and it only differs in never reusing
# the position of a deleted last row; threadcore deletes neither messages nor events, and a row
# rolled back was never seen. The provider id index leaves out the messages without one.
_MESSAGES = """
CREATE TABLE messages (
    position INTEGER PRIMARY KEY,
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
    provider_message_id TEXT,
    status TEXT NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    read_at TEXT,
    error_code TEXT,
    is_automated INTEGER NOT NULL,
    source TEXT,
    content_type TEXT NOT NULL,
    attachments TEXT,
    classifications TEXT,
    keyword TEXT,
    version INTEGER NOT NULL
);
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""
_MESSAGE_INDEXES = """
CREATE INDEX messages_by_thread ON messages (thread_id, position);
CREATE INDEX messages_by_time ON messages (created_at, id);
CREATE UNIQUE INDEX messages_by_provider_id ON messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
"""

# What schema version 2 added besides the messages' new columns and their time index; shared by
# the fresh schema and the migration from version 1.
_NOTES_AND_OPT_OUTS = """
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    author_name TEXT,
    author_type TEXT,
    text TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    last_modified_time TEXT NOT NULL,
    availability TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX notes_by_thread ON notes (thread_id, creation_time, id);
CREATE INDEX notes_by_time ON notes (creation_time, id);
CREATE TABLE opt_outs (
    owner_number TEXT NOT NULL,
    guest_number TEXT NOT NULL,
    opted_out INTEGER NOT NULL,
    PRIMARY KEY (owner_number, guest_number)
) WITHOUT ROWID;
"""

# Schema version 1 -> 2: the messages' delivery fields, notes, opt-outs. SQLite cannot add a NOT
# NULL column without a default, so the migrated columns keep theirs until the move to version 3
# rebuilds the table without them (version 2 inserts named every column). Old inbound
# messages are Received. Old outbound ones become Sent, sent when they were created: version 1
# stored an outbound message when the provider was handed it and tracked no delivery, so "Queued"
# would show years-old messages as still waiting forever; Sent still lets a late Delivered, Read
# or DeliveryFailed report move them on (the delivery machine refuses only SendingFailed after
# Sent). Version 2's index on the messages' time is left to the move to version 3, which runs
# next, in the same transaction, and builds all the messages' indexes anew.
_MIGRATE_FROM_1 = f"""
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'Received';
ALTER TABLE messages ADD COLUMN sent_at TEXT;
ALTER TABLE messages ADD COLUMN delivered_at TEXT;
ALTER TABLE messages ADD COLUMN read_at TEXT;
ALTER TABLE messages ADD COLUMN error_code TEXT;
ALTER TABLE messages ADD COLUMN is_automated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN source TEXT;
ALTER TABLE messages ADD COLUMN content_type TEXT NOT NULL DEFAULT 'text/plain';
ALTER TABLE messages ADD COLUMN attachments TEXT;
ALTER TABLE messages ADD COLUMN classifications TEXT;
ALTER TABLE messages ADD COLUMN keyword TEXT;
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
UPDATE messages SET status = 'Sent', sent_at = created_at WHERE direction = 'Outbound';
{_NOTES_AND_OPT_OUTS}
UPDATE threadcore_schema SET version = 2;
"""

# Schema version 2 -> 3: messages and events without AUTOINCREMENT, and the provider id index
# partial. SQLite cannot alter either, so both tables are rebuilt, keeping every position (the
# old tables are renamed out of the way first, so the new ones are created by the very DDL of the
# fresh schema). Their sqlite_sequence rows go with the old tables; the empty sqlite_sequence
# table itself cannot be dropped. New rows take positions after the highest kept one (threadcore
# never deletes messages or events, so no position a reader has seen comes back). The rebuild holds
# the write lock while it copies; indexes, triggers or views someone added to these two tables by
# hand are not carried over.
_MIGRATE_FROM_2 = f"""
ALTER TABLE messages RENAME TO threadcore_v2_messages;
ALTER TABLE events RENAME TO threadcore_v2_events;
{_MESSAGES}
INSERT INTO messages (position, {_M_COLS}) SELECT position, {_M_COLS} FROM threadcore_v2_messages;
INSERT INTO events (position, thread_id, kind, payload)
    SELECT position, thread_id, kind, payload FROM threadcore_v2_events;
DROP TABLE threadcore_v2_messages;
DROP TABLE threadcore_v2_events;
{_MESSAGE_INDEXES}
UPDATE threadcore_schema SET version = 3;
"""

#: Version 3 -> 4: a thread deleted by an older threadcore kept the text of its last message as its
#: label; a deleted thread carries no message text (rule R12, issue 12).
_MIGRATE_FROM_3 = """
UPDATE threads SET label = NULL WHERE availability = 'Deleted' AND label IS NOT NULL;
UPDATE threadcore_schema SET version = 4;
"""

#: The durable event consumers' cursors (issue 14): a name and the position it has handled.
_CONSUMERS = """
CREATE TABLE IF NOT EXISTS threadcore_consumers (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""

#: Version 4 -> 5: the consumers' cursors.
_MIGRATE_FROM_4 = _CONSUMERS + "UPDATE threadcore_schema SET version = 5;\n"

#: Version 5 -> 6: the stored directory.
_MIGRATE_FROM_5 = directory_sql("") + "UPDATE threadcore_schema SET version = 6;\n"

#: Attachments' bytes by key (issue 15: what ``threadcore.http`` stores of an upload).
_ATTACHMENTS = """
CREATE TABLE IF NOT EXISTS threadcore_attachments (key TEXT PRIMARY KEY, content BLOB NOT NULL);
"""

#: Version 6 -> 7: attachments.
_MIGRATE_FROM_6 = _ATTACHMENTS + "UPDATE threadcore_schema SET version = 7;\n"

#: The manual clock stored in the database (issue 25, rule R18c): one row while the database
#: runs on it, none on the system clock.
_CLOCK = """
CREATE TABLE IF NOT EXISTS threadcore_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instant TEXT NOT NULL
);
"""

#: Version 7 -> 8: the stored clock.
_MIGRATE_FROM_7 = _CLOCK + "UPDATE threadcore_schema SET version = 8;\n"

#: Version 8 -> 9: each file's bytes counted by the live messages naming them (issue 25).
_MIGRATE_FROM_8 = sqlite_refs_sql() + "UPDATE threadcore_schema SET version = 9;\n"

_STORE_FILE, _SWEEP_FILES = sqlite_statements()


def pending_sql(version: int | None) -> str:
    """What brings a database file from ``version`` (``None``: no threadcore schema yet) to
    :data:`SCHEMA_VERSION`, as one script for a DBA; empty when it is current."""
    store = "CREATE TABLE IF NOT EXISTS threadcore_store (id text NOT NULL);\n"
    if version is None:
        return _SCHEMA + store
    steps = "".join(
        script
        for since, script in (
            (1, _MIGRATE_FROM_1),
            (2, _MIGRATE_FROM_2),
            (3, _MIGRATE_FROM_3),
            (4, _MIGRATE_FROM_4),
            (5, _MIGRATE_FROM_5),
            (6, _MIGRATE_FROM_6),
            (7, _MIGRATE_FROM_7),
            (8, _MIGRATE_FROM_8),
        )
        if version <= since
    )
    return steps + store if steps else ""


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
{_MESSAGES}
{_MESSAGE_INDEXES}
{_NOTES_AND_OPT_OUTS}
{_CONSUMERS}
{directory_sql("")}
{_ATTACHMENTS}
{_CLOCK}
{sqlite_refs_sql()}
INSERT INTO threadcore_schema VALUES ({SCHEMA_VERSION});
"""


#: Lists longer than this are passed as one JSON array parameter: SQLite limits the number of
#: parameters of a statement (999 on older builds), and an id filter may name thousands.
_MAX_INLINE = 100
_MAX_INTEGER = 2**63 - 1  # SQLite's largest integer


def _any_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if len(values) > _MAX_INLINE:
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


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


_log = logging.getLogger("threadcore.storage")


def _words_for(error: sqlite3.Error) -> str:
    """What a caller can do about a SQLite error, naming no driver internals (the error is the
    ``__cause__`` and goes to the ``threadcore.storage`` log)."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return "The database is busy (another process holds its lock); nothing changed: retry"
    if "full" in text or "readonly" in text or "read-only" in text or "disk i/o" in text:
        return (
            "The database file cannot be written (disk full, read-only or failing); nothing "
            "changed: free space or fix the file's permissions, then retry"
        )
    if "no such" in text:
        return "The database schema is not what threadcore expects; nothing changed"
    return "The database failed; nothing was changed. Retry later"


class _Translated:
    """Driver errors become threadcore errors: none escapes the adapter. (A class rather than a
    generator-based context manager: every command enters it several times, and a generator
    costs 1.5 µs a time.)"""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.IntegrityError):
            raise ConcurrencyConflict(f"A concurrent writer got there first ({exc})") from exc
        if isinstance(exc, sqlite3.Error):
            _log.warning("SQLite: %s: %s", type(exc).__name__, str(exc)[:200])
            raise StorageError(_words_for(exc)) from exc


_translated = _Translated()


def _check_batch_alive(conn: sqlite3.Connection) -> None:
    """Refuse to go on with a batch whose transaction an earlier error ended (SQLite rolls back
    the whole transaction on some errors, e.g. a full disk): nothing of it was committed."""
    if not conn.in_transaction:
        raise StorageError(
            "The batch's transaction was lost to an earlier storage error: nothing in it was "
            "stored; run the batch again"
        )


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
        self._clock_seen: object = _UNREAD  # the stored clock, as the open unit of work read it
        self._holds = LocalHolds()  # consumer holds of an in-memory database
        # Without create_schema a missing file is not created: it holds no schema to use.
        existing = not create_schema and self._path != ":memory:"
        target = Path(self._path).resolve().as_uri() + "?mode=rw" if existing else self._path
        if existing and not Path(self._path).is_file():
            raise SchemaVersionError(
                f"{self._path} has no threadcore schema: run `threadcore db upgrade --db URL` "
                "with a role that may change the schema"
            )
        with _translated:
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
                _run_script(conn, _SCHEMA)
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

    def unit_of_work(self) -> _SQLiteUnitOfWork:
        """Begin a transaction (inside :meth:`batch`, the batch's: its writes then go in a
        savepoint of their own when it ends)."""
        return _SQLiteUnitOfWork(self)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many commands in one transaction (bulk import): each command inside writes in a
        savepoint, so a refused one is rolled back alone; an exception escaping the block rolls
        back the whole batch; a clean exit commits it."""
        with self._lock:
            if self._depth:
                raise StorageError("batches do not nest")
            with _translated:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:  # an error inside may have ended it already
                    with _translated:
                        self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            _check_batch_alive(self._conn)
            with _translated:
                self._conn.execute("COMMIT")

    def check_ready(self) -> None:
        """Return when the file answers a read and holds this threadcore's schema version
        (``ReadinessCheck``); the reason otherwise, naming no path."""
        with self._lock, _translated:
            found = _stored_version(self._conn)
        check_version(found, SCHEMA_VERSION, "The database")

    def consumer_position(self, name: str) -> int:
        """The position the consumer ``name`` has handled (0 before its first commit)."""
        with self._lock, _translated:
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
        with self._lock, _translated:
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
            if self._open and self._clock_seen is not _UNREAD:
                return cast("datetime | None", self._clock_seen)  # read in this transaction
            with _translated:
                row = self._conn.execute(_STORED_CLOCK).fetchone()
            instant = None if row is None else time_from_text(row[0])
            if self._open:  # no move can come before this transaction ends (writer lock)
                self._clock_seen = instant
            return instant

    def move_stored_clock(self, move: ClockMove) -> datetime | None:
        """Store what ``move`` makes of the stored instant and the latest recorded one, in one
        transaction (the writer lock serialises the moves)."""
        with self._lock, _translated:
            conn = self._conn
            if conn.in_transaction:
                raise NestedUnitOfWork()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(_STORED_CLOCK).fetchone()
                (latest,) = conn.execute(_LATEST).fetchone()
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
        with self._lock, _translated:
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
        if after >= _MAX_INTEGER or limit <= 0:
            return []  # no position lies beyond SQLite's largest integer
        limit = min(limit, _MAX_INTEGER)
        with self._lock, _translated:
            rows = self._conn.execute(
                "SELECT position, kind, payload FROM events WHERE position > ? "
                "ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(position, event_from_json(kind, payload)) for position, kind, payload in rows]

    def __repr__(self) -> str:
        return f"SQLiteRepository({self._path!r})"


class _SQLiteUnitOfWork(SQLReads, BufferedWrites):
    __slots__ = ("_conn", "_loaded", "_repo")

    _dialect = Dialect(mark="?", to_db=time_to_text, from_db=time_from_text, any_of=_any_of)

    def __init__(self, repo: SQLiteRepository) -> None:
        super().__init__()
        self._repo = repo
        self._conn = repo._conn
        # the stored state columns of each thread read in this unit of work, as first read
        self._loaded: dict[str, tuple[Any, ...]] = {}

    def __enter__(self) -> _SQLiteUnitOfWork:
        # Outside a batch: one transaction, whose write lock is taken now, so that what this
        # unit of work reads is still so when it writes. Inside one, the batch holds the lock.
        self._repo._lock.acquire()
        if self._repo._open:  # begun again by the thread that holds it: refused everywhere
            self._repo._lock.release()
            raise NestedUnitOfWork()
        self._repo._open = True
        if not self._repo._depth:
            try:
                with _translated:
                    self._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._repo._open = False
                self._repo._lock.release()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        try:
            with _translated:
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
        finally:
            self._repo._open = False
            self._repo._clock_seen = _UNREAD
            self._repo._lock.release()

    def _write_in_savepoint(self) -> None:
        """Write inside a batch: in a savepoint, so that a write refused by the storage undoes
        this unit of work alone (a unit of work that writes nothing opens none)."""
        if not self._has_writes():
            return
        conn = self._conn
        _check_batch_alive(conn)  # else SAVEPOINT would begin, and RELEASE commit, a new one
        conn.execute("SAVEPOINT threadcore_command")
        try:
            self._write()
        except BaseException:
            conn.execute("ROLLBACK TO threadcore_command")
            conn.execute("RELEASE threadcore_command")
            raise
        conn.execute("RELEASE threadcore_command")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with _translated:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _threads_from(self, rows: list[Any]) -> list[Thread]:
        """Threads from rows of :data:`THREAD_COLUMNS`, remembering their stored state."""
        loaded = self._loaded
        found = []
        for row in rows:
            found.append(thread_from_row(row, time_from_text))
            loaded.setdefault(row[0], row[_STATE_AT:])
        return found

    # --- reads ----------------------------------------------------------------------------------
    def claim(
        self,
        *,
        pair: tuple[str, str] | None = None,
        thread_id: str | None = None,
        directory: DirectoryAccess = None,
    ) -> Claim:
        # The write lock taken by BEGIN IMMEDIATE already serialises every writer (and every
        # change of the stored directory with the commands that read it; and thread creation:
        # no CreationClaims needed, rule Q2).
        if pair is not None:
            rows = self._all(_CLAIM_PAIR, pair)
        elif thread_id is not None:
            rows = self._all(_CLAIM_THREAD, (thread_id,))
        else:
            rows = self._all(_CLAIM)
        found = [value for value in rows[0] if value is not None]
        return Claim(time_from_text(max(found)) if found else None)  # fixed-width text sorts

    def change_position(self) -> int:
        (value,) = self._all("SELECT coalesce(max(change_position), 0) FROM threads")[0]
        return int(value)

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        if not owner_extension_ids:
            return []
        owned, owners = _any_of("owner_extension_id", sorted(owner_extension_ids))
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
        owned, owners = _any_of("t.owner_extension_id", sorted(owner_extension_ids))
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
        conn = self._conn
        for key, content in self._attachments.items():  # before the messages naming them
            conn.execute(_STORE_FILE, (key, content))
        for thread, expected in self._threads.values():
            if expected == 0:
                conn.execute(_INSERT_THREAD, thread_to_row(thread, time_to_text))
                continue
            state = thread_state_row(thread, time_to_text)
            stored = self._loaded.get(thread.id)
            changed = (
                _EVERY_STATE_COLUMN
                if stored is None
                else tuple(i for i, value in enumerate(state) if value != stored[i])
            )
            params = (*[state[i] for i in changed], thread.id, expected)
            if conn.execute(_update_thread(changed), params).rowcount != 1:
                raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
        for message in self._messages:
            row = message_to_row(message, time_to_text)
            present = tuple([i for i, value in enumerate(row) if value is not None])
            conn.execute(_insert_message(present), [row[i] for i in present])
        for message, expected in self._message_updates.values():
            row = message_to_row(message, time_to_text)
            if conn.execute(_UPDATE_MESSAGE, (*row[1:], message.id, expected)).rowcount != 1:
                raise ConcurrencyConflict(f"Message [{message.id}] was changed concurrently")
        for note, expected in self._notes.values():
            row = note_to_row(note, time_to_text)
            if expected == 0:
                conn.execute(_INSERT_NOTE, row)
            elif conn.execute(_UPDATE_NOTE, (*row[1:], note.id, expected)).rowcount != 1:
                raise ConcurrencyConflict(f"Note [{note.id}] was changed concurrently")
        for thread_id, at in self._tombstones:
            conn.execute(_TOMBSTONE_MESSAGES, (time_to_text(at), thread_id))
            conn.execute(_TOMBSTONE_NOTES, (time_to_text(at), thread_id))
        for (owner_number, guest_number), opted_out in self._opt_outs.items():
            conn.execute(_SET_OPTED_OUT, (owner_number, guest_number, opted_out))
        for event in self._events:
            conn.execute(_INSERT_EVENT, (event.thread_id, *event_to_json(event)))
        for statement in self._dialect.directory_writes(self._resources):
            conn.execute(*statement)
        if self._touches_attachments():
            conn.execute(_SWEEP_FILES)  # bytes no live message names (rule M8)
