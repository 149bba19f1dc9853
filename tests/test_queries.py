"""Example tests for the query side: ``Inbox.list`` (filters, order, keyset and page-number
paging, tokens, visibility) and ``Inbox.messages`` paging (issue 3, "List")."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import (
    GUEST,
    GUEST2,
    OWNER,
    OWNER2,
    QUEUE,
    START,
    SUPPORT,
    SUPPORT_NUMBER,
    TTL,
    MakeInbox,
    two_queue_directory,
)

from threadcore import (
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    StatusReason,
    Thread,
    ThreadStatus,
)
from threadcore.domain.errors import InvalidPageToken, platform_name
from threadcore.domain.queries import Page, Paging, ThreadFilter
from threadcore.errors import InvalidInput, NotPermitted, ThreadNotFound
from threadcore.ids import SequentialIds
from threadcore.model import Availability

GUEST3 = "+16505130001"


# --- helpers ------------------------------------------------------------------------------------
def guest(i: int) -> str:
    """The i-th distinct guest number (valid E.164)."""
    return f"+1650224{i:04d}"


@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    return make_inbox(directory=two_queue_directory())


def inbound(inbox: Inbox, guest_number: str = GUEST, owner: str = OWNER, body: str = "Hi") -> str:
    """Receive a message and return its thread id."""
    return inbox.receive(owner_number=owner, guest_number=guest_number, body=body).thread_id


def ids(page: Page[Thread]) -> list[str]:
    return [t.id for t in page]


def walk(inbox: Inbox, actor: str, per_page: int, filter: ThreadFilter | None = None) -> list[str]:
    """Every id of a token walk, page by page."""
    found: list[str] = []
    token = None
    for _ in range(10_000):  # a cursor that does not move fails here instead of hanging
        page = inbox.list(actor=actor, filter=filter, limit=per_page, cursor=token)
        assert page.paging == Paging(per_page)  # a token walk knows only its page size
        found.extend(ids(page))
        token = page.next_cursor
        if token is None:
            return found
    raise AssertionError("the walk does not end")


def tamper(token: str, at: int = 0) -> str:
    """``token`` with the character at ``at`` replaced by another base64url character."""
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1 :]


def creation_order(threads: list[Thread]) -> list[str]:
    return [t.id for t in sorted(threads, key=lambda t: (t.creation_time, t.id))]


# === the default list ===========================================================================
def test_default_list_is_every_alive_thread_of_every_handled_resource(inbox: Inbox) -> None:
    billing_open = inbound(inbox, GUEST)
    billing_resolved = inbound(inbox, GUEST2, owner=OWNER2)
    inbox.resolve(billing_resolved, actor="101")
    billing_deleted = inbound(inbox, GUEST3)
    inbox.delete(billing_deleted, actor="101")
    support = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)

    assert ids(inbox.list(actor="101")) == [billing_open, billing_resolved]
    assert ids(inbox.list(actor="201")) == [support]
    assert ids(inbox.list(actor="103")) == [billing_open, billing_resolved, support]


def test_list_returns_the_threads_as_get_returns_them(inbox: Inbox, clock: ManualClock) -> None:
    a = inbound(inbox, GUEST)
    inbox.assign(a, actor="101", assignee="102")
    b = inbound(inbox, GUEST2)
    inbox.resolve(b, actor="103")
    page = inbox.list(actor="101")
    assert list(page.records) == [inbox.get(a, actor="101"), inbox.get(b, actor="101")]
    assert page.next_cursor is None
    assert page.paging == Paging(100)


def test_a_page_is_a_sequence_equal_to_the_list_of_its_records(inbox: Inbox) -> None:
    a = inbound(inbox, GUEST)
    b = inbound(inbox, GUEST2)
    page = inbox.list(actor="101")
    records = [inbox.get(a, actor="101"), inbox.get(b, actor="101")]
    assert page == records
    assert page == tuple(records)
    assert len(page) == 2
    assert page[0].id == a
    assert page[-1].id == b
    assert [t.id for t in page[0:1]] == [a]
    assert page != records[:1]


# === filters one by one =========================================================================
def test_status_filter(inbox: Inbox) -> None:
    open_id = inbound(inbox, GUEST)
    resolved_id = inbound(inbox, GUEST2)
    inbox.resolve(resolved_id, actor="101")
    assert ids(inbox.list(actor="101", filter=ThreadFilter(status=ThreadStatus.OPEN))) == [open_id]
    assert ids(inbox.list(actor="101", filter=ThreadFilter(status=ThreadStatus.RESOLVED))) == [
        resolved_id
    ]
    assert ids(inbox.list(actor="101", filter=ThreadFilter(status=None))) == [
        open_id,
        resolved_id,
    ]
    # the platform's strings are accepted too
    assert ids(inbox.list(actor="101", filter=ThreadFilter(status="Resolved"))) == [resolved_id]


def test_a_due_thread_counts_as_resolved_without_a_sweep(inbox: Inbox, clock: ManualClock) -> None:
    due = inbound(inbox, GUEST)
    clock.advance(timedelta(hours=1))
    fresh = inbound(inbox, GUEST2)
    clock.set(START + TTL)  # ``due`` is due exactly now; ``fresh`` one hour later
    resolved = inbox.list(actor="101", filter=ThreadFilter(status=ThreadStatus.RESOLVED))
    assert ids(resolved) == [due]
    record = resolved[0]
    assert record.status is ThreadStatus.RESOLVED
    assert record.status_reason is StatusReason.THREAD_EXPIRED
    assert record.last_modified_time == START + TTL
    assert ids(inbox.list(actor="101", filter=ThreadFilter(status=ThreadStatus.OPEN))) == [fresh]
    # the unfiltered list shows it resolved as well, and the first list wrote its expiry (R10b)
    everything = inbox.list(actor="101")
    assert [(t.id, t.status) for t in everything] == [
        (due, ThreadStatus.RESOLVED),
        (fresh, ThreadStatus.OPEN),
    ]
    assert inbox.expire() == []


def test_owner_extension_ids_filter(inbox: Inbox) -> None:
    billing = inbound(inbox, GUEST)
    support = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    only_support = ThreadFilter(owner_extension_ids=[SUPPORT])
    only_billing = ThreadFilter(owner_extension_ids=[QUEUE])
    both = ThreadFilter(owner_extension_ids=[SUPPORT, QUEUE])
    assert ids(inbox.list(actor="103", filter=only_support)) == [support]
    assert ids(inbox.list(actor="103", filter=only_billing)) == [billing]
    assert ids(inbox.list(actor="103", filter=both)) == [billing, support]
    assert ids(inbox.list(actor="101", filter=only_billing)) == [billing]


def test_naming_a_resource_the_actor_does_not_handle_is_not_permitted(inbox: Inbox) -> None:
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    for wanted in ([SUPPORT], [QUEUE, SUPPORT], ["6249888999"]):
        with pytest.raises(NotPermitted) as caught:
            inbox.list(actor="101", filter=ThreadFilter(owner_extension_ids=wanted))
        assert caught.value.code == "NotPermitted"
        assert caught.value.status == 403


def test_creation_time_from_is_inclusive_and_to_is_exclusive(
    inbox: Inbox, clock: ManualClock
) -> None:
    created = {}
    for hour in range(5):
        clock.set(START + timedelta(hours=hour))
        created[hour] = inbound(inbox, guest(hour))

    def at(hours: int, microseconds: int = 0) -> datetime:
        return START + timedelta(hours=hours, microseconds=microseconds)

    both = ThreadFilter(creation_time_from=at(1), creation_time_to=at(3))
    assert ids(inbox.list(actor="101", filter=both)) == [created[1], created[2]]
    only_from = ThreadFilter(creation_time_from=at(3))
    assert ids(inbox.list(actor="101", filter=only_from)) == [created[3], created[4]]
    only_to = ThreadFilter(creation_time_to=at(1))
    assert ids(inbox.list(actor="101", filter=only_to)) == [created[0]]
    # a microsecond either side of the bounds
    tight = ThreadFilter(creation_time_from=at(2, -1), creation_time_to=at(2, 1))
    assert ids(inbox.list(actor="101", filter=tight)) == [created[2]]
    just_after = ThreadFilter(creation_time_from=at(2, 1), creation_time_to=at(3))
    assert ids(inbox.list(actor="101", filter=just_after)) == []
    # an empty range (from == to) is allowed and matches nothing, not even a thread created then
    empty = ThreadFilter(creation_time_from=at(2), creation_time_to=at(2))
    assert ids(inbox.list(actor="101", filter=empty)) == []


def test_creation_times_in_another_zone_are_converted_to_utc(
    inbox: Inbox, clock: ManualClock
) -> None:
    first = inbound(inbox, GUEST)
    clock.advance(timedelta(hours=2))
    second = inbound(inbox, GUEST2)
    pacific = timezone(timedelta(hours=-8))
    start_in_pacific = (START + timedelta(hours=1)).astimezone(pacific)
    assert start_in_pacific.tzinfo is pacific
    found = inbox.list(actor="101", filter=ThreadFilter(creation_time_from=start_in_pacific))
    assert ids(found) == [second]
    found = inbox.list(actor="101", filter=ThreadFilter(creation_time_to=start_in_pacific))
    assert ids(found) == [first]


def test_owner_phone_number_filter(inbox: Inbox) -> None:
    on_owner = inbound(inbox, GUEST)
    on_owner2 = inbound(inbox, GUEST, owner=OWNER2)
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    assert ids(inbox.list(actor="103", filter=ThreadFilter(owner_phone_number=OWNER2))) == [
        on_owner2
    ]
    assert ids(inbox.list(actor="103", filter=ThreadFilter(owner_phone_number=OWNER))) == [on_owner]


def test_guest_phone_number_filter(inbox: Inbox) -> None:
    a = inbound(inbox, GUEST)
    inbound(inbox, GUEST2)
    b = inbound(inbox, GUEST, owner=OWNER2)
    c = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    assert ids(inbox.list(actor="101", filter=ThreadFilter(guest_phone_number=GUEST))) == [a, b]
    assert ids(inbox.list(actor="103", filter=ThreadFilter(guest_phone_number=GUEST))) == [
        a,
        b,
        c,
    ]


def test_availability_filter_defaults_to_alive(inbox: Inbox) -> None:
    alive = inbound(inbox, GUEST)
    deleted = inbound(inbox, GUEST2)
    inbox.delete(deleted, actor="101")
    assert ThreadFilter().availability == (Availability.ALIVE,)
    assert ids(inbox.list(actor="101")) == [alive]
    tombstones = inbox.list(actor="101", filter=ThreadFilter(availability=[Availability.DELETED]))
    assert ids(tombstones) == [deleted]
    assert tombstones[0].availability is Availability.DELETED
    both = ThreadFilter(availability=[Availability.ALIVE, Availability.DELETED])
    assert ids(inbox.list(actor="101", filter=both)) == [alive, deleted]
    # a single value and the platform's strings are accepted
    assert ids(inbox.list(actor="101", filter=ThreadFilter(availability="Deleted"))) == [deleted]
    assert ids(inbox.list(actor="101", filter=ThreadFilter(availability=["Alive"]))) == [alive]


def test_a_thread_deleted_while_open_keeps_status_open_for_the_filter(inbox: Inbox) -> None:
    deleted_open = inbound(inbox, GUEST)
    inbox.delete(deleted_open, actor="101")
    deleted_resolved = inbound(inbox, GUEST2)
    inbox.resolve(deleted_resolved, actor="101")
    inbox.delete(deleted_resolved, actor="101")
    tombstones_open = ThreadFilter(status="Open", availability="Deleted")
    tombstones_resolved = ThreadFilter(status="Resolved", availability="Deleted")
    assert ids(inbox.list(actor="101", filter=tombstones_open)) == [deleted_open]
    assert ids(inbox.list(actor="101", filter=tombstones_resolved)) == [deleted_resolved]


# === filters combined (AND) =====================================================================
@pytest.fixture
def population(inbox: Inbox, clock: ManualClock) -> list[Thread]:
    """Fourteen threads spread over both numbers of Billing, Support, three guests, four hours,
    both statuses (one by expiry, not swept) and both availabilities."""
    made: list[str] = []
    for hour, (owner, guest_number) in enumerate(
        itertools.product([OWNER, OWNER2, SUPPORT_NUMBER], [GUEST, GUEST2, GUEST3])
    ):
        clock.set(START + timedelta(minutes=30 * hour))
        made.append(inbound(inbox, guest_number, owner=owner))
    inbox.resolve(made[1], actor="103")
    inbox.resolve(made[4], actor="103")
    inbox.delete(made[2], actor="103")
    inbox.delete(made[6], actor="103")
    inbox.resolve(made[7], actor="103")
    inbox.delete(made[7], actor="103")
    clock.set(START + timedelta(hours=5))
    # new threads for the pairs resolved above (at the same instant: ties by id)
    for owner, guest_number in [(OWNER, GUEST2), (OWNER2, GUEST2), (SUPPORT_NUMBER, GUEST2)]:
        made.append(inbound(inbox, guest_number, owner=owner))
    clock.set(START + timedelta(hours=5) + TTL - timedelta(hours=1))
    # threads 0, 3, 5 and 8 are due now; 9..11 are still open
    made.append(inbound(inbox, GUEST3, owner=OWNER))  # the pair's old thread (2) was deleted
    made.append(inbound(inbox, GUEST, owner=OWNER2))  # writes the expiry of 3; 0, 5, 8 unswept
    assert len(set(made)) == 14
    return [inbox.get(t, actor="103") for t in made]


def expected(threads: list[Thread], actor_resources: set[str], f: ThreadFilter) -> list[str]:
    """The ids ``f`` should select, computed field by field (not with ThreadFilter.matches)."""
    kept = [
        t
        for t in threads
        if t.owner.extension_id in actor_resources
        and (f.status is None or t.status == f.status)
        and (f.owner_extension_ids is None or t.owner.extension_id in f.owner_extension_ids)
        and (f.creation_time_from is None or t.creation_time >= f.creation_time_from)
        and (f.creation_time_to is None or t.creation_time < f.creation_time_to)
        and (f.owner_phone_number in (None, t.owner_party.phone_number))
        and (f.guest_phone_number in (None, t.guest_party.phone_number))
        and t.availability in f.availability
    ]
    return creation_order(kept)


FILTER_VALUES: dict[str, list[Any]] = {
    "status": [None, "Open", "Resolved"],
    "owner_extension_ids": [None, [QUEUE], [SUPPORT]],
    "creation_time_from": [None, START + timedelta(hours=1)],
    "creation_time_to": [None, START + timedelta(hours=3)],
    "owner_phone_number": [None, OWNER2],
    "guest_phone_number": [None, GUEST2],
    "availability": [["Alive"], ["Deleted"], ["Alive", "Deleted"]],
}


def filter_combinations() -> list[dict[str, Any]]:
    names = list(FILTER_VALUES)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*FILTER_VALUES.values())
    ]


def test_every_combination_of_filters_is_their_and(inbox: Inbox, population: list[Thread]) -> None:
    combos = filter_combinations()
    assert len(combos) == 3 * 3 * 2 * 2 * 2 * 2 * 3
    non_empty = 0
    for fields in combos:
        f = ThreadFilter(**fields)
        want = expected(population, {QUEUE, SUPPORT}, f)
        assert ids(inbox.list(actor="103", filter=f, limit=1000)) == want, fields
        non_empty += bool(want)
        if fields["owner_extension_ids"] != [SUPPORT]:
            want_101 = expected(population, {QUEUE}, f)
            assert ids(inbox.list(actor="101", filter=f, limit=1000)) == want_101, fields
    assert non_empty > 40  # the population exercises the filters, not only empty answers


def test_the_population_has_what_the_combinations_need(population: list[Thread]) -> None:
    statuses = {(t.status, t.availability) for t in population}
    assert (ThreadStatus.OPEN, Availability.ALIVE) in statuses
    assert (ThreadStatus.RESOLVED, Availability.ALIVE) in statuses
    assert (ThreadStatus.OPEN, Availability.DELETED) in statuses
    reasons = {t.status_reason for t in population}
    assert StatusReason.THREAD_EXPIRED in reasons
    assert StatusReason.MANUAL in reasons
    assert (ThreadStatus.RESOLVED, Availability.DELETED) in statuses


def test_a_narrow_combination(inbox: Inbox, population: list[Thread]) -> None:
    f = ThreadFilter(
        status="Resolved",
        owner_extension_ids=[QUEUE],
        creation_time_from=START + timedelta(hours=1),
        owner_phone_number=OWNER2,
        guest_phone_number=GUEST2,
    )
    found = inbox.list(actor="103", filter=f)
    assert ids(found) == [population[4].id]
    assert found[0].status_reason is StatusReason.MANUAL


# === order ======================================================================================
def test_order_is_creation_time_then_id_with_ties_at_one_instant(inbox: Inbox) -> None:
    made = [inbound(inbox, guest(i)) for i in range(7)]  # the clock does not move
    assert made == ["t-1", "t-3", "t-5", "t-7", "t-9", "t-11", "t-13"]
    by_id = sorted(made)
    assert by_id == ["t-1", "t-11", "t-13", "t-3", "t-5", "t-7", "t-9"]
    assert ids(inbox.list(actor="101")) == by_id
    assert walk(inbox, "101", per_page=2) == by_id
    assert (
        ids(inbox.numbered_page(filter=ThreadFilter(), actor="101", page=2, per_page=3))
        == by_id[3:6]
    )


def test_creation_time_comes_before_the_id(inbox: Inbox, clock: ManualClock) -> None:
    early = [inbound(inbox, guest(i)) for i in range(5)]  # t-1 .. t-9
    clock.advance(timedelta(milliseconds=1))
    late = inbound(inbox, guest(9))  # t-11 sorts before t-3 as a string, but is newer
    assert late == "t-11"
    assert ids(inbox.list(actor="101")) == [*early, late]


def test_messages_do_not_change_the_order(inbox: Inbox, clock: ManualClock) -> None:
    first = inbound(inbox, GUEST)
    clock.advance(timedelta(minutes=1))
    second = inbound(inbox, GUEST2)
    clock.advance(timedelta(minutes=1))
    inbound(inbox, GUEST, body="again")
    assert ids(inbox.list(actor="101")) == [first, second]


# === keyset paging ==============================================================================
def test_a_token_walk_returns_every_thread_once_in_order(inbox: Inbox, clock: ManualClock) -> None:
    made = []
    for i in range(25):
        if i % 3 == 0:
            clock.advance(timedelta(seconds=1))  # the others tie with their neighbours
        made.append(inbound(inbox, guest(i)))
    want = creation_order([inbox.get(t, actor="101") for t in made])
    assert ids(inbox.list(actor="101", limit=1000)) == want
    for per_page in (1, 2, 4, 5, 7, 24, 25, 26):
        assert walk(inbox, "101", per_page) == want, per_page


def test_page_sizes_and_the_last_token(inbox: Inbox) -> None:
    made = [inbound(inbox, guest(i)) for i in range(8)]
    first = inbox.list(actor="101", limit=4)
    assert len(first) == 4
    assert first.next_cursor is not None
    second = inbox.list(actor="101", limit=4, cursor=first.next_cursor)
    assert ids(first) + ids(second) == sorted(made)
    assert second.next_cursor is None  # a full last page says it is the last
    assert inbox.list(actor="101", limit=8).next_cursor is None
    assert inbox.list(actor="101", limit=7).next_cursor is not None


def test_the_default_page_size_is_100(inbox: Inbox) -> None:
    for i in range(101):
        inbound(inbox, guest(i))
    first = inbox.list(actor="101")
    assert len(first) == 100
    rest = inbox.list(actor="101", cursor=first.next_cursor)
    assert len(rest) == 1
    assert rest.next_cursor is None


def test_the_walk_is_stable_while_threads_change(inbox: Inbox, clock: ManualClock) -> None:
    made = [inbound(inbox, guest(i)) for i in range(10)]  # all at START
    want = sorted(made)
    seen: list[str] = []
    page = inbox.list(actor="101", limit=3)
    seen.extend(ids(page))
    # between pages: a new thread at the same instant (t-21 sorts between t-19 and t-3), a
    # resolve, a message, then the clock moves, every thread expires and a newer one opens
    inbound(inbox, guest(50))
    inbox.resolve(want[4], actor="101")
    inbound(inbox, guest(5), body="again")
    page = inbox.list(actor="101", limit=3, cursor=page.next_cursor)
    seen.extend(ids(page))
    clock.advance(TTL)  # every thread is due now
    inbox.expire()
    newer = inbound(inbox, guest(51))
    while page.next_cursor is not None and len(seen) < 100:
        page = inbox.list(actor="101", limit=3, cursor=page.next_cursor)
        seen.extend(ids(page))
    assert len(seen) == len(set(seen))
    assert set(want) <= set(seen)
    assert seen[-1] == newer
    assert [s for s in seen if s in want] == want


def test_a_token_from_page_n_continues_after_that_page(inbox: Inbox) -> None:
    made = sorted(inbound(inbox, guest(i)) for i in range(10))
    second = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=3, page=2)
    assert ids(second) == made[3:6]
    assert second.next_cursor is not None
    rest = inbox.list(actor="101", limit=3, cursor=second.next_cursor)
    assert ids(rest) == made[6:9]
    assert rest.paging == Paging(3)


# === page-number paging =========================================================================
def test_page_number_paging_figures(inbox: Inbox) -> None:
    made = sorted(inbound(inbox, guest(i)) for i in range(10))
    first = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=4, page=1)
    assert ids(first) == made[0:4]
    assert first.paging == Paging(
        per_page=4, page=1, page_start=0, page_end=3, total_pages=3, total_elements=10
    )
    middle = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=4, page=2)
    assert ids(middle) == made[4:8]
    assert middle.paging == Paging(
        per_page=4, page=2, page_start=4, page_end=7, total_pages=3, total_elements=10
    )
    last = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=4, page=3)
    assert ids(last) == made[8:10]
    assert last.paging == Paging(
        per_page=4, page=3, page_start=8, page_end=9, total_pages=3, total_elements=10
    )
    assert last.next_cursor is None
    beyond = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=4, page=4)
    assert list(beyond) == []
    assert beyond.paging == Paging(per_page=4)
    assert beyond.paging.page is None
    assert beyond.paging.total_elements is None
    assert beyond.next_cursor is None


def test_page_number_paging_with_an_exact_multiple(inbox: Inbox) -> None:
    made = sorted(inbound(inbox, guest(i)) for i in range(6))
    last = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=3, page=2)
    assert ids(last) == made[3:]
    assert last.paging == Paging(3, 2, 3, 5, 2, 6)
    assert last.next_cursor is None
    one = inbox.numbered_page(filter=ThreadFilter(), actor="101", per_page=6, page=1)
    assert one.paging == Paging(6, 1, 0, 5, 1, 6)


def test_page_number_paging_counts_only_what_the_filter_selects(inbox: Inbox) -> None:
    made = sorted(inbound(inbox, guest(i)) for i in range(7))
    for thread_id in made[:3]:
        inbox.resolve(thread_id, actor="101")
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    page = inbox.numbered_page(
        ThreadFilter(status="Open", owner_extension_ids=[QUEUE]), actor="103", per_page=3, page=2
    )
    assert ids(page) == made[6:]
    assert page.paging == Paging(3, 2, 3, 3, 2, 4)


def test_page_number_paging_on_an_empty_result(inbox: Inbox) -> None:
    inbound(inbox, GUEST)
    page = inbox.numbered_page(actor="101", filter=ThreadFilter(status="Resolved"), page=1)
    assert list(page) == []
    assert page.paging == Paging(per_page=100)
    assert page.next_cursor is None


def test_the_default_page_is_a_token_walk_with_only_its_size(inbox: Inbox) -> None:
    inbound(inbox, GUEST)
    assert inbox.list(actor="101").paging == Paging(per_page=100)


# === errors =====================================================================================
@pytest.mark.parametrize("per_page", [0, -1, 1001, 10**6, True, False, "10", 1.5, None])
def test_per_page_out_of_range(inbox: Inbox, per_page: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.numbered_page(ThreadFilter(), actor="101", per_page=per_page)  # type: ignore[arg-type]
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "perPage"


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**6, True, False, "10", 1.5, None])
def test_limit_out_of_range(inbox: Inbox, limit: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.list(actor="101", limit=limit)  # type: ignore[arg-type]
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "limit"


@pytest.mark.parametrize("per_page", [1, 1000])
def test_per_page_bounds_are_accepted(inbox: Inbox, per_page: int) -> None:
    made = [inbound(inbox, guest(i)) for i in range(2)]
    page = inbox.list(actor="101", limit=per_page)
    assert ids(page) == made[:per_page]


@pytest.mark.parametrize("page", [0, -1, 1001, True, "1", 2.0])
def test_page_out_of_range(inbox: Inbox, page: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.numbered_page(filter=ThreadFilter(), actor="101", page=page)  # type: ignore[arg-type]
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "page"


def test_page_1000_is_accepted(inbox: Inbox) -> None:
    inbound(inbox, GUEST)
    page = inbox.numbered_page(filter=ThreadFilter(), actor="101", page=1000, per_page=1)
    assert list(page) == []
    assert page.paging == Paging(per_page=1)


def test_page_and_page_token_together_are_refused(inbox: Inbox) -> None:
    for i in range(3):
        inbound(inbox, guest(i))
    token = inbox.list(actor="101", limit=1).next_cursor
    assert token is not None
    with pytest.raises(InvalidInput) as caught, pytest.warns(DeprecationWarning, match="page"):
        inbox.list(actor="101", per_page=1, page=1, page_token=token)  # the old names only
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "page"


def test_the_filter_must_be_a_thread_filter(inbox: Inbox) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.list(actor="101", filter={"status": "Open"})  # type: ignore[arg-type]
    assert caught.value.parameter == "filter"


@pytest.mark.parametrize("actor", ["", " 101", None, 101])
def test_a_bad_actor_is_invalid_input(inbox: Inbox, actor: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.list(actor=actor)  # type: ignore[arg-type]
    assert caught.value.parameter == "actor"


def test_an_inverted_time_range_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(creation_time_from=START + timedelta(seconds=1), creation_time_to=START)
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "creationTimeFrom"


@pytest.mark.parametrize("field", ["creation_time_from", "creation_time_to"])
@pytest.mark.parametrize(
    "value", [datetime(2026, 2, 17, 17, 0), "2026-02-17T17:00:00Z", 1771347600]
)
def test_times_must_be_aware_datetimes(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(**{field: value})
    assert caught.value.parameter == platform_name(field)


@pytest.mark.parametrize("field", ["owner_phone_number", "guest_phone_number"])
@pytest.mark.parametrize(
    "value", ["6502240001", "+1 650 224 0001", "+1650224000", "+", "", "+1650224000a", 16502240001]
)
def test_bad_phone_numbers_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(**{field: value})
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == platform_name(field)


@pytest.mark.parametrize("value", ["Closed", "open", 1, ""])
def test_a_bad_status_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(status=value)  # type: ignore[arg-type]
    assert caught.value.parameter == "status"


@pytest.mark.parametrize("value", [[], "6249888001", [""], [None], 6249888001])
def test_bad_owner_extension_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(owner_extension_ids=value)  # type: ignore[arg-type]
    assert caught.value.parameter == "ownerExtensionIds"


@pytest.mark.parametrize("value", [[], ["Gone"], "Gone", 1, None])
def test_a_bad_availability_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ThreadFilter(availability=value)  # type: ignore[arg-type]
    assert caught.value.parameter == "availability"


# --- page tokens --------------------------------------------------------------------------------
@pytest.fixture
def token(inbox: Inbox) -> str:
    """A page token of 101's default walk over five threads (page size 2)."""
    for i in range(5):
        inbound(inbox, guest(i))
    page_token = inbox.list(actor="101", limit=2).next_cursor
    assert page_token is not None
    return page_token


