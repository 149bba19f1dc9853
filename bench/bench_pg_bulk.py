"""PostgreSQL bulk: ``inbox.batch()`` and ``threadcore replay`` against one command per transaction,
same workload, same run (issue 14: bulk at no less than 5x the per-command rate).

    python bench/bench_pg_bulk.py [--url postgresql://...] [--messages 4000] [--pairs 200]
                                  [--batch 1000] [--customers 300] [--repeat 3]

- receive: ``--messages`` inbound messages round-robin over ``--pairs`` pairs, each its own
  command (``Inbox.receive``), then the same in ``inbox.batch()`` blocks of ``--batch``;
- replay: the demo's history (``threadcore demo``: inbound, assignments, replies, delivery
  reports, notes, sweeps) of ``--customers`` customers, through the replay engine with one line
  a batch, then with ``--batch`` lines a batch.

Each figure is the best of ``--repeat`` interleaved runs on a fresh schema. Without ``--url`` (or
``THREADCORE_TEST_POSTGRES_URL``) a throwaway server is started with ``tests/pg_server.py``
(fsync off: this measures CPU and round trips, not the disk; with fsync on, every per-command
commit also waits for the disk and the ratio grows).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pgserver import default_url, postgres

from threadcore import Directory, Inbox, ManualClock, Resource
from threadcore.adapters import _postgres_batch
from threadcore.adapters.postgres import PostgresRepository
from threadcore.cli.replay import Replayer
from threadcore.cli.workload import DEMO_RESOURCES, demo_lines

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"


class GroupClock:
    """Times how long a batch waits for the database with its groups: each group's send
    (``Batch.flush``, less the Python that builds its statements: ``_statements``,
    ``_numbered``) and the wait for its answer (``Batch.settle``; the database stores a group
    while the batch goes on, so only what is left of its work by then is waited for)."""

    def __init__(self) -> None:
        self.database = 0.0
        flush, settle, build, numbered = (
            _postgres_batch.Batch.flush,
            _postgres_batch.Batch.settle,
            PostgresRepository._statements,
            _postgres_batch._numbered,
        )
        python = [0.0]

        def timed_flush(batch: Any) -> None:
            python[0] = 0.0
            started = time.perf_counter()
            flush(batch)
            self.database += time.perf_counter() - started - python[0]

        def timed_settle(batch: Any) -> None:
            started = time.perf_counter()
            settle(batch)
            self.database += time.perf_counter() - started

        def timed(function: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args)
                finally:
                    python[0] += time.perf_counter() - started

            return run

        _postgres_batch.Batch.flush = timed_flush  # type: ignore[method-assign]
        _postgres_batch.Batch.settle = timed_settle  # type: ignore[method-assign]
        PostgresRepository._statements = timed(build)  # type: ignore[method-assign]
        _postgres_batch._numbered = timed(numbered)


GROUPS = GroupClock()


def _fresh(url: str) -> PostgresRepository:
    return PostgresRepository(url, schema="bulk_" + uuid.uuid4().hex[:10])


def _drop(url: str, repo: PostgresRepository) -> None:
    import psycopg

    repo.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{repo.schema}" CASCADE')


def receive_rate(url: str, messages: int, pairs: int, batch: int) -> float:
    """Inbound messages a second, one command a transaction (``batch`` 1) or in batches."""
    repo = _fresh(url)
    try:
        clock = ManualClock(START)
        directory = Directory([Resource("q", phone_numbers=[OWNER], handlers=["101"])])
        inbox = Inbox(repository=repo, directory=directory, clock=clock)
        guests = [f"+1650{2000000 + i % pairs:07d}" for i in range(messages)]
        step = timedelta(milliseconds=1)
        started = time.perf_counter()
        if batch <= 1:
            for guest in guests:
                clock.advance(step)
                inbox.receive(owner_number=OWNER, guest_number=guest, body="Hi")
        else:
            for first in range(0, messages, batch):
                with inbox.batch():
                    for guest in guests[first : first + batch]:
                        clock.advance(step)
                        inbox.receive(owner_number=OWNER, guest_number=guest, body="Hi")
        return messages / (time.perf_counter() - started)
    finally:
        _drop(url, repo)


def replay_rate(url: str, lines: list[str], batch: int) -> float:
    """Replay lines a second, ``batch`` lines a batch."""
    repo = _fresh(url)
    try:
        clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
        inbox = Inbox(repository=repo, directory=Directory(DEMO_RESOURCES), clock=clock)
        replayer = Replayer(inbox, repo, clock, batch_size=batch)
        started = time.perf_counter()
        summary = replayer.run(lines)
        took = time.perf_counter() - started
        assert not summary.refused or sum(summary.refused.values()) < len(lines) // 10
        return len(lines) / took
    finally:
        _drop(url, repo)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--messages", type=int, default=4_000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with postgres(args.url) as url:
        lines = [json.dumps(line) for line in demo_lines(customers=args.customers, days=2)]
        print(
            f"{os.cpu_count()} CPUs; receive: {args.messages:,} messages on {args.pairs} pairs; "
            f"replay: {len(lines):,} demo lines ({args.customers} customers); batches of "
            f"{args.batch:,}; best of {args.repeat}"
        )
        rates: dict[str, float] = {}
        database: dict[str, float] = {}  # the database's share of a batched command, seconds
        for _ in range(args.repeat):  # interleaved: the machine's noise hits every figure
            for name, measure in (
                ("receive, per command", lambda: receive_rate(url, args.messages, args.pairs, 1)),
                (
                    "receive, batched",
                    lambda: receive_rate(url, args.messages, args.pairs, args.batch),
                ),
                ("replay, one line a batch", lambda: replay_rate(url, lines, 1)),
                ("replay, batched", lambda: replay_rate(url, lines, args.batch)),
            ):
                GROUPS.database = 0.0
                rate = measure()
                if rate > rates.get(name, 0.0):
                    rates[name] = rate
                    count = args.messages if name.startswith("receive") else len(lines)
                    database[name] = GROUPS.database / count
        for name, rate in rates.items():
            print(f"  {name:26} {rate:10,.0f} /s")
        for kind in ("receive", "replay"):
            single = rates[
                f"{kind}, per command" if kind == "receive" else "replay, one line a batch"
            ]
            ratio = rates[f"{kind}, batched"] / single
            floor = database[f"{kind}, batched"]
            spent = 1 / rates[f"{kind}, batched"]
            print(f"  {kind}: batched / per command = {ratio:.2f}x (target: 5x or more); a "
                  f"batched command takes {spent * 1e6:.0f} µs, of which it waits "
                  f"{floor * 1e6:.0f} µs for the database (the rest is Python)")  # fmt: skip


if __name__ == "__main__":
    main()
