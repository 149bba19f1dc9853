"""The floor under in-memory ``receive``: how fast any design can go that keeps its promises.

    python bench/bench_floor.py [--pairs 10000] [--messages 100000] [--repeat 5 | --rounds 9]

Issue 2 asks for ``receive`` at a sixth of the bare dict-and-list loop. This measures, in the same
run as that loop, two floors written as one inlined loop with no function layers, no validation, no
expiry index, no locking beyond one ``RLock`` and no unit of work, only what the public API obliges
every implementation to do per message:

- ``records``: the records threadcore keeps today. A new id, a frozen ``Message`` returned to the
  caller (built the cheapest way threadcore knows, ``make_message``), a new frozen ``Thread`` state
  and a ``MessageAdded`` event in the outbox.
- ``plain attrs``: the same work as ``records`` with records of its own, independent of
  threadcore's makers: ``@attrs.frozen`` classes (slotted) of the same fields as ``Message``,
  ``Thread`` and ``MessageAdded``, built by the ``__init__`` attrs writes, no validators. The
  floor threadcore's memory receive is held to (within 2x, issue 24): a change that makes
  threadcore's own record makers slower cannot make this floor slower with it.
- ``mutable``: the cheapest design that still returns a frozen ``Message``: the thread's state is
  a mutable list updated in place and the event is a plain tuple; and the same with the input
  checks every receive needs (two E.164 numbers, the body), through threadcore's cached checks.

If a floor runs slower than a sixth of the bare loop, so must every real implementation of it.

``--repeat`` (the default) runs every contender in this one process and keeps each one's best
time. ``--rounds`` runs interleaved rounds instead, each contender in a fresh process of its own,
and prints each contender's time over the bare loop's of the same round, median (min-max): in one
process the bare loop's time depends on the heap the contender before it left (after threadcore
it runs at about half its best rate), which flatters every ratio to it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import attrs
from bench_receive import OWNER, START, TTL, bare_loop, best, spread, threadcore_loop, workload
from ticking import TickingClock

from threadcore import Directory, Inbox, InMemoryRepository
from threadcore.adapters._memory_queries import NO_HOUR, hour_of
from threadcore.domain.events import make_message_added, make_thread_opened
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    OwnerResource,
    Party,
    Policy,
    Resource,
    ThreadStatus,
    make_message,
    make_thread,
)
from threadcore.domain.validation import (
    MAX_INSTANT,
    MIN_INSTANT,
    check_body,
    check_pair,
    check_utc,
    e164,
)
from threadcore.ids import RandomIds

_IN, _ALIVE = Direction.INBOUND, Availability.ALIVE
_RECEIVED, _OPEN = DeliveryStatus.RECEIVED, ThreadStatus.OPEN
_OWNER = OwnerResource("6249888001", "Billing", "Department")


def floor_records(
    work: list[str],
    thread_of: Callable[..., Any] = make_thread,
    message_of: Callable[..., Any] = make_message,
    event_of: Callable[..., Any] = make_message_added,
) -> float:
    """Frozen Message, frozen Thread state, MessageAdded event per message, built by
    threadcore's record makers (or the ones given). Returns seconds."""
    lock, new_id, ttl, now = threading.RLock(), RandomIds().new_id, TTL, START
    open_by_pair: dict[tuple[str, str], Any] = {}
    threads: dict[str, Any] = {}
    by_id: dict[str, Any] = {}
    by_thread: dict[str, list[str]] = {}
    order: list[str] = []
    events: list[Any] = []
    t0 = time.perf_counter()
    for guest in work:
        with lock:
            key = (OWNER, guest)
            thread = open_by_pair.get(key)
            if thread is None or now >= thread.latest_message_at + ttl:
                thread = thread_of(new_id(), Party(OWNER), Party(guest), _OWNER, now, _OPEN,
                                     _ALIVE, None, None, None, now, None, None, now, 1)  # fmt: skip
                by_thread[thread.id] = []
            thread_id = thread.id
            message_id = new_id()
            message = message_of(message_id, thread_id, _IN, "Hi", guest, OWNER, None, now, now,
                                   _ALIVE, None, _RECEIVED, None, None, None, None, False, None,
                                   "text/plain", (), (), None, 1)  # fmt: skip
            open_by_pair[key] = threads[thread_id] = thread_of(
                thread_id, thread.owner_party, thread.guest_party, thread.owner,
                thread.creation_time, _OPEN, _ALIVE, thread.assignee, None, "Hi", now, now,
                thread.last_outbound_at, now, thread.version + 1,
            )  # fmt: skip
            by_id[message_id] = message
            by_thread[thread_id].append(message_id)
            order.append(message_id)
            events.append(event_of(thread_id, now, message_id, _IN, None))
    return time.perf_counter() - t0


