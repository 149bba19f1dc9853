"""Restarts cost no command (issue 22, item 3; rule D3), on a PostgreSQL server of this module's
own, restarted between commands and stopped while a commit is on its way.

Every pooled connection has just been used when the server restarts, and the pool's idle check
is set far off: what a restart costs is what a warm pool sees, however long the restart takes.
A commit is held "on its way" deterministically: with synchronous replication to a standby that
never comes, every commit that wrote something waits after it reached the log, until the server
is stopped (the server then says the transaction "has already committed locally").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pg_server
import psycopg
import pytest

from threadcore import Directory, Inbox, Policy, Resource
from threadcore.adapters import postgres as postgres_adapter
from threadcore.adapters.postgres import PostgresRepository
from threadcore.errors import OutcomeUnknown, StorageError
from threadcore.ids import SequentialIds

N1 = "+12092480001"
GUESTS = [f"+1650224{n:04d}" for n in range(1, 9)]
RESOURCE = Resource("6249888001", name="Billing", phone_numbers=[N1], handlers=["101", "102"])
POOL = 4
R = TypeVar("R")


@pytest.fixture(scope="module")
def server() -> Iterator[pg_server.PostgresServer]:
    """A server these tests may stop and restart (not the session's, which other tests use)."""
    try:
        running = pg_server.start()
    except pg_server.ServerUnavailable as error:
        pytest.fail(f"the restart tests need a PostgreSQL server of their own: {error}")
    yield running
    running.stop()


@pytest.fixture
def schema(server: pg_server.PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # A pooled connection rests less than the idle check's interval, however long the restart
    # takes: the pool hands it out unchecked, as it does a connection used a moment ago.
    monkeypatch.setattr(postgres_adapter, "_IDLE_CHECK", 3600.0)
    name = pg_server.new_schema_name()
    yield name
    if not server.running:  # a test that failed while the server was down
        server.start()
    pg_server.drop_schema(server.url, name)


@pytest.fixture
def repo(server: pg_server.PostgresServer, schema: str) -> Iterator[PostgresRepository]:
    """A repository whose pool holds ``POOL`` connections, all made at once."""
    repository = PostgresRepository(server.url, schema=schema, min_size=POOL, max_size=POOL)
    yield repository
    repository.close()


def _inbox(repo: PostgresRepository) -> Inbox:
    return Inbox(
        repository=repo,
        directory=Directory([RESOURCE]),
        policy=Policy(ttl=timedelta(hours=72)),
        ids=SequentialIds("t"),
    )


def _raw(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True)


def _use_every_connection(repo: PostgresRepository) -> None:
    """Every pooled connection used and handed back just now: none has rested."""
    taken = [repo._getconn() for _ in range(POOL)]
    for conn in taken:
        conn.execute("SELECT 1")
    for conn in taken:
        repo._putconn(conn)


def _bodies(url: str, schema: str) -> list[str]:
    """Every stored message's body, in the order stored (read around threadcore)."""
    with _raw(url) as conn:
        rows = conn.execute(f'SELECT body FROM "{schema}".messages ORDER BY position').fetchall()
    return [row[0] for row in rows]


def _until(found: Callable[[], bool], what: str) -> None:
    """Wait until ``found()`` (polling); fail after a minute, naming ``what``."""
    deadline = time.monotonic() + 60
    while not found():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting until {what}")
        time.sleep(0.02)


# --- a restart between two commands --------------------------------------------------------------
def test_eight_commands_in_a_row_after_a_restart_all_succeed(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """Issue 22, item 3: every pooled connection was closed by the restart and none is checked
    on checkout; each command that finds its connection lost before its commit runs again on a
    fresh one, once, and the caller sees nothing of it."""
    inbox = _inbox(repo)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")
    _use_every_connection(repo)
    server.restart()
    threads = []
    for guest in GUESTS[:4]:  # eight commands: a receive and an assignment, four times
        message = inbox.receive(owner_number=N1, guest_number=guest, body=f"after {guest}")
        inbox.assign(message.thread_id, actor="101", assignee="102")
        threads.append(message.thread_id)
    assert _bodies(server.url, schema) == ["before", *(f"after {g}" for g in GUESTS[:4])]
    assert {inbox.get(t, actor="101").assignee for t in threads} == {RESOURCE.user("102")}


def test_reads_after_a_restart_all_succeed(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """A read outside a transaction that finds its connection closed is read again on a fresh
    one: nothing else rode on the connection."""
    inbox = _inbox(repo)
    thread_id = inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="hi").thread_id
    _use_every_connection(repo)
    server.restart()
    for _ in range(2):  # eight reads of four kinds
        assert inbox.get(thread_id, actor="101").id == thread_id
        assert [t.id for t in inbox.list(actor="101")] == [thread_id]
        assert [m.body for m in inbox.messages(thread_id, actor="101")] == ["hi"]
        assert inbox.sync(actor="101").records[0].id == thread_id
    _use_every_connection(repo)
    server.restart()
    consumer = inbox.consumer("after-restart")  # a statement of its own: the event feed
    assert [type(e).__name__ for _, e in inbox.events()] == ["ThreadOpened", "MessageAdded"]
    assert consumer.position() == 0


def test_a_batch_begun_right_after_a_restart_is_stored(
    server: pg_server.PostgresServer, repo: PostgresRepository, schema: str
) -> None:
    """Nothing of a batch is sent before its BEGIN: a BEGIN that finds its connection closed
    goes again on a fresh one, and the batch runs."""
    inbox = _inbox(repo)
    _use_every_connection(repo)
    server.restart()
    with inbox.batch():
        for guest in GUESTS[:3]:
            inbox.receive(owner_number=N1, guest_number=guest, body=f"batch {guest}")
    assert _bodies(server.url, schema) == [f"batch {g}" for g in GUESTS[:3]]


class _EndingClock:
    """The system's clock; armed, its next reading (a command's, taken just after its claim)
    first ends every other session of the database, as a restart does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.armed = False

    def now(self) -> datetime:
        if self.armed:
            self.armed = False
            with _raw(self.url) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 60000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )
        return datetime.now(UTC)


@pytest.mark.parametrize("carrier_id", ["SM-1", None], ids=["then-a-read", "then-its-commit"])
def test_a_command_whose_connection_is_lost_after_its_claim_runs_again_once(
    server: pg_server.PostgresServer,
    schema: str,
    repo: PostgresRepository,
    caplog: pytest.LogCaptureFixture,
    carrier_id: str | None,
) -> None:
    """The connection dies in the middle of the command (its claim taken, its writes not sent):
    the server rolled its transaction back, so the command runs again, once, invisibly. Its
    next statement finds the loss: a read (the carrier id's), or its writes, which are never
    sent on a connection the server had already closed (so this is no unknown outcome)."""
    clock = _EndingClock(server.url)
    inbox = Inbox(repository=repo, directory=Directory([RESOURCE]), clock=clock)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")
    clock.armed = True
    with caplog.at_level("WARNING", logger="threadcore.storage"):
        message = inbox.receive(
            owner_number=N1, guest_number=GUESTS[0], body="during", provider_message_id=carrier_id
        )
    assert "connection lost" in caplog.text  # (the attempt that ran again)
    assert message.provider_message_id == carrier_id
    assert _bodies(server.url, schema) == ["before", "during"]


def test_a_batch_cut_by_a_restart_is_refused_whole_and_nothing_is_run_again(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """Inside ``batch()`` a lost connection ends the batch: nothing of it is stored, and no
    command of it is run again on another connection (that would store part of it)."""
    inbox = _inbox(repo)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")
    _use_every_connection(repo)

    def cut() -> None:
        with inbox.batch():
            for guest in GUESTS[:3]:
                inbox.receive(owner_number=N1, guest_number=guest, body=f"batch {guest}")
            server.restart()
            for guest in GUESTS[3:6]:
                inbox.receive(owner_number=N1, guest_number=guest, body=f"batch {guest}")

    with pytest.raises(StorageError) as caught:
        cut()
    assert type(caught.value) is StorageError
    assert "rolled back" in caught.value.message
    assert _bodies(server.url, schema) == ["before"]
    inbox.receive(owner_number=N1, guest_number=GUESTS[7], body="after")  # the pool recovered
    assert _bodies(server.url, schema) == ["before", "after"]


# --- a commit on its way when the connection is lost ---------------------------------------------
def _settle_commits(server: pg_server.PostgresServer, standby: str = "") -> None:
    """Make every commit that wrote something wait for the synchronous standby ``standby``
    (one that never comes), or (``""``) commit as usual again; returns once a new session
    sees it so."""
    with _raw(server.url) as conn:
        if standby:  # (the test server commits asynchronously: synchronous_commit = off)
            conn.execute("ALTER SYSTEM SET synchronous_commit = 'on'")
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{standby}'")
        else:
            conn.execute("ALTER SYSTEM RESET synchronous_commit")
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        conn.execute("SELECT pg_reload_conf()")

    def seen() -> bool:
        with _raw(server.url) as conn:
            row = conn.execute("SELECT current_setting('synchronous_standby_names')").fetchone()
        return row is not None and row[0] == standby

    _until(seen, f"the server reloaded synchronous_standby_names = {standby!r}")


@contextmanager
def _commits_held(server: pg_server.PostgresServer) -> Iterator[None]:
    """Inside the block, a commit that wrote something stays on its way (it reached the log and
    waits for a standby that never answers) until the server is stopped."""
    _settle_commits(server, "nobody")
    try:
        yield
    finally:
        if not server.running:
            server.start()
        _settle_commits(server)


def _stopped_while_committing(server: pg_server.PostgresServer, call: Callable[[], R]) -> Future[R]:
    """Run ``call`` in a thread of its own; once its commit waits, stop the server (fast: every
    session ends) and start it again. The outcome of ``call`` (which, run again after the
    restart, would wait until commits are no longer held)."""
    pool = ThreadPoolExecutor(1)
    try:
        future = pool.submit(call)

        def waiting() -> bool:
            if future.done():
                return True  # (it did not wait: the result says why)
            with _raw(server.url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
                ).fetchone()
            return row is not None and row[0] > 0

        _until(waiting, "a commit waited")
        server.halt()
        server.start()
        return future
    finally:
        pool.shutdown(wait=False)


def test_a_commit_lost_on_its_way_is_outcome_unknown_not_retryable(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """Nobody can tell whether a commit that was sent committed: the command is not run again,
    and its caller gets ``OutcomeUnknown`` (503), not a bare ``StorageError``; without a
    provider message id a blind repeat could store it twice, so it is not retryable."""
    inbox = _inbox(repo)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")
    with _commits_held(server):
        future = _stopped_while_committing(
            server,
            lambda: inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="lost"),
        )
    with pytest.raises(OutcomeUnknown) as caught:
        future.result(timeout=60)
    error = caught.value
    assert (type(error), error.code, error.status, error.retryable) == (
        OutcomeUnknown, "OutcomeUnknown", 503, False,
    )  # fmt: skip
    assert "may or may not have been stored" in error.message
    assert "Look before repeating" in error.message
    assert isinstance(error.__cause__, psycopg.Error)
    # here it had committed (the server says "committed locally"): a blind repeat would
    # have stored it twice
    assert _bodies(server.url, schema) == ["before", "lost"]
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="after")  # pool recovered
    assert _bodies(server.url, schema) == ["before", "lost", "after"]


def test_a_receive_with_a_carrier_id_whose_commit_was_lost_may_be_repeated(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """With a provider message id a repeat cannot store the message twice (R15): the unknown
    outcome is retryable, and the repeat answers the message the lost commit stored."""
    inbox = _inbox(repo)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")

    def receive() -> object:
        return inbox.receive(
            owner_number=N1, guest_number=GUESTS[0], body="lost", provider_message_id="SM-9"
        )

    with _commits_held(server):
        future = _stopped_while_committing(server, receive)
    with pytest.raises(OutcomeUnknown) as caught:
        future.result(timeout=60)
    assert caught.value.retryable is True
    assert "Repeat the same call unchanged" in caught.value.message
    repeated = receive()
    assert getattr(repeated, "provider_message_id", None) == "SM-9"
    assert _bodies(server.url, schema) == ["before", "lost"]


def test_a_batch_whose_commit_was_lost_is_outcome_unknown(
    server: pg_server.PostgresServer, schema: str, repo: PostgresRepository
) -> None:
    """A batch is never run again: its commit lost on its way ends it with ``OutcomeUnknown``
    (here the whole batch had committed)."""
    inbox = _inbox(repo)
    inbox.receive(owner_number=N1, guest_number=GUESTS[0], body="before")

    def batch() -> None:
        with inbox.batch():
            for guest in GUESTS[:3]:
                inbox.receive(owner_number=N1, guest_number=guest, body=f"batch {guest}")

    with _commits_held(server):
        future = _stopped_while_committing(server, batch)
    with pytest.raises(OutcomeUnknown) as caught:
        future.result(timeout=60)
    assert caught.value.retryable is False
    assert _bodies(server.url, schema) == ["before", *(f"batch {g}" for g in GUESTS[:3])]
