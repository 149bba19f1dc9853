"""Properties of the query side (issue 3): incremental sync converges, and a token walk over the
list neither repeats nor skips a thread while threads change between pages."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from conftest import OWNER, OWNER2, QUEUE, START, SUPPORT, SUPPORT_NUMBER, TTL, two_queue_directory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadcore import (
    Directory,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    Thread,
    ThreadcoreError,
    ThreadStatus,
)
from threadcore.domain.errors import InvalidSyncToken
from threadcore.domain.queries import Paging, SyncType, ThreadFilter
from threadcore.errors import ThreadNotFound
from threadcore.ids import SequentialIds
from threadcore.model import Availability

OWNERS = [OWNER, OWNER2, SUPPORT_NUMBER]  # two of Billing, and one of another resource
GUESTS = ["+16502240001", "+14083210001", "+16505130001"]
HANDLERS = ["101", "102", "103"]
ACTORS = [*HANDLERS, "201"]  # 201 handles only Support
CLIENT = "101"

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def directory() -> Directory:
    return two_queue_directory(support_handlers=("201",))


def new_inbox(clock: ManualClock) -> Inbox:
    return Inbox(
        repository=InMemoryRepository(),
        directory=directory(),
        clock=clock,
        # tokens that never get too old: the property is about convergence, not expiry of tokens
        policy=Policy(ttl=TTL, sync_token_max_age=timedelta(days=36500)),
        ids=SequentialIds("t"),
    )


# --- commands -----------------------------------------------------------------------------------
#: clock moves from 0 s to 80 h, with the edges of the 72 h expiry well represented
ADVANCES = st.one_of(
    st.sampled_from(
        [
            timedelta(0),
            timedelta(microseconds=1),
            timedelta(seconds=1),
            timedelta(hours=1),
            TTL - timedelta(microseconds=1),
            TTL,
            timedelta(hours=80),
        ]
    ),
    st.integers(0, 80 * 3600).map(lambda s: timedelta(seconds=s)),
)
THREAD = st.integers(0, 1000)  # an index into the threads made so far (modulo their number)
OWNER_INDEX = st.integers(0, len(OWNERS) - 1)
GUEST_INDEX = st.integers(0, len(GUESTS) - 1)

#: how to draw each kind of command, and how often (out of the sum of the weights)
BUILDERS: dict[str, tuple[int, st.SearchStrategy[tuple[Any, ...]]]] = {
    "receive": (4, st.tuples(st.just("receive"), OWNER_INDEX, GUEST_INDEX)),
    "send": (1, st.tuples(st.just("send"), st.sampled_from(ACTORS), OWNER_INDEX, GUEST_INDEX)),
    "send_on": (1, st.tuples(st.just("send_on"), st.sampled_from(ACTORS), THREAD)),
    "assign": (
        2,
        st.tuples(
            st.just("assign"),
            THREAD,
            st.sampled_from(ACTORS),
            st.one_of(st.none(), st.sampled_from(ACTORS)),
        ),
    ),
    "resolve": (1, st.tuples(st.just("resolve"), THREAD, st.sampled_from(ACTORS))),
    "delete": (1, st.tuples(st.just("delete"), THREAD, st.sampled_from(ACTORS))),
    "expire": (2, st.tuples(st.just("expire"))),
    "advance": (3, st.tuples(st.just("advance"), ADVANCES)),
    "to_due": (1, st.tuples(st.just("to_due"))),  # to the instant the next thread falls due
    "sync": (2, st.tuples(st.just("sync"))),
    # directory changes: a handler joins or leaves a resource (the client too), and Billing's
    # second number goes and comes back
    "handler": (
        1,
        st.tuples(st.just("handler"), st.sampled_from([QUEUE, SUPPORT]), st.sampled_from(ACTORS)),
    ),
    "number": (1, st.tuples(st.just("number"))),
}


def commands(*leave_out: str) -> st.SearchStrategy[tuple[Any, ...]]:
    """Commands of every kind but ``leave_out``, drawn with the weights above."""
    kinds = [k for k, (weight, _) in BUILDERS.items() if k not in leave_out for _ in range(weight)]
    return st.sampled_from(kinds).flatmap(lambda kind: BUILDERS[kind][1])


def run(inbox: Inbox, clock: ManualClock, made: list[str], command: tuple[Any, ...]) -> None:
    """Apply one command; a refused command (any ThreadcoreError) changes nothing."""
    kind, *args = command
    pick = (lambda i: made[i % len(made)]) if made else None
    try:
        if kind == "receive":
            message = inbox.receive(
                owner_number=OWNERS[args[0]], guest_number=GUESTS[args[1]], body="in"
            )
            if message.thread_id not in made:
                made.append(message.thread_id)
        elif kind == "send":
            message = inbox.send(
                actor=args[0],
                owner_number=OWNERS[args[1]],
                guest_number=GUESTS[args[2]],
                body="out",
            )
            if message.thread_id not in made:
                made.append(message.thread_id)
        elif kind == "advance":
            clock.advance(args[0])
        elif kind == "expire":
            inbox.expire()
        elif kind == "to_due":
            open_now = inbox.list(actor="103", filter=ThreadFilter(status=ThreadStatus.OPEN))
            if len(open_now):
                clock.set(min(t.latest_message_at for t in open_now) + TTL)
        elif kind == "handler":
            resource = inbox.directory.resource(args[0])
            assert resource is not None
            if resource.is_handler(args[1]):
                inbox.remove_handler(args[0], args[1])
            else:
                inbox.add_handler(args[0], args[1])
        elif kind == "number":
            billing = inbox.directory.resource(QUEUE)
            assert billing is not None
            if OWNER2 in billing.phone_numbers:
                inbox.remove_phone_number(QUEUE, OWNER2)
            else:
                inbox.add_phone_number(QUEUE, OWNER2)
        elif pick is None:
            return
        elif kind == "send_on":
            inbox.send(actor=args[0], thread_id=pick(args[1]), body="out")
        elif kind == "assign":
            inbox.assign(pick(args[0]), actor=args[1], assignee=args[2])
        elif kind == "resolve":
            inbox.resolve(pick(args[0]), actor=args[1])
        elif kind == "delete":
            inbox.delete(pick(args[0]), actor=args[1])
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind)
    except ThreadcoreError:
        pass


# === (a) convergence ============================================================================
def snapshot(inbox: Inbox) -> dict[str, Thread]:
    records = inbox.sync(actor=CLIENT, sync_type=SyncType.FULL).records
    assert len({t.id for t in records}) == len(records)
    return {t.id: t for t in records}


def handled(inbox: Inbox) -> frozenset[str]:
    return frozenset(r.extension_id for r in inbox.directory.resources_of_handler(CLIENT))


def newest_first(records: tuple[Thread, ...]) -> bool:
    keys = [(t.last_modified_time, t.id) for t in records]
    return keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


@PROPERTY_SETTINGS
@given(
    before=st.lists(commands("sync"), min_size=1, max_size=8),
    pause=ADVANCES,
    steps=st.lists(commands(), min_size=5, max_size=40),
)
def test_incremental_syncs_converge_to_a_full_sync(
    before: list[tuple[Any, ...]], pause: timedelta, steps: list[tuple[Any, ...]]
) -> None:
    clock = ManualClock(START)
    inbox = new_inbox(clock)
    made: list[str] = []
    for command in before:
        run(inbox, clock, made, command)
    clock.advance(pause)
    start = inbox.sync(actor=CLIENT, sync_type=SyncType.FULL)
    assert newest_first(start.records)
    store = {t.id: t for t in start.records}
    token, handled_then = start.sync_token, handled(inbox)
    for command in [*steps, ("sync",)]:
        if command[0] != "sync":
            run(inbox, clock, made, command)
            continue
        if handled(inbox) != handled_then:
            # the client's resources changed: its token is refused and it starts again
            with pytest.raises(InvalidSyncToken):
                inbox.sync(actor=CLIENT, sync_type=SyncType.INCREMENTAL, sync_token=token)
            restart = inbox.sync(actor=CLIENT, sync_type=SyncType.FULL)
            store = {t.id: t for t in restart.records}
            token, handled_then = restart.sync_token, handled(inbox)
            continue
        answer = inbox.sync(actor=CLIENT, sync_type=SyncType.INCREMENTAL, sync_token=token)
        assert answer.sync_type is SyncType.INCREMENTAL
        assert answer.sync_time == clock.now()
        assert newest_first(answer.records)
        for record in answer.records:
            # never a thread of a resource the client does not handle
            assert record.owner.extension_id in handled_then
            if record.status is ThreadStatus.OPEN and record.availability is Availability.ALIVE:
                store[record.id] = record
            else:
                store.pop(record.id, None)
        token = answer.sync_token
        assert store == snapshot(inbox)


def keeps_the_clients_resources(command: tuple[Any, ...]) -> bool:
    return not (command[0] == "handler" and command[2] == CLIENT)


def visible_states(inbox: Inbox, made: list[str]) -> dict[str, Thread]:
    """Every thread the client may see, as it is now (expiry applied)."""
    states = {}
    for thread_id in made:
        with contextlib.suppress(ThreadNotFound):  # another resource's thread
            states[thread_id] = inbox.get(thread_id, actor=CLIENT)
    return states


NO_CLIENT_CHANGE = commands("sync").filter(keeps_the_clients_resources)


@PROPERTY_SETTINGS
@given(
    before=st.lists(NO_CLIENT_CHANGE, min_size=2, max_size=10),
    pause=ADVANCES,
    steps=st.lists(NO_CLIENT_CHANGE, min_size=3, max_size=30),
)
def test_an_incremental_sync_reports_exactly_the_changed_records(
    before: list[tuple[Any, ...]], pause: timedelta, steps: list[tuple[Any, ...]]
) -> None:
    """Exactly the changes: an ISync returns, as they are now, the visible threads whose record
    (expiry applied) differs from what it was when the token was issued (new threads included),
    and nothing else: not a thread that did not change, not an expiry a sweep merely wrote."""
    clock = ManualClock(START)
    inbox = new_inbox(clock)
    made: list[str] = []
    for command in before:
        run(inbox, clock, made, command)
    clock.advance(pause)  # threads of ``before`` may be due, unswept, when the token is issued
    first = inbox.sync(actor=CLIENT, sync_type=SyncType.FULL)
    then = visible_states(inbox, made)
    for command in steps:
        run(inbox, clock, made, command)
    answer = inbox.sync(actor=CLIENT, sync_type=SyncType.INCREMENTAL, sync_token=first.sync_token)
    now = visible_states(inbox, made)
    changed = {t for t, state in now.items() if then.get(t) != state}
    assert {t.id for t in answer.records} == changed
    assert len(answer.records) == len(changed)
    for record in answer.records:
        assert record == now[record.id]
    again = inbox.sync(actor=CLIENT, sync_type=SyncType.INCREMENTAL, sync_token=answer.sync_token)
    assert again.records == ()


# === (b) paging under change ====================================================================
PAGE_COMMANDS = st.one_of(
    st.tuples(st.just("receive"), st.integers(0, 1), st.integers(0, 40)),
    st.tuples(st.just("resolve"), THREAD),
    st.tuples(st.just("expire")),
    st.tuples(st.just("advance"), ADVANCES),
)

FILTERS = {
    "every status": ThreadFilter(status=None, availability=[Availability.ALIVE]),
    "open": ThreadFilter(status=ThreadStatus.OPEN),
    "one number": ThreadFilter(owner_phone_number=OWNER2),
    "resolved": ThreadFilter(status=ThreadStatus.RESOLVED),
}


def page_guest(i: int) -> str:
    return f"+1650224{i:04d}"


@PROPERTY_SETTINGS
@given(
    gaps=st.lists(st.sampled_from([0, 0, 1, 60, 3600]), min_size=1, max_size=25),
    owners=st.lists(st.integers(0, 1), min_size=25, max_size=25),
    resolved_before=st.sets(st.integers(0, 24), max_size=8),
    per_page=st.integers(1, 6),
    filter_name=st.sampled_from(sorted(FILTERS)),
    between=st.lists(st.lists(PAGE_COMMANDS, max_size=4), max_size=30),
)
def test_a_token_walk_never_repeats_or_skips_a_thread(
    gaps: list[int],
    owners: list[int],
    resolved_before: set[int],
    per_page: int,
    filter_name: str,
    between: list[list[tuple[Any, ...]]],
) -> None:
    clock = ManualClock(START)
    inbox = new_inbox(clock)
    made: list[str] = []
    for i, gap in enumerate(gaps):  # the gaps of 0 make ties in creation time
        clock.advance(timedelta(seconds=gap))
        message = inbox.receive(owner_number=[OWNER, OWNER2][owners[i]],
                                guest_number=page_guest(i), body="in")  # fmt: skip
        made.append(message.thread_id)
    resolved_ids = {made[i] for i in resolved_before if i < len(made)}
    for thread_id in resolved_ids:
        inbox.resolve(thread_id, actor="101")
    existing = list(made)
    chosen = FILTERS[filter_name]

    def run_page_command(command: tuple[Any, ...]) -> None:
        kind, *args = command
        if kind == "receive":
            message = inbox.receive(
                owner_number=[OWNER, OWNER2][args[0]], guest_number=page_guest(args[1]), body="in"
            )
            if message.thread_id not in made:
                made.append(message.thread_id)
        elif kind == "resolve":
            with contextlib.suppress(ThreadcoreError):  # already resolved (or expired)
                inbox.resolve(made[args[0] % len(made)], actor="102")
        elif kind == "expire":
            inbox.expire()
        else:
            clock.advance(args[0])

    seen: list[Thread] = []
    token = None
    batches = iter(between)
    for _ in range(300):  # a cursor that does not move fails below instead of hanging
        page = inbox.list(actor="101", filter=chosen, limit=per_page, cursor=token)
        assert len(page) <= per_page
        assert page.paging == Paging(per_page)
        for record in page:
            assert chosen.matches(record)  # as it is at the time of its page
            if chosen.status is not None:
                assert record.status is chosen.status
        seen.extend(page)
        token = page.next_cursor
        if token is None:
            break
        for command in next(batches, []):
            run_page_command(command)
    else:
        raise AssertionError("the walk does not end")

    seen_ids = [t.id for t in seen]
    assert len(seen_ids) == len(set(seen_ids)), "a thread came twice"
    keys = [(t.creation_time, t.id) for t in seen]
    assert keys == sorted(keys)
    # every thread that existed before the walk and matched the filter throughout: the fields
    # other than status never change here, and a thread Open at the end was Open all along
    # (resolved is final); a Resolved one was Resolved from the start only if it was then
    at_end = {t: inbox.get(t, actor="101") for t in existing}
    if chosen.status is ThreadStatus.RESOLVED:
        throughout = [t for t in existing if t in resolved_ids]
    else:
        throughout = [t for t in existing if chosen.matches(at_end[t])]
    missing = [t for t in throughout if t not in set(seen_ids)]
    assert missing == [], "the walk skipped threads"
    assert set(seen_ids) <= set(made)