@attrs.frozen
class PlainThread:
    """A thread's state: the fields of ``threadcore.Thread``, no validation."""

    id: str
    owner_party: Any
    guest_party: Any
    owner: Any
    creation_time: Any
    status: Any
    availability: Any
    assignee: Any
    status_reason: Any
    label: Any
    last_modified_time: Any
    last_inbound_at: Any
    last_outbound_at: Any
    latest_message_at: Any
    version: int


@attrs.frozen
class PlainMessage:
    """A message: the fields of ``threadcore.Message``, no validation."""

    id: str
    thread_id: str
    direction: Any
    body: str
    from_number: str
    to_number: str
    author: Any
    created_at: Any
    last_modified_at: Any
    availability: Any
    provider_message_id: Any
    status: Any
    sent_at: Any
    delivered_at: Any
    read_at: Any
    error_code: Any
    is_automated: bool
    source: Any
    content_type: str
    attachments: Any
    classifications: Any
    keyword: Any
    version: int


@attrs.frozen
class PlainMessageAdded:
    """The event: the fields of ``threadcore.MessageAdded``."""

    thread_id: str
    at: Any
    message_id: str
    direction: Any
    initiator: Any


def floor_attrs(work: list[str]) -> float:
    """:func:`floor_records` with plain attrs records of its own (not threadcore's makers).
    Returns seconds."""
    return floor_records(work, PlainThread, PlainMessage, PlainMessageAdded)


def floor_mutable(work: list[str], checked: bool = False) -> float:
    """Frozen Message; thread state a list updated in place; the event a tuple. ``checked`` adds
    the input checks the rules ask of every receive (both numbers E.164, the body a non-blank
    string storage can keep), through threadcore's cached validators. Returns seconds."""
    lock, new_id, ttl, now = threading.RLock(), RandomIds().new_id, TTL, START
    open_by_pair: dict[tuple[str, str], list[Any]] = {}
    by_id: dict[str, Any] = {}
    by_thread: dict[str, list[str]] = {}
    order: list[str] = []
    events: list[Any] = []
    t0 = time.perf_counter()
    for guest in work:
        if checked:
            e164(OWNER, "owner_number")
            e164(guest, "guest_number")
            check_body("Hi", 1600)
        with lock:
            key = (OWNER, guest)
            state = open_by_pair.get(key)  # [id, label, latest, last inbound, version]
            if state is None or now >= state[2] + ttl:
                state = open_by_pair[key] = [new_id(), None, now, None, 0]
                by_thread[state[0]] = []
            thread_id = state[0]
            message_id = new_id()
            message = make_message(message_id, thread_id, _IN, "Hi", guest, OWNER, None, now, now,
                                   _ALIVE, None, _RECEIVED, None, None, None, None, False, None,
                                   "text/plain", (), (), None, 1)  # fmt: skip
            state[1] = "Hi"
            state[2] = state[3] = now
            state[4] += 1
            by_id[message_id] = message
            by_thread[thread_id].append(message_id)
            order.append(message_id)
            events.append((thread_id, now, message_id, _IN, None))
    return time.perf_counter() - t0


def floor_checked(work: list[str]) -> float:
    """:func:`floor_mutable` with the input checks. Returns seconds."""
    return floor_mutable(work, checked=True)


