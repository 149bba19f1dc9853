"""Query costs against the number of stored threads: ISync, the first list page and the sweep.

    python bench/bench_queries.py [--sizes 10000,1000000] [--repeat 30] [--sweeps 6]

For each size, an in-memory repository is filled with that many threads of one resource (about
half of them resolved history spread over a year, half open over the last 72 hours, on as many
guest numbers as there are open threads). Then, with the clock standing still:

* ISync returning 100 changes: a full sync, 100 inbound messages on open threads, then the
  incremental sync with the full sync's token (the same answer every time, so it is repeated);
* the first list page of 100 with the default filter;
* a sweep (``Inbox.expire``) that expires exactly 1,000 threads: the store holds ``--sweeps``
  + 1 groups of 1,000 threads that fall due one hour apart, and each sweep runs one hour after
  the previous one, so each finds exactly one group due and everything else not due (the last
  group is for counting calls).

Each figure is the best time per operation (garbage collection off during the timed call, as
``timeit`` does; the sizes are measured in turn so that they all see the same machine load), and
the number of Python function calls one operation makes (the work done, free of timing noise).
The issue's target: each costs about the same at every size, ratio largest / smallest under 2.

The stores are built through the repository's unit of work with the pure transitions
(``Inbox.receive`` would take minutes for a million threads); the measured calls go through the
public ``Inbox`` API.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from threadcore import (
    Directory,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    Resource,
    StatusReason,
)
from threadcore.domain import transitions as tx
from threadcore.domain.queries import SyncType

T = TypeVar("T")

NOW = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)  # on the hour, like the sweep groups below
TTL = timedelta(hours=72)
QUEUE = "6249888001"
OWNER = "+12092480001"
ACTOR = "101"
CHANGES = 100
PAGE = 100
SWEEP = 1000
CHUNK = 50_000  # threads per unit of work while building


def guest_number(i: int) -> str:
    return f"+1650{1_000_000 + i:07d}"


def spread(count: int, start: datetime, end: datetime) -> list[datetime]:
    """``count`` instants evenly spread over [start, end)."""
    if count <= 0:
        return []
    step = (end - start) / count
    return [start + step * i for i in range(count)]


def plan(size: int, sweeps: int) -> tuple[list[tuple[datetime, int, bool]], list[int]]:
    """The threads to store, in creation order: (creation time, guest index, resolved), and the
    guest indexes of open threads that are not due during the run (newest first)."""
    due = SWEEP * sweeps
    opened = min(size, max(size // 2, due + 1000))  # at least 1,000 open and never due
    resolved = size - opened
    others = opened - due
    if others < CHANGES:
        raise SystemExit(f"--sizes: {size:,} is too small for {sweeps} sweeps of {SWEEP:,}")
    rows: list[tuple[datetime, bool]] = []
    history = spread(resolved, NOW - timedelta(days=365), NOW - TTL - timedelta(hours=8))
    rows.extend((at, True) for at in history)
    for group in range(sweeps):  # group g falls due at NOW + g hours (its last 50 minutes)
        end = NOW - TTL + timedelta(hours=group)
        instants = spread(SWEEP, end - timedelta(minutes=50), end)
        rows.extend((at, False) for at in [*instants[1:], end])
    # the other open threads stay not due until after the last sweep
    first_free = NOW - TTL + timedelta(hours=sweeps + 1)
    rows.extend((at, False) for at in spread(others, first_free, NOW - timedelta(minutes=1)))
    rows.sort(key=lambda row: row[0])
    threads: list[tuple[datetime, int, bool]] = []
    next_open = 0
    not_due: list[int] = []
    for at, is_resolved in rows:
        if is_resolved:
            threads.append((at, len(threads) % opened, True))
        else:
            threads.append((at, next_open, False))
            if at >= first_free:
                not_due.append(next_open)
            next_open += 1
    return threads, not_due[::-1]


def build(size: int, sweeps: int) -> tuple[Inbox, ManualClock, list[int], float]:
    """An inbox over ``size`` stored threads; also the not-due guests and the build time."""
    resource = Resource(QUEUE, name="Billing Queue", phone_numbers=[OWNER], handlers=[ACTOR])
    directory = Directory([resource])
    repository = InMemoryRepository()
    clock = ManualClock(NOW)
    inbox = Inbox(repository=repository, directory=directory, clock=clock, policy=Policy(ttl=TTL))
    t0 = time.perf_counter()
    threads, not_due = plan(size, sweeps)
    minute = timedelta(minutes=1)
    for start in range(0, len(threads), CHUNK):
        with repository.unit_of_work() as uow:
            for number, (created, guest, is_resolved) in enumerate(
                threads[start : start + CHUNK], start
            ):
                thread, _ = tx.open_thread(
                    f"t{number:09d}", resource, OWNER, guest_number(guest), None, None, created
                )
                if is_resolved:
                    thread, _ = tx.resolve(thread, StatusReason.MANUAL, ACTOR, created + minute)
                uow.save_thread(thread, 0)
    return inbox, clock, not_due, time.perf_counter() - t0


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds taken by ``call`` (garbage collection off while it runs), and its result."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = call()
        return time.perf_counter() - t0, result
    finally:
        gc.enable()


def calls(call: Callable[[], object]) -> int:
    """How many Python function calls ``call`` makes: the work it does, free of timing noise."""
    profile = cProfile.Profile()
    profile.runcall(call)
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


class Store:
    """One inbox over ``size`` stored threads, ready to measure."""

    def __init__(self, size: int, sweeps: int) -> None:
        self.size = size
        self.inbox, self.clock, not_due, self.build_seconds = build(size, sweeps + 1)
        self.token = self.inbox.sync(actor=ACTOR, sync_type=SyncType.FULL).sync_token
        for guest in not_due[:CHANGES]:
            self.inbox.receive(
                owner_number=OWNER, guest_number=guest_number(guest), body="Any news?"
            )
        self.times: dict[str, list[float]] = {}
        self.calls: dict[str, int] = {}
        # the stored threads live to the end: keep them out of the collections that precede
        # every timed call (a full collection over a million threads takes about a second)
        gc.collect()
        gc.freeze()

    def isync(self) -> int:
        answer = self.inbox.sync(actor=ACTOR, sync_type=SyncType.INCREMENTAL, sync_token=self.token)
        return len(answer.records)

    def first_page(self) -> int:
        return len(self.inbox.list(actor=ACTOR, per_page=PAGE))

    def sweep(self, group: int) -> int:
        self.clock.set(NOW + timedelta(hours=group))
        return len(self.inbox.expire())

    def record(self, name: str, call: Callable[[], int], expected: int) -> None:
        seconds, found = timed(call)
        if found != expected:
            raise SystemExit(f"{name} at {self.size:,}: {found:,} records, not {expected:,}")
        self.times.setdefault(name, []).append(seconds)


ISYNC = f"ISync returning {CHANGES} changes"
LIST = f"first list page of {PAGE}"
SWEEPING = f"sweep expiring {SWEEP:,} threads"


def measure(stores: list[Store], repeat: int, sweeps: int) -> None:
    """Time every operation on every store, the sizes interleaved so that they all see the same
    machine load; then count the calls of one more run of each."""
    for _ in range(repeat):
        for store in stores:
            store.record(ISYNC, store.isync, CHANGES)
            store.record(LIST, store.first_page, PAGE)
    for group in range(sweeps):  # each sweep finds the next group of 1,000 due
        for store in stores:
            store.record(SWEEPING, lambda store=store, g=group: store.sweep(g), SWEEP)
    for store in stores:
        store.calls[ISYNC] = calls(store.isync)
        store.calls[LIST] = calls(store.first_page)
        store.calls[SWEEPING] = calls(lambda store=store: store.sweep(sweeps))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,1000000",
        help="comma-separated numbers of stored threads (default 10000,1000000)",
    )
    parser.add_argument("--repeat", type=int, default=30, help="runs of ISync and list each")
    parser.add_argument("--sweeps", type=int, default=6, help="sweeps of 1,000 at each size")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not sizes or args.repeat < 1 or args.sweeps < 1:
        parser.error("give at least one size, --repeat >= 1 and --sweeps >= 1")

    stores = []
    for size in sizes:
        print(f"building {size:,} stored threads ...", flush=True)
        stores.append(Store(size, args.sweeps))
    print("measuring ...", flush=True)
    measure(stores, args.repeat, args.sweeps)

    names = [ISYNC, LIST, SWEEPING]
    width = max(len(n) for n in names) + 2
    head = "".join(f"{f'{s:,} threads':>19}" for s in sizes)
    multi = len(sizes) > 1
    ratio_head = f"   ratio {sizes[-1]:,}/{sizes[0]:,}" if multi else ""
    print()
    print(f"{'best time per operation':<{width}}{head}{ratio_head}")
    for name in names:
        best = [min(store.times[name]) for store in stores]
        cells = "".join(f"{b * 1e3:16.3f} ms" for b in best)
        ratio = f"   {best[-1] / best[0]:6.2f} {'ok' if best[-1] < 2 * best[0] else 'OVER'}"
        print(f"{name:<{width}}{cells}{ratio if multi else ''}")
    print()
    print(f"{'Python calls per operation':<{width}}{head}{ratio_head}")
    for name in names:
        counts = [store.calls[name] for store in stores]
        cells = "".join(f"{c:19,}" for c in counts)
        ratio = f"   {counts[-1] / counts[0]:6.2f}"
        print(f"{name:<{width}}{cells}{ratio if multi else ''}")
    print()
    builds = ", ".join(f"{store.size:,}: {store.build_seconds:.1f} s" for store in stores)
    print(f"building the stores took {builds}")
    print("target: ratio under 2 for each operation (cost in proportion to what it returns)")


if __name__ == "__main__":
    main()
