"""The read path on threads that are not due, and the first read of threads that are (rule R10b).

    python bench/bench_reads.py [--stores memory,sqlite,postgres] [--threads 2000] [--repeat 200]

For each store, an inbox holds ``--threads`` open threads of one resource (none due). Timed, each
the median of ``--repeat`` calls in microseconds:

* ``get``: one thread;
* ``list``: the first page of 100, no filter;
* ``list open``: the first page of 100 Open threads (since issue 22 it also asks for the actor's
  due threads: none here);
* ``page 1 open``: the numbered first page of Open threads (with its count; since issue 22 it
  also asks for the actor's due threads: none here);
* ``messages of open``: the first page of messages of open threads (the same, since issue 22);
* ``full sync``: every open thread of the resource;
* ``entries``: a full entries sync of the threads assigned to the actor (a few);
* ``first read of due``: the clock moves past the due instant of 100 threads, and one ``list
  open`` shows them left out: since issue 22 it writes their 100 expiries first (one unit of
  work). Measured once per round on a fresh set of due threads.

Compare two trees in one run, alternating (what docs/performance.md reports for issue 22):

    for i in 1 2 3; do (cd OLD && python bench/bench_reads.py); python bench/bench_reads.py; done

Figures are per store; the PostgreSQL store is a throwaway server (``bench/pgserver.py``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from threadcore import Directory, Inbox, ManualClock, MessageFilter, Policy, Resource, ThreadFilter

OWNER = "+12092480001"
START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
TTL = timedelta(hours=72)


def _directory() -> Directory:
    return Directory(
        [Resource("6249888001", name="Billing", phone_numbers=[OWNER], handlers=["101", "102"])]
    )


@contextmanager
def _repository(kind: str) -> Iterator[Any]:
    if kind == "memory":
        from threadcore import InMemoryRepository

        yield InMemoryRepository()
    elif kind == "sqlite":
        from threadcore import SQLiteRepository

        with TemporaryDirectory() as folder:
            repo = SQLiteRepository(Path(folder) / "bench.db")
            yield repo
            repo.close()
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        import pgserver

        from threadcore.adapters.postgres import PostgresRepository

        with pgserver.postgres(pgserver.default_url()) as url:
            repo = PostgresRepository(url, schema="bench_reads")
            yield repo
            repo.close()


def _median_us(call: Callable[[], object], repeat: int) -> float:
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
    finally:
        gc.enable()
    return statistics.median(times) * 1e6


def run(kind: str, threads: int, repeat: int) -> dict[str, float]:
    with _repository(kind) as repo:
        clock = ManualClock(START)
        inbox = Inbox(repository=repo, directory=_directory(), clock=clock, policy=Policy(ttl=TTL))
        with inbox.batch():
            ids = [
                inbox.receive(owner_number=OWNER, guest_number=f"+1650{n:07d}", body="hi").thread_id
                for n in range(threads)
            ]
        for thread_id in ids[:20]:
            inbox.assign(thread_id, actor="101", assignee="101")
        clock.advance(timedelta(hours=1))
        open_only = ThreadFilter(status="Open")
        by_status = MessageFilter(thread_status="Open")
        figures = {
            "get": _median_us(lambda: inbox.get(ids[len(ids) // 2], actor="101"), repeat),
            "list": _median_us(lambda: inbox.list(actor="101"), repeat),
            "list open": _median_us(lambda: inbox.list(actor="101", filter=open_only), repeat),
            "page 1 open": _median_us(
                lambda: inbox.list(actor="101", filter=open_only, page=1), repeat
            ),
            "messages of open": _median_us(
                lambda: inbox.list_messages(actor="101", filter=by_status), repeat
            ),
            "full sync": _median_us(lambda: inbox.sync(actor="101"), max(repeat // 10, 5)),
            "entries": _median_us(lambda: inbox.sync_entries(actor="101"), repeat),
        }
        # the first read of 100 due threads: fresh ones each time, due an hour from now
        firsts = []
        for round_ in range(5):
            guests = [f"+1651{round_:02d}{n:05d}" for n in range(100)]
            with inbox.batch():
                for guest in guests:
                    inbox.receive(owner_number=OWNER, guest_number=guest, body="hi")
            clock.advance(TTL)
            began = time.perf_counter()
            inbox.list(actor="101", filter=open_only, per_page=1)
            firsts.append(time.perf_counter() - began)
            inbox.expire()  # the older ones, so the next round's read finds only its own
        figures["first read of 100 due"] = statistics.median(firsts) * 1e6
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stores", default="memory,sqlite,postgres")
    parser.add_argument("--threads", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for kind in args.stores.split(","):
        figures = run(kind, args.threads, args.repeat)
        print(kind, " ".join(f"{name}={value:.0f}us" for name, value in figures.items()))


if __name__ == "__main__":
    main()