def floor_rules(work: list[str]) -> float:
    """:func:`floor_records` plus what the rules and the reads need of every receive, still one
    inlined loop (no function layers, no command record, no unit of work, no ports, no
    retries): the input checks (two E.164 numbers, the body, the keyword: rule M7) through
    threadcore's cached checks; the owner number's resource; the clock read and validated,
    never before the latest instant used nor the store's (R18, R18a), and a tie at one instant
    told (Q2); the pair's open thread checked for its due time before and, with a second
    reading of the clock, again at the end (R10); a new thread's ``ThreadOpened`` and its
    place in the reads' indexes (its resource's, owner number's and guest's threads by
    creation); the change order (sync), the open threads' expiry hour (the sweep), the message
    order (walks) and the thread's messages. What is left between this and threadcore is the
    library's own cost: its layers. Returns seconds."""
    lock, new_id, ttl, tick = threading.RLock(), RandomIds().new_id, TTL, timedelta(microseconds=1)
    clock, keyword_of = TickingClock(START), Policy().keyword
    resources = {OWNER: Resource("6249888001", name="Billing", phone_numbers=[OWNER])}
    open_by_pair: dict[tuple[str, str], str] = {}
    threads: dict[str, Any] = {}
    by_id: dict[str, Any] = {}
    by_thread: dict[str, list[str]] = {}
    by_owner: dict[str, list[Any]] = {}
    by_number: dict[str, list[Any]] = {}
    by_guest: dict[str, list[Any]] = {}
    changes: dict[str, int] = {}
    buckets: dict[int, set[str]] = {}
    bucket_of: dict[str, int] = {}
    order: list[str] = []
    events: list[Any] = []
    latest = floor = START
    position, hour = 0, NO_HOUR
    t0 = time.perf_counter()
    for number in work:
        owner, guest = check_pair(OWNER, number)
        check_body("Hi", 1600)
        keyword = keyword_of("Hi")
        with lock:
            resource = resources[owner]
            now = clock.now()
            if now.tzinfo is not UTC or not MIN_INSTANT <= now <= MAX_INSTANT:
                now = check_utc(now, "clock.now()")
            if now < latest:
                now = latest
            if now <= floor:
                now = floor + tick  # (a tie asks for the ids created then: none on this clock)
            latest = now
            pair = (owner, guest)
            thread_id = open_by_pair.get(pair)
            thread = None if thread_id is None else threads[thread_id]
            if thread is None or thread.latest_message_at + ttl <= now:  # (none falls due here)
                thread_id = new_id()
                thread = make_thread(thread_id, Party(owner), Party(guest), resource.owner,
                                     now, _OPEN, _ALIVE, None, None, None, now, None, None, now,
                                     1)  # fmt: skip
                events.append(make_thread_opened(thread_id, now, resource.extension_id, owner,
                                                 guest, None, None))  # fmt: skip
                key, version = (now, thread_id), 0
                for index, name in ((by_owner, resource.extension_id), (by_number, owner),
                                    (by_guest, guest)):  # fmt: skip
                    index.setdefault(name, []).append(key)
                by_thread[thread_id] = []
            else:
                version = thread.version
            message_id = new_id()
            message = make_message(message_id, thread_id, _IN, "Hi", guest, owner, None, now, now,
                                   _ALIVE, None, _RECEIVED, None, None, None, None, False, None,
                                   "text/plain", (), (), keyword, 1)  # fmt: skip
            new = make_thread(thread_id, thread.owner_party, thread.guest_party, thread.owner,
                              thread.creation_time, _OPEN, _ALIVE, thread.assignee, None, "Hi",
                              now, now, thread.last_outbound_at, now,
                              thread.version + 1)  # fmt: skip
            event = make_message_added(thread_id, now, message_id, _IN, None)
            done = clock.now()
            if version and now < thread.latest_message_at + ttl <= done:
                raise AssertionError("fell due while it ran: decide again (not on this clock)")
            threads[thread_id] = new
            open_by_pair[pair] = thread_id
            position += 1
            changes.pop(thread_id, None)
            changes[thread_id] = position
            if not hour[0] <= now < hour[1]:
                hour = hour_of(now)
            old_bucket = bucket_of.get(thread_id)
            if hour[2] != old_bucket:
                if old_bucket is not None:
                    buckets[old_bucket].discard(thread_id)
                buckets.setdefault(hour[2], set()).add(thread_id)
                bucket_of[thread_id] = hour[2]
            by_id[message_id] = message
            by_thread[thread_id].append(message_id)
            if not order or by_id[order[-1]].created_at < now:
                order.append(message_id)
            events.append(event)
            floor = now
    return time.perf_counter() - t0


