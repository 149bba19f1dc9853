"""What the stored manual clock (issue 25) costs a command: ``receive`` on an in-process
``ManualClock`` against the same on a ``StoredClock``, alternating, on memory, SQLite and
PostgreSQL.

    python bench/bench_stored_clock.py [--messages 3000] [--rounds 5] [--url postgresql://...]

Each round receives ``--messages`` messages (one new thread per 10) on each clock in turn, in a
fresh store; the best round of each is printed with the difference per message. A command reads
the clock twice (when it starts, and after its work when it relied on an open thread): on
PostgreSQL the stored instant comes with the command's claim, on SQLite it is a read of a
one-row table, on memory an attribute.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pgserver import default_url, postgres

from threadcore import Directory, Inbox, InMemoryRepository, ManualClock, Resource, SQLiteRepository
from threadcore.storage import Clock, Repository, StoredClock

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"
DIRECTORY = Directory(
    [Resource(extension_id="1", name="Q", phone_numbers=[OWNER], handlers=["101"])]
)


def run(repository: Repository, clock: Clock, messages: int) -> float:
    """Seconds to receive ``messages`` messages (ten per guest)."""
    inbox = Inbox(repository=repository, directory=DIRECTORY, clock=clock)
    guests = [f"+1650{2240000 + i // 10:07d}" for i in range(messages)]
    t0 = time.perf_counter()
    for guest in guests:
        inbox.receive(owner_number=OWNER, guest_number=guest, body="Hi")
    return time.perf_counter() - t0


def measure(name: str, make: Callable[[], Repository], messages: int, rounds: int) -> None:
    best = {"ManualClock": float("inf"), "StoredClock": float("inf")}
    for _ in range(rounds):
        for kind in best:
            repository = make()
            clock: Clock = (
                ManualClock(START)
                if kind == "ManualClock"
                else StoredClock(repository, start=START)  # type: ignore[arg-type]
            )
            best[kind] = min(best[kind], run(repository, clock, messages))
            close = getattr(repository, "close", None)
            if callable(close):
                close()
    manual, stored = (best[k] / messages * 1e6 for k in ("ManualClock", "StoredClock"))
    print(
        f"{name:<10} ManualClock {manual:8.1f} µs/receive   StoredClock {stored:8.1f} µs/receive"
        f"   difference {stored - manual:+7.1f} µs ({(stored / manual - 1) * 100:+.1f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", default=default_url(), help="PostgreSQL (default: a throwaway)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    measure("memory", InMemoryRepository, args.messages, args.rounds)
    with tempfile.TemporaryDirectory() as folder:

        def sqlite() -> Repository:
            return SQLiteRepository(Path(folder) / f"{uuid.uuid4().hex}.db")

        measure("sqlite", sqlite, args.messages, args.rounds)
    if args.no_postgres:
        return
    from threadcore.adapters.postgres import PostgresRepository

    with postgres(args.url) as url:

        def pg() -> Repository:
            return PostgresRepository(url, schema=f"bench_{uuid.uuid4().hex[:12]}", max_size=2)

        measure("postgres", pg, args.messages, args.rounds)


if __name__ == "__main__":
    main()
