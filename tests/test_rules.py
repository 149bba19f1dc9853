"""Example tests for every rule of docs/rules.md (R1..R17), named after the rule they prove."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import attrs
import pytest
from conftest import GUEST, GUEST2, OWNER, QUEUE, START, TTL, MakeInbox, billing_directory

from threadcore import (
    Direction,
    Directory,
    Handler,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadcoreError,
    ThreadStatus,
)
from threadcore.errors import (
    AssigneeNotHandler,
    IdempotencyConflict,
    InvalidInput,
    NotAssignee,
    NotPermitted,
    PhoneNumberInUse,
    ResourceExists,
    ResourceNotFound,
    ThreadDeletedError,
    ThreadNotFound,
    ThreadNotOpen,
    ThreadUnassigned,
    UnknownPhoneNumber,
)
from threadcore.events import MessageAdded, ThreadAssigned, ThreadOpened, ThreadResolved
from threadcore.events import ThreadDeleted as ThreadDeletedEvent
from threadcore.ids import SequentialIds
from threadcore.model import Availability, OwnerResource, Party, ThreadUser

GUEST3 = "+16505130001"
OWNER2 = "+12092480002"
SUPPORT = "6249888002"
SUPPORT_NUMBER = "+12092480003"
ANN = ThreadUser("102", "Ann Lee", "User")
U101 = ThreadUser("101", None, "User")
U103 = ThreadUser("103", None, "User")


# --- helpers ------------------------------------------------------------------------------------
def two_queue_directory() -> Directory:
    """Billing (OWNER, handlers 101/102/103) and Support (SUPPORT_NUMBER, handler 201)."""
    directory = billing_directory()
    directory.add_resource(
        Resource(
            extension_id=SUPPORT,
            name="Support",
            phone_numbers=[SUPPORT_NUMBER],
            handlers=["201"],
        )
    )
    return directory


def two_number_directory() -> Directory:
    """Billing with two numbers, OWNER and OWNER2."""
    return Directory(
        [
            Resource(
                extension_id=QUEUE,
                name="Billing Queue",
                extension_type="Department",
                phone_numbers=[OWNER, OWNER2],
                handlers=["101", Handler("102", name="Ann Lee"), "103"],
            )
        ]
    )


def kinds(inbox: Inbox, after: int = 0) -> list[str]:
    return [type(event).__name__ for _, event in inbox.events(cursor=inbox.feed_cursor(after))]


def events_after(inbox: Inbox, after: int) -> list[Any]:
    return [event for _, event in inbox.events(cursor=inbox.feed_cursor(after))]


def inbound(inbox: Inbox, guest: str = GUEST, body: str = "Hi", owner: str = OWNER) -> str:
    """Receive a message and return its thread id."""
    return inbox.receive(owner_number=owner, guest_number=guest, body=body).thread_id


def assigned_to_ann(inbox: Inbox, guest: str = GUEST) -> str:
    """An open thread (opened by an inbound message) assigned to 102 (Ann Lee)."""
    thread_id = inbound(inbox, guest)
    inbox.assign(thread_id, actor="101", assignee="102")
    return thread_id


def assert_refused_without_change(
    inbox: Inbox, thread_id: str, error: type[ThreadcoreError], command: Callable[[], object]
) -> ThreadcoreError:
    """``command`` raises exactly ``error`` and leaves the events and the thread as they were
    (as shown: a due thread's expiry is written when it is first shown, rule R10b)."""
    thread_before = inbox.get(thread_id, actor="101")
    events_before = inbox.events()
    with pytest.raises(error) as caught:
        command()
    assert type(caught.value) is error
    assert inbox.events() == events_before
    assert inbox.get(thread_id, actor="101") == thread_before
    return caught.value


# === R1: one open thread per pair ===============================================================
def test_r01_messages_of_one_pair_share_the_open_thread(inbox: Inbox, clock: ManualClock) -> None:
    first = inbound(inbox)
    clock.advance(timedelta(minutes=1))
    second = inbound(inbox, body="Are you there?")
    inbox.assign(first, actor="101", assignee="101")
    clock.advance(timedelta(minutes=1))
    reply = inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Yes")
    assert first == second == reply.thread_id
    assert [m.body for m in inbox.messages(first, actor="101")] == ["Hi", "Are you there?", "Yes"]
    assert kinds(inbox).count("ThreadOpened") == 1


def test_r01_other_guest_or_owner_number_is_another_pair(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_number_directory())
    a = inbound(inbox, GUEST)
    b = inbound(inbox, GUEST2)
    c = inbound(inbox, GUEST, owner=OWNER2)
    assert len({a, b, c}) == 3
    assert inbox.get(c, actor="101").owner_party == Party(OWNER2)
    assert inbox.get(c, actor="101").guest_party == Party(GUEST)


def test_r01_resolve_frees_the_pair(inbox: Inbox) -> None:
    first = inbound(inbox)
    inbox.resolve(first, actor="101")
    second = inbound(inbox, body="One more thing")
    assert second != first
    assert inbox.get(second, actor="101").status is ThreadStatus.OPEN
    assert inbox.get(first, actor="101").status is ThreadStatus.RESOLVED
    assert [m.body for m in inbox.messages(second, actor="101")] == ["One more thing"]


def test_r01_expiry_frees_the_pair(inbox: Inbox, clock: ManualClock) -> None:
    first = inbound(inbox)
    clock.advance(TTL)
    second = inbound(inbox, body="Hello again")
    assert second != first
    assert inbox.get(first, actor="101").status_reason is StatusReason.THREAD_EXPIRED
    assert inbox.get(second, actor="101").status is ThreadStatus.OPEN


def test_r01_delete_frees_the_pair(inbox: Inbox) -> None:
    first = inbound(inbox)
    inbox.delete(first, actor="101")
    second = inbound(inbox, body="Hello again")
    assert second != first
    assert inbox.get(second, actor="101").availability is Availability.ALIVE
    assert inbox.get(second, actor="101").status is ThreadStatus.OPEN


def test_r01_outbound_after_resolve_opens_a_new_thread(inbox: Inbox) -> None:
    first = inbound(inbox)
    inbox.resolve(first, actor="103")
    sent = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Following up")
    assert sent.thread_id != first
    assert inbox.get(sent.thread_id, actor="101").assignee == ANN


# === R2: inbound opens an unassigned thread =====================================================
def test_r02_inbound_opens_an_unassigned_open_thread(inbox: Inbox, clock: ManualClock) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi, my bill?")
    thread = inbox.get(message.thread_id, actor="101")
    assert thread.status is ThreadStatus.OPEN
    assert thread.availability is Availability.ALIVE
    assert thread.assignee is None
    assert thread.status_reason is None
    assert thread.owner == OwnerResource(QUEUE, "Billing Queue", "Department")
    assert thread.owner_party == Party(OWNER)
    assert thread.guest_party == Party(GUEST)
    assert thread.creation_time == START
    assert thread.last_modified_time == START
    assert thread.label == "Hi, my bill?"
    assert message.direction is Direction.INBOUND
    assert (message.from_number, message.to_number) == (GUEST, OWNER)
    assert message.author is None
    opened, added = events_after(inbox, 0)
    assert opened == ThreadOpened(message.thread_id, START, QUEUE, OWNER, GUEST, None, None)
    assert added == MessageAdded(message.thread_id, START, message.id, Direction.INBOUND, None)


def test_r02_inbound_on_an_assigned_thread_keeps_its_assignee(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    assert inbound(inbox, body="Still waiting") == thread_id
    assert inbox.get(thread_id, actor="101").assignee == ANN


# === R3: outbound opens a thread assigned to the sender =========================================
def test_r03_outbound_opens_a_thread_assigned_to_the_sender(inbox: Inbox) -> None:
    message = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Hello")
    thread = inbox.get(message.thread_id, actor="103")
    assert thread.status is ThreadStatus.OPEN
    assert thread.assignee == ThreadUser("102", name="Ann Lee")
    assert thread.assignee.extension_type == "User"
    assert message.author == ANN
    assert message.direction is Direction.OUTBOUND
    assert (message.from_number, message.to_number) == (OWNER, GUEST)
    assert thread.last_outbound_at == START
    assert thread.last_inbound_at is None
    opened, added = events_after(inbox, 0)
    assert opened == ThreadOpened(message.thread_id, START, QUEUE, OWNER, GUEST, ANN, "102")
    assert added == MessageAdded(message.thread_id, START, message.id, Direction.OUTBOUND, "102")


def test_r03_a_handler_without_a_name_is_named_by_id_only(inbox: Inbox) -> None:
    message = inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Hello")
    assert inbox.get(message.thread_id, actor="101").assignee == U101
    assert message.author == U101


def test_r03_the_sender_can_keep_writing_on_the_thread_it_opened(inbox: Inbox) -> None:
    first = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Hello")
    second = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Anyone?")
    third = inbox.send(actor="102", thread_id=first.thread_id, body="Last try")
    assert first.thread_id == second.thread_id == third.thread_id
    assert inbox.get(first.thread_id, actor="101").label == "Last try"


# === R4: what send names ========================================================================
def test_r04_send_by_thread_id(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    message = inbox.send(actor="102", thread_id=thread_id, body="On it")
    assert message.thread_id == thread_id
    assert (message.from_number, message.to_number) == (OWNER, GUEST)
    assert message.author == ANN


def test_r04_send_with_both_thread_id_and_pair_is_invalid(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    before = inbox.events()
    with pytest.raises(InvalidInput):
        inbox.send(
            actor="102", thread_id=thread_id, owner_number=OWNER, guest_number=GUEST, body="x"
        )
    with pytest.raises(InvalidInput):
        inbox.send(actor="102", thread_id=thread_id, guest_number=GUEST, body="x")
    assert inbox.events() == before
    assert inbox.messages(thread_id, actor="102")[-1].body == "Hi"


def test_r04_send_naming_neither_is_invalid(inbox: Inbox) -> None:
    with pytest.raises(InvalidInput) as neither:
        inbox.send(actor="102", body="x")
    with pytest.raises(InvalidInput) as half:
        inbox.send(actor="102", owner_number=OWNER, body="x")
    assert half.value.parameter == "guestNumber"
    assert neither.value.parameter in {"ownerNumber", "guestNumber", "threadId"}
    assert inbox.events() == []


def test_r04_unknown_thread_id_is_not_found(inbox: Inbox) -> None:
    with pytest.raises(ThreadNotFound):
        inbox.send(actor="101", thread_id="no-such-thread", body="x")


def test_r04_deleted_thread_is_thread_deleted(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.delete(thread_id, actor="101")
    with pytest.raises(ThreadDeletedError):
        inbox.send(actor="102", thread_id=thread_id, body="x")


def test_r04_resolved_thread_is_not_open(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.resolve(thread_id, actor="102")
    before = inbox.events()
    with pytest.raises(ThreadNotOpen):
        inbox.send(actor="102", thread_id=thread_id, body="x")
    assert inbox.events() == before


def test_r04_expired_thread_is_not_open(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(TTL)
    before = inbox.events()
    with pytest.raises(ThreadNotOpen):
        inbox.send(actor="102", thread_id=thread_id, body="x")
    # the send writes nothing of its own; the expiry it was refused for is written (R10b)
    new = [event for _, event in inbox.events()[len(before) :]]
    assert new == [ThreadResolved(thread_id, START + TTL, StatusReason.THREAD_EXPIRED, None)]
    assert inbox.get(thread_id, actor="101").status_reason is StatusReason.THREAD_EXPIRED


def test_r04_by_pair_the_owner_number_must_belong_to_a_resource(inbox: Inbox) -> None:
    with pytest.raises(UnknownPhoneNumber):
        inbox.send(actor="101", owner_number="+12092489999", guest_number=GUEST, body="x")
    assert inbox.events() == []


def test_r04_by_pair_the_actor_must_handle_the_resource(make_inbox: MakeInbox) -> None:
    """A number the actor does not handle answers as an unknown one (404, the same words), so
    numbers cannot be probed (issue 12, item 9)."""
    inbox = make_inbox(directory=two_queue_directory())
    unknown = "+12092489999"
    for outsider in ("201", "999"):
        answers = []
        for number in (OWNER, unknown):
            with pytest.raises(UnknownPhoneNumber) as caught:
                inbox.send(actor=outsider, owner_number=number, guest_number=GUEST, body="x")
            assert caught.value.status == 404
            answers.append(caught.value.message.replace(number, "N"))
        assert answers[0] == answers[1]
    assert inbox.events() == []


# === R5: only the assignee sends ================================================================
def test_r05_non_assignee_gets_the_platforms_words_by_thread_id(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    error = assert_refused_without_change(
        inbox,
        thread_id,
        NotAssignee,
        lambda: inbox.send(actor="103", thread_id=thread_id, body="I can help"),
    )
    assert str(error) == "The thread is not assigned to extension [103] at the moment."
    assert error.message == "The thread is not assigned to extension [103] at the moment."
    assert error.code == "NotAssignee"
    assert error.status == 403


def test_r05_non_assignee_gets_the_platforms_words_by_pair(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    error = assert_refused_without_change(
        inbox,
        thread_id,
        NotAssignee,
        lambda: inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="x"),
    )
    assert str(error) == "The thread is not assigned to extension [101] at the moment."


def test_r05_sending_on_an_unassigned_thread_is_refused(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    assert_refused_without_change(
        inbox,
        thread_id,
        ThreadUnassigned,
        lambda: inbox.send(actor="101", thread_id=thread_id, body="x"),
    )
    assert_refused_without_change(
        inbox,
        thread_id,
        ThreadUnassigned,
        lambda: inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="x"),
    )


@pytest.mark.parametrize("by_pair", [False, True])
def test_r05_claim_on_send_makes_the_sender_the_assignee(
    make_inbox: MakeInbox, clock: ManualClock, by_pair: bool
) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, claim_on_send=True))
    thread_id = inbound(inbox)
    cursor = len(inbox.events())
    clock.advance(timedelta(minutes=3))
    now = clock.now()
    if by_pair:
        message = inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Mine")
    else:
        message = inbox.send(actor="102", thread_id=thread_id, body="Mine")
    assert message.thread_id == thread_id
    thread = inbox.get(thread_id, actor="101")
    assert thread.assignee == ANN
    assert thread.label == "Mine"
    assert events_after(inbox, cursor) == [
        ThreadAssigned(thread_id, now, ANN, None, "102"),
        MessageAdded(thread_id, now, message.id, Direction.OUTBOUND, "102"),
    ]


def test_r05_claim_on_send_does_not_take_an_assigned_thread(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, claim_on_send=True))
    thread_id = assigned_to_ann(inbox)
    error = assert_refused_without_change(
        inbox,
        thread_id,
        NotAssignee,
        lambda: inbox.send(actor="103", thread_id=thread_id, body="x"),
    )
    assert str(error) == "The thread is not assigned to extension [103] at the moment."


def test_r05_the_assignee_sends(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.send(actor="102", thread_id=thread_id, body="On it")
    inbox.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Done")
    assert [m.body for m in inbox.messages(thread_id, actor="103")] == ["Hi", "On it", "Done"]


# === R6: who may assign =========================================================================
def test_r06_assignee_must_be_a_handler(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    thread_id = inbound(inbox)
    for stranger in ("999", "201"):
        error = assert_refused_without_change(
            inbox,
            thread_id,
            AssigneeNotHandler,
            lambda stranger=stranger: inbox.assign(thread_id, actor="101", assignee=stranger),
        )
        assert error.parameter == "assignee"
        assert error.status == 422


def test_r06_anyone_assigns_an_unassigned_thread_to_anyone_eligible(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = inbound(inbox)
    clock.advance(timedelta(minutes=1))
    thread = inbox.assign(thread_id, actor="101", assignee="103")
    assert thread.assignee == U103
    assert thread.last_modified_time == START + timedelta(minutes=1)
    assert inbox.get(thread_id, actor="102") == thread


def test_r06_a_handler_takes_an_unassigned_thread_for_themselves(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    assert inbox.assign(thread_id, actor="102", assignee="102").assignee == ANN


def test_r06_current_assignee_reassigns_to_anyone(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    thread = inbox.assign(thread_id, actor="102", assignee="103")
    assert thread.assignee == U103
    thread = inbox.assign(thread_id, actor="103", assignee="101")
    assert thread.assignee == U101


def test_r06_other_handler_may_take_an_assigned_thread_for_themselves(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    thread = inbox.assign(thread_id, actor="103", assignee="103")
    assert thread.assignee == U103
    last = events_after(inbox, 0)[-1]
    assert last == ThreadAssigned(thread_id, START, U103, ANN, "103")


def test_r06_other_handler_may_not_give_an_assigned_thread_to_a_third(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    assert_refused_without_change(
        inbox,
        thread_id,
        NotPermitted,
        lambda: inbox.assign(thread_id, actor="103", assignee="101"),
    )
    assert inbox.get(thread_id, actor="101").assignee == ANN


def test_r06_a_resolved_thread_cannot_be_assigned(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    inbox.resolve(thread_id, actor="101")
    assert_refused_without_change(
        inbox,
        thread_id,
        ThreadNotOpen,
        lambda: inbox.assign(thread_id, actor="101", assignee="101"),
    )


def test_r06_an_expired_thread_cannot_be_assigned(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    clock.advance(TTL)
    assert_refused_without_change(
        inbox,
        thread_id,
        ThreadNotOpen,
        lambda: inbox.assign(thread_id, actor="101", assignee="101"),
    )


def test_r06_a_deleted_thread_cannot_be_assigned(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    inbox.delete(thread_id, actor="101")
    assert_refused_without_change(
        inbox,
        thread_id,
        ThreadDeletedError,
        lambda: inbox.assign(thread_id, actor="101", assignee="101"),
    )


# === R7: unassigning ============================================================================
def test_r07_the_assignee_unassigns(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(timedelta(minutes=2))
    thread = inbox.assign(thread_id, actor="102", assignee=None)
    assert thread.assignee is None
    assert thread.last_modified_time == clock.now()
    assert inbox.get(thread_id, actor="101").assignee is None
    assert events_after(inbox, 0)[-1] == ThreadAssigned(thread_id, clock.now(), None, ANN, "102")


def test_r07_another_handler_may_not_unassign(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    for actor in ("101", "103"):
        assert_refused_without_change(
            inbox,
            thread_id,
            NotPermitted,
            lambda actor=actor: inbox.assign(thread_id, actor=actor, assignee=None),
        )
    assert inbox.get(thread_id, actor="101").assignee == ANN


def test_r07_unassigning_a_resolved_or_deleted_thread_is_refused(inbox: Inbox) -> None:
    resolved = assigned_to_ann(inbox, GUEST)
    inbox.resolve(resolved, actor="102")
    deleted = assigned_to_ann(inbox, GUEST2)
    inbox.delete(deleted, actor="102")
    with pytest.raises(ThreadNotOpen):
        inbox.assign(resolved, actor="102", assignee=None)
    with pytest.raises(ThreadDeletedError):
        inbox.assign(deleted, actor="102", assignee=None)


def test_r07_an_unassigned_thread_can_be_assigned_again_after_unassigning(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.assign(thread_id, actor="102", assignee=None)
    assert inbox.assign(thread_id, actor="103", assignee="101").assignee == U101


# === R8: assigning the current assignee is a no-op ==============================================
@pytest.mark.parametrize("actor", ["102", "103", "101"])
def test_r08_assigning_the_current_assignee_changes_nothing(
    inbox: Inbox, clock: ManualClock, actor: str
) -> None:
    thread_id = assigned_to_ann(inbox)
    before = inbox.get(thread_id, actor="101")
    events_before = len(inbox.events())
    clock.advance(timedelta(minutes=5))
    thread = inbox.assign(thread_id, actor=actor, assignee="102")
    assert thread == before
    assert thread.version == before.version
    assert thread.last_modified_time == before.last_modified_time == START
    assert len(inbox.events()) == events_before
    assert inbox.get(thread_id, actor="101") == before


def test_r08_unassigning_an_unassigned_thread_changes_nothing(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = inbound(inbox)
    before = inbox.get(thread_id, actor="101")
    clock.advance(timedelta(minutes=5))
    thread = inbox.assign(thread_id, actor="103", assignee=None)
    assert thread.version == before.version
    assert thread.last_modified_time == START
    assert len(inbox.events()) == 2


# === R9: manual resolve =========================================================================
def test_r09_any_handler_resolves_even_if_not_the_assignee(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(timedelta(minutes=10))
    thread = inbox.resolve(thread_id, actor="103")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.MANUAL
    assert thread.assignee is None
    assert thread.availability is Availability.ALIVE
    assert thread.last_modified_time == clock.now()
    assert inbox.get(thread_id, actor="102") == thread
    assert events_after(inbox, 0)[-1] == ThreadResolved(
        thread_id, clock.now(), StatusReason.MANUAL, "103"
    )


def test_r09_resolving_an_unassigned_thread(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    thread = inbox.resolve(thread_id, actor="101")
    assert (thread.status, thread.status_reason) == (ThreadStatus.RESOLVED, StatusReason.MANUAL)


def test_r09_resolving_a_resolved_thread_is_not_open(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.resolve(thread_id, actor="101")
    clock.advance(timedelta(minutes=1))
    assert_refused_without_change(
        inbox, thread_id, ThreadNotOpen, lambda: inbox.resolve(thread_id, actor="102")
    )


def test_r09_resolving_an_expired_thread_is_not_open(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    clock.advance(TTL + timedelta(hours=1))
    assert_refused_without_change(
        inbox, thread_id, ThreadNotOpen, lambda: inbox.resolve(thread_id, actor="102")
    )
    assert inbox.get(thread_id, actor="101").status_reason is StatusReason.THREAD_EXPIRED


def test_r09_resolved_is_final(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.resolve(thread_id, actor="102")
    with pytest.raises(ThreadNotOpen):
        inbox.send(actor="102", thread_id=thread_id, body="x")
    with pytest.raises(ThreadNotOpen):
        inbox.assign(thread_id, actor="102", assignee="102")
    inbound(inbox, body="Thanks!")
    thread = inbox.get(thread_id, actor="101")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.label == "Hi"


# === R10: expiry ================================================================================
def test_r10_expired_exactly_at_the_due_instant(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(TTL)
    thread = inbox.get(thread_id, actor="101")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.assignee is None
    assert thread.last_modified_time == START + TTL


def test_r10_still_open_one_microsecond_before(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(TTL - timedelta(microseconds=1))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status is ThreadStatus.OPEN
    assert thread.status_reason is None
    assert thread.assignee == ANN
    assert inbox.expire() == []
    message = inbox.send(actor="102", thread_id=thread_id, body="Just in time")
    assert message.thread_id == thread_id


def test_r10_last_modified_is_the_due_instant_not_when_noticed(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = inbound(inbox)
    clock.advance(timedelta(hours=5))
    inbound(inbox, body="Hello?")
    clock.advance(timedelta(days=30))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == START + timedelta(hours=5) + TTL


def test_r10_outbound_messages_also_postpone_expiry(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(timedelta(hours=50))
    inbox.send(actor="102", thread_id=thread_id, body="Any news?")
    clock.advance(TTL - timedelta(microseconds=1))
    assert inbox.get(thread_id, actor="101").status is ThreadStatus.OPEN
    clock.advance(timedelta(microseconds=1))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == START + timedelta(hours=50) + TTL


def test_r10_assignments_do_not_postpone_expiry(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    clock.advance(timedelta(hours=71))
    inbox.assign(thread_id, actor="101", assignee="102")
    inbox.assign(thread_id, actor="102", assignee="103")
    clock.advance(timedelta(hours=1))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == START + TTL


def test_r10_the_ttl_comes_from_the_policy(make_inbox: MakeInbox, clock: ManualClock) -> None:
    inbox = make_inbox(policy=Policy(ttl=timedelta(hours=1)))
    thread_id = inbound(inbox)
    clock.advance(timedelta(hours=1))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == START + timedelta(hours=1)


def _fields(thread: Thread) -> dict[str, Any]:
    return attrs.asdict(thread, recurse=False)


def test_r10_expiry_is_the_same_with_and_without_the_sweep(
    make_inbox: MakeInbox, clock: ManualClock
) -> None:
    swept, unswept = make_inbox(), make_inbox()
    both = (swept, unswept)
    ids = [assigned_to_ann(inbox, GUEST) for inbox in both]
    ids2 = [inbound(inbox, GUEST2) for inbox in both]
    clock.advance(timedelta(hours=10))
    for inbox, thread_id in zip(both, ids, strict=True):
        inbox.send(actor="102", thread_id=thread_id, body="Reply")
    ids3 = [
        inbox.send(actor="103", owner_number=OWNER, guest_number=GUEST3, body="Hello").thread_id
        for inbox in both
    ]
    assert ids[0] == ids[1]
    assert ids2[0] == ids2[1]
    assert ids3[0] == ids3[1]
    thread_ids = [ids[0], ids2[0], ids3[0]]
    for step in (timedelta(hours=62), timedelta(hours=10), timedelta(hours=30)):
        clock.advance(step)
        swept.expire()
        for thread_id in thread_ids:
            a = swept.get(thread_id, actor="101")
            b = unswept.get(thread_id, actor="101")
            assert _fields(a) == _fields(b)
            assert swept.messages(thread_id, actor="101") == unswept.messages(
                thread_id, actor="101"
            )
    # By now every thread has expired, in both inboxes alike.
    final = [unswept.get(thread_id, actor="101") for thread_id in thread_ids]
    assert [t.status_reason for t in final] == [StatusReason.THREAD_EXPIRED] * 3
    assert [t.last_modified_time for t in final] == [
        START + timedelta(hours=10) + TTL,
        START + TTL,
        START + timedelta(hours=10) + TTL,
    ]
    assert [t.assignee for t in final] == [None, None, None]


def test_r10_expire_writes_and_returns_due_threads(inbox: Inbox, clock: ManualClock) -> None:
    early = assigned_to_ann(inbox, GUEST)
    clock.advance(timedelta(hours=1))
    late = inbound(inbox, GUEST2)
    clock.advance(TTL)  # early is 1 h overdue, late exactly due
    clock.advance(timedelta(minutes=30))
    cursor = len(inbox.events())
    resolved = inbox.expire()
    assert sorted(t.id for t in resolved) == sorted([early, late])
    for thread in resolved:
        assert thread.status is ThreadStatus.RESOLVED
        assert thread.status_reason is StatusReason.THREAD_EXPIRED
        assert thread.assignee is None
        assert inbox.get(thread.id, actor="101") == thread
    written = sorted(events_after(inbox, cursor), key=lambda e: e.at)
    assert written == [
        ThreadResolved(early, START + TTL, StatusReason.THREAD_EXPIRED, None),
        ThreadResolved(late, START + timedelta(hours=1) + TTL, StatusReason.THREAD_EXPIRED, None),
    ]
    assert inbox.expire() == []
    assert len(inbox.events()) == cursor + 2


def test_r10_expire_leaves_threads_that_are_not_due(inbox: Inbox, clock: ManualClock) -> None:
    due = inbound(inbox, GUEST)
    clock.advance(timedelta(hours=1))
    not_due = inbound(inbox, GUEST2)
    clock.advance(TTL - timedelta(hours=1))
    assert [t.id for t in inbox.expire()] == [due]
    assert inbox.get(not_due, actor="101").status is ThreadStatus.OPEN
    assert inbox.expire() == []


def test_r10_the_next_message_writes_the_expiry(inbox: Inbox, clock: ManualClock) -> None:
    old = inbound(inbox)
    clock.advance(TTL + timedelta(hours=3))
    cursor = len(inbox.events())
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hello again")
    assert message.thread_id != old
    assert events_after(inbox, cursor) == [
        ThreadResolved(old, START + TTL, StatusReason.THREAD_EXPIRED, None),
        ThreadOpened(message.thread_id, clock.now(), QUEUE, OWNER, GUEST, None, None),
        MessageAdded(message.thread_id, clock.now(), message.id, Direction.INBOUND, None),
    ]
    assert inbox.expire() == []


def test_r10b_a_command_refused_because_of_expiry_writes_the_expiry_only(
    inbox: Inbox, clock: ManualClock
) -> None:
    commands: list[Callable[[str], object]] = [
        lambda thread_id: inbox.resolve(thread_id, actor="101"),
        lambda thread_id: inbox.assign(thread_id, actor="102", assignee="103"),
        lambda thread_id: inbox.send(actor="102", thread_id=thread_id, body="x"),
    ]
    for n, command in enumerate(commands):
        thread_id = assigned_to_ann(inbox, f"+1650224009{n}")
        clock.advance(TTL)  # due now; nothing has shown it expired yet
        before = len(inbox.events())
        with pytest.raises(ThreadNotOpen):
            command(thread_id)
        new = [event for _, event in inbox.events()[before:]]
        assert new == [ThreadResolved(thread_id, clock.now(), StatusReason.THREAD_EXPIRED, None)]
        assert inbox.expire() == []  # written already: the sweep finds nothing
        again = functools.partial(command, thread_id)
        assert_refused_without_change(inbox, thread_id, ThreadNotOpen, again)


# === R11: the directory changes and threads follow ==============================================
def test_r11_removing_a_resource_resolves_its_open_threads(
    inbox: Inbox, clock: ManualClock
) -> None:
    open_one = assigned_to_ann(inbox, GUEST)
    resolved = inbound(inbox, GUEST2)
    inbox.resolve(resolved, actor="101")
    clock.advance(timedelta(minutes=5))
    cursor = len(inbox.events())
    removed = inbox.remove_resource(QUEUE)
    assert [t.id for t in removed] == [open_one]
    thread = removed[0]
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.OWNER_DELETED
    assert thread.assignee is None
    assert thread.last_modified_time == clock.now()
    assert events_after(inbox, cursor) == [
        ThreadResolved(open_one, clock.now(), StatusReason.OWNER_DELETED, None)
    ]
    assert inbox.directory.resource(QUEUE) is None


def test_r11_a_removed_resources_threads_are_visible_to_no_one(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.remove_resource(QUEUE)
    for actor in ("101", "102", "103"):
        with pytest.raises(ThreadNotFound):
            inbox.get(thread_id, actor=actor)
        with pytest.raises(ThreadNotFound):
            inbox.messages(thread_id, actor=actor)
    with pytest.raises(UnknownPhoneNumber):
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hello?")


def test_r11_removing_a_resource_expires_threads_already_due(
    inbox: Inbox, clock: ManualClock
) -> None:
    due = inbound(inbox, GUEST)
    clock.advance(timedelta(hours=1))
    fresh = inbound(inbox, GUEST2)
    clock.advance(TTL - timedelta(hours=1))
    cursor = len(inbox.events())
    removed = inbox.remove_resource(QUEUE)
    assert [t.id for t in removed] == [fresh]
    assert sorted(events_after(inbox, cursor), key=lambda e: e.thread_id) == sorted(
        [
            ThreadResolved(due, START + TTL, StatusReason.THREAD_EXPIRED, None),
            ThreadResolved(fresh, clock.now(), StatusReason.OWNER_DELETED, None),
        ],
        key=lambda e: e.thread_id,
    )


def test_r11_removing_a_number_resolves_only_its_threads(
    make_inbox: MakeInbox, clock: ManualClock
) -> None:
    inbox = make_inbox(directory=two_number_directory())
    on_owner = assigned_to_ann(inbox, GUEST)
    on_owner2 = inbound(inbox, GUEST, owner=OWNER2)
    clock.advance(timedelta(minutes=1))
    cursor = len(inbox.events())
    removed = inbox.remove_phone_number(QUEUE, OWNER)
    assert [t.id for t in removed] == [on_owner]
    thread = inbox.get(on_owner, actor="101")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.OWNER_PHONE_NUMBER_DELETED
    assert thread.assignee is None
    assert thread.last_modified_time == clock.now()
    other = inbox.get(on_owner2, actor="101")
    assert other.status is ThreadStatus.OPEN
    assert other.status_reason is None
    assert events_after(inbox, cursor) == [
        ThreadResolved(on_owner, clock.now(), StatusReason.OWNER_PHONE_NUMBER_DELETED, None)
    ]
    with pytest.raises(UnknownPhoneNumber):
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="x")
    assert inbound(inbox, GUEST, owner=OWNER2) == on_owner2


def test_r11_removing_a_handler_unassigns_their_open_threads(
    inbox: Inbox, clock: ManualClock
) -> None:
    anns = assigned_to_ann(inbox, GUEST)
    anns_resolved = assigned_to_ann(inbox, GUEST2)
    inbox.resolve(anns_resolved, actor="102")
    others = inbound(inbox, GUEST3)
    inbox.assign(others, actor="103", assignee="103")
    clock.advance(timedelta(minutes=1))
    cursor = len(inbox.events())
    unassigned = inbox.remove_handler(QUEUE, "102")
    assert [t.id for t in unassigned] == [anns]
    assert inbox.get(anns, actor="101").assignee is None
    assert inbox.get(anns, actor="101").status is ThreadStatus.OPEN
    assert inbox.get(anns, actor="101").last_modified_time == clock.now()
    assert inbox.get(others, actor="101").assignee == U103
    assert events_after(inbox, cursor) == [ThreadAssigned(anns, clock.now(), None, ANN, None)]
    with pytest.raises(ThreadNotFound):
        inbox.get(anns, actor="102")
    with pytest.raises(AssigneeNotHandler):
        inbox.assign(anns, actor="101", assignee="102")


def test_r11_removing_a_handler_expires_their_threads_already_due(
    inbox: Inbox, clock: ManualClock
) -> None:
    due = assigned_to_ann(inbox, GUEST)
    clock.advance(TTL + timedelta(minutes=1))
    cursor = len(inbox.events())
    assert inbox.remove_handler(QUEUE, "102") == []
    assert events_after(inbox, cursor) == [
        ThreadResolved(due, START + TTL, StatusReason.THREAD_EXPIRED, None)
    ]
    thread = inbox.get(due, actor="101")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == START + TTL


def test_r11_removing_a_number_expires_threads_already_due(
    inbox: Inbox, clock: ManualClock
) -> None:
    inbox.add_phone_number(QUEUE, OWNER2)
    due = inbound(inbox, GUEST)
    clock.advance(TTL)
    cursor = len(inbox.events())
    assert inbox.remove_phone_number(QUEUE, OWNER) == []
    assert events_after(inbox, cursor) == [
        ThreadResolved(due, START + TTL, StatusReason.THREAD_EXPIRED, None)
    ]
    assert inbox.get(due, actor="101").status_reason is StatusReason.THREAD_EXPIRED


def test_r11_added_resource_number_and_handler_take_effect(inbox: Inbox) -> None:
    inbox.add_resource(
        Resource(extension_id=SUPPORT, name="Support", phone_numbers=[SUPPORT_NUMBER], handlers=[])
    )
    inbox.add_handler(SUPPORT, Handler("201", name="Bo"))
    inbox.add_handler(SUPPORT, "202")
    thread_id = inbound(inbox, owner=SUPPORT_NUMBER)
    thread = inbox.get(thread_id, actor="201")
    assert thread.owner == OwnerResource(SUPPORT, "Support", "Department")
    assert inbox.assign(thread_id, actor="202", assignee="201").assignee == ThreadUser("201", "Bo")
    with pytest.raises(ThreadNotFound):
        inbox.get(thread_id, actor="101")
    inbox.add_phone_number(SUPPORT, OWNER2)
    other = inbound(inbox, owner=OWNER2)
    assert inbox.get(other, actor="202").owner.extension_id == SUPPORT


def test_r11_re_adding_a_handler_updates_its_name(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="101")
    inbox.add_handler(QUEUE, Handler("101", name="Bob Ray"))
    assert inbox.directory.resource(QUEUE).handler("101") == Handler("101", name="Bob Ray")
    # The record written earlier keeps the name as it was known then (R13).
    assert inbox.get(thread_id, actor="101").assignee == U101
    message = inbox.send(actor="101", thread_id=thread_id, body="Hello")
    assert message.author == ThreadUser("101", "Bob Ray")


def test_r11_adding_a_number_the_resource_has_is_a_no_op(inbox: Inbox) -> None:
    before = inbox.directory.resource(QUEUE)
    inbox.add_phone_number(QUEUE, OWNER)
    assert inbox.directory.resource(QUEUE) == before
    assert inbox.events() == []


def test_r11_a_number_of_another_resource_is_in_use(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    with pytest.raises(PhoneNumberInUse):
        inbox.add_phone_number(SUPPORT, OWNER)
    with pytest.raises(PhoneNumberInUse):
        inbox.add_resource(Resource(extension_id="777", phone_numbers=[OWNER], handlers=["1"]))
    assert inbox.directory.resource("777") is None
    assert inbox.directory.resource_for_number(OWNER).extension_id == QUEUE
    assert inbox.directory.resource(SUPPORT).phone_numbers == (SUPPORT_NUMBER,)


def test_r11_adding_an_existing_resource_is_refused(inbox: Inbox) -> None:
    with pytest.raises(ResourceExists):
        inbox.add_resource(Resource(extension_id=QUEUE, name="Other", phone_numbers=[OWNER2]))
    assert inbox.directory.resource(QUEUE).name == "Billing Queue"
    assert inbox.directory.resource_for_number(OWNER2) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda inbox: inbox.remove_resource("404"),
        lambda inbox: inbox.remove_phone_number("404", OWNER),
        lambda inbox: inbox.remove_handler("404", "101"),
        lambda inbox: inbox.add_phone_number("404", OWNER2),
        lambda inbox: inbox.add_handler("404", "101"),
    ],
)
def test_r11_changing_an_unknown_resource_is_resource_not_found(
    inbox: Inbox, change: Callable[[Inbox], object]
) -> None:
    thread_id = inbound(inbox)
    before = inbox.directory.resource(QUEUE)
    with pytest.raises(ResourceNotFound):
        change(inbox)
    assert inbox.directory.resource(QUEUE) == before
    assert inbox.directory.resource("404") is None
    assert len(inbox.events()) == 2
    assert inbox.get(thread_id, actor="101").status is ThreadStatus.OPEN


class _BreakableRepository:
    """An in-memory repository whose commits can be made to fail."""

    def __init__(self) -> None:
        self.inner = InMemoryRepository()
        self.broken = False

    def events(self, after: int = 0, limit: int = 1000) -> list[Any]:
        return self.inner.events(after, limit)

    def batch(self) -> Any:
        return self.inner.batch()

    @contextmanager
    def unit_of_work(self) -> Iterator[Any]:
        with self.inner.unit_of_work() as uow:
            yield uow
            if self.broken:
                raise OSError("disk full")


@pytest.mark.parametrize(
    "change",
    [
        lambda inbox: inbox.remove_resource(QUEUE),
        lambda inbox: inbox.remove_handler(QUEUE, "102"),
        lambda inbox: inbox.remove_phone_number(QUEUE, OWNER),
    ],
)
def test_r11_the_directory_change_is_undone_when_threads_cannot_be_written(
    clock: ManualClock, change: Callable[[Inbox], object]
) -> None:
    repository = _BreakableRepository()
    inbox = Inbox(
        repository=repository,
        directory=billing_directory(),
        clock=clock,
        policy=Policy(ttl=TTL),
        ids=SequentialIds("t"),
    )
    thread_id = assigned_to_ann(inbox)
    before = inbox.get(thread_id, actor="102")
    events_before = inbox.events()
    repository.broken = True
    with pytest.raises(OSError, match="disk full"):
        change(inbox)
    repository.broken = False
    resource = inbox.directory.resource(QUEUE)
    assert resource is not None
    assert resource.phone_numbers == (OWNER,)
    assert {h.extension_id for h in resource.handlers} == {"101", "102", "103"}
    assert resource.handler("102") == Handler("102", name="Ann Lee")
    assert inbox.get(thread_id, actor="102") == before
    assert inbox.events() == events_before


# === R12: deletion ==============================================================================
def test_r12_deleting_an_open_thread_leaves_a_tombstone(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(timedelta(minutes=3))
    thread = inbox.delete(thread_id, actor="103")
    assert thread.availability is Availability.DELETED
    assert thread.status is ThreadStatus.OPEN
    assert thread.status_reason is None
    assert thread.assignee is None
    assert thread.last_modified_time == clock.now()
    assert thread.creation_time == START
    assert inbox.get(thread_id, actor="101") == thread
    assert inbox.messages(thread_id, actor="101") == []
    assert events_after(inbox, 0)[-1] == ThreadDeletedEvent(thread_id, clock.now(), "103")


def test_r12_deleting_a_resolved_thread_keeps_its_status(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.resolve(thread_id, actor="102")
    thread = inbox.delete(thread_id, actor="101")
    assert thread.availability is Availability.DELETED
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.MANUAL
    assert inbox.messages(thread_id, actor="101") == []


def test_r12_deleting_a_due_thread_expires_it_first(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(TTL + timedelta(hours=2))
    cursor = len(inbox.events())
    thread = inbox.delete(thread_id, actor="101")
    assert thread.availability is Availability.DELETED
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.status_reason is StatusReason.THREAD_EXPIRED
    assert thread.last_modified_time == clock.now()
    assert events_after(inbox, cursor) == [
        ThreadResolved(thread_id, START + TTL, StatusReason.THREAD_EXPIRED, None),
        ThreadDeletedEvent(thread_id, clock.now(), "101"),
    ]
    assert inbox.expire() == []


def test_r12_every_command_on_a_deleted_thread_is_thread_deleted(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    tombstone = inbox.delete(thread_id, actor="102")
    for command in (
        lambda: inbox.send(actor="102", thread_id=thread_id, body="x"),
        lambda: inbox.assign(thread_id, actor="102", assignee="101"),
        lambda: inbox.assign(thread_id, actor="102", assignee=None),
        lambda: inbox.resolve(thread_id, actor="102"),
        lambda: inbox.delete(thread_id, actor="102"),
    ):
        error = assert_refused_without_change(inbox, thread_id, ThreadDeletedError, command)
        assert error.status == 410
    assert inbox.get(thread_id, actor="103") == tombstone


def test_r12_a_deleted_thread_never_expires(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    tombstone = inbox.delete(thread_id, actor="101")
    clock.advance(TTL * 3)
    assert inbox.get(thread_id, actor="101") == tombstone
    assert inbox.get(thread_id, actor="101").status is ThreadStatus.OPEN
    assert inbox.expire() == []
    assert kinds(inbox) == ["ThreadOpened", "MessageAdded", "ThreadDeleted"]


def test_r12_a_new_thread_for_the_pair_after_deletion(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    inbox.delete(thread_id, actor="101")
    sent = inbox.send(actor="103", owner_number=OWNER, guest_number=GUEST, body="Hello")
    assert sent.thread_id != thread_id
    fresh = inbox.get(sent.thread_id, actor="101")
    assert fresh.availability is Availability.ALIVE
    assert fresh.assignee == U103
    assert [m.body for m in inbox.messages(sent.thread_id, actor="101")] == ["Hello"]


def test_r12_messages_become_tombstones(inbox: Inbox) -> None:
    original = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Secret", provider_message_id="SM-1"
    )
    inbox.delete(original.thread_id, actor="101")
    events_before = inbox.events()
    replayed = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Secret", provider_message_id="SM-1"
    )
    assert replayed.id == original.id
    assert replayed.availability is Availability.DELETED
    assert replayed.body == ""
    assert inbox.events() == events_before


# === R13: label and activity fields =============================================================
def test_r13_label_and_activity_follow_the_messages(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox, body="Hi, my bill?")
    thread = inbox.get(thread_id, actor="101")
    assert (thread.label, thread.latest_message_body) == ("Hi, my bill?", "Hi, my bill?")
    assert thread.last_inbound_at == thread.latest_message_at == START
    assert thread.last_outbound_at is None

    clock.advance(timedelta(minutes=1))
    inbox.assign(thread_id, actor="102", assignee="102")
    clock.advance(timedelta(minutes=1))
    inbox.send(actor="102", thread_id=thread_id, body="Looking into it")
    t2 = START + timedelta(minutes=2)
    thread = inbox.get(thread_id, actor="101")
    assert (thread.label, thread.latest_message_body) == ("Looking into it", "Looking into it")
    assert thread.last_inbound_at == START
    assert thread.last_outbound_at == thread.latest_message_at == thread.last_modified_time == t2

    clock.advance(timedelta(minutes=1))
    inbound(inbox, body="Thanks")
    t3 = START + timedelta(minutes=3)
    thread = inbox.get(thread_id, actor="101")
    assert thread.label == "Thanks"
    assert thread.last_inbound_at == thread.latest_message_at == thread.last_modified_time == t3
    assert thread.last_outbound_at == t2
    assert thread.creation_time == START


def test_r13_last_modified_moves_on_every_change(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    steps = [
        lambda: inbox.assign(thread_id, actor="101", assignee="102"),
        lambda: inbox.assign(thread_id, actor="102", assignee="103"),
        lambda: inbox.send(actor="103", thread_id=thread_id, body="x"),
        lambda: inbox.receive(owner_number=OWNER, guest_number=GUEST, body="y"),
        lambda: inbox.resolve(thread_id, actor="101"),
        lambda: inbox.delete(thread_id, actor="101"),
    ]
    for step in steps:
        clock.advance(timedelta(seconds=7))
        before = inbox.get(thread_id, actor="101")
        step()
        after = inbox.get(thread_id, actor="101")
        assert after.last_modified_time == clock.now()
        assert after.version == before.version + 1


def test_r13_last_modified_moves_on_expiry(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = inbound(inbox)
    clock.advance(TTL + timedelta(seconds=1))
    assert inbox.get(thread_id, actor="101").last_modified_time == START + TTL


def test_r13_last_modified_does_not_move_on_reads_or_refusals(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = assigned_to_ann(inbox)
    before = inbox.get(thread_id, actor="101")
    clock.advance(timedelta(hours=1))
    inbox.get(thread_id, actor="103")
    inbox.messages(thread_id, actor="103")
    inbox.expire()
    inbox.assign(thread_id, actor="103", assignee="102")
    with pytest.raises(NotAssignee):
        inbox.send(actor="103", thread_id=thread_id, body="x")
    with pytest.raises(NotPermitted):
        inbox.assign(thread_id, actor="103", assignee="101")
    assert inbox.get(thread_id, actor="101") == before
    assert before.last_modified_time == START


def test_r13_names_are_those_known_when_written(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    inbox.assign(thread_id, actor="101", assignee="102")
    first = inbox.send(actor="102", thread_id=thread_id, body="one")
    inbox.add_handler(QUEUE, Handler("102", name="Ann Lee-Smith"))
    assert inbox.get(thread_id, actor="101").assignee == ANN
    second = inbox.send(actor="102", thread_id=thread_id, body="two")
    assert first.author == ANN
    assert second.author == ThreadUser("102", "Ann Lee-Smith", "User")
    assert [m.author for m in inbox.messages(thread_id, actor="101")] == [
        None,
        ANN,
        ThreadUser("102", "Ann Lee-Smith", "User"),
    ]
    assert inbox.get(thread_id, actor="101").assignee.extension_type == "User"


# === R14: handlers only =========================================================================
def _outsider_calls(inbox: Inbox, thread_id: str, actor: str) -> list[Callable[[], object]]:
    return [
        lambda: inbox.get(thread_id, actor=actor),
        lambda: inbox.messages(thread_id, actor=actor),
        lambda: inbox.send(actor=actor, thread_id=thread_id, body="x"),
        lambda: inbox.assign(thread_id, actor=actor, assignee=actor),
        lambda: inbox.assign(thread_id, actor=actor, assignee="101"),
        lambda: inbox.assign(thread_id, actor=actor, assignee=None),
        lambda: inbox.resolve(thread_id, actor=actor),
        lambda: inbox.delete(thread_id, actor=actor),
    ]


@pytest.mark.parametrize("outsider", ["201", "999"])
@pytest.mark.parametrize("state", ["open", "resolved", "deleted"])
def test_r14_outsiders_get_thread_not_found_for_everything(
    make_inbox: MakeInbox, outsider: str, state: str
) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    thread_id = assigned_to_ann(inbox)
    if state == "resolved":
        inbox.resolve(thread_id, actor="101")
    elif state == "deleted":
        inbox.delete(thread_id, actor="101")
    before = inbox.get(thread_id, actor="101")
    events_before = inbox.events()
    for call in _outsider_calls(inbox, thread_id, outsider):
        with pytest.raises(ThreadNotFound) as caught:
            call()
        assert type(caught.value) is ThreadNotFound
        assert caught.value.status == 404
    assert inbox.get(thread_id, actor="101") == before
    assert inbox.events() == events_before


def test_r14_an_outsider_cannot_tell_a_thread_from_an_unknown_id(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    thread_id = assigned_to_ann(inbox)
    unknown = "no-such-thread"
    for hidden, missing in zip(
        _outsider_calls(inbox, thread_id, "201"),
        _outsider_calls(inbox, unknown, "201"),
        strict=True,
    ):
        with pytest.raises(ThreadcoreError) as a:
            hidden()
        with pytest.raises(ThreadcoreError) as b:
            missing()
        assert type(a.value) is type(b.value) is ThreadNotFound
        assert (a.value.code, a.value.status) == (b.value.code, b.value.status)
        assert str(a.value).replace(thread_id, "ID") == str(b.value).replace(unknown, "ID")


def test_r14_every_handler_of_the_resource_sees_every_thread(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    thread_id = assigned_to_ann(inbox)
    support = inbound(inbox, owner=SUPPORT_NUMBER)
    for actor in ("101", "102", "103"):
        assert inbox.get(thread_id, actor=actor).assignee == ANN
        with pytest.raises(ThreadNotFound):
            inbox.get(support, actor=actor)
    assert inbox.get(support, actor="201").owner.extension_id == SUPPORT


# === R15: idempotent ingestion ==================================================================
def test_r15_a_repeated_receive_returns_the_original(inbox: Inbox, clock: ManualClock) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    events_before = inbox.events()
    thread_before = inbox.get(first.thread_id, actor="101")
    clock.advance(timedelta(minutes=5))
    again = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    assert again == first
    assert again.created_at == START
    assert inbox.events() == events_before
    assert inbox.get(first.thread_id, actor="101") == thread_before
    assert len(inbox.messages(first.thread_id, actor="101")) == 1


def test_r15_a_repeated_send_returns_the_original(inbox: Inbox, clock: ManualClock) -> None:
    first = inbox.send(
        actor="102", owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="P-1"
    )
    by_thread = inbox.send(
        actor="102", thread_id=first.thread_id, body="More", provider_message_id="P-2"
    )
    events_before = inbox.events()
    clock.advance(timedelta(minutes=5))
    assert (
        inbox.send(
            actor="102",
            owner_number=OWNER,
            guest_number=GUEST,
            body="Hi",
            provider_message_id="P-1",
        )
        == first
    )
    assert (
        inbox.send(actor="102", thread_id=first.thread_id, body="More", provider_message_id="P-2")
        == by_thread
    )
    assert inbox.events() == events_before
    assert len(inbox.messages(first.thread_id, actor="101")) == 2
    assert inbox.get(first.thread_id, actor="101").last_modified_time == START


def test_r15_replay_after_the_thread_was_resolved(inbox: Inbox, clock: ManualClock) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    inbox.assign(first.thread_id, actor="101", assignee="102")
    sent = inbox.send(
        actor="102", thread_id=first.thread_id, body="Hello", provider_message_id="SM-2"
    )
    inbox.resolve(first.thread_id, actor="102")
    events_before = inbox.events()
    again = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    sent_again = inbox.send(
        actor="102", thread_id=first.thread_id, body="Hello", provider_message_id="SM-2"
    )
    sent_by_pair = inbox.send(
        actor="102",
        owner_number=OWNER,
        guest_number=GUEST,
        body="Hello",
        provider_message_id="SM-2",
    )
    assert again == first
    assert sent_again == sent_by_pair == sent
    assert inbox.events() == events_before
    assert inbox.get(first.thread_id, actor="101").status is ThreadStatus.RESOLVED


def test_r15_replay_after_expiry_writes_nothing(inbox: Inbox, clock: ManualClock) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    clock.advance(TTL * 2)
    again = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    assert again == first
    assert kinds(inbox) == ["ThreadOpened", "MessageAdded"]
    assert inbox.get(first.thread_id, actor="101").status_reason is StatusReason.THREAD_EXPIRED


@pytest.mark.parametrize(
    "reuse",
    [
        lambda inbox: inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="Other", provider_message_id="SM-1"
        ),
        lambda inbox: inbox.receive(
            owner_number=OWNER, guest_number=GUEST2, body="Hi", provider_message_id="SM-1"
        ),
        lambda inbox: inbox.send(
            actor="102",
            owner_number=OWNER,
            guest_number=GUEST,
            body="Hi",
            provider_message_id="SM-1",
        ),
        lambda inbox: inbox.send(
            actor="102",
            owner_number=OWNER,
            guest_number=GUEST,
            body="Other",
            provider_message_id="SM-2",
        ),
        lambda inbox: inbox.send(
            actor="103",
            owner_number=OWNER,
            guest_number=GUEST,
            body="Sent",
            provider_message_id="SM-2",
        ),
    ],
)
def test_r15_reusing_an_id_for_another_message_is_a_conflict(
    inbox: Inbox, reuse: Callable[[Inbox], object]
) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    inbox.assign(first.thread_id, actor="101", assignee="102")
    inbox.send(actor="102", thread_id=first.thread_id, body="Sent", provider_message_id="SM-2")
    thread_before = inbox.get(first.thread_id, actor="101")
    events_before = inbox.events()
    with pytest.raises(IdempotencyConflict) as caught:
        reuse(inbox)
    assert caught.value.status == 409
    assert caught.value.parameter == "providerMessageId"
    assert inbox.events() == events_before
    assert inbox.get(first.thread_id, actor="101") == thread_before


def test_r15_replay_after_the_resource_was_removed(inbox: Inbox) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    inbox.remove_resource(QUEUE)
    events_before = inbox.events()
    again = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM-1"
    )
    assert again == first
    assert inbox.events() == events_before


def test_r15_without_an_id_every_call_is_a_new_message(inbox: Inbox) -> None:
    a = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    b = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    assert a.id != b.id
    assert len(inbox.messages(a.thread_id, actor="101")) == 2


# === R16: every change emits a typed event ======================================================
def test_r16_a_lifecycle_emits_exactly_its_events(inbox: Inbox, clock: ManualClock) -> None:
    m1 = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    t = m1.thread_id
    clock.advance(timedelta(minutes=1))
    inbox.assign(t, actor="101", assignee="102")
    clock.advance(timedelta(minutes=1))
    m2 = inbox.send(actor="102", thread_id=t, body="On it")
    clock.advance(timedelta(minutes=1))
    inbox.assign(t, actor="103", assignee="103")
    clock.advance(timedelta(minutes=1))
    inbox.resolve(t, actor="101")
    clock.advance(timedelta(minutes=1))
    inbox.delete(t, actor="102")
    at = [START + timedelta(minutes=i) for i in range(6)]
    stored = inbox.events()
    assert [position for position, _ in stored] == [1, 2, 3, 4, 5, 6, 7]
    assert [event for _, event in stored] == [
        ThreadOpened(t, at[0], QUEUE, OWNER, GUEST, None, None),
        MessageAdded(t, at[0], m1.id, Direction.INBOUND, None),
        ThreadAssigned(t, at[1], ANN, None, "101"),
        MessageAdded(t, at[2], m2.id, Direction.OUTBOUND, "102"),
        ThreadAssigned(t, at[3], U103, ANN, "103"),
        ThreadResolved(t, at[4], StatusReason.MANUAL, "101"),
        ThreadDeletedEvent(t, at[5], "102"),
    ]


def test_r16_events_after_a_cursor(inbox: Inbox) -> None:
    thread_id = inbound(inbox)
    cursor = inbox.events()[-1][0]
    inbox.resolve(thread_id, actor="101")
    later = inbox.events(cursor=inbox.feed_cursor(cursor))
    assert [p for p, _ in later] == [cursor + 1]
    assert isinstance(later[0][1], ThreadResolved)
    assert inbox.events(cursor=inbox.feed_cursor(cursor + 1)) == []
    assert [p for p, _ in inbox.events(cursor=inbox.feed_cursor(0), limit=1)] == [1]


def test_r16_expiry_events_have_no_initiator(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(TTL + timedelta(days=1))
    inbox.expire()
    assert events_after(inbox, 0)[-1] == ThreadResolved(
        thread_id, START + TTL, StatusReason.THREAD_EXPIRED, None
    )


def test_r16_subscribers_get_events_after_the_commit(inbox: Inbox) -> None:
    seen: list[tuple[Any, int, Thread]] = []

    def listener(event: Any) -> None:
        # After the commit: the event is already in the outbox and the thread readable.
        seen.append((event, len(inbox.events()), inbox.get(event.thread_id, actor="101")))

    inbox.subscribe(listener)
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    assert [type(e).__name__ for e, _, _ in seen] == ["ThreadOpened", "MessageAdded"]
    assert [n for _, n, _ in seen] == [2, 2]
    assert all(t.label == "Hi" for _, _, t in seen)
    assert [e for e, _, _ in seen] == events_after(inbox, 0)
    inbox.resolve(message.thread_id, actor="103")
    assert isinstance(seen[-1][0], ThreadResolved)
    assert seen[-1][2].status is ThreadStatus.RESOLVED


def test_r16_refused_commands_reach_no_subscriber(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    seen: list[Any] = []
    inbox.subscribe(seen.append)
    with pytest.raises(NotAssignee):
        inbox.send(actor="103", thread_id=thread_id, body="x")
    with pytest.raises(NotPermitted):
        inbox.assign(thread_id, actor="103", assignee="101")
    inbox.assign(thread_id, actor="102", assignee="102")  # a no-op emits nothing either
    assert seen == []


def _refusals(inbox: Inbox, thread_id: str) -> list[tuple[type[ThreadcoreError], Any]]:
    return [
        (NotAssignee, lambda: inbox.send(actor="103", thread_id=thread_id, body="x")),
        (NotPermitted, lambda: inbox.assign(thread_id, actor="103", assignee="101")),
        (NotPermitted, lambda: inbox.assign(thread_id, actor="101", assignee=None)),
        (AssigneeNotHandler, lambda: inbox.assign(thread_id, actor="102", assignee="999")),
        (ThreadNotFound, lambda: inbox.resolve(thread_id, actor="999")),
        (ThreadNotFound, lambda: inbox.delete(thread_id, actor="999")),
        (InvalidInput, lambda: inbox.send(actor="102", thread_id=thread_id, body="  ")),
        (
            InvalidInput,
            lambda: inbox.send(actor="102", owner_number=OWNER, guest_number=OWNER, body="x"),
        ),
        (
            UnknownPhoneNumber,
            lambda: inbox.receive(owner_number="+12092489999", guest_number=GUEST, body="x"),
        ),
        (
            UnknownPhoneNumber,
            lambda: inbox.send(actor="999", owner_number=OWNER, guest_number=GUEST, body="x"),
        ),
    ]


def test_r16_a_refused_command_emits_nothing_and_changes_nothing(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = assigned_to_ann(inbox)
    clock.advance(timedelta(minutes=1))
    for error, command in _refusals(inbox, thread_id):
        assert_refused_without_change(inbox, thread_id, error, command)
    assert kinds(inbox) == ["ThreadOpened", "MessageAdded", "ThreadAssigned"]


# === R17: clear, typed errors, no partial state =================================================
def test_r17_a_number_cannot_message_itself(inbox: Inbox) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.receive(owner_number=OWNER, guest_number=OWNER, body="x")
    assert caught.value.status == 422
    with pytest.raises(InvalidInput):
        inbox.send(actor="101", owner_number=OWNER, guest_number=OWNER, body="x")
    assert inbox.events() == []


def test_r17_body_length_limit(make_inbox: MakeInbox) -> None:
    inbox = make_inbox()
    longest = "x" * 1600
    assert inbox.receive(owner_number=OWNER, guest_number=GUEST, body=longest).body == longest
    cursor = len(inbox.events())
    with pytest.raises(InvalidInput) as caught:
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="x" * 1601)
    assert caught.value.parameter == "body"
    assert len(inbox.events()) == cursor
    short = make_inbox(policy=Policy(ttl=TTL, max_body_length=5))
    assert short.receive(owner_number=OWNER, guest_number=GUEST, body="12345").body == "12345"
    with pytest.raises(InvalidInput):
        short.receive(owner_number=OWNER, guest_number=GUEST, body="123456")


@pytest.mark.parametrize("body", ["", " ", "\n\t ", "a\x00b"])
def test_r17_blank_bodies_and_nul_are_refused(inbox: Inbox, body: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body=body)
    assert caught.value.parameter == "body"
    assert inbox.events() == []


@pytest.mark.parametrize("actor", ["", " 101", "101 ", "1\n01", "x" * 65])
def test_r17_malformed_extension_ids_are_refused(inbox: Inbox, actor: str) -> None:
    thread_id = inbound(inbox)
    with pytest.raises(InvalidInput) as caught:
        inbox.get(thread_id, actor=actor)
    assert caught.value.parameter == "actor"
    with pytest.raises(InvalidInput):
        inbox.assign(thread_id, actor="101", assignee=actor)


def test_r17_a_64_character_extension_id_is_accepted(make_inbox: MakeInbox) -> None:
    long_id = "h" * 64
    directory = billing_directory()
    directory.add_handler(QUEUE, long_id)
    inbox = make_inbox(directory=directory)
    thread_id = inbound(inbox)
    assert inbox.assign(thread_id, actor=long_id, assignee=long_id).assignee == ThreadUser(long_id)


def test_r17_refusals_carry_code_and_status(inbox: Inbox) -> None:
    thread_id = assigned_to_ann(inbox)
    observed = {}
    for error, command in _refusals(inbox, thread_id):
        with pytest.raises(ThreadcoreError) as caught:
            command()
        observed[caught.value.code] = caught.value.status
        assert isinstance(caught.value, error)
    assert observed == {
        "NotAssignee": 403,
        "NotPermitted": 403,
        "AssigneeNotHandler": 422,
        "ThreadNotFound": 404,
        "InvalidInput": 422,
        "UnknownPhoneNumber": 404,
    }


@pytest.mark.parametrize("number", ["+15555550100", "+447700900123", "+16502240001"])
def test_r17_possible_numbers_are_accepted_as_written(inbox: Inbox, number: str) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=number, body="Hi")
    assert message.from_number == number
    assert inbox.get(message.thread_id, actor="101").guest_party == Party(number)


@pytest.mark.parametrize("number", ["+1 209 248 0001", "12092480001", "+1(209)2480001", "+1"])
def test_r17_other_spellings_are_not_reformatted(inbox: Inbox, number: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.send(actor="101", owner_number=OWNER, guest_number=number, body="Hi")
    assert caught.value.parameter == "guestNumber"
    assert inbox.events() == []
