"""PostgreSQL inbound throughput: threadcore against raw psycopg doing the same rows, same run.

    python bench/bench_postgres.py [--url postgresql://...] [--messages 1500] [--pairs 200]
                                   [--workers 1 8] [--repeat 3]

Each worker is a process (spawn) with its own connection(s); workers receive on disjoint pairs
(``--pairs`` each), one transaction per inbound message. Raw psycopg does the least a correct
implementation must: ``SELECT ... FOR UPDATE`` the pair's open thread, insert or update the
thread, insert the message, commit (prepared statements, one connection per worker). threadcore
runs ``Inbox.receive`` on ``PostgresRepository``, which also stores the events (the outbox) and
stamps every row for the gapless change feed. Target: threadcore within 1.5x of raw at 8
workers.

Without ``--url`` (or ``THREADCORE_TEST_POSTGRES_URL``) a throwaway server is started with
``tests/pg_server.py`` (fsync off: this measures CPU and round trips, not the disk).
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

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


def guests(worker: int, pairs: int, messages: int) -> list[str]:
    """The guest number of each inbound message of one worker, round-robin over its pairs."""
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
    for guest in work:
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
    conn.close()
    done.put(len(work))


def threadcore_worker(url: str, schema: str, work: list[str], start: Any, done: Any) -> None:
    """threadcore's ``Inbox.receive`` on ``PostgresRepository``."""
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=1)
    directory = Directory([Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])])
    inbox = Inbox(repository=repo, directory=directory, clock=ManualClock(START))
    with repo.unit_of_work() as uow:
        uow.thread("warm-up")
    start.wait()
    receive = inbox.receive
    for guest in work:
        receive(owner_number=OWNER, guest_number=guest, body="Hi")
    repo.close()
    done.put(len(work))


def run(kind: str, url: str, workers: int, messages: int, pairs: int) -> float:
    """Messages per second of ``workers`` processes of ``kind`` on a fresh schema."""
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
        ctx.Process(target=target, args=(url, schema, guests(n, pairs, messages), start, done))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait(timeout=120)
    t0 = time.perf_counter()
    total: int = sum(done.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a {kind} worker failed")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("THREADCORE_TEST_POSTGRES_URL"))
    parser.add_argument("--messages", type=int, default=1_500, help="per worker")
    parser.add_argument("--pairs", type=int, default=200, help="per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = None
    url = args.url
    if not url:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        pg_server = importlib.import_module("pg_server")  # tests/pg_server.py
        server = pg_server.start()
        url = server.url
    try:
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
        for workers in args.workers:
            best = {"raw": 0.0, "threadcore": 0.0}
            for _ in range(args.repeat):
                for kind in best:  # interleaved, best of each
                    rate = run(kind, url, workers, args.messages, args.pairs)
                    best[kind] = max(best[kind], rate)
            ratio = best["raw"] / best["threadcore"]
            print(f"  {workers} worker process{'es' if workers > 1 else ''}:")
            print(f"    raw psycopg:  {best['raw']:10,.0f} messages/s")
            print(f"    threadcore:   {best['threadcore']:10,.0f} messages/s")
            target = "  (target at 8 workers: 1.5x or less)" if workers == 8 else ""
            print(f"    raw/threadcore: {ratio:.2f}x{target}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
