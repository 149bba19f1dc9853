"""Full sync for a handler of a small resource, alone and beside a large one (issue 12, item 6).

    python bench/bench_sync_scope.py [--others 40000] [--mine 50] [--repeat 20]
                                     [--adapters memory sqlite postgres]

A handler of one resource with ``--mine`` open threads runs a thread FSync and an entries FSync
(scope Accessible). Measured twice on a fresh store of each adapter: with no other resource, and
once another resource holds ``--others`` open threads the handler may not see. Before issue 12
the full syncs read every open thread of the database and filtered in Python (a handler of 50
threads went from 2 ms to 730-860 ms on PostgreSQL beside 40,000 others); now storage is asked
for the actor's resources only, so the ratio beside / alone stays about 1.

PostgreSQL: ``--url`` or ``THREADCORE_TEST_POSTGRES_URL``, else a throwaway server from
``tests/pg_server.py``; the bulk-loaded tables are ANALYZEd before the second measure, as
autovacuum would soon do. Each figure is the best of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from threadcore import (
    Directory,
    EntryScope,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Resource,
    SQLiteRepository,
)

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
MINE, OTHERS = "+12092480001", "+12092480002"
ACTOR = "101"


def directory() -> Directory:
    return Directory(
        [
            Resource("mine", phone_numbers=[MINE], handlers=[ACTOR]),
            Resource("others", phone_numbers=[OTHERS], handlers=["201"]),
        ]
    )


def fill(inbox: Inbox, number: str, count: int, offset: int) -> None:
    """``count`` open threads on ``number`` (one inbound message each), in batches."""
    done = 0
    while done < count:
        with inbox.batch():
            for i in range(done, min(count, done + 2000)):
                guest = f"+1650{2000000 + offset + i:07d}"
                inbox.receive(owner_number=number, guest_number=guest, body="hi")
        done = min(count, done + 2000)


def best(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(make_repo: Callable[[], object], mine: int, others: int, repeat: int) -> list[float]:
    """[thread FSync alone, beside; entries FSync alone, beside] in seconds."""
    repo = make_repo()
    inbox = Inbox(repository=repo, directory=directory(), clock=ManualClock(START))  # type: ignore[arg-type]
    fill(inbox, MINE, mine, 0)

    def threads() -> object:
        return inbox.sync(actor=ACTOR)

    def entries() -> object:
        return inbox.sync_entries(actor=ACTOR, scope=EntryScope.ACCESSIBLE)

    assert len(inbox.sync(actor=ACTOR).records) == mine
    alone = [best(threads, repeat), best(entries, repeat)]
    fill(inbox, OTHERS, others, mine)
    analyze = getattr(repo, "_analyze", None)
    if analyze is not None:
        analyze()  # fresh statistics after the bulk load, as autovacuum would soon gather
    assert len(inbox.sync(actor=ACTOR).records) == mine
    beside = [best(threads, repeat), best(entries, repeat)]
    close = getattr(repo, "close", None)
    if close is not None:
        close()
    return [alone[0], beside[0], alone[1], beside[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--others", type=int, default=40_000)
    parser.add_argument("--mine", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--adapters", nargs="+", default=["memory", "sqlite", "postgres"])
    parser.add_argument("--url", default=os.environ.get("THREADCORE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as folder:
        makers: dict[str, Callable[[], object]] = {
            "memory": InMemoryRepository,
            "sqlite": lambda: SQLiteRepository(Path(folder) / f"{uuid.uuid4().hex}.db"),
        }
        if "postgres" in args.adapters:
            url = args.url
            if url is None:
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
                server = importlib.import_module("pg_server").start()
                url = server.url
            from threadcore.adapters.postgres import PostgresRepository

            def postgres() -> object:
                import psycopg

                repo = PostgresRepository(url, schema=f"bench_{uuid.uuid4().hex[:12]}")

                def analyze() -> None:
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("ANALYZE")

                repo._analyze = analyze  # type: ignore[attr-defined]
                return repo

            makers["postgres"] = postgres
        try:
            print(f"FSync for a handler of {args.mine} open threads, best of {args.repeat}")
            for name in args.adapters:
                t_alone, t_beside, e_alone, e_beside = measure(
                    makers[name], args.mine, args.others, args.repeat
                )
                print(
                    f"  {name:<8} threads: {t_alone * 1e3:8.2f} ms alone, "
                    f"{t_beside * 1e3:8.2f} ms beside {args.others:,} others "
                    f"(x{t_beside / t_alone:.2f});  entries: {e_alone * 1e3:8.2f} ms, "
                    f"{e_beside * 1e3:8.2f} ms (x{e_beside / e_alone:.2f})"
                )
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
