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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._holds import Hold, unreached
from threadcore.adapters._postgres_batch import Batch
from threadcore.adapters._postgres_errors import translated as _translated
from threadcore.adapters._postgres_rows import (
    MAX_BIGINT,
    ORDINAL_BITS,
    ORDINAL_MASK,
    UNREAD,
    Connection,
    same,
    utc,
    write_statements,
)
from threadcore.adapters._postgres_schema import (
    SCHEMA_VERSION,
    current_store_id,
    prepare_schema,
    stored_version,
)
from threadcore.adapters._postgres_statements import Statements
from threadcore.adapters._postgres_uow import PostgresUnitOfWork
from threadcore.adapters._sql import check_version, event_from_json, unstorable
from threadcore.adapters._sql_reads import Dialect
from threadcore.domain.errors import InvalidInput, NestedUnitOfWork, StorageError
from threadcore.ports import ClockMove, StoredEvent, check_attachment

__all__ = ["SCHEMA_VERSION", "PostgresRepository"]

#: The unit of work's old name (bench/bench_pg_scale.py instruments its reads through it).
_PostgresUnitOfWork = PostgresUnitOfWork
_IDLE_CHECK = 1.0  # seconds a pooled connection may rest before it is checked on checkout


def _any_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if len(values) == 1:  # an index on (column, created_at, id) then gives the list's order
        return f"{column} = %s", [values[0]]
    return f"{column} = ANY(%s)", [values]


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
            to_db=same,
            from_db=utc,
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

    @property
    def max_size(self) -> int:
        """The most connections the pool opens: how many units of work run at once."""
        return int(self._pool.max_size)

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

    def unit_of_work(self) -> PostgresUnitOfWork:
        """Begin a unit of work: one transaction (inside :meth:`batch`, part of the batch's)."""
        return PostgresUnitOfWork(self)

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
        end = f"(({self._sql.watermark})::numeric - 1) * {1 << ORDINAL_BITS} + {ORDINAL_MASK}"
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
            seen = getattr(local, "clock", UNREAD)
            if seen is not UNREAD:
                return cast("datetime | None", seen)
        rows = self._autocommit(self._clock_sql, ())
        instant = utc(rows[0][0]) if rows else None
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
                latest = None if found is None or found[0] is None else utc(found[0])
                old = None if row is None else utc(row[0])
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
        """The statements that store ``writes`` (see :func:`write_statements`)."""
        return write_statements(self, writes, first)

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
        limit = min(limit, MAX_BIGINT)
        after = max(after, 0)
        xid, ordinal = divmod(after, 1 << ORDINAL_BITS)
        if xid > MAX_BIGINT:
            return []
        rows = self._autocommit(self._sql.events, (xid, ordinal, limit))
        return [
            ((x << ORDINAL_BITS) + o, event_from_json(kind, payload))
            for x, o, kind, payload in rows
        ]

    def __repr__(self) -> str:
        try:
            info = psycopg.conninfo.conninfo_to_dict(self._url)
            where = f"{info.get('host', 'localhost')}/{info.get('dbname', '')}"
        except psycopg.Error:
            where = "?"
        return f"PostgresRepository({where!r}, schema={self._schema!r})"
