"""The floor under in-memory ``receive``: how fast any design can go that keeps its promises.

    python bench/bench_floor.py [--pairs 10000] [--messages 100000] [--repeat 5]

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
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from bench_receive import OWNER, START, TTL, bare_loop, best, threadcore_loop, workload

from threadcore.domain.events import make_message_added
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    OwnerResource,
    Party,
    ThreadStatus,
    make_message,
    make_thread,
)
from threadcore.domain.validation import check_body, e164
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = workload(args.pairs, args.messages)
    contenders = [
        ("bare dict-and-list loop", bare_loop),
        ("floor, today's records", floor_records),
        ("floor, plain attrs records", floor_attrs),
        ("floor, mutable thread state", floor_mutable),
        ("floor, mutable, input checked", floor_checked),
        ("threadcore (memory)", threadcore_loop),
    ]
    seconds = {name: best(fn, work, args.repeat) for name, fn in contenders}
    bare = seconds["bare dict-and-list loop"]
    print(f"receive, {args.pairs:,} pairs, {len(work):,} messages (best of {args.repeat})")
    for name, _ in contenders:
        rate = len(work) / seconds[name]
        print(f"  {name:28s} {rate:12,.0f} messages/s  1/{seconds[name] / bare:5.2f} of bare")


if __name__ == "__main__":
    main()
