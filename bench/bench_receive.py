"""In-memory ``receive`` throughput against a bare dict-and-list loop, measured in the same run.

    python bench/bench_receive.py [--pairs 10000] [--messages 200000] [--repeat 3]

The bare loop is the limit: the least work that threads inbound messages by pair (find the pair's
open thread, expire it when due, open a new one, append the message, update label and times). It
does no validation, no ids, no events. threadcore's target is at least a sixth of its rate (we aim
for a quarter), and a cost per message that does not grow with thread length.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ticking import TickingClock

from threadcore import Directory, Inbox, InMemoryRepository, Policy, Resource

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"
TTL = timedelta(hours=72)


def guests(pairs: int) -> list[str]:
    """``pairs`` distinct E.164 guest numbers."""
    return [f"+1650{2240000 + i:07d}" for i in range(pairs)]


def workload(pairs: int, messages: int) -> list[str]:
    """The guest number of each inbound message, round-robin over the pairs."""
    numbers = guests(pairs)
    return [numbers[i % pairs] for i in range(messages)]


def bare_loop(work: list[str]) -> float:
    """The limit: dicts and lists only. Returns seconds."""
    open_threads: dict[tuple[str, str], dict[str, object]] = {}
    messages: dict[int, list[tuple[object, ...]]] = {}
    now = START
    next_id = 0
    t0 = time.perf_counter()
    for guest in work:
        key = (OWNER, guest)
        thread = open_threads.get(key)
        if thread is None or now >= thread["latest"] + TTL:  # type: ignore[operator]
            next_id += 1
            thread = {"id": next_id, "label": None, "latest": now, "last_inbound": now}
            open_threads[key] = thread
            messages[next_id] = []
        next_id += 1
        thread_id = thread["id"]
        messages[thread_id].append((next_id, thread_id, "Inbound", "Hi", guest, OWNER, now))  # type: ignore[index]
        thread["label"] = "Hi"
        thread["latest"] = thread["last_inbound"] = now
    return time.perf_counter() - t0


def threadcore_loop(work: list[str]) -> float:
    """threadcore's ``Inbox.receive`` on the in-memory repository. Returns seconds."""
    directory = Directory(
        [Resource("6249888001", name="Billing", phone_numbers=[OWNER], handlers=["101"])]
    )
    inbox = Inbox(
        repository=InMemoryRepository(),
        directory=directory,
        clock=TickingClock(START),
        policy=Policy(ttl=TTL),
    )
    receive = inbox.receive
    t0 = time.perf_counter()
    for guest in work:
        receive(owner_number=OWNER, guest_number=guest, body="Hi")
    return time.perf_counter() - t0


def spread(values: list[float], fmt: str = ",.0f") -> str:
    """``median (min-max)`` of ``values``: how every benchmark prints the figure of its rounds."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def best(fn: Callable[[list[str]], float], work: list[str], repeat: int) -> float:
    """Best of ``repeat`` runs, in seconds (garbage collection as in production: on)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(fn(work))
    return min(times)


def paired(
    a: Callable[[list[str]], float], b: Callable[[list[str]], float], work: list[str], repeat: int
) -> tuple[float, float]:
    """Best of ``repeat`` runs of each, interleaved so both see the same machine load."""
    times_a, times_b = [], []
    for _ in range(repeat):
        gc.collect()
        times_a.append(a(work))
        gc.collect()
        times_b.append(b(work))
    return min(times_a), min(times_b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = workload(args.pairs, args.messages)
    bare, core = paired(bare_loop, threadcore_loop, work, args.repeat)
    bare_rate, core_rate = len(work) / bare, len(work) / core
    print(f"receive, {args.pairs:,} pairs, {len(work):,} messages")
    print(f"  bare dict-and-list loop: {bare_rate:12,.0f} messages/s")
    print(f"  threadcore (memory):     {core_rate:12,.0f} messages/s")
    print(f"  ratio threadcore/bare:   1/{bare_rate / core_rate:.2f}  (target: 1/6 or better)")

    # Cost per message against thread length: the same number of messages spread over few long
    # threads versus many short ones.
    n = min(args.messages, 100_000)
    short = best(threadcore_loop, workload(n // 10, n), args.repeat)  # 10 messages a thread
    long = best(threadcore_loop, workload(max(n // 10_000, 1), n), args.repeat)  # 10,000 a thread
    print(f"thread length, {n:,} messages")
    print(f"  10 messages a thread:     {short / n * 1e6:8.2f} us/message")
    print(f"  10,000 messages a thread: {long / n * 1e6:8.2f} us/message")
    print(f"  ratio long/short:         {long / short:.2f}  (target: <= 1.0 within noise)")


if __name__ == "__main__":
    main()
