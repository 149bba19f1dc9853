"""psycopg prepares a statement on its sixth run on a connection; in pipeline mode, one that the
server skipped because a statement before it failed (a versioned write that conflicted, a lock
that timed out) was still taken for prepared, and every later run of it on that connection then
failed with "prepared statement does not exist" (found by the history checker once reads wrote
expiries, rule R10b). Whatever run a conflict falls on, the connection goes on working."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
import stores
from conftest import GUEST, OWNER, START

from threadcore import Inbox, ManualClock, Thread
from threadcore.errors import ConcurrencyConflict, ThreadNotFound
from threadcore.storage import Repository

pytest_plugins = ["conftest_pg"]


@pytest.mark.parametrize("before", range(12))
def test_a_conflict_on_any_run_leaves_the_connection_working(
    postgres_url: str, pg_schema: str, before: int
) -> None:
    from threadcore.adapters.postgres import PostgresRepository

    repo = PostgresRepository(postgres_url, schema=pg_schema, min_size=1, max_size=1)
    clock = ManualClock(START)
    inbox: Inbox = stores.inbox_on(repo, clock)
    try:
        first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
        with pytest.raises(ThreadNotFound):  # a refusal: its unit of work is rolled back
            inbox.resolve(first.thread_id, actor="999")
        for _ in range(before):  # the statements' runs on the one connection so far
            clock.advance(timedelta(seconds=1))
            inbox.receive(owner_number=OWNER, guest_number=GUEST, body="again")
        thread = inbox.get(first.thread_id, actor="101")
        with pytest.raises(ConcurrencyConflict):
            _write_a_stale_version(repo, thread)
        for _ in range(12):  # every statement past its sixth run, on the same connection
            clock.advance(timedelta(seconds=1))
            inbox.receive(owner_number=OWNER, guest_number=GUEST, body="after")
            inbox.get(first.thread_id, actor="101")
    finally:
        repo.close()


def _write_a_stale_version(repo: Repository, thread: Thread) -> None:
    """A unit of work whose versioned write conflicts: its statement fails in the pipeline, and
    the COMMIT queued behind it is skipped."""
    with repo.unit_of_work() as uow:
        uow.claim(thread_id=thread.id)
        uow.save_thread(attrs.evolve(thread, label="x"), thread.version - 1)


def test_a_refused_command_keeps_the_connections_prepared_statements(
    postgres_url: str, pg_schema: str
) -> None:
    """A unit of work that ends without committing (a refusal, a rerun) has only read and taken
    locks: it ends with a ``COMMIT``, which keeps what it did not write unwritten and releases its
    locks as a ``ROLLBACK`` would, where psycopg would take a ``ROLLBACK`` for a reason to
    deallocate every prepared statement of the connection (issue 24: each command after a
    refusal or a tie's rerun prepared its statements again)."""
    from threadcore.adapters.postgres import PostgresRepository

    repo = PostgresRepository(postgres_url, schema=pg_schema, min_size=1, max_size=1)
    other = PostgresRepository(postgres_url, schema=pg_schema, min_size=1, max_size=1)
    clock = ManualClock(START)
    inbox: Inbox = stores.inbox_on(repo, clock)
    try:
        first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
        conn = repo._getconn()  # (the pool's one connection: every command's)
        repo._putconn(conn)
        prepared = "SELECT count(*) FROM pg_prepared_statements"
        before = conn.execute(prepared).fetchone()
        assert before is not None
        assert before[0] > 0
        with pytest.raises(ThreadNotFound):  # a refusal, after the claim of the thread
            inbox.resolve(first.thread_id, actor="999")
        after = conn.execute(prepared).fetchone()
        assert after is not None
        assert after[0] >= before[0]  # (the refusal's own claim prepared more)
        # its lock is released: another process claims the thread at once
        with other.unit_of_work() as uow:
            uow.claim(thread_id=first.thread_id)
        clock.advance(timedelta(seconds=1))
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="again")
        assert inbox.get(first.thread_id, actor="101").status.value == "Open"  # not resolved
    finally:
        repo.close()
        other.close()