def assert_bad_page_token(call: Callable[[], object]) -> InvalidPageToken:
    with pytest.raises(InvalidPageToken) as caught:
        call()
    error = caught.value
    assert error.code == "InvalidPageToken"
    assert error.status == 400
    assert error.parameter == "pageToken"
    assert error.message.startswith("Parameter [pageToken] is invalid")
    return error


def test_a_good_page_token_works(inbox: Inbox, token: str) -> None:
    assert ids(inbox.list(actor="101", limit=2, cursor=token)) == ["t-5", "t-7"]


@pytest.mark.parametrize(
    "bad", ["abc", "", ".", "a.b", "!!!.???", "e30.AAAA", "x" * 5000, 42, ["t"]]
)
def test_a_malformed_page_token_is_refused(inbox: Inbox, token: str, bad: object) -> None:
    assert_bad_page_token(lambda: inbox.list(actor="101", limit=2, cursor=bad))  # type: ignore[arg-type]


def test_a_tampered_page_token_is_refused(inbox: Inbox, token: str) -> None:
    body_end = token.index(".")
    # (not the last character of a part: its unused low bits may change without changing bytes)
    for at in (0, 1, body_end // 2, body_end + 1, body_end + 5, len(token) - 2):
        assert_bad_page_token(
            lambda at=at: inbox.list(actor="101", limit=2, cursor=tamper(token, at))
        )
    assert_bad_page_token(lambda: inbox.list(actor="101", limit=2, cursor=token[:-3]))


def test_a_page_token_of_another_actor_is_refused(inbox: Inbox, token: str) -> None:
    error = assert_bad_page_token(lambda: inbox.list(actor="102", limit=2, cursor=token))
    assert "another" in error.reason


def test_a_page_token_of_another_filter_is_refused(inbox: Inbox, token: str) -> None:
    for other in (
        ThreadFilter(status="Open"),
        ThreadFilter(owner_extension_ids=[QUEUE]),
        ThreadFilter(availability=["Alive", "Deleted"]),
        ThreadFilter(guest_phone_number=GUEST),
    ):
        assert_bad_page_token(
            lambda other=other: inbox.list(actor="101", filter=other, cursor=token)
        )


def test_a_page_token_of_another_inbox_is_refused(
    inbox: Inbox, token: str, make_inbox: MakeInbox
) -> None:
    other = make_inbox(directory=two_queue_directory())
    for i in range(5):
        inbound(other, guest(i))
    assert_bad_page_token(lambda: other.list(actor="101", limit=2, cursor=token))


def test_a_messages_token_is_not_a_list_token(inbox: Inbox) -> None:
    thread_id = inbound(inbox, GUEST)
    for _ in range(3):
        inbound(inbox, GUEST)
    messages_token = inbox.messages(thread_id, actor="101", limit=1).next_cursor
    assert messages_token is not None
    assert_bad_page_token(lambda: inbox.list(actor="101", cursor=messages_token))


def test_tokens_travel_between_instances_sharing_the_secret(clock: ManualClock) -> None:
    repository, directory = InMemoryRepository(), two_queue_directory()

    def instance() -> Inbox:
        return Inbox(repository=repository, directory=directory, clock=clock,
                     policy=Policy(ttl=TTL), ids=SequentialIds("s"),
                     token_secret=b"the service secret, 32 bytes ok")  # fmt: skip

    first, second = instance(), instance()
    made = [inbound(first, guest(i)) for i in range(3)]
    page = first.list(actor="101", limit=2)
    rest = second.list(actor="101", limit=2, cursor=page.next_cursor)
    assert ids(page) + ids(rest) == sorted(made)


@pytest.mark.parametrize("secret", [b"short", "a string secret, long enough....", b""])
def test_a_weak_token_secret_is_refused(clock: ManualClock, secret: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        Inbox(directory=two_queue_directory(), clock=clock, token_secret=secret)
    assert caught.value.parameter == "tokenSecret"


# === visibility =================================================================================
def test_threads_of_another_resource_never_appear(inbox: Inbox) -> None:
    mine = inbound(inbox, GUEST)
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    inbound(inbox, GUEST2, owner=SUPPORT_NUMBER)
    everything = ThreadFilter(availability=["Alive", "Deleted"])
    assert ids(inbox.list(actor="101", filter=everything)) == [mine]
    assert ids(inbox.list(actor="101", filter=ThreadFilter(guest_phone_number=GUEST))) == [mine]
    by_number = ThreadFilter(owner_phone_number=SUPPORT_NUMBER)
    assert ids(inbox.list(actor="101", filter=by_number)) == []
    assert inbox.numbered_page(actor="101", filter=by_number, page=1).paging == Paging(per_page=100)
    assert inbox.numbered_page(filter=ThreadFilter(), actor="101", page=1).paging == Paging(
        100, 1, 0, 0, 1, 1
    )


def test_an_actor_who_handles_nothing_gets_an_empty_page(inbox: Inbox) -> None:
    for i in range(3):
        inbound(inbox, guest(i))
    page = inbox.list(actor="999")
    assert list(page) == []
    assert page.next_cursor is None
    numbered = inbox.numbered_page(filter=ThreadFilter(), actor="999", page=1, per_page=10)
    assert list(numbered) == []
    assert numbered.paging == Paging(per_page=10)


def test_a_removed_handler_sees_nothing_and_an_added_one_sees_all(inbox: Inbox) -> None:
    made = [inbound(inbox, guest(i)) for i in range(3)]
    inbox.remove_handler(QUEUE, "101")
    assert list(inbox.list(actor="101")) == []
    inbox.add_handler(QUEUE, "201")
    assert ids(inbox.list(actor="201", filter=ThreadFilter(owner_extension_ids=[QUEUE]))) == sorted(
        made
    )


def test_a_removed_resource_is_seen_by_no_one(inbox: Inbox) -> None:
    billing = inbound(inbox, GUEST)
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    inbox.remove_resource(SUPPORT)
    assert ids(inbox.list(actor="103")) == [billing]
    assert list(inbox.list(actor="201")) == []


# === messages paging ============================================================================
@pytest.fixture
def chat(inbox: Inbox, clock: ManualClock) -> tuple[str, list[str]]:
    """A thread with five messages (inbound and outbound), one minute apart."""
    thread_id = inbound(inbox, GUEST, body="m0")
    inbox.assign(thread_id, actor="101", assignee="101")
    bodies = ["m0"]
    for i in range(1, 5):
        clock.advance(timedelta(minutes=1))
        if i % 2:
            inbox.send(actor="101", thread_id=thread_id, body=f"m{i}")
        else:
            inbound(inbox, GUEST, body=f"m{i}")
        bodies.append(f"m{i}")
    return thread_id, bodies


def message_walk(inbox: Inbox, thread_id: str, per_page: int, actor: str = "101") -> list[str]:
    bodies: list[str] = []
    token = None
    for _ in range(10_000):
        page = inbox.messages(thread_id, actor=actor, limit=per_page, cursor=token)
        assert 1 <= len(page) <= per_page
        bodies.extend(m.body for m in page)
        token = page.next_cursor
        if token is None:
            return bodies
    raise AssertionError("the walk does not end")


def test_messages_without_per_page_are_every_alive_message(
    inbox: Inbox, chat: tuple[str, list[str]]
) -> None:
    thread_id, bodies = chat
    page = inbox.messages(thread_id, actor="102")
    assert isinstance(page, Page)
    assert [m.body for m in page] == bodies
    assert page.next_cursor is None
    assert page == list(page.records)
    assert [m.created_at for m in page] == sorted(m.created_at for m in page)


def test_messages_in_pages(inbox: Inbox, chat: tuple[str, list[str]]) -> None:
    thread_id, bodies = chat
    first = inbox.messages(thread_id, actor="101", limit=2)
    assert [m.body for m in first] == ["m0", "m1"]
    second = inbox.messages(thread_id, actor="101", limit=2, cursor=first.next_cursor)
    assert [m.body for m in second] == ["m2", "m3"]
    third = inbox.messages(thread_id, actor="101", limit=2, cursor=second.next_cursor)
    assert [m.body for m in third] == ["m4"]
    assert third.next_cursor is None
    for per_page in (1, 3, 4, 5, 6, 1000):
        assert message_walk(inbox, thread_id, per_page) == bodies, per_page
    assert inbox.messages(thread_id, actor="101", limit=5).next_cursor is None


def test_messages_added_during_a_walk_come_at_its_end(
    inbox: Inbox, chat: tuple[str, list[str]]
) -> None:
    thread_id, bodies = chat
    first = inbox.messages(thread_id, actor="101", limit=3)
    inbound(inbox, GUEST, body="m5")
    rest = inbox.messages(thread_id, actor="101", limit=3, cursor=first.next_cursor)
    assert [m.body for m in first] + [m.body for m in rest] == [*bodies, "m5"]


def test_a_messages_token_for_another_thread_is_refused(
    inbox: Inbox, chat: tuple[str, list[str]]
) -> None:
    thread_id, _ = chat
    other = inbound(inbox, GUEST2)
    inbound(inbox, GUEST2)
    token = inbox.messages(thread_id, actor="101", limit=2).next_cursor
    assert token is not None
    assert_bad_page_token(lambda: inbox.messages(other, actor="101", limit=2, cursor=token))


def test_a_bad_messages_token_is_refused(inbox: Inbox, chat: tuple[str, list[str]]) -> None:
    thread_id, _ = chat
    token = inbox.messages(thread_id, actor="101", limit=2).next_cursor
    assert token is not None
    for i in range(3):
        inbound(inbox, guest(i + 10))
    list_token = inbox.list(actor="101", limit=1).next_cursor
    for bad in ("abc", tamper(token), tamper(token, token.index(".") + 1), list_token):
        assert_bad_page_token(
            lambda bad=bad: inbox.messages(thread_id, actor="101", limit=2, cursor=bad)
        )
    # issued to 101, used by 102 (who may read the thread)
    assert_bad_page_token(lambda: inbox.messages(thread_id, actor="102", limit=2, cursor=token))


@pytest.mark.parametrize("per_page", [0, -1, 1001, True, "2"])
def test_messages_per_page_out_of_range(
    inbox: Inbox, chat: tuple[str, list[str]], per_page: object
) -> None:
    thread_id, _ = chat
    with pytest.raises(InvalidInput) as caught, pytest.warns(DeprecationWarning, match="per_page="):
        inbox.messages(thread_id, actor="101", per_page=per_page)  # type: ignore[arg-type]
    assert caught.value.parameter == "perPage"  # the old name, as it was given


@pytest.mark.parametrize("limit", [0, -1, 1001, True, "2"])
def test_messages_limit_out_of_range(
    inbox: Inbox, chat: tuple[str, list[str]], limit: object
) -> None:
    thread_id, _ = chat
    with pytest.raises(InvalidInput) as caught:
        inbox.messages(thread_id, actor="101", limit=limit)  # type: ignore[arg-type]
    assert caught.value.parameter == "limit"


def test_messages_of_a_thread_the_actor_cannot_see(
    inbox: Inbox, chat: tuple[str, list[str]]
) -> None:
    thread_id, _ = chat
    with pytest.raises(ThreadNotFound):
        inbox.messages(thread_id, actor="201", limit=2)
    with pytest.raises(ThreadNotFound):
        inbox.messages("no-such-thread", actor="101")


def test_messages_of_a_deleted_thread_are_none(inbox: Inbox, chat: tuple[str, list[str]]) -> None:
    thread_id, _ = chat
    token = inbox.messages(thread_id, actor="101", limit=2).next_cursor
    inbox.delete(thread_id, actor="101")
    assert list(inbox.messages(thread_id, actor="101")) == []
    rest = inbox.messages(thread_id, actor="101", limit=2, cursor=token)
    assert list(rest) == []
    assert rest.next_cursor is None


def test_a_messages_walk_is_only_as_long_as_the_thread(inbox: Inbox) -> None:
    thread_id = inbound(inbox, GUEST)
    page = inbox.messages(thread_id, actor="101", limit=1)
    assert [m.body for m in page] == ["Hi"]
    assert page.next_cursor is None
    assert inbox.messages(thread_id, actor="101", limit=1000) == list(page)


@pytest.mark.parametrize(("counted", "stored"), [(0, 3), (5, 0), (2, 3)])
def test_a_numbered_page_agrees_with_itself_when_threads_change_between_its_reads(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock, counted: int, stored: int
) -> None:
    """A numbered page is two reads (count, then the page); where they are not one snapshot
    (PostgreSQL) threads come or go between them. Found by the HTTP load benchmark as a crash on
    an empty page that the count said was not. The answer's records are the truth."""
    from threadcore.adapters.memory import _MemoryUnitOfWork

    inbox = Inbox(repository=InMemoryRepository(), directory=two_queue_directory(), clock=clock)
    for i in range(stored):
        inbound(inbox, guest(i))
    monkeypatch.setattr(_MemoryUnitOfWork, "count_threads", lambda self, query: counted)
    page = inbox.numbered_page(filter=ThreadFilter(), actor="101", page=1, per_page=2)
    assert len(page) == min(stored, 2)
    assert (page.next_cursor is not None) == (stored > 2 and counted > 2)
    if stored:
        assert page.paging.total_elements == max(counted, len(page))
        assert page.paging.page_end == len(page) - 1
    else:
        assert page.paging == Paging(2)