def threadcore_layers(work: list[str]) -> float:
    """threadcore's own layers alone: its runner (the claim, the command's time, the context,
    the re-check, publication) and the in-memory unit of work (its lock, the commit, the
    buffers cleared) around a handler that does nothing, through the runner's private
    ``_run`` as ``Inbox.receive`` calls it. No input checks, no records, no indexes. Returns
    seconds."""
    directory = Directory([Resource("6249888001", name="Billing", phone_numbers=[OWNER])])
    inbox = Inbox(repository=InMemoryRepository(), directory=directory,
                  clock=TickingClock(START), policy=Policy(ttl=TTL))  # fmt: skip
    run = inbox._run

    def nothing(command: object, ctx: object) -> None:
        return None

    t0 = time.perf_counter()
    for guest in work:
        run(nothing, guest, pair=(OWNER, guest))
    return time.perf_counter() - t0


#: Every contender, by the name printed.
CONTENDERS: dict[str, Callable[[list[str]], float]] = {
    "bare dict-and-list loop": bare_loop,
    "floor, today's records": floor_records,
    "floor, plain attrs records": floor_attrs,
    "floor, mutable thread state": floor_mutable,
    "floor, mutable, input checked": floor_checked,
    "floor, the rules' work": floor_rules,
    "threadcore's layers alone": threadcore_layers,
    "threadcore (memory)": threadcore_loop,
}


def interleaved(pairs: int, messages: int, rounds: int) -> dict[str, list[float]]:
    """Each contender's seconds in each of ``rounds`` rounds. In a round every contender runs
    once, each in a fresh process of its own (so that none runs on a heap another left behind),
    one after the other (the order turned by one each round), so that the round's ratios compare
    runs under the same machine load."""
    names = list(CONTENDERS)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            done = subprocess.run(
                [sys.executable, __file__, "--one", name, "--pairs", str(pairs),
                 "--messages", str(messages)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            seconds[name].append(float(done.stdout))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="interleaved rounds, each contender in a fresh process, instead of the best of "
        "--repeat in one: each contender's ratio to the bare loop of its round, median (min-max)",
    )
    parser.add_argument("--one", choices=CONTENDERS, help="run this contender once; its seconds")
    args = parser.parse_args()
    work = workload(args.pairs, args.messages)
    if args.one:
        gc.collect()
        print(CONTENDERS[args.one](work))
        return
    if args.rounds:
        runs = interleaved(args.pairs, args.messages, args.rounds)
        bare = runs["bare dict-and-list loop"]
        print(
            f"receive, {args.pairs:,} pairs, {len(work):,} messages; each contender's time over "
            f"the bare loop's in its round, median (min-max) of {args.rounds} interleaved rounds, "
            "each run in a fresh process"
        )
        for name in CONTENDERS:
            ratios = [s / b for s, b in zip(runs[name], bare, strict=True)]
            rate = len(work) / statistics.median(runs[name])
            print(f"  {name:30s} {rate:12,.0f} messages/s  1/{spread(ratios, '.1f')} of bare")
        both = [
            (r + layers) / b
            for r, layers, b in zip(
                runs["floor, the rules' work"], runs["threadcore's layers alone"], bare, strict=True
            )
        ]
        name = "the rules + the layers (sum)"
        print(f"  {name:30s} {'':24s}  1/{spread(both, '.1f')} of bare")
        return
    seconds = {name: best(fn, work, args.repeat) for name, fn in CONTENDERS.items()}
    bare_s = seconds["bare dict-and-list loop"]
    print(f"receive, {args.pairs:,} pairs, {len(work):,} messages (best of {args.repeat})")
    for name in CONTENDERS:
        rate = len(work) / seconds[name]
        print(f"  {name:28s} {rate:12,.0f} messages/s  1/{seconds[name] / bare_s:5.2f} of bare")


if __name__ == "__main__":
    main()
