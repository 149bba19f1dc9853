"""The PostgreSQL repository: many service processes on many machines share one database.

psycopg 3 with a :class:`psycopg_pool.ConnectionPool` (the ``postgres`` extra). How the rules hold
under concurrency without serialising writers:

* **One transaction per unit of work, READ COMMITTED.** Reads run as they are asked for (on an
  autocommit connection: under READ COMMITTED a transaction around them would see nothing
  different). The buffered writes and the events go to the server as one statement when the unit
  of work ends (data-modifying CTEs), which PostgreSQL runs as one transaction: all or nothing, in
  one round trip. Every thread update is versioned (``WHERE id = … AND version = …``); a
  server-side check turns "a row did not match" into an error that undoes the whole statement,
  which the adapter reports as :class:`~threadcore.errors.ConcurrencyConflict` so the facade
  retries.
* **One open, alive thread per pair** is a partial unique index. Two processes that both find no
  open thread for a new pair both insert; the index makes the second insert wait for the first
  transaction and then fail (unique violation -> ``ConcurrencyConflict``); the retry finds the
  winner's thread.
* **A gapless change feed without a table lock.** Every thread row and every event row is stamped
  with its writer's transaction id (``pg_current_xact_id()``). Transaction ids are handed out before
  commit, so they do not commit in order; a reader therefore only trusts what lies below the
  oldest transaction still running (``pg_snapshot_xmin(pg_current_snapshot())``): everything
  below it has finished, and everything not yet visible will carry an id at or above it.
  ``change_position()`` is that watermark minus one and ``changed_since(p)`` returns the threads
  stamped above ``p`` (a thread committed above the watermark may be reported twice; none is
  lost). ``events(after)`` returns only events stamped below the watermark, ordered by (transaction
  id, ordinal), at position ``xid * 2**32 + ordinal``.
* **Each thread's events in order.** A thread update also requires the row's stamp to be at or
  below the writer's own transaction id. A command reads before it writes and gets its transaction
  id only when it writes, so a successful writer of a thread always has a higher id than the one
  before it; only inside a long :meth:`PostgresRepository.batch` can a concurrent writer overtake,
  and then the batch's command is refused with ``ConcurrencyConflict`` rather than stored out of
  order.

Every psycopg error is translated: unique violations, serialization failures and deadlocks become
``ConcurrencyConflict``; everything else :class:`~threadcore.errors.StorageError`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar, cast

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._holds import Hold, unreached
from threadcore.adapters._postgres_batch import LOOK_AROUND, UNKNOWN, Batch, is_open, pair_of
from threadcore.adapters._postgres_errors import closed_by_server
from threadcore.adapters._postgres_errors import translated as _translated
from threadcore.adapters._postgres_schema import (
    SCHEMA_VERSION,
    current_store_id,
    prepare_schema,
    stored_version,
)
from threadcore.adapters._postgres_statements import Statements
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    OPEN,
    THREAD_COLUMNS,
    check_version,
    event_from_json,
    event_to_json,
    message_to_row,
    note_to_row,
    thread_from_row,
    thread_to_row,
    tombstone_message_row,
    tombstone_note_row,
    unstorable,
)
from threadcore.adapters._sql_attachments import postgres_store_sql
from threadcore.adapters._sql_reads import Dialect, SQLReads, storable
from threadcore.domain.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NestedUnitOfWork,
    StorageError,
)
from threadcore.domain.model import Message, Thread
from threadcore.ports import Claim, ClockMove, DirectoryAccess, StoredEvent, check_attachment

__all__ = ["SCHEMA_VERSION", "PostgresRepository"]

R = TypeVar("R")


Connection = psycopg.Connection[tuple[Any, ...]]

_OPT_OUT_COLUMNS = ("owner_number", "guest_number", "opted_out")
_ORDINAL_BITS = 32
_MAX_BIGINT = 2**63 - 1
_MAX_ORDINAL = 2**31 - 1  # the ordinal column is an integer
_ORDINAL_MASK = (1 << _ORDINAL_BITS) - 1
_IDLE_CHECK = 1.0  # seconds a pooled connection may rest before it is checked on checkout
#: How long a change of the stored directory waits for the commands that read it (a long batch
#: holds the directory's lock to its end): while it waits, every later command waits behind it,
#: so it gives up soon (``ConcurrencyConflict``, retried by the facade, then the caller's).
# Pipelined statements: each is prepared at once (prepare=True) or never (prepare=False), never by
# psycopg's count. A statement whose count reached the threshold in a pipeline where an earlier
# statement failed was skipped by the server, yet psycopg took it for prepared, and every later
# run of it on that connection failed ("prepared statement does not exist";
# tests/test_pg_prepared.py). Prepared at its first run, psycopg checks the result.

_CHANGE_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', '2s', true)"  # (SET LOCAL, as a row)


#: What a unit of work holds for the stored clock before its claim read it.
_UNREAD: Any = object()
#: What a unit of work holds before its claim.
_UNCLAIMED = Claim(None)


def _utc(value: datetime) -> datetime:
    """Rows come back in the session's time zone: hand out timezone-aware UTC."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _same(value: datetime) -> datetime:
    return value


def _any_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if len(values) == 1:  # an index on (column, created_at, id) then gives the list's order
        return f"{column} = %s", [values[0]]
    return f"{column} = ANY(%s)", [values]


def _refuse_nul(*groups: tuple[Iterable[tuple[Any, ...]], tuple[str, ...]]) -> None:
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


