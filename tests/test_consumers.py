"""Durable event consumers (issue 14): a named cursor stored in the database, read in order with
no gaps, committed forward only, held by one process at a time, and resumed after a crash."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import stores
from conftest import OWNER, START

from threadcore import ManualClock
from threadcore.errors import InvalidInput

pytest_plugins = ["conftest_pg"]
store = stores.store
WORKER = Path(__file__).with_name("consumer_worker.py")


def _fill(inbox: object, count: int) -> list[int]:
    """``count`` inbound messages on distinct pairs; the feed's positions, in order."""
    receive, events = inbox.receive, inbox.events  # type: ignore[attr-defined]
    for i in range(count):
        receive(owner_number=OWNER, guest_number=f"+1650224{i:04d}", body="Hi")
    return [position for position, _ in events(limit=10_000)]


def test_poll_and_commit_keep_one_cursor_per_name(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    positions = _fill(inbox, 3)  # six events
    relay = inbox.consumer("carrier-relay")
    assert relay.position() == 0
    first = relay.poll(limit=4)
    assert [p for p, _ in first] == positions[:4]
    relay.commit(first[-1][0])
    other = stores.inbox_on(store(), ManualClock(START)).consumer("carrier-relay")  # elsewhere
    assert [p for p, _ in other.poll()] == positions[4:]
    other.commit(positions[1])  # an older position: the cursor never moves back
    assert relay.position() == positions[3]
    assert [p for p, _ in inbox.consumer("analytics").poll()] == positions  # its own cursor
    with pytest.raises(InvalidInput):
        inbox.consumer(" padded ")
    with pytest.raises(InvalidInput):
        relay.commit(-1)


def test_a_position_the_feed_has_not_reached_is_refused(store: stores.Store) -> None:
    """Issue 25: a cursor committed past the end of the feed skipped the events that came later,
    without a word. Such a commit is refused, naming ``position``, and changes nothing."""
    inbox = stores.inbox_on(store(), ManualClock(START))
    positions = _fill(inbox, 1)
    relay = inbox.consumer("relay")
    for beyond in (positions[-1] + 2**50, 2**62):  # on PostgreSQL: transactions still to come
        with pytest.raises(InvalidInput) as refused:
            relay.commit(beyond)
        assert (refused.value.code, refused.value.parameter) == ("InvalidInput", "position")
    assert relay.position() == 0
    relay.commit(positions[-1])
    inbox.receive(owner_number=OWNER, guest_number="+16502249999", body="Later")
    later = relay.poll()
    assert [type(e).__name__ for _, e in later] == ["ThreadOpened", "MessageAdded"]
    assert later[0][0] > positions[-1]


def test_postgres_refuses_a_position_held_back_behind_a_running_transaction(
    postgres_url: str, pg_schema: str
) -> None:
    """On PostgreSQL a committed event stays out of the feed while an older transaction runs
    (its position is not reached yet): committing it is refused until the feed shows it."""
    import psycopg

    from threadcore.adapters.postgres import PostgresRepository

    repository = PostgresRepository(postgres_url, schema=pg_schema)
    inbox = stores.inbox_on(repository, ManualClock(START))
    try:
        _fill(inbox, 1)
        relay = inbox.consumer("relay")
        with psycopg.connect(postgres_url) as older:
            older.execute("SELECT pg_current_xact_id()")  # an open transaction with an id
            inbox.receive(owner_number=OWNER, guest_number="+16502249998", body="Held back")
            (held,) = older.execute(
                f"SELECT max((xid::numeric * 4294967296) + ordinal) FROM {pg_schema}.events"
            ).fetchone()
            assert int(held) > max(p for p, _ in inbox.events())  # not in the feed yet
            with pytest.raises(InvalidInput):
                relay.commit(int(held))
            older.rollback()
        assert max(p for p, _ in inbox.events()) == int(held)
        relay.commit(int(held))
        assert relay.position() == int(held)
    finally:
        repository.close()


def test_run_handles_every_event_once_in_order_while_it_holds_the_name(
    store: stores.Store,
) -> None:
    """Two runners of one name at once: one holds it, the other waits; every event is handled
    once, in order, and never by both at the same time."""
    inbox = stores.inbox_on(store(), ManualClock(START))
    positions = _fill(inbox, 10)
    handled: list[tuple[str, int, float, float]] = []
    lock = threading.Lock()
    done = threading.Event()

    def runner(label: str) -> None:
        consumer = stores.inbox_on(store(), ManualClock(START)).consumer("relay")

        def handle(position: int, event: object) -> None:
            began = time.monotonic()
            time.sleep(0.002)
            with lock:
                handled.append((label, position, began, time.monotonic()))
                if len(handled) == len(positions):
                    done.set()

        consumer.run(handle, stop=done, limit=3, idle=0.02)

    runners = [threading.Thread(target=runner, args=(label,)) for label in "ab"]
    for thread in runners:
        thread.start()
    for thread in runners:
        thread.join(60)
    assert [position for _, position, _, _ in handled] == positions
    spans = sorted((began, ended, label) for label, _, began, ended in handled)
    for (_, ended, label), (began, _, other) in itertools.pairwise(spans):
        assert label == other or ended <= began, "two holders handled events at once"


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_consumer_killed_mid_batch_resumes_with_nothing_skipped(
    store: stores.Store, tmp_path: Path
) -> None:
    repository = store()
    inbox = stores.inbox_on(repository, ManualClock(START))
    positions = _fill(inbox, 12)  # 24 events, read 7 at a time
    url = stores.url_of(repository)
    out = tmp_path / "handled.txt"
    killed = subprocess.run(
        [sys.executable, str(WORKER), url, "relay", str(out), "10"], timeout=60, check=False
    )
    assert killed.returncode == -9  # SIGKILL, inside the handler of the 10th event
    seen = [int(line) for line in out.read_text().split()]
    assert seen == positions[:10]
    assert inbox.consumer("relay").position() == positions[8]  # the 10th was never committed
    finished = subprocess.run(
        [sys.executable, str(WORKER), url, "relay", str(out), "0"], timeout=60, check=False
    )
    assert finished.returncode == 0
    seen = [int(line) for line in out.read_text().split()]
    assert seen == positions[:10] + positions[9:]  # at least once, in order, no gap
    assert inbox.consumer("relay").position() == positions[-1]


def test_a_hold_is_released_once_and_a_handler_with_a_default_gets_the_event(
    store: stores.Store,
) -> None:
    repository = store()
    hold = repository.try_hold_consumer("relay")  # type: ignore[attr-defined]
    assert hold is not None
    assert hold.held()
    assert repository.try_hold_consumer("relay") is None  # type: ignore[attr-defined]
    hold.release()
    hold.release()  # a second release does nothing (it closes no one else's file)
    assert not hold.held()
    again = repository.try_hold_consumer("relay")  # type: ignore[attr-defined]
    assert again is not None
    again.release()
    inbox = stores.inbox_on(repository, ManualClock(START))
    positions = _fill(inbox, 1)
    seen: list[object] = []
    done = threading.Event()

    def handle(event: object, log: list[object] | None = None) -> None:
        seen.append(event)
        if len(seen) == len(positions):
            done.set()

    inbox.consumer("one-argument").run(handle, stop=done, idle=0.01)
    assert [type(e).__name__ for e in seen] == ["ThreadOpened", "MessageAdded"]


def test_postgres_cursors_outgrow_bigint_and_a_lost_hold_is_noticed(
    postgres_url: str, pg_schema: str
) -> None:
    import psycopg

    from threadcore.adapters.postgres import PostgresRepository

    repository = PostgresRepository(postgres_url, schema=pg_schema)
    try:
        beyond = 2**63 + 5  # a position once transaction ids pass 2**31 (stored as it would be)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                f"INSERT INTO {pg_schema}.threadcore_consumers VALUES ('big', %s)", (beyond,)
            )
        assert repository.consumer_position("big") == beyond
        assert repository.commit_consumer("big", 0) == beyond  # never back
        hold = repository.try_hold_consumer("relay")
        assert hold is not None
        assert hold.held()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        assert not hold.held()  # its connection is gone, and the lock with it
        taken = repository.try_hold_consumer("relay")
        assert taken is not None
        taken.release()
        hold.release()
    finally:
        repository.close()


