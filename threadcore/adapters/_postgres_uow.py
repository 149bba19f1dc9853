"""The PostgreSQL unit of work: claims, the change feed, the buffered writes sent when it ends
(see :mod:`threadcore.adapters.postgres` for how the rules hold under concurrency)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

import psycopg
from psycopg.pq import TransactionStatus

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._postgres_batch import UNKNOWN, Batch, is_open, pair_of
from threadcore.adapters._postgres_errors import closed_by_server
from threadcore.adapters._postgres_errors import translated as _translated
from threadcore.adapters._postgres_reads import BatchCachedReads
from threadcore.adapters._postgres_rows import (
    MAX_BIGINT,
    ORDINAL_BITS,
    ORDINAL_MASK,
    UNREAD,
    Connection,
    WriteTarget,
    rows_of,
    utc,
    write_statements,
)
from threadcore.adapters._sql import (
    OPEN,
    event_from_json,
    message_from_row,
    thread_from_row,
    unstorable,
)
from threadcore.adapters._sql_reads import SQLReads, storable
from threadcore.domain.errors import ConcurrencyConflict, NestedUnitOfWork, StorageError
from threadcore.domain.model import Message, Thread
from threadcore.ports import Claim, DirectoryAccess, StoredEvent

__all__ = ["PostgresUnitOfWork", "UnitTarget"]

# Pipelined statements: each is prepared at once (prepare=True) or never (prepare=False), never by
# psycopg's count. A statement whose count reached the threshold in a pipeline where an earlier
# statement failed was skipped by the server, yet psycopg took it for prepared, and every later
# run of it on that connection failed ("prepared statement does not exist";
# tests/test_pg_prepared.py). Prepared at its first run, psycopg checks the result.
#: How long a change of the stored directory waits for the commands that read it (a long batch
#: holds the directory's lock to its end): while it waits, every later command waits behind it,
#: so it gives up soon (``StorageError``: the database is busy, retry later).
_CHANGE_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', '2s', true)"  # (SET LOCAL, as a row)
#: What a unit of work holds before its claim.
_UNCLAIMED = Claim(None)


class UnitTarget(WriteTarget, Protocol):
    """**Protocol**: what a :class:`PostgresUnitOfWork` uses of its repository (the
    :class:`~threadcore.adapters.postgres.PostgresRepository` satisfies it; declared here so that
    this lower module does not import it)."""

    _local: threading.local  # the open unit of work, batch and clock read of each thread
    _clock_in_claims: bool
    _lock_prefix: str

    def _getconn(self) -> Connection: ...

    def _putconn(self, conn: Connection) -> None: ...

    def _with_clock(self, read: str) -> str: ...


class PostgresUnitOfWork(BatchCachedReads, BufferedWrites):
    """One transaction on a :class:`~threadcore.adapters.postgres.PostgresRepository`: its claim,
    the batch caches over the shared reads (:class:`BatchCachedReads`), the change feed, and the
    buffered writes sent as one statement when it ends."""

    def __init__(self, repo: UnitTarget) -> None:
        super().__init__()
        self._repo = repo
        self._sql = repo._sql
        self._dialect = repo._dialect
        self._batch: Batch | None = getattr(repo._local, "batch", None)
        self._conn: Connection | None = None
        self._begun = False  # an explicit transaction, begun by a claim (outside a batch)
        self._sent = False  # its writes were sent (or began to be): only a ROLLBACK ends it then
        self._claimed = _UNCLAIMED  # what the claim read (the claimed thread: for the reads)
        self._through = False  # reading in a batch what no pending write touched: no flush
        # read with the claim, under its lock (issue 24: no round trip of their own)
        self._opted: tuple[tuple[str, str], bool] | None = None  # a pair, and its opt-out
        self._looking: str | None = None  # the carrier id to read with the claim
        self._carried: tuple[str, Message | None] | None = None  # that id, and its message

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

    def __enter__(self) -> PostgresUnitOfWork:
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
            self._repo._local.clock = UNREAD  # read again by the next command's claim
            if self._batch is None:
                self._repo._putconn(conn)

    def _abort(self, conn: Connection) -> None:
        """End the transaction of a unit of work that does not commit (a refusal, a rerun, an
        error). Before its writes were sent it has only read and taken locks, and a ``COMMIT``
        ends it as a ``ROLLBACK`` would (nothing stored, the locks released); psycopg takes a
        ``ROLLBACK`` for a reason to deallocate every prepared statement of the connection
        (``DEALLOCATE ALL``), so that each command after a refusal or a rerun would prepare its
        statements again."""
        if self._batch is not None:
            return  # nothing of it was sent: its writes are dropped with it
        with suppress(psycopg.Error):
            status = conn.info.transaction_status
            if status == TransactionStatus.INTRANS and not self._sent:
                conn.execute("COMMIT")
            elif status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")

    def _all(self, sql: str, params: Iterable[Any] = (), prepare: bool | None = None) -> list[Any]:
        conn = self._conn
        if conn is None:
            raise StorageError("The unit of work is not open")
        batch = self._batch
        if batch is None:
            values = tuple(params)
            return self._outside(conn, lambda c: c.execute(sql, values, prepare=prepare).fetchall())
        if not self._through:
            batch.flush()  # the read sees every write of the batch before it
        with batch.guarded():  # an error ends the batch's transaction: the batch fails
            return conn.execute(sql, tuple(params), prepare=prepare).fetchall()

    def _walked(self, sql: str, params: Iterable[Any]) -> list[Any]:
        """A page of a list walked by creation time, read once no command that may write a
        record it lists is under way (rule Q2: the walks' gate, ``walks_sql``), in a
        transaction of its own that ends with the read (it holds commands back meanwhile). A
        command's own reads (after its claim) and a batch's do not wait: they would wait for
        themselves."""
        conn = self._conn
        if conn is None or self._begun or self._batch is not None:
            return self._listed(sql, params)
        values = tuple(params)
        return self._outside(conn, lambda c: self._gated(c, sql, values))

    def _outside(self, conn: Connection, read: Callable[[Connection], list[Any]]) -> list[Any]:
        """``read`` on ``conn``, its driver errors translated. A read outside a transaction that
        lost its connection (a restart) had nothing else riding on it, so it is read again, once,
        on a fresh one (rule D3); inside a command's transaction the loss is the command's."""
        with _translated(conn):
            try:
                return read(conn)
            except psycopg.Error:
                if self._begun or not conn.broken:
                    raise
            self._conn = None  # (handed back: none is held until the fresh one comes)
            self._repo._putconn(conn)
            conn = self._conn = self._repo._getconn()
            return read(conn)

    def _gated(self, conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The page ``sql`` finds, read behind the walks' gate in a transaction of its own."""
        timeout, gate = self._sql.walk
        try:
            with conn.pipeline():
                conn.execute("BEGIN", prepare=False)
                conn.execute(timeout, prepare=False)
                conn.execute(gate, prepare=False)
                cursor = conn.execute(sql, params, prepare=False)
                conn.execute("COMMIT", prepare=False)
        except psycopg.Error:
            if not conn.broken:
                self._abort(conn)  # (a lock timeout: the transaction is over, not the connection)
            raise
        rows: list[Any] = cursor.fetchall()
        return rows

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

        The walks' gate comes first of all, in the first lock statement (rule Q2,
        ``walks_sql``: a page of a list walk waits for the commands under way, which never wait
        for each other there). With ``directory``, the stored directory's lock comes next
        (shared to read it, exclusive to change it: taken before any pair's, so a change waiting
        for the commands that read the directory never waits in a cycle) and its change position
        is read last.

        Inside a batch, see :meth:`_claim_in_batch`."""
        conn = self._conn
        if conn is None:
            raise StorageError("The unit of work is not open")
        if self._batch is not None:
            return self._claim_in_batch(self._batch, read, key, directory)
        version = carried = None
        directory_version = None
        looking, self._looking = self._looking, None
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
                if directory is not None:  # (each lock statement takes the walks' gate first)
                    lock = self._sql.gated_directory[directory]
                    conn.execute(lock, (f"{self._repo._lock_prefix}\x1fdirectory",), prepare=True)
                elif not locks:
                    conn.execute(self._sql.gate, prepare=True)
                for held in locks:
                    conn.execute(*held, prepare=True)
                cursor = conn.execute(*read, prepare=True)
                if looking is not None and key is not None:
                    carried = conn.execute(self._sql.claim_carrier_id, (looking,), prepare=True)
                if directory is not None:
                    version = conn.execute(self._dialect.directory_version, prepare=True)
            row = cursor.fetchone()
            if clocked and row is not None:  # the stored clock, the read's last column
                *rest, instant = row
                row = tuple(rest)
                self._repo._local.clock = None if instant is None else utc(instant)
            if version is not None:
                found = version.fetchone()
                directory_version = 0 if found is None else int(found[0])
            if carried is not None and looking is not None:
                found = carried.fetchone()
                message = None if found is None else message_from_row(found, self._dialect.from_db)
                self._carried = (looking, message)
        if row is None:
            return self._keep(Claim(None, directory_version))
        latest: datetime | None = row[0]
        floor = None if latest is None else utc(latest)
        if key is None:
            return self._keep(Claim(floor, directory_version))
        thread = None if row[2] is None else thread_from_row(row[2:], utc)
        if isinstance(key, tuple):  # the opt-out of the pair, or of the claimed thread's pair
            self._opted = (key, bool(row[1]))
        elif thread is not None:
            self._opted = (pair_of(thread), bool(row[1]))
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
        floor = batch.see_latest(None if row[0] is None else utc(row[0]))
        if key is None:
            return self._keep(Claim(floor, version))
        stored = None if row[2] is None else thread_from_row(row[2:], utc)
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
                [(sql.gated_lock, (f"{prefix}{owner}\x1f{guest}",))],
                (sql.claim_pair, (owner, guest, owner, guest)),
                pair,
                directory,
            )
        if thread_id is not None and not unstorable(thread_id):
            return self._claim(
                [(sql.gated_lock_thread, (prefix, thread_id))],
                (sql.claim_thread, (thread_id,)),
                thread_id,
                directory,
            )
        return self._claim([], (sql.latest, ()), None, directory)

    def look_for(self, provider_message_id: str) -> None:
        """The command about to claim will read the message stored with this carrier id
        (:meth:`message_by_provider_id`): read it with the claim, in the same round trip, under
        the claim's lock (issue 24). Outside a batch only (a batch looks ahead in bulk)."""
        if self._batch is None and not unstorable(provider_message_id):
            self._looking = provider_message_id

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        carried = self._carried
        if carried is not None and carried[0] == provider_message_id:
            return carried[1]  # read by the claim, under its lock
        return super().message_by_provider_id(provider_message_id)

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        opted = self._opted
        if opted is not None and opted[0] == (owner_number, guest_number):
            return opted[1]  # read by the claim, under its lock
        return super().opted_out(owner_number, guest_number)

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
        if not owners or limit < 0 or position > MAX_BIGINT:
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
        return ((int(watermark) - 1) << ORDINAL_BITS) | ORDINAL_MASK

    def events_since(
        self, after: int, until: int, owner_extension_ids: frozenset[str], limit: int
    ) -> list[StoredEvent]:
        owners = storable(owner_extension_ids)
        after = max(after, 0)
        until = min(until, (MAX_BIGINT << ORDINAL_BITS) | ORDINAL_MASK)
        if not owners or until <= after or limit < 0:
            return []
        low_xid, low_ordinal = divmod(after, 1 << ORDINAL_BITS)
        high_xid, high_ordinal = divmod(until, 1 << ORDINAL_BITS)
        rows = self._all(
            self._sql.events_since,
            (low_xid, low_ordinal, high_xid, high_ordinal, owners, limit + 1),
        )
        return [
            ((x << ORDINAL_BITS) + o, event_from_json(kind, payload))
            for x, o, kind, payload in rows
        ]

    # --- the buffered writes (BufferedWrites), applied ------------------------------------------
    def _write(self, conn: Connection) -> None:
        """Every buffered write in statements of data-modifying CTEs, each small enough for
        psycopg's conversion cache, sent with the ``COMMIT`` in one round trip (one statement
        alone, outside a claim's transaction, runs as an implicit one). Inside a batch the
        writes are checked and join the batch's pending ones (:meth:`_join_batch`)."""
        if not self._has_writes():
            if self._batch is None and self._begun:
                conn.execute("COMMIT")  # releases the claim's lock
            return
        if self._batch is not None:
            self._join_batch(self._batch, conn)
            return
        statements = write_statements(self._repo, self, 1, compact=True)
        self._sent = True
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
        return rows_of(self)
