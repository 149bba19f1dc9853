"""Hostile input gets the same typed answer on every adapter (issue 12, items 13 to 15; rules
R17, R18b): lone surrogates and NUL in ids and names, instants near the ends of ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stores
from conftest import GUEST, OWNER, START

from threadcore import Handler, ManualClock, Policy, Resource, ThreadFilter
from threadcore.errors import InvalidInput, MessageNotFound, NoteNotFound, ThreadNotFound

pytest_plugins = ["conftest_pg"]
store = stores.store

LONE = "\ud800"  # a lone surrogate: not UTF-8, no adapter can store it
BAD_IDS = [f"t{LONE}", f"{LONE}", "a\x00b", f"x{LONE}\x00"]
FAR_PAST = datetime.min.replace(tzinfo=UTC)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_no_adapter_can_store_is_not_found(store: stores.Store, bad: str) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    for call in (
        lambda: inbox.get(bad, actor="101"),
        lambda: inbox.assign(bad, actor="101", assignee="101"),
        lambda: inbox.resolve(bad, actor="101"),
        lambda: inbox.delete(bad, actor="101"),
        lambda: inbox.messages(bad, actor="101"),
        lambda: inbox.send(actor="101", thread_id=bad, body="x"),
        lambda: inbox.add_note(bad, actor="101", text="x"),
    ):
        with pytest.raises((ThreadNotFound, InvalidInput)):  # never a driver's or storage error
            call()
    for call in (
        lambda: inbox.message(bad, actor="101"),
        lambda: inbox.record_delivery(bad, "Delivered"),
        lambda: inbox.delete_messages([bad], actor="101"),
    ):
        with pytest.raises((MessageNotFound, InvalidInput)):
            call()
    with pytest.raises((NoteNotFound, InvalidInput)):
        inbox.edit_note(bad, actor="101", text="x")
    with pytest.raises(InvalidInput) as caught:
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="x", provider_message_id=bad)
    assert caught.value.parameter == "providerMessageId"
    assert [m.id for m in inbox.messages(message.thread_id, actor="101")] == [message.id]


@pytest.mark.parametrize("bad", [f"Ann {LONE}", "Ann\x00Lee", "x" * 257])
def test_a_name_no_adapter_can_store_is_refused_when_it_enters_the_directory(bad: str) -> None:
    with pytest.raises(InvalidInput):
        Resource("q", name=bad, phone_numbers=[OWNER], handlers=["101"])
    with pytest.raises(InvalidInput):
        Resource("q", extension_type=bad, phone_numbers=[OWNER], handlers=["101"])
    with pytest.raises(InvalidInput):
        Handler("101", name=bad)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ManualClock(FAR_PAST),
        lambda: ManualClock(FAR_FUTURE),
        lambda: ManualClock(START).set(FAR_FUTURE),
        lambda: ManualClock(START).advance(timedelta.max),
        lambda: ManualClock(datetime(8999, 12, 31, tzinfo=UTC)).advance(timedelta(days=2)),
        lambda: Policy(ttl=timedelta(days=999_999_999)),
        lambda: Policy(sync_token_max_age=timedelta.max),
        lambda: ThreadFilter(creation_time_from=FAR_PAST),
        lambda: ThreadFilter(creation_time_to=FAR_FUTURE),
        lambda: ThreadFilter(creation_time_to=datetime(1, 1, 1, 12, tzinfo=UTC)),
    ],
)
def test_instants_and_durations_near_the_ends_are_refused_with_a_typed_error(make: object) -> None:
    with pytest.raises(InvalidInput):
        make()  # type: ignore[operator]


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.mark.parametrize("at", [datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)])
def test_a_clock_near_the_ends_gets_a_typed_error_and_changes_nothing(
    store: stores.Store, at: datetime
) -> None:
    repo = store()
    inbox = stores.inbox_on(repo, FixedClock(at))
    with pytest.raises(InvalidInput) as caught:
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    assert caught.value.parameter == "clock.now()"
    with pytest.raises(InvalidInput):
        inbox.list(actor="101")
    assert inbox.events() == []


def test_times_given_to_commands_near_the_ends_are_refused(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    sent = inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="hello")
    for at in (FAR_PAST, FAR_FUTURE):
        with pytest.raises(InvalidInput):
            inbox.record_delivery(sent.id, "Delivered", at=at)
    assert inbox.message(sent.id, actor="101").delivered_at is None


def test_an_event_position_beyond_any_integer_answers_nothing(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    assert inbox.events(cursor=inbox.feed_cursor(2**63)) == []
    assert inbox.events(cursor=inbox.feed_cursor(2**70)) == []
    assert len(inbox.events(cursor=inbox.feed_cursor(0), limit=2**70)) == 2
