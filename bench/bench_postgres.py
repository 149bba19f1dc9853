"""PostgreSQL inbound throughput: threadcore against raw psycopg doing the same rows, same run.

    python bench/bench_postgres.py [--url postgresql://...] [--messages 1500] [--pairs 200]
                                   [--workers 1 2 4 8] [--repeat 3] [--hot]

Each worker is a process (spawn) with its own connection(s); workers receive on disjoint pairs
(``--pairs`` each), one transaction per inbound message. Raw psycopg does the least a correct
implementation must: ``SELECT ... FOR UPDATE`` the pair's open thread, insert or update the
thread, insert the message, commit (prepared statements, one connection per worker). threadcore
runs ``Inbox.receive`` on ``PostgresRepository``, which also stores the events (the outbox) and
stamps every row for the gapless change feed. Target: threadcore within 1.5x of raw at 8
workers. Each command's latency is timed too (p50 and p99, over every worker). ``--hot`` adds a
run where every worker writes to the same pair (one customer, every process): the pair's
commands then wait for one another, in threadcore on the pair's claim, in raw psycopg on the
row lock.

Without ``--url`` (or ``THREADCORE_TEST_POSTGRES_URL``) a throwaway server is started with
``tests/pg_server.py`` (fsync off: this measures CPU and round trips, not the disk).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from pgserver import default_url, postgres

from threadcore import Directory, Inbox, ManualClock, Resource
from threadcore.adapters.postgres import PostgresRepository

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"

RAW_SCHEMA = """
CREATE TABLE {s}.threads (id bigserial PRIMARY KEY, owner text NOT NULL, guest text NOT NULL,
                          status text NOT NULL, label text, latest timestamptz,
                          version integer NOT NULL);
CREATE UNIQUE INDEX ON {s}.threads (owner, guest) WHERE status = 'Open';
CREATE TABLE {s}.messages (id bigserial PRIMARY KEY, thread_id bigint NOT NULL, body text,
                           at timestamptz);
"""


def guests(worker: int, pairs: int, messages: int, hot: bool = False) -> list[str]:
    """The guest number of each inbound message of one worker, round-robin over its pairs (or,
    ``hot``, the one pair every worker writes to)."""
    if hot:
        return ["+16502000000"] * messages
    return [f"+1650{2000000 + worker * pairs + i % pairs:07d}" for i in range(messages)]


def raw_worker(url: str, schema: str, work: list[str], start: Any, done: Any) -> None:
    """Raw psycopg: the same rows per message, one transaction each."""
    conn = psycopg.connect(url)
    s = f'"{schema}"'
    select = f"SELECT id, version FROM {s}.threads WHERE owner = %s AND guest = %s " \
             "AND status = 'Open' FOR UPDATE"  # fmt: skip
    insert_thread = (
        f"INSERT INTO {s}.threads (owner, guest, status, label, latest, version) "
        "VALUES (%s, %s, 'Open', %s, %s, 1) RETURNING id"
    )
    update_thread = (
        f"UPDATE {s}.threads SET label = %s, latest = %s, version = version + 1 "
        "WHERE id = %s AND version = %s"
    )
    insert_message = f"INSERT INTO {s}.messages (thread_id, body, at) VALUES (%s, %s, %s)"
    conn.execute("SELECT 1")
    conn.commit()
    start.wait()
    took = []
    for guest in work:
        began = time.perf_counter()
        while True:  # two first messages of a pair at once: the second insert retries
            try:
                row = conn.execute(select, (OWNER, guest)).fetchone()
                if row is None:
                    created = conn.execute(insert_thread, (OWNER, guest, "Hi", START)).fetchone()
                    assert created is not None
                    thread_id = created[0]
                else:
                    thread_id = row[0]
                    conn.execute(update_thread, ("Hi", START, thread_id, row[1]))
                conn.execute(insert_message, (thread_id, "Hi", START))
                conn.commit()
                break
            except psycopg.errors.UniqueViolation:
                conn.rollback()
        took.append(time.perf_counter() - began)
    conn.close()
    done.put(took)


def threadcore_worker(url: str, schema: str, work: list[str], start: Any, done: Any) -> None:
    """threadcore's ``Inbox.receive`` on ``PostgresRepository``."""
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=1)
    directory = Directory([Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])])
    inbox = Inbox(repository=repo, directory=directory, clock=ManualClock(START))
    with repo.unit_of_work() as uow:
        uow.thread("warm-up")
    start.wait()
    receive = inbox.receive
    took = []
    for guest in work:
        began = time.perf_counter()
        receive(owner_number=OWNER, guest_number=guest, body="Hi")
        took.append(time.perf_counter() - began)
    repo.close()
    done.put(took)


def run(
    kind: str, url: str, workers: int, messages: int, pairs: int, hot: bool = False
) -> tuple[float, list[float]]:
    """Messages per second of ``workers`` processes of ``kind`` on a fresh schema, and every
    command's latency (seconds)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        if kind == "raw":
            conn.execute(RAW_SCHEMA.format(s=f'"{schema}"'))
    if kind == "threadcore":
        PostgresRepository(url, schema=schema).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers + 1)
    done: Any = ctx.Queue()
    target = raw_worker if kind == "raw" else threadcore_worker
    procs = [
        ctx.Process(target=target, args=(url, schema, guests(n, pairs, messages, hot), start, done))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait(timeout=120)
    t0 = time.perf_counter()
    latencies: list[float] = [t for _ in procs for t in done.get(timeout=600)]
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a {kind} worker failed")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--messages", type=int, default=1_500, help="per worker")
    parser.add_argument("--pairs", type=int, default=200, help="per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hot", action="store_true", help="also one pair for every worker")
    args = parser.parse_args()
    with postgres(args.url) as url:
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            fsync = conn.execute("SHOW fsync").fetchone()
            sync_commit = conn.execute("SHOW synchronous_commit").fetchone()
        shown = [row[0] if row else "?" for row in (version, fsync, sync_commit)]
        print(
            f"PostgreSQL {shown[0]} (fsync={shown[1]}, synchronous_commit={shown[2]}), "
            f"{os.cpu_count()} CPUs, {args.messages:,} inbound messages per worker on "
            f"{args.pairs} pairs each"
        )
        for hot in (False, True) if args.hot else (False,):
            for workers in args.workers:
                best = {"raw": 0.0, "threadcore": 0.0}
                took: dict[str, list[float]] = {"raw": [], "threadcore": []}
                for _ in range(args.repeat):
                    for kind in best:  # interleaved, best of each
                        rate, latencies = run(kind, url, workers, args.messages, args.pairs, hot)
                        if rate > best[kind]:
                            best[kind], took[kind] = rate, latencies
                ratio = best["raw"] / best["threadcore"]
                where = "one hot pair" if hot else "disjoint pairs"
                print(f"  {workers} worker process{'es' if workers > 1 else ''}, {where}:")
                for kind, label in (("raw", "raw psycopg:"), ("threadcore", "threadcore:")):
                    p50 = percentile(took[kind], 0.50) * 1000
                    p99 = percentile(took[kind], 0.99) * 1000
                    print(f"    {label:13} {best[kind]:10,.0f} messages/s   "
                          f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")  # fmt: skip
                target = "  (target at 8 workers: 1.5x or less)" if workers == 8 else ""
                print(f"    raw/threadcore: {ratio:.2f}x{target}")


if __name__ == "__main__":
    main()
