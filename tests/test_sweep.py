"""The sweep with many instances (issue 14): sweeps racing on one PostgreSQL database expire
each due thread once, with one event, and none of them fails; ``threadcore sweep --every`` runs
as a loop any number of instances may start, one of them leading at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import stores
from conftest import OWNER, START, TTL

from threadcore import ManualClock
from threadcore.adapters.postgres import PostgresRepository
from threadcore.events import ThreadResolved

pytest_plugins = ["conftest_pg"]

DUE = 1000
SWEEPERS = 4


def _guest(i: int) -> str:
    return f"+1650{2240000 + i:07d}"


def test_sweeps_racing_expire_each_due_thread_once(postgres_url: str, pg_schema: str) -> None:
    clock = ManualClock(START)
    repositories = [
        PostgresRepository(postgres_url, schema=pg_schema, max_size=2) for _ in range(SWEEPERS)
    ]
    try:
        first = stores.inbox_on(repositories[0], clock)
        with first.batch():
            for i in range(DUE):
                first.receive(owner_number=OWNER, guest_number=_guest(i), body="Hi")
        mark = first.events()[-1][0] if first.events() else 0
        clock.advance(TTL + timedelta(minutes=1))
        inboxes = [stores.inbox_on(repo, clock) for repo in repositories]
        start = threading.Barrier(SWEEPERS)
        expired: list[list[str]] = [[] for _ in range(SWEEPERS)]
        failures: list[BaseException] = []

        def sweep(n: int) -> None:
            start.wait()
            try:
                expired[n] = [t.id for t in inboxes[n].expire()]
            except BaseException as error:  # reported below
                failures.append(error)

        workers = [threading.Thread(target=sweep, args=(n,)) for n in range(SWEEPERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert failures == []
        every = [tid for part in expired for tid in part]
        assert len(every) == DUE
        assert len(set(every)) == DUE, "a thread was expired by two sweeps"
        resolved = Counter(
            event.thread_id
            for _, event in first.events(cursor=first.feed_cursor(mark), limit=10 * DUE)
            if isinstance(event, ThreadResolved)
        )
        assert len(resolved) == DUE
        assert set(resolved.values()) == {1}, "a thread has two expiry events"
    finally:
        for repo in repositories:
            repo.close()


def _sweeper(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "threadcore", "sweep", "--db", url, "--every", "0.3s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The next line the process prints (a reader thread, so a silent process cannot hang us)."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    assert found, "the sweeper printed nothing"
    return found[0]


def test_one_sweeper_leads_and_another_takes_over_when_it_dies(
    postgres_url: str, pg_schema: str
) -> None:
    PostgresRepository(postgres_url, schema=pg_schema).close()  # the schema exists
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}"
    first = _sweeper(url)
    try:
        assert "leading" in _line(first)
        second = _sweeper(url)
        try:
            assert "standing by" in _line(second)
            first.send_signal(signal.SIGKILL)  # the leader dies without a word
            first.wait(10)
            began = time.monotonic()
            assert "leading" in _line(second)
            assert time.monotonic() - began < 5
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0
        finally:
            second.kill()
    finally:
        first.kill()
