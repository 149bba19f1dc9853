"""Example tests for thread sync: FSync and ISync, every kind of change, order, tokens and the
limits (issue 3, "Sync")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

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

from threadcore import Inbox, ManualClock, Policy, StatusReason, Thread, ThreadStatus
from threadcore.domain.errors import InvalidSyncToken
from threadcore.domain.queries import SyncResult, SyncType
from threadcore.errors import InvalidInput, NotAssignee
from threadcore.model import Availability, ThreadUser

GUEST3 = "+16505130001"
ANN = ThreadUser("102", "Ann Lee", "User")


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    return make_inbox(directory=two_queue_directory())


def guest(i: int) -> str:
    return f"+1650224{i:04d}"


def inbound(inbox: Inbox, guest_number: str = GUEST, owner: str = OWNER, body: str = "Hi") -> str:
    return inbox.receive(owner_number=owner, guest_number=guest_number, body=body).thread_id


def full(inbox: Inbox, actor: str = "101") -> SyncResult:
    return inbox.sync(actor=actor, sync_type=SyncType.FULL)


def incremental(inbox: Inbox, token: str, actor: str = "101") -> SyncResult:
    return inbox.sync(actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=token)


def ids(result: SyncResult) -> list[str]:
    return [t.id for t in result.records]


def newest_first(threads: list[Thread]) -> list[str]:
    return [t.id for t in sorted(threads, key=lambda t: (t.last_modified_time, t.id), reverse=True)]


def tamper(token: str, at: int = 0) -> str:
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1 :]


def assert_invalid_sync_token(call: Callable[[], object]) -> InvalidSyncToken:
    with pytest.raises(InvalidSyncToken) as caught:
        call()
    error = caught.value
    assert error.code == "InvalidSyncToken"
    assert error.status == 400
    assert error.parameter == "syncToken"
    assert error.message.startswith("Parameter [syncToken] is invalid")
    assert "full sync" in error.message
    assert "FSync" in error.message
    return error


# === FSync ======================================================================================
def test_full_sync_is_every_open_alive_thread_the_actor_may_see(
    inbox: Inbox, clock: ManualClock
) -> None:
    due = inbound(inbox, guest(1))  # due (unswept) by the time of the sync
    clock.advance(timedelta(hours=2))
    open_a = inbound(inbox, guest(2))
    resolved = inbound(inbox, guest(3))
    inbox.resolve(resolved, actor="101")
    deleted = inbound(inbox, guest(4))
    inbox.delete(deleted, actor="101")
    open_b = inbound(inbox, guest(5), owner=OWNER2)
    inbox.assign(open_b, actor="101", assignee="102")
    support = inbound(inbox, guest(6), owner=SUPPORT_NUMBER)
    clock.set(START + TTL)  # ``due`` is due exactly now
    result = full(inbox)
    assert result.sync_type is SyncType.FULL
    assert result.sync_time == START + TTL
    assert isinstance(result.sync_token, str)
    assert result.sync_token
    assert set(ids(result)) == {open_a, open_b}
    assert due not in ids(result)
    assert list(result.records) == [inbox.get(open_b, actor="101"), inbox.get(open_a, actor="101")]
    assert set(ids(full(inbox, "103"))) == {open_a, open_b, support}
    assert ids(full(inbox, "201")) == [support]


def test_full_sync_is_the_default(inbox: Inbox) -> None:
    a = inbound(inbox)
    result = inbox.sync(actor="101")
    assert result.sync_type is SyncType.FULL
    assert ids(result) == [a]


def test_full_sync_is_newest_modification_first_ties_by_id(
    inbox: Inbox, clock: ManualClock
) -> None:
    made = [inbound(inbox, guest(i)) for i in range(6)]  # t-1 .. t-11, all at START
    clock.advance(timedelta(minutes=1))
    inbox.assign(made[0], actor="101", assignee="101")  # t-1 is modified last
    clock.advance(timedelta(minutes=1))
    inbound(inbox, guest(3), body="again")  # t-7 even later
    result = full(inbox)
    # then the rest, at START, by id descending as strings: t-9, t-5, t-3, t-11
    assert ids(result) == ["t-7", "t-1", "t-9", "t-5", "t-3", "t-11"]
    assert ids(result) == newest_first(list(result.records))


def test_full_sync_of_an_actor_who_handles_nothing(inbox: Inbox) -> None:
    inbound(inbox)
    result = full(inbox, "999")
    assert result.records == ()
    assert ids(incremental(inbox, result.sync_token, "999")) == []


def test_the_sync_type_accepts_the_platform_strings(inbox: Inbox) -> None:
    a = inbound(inbox)
    first = inbox.sync(actor="101", sync_type="FSync")
    assert first.sync_type is SyncType.FULL
    assert ids(first) == [a]
    inbox.resolve(a, actor="101")
    second = inbox.sync(actor="101", sync_type="ISync", sync_token=first.sync_token)
    assert second.sync_type is SyncType.INCREMENTAL
    assert ids(second) == [a]


@pytest.mark.parametrize("sync_type", ["XSync", "fsync", "", None, 1])
def test_an_unknown_sync_type_is_refused(inbox: Inbox, sync_type: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.sync(actor="101", sync_type=sync_type)  # type: ignore[arg-type]
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "syncType"


def test_a_sync_token_with_a_full_sync_is_invalid_input(inbox: Inbox) -> None:
    token = full(inbox).sync_token
    with pytest.raises(InvalidInput) as caught:
        inbox.sync(actor="101", sync_type=SyncType.FULL, sync_token=token)
    assert type(caught.value) is InvalidInput
    assert caught.value.parameter == "syncToken"


@pytest.mark.parametrize("actor", ["", None, " 101"])
def test_a_bad_actor_is_invalid_input(inbox: Inbox, actor: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.sync(actor=actor)  # type: ignore[arg-type]
    assert caught.value.parameter == "actor"


# === ISync: each kind of change =================================================================
def test_nothing_changed_nothing_reported(inbox: Inbox, clock: ManualClock) -> None:
    inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(timedelta(hours=1))
    result = incremental(inbox, token)
    assert result.records == ()
    assert result.sync_type is SyncType.INCREMENTAL
    assert result.sync_time == START + timedelta(hours=1)
    assert result.sync_token != token


def test_a_created_thread(inbox: Inbox, clock: ManualClock) -> None:
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    created = inbound(inbox)
    result = incremental(inbox, token)
    assert list(result.records) == [inbox.get(created, actor="101")]
    assert result.records[0].status is ThreadStatus.OPEN


def test_a_thread_created_by_sending(inbox: Inbox) -> None:
    token = full(inbox).sync_token
    sent = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Hello")
    result = incremental(inbox, token)
    assert ids(result) == [sent.thread_id]
    assert result.records[0].assignee == ANN


def test_a_messaged_thread(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbound(inbox, body="Still there?")
    first = incremental(inbox, token)
    assert ids(first) == [thread_id]
    assert first.records[0].label == "Still there?"
    clock.advance(timedelta(minutes=1))
    inbox.send(actor="102", thread_id=thread_id, body="Yes")
    second = incremental(inbox, first.sync_token)
    assert ids(second) == [thread_id]
    assert second.records[0].label == "Yes"
    assert second.records[0].last_modified_time == START + timedelta(minutes=2)


def test_an_assigned_and_an_unassigned_thread(inbox: Inbox, clock: ManualClock) -> None:
    a = inbound(inbox, GUEST)
    b = inbound(inbox, GUEST2)
    inbox.assign(b, actor="101", assignee="101")
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbox.assign(a, actor="101", assignee="102")
    inbox.assign(b, actor="101", assignee=None)
    result = incremental(inbox, token)
    assert set(ids(result)) == {a, b}
    by_id = {t.id: t for t in result.records}
    assert by_id[a].assignee == ANN
    assert by_id[b].assignee is None
    assert by_id[b].status is ThreadStatus.OPEN


def test_a_resolved_thread(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=5))
    inbox.resolve(thread_id, actor="103")
    result = incremental(inbox, token)
    assert ids(result) == [thread_id]
    record = result.records[0]
    assert record.status is ThreadStatus.RESOLVED
    assert record.status_reason is StatusReason.MANUAL
    assert record.last_modified_time == START + timedelta(minutes=5)


def test_a_thread_resolved_by_a_directory_change(inbox: Inbox) -> None:
    on_owner2 = inbound(inbox, GUEST, owner=OWNER2)
    on_owner = inbound(inbox, GUEST, owner=OWNER)
    token = full(inbox).sync_token
    inbox.remove_phone_number(QUEUE, OWNER2)
    result = incremental(inbox, token)
    assert ids(result) == [on_owner2]
    assert result.records[0].status_reason is StatusReason.OWNER_PHONE_NUMBER_DELETED
    assert on_owner not in ids(result)


def test_an_expiry_no_sweep_has_written(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")
    token = full(inbox).sync_token
    assert ids(full(inbox)) == [thread_id]
    clock.advance(TTL + timedelta(hours=1))
    result = incremental(inbox, token)
    assert ids(result) == [thread_id]
    record = result.records[0]
    assert record.status is ThreadStatus.RESOLVED
    assert record.status_reason is StatusReason.THREAD_EXPIRED
    assert record.assignee is None
    assert record.last_modified_time == START + TTL
    assert record == inbox.get(thread_id, actor="101")


def test_an_expiry_at_the_exact_due_instant(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    clock.set(START + TTL - timedelta(microseconds=1))
    before = incremental(inbox, token)
    assert before.records == ()
    clock.set(START + TTL)
    at = incremental(inbox, before.sync_token)
    assert ids(at) == [thread_id]
    assert at.records[0].status_reason is StatusReason.THREAD_EXPIRED


def test_an_expiry_the_sweep_wrote_after_the_token(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(TTL)
    assert [t.id for t in inbox.expire()] == [thread_id]
    result = incremental(inbox, token)
    assert ids(result) == [thread_id]  # once, though both the sweep and the clock say so
    assert result.records[0].status_reason is StatusReason.THREAD_EXPIRED
    assert result.records[0].last_modified_time == START + TTL


def test_an_unswept_expiry_is_reported_once(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(TTL + timedelta(minutes=1))
    first = incremental(inbox, token)
    assert ids(first) == [thread_id]
    clock.advance(timedelta(minutes=1))
    assert incremental(inbox, first.sync_token).records == ()  # not again
    assert inbox.expire() == []  # the sync wrote the expiry it showed (rule R10b)
    after_sweep = incremental(inbox, first.sync_token)
    assert after_sweep.records == ()  # nor after the sweep wrote it
    assert incremental(inbox, after_sweep.sync_token).records == ()


def test_an_expiry_due_before_the_full_sync_and_swept_after_it(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = inbound(inbox)
    clock.advance(TTL + timedelta(hours=1))
    result = full(inbox)
    assert result.records == ()  # due: the client never holds it
    assert inbox.expire() == []  # the sync wrote the expiry of what it left out (rule R10b)
    assert inbox.get(thread_id, actor="101").status_reason is StatusReason.THREAD_EXPIRED
    assert incremental(inbox, result.sync_token).records == ()


def test_an_expiry_written_by_the_pairs_next_message(inbox: Inbox, clock: ManualClock) -> None:
    old = inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(TTL + timedelta(hours=1))
    first = incremental(inbox, token)
    assert ids(first) == [old]
    new = inbound(inbox, body="Hello again")  # writes the expiry of ``old``
    second = incremental(inbox, first.sync_token)
    assert ids(second) == [new]


def test_a_deleted_thread_is_a_tombstone(inbox: Inbox, clock: ManualClock) -> None:
    open_one = inbound(inbox, GUEST)
    inbox.assign(open_one, actor="101", assignee="102")
    resolved_one = inbound(inbox, GUEST2)
    inbox.resolve(resolved_one, actor="101")
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbox.delete(open_one, actor="102")
    inbox.delete(resolved_one, actor="102")
    result = incremental(inbox, token)
    assert set(ids(result)) == {open_one, resolved_one}
    for record in result.records:
        assert record.availability is Availability.DELETED
        assert record.assignee is None
        assert record.last_modified_time == START + timedelta(minutes=1)
        assert record == inbox.get(record.id, actor="101")


def test_a_thread_expired_then_deleted_is_a_tombstone(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(TTL + timedelta(hours=1))
    first = incremental(inbox, token)
    assert ids(first) == [thread_id]
    inbox.delete(thread_id, actor="101")
    second = incremental(inbox, first.sync_token)
    assert ids(second) == [thread_id]
    tombstone = second.records[0]
    assert tombstone.availability is Availability.DELETED
    assert tombstone.status_reason is StatusReason.THREAD_EXPIRED


def test_deletions_leave_no_thread_in_a_client(inbox: Inbox) -> None:
    a = inbound(inbox, GUEST)
    b = inbound(inbox, GUEST2)
    first = full(inbox)
    store = {t.id: t for t in first.records}
    assert set(store) == {a, b}
    inbox.delete(a, actor="101")
    result = incremental(inbox, first.sync_token)
    for record in result.records:
        if record.status is ThreadStatus.OPEN and record.availability is Availability.ALIVE:
            store[record.id] = record
        else:
            store.pop(record.id, None)
    assert set(store) == {b}
    assert store == {t.id: t for t in full(inbox).records}


def test_a_thread_changed_many_times_is_reported_once_as_it_is_now(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = inbound(inbox)
    token = full(inbox).sync_token
    for minutes in range(1, 4):
        clock.advance(timedelta(minutes=1))
        inbound(inbox, body=f"again {minutes}")
    inbox.assign(thread_id, actor="101", assignee="103")
    result = incremental(inbox, token)
    assert list(result.records) == [inbox.get(thread_id, actor="101")]
    assert result.records[0].label == "again 3"


# === ISync: nothing else ========================================================================
def test_reads_and_refusals_are_not_changes(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbox.get(thread_id, actor="101")
    inbox.list(actor="101")
    inbox.messages(thread_id, actor="101")
    full(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")  # a no-op
    with pytest.raises(NotAssignee):  # refused: only the assignee sends
        inbox.send(actor="101", thread_id=thread_id, body="Me too")
    assert incremental(inbox, token).records == ()


def test_changes_of_another_resource_are_not_reported(inbox: Inbox) -> None:
    token = full(inbox).sync_token
    support = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    inbox.resolve(support, actor="201")
    inbound(inbox, GUEST2, owner=SUPPORT_NUMBER)
    assert incremental(inbox, token).records == ()
    token_103 = full(inbox, "103").sync_token
    billing = inbound(inbox, GUEST3)
    other = inbound(inbox, GUEST3, owner=SUPPORT_NUMBER)
    assert set(ids(incremental(inbox, token_103, "103"))) == {billing, other}


def test_changes_before_the_token_are_not_reported(inbox: Inbox, clock: ManualClock) -> None:
    a = inbound(inbox, GUEST)
    first = full(inbox)
    clock.advance(timedelta(minutes=1))
    b = inbound(inbox, GUEST2)
    second = incremental(inbox, first.sync_token)
    assert ids(second) == [b]
    clock.advance(timedelta(minutes=1))
    inbox.resolve(a, actor="101")
    third = incremental(inbox, second.sync_token)
    assert ids(third) == [a]
    assert incremental(inbox, third.sync_token).records == ()
    # an old token still answers everything since it was issued
    assert set(ids(incremental(inbox, first.sync_token))) == {a, b}


def test_changes_at_the_instant_of_the_token_are_reported(inbox: Inbox) -> None:
    token = full(inbox).sync_token  # the clock does not move
    a = inbound(inbox)
    result = incremental(inbox, token)
    assert ids(result) == [a]
    b = inbound(inbox, GUEST2)
    assert ids(incremental(inbox, result.sync_token)) == [b]


def test_incremental_sync_is_newest_modification_first(inbox: Inbox, clock: ManualClock) -> None:
    made = [inbound(inbox, guest(i)) for i in range(6)]  # t-1 .. t-11
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbox.resolve(made[2], actor="101")
    inbox.assign(made[5], actor="101", assignee="101")  # same instant as the resolve
    clock.advance(timedelta(minutes=1))
    inbox.assign(made[0], actor="101", assignee="102")
    clock.advance(TTL)
    # every open thread is due: assignments do not postpone expiry, so all expired at START + TTL
    # (ties by id descending, as strings); the resolved one keeps its resolve time
    result = incremental(inbox, token)
    assert ids(result) == newest_first(list(result.records))
    assert ids(result) == ["t-9", "t-7", "t-3", "t-11", "t-1", "t-5"]
    assert [t.last_modified_time for t in result.records] == [START + TTL] * 5 + [
        START + timedelta(minutes=1)
    ]
    assert result.records[-1].status_reason is StatusReason.MANUAL


def test_incremental_ties_are_broken_by_id_descending(inbox: Inbox) -> None:
    token = full(inbox).sync_token
    made = [inbound(inbox, guest(i)) for i in range(6)]  # t-1 .. t-11, one instant
    assert ids(incremental(inbox, token)) == sorted(made, reverse=True)


# === tokens =====================================================================================
@pytest.fixture
def token(inbox: Inbox) -> str:
    inbound(inbox)
    return full(inbox).sync_token


def test_a_missing_token_for_isync(inbox: Inbox) -> None:
    error = assert_invalid_sync_token(
        lambda: inbox.sync(actor="101", sync_type=SyncType.INCREMENTAL)
    )
    assert error.reason == "missing"


@pytest.mark.parametrize("bad", ["abc", "", ".", "a.b", "e30.AAAA", "x" * 5000, 7, ["abc"]])
def test_a_malformed_token(inbox: Inbox, token: str, bad: object) -> None:
    assert_invalid_sync_token(lambda: incremental(inbox, bad))  # type: ignore[arg-type]


def test_a_tampered_token(inbox: Inbox, token: str) -> None:
    body_end = token.index(".")
    for at in (0, 1, body_end // 2, body_end + 1, len(token) - 2):
        error = assert_invalid_sync_token(lambda at=at: incremental(inbox, tamper(token, at)))
        assert error.reason == "bad signature"
    assert_invalid_sync_token(lambda: incremental(inbox, token + "A"))
    assert_invalid_sync_token(lambda: incremental(inbox, token.replace(".", "")))


def test_a_token_of_another_actor(inbox: Inbox, token: str) -> None:
    support = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    for actor in ("102", "103", "201", "999"):
        error = assert_invalid_sync_token(lambda actor=actor: incremental(inbox, token, actor))
        assert "another" in error.reason
    token_201 = full(inbox, "201").sync_token
    inbox.resolve(support, actor="201")
    # 201's token never hands 101 anything, not even 201's own changes
    assert_invalid_sync_token(lambda: incremental(inbox, token_201, "101"))


def test_a_token_of_another_inbox(inbox: Inbox, token: str, make_inbox: MakeInbox) -> None:
    other = make_inbox(directory=two_queue_directory())
    inbound(other)
    error = assert_invalid_sync_token(lambda: incremental(other, token))
    assert error.reason == "bad signature"


def test_a_page_token_is_not_a_sync_token(inbox: Inbox) -> None:
    for i in range(3):
        inbound(inbox, guest(i))
    page_token = inbox.list(actor="101", limit=1).next_cursor
    assert page_token is not None
    assert_invalid_sync_token(lambda: incremental(inbox, page_token))


def test_a_token_of_exactly_seven_days_still_works(
    inbox: Inbox, token: str, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=7))
    result = incremental(inbox, token)
    assert result.records != ()  # the thread expired meanwhile
    assert result.records[0].status_reason is StatusReason.THREAD_EXPIRED


def test_a_token_older_than_seven_days(inbox: Inbox, token: str, clock: ManualClock) -> None:
    clock.advance(timedelta(days=8))
    error = assert_invalid_sync_token(lambda: incremental(inbox, token))
    assert "old" in error.reason
    fresh = full(inbox)
    assert incremental(inbox, fresh.sync_token).records == ()


def test_the_token_age_comes_from_the_policy(make_inbox: MakeInbox, clock: ManualClock) -> None:
    inbox = make_inbox(
        policy=Policy(ttl=TTL, sync_token_max_age=timedelta(hours=1)),
        directory=two_queue_directory(),
    )
    inbound(inbox)
    token = full(inbox).sync_token
    clock.advance(timedelta(hours=1))
    hour_old = incremental(inbox, token)
    assert hour_old.records == ()
    clock.advance(timedelta(seconds=1))
    assert_invalid_sync_token(lambda: incremental(inbox, token))
    assert incremental(inbox, hour_old.sync_token).records == ()  # a newer token is fine


def test_removing_the_actor_as_handler_invalidates_its_token(inbox: Inbox, token: str) -> None:
    inbox.remove_handler(QUEUE, "101")
    error = assert_invalid_sync_token(lambda: incremental(inbox, token))
    assert "resources" in error.reason


def test_adding_the_actor_as_handler_invalidates_its_token(inbox: Inbox, token: str) -> None:
    inbox.add_handler(SUPPORT, "101")
    assert_invalid_sync_token(lambda: incremental(inbox, token))
    # after a full sync the client goes on with the new set
    fresh = full(inbox)
    support = inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    assert ids(incremental(inbox, fresh.sync_token)) == [support]


def test_losing_one_of_several_resources_invalidates_the_token(inbox: Inbox) -> None:
    inbound(inbox, GUEST, owner=SUPPORT_NUMBER)
    token = full(inbox, "103").sync_token
    inbox.remove_handler(SUPPORT, "103")
    assert_invalid_sync_token(lambda: incremental(inbox, token, "103"))


def test_removing_a_handled_resource_invalidates_the_token(inbox: Inbox) -> None:
    token = full(inbox, "103").sync_token
    inbox.remove_resource(SUPPORT)
    assert_invalid_sync_token(lambda: incremental(inbox, token, "103"))


def test_changes_to_other_handlers_keep_the_token(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")
    token = full(inbox).sync_token
    clock.advance(timedelta(minutes=1))
    inbox.remove_handler(QUEUE, "102")  # unassigns ``thread_id``
    inbox.add_handler(QUEUE, "104")
    result = incremental(inbox, token)
    assert ids(result) == [thread_id]
    assert result.records[0].assignee is None


def test_more_changes_than_one_answer_may_carry(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, sync_max_changes=3))
    token = full(inbox).sync_token
    made = [inbound(inbox, guest(i)) for i in range(3)]
    three = incremental(inbox, token)
    assert sorted(ids(three)) == sorted(made)
    inbound(inbox, guest(3))
    error = assert_invalid_sync_token(lambda: incremental(inbox, token))
    assert "3" in error.reason
    # a newer token is within the limit
    assert len(ids(incremental(inbox, three.sync_token))) == 1


def test_many_changes_to_few_threads_are_within_the_limit(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, sync_max_changes=3))
    made = [inbound(inbox, guest(i)) for i in range(3)]
    token = full(inbox).sync_token
    for thread_id in made:
        inbox.assign(thread_id, actor="101", assignee="101")
        inbox.send(actor="101", thread_id=thread_id, body="On it")
        inbox.resolve(thread_id, actor="101")
    assert sorted(ids(incremental(inbox, token))) == sorted(made)


def test_unswept_expiries_count_towards_the_limit(
    make_inbox: MakeInbox, clock: ManualClock
) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, sync_max_changes=3))
    for i in range(2):
        inbound(inbox, guest(i))
    token = full(inbox).sync_token
    clock.advance(timedelta(hours=1))
    for i in range(2, 4):
        inbound(inbox, guest(i))
    clock.advance(TTL)  # all four are due (two of them were created after the token)
    assert_invalid_sync_token(lambda: incremental(inbox, token))


def test_the_limit_counts_only_the_actors_threads(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, sync_max_changes=3), directory=two_queue_directory())
    token = full(inbox).sync_token
    for i in range(5):
        inbound(inbox, guest(i), owner=SUPPORT_NUMBER)
    mine = inbound(inbox, GUEST)
    assert ids(incremental(inbox, token)) == [mine]