def test_a_listening_consumer_wakes_at_the_commit_of_a_notifying_writer(
    postgres_url: str, pg_schema: str
) -> None:
    """With ``notify=on`` in the writer's URL, a consumer that waits ``idle=30`` seconds between
    empty polls handles a new event long before that: it listens (rule D7)."""
    from threadcore import connect

    writer = stores.inbox_on(
        connect(f"{postgres_url}?schema={pg_schema}&notify=on"), ManualClock(START)
    )
    reader = stores.inbox_on(connect(f"{postgres_url}?schema={pg_schema}"), ManualClock(START))
    handled = threading.Event()
    done = threading.Event()
    runner = threading.Thread(
        target=lambda: reader.consumer("relay").run(lambda e: handled.set(), stop=done, idle=30)
    )
    runner.start()
    try:
        time.sleep(1.0)  # the runner holds the name, found nothing and listens
        began = time.monotonic()
        writer.receive(owner_number=OWNER, guest_number="+16502240001", body="Hi")
        assert handled.wait(20), "the consumer did not wake"
        assert time.monotonic() - began < 20  # woken by the notification, not by idle=30
    finally:
        done.set()
        writer.receive(owner_number=OWNER, guest_number="+16502240002", body="Wake to stop")
        runner.join(timeout=40)
        writer.close()
        reader.close()
    assert not runner.is_alive()