def _tombstoned(
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


class PostgresRepository:
    """A :class:`~threadcore.ports.Repository` in a PostgreSQL database (psycopg 3, pooled).

    ``url`` is a libpq connection string or URL; ``min_size`` / ``max_size`` size the pool;
    ``schema`` is the PostgreSQL schema holding threadcore's tables (created if missing).
    ``timeout`` bounds connecting and waiting for a pooled connection, in seconds;
    ``lock_timeout`` bounds, in seconds, how long a statement waits for a lock another session
    holds (a pair's claim, a thread row an in-flight command is writing) before it fails with a
    retryable :class:`~threadcore.errors.StorageError` (0: wait for as long as it takes).

    The schema is versioned in ``threadcore_schema``. Opening a current schema only reads it (no
    DDL: a role that may only read and write rows opens it). A missing or older one is created or
    migrated on open (safe when many processes open at once: under a transaction-level advisory
    lock), unless ``create_schema=False`` (the URL's ``migrate=off``), which refuses it with
    :class:`~threadcore.errors.SchemaVersionError` naming ``threadcore db upgrade``; a schema
    written by a newer threadcore is refused either way (rule D3). The
    repository may be shared by the threads of a process: each unit of work takes its own pooled
    connection. Call :meth:`close` to close the pool.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        schema: str = "public",
        timeout: float = 30.0,
        create_schema: bool = True,
        notify: bool = False,
        lock_timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise InvalidInput("Parameter [url] must be a non-empty string", parameter="url")
        if not isinstance(schema, str) or not 0 < len(schema.encode()) <= 63 or "\x00" in schema:
            raise InvalidInput(
                "Parameter [schema] must be a PostgreSQL name (1 to 63 bytes, no NUL)",
                parameter="schema",
            )
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"Parameter [{name}] must be a positive integer", parameter=name)
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not 0 < timeout < float("inf")
        ):
            raise InvalidInput("Parameter [timeout] must be a positive number", parameter="timeout")
        if (
            not isinstance(lock_timeout, int | float)
            or isinstance(lock_timeout, bool)
            or not 0 <= lock_timeout < float("inf")
        ):
            raise InvalidInput(
                "Parameter [lock_timeout] must be a number of seconds, 0 or more",
                parameter="lock_timeout",
            )
        # set on each pooled connection as it is made (PostgreSQL's own setting, in ms)
        self._lock_timeout = f"{round(lock_timeout * 1000)}ms"
        if max_size < min_size:
            raise InvalidInput(
                "Parameter [max_size] must be at least min_size", parameter="max_size"
            )
        if not isinstance(notify, bool):
            raise InvalidInput("Parameter [notify] must be True or False", parameter="notify")
        self._url = url
        self._schema = schema
        # NOTIFY on every commit with events: consumers wake at once, but PostgreSQL then
        # serialises the commits of every session that notifies (off by default; rule D7)
        self._notify = notify
        self._channel = "threadcore_" + hashlib.sha256(schema.encode()).hexdigest()[:24]
        self._timeout = float(timeout)
        self._local = threading.local()
        # when each pooled connection was last handed back (see _check_idle)
        self._returned: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()
        self._lost_at = float("-inf")  # when a connection was last found lost (see _putconn)
        s = '"' + schema.replace('"', '""') + '"'
        self._s = s
        self._lock_prefix = f"threadcore\x1f{schema}\x1f"  # advisory lock keys of this schema
        self._clock_sql = f"SELECT instant FROM {s}.threadcore_clock"
        # whether this process runs on the stored clock (its last read found one): then every
        # claim reads the stored instant in its round trip, and a command's reads of the clock
        # cost nothing more (rule R18c)
        self._clock_in_claims = False
        self._clocked_reads: dict[str, str] = {}
        self._sql = Statements(s)
        self._dialect = Dialect(
            mark="%s",
            to_db=_same,
            from_db=_utc,
            any_of=_any_of,
            prefix=f"{s}.",
            message_owner="m.owner_extension_id",
            note_owner="n.owner_extension_id",
        )
        if create_schema is not True and create_schema is not False:
            raise InvalidInput(
                "Parameter [create_schema] must be True or False", parameter="create_schema"
            )
        self._open_schema(create_schema)
        with _translated(connecting=True):
            self._pool: ConnectionPool[Connection] = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True},
                # a connection the server closed (a restart) is replaced before a command gets it
                check=self._check_idle,
                configure=self._note_new,
                timeout=self._timeout,
                name=f"threadcore:{schema}",
                open=True,
            )
            try:  # ready when constructed: the first connections are made here, not later
                self._pool.wait(self._timeout)
            except BaseException:
                self._pool.close()
                raise

    def _open_schema(self, migrate: bool) -> None:
        """Read the schema's version and store id; only a missing or older schema, with
        ``migrate``, leads to DDL, on a second connection (see ``prepare_schema``)."""
        made: str | None = None
        with _translated(connecting=True):
            for step in (current_store_id, prepare_schema):
                conn = psycopg.connect(self._url, connect_timeout=max(1, int(self._timeout)))
                try:
                    made = step(conn, self._schema, self._s, migrate=migrate)
                    conn.commit()
                finally:
                    conn.close()
                if made is not None:
                    self.store_id = made
                    return

    def check_ready(self) -> None:
        """Return when the server answers and the schema is this threadcore's version
        (``ReadinessCheck``). It connects on its own, within at most 5 seconds, so a busy pool
        does not make it wait and a server that went away is seen at once."""
        with _translated(connecting=True):
            limit = max(1, min(int(self._timeout), 5))
            with psycopg.connect(self._url, autocommit=True, connect_timeout=limit) as conn:
                found = stored_version(conn, self._s)
        check_version(found, SCHEMA_VERSION, f"Schema {self._schema!r}")

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the tables."""
        return self._schema

    def close(self) -> None:
        """Close the pool (the repository cannot be used afterwards)."""
        with _translated():
            self._pool.close()

    def _check_idle(self, conn: Connection) -> None:
        """The pool's check on checkout: a connection idle for more than ``_IDLE_CHECK`` seconds,
        or handed back before a connection was last found lost (the server restarted: its
        fellows are likely lost too), is tried with an empty query (one round trip) and replaced
        if the server closed it; a connection in steady use is handed out as it is. A command
        that lost its connection before its commit runs again, on a connection checked so
        (rule D3)."""
        returned = self._returned.get(conn, 0.0)
        if time.monotonic() - returned > _IDLE_CHECK or returned <= self._lost_at:
            ConnectionPool.check_connection(conn)

    def _note_new(self, conn: Connection) -> None:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (self._lock_timeout,))
        self._returned[conn] = time.monotonic()  # made now: it rests from now on

    def _getconn(self) -> Connection:
        with _translated():
            return self._pool.getconn()

    def _putconn(self, conn: Connection) -> None:
        self._returned[conn] = now = time.monotonic()
        if conn.broken:  # the server closed it: the pool replaces it, and checks the others
            self._lost_at = now
        with suppress(psycopg.Error):  # the pool discards a broken connection by itself
            self._pool.putconn(conn)

    def unit_of_work(self) -> _PostgresUnitOfWork:
        """Begin a unit of work: one transaction (inside :meth:`batch`, part of the batch's)."""
        return _PostgresUnitOfWork(self)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the units of work this thread begins inside the block in one transaction (bulk
        import): a command refused inside it changes nothing; an exception escaping the block
        rolls back the whole batch; a clean exit commits it.

        The writes are sent in groups (see :mod:`threadcore.adapters._postgres_batch`): a batch
        costs about one round trip per group of commands instead of several per command. Keep
        batches short where other processes write the same threads: if one of them changed a
        thread the batch also changes, the batch is refused when its writes are sent
        (``StorageError``) and rolled back whole, so each thread's events stay in order.
        """
        if getattr(self._local, "batch", None) is not None:
            raise StorageError("batches do not nest")
        conn, _ = self._sent("BEGIN")
        try:
            self._local.batch = Batch(conn, self._statements)
            try:
                yield
                batch = self._local.batch
                batch.finish()  # what is still pending, and every group's answer; then commit
                if conn.info.transaction_status == TransactionStatus.INERROR:
                    batch.failed = batch.failed or StorageError("the transaction was aborted")
                    batch.check()  # PostgreSQL would answer COMMIT with a ROLLBACK: say so
            finally:
                self._local.batch.abandon()
                self._local.batch = None
            with _translated(conn, committing=True):  # lost now: it may have committed
                conn.execute("COMMIT")
        finally:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            self._putconn(conn)

    def consumer_position(self, name: str) -> int:
        """The position the consumer ``name`` has handled (0 before its first commit)."""
        if unstorable(name):
            return 0
        rows = self._autocommit(
            f"SELECT position FROM {self._s}.threadcore_consumers WHERE name = %s", (name,)
        )
        return int(rows[0][0]) if rows else 0

    def commit_consumer(self, name: str, position: int) -> int:
        """Advance the cursor of ``name`` to ``position`` (never back, never past the feed's
        visible end: the last position of the transaction below the watermark, as
        ``event_position`` says); where it is now."""
        if unstorable(name):
            raise InvalidInput("Parameter [name] cannot be stored", parameter="name")
        table = f"{self._s}.threadcore_consumers"
        end = f"(({self._sql.watermark})::numeric - 1) * {1 << _ORDINAL_BITS} + {_ORDINAL_MASK}"
        position = max(position, 0)  # numeric: a position outgrows bigint with the xid
        rows = self._autocommit(
            f"INSERT INTO {table} AS c (name, position) SELECT %s, %s WHERE %s <= {end} "
            "ON CONFLICT (name) DO UPDATE SET position = GREATEST(c.position, EXCLUDED.position) "
            "RETURNING position",
            (name, position, position),
        )
        if not rows:  # the feed has not reached it (the same bound, read again to say so)
            raise unreached(position, int(self._autocommit(f"SELECT {end}", ())[0][0]))
        return int(rows[0][0])

    def attachment(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or ``None``."""
        check_attachment(key)
        rows = self._autocommit(
            f"SELECT content FROM {self._s}.threadcore_attachments WHERE key = %s", (key,)
        )
        return None if not rows else bytes(rows[0][0])

    def _with_clock(self, read: str) -> str:
        """A claim's ``read`` with the stored clock as its last column."""
        found = self._clocked_reads.get(read)
        if found is None:
            found = self._clocked_reads[read] = (
                f"SELECT r.*, ({self._clock_sql}) FROM ({read}) AS r"
            )
        return found

    def stored_clock(self) -> datetime | None:
        """The stored manual instant, or ``None`` on the system clock (rule R18c). Inside a
        command, what its claim read (no round trip); otherwise one read."""
        local = self._local
        if getattr(local, "open", False):
            seen = getattr(local, "clock", _UNREAD)
            if seen is not _UNREAD:
                return cast("datetime | None", seen)
        rows = self._autocommit(self._clock_sql, ())
        instant = _utc(rows[0][0]) if rows else None
        self._clock_in_claims = instant is not None
        return instant

    def move_stored_clock(self, move: ClockMove) -> datetime | None:
        """Store what ``move`` makes of the stored instant and the latest recorded one, in one
        transaction under the clock's advisory lock (the moves of every process queue)."""
        local = self._local
        if getattr(local, "open", False) or getattr(local, "batch", None) is not None:
            raise NestedUnitOfWork()
        table = f"{self._s}.threadcore_clock"
        conn = self._getconn()
        try:
            with _translated(), conn.transaction():
                conn.execute(self._sql.lock, (f"{self._lock_prefix}\x1fclock",))
                row = conn.execute(self._clock_sql).fetchone()
                found = conn.execute(self._sql.latest).fetchone()
                latest = None if found is None or found[0] is None else _utc(found[0])
                old = None if row is None else _utc(row[0])
                stored = move(old, latest)
                if stored == old:
                    pass  # a reading: nothing to write
                elif stored is None:
                    conn.execute(f"DELETE FROM {table}")
                else:
                    conn.execute(
                        f"INSERT INTO {table} (id, instant) VALUES (1, %s) "
                        "ON CONFLICT (id) DO UPDATE SET instant = EXCLUDED.instant",
                        (stored,),
                    )
        finally:
            self._putconn(conn)
        self._clock_in_claims = stored is not None
        return stored

    def try_hold_consumer(self, name: str) -> Hold | None:
        """A session-level advisory lock on a connection of its own, held until released (or
        until the connection dies with its process)."""
        key = f"threadcore:consumer:{self._schema}:{name}".encode("utf-8", "replace").decode()
        with _translated():
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, int(self._timeout))
            )
            try:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))",
                    (key.encode("utf-8", "replace").decode(),),
                ).fetchone()
            except BaseException:
                conn.close()
                raise
        if row is None or not row[0]:
            conn.close()
            return None
        try:
            with _translated():
                conn.execute(f'LISTEN "{self._channel}"')  # writers with notify wake it
        except BaseException:
            conn.close()
            raise

        def held() -> bool:  # the lock lives as long as its connection
            try:
                conn.execute("SELECT 1")
            except psycopg.Error:
                return False
            return True

        def wait(timeout: float) -> None:
            try:
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    pass
            except psycopg.Error:  # the connection went away: held() says so next
                time.sleep(min(timeout, 0.05))

        return Hold(conn.close, held, wait)

    def _statements(self, writes: BufferedWrites, first: int) -> list[tuple[str, Any]]:
        """The statements that store ``writes`` (a unit of work's, or a batch's group), its
        events numbered from ``first``: the directory's changes, then one statement of
        data-modifying CTEs (several if it is too large), then a NOTIFY if asked for."""
        thread_rows, message_rows, update_rows, note_rows, opt_outs = _rows_of(writes)
        tombstones: dict[str, datetime] = {}
        for thread_id, at in writes._tombstones:
            tombstones.setdefault(thread_id, at)  # the first buries; later ones find none alive
        spared: list[str] = []
        if tombstones:
            message_rows = _tombstoned(message_rows, tombstones, tombstone_message_row)
            updated = _tombstoned([r for r, _ in update_rows], tombstones, tombstone_message_row)
            update_rows = [(r, v) for r, (_, v) in zip(updated, update_rows, strict=True)]
            noted = _tombstoned([r for r, _ in note_rows], tombstones, tombstone_note_row)
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
        if first + len(events) > _MAX_ORDINAL:
            raise StorageError("Too many events in one transaction")
        event_rows = [(n, e.thread_id, *event_to_json(e)) for n, e in enumerate(events, first)]
        # the directory's changes first (none without a stored directory), files' bytes before
        # the messages naming them (rule M8), then the rest
        statements: list[tuple[str, Any]] = [*self._dialect.directory_writes(writes._resources)]
        if writes._attachments:  # in key order: rows are locked in one order
            files = sorted(writes._attachments.items())
            statements.append(
                (postgres_store_sql(self._s, len(files)), [v for file in files for v in file])
            )
        statements += self._sql.write(
            thread_rows,
            message_rows,
            event_rows,
            message_updates=update_rows,
            notes=note_rows,
            tombstones=list(tombstones.items()),
            spared=spared,
            opt_outs=opt_outs,
        )
        if events and self._notify:  # consumers listening wake at the commit
            statements.append(("SELECT pg_notify(%s, '')", (self._channel,)))
        return statements

    def _autocommit(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """One statement on a pooled connection, committed on its own (inside a batch: in it)."""
        batch: Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            batch.flush()
            with batch.guarded():
                return batch.conn.execute(sql, params).fetchall()
        conn, rows = self._sent(sql, params)  # (each statement sent here may be sent twice)
        self._putconn(conn)
        return rows

    def _sent(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Connection, list[Any]]:
        """A pooled connection and the rows of ``sql`` sent on it, a statement that may be sent
        twice (a read, a write whose repeat changes nothing, a BEGIN): if the server had closed
        the connection (a restart), it is sent again on a fresh one (rule D3). The caller hands
        the connection back."""
        for fresh in (False, True):
            conn = self._getconn()
            try:
                with _translated():
                    cursor = conn.execute(sql, params)
                    return conn, [] if cursor.description is None else cursor.fetchall()
            except BaseException as error:
                self._putconn(conn)
                if fresh or not conn.broken or not isinstance(error, StorageError):
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Committed events after position ``after``, ordered by (transaction id, ordinal), held
        back while an older transaction is still running so none is skipped."""
        if limit <= 0:
            return []
        limit = min(limit, _MAX_BIGINT)
        after = max(after, 0)
        xid, ordinal = divmod(after, 1 << _ORDINAL_BITS)
        if xid > _MAX_BIGINT:
            return []
        rows = self._autocommit(self._sql.events, (xid, ordinal, limit))
        return [
            ((x << _ORDINAL_BITS) + o, event_from_json(kind, payload))
            for x, o, kind, payload in rows
        ]

    def __repr__(self) -> str:
        try:
            info = psycopg.conninfo.conninfo_to_dict(self._url)
            where = f"{info.get('host', 'localhost')}/{info.get('dbname', '')}"
        except psycopg.Error:
            where = "?"
        return f"PostgresRepository({where!r}, schema={self._schema!r})"


class _PostgresUnitOfWork(SQLReads, BufferedWrites):
    def __init__(self, repo: PostgresRepository) -> None:
        super().__init__()
        self._repo = repo
        self._sql = repo._sql
        self._dialect = repo._dialect
        self._batch: Batch | None = getattr(repo._local, "batch", None)
        self._conn: Connection | None = None
        self._begun = False  # an explicit transaction, begun by a claim (outside a batch)
        self._claimed = _UNCLAIMED  # what the claim read (the claimed thread: for the reads)
        self._creation = False  # whether this transaction holds the creation lock
        self._through = False  # reading in a batch what no pending write touched: no flush

    def _read_through(self, read: Callable[[], R]) -> R:
        """In a batch, ``read`` without sending the pending writes first: for a read that no
        pending write touched (the batch's record says so)."""
        self._through = True
        try:
            return read()
        finally:
            self._through = False

    def thread(self, thread_id: str) -> Thread | None:
        claimed = self._claimed
        if claimed.subject == thread_id:
            return claimed.thread  # read by the claim, under its lock
        batch = self._batch
        if batch is not None:
            if thread_id in batch.threads:
                return batch.threads[thread_id]
            found = self._read_through(lambda: super(_PostgresUnitOfWork, self).thread(thread_id))
            batch.learn(found)
            return found
        return super().thread(thread_id)

    def message(self, message_id: str) -> Message | None:
        batch = self._batch
        if batch is None:
            return super().message(message_id)
        if message_id in batch.messages:
            return batch.messages[message_id]
        return self._read_through(lambda: super(_PostgresUnitOfWork, self).message(message_id))

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        batch = self._batch
        if batch is None:
            return super().message_by_provider_id(provider_message_id)
        message_id = batch.provider_ids.get(provider_message_id)
        if message_id is not None:
            return batch.messages[message_id]
        if provider_message_id in batch.absent:
            return None
        found = self._read_through(
            lambda: super(_PostgresUnitOfWork, self).message_by_provider_id(provider_message_id)
        )
        return batch.learn_message(provider_message_id, found)

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        batch = self._batch
        if batch is None:
            return super().messages_by_provider_ids(provider_message_ids)
        found: list[Message] = []
        unknown: list[str] = []
        for wanted in dict.fromkeys(provider_message_ids):
            message_id = batch.provider_ids.get(wanted)
            if message_id is not None:
                found.append(batch.messages[message_id])
            elif wanted not in batch.absent:
                unknown.append(wanted)
        if unknown:
            stored = self._read_through(
                lambda: super(_PostgresUnitOfWork, self).messages_by_provider_ids(unknown)
            )
            by_carrier_id = {m.provider_message_id: m for m in stored}
            for wanted in unknown:
                known = batch.learn_message(wanted, by_carrier_id.get(wanted))
                if known is not None:
                    found.append(known)
        return found

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        batch = self._batch
        if batch is None:
            return super().opted_out(owner_number, guest_number)
        pair = (owner_number, guest_number)
        return pair in self.opted_out_pairs([pair])  # (kept by the batch, read once)

    def due_threads(self, cutoff: datetime, limit: int) -> list[Thread]:
        """Locked until commit, skipping rows another sweep has locked: sweeps running at once
        in several processes expire disjoint batches instead of conflicting (issue 14)."""
        if limit <= 0:
            return []
        due = self._threads_where(
            f"{OPEN} AND latest_message_at <= %s",
            (cutoff, limit),
            "ORDER BY latest_message_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
        )
        if self._batch is not None:  # read after the pending writes were sent: as they stand
            for thread in due:
                self._batch.learn(thread)
        return due

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        pair = (owner_number, guest_number)
        claimed = self._claimed
        if claimed.subject == pair:
            return claimed.thread  # read by the claim, under its lock
        batch = self._batch
        if batch is not None:
            self._look_around(batch, pair)
            known = batch.pairs.get(pair, UNKNOWN)
            if pair in batch.pairs and known != UNKNOWN:
                return None if known is None else batch.threads[known]
            if pair in batch.pairs:  # UNKNOWN: send what is pending, then ask the database
                batch.flush()
                del batch.pairs[pair]
            found = self._read_through(
                lambda: super(_PostgresUnitOfWork, self).open_thread_for_pair(*pair)
            )
            batch.learn(found, pair)
            return found
        return super().open_thread_for_pair(owner_number, guest_number)

    def _look_around(self, batch: Batch, pair: tuple[str, str]) -> None:
        """The second time a batch meets a pair it knows nothing of on one owner number, it
        reads that number's open threads at once (up to ``LOOK_AROUND``; without sending
        anything, and keeping only what no pending write touched): a bulk import's commands on
        one business number then read no pair each (their open thread, or that there is none,
        is known)."""
        owner = pair[0]
        if batch.knows(pair) or owner in batch.owners or unstorable(*pair):
            return  # (known, or this number was read: all of it, or too much to be all)
        if owner not in batch.missed:
            batch.missed.add(owner)  # the first: its own read is as cheap
            return
        found = self._read_through(
            lambda: self._threads_where(
                f"{OPEN} AND owner_number = %s", (owner, LOOK_AROUND + 1), "LIMIT %s"
            )
        )
        batch.learn_owner(owner, found[:LOOK_AROUND], len(found) <= LOOK_AROUND)
        batch.knows(pair)

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        batch = self._batch
        if batch is None:
            return super().open_threads_for_pairs(pairs)
        found: list[Thread] = []
        unknown: list[tuple[str, str]] = []
        for pair in dict.fromkeys(pairs):
            if pair not in batch.pairs:
                unknown.append(pair)
            elif batch.pairs[pair] not in (None, UNKNOWN):  # (UNKNOWN: read with the pair)
                found.append(batch.threads[str(batch.pairs[pair])])
        if unknown:  # nothing pending touched them: as stored, and kept
            stored = self._read_through(
                lambda: super(_PostgresUnitOfWork, self).open_threads_for_pairs(unknown)
            )
            by_pair = {pair_of(thread): thread for thread in stored}
            for pair in unknown:
                batch.learn(by_pair.get(pair), pair)
            found += stored
        return found

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        batch = self._batch
        if batch is None:
            return super().opted_out_pairs(pairs)
        unknown = [pair for pair in dict.fromkeys(pairs) if pair not in batch.opt_outs]
        if unknown:  # nothing pending wrote them: as stored, and kept
            out = self._read_through(
                lambda: super(_PostgresUnitOfWork, self).opted_out_pairs(unknown)
            )
            for pair in unknown:
                batch.opt_outs[pair] = pair in out
        return {pair for pair in pairs if batch.opt_outs.get(pair)}

    def __enter__(self) -> _PostgresUnitOfWork:
        local = self._repo._local
        if getattr(local, "open", False):  # one unit of work per thread, as on every adapter
            raise NestedUnitOfWork()
        local.open = True
        try:
            self._enter()
        except BaseException:
            local.open = False
            raise
        return self

    def _enter(self) -> None:
        if self._batch is not None:  # its writes join the batch's when it ends cleanly
            self._batch.check()
            self._conn = self._batch.conn
        else:
            self._conn = self._repo._getconn()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:  # its connection was lost, and no fresh one came (that error is raised)
            self._repo._local.open = False
            if exc_type is None:
                raise StorageError("The unit of work lost its connection; nothing was changed")
            return
        try:
            if exc_type is None:
                # a connection lost while the writes were sent: they may have been committed;
                # one the server had closed before (a restart meanwhile) never got them
                lost = conn if self._batch is None else None
                committing = self._has_writes() and not (
                    lost is not None and closed_by_server(lost)
                )
                try:
                    with _translated(lost, committing=committing):
                        self._write(conn)
                except BaseException:
                    self._abort(conn)
                    raise
            else:
                self._abort(conn)
        finally:
            self._repo._local.open = False
            self._repo._local.clock = _UNREAD  # read again by the next command's claim
            if self._batch is None:
                self._repo._putconn(conn)

    def _abort(self, conn: Connection) -> None:
        if self._batch is not None:
            return  # nothing of it was sent: its writes are dropped with it
        with suppress(psycopg.Error):
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")

    def _all(self, sql: str, params: Iterable[Any] = (), prepare: bool | None = None) -> list[Any]:
        conn = self._conn
        if conn is None:
            raise StorageError("The unit of work is not open")
        batch = self._batch
        if batch is None:
            with _translated(conn):
                try:
                    return conn.execute(sql, tuple(params), prepare=prepare).fetchall()
                except psycopg.Error:
                    if self._begun or not conn.broken:
                        raise
                # a read outside a transaction lost its connection (a restart): nothing else
                # rode on it, so it is read again on a fresh one (rule D3)
                self._conn = None  # (handed back: none is held until the fresh one comes)
                self._repo._putconn(conn)
                conn = self._conn = self._repo._getconn()
                return conn.execute(sql, tuple(params), prepare=prepare).fetchall()
        if not self._through:
            batch.flush()  # the read sees every write of the batch before it
        with batch.guarded():  # an error ends the batch's transaction: the batch fails
            return conn.execute(sql, tuple(params), prepare=prepare).fetchall()

    def _listed(self, sql: str, params: Iterable[Any]) -> list[Any]:
        # Never prepared: after five runs a prepared statement may switch to a generic plan, made
        # for an average resource, which reads a large resource's list through the wrong index
        # (a page of one resource's messages of resolved threads: 4 ms, then 600 ms).
        return self._all(sql, params, prepare=False)

    # --- claims ---------------------------------------------------------------------------------
    def _claim(
        self,
        locks: Sequence[tuple[str, tuple[Any, ...]]],
        read: tuple[str, tuple[Any, ...]],
        key: tuple[str, str] | str | None = None,
        directory: DirectoryAccess = None,
    ) -> Claim:
        """Begin the transaction (outside a batch), take ``locks`` in it and then ``read`` the
        latest instant (and, with a ``key``, the claimed thread's columns, kept for the read that
        follows), all in one round trip: each statement runs once the one before is done; what
        was read, as the :class:`Claim` the unit of work also keeps for its reads.

        With ``directory``, the stored directory's lock comes first (shared to read it,
        exclusive to change it: taken before any pair's, so a change waiting for the commands
        that read the directory never waits in a cycle) and its change position is read last.

        Inside a batch, see :meth:`_claim_in_batch`."""
        conn = self._conn
        if conn is None:
            raise StorageError("The unit of work is not open")
        if self._batch is not None:
            return self._claim_in_batch(self._batch, read, key, directory)
        taken = []
        version = None
        directory_version = None
        clocked = self._repo._clock_in_claims
        if clocked:  # the stored clock comes with the read: no statement more
            read = (self._repo._with_clock(read[0]), read[1])
        with _translated(conn):
            with conn.pipeline():  # (pipelined statements: see the note above)
                if not self._begun:
                    self._begun = True
                    conn.execute("BEGIN", prepare=False)
                if directory == "change":  # queued, it holds every command back: not for long
                    conn.execute(_CHANGE_LOCK_TIMEOUT, prepare=False)
                if directory is not None:
                    lock = self._sql.lock_directory[directory]
                    conn.execute(lock, (f"{self._repo._lock_prefix}\x1fdirectory",), prepare=True)
                taken = [conn.execute(*lock, prepare=True) for lock in locks]
                cursor = conn.execute(*read, prepare=True)
                if directory is not None:
                    version = conn.execute(self._dialect.directory_version, prepare=True)
            row = cursor.fetchone()
            if clocked and row is not None:  # the stored clock, the read's last column
                *rest, instant = row
                row = tuple(rest)
                self._repo._local.clock = None if instant is None else _utc(instant)
            if len(taken) > 1:  # the conditional creation lock
                self._creation = taken[1].fetchone() is not None
            if version is not None:
                found = version.fetchone()
                directory_version = 0 if found is None else int(found[0])
        if row is None:
            return self._keep(Claim(None, directory_version))
        latest: datetime | None = row[0]
        floor = None if latest is None else _utc(latest)
        if key is None:
            return self._keep(Claim(floor, directory_version))
        thread = None if row[1] is None else thread_from_row(row[1:], _utc)
        return self._keep(Claim(floor, directory_version, key, thread))

    def _keep(self, claim: Claim) -> Claim:
        self._claimed = claim
        return claim

    def _claim_in_batch(
        self,
        batch: Batch,
        read: tuple[str, tuple[Any, ...]],
        key: tuple[str, str] | str | None,
        directory: DirectoryAccess,
    ) -> Claim:
        """A claim inside a batch takes no pair lock (a batch holds the rows it wrote until it
        ends, and would hold thousands of advisory locks: keep batches short where other
        processes write the same threads). The directory's lock is taken once and held to the
        end. The claimed thread and the latest instant come from the batch's record when a
        pending write touched them or they were read before; otherwise they are read, without
        sending the pending writes (none touched them)."""
        if directory is not None:
            if batch.directory not in ("change", directory):
                batch.flush()
                if directory == "change":
                    self._all(_CHANGE_LOCK_TIMEOUT)
                lock = self._sql.lock_directory[directory]
                self._all(lock, (f"{self._repo._lock_prefix}\x1fdirectory",))
                batch.directory = directory
                batch.directory_version = None
            if batch.directory_version is None:
                batch.directory_version = super().directory_version()
        version = batch.directory_version if directory is not None else None
        if isinstance(key, tuple):
            self._look_around(batch, key)
            known = batch.pairs.get(key, UNKNOWN)
            if known == UNKNOWN and key in batch.pairs:
                batch.flush()  # a pending write may have closed the pair's open thread
                del batch.pairs[key]  # the database knows now
            elif key in batch.pairs and batch.latest_known:
                thread = None if known is None else batch.threads[known]
                return self._keep(Claim(batch.latest, version, key, thread))
        elif isinstance(key, str) and key in batch.threads and batch.latest_known:
            return self._keep(Claim(batch.latest, version, key, batch.threads[key]))
        elif key is None and batch.latest_known:
            return self._keep(Claim(batch.latest, version))
        rows = self._read_through(lambda: self._all(*read))
        if not rows:
            return self._keep(Claim(batch.latest if batch.latest_known else None, version))
        row = rows[0]
        floor = batch.see_latest(None if row[0] is None else _utc(row[0]))
        if key is None:
            return self._keep(Claim(floor, version))
        stored = None if row[1] is None else thread_from_row(row[1:], _utc)
        if isinstance(key, tuple) and key in batch.pairs:
            known = batch.pairs[key]
            stored = None if known is None else batch.threads[known]
        elif isinstance(key, str) and key in batch.threads:
            stored = batch.threads[key]
        else:  # as stored: nothing pending touched it
            batch.learn(stored, key if isinstance(key, tuple) else None)
        return self._keep(Claim(floor, version, key, stored))

    def claim(
        self,
        *,
        pair: tuple[str, str] | None = None,
        thread_id: str | None = None,
        directory: DirectoryAccess = None,
    ) -> Claim:
        prefix = self._repo._lock_prefix
        sql = self._sql
        if pair is not None and not unstorable(*pair):
            owner, guest = pair
            return self._claim(
                [
                    (sql.lock, (f"{prefix}{owner}\x1f{guest}",)),
                    (sql.lock_creation_if_new, (f"{prefix}\x1fcreate", owner, guest)),
                ],
                (sql.claim_pair, (owner, guest)),
                pair,
                directory,
            )
        if thread_id is not None and not unstorable(thread_id):
            return self._claim(
                [(sql.lock_thread, (prefix, thread_id))],
                (sql.claim_thread, (thread_id,)),
                thread_id,
                directory,
            )
        return self._claim([], (sql.latest, ()), None, directory)

    def claim_creation(self) -> datetime | None:
        if self._creation:  # taken with the pair's claim, before its latest instant was read
            return self._claimed.floor
        self._creation = True
        claimed = self._claimed  # (kept: what the command's claim read)
        floor = self._claim(
            [(self._sql.lock, (f"{self._repo._lock_prefix}\x1fcreate",))], (self._sql.latest, ())
        ).floor
        self._claimed = claimed
        return floor

    # --- reads ----------------------------------------------------------------------------------
    def directory_version(self) -> int:
        if self._claimed.directory_version is not None:
            return self._claimed.directory_version  # read by the claim, under the directory's lock
        return super().directory_version()  # (in a batch: after its pending writes)

    def change_position(self) -> int:
        (value,) = self._all(self._sql.change_position)[0]
        return int(value)

    def changed_since(
        self, position: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[Thread]:
        owners = storable(owner_extension_ids)
        if not owners or limit < 0 or position > _MAX_BIGINT:
            return []
        return self._threads_where(
            "xid > %s AND owner_extension_id = ANY(%s)",
            (max(position, -1), owners, limit + 1),
            "ORDER BY xid LIMIT %s",
        )

    def event_position(self) -> int:
        # Every transaction below the watermark has finished and every later one has an id at
        # or above it: the last position of the transaction just below it bounds what is visible
        # (as events() hands it out) and what can still come.
        (watermark,) = self._all(self._sql.watermark)[0]
        return ((int(watermark) - 1) << _ORDINAL_BITS) | _ORDINAL_MASK

    def events_since(
        self, after: int, until: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[StoredEvent]:
        owners = storable(owner_extension_ids)
        after = max(after, 0)
        until = min(until, (_MAX_BIGINT << _ORDINAL_BITS) | _ORDINAL_MASK)
        if not owners or until <= after or limit < 0:
            return []
        low_xid, low_ordinal = divmod(after, 1 << _ORDINAL_BITS)
        high_xid, high_ordinal = divmod(until, 1 << _ORDINAL_BITS)
        rows = self._all(
            self._sql.events_since,
            (low_xid, low_ordinal, high_xid, high_ordinal, owners, limit + 1),
        )
        return [
            ((x << _ORDINAL_BITS) + o, event_from_json(kind, payload))
            for x, o, kind, payload in rows
        ]

    # --- the buffered writes (BufferedWrites), applied ------------------------------------------
    def _write(self, conn: Connection) -> None:
        """Every buffered write in one statement (data-modifying CTEs), which PostgreSQL runs as
        one implicit transaction: one round trip. A unit of work too large for one statement is
        split into several inside an explicit transaction. Inside a batch the writes are checked
        and join the batch's pending ones (:meth:`_join_batch`)."""
        if not self._has_writes():
            if self._batch is None and self._begun:
                conn.execute("COMMIT")  # releases the claim's lock
            return
        if self._batch is not None:
            self._join_batch(self._batch, conn)
            return
        statements = self._repo._statements(self, 1)
        if len(statements) == 1 and not self._begun:
            conn.execute(*statements[0])
            return
        with conn.pipeline():  # one round trip; an error skips the rest and raises at the end
            if not self._begun:
                conn.execute("BEGIN", prepare=False)
            for statement in statements:  # (pipelined statements: see the note above)
                conn.execute(*statement, prepare=True)
            conn.execute("COMMIT", prepare=False)

    def _join_batch(self, batch: Batch, conn: Connection) -> None:
        """Refuse this unit of work's writes as the database would (a stale version, a second
        open thread for a pair, text with NUL), against what the batch knows or, for a record it
        does not know, what is stored; then merge them into the batch's pending writes."""
        self._rows()  # NUL is refused here, for this unit alone
        self._conn = conn
        try:
            for thread, expected in self._threads.values():
                known = batch.threads.get(thread.id)
                if known is None and expected != 0:  # (a new thread's id is new: none stored)
                    known = self.thread(thread.id)  # read (and kept) when the batch knew none
                if (known.version if known is not None else 0) != expected:
                    raise ConcurrencyConflict(f"Thread [{thread.id}] was changed concurrently")
                if expected == 0 and is_open(thread):
                    other = self.open_thread_for_pair(*pair_of(thread))
                    if other is not None and not (
                        other.id in self._threads and not is_open(self._threads[other.id][0])
                    ):
                        raise ConcurrencyConflict(
                            f"The pair of thread [{thread.id}] has an open thread already"
                        )
            for message, expected in self._message_updates.values():
                found = self.message(message.id)
                if (found.version if found is not None else 0) != expected:
                    raise ConcurrencyConflict(f"Message [{message.id}] was changed concurrently")
            for note, expected in self._notes.values():
                if expected == 0:
                    continue
                stored = batch.notes.get(note.id) or self._read_through(
                    lambda: SQLReads.note(self, note.id)  # noqa: B023 - called at once
                )
                if (stored.version if stored is not None else 0) != expected:
                    raise ConcurrencyConflict(f"Note [{note.id}] was changed concurrently")
        finally:
            self._conn = None
        batch.record(self)

    def _rows(self) -> tuple[list[Any], ...]:
        """This unit of work's rows (NUL refused): threads, messages, message updates, notes,
        opt-outs."""
        return _rows_of(self)


def _rows_of(writes: BufferedWrites) -> tuple[list[Any], ...]:
    """The rows of a buffer of writes, with their expected versions where they have one; text
    with NUL is refused (``InvalidInput``) before anything is sent."""
    thread_rows = [(thread_to_row(t, _same), v) for t, v in writes._threads.values()]
    message_rows = [message_to_row(m, _same) for m in writes._messages]
    update_rows = [(message_to_row(m, _same), v) for m, v in writes._message_updates.values()]
    note_rows = [(note_to_row(n, _same), v) for n, v in writes._notes.values()]
    opt_outs = [(owner, guest, out) for (owner, guest), out in writes._opt_outs.items()]
    _refuse_nul(
        (message_rows, MESSAGE_COLUMNS),
        ((row for row, _ in update_rows), MESSAGE_COLUMNS),
        ((row for row, _ in thread_rows), THREAD_COLUMNS),
        ((row for row, _ in note_rows), NOTE_COLUMNS),
        (opt_outs, _OPT_OUT_COLUMNS),
    )
    return thread_rows, message_rows, update_rows, note_rows, opt_outs
