"""The pure transition table and the functions that follow it (no inbox, no storage, no clock)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from conftest import TTL
from hypothesis import given
from hypothesis import strategies as st

from threadcore import (
    DeliveryStatus,
    Direction,
    Handler,
    Message,
    Resource,
    StatusReason,
    Thread,
    ThreadcoreError,
    ThreadStatus,
)
from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.transitions import TRANSITIONS, Command, Lifecycle
from threadcore.errors import (
    AssigneeNotHandler,
    NotAssignee,
    NotPermitted,
    ThreadDeletedError,
    ThreadNotOpen,
    ThreadUnassigned,
)
from threadcore.model import Availability, OwnerResource, Party, ThreadUser

T0 = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"
GUEST = "+16502240001"
RESOURCE = Resource(
    extension_id="6249888001",
    name="Billing Queue",
    phone_numbers=[OWNER],
    handlers=["101", Handler("102", name="Ann Lee"), "103"],
)
HANDLERS = ("101", "102", "103")

OPEN, RESOLVED, DELETED = Lifecycle.OPEN, Lifecycle.RESOLVED, Lifecycle.DELETED
EXPECTED_TABLE: dict[tuple[Lifecycle, Command], Any] = {
    (OPEN, Command.ADD_MESSAGE): OPEN,
    (OPEN, Command.ASSIGN): OPEN,
    (OPEN, Command.RESOLVE): RESOLVED,
    (OPEN, Command.EXPIRE): RESOLVED,
    (OPEN, Command.DELETE): DELETED,
    (OPEN, Command.ANNOTATE): OPEN,
    (OPEN, Command.DRAFT): OPEN,
    (OPEN, Command.DISCARD_DRAFT): OPEN,
    (OPEN, Command.DELETE_MESSAGE): OPEN,
    (RESOLVED, Command.ADD_MESSAGE): ThreadNotOpen,
    (RESOLVED, Command.ASSIGN): ThreadNotOpen,
    (RESOLVED, Command.RESOLVE): ThreadNotOpen,
    (RESOLVED, Command.EXPIRE): ThreadNotOpen,
    (RESOLVED, Command.DELETE): DELETED,
    (RESOLVED, Command.ANNOTATE): ThreadNotOpen,
    (RESOLVED, Command.DRAFT): ThreadNotOpen,
    (RESOLVED, Command.DISCARD_DRAFT): RESOLVED,
    (RESOLVED, Command.DELETE_MESSAGE): RESOLVED,
    (DELETED, Command.ADD_MESSAGE): ThreadDeletedError,
    (DELETED, Command.ASSIGN): ThreadDeletedError,
    (DELETED, Command.RESOLVE): ThreadDeletedError,
    (DELETED, Command.EXPIRE): ThreadDeletedError,
    (DELETED, Command.DELETE): ThreadDeletedError,
    (DELETED, Command.ANNOTATE): ThreadDeletedError,
    (DELETED, Command.DRAFT): ThreadDeletedError,
    (DELETED, Command.DISCARD_DRAFT): ThreadDeletedError,
    (DELETED, Command.DELETE_MESSAGE): ThreadDeletedError,
}


#: Commands on the records around a thread (notes, drafts, messages): the thread stays as it is.
RECORD_COMMANDS = {
    Command.ANNOTATE,
    Command.DRAFT,
    Command.DISCARD_DRAFT,
    Command.DELETE_MESSAGE,
}


def make_thread(
    status: ThreadStatus = ThreadStatus.OPEN,
    availability: Availability = Availability.ALIVE,
    assignee: str | None = None,
    latest: datetime = T0,
    version: int = 2,
) -> Thread:
    resolved = status is ThreadStatus.RESOLVED
    return Thread(
        id="t-1",
        owner_party=Party(OWNER),
        guest_party=Party(GUEST),
        owner=OwnerResource("6249888001", "Billing Queue", "Department"),
        creation_time=T0,
        status=status,
        availability=availability,
        assignee=RESOURCE.user(assignee) if assignee is not None else None,
        status_reason=StatusReason.MANUAL if resolved else None,
        label="Hi",
        last_modified_time=latest,
        last_inbound_at=latest,
        last_outbound_at=None,
        latest_message_at=latest,
        version=version,
    )


def make_message(at: datetime, direction: Direction = Direction.INBOUND) -> Message:
    inbound = direction is Direction.INBOUND
    return Message(
        "m-9",
        "t-1",
        direction,
        "New message",
        GUEST if inbound else OWNER,
        OWNER if inbound else GUEST,
        None if inbound else ThreadUser("101"),
        at,
        at,
    )


# === the table ==================================================================================
def test_the_table_covers_every_state_and_command() -> None:
    assert set(TRANSITIONS) == set(itertools.product(Lifecycle, Command))
    assert len(TRANSITIONS) == len(Lifecycle) * len(Command) == 27
    for outcome in TRANSITIONS.values():
        assert isinstance(outcome, Lifecycle) or (
            isinstance(outcome, type) and issubclass(outcome, ThreadcoreError)
        )


def test_the_table_says_what_the_rules_say() -> None:
    assert dict(TRANSITIONS) == EXPECTED_TABLE


def test_the_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(OPEN, Command.DELETE)] = OPEN  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "availability", "expected"),
    [
        (ThreadStatus.OPEN, Availability.ALIVE, OPEN),
        (ThreadStatus.RESOLVED, Availability.ALIVE, RESOLVED),
        (ThreadStatus.OPEN, Availability.DELETED, DELETED),
        (ThreadStatus.RESOLVED, Availability.DELETED, DELETED),
    ],
)
def test_lifecycle_of_a_stored_thread(
    status: ThreadStatus, availability: Availability, expected: Lifecycle
) -> None:
    assert tx.lifecycle(make_thread(status, availability)) is expected


# === the property: every function follows the table =============================================
threads = st.builds(
    make_thread,
    status=st.sampled_from(ThreadStatus),
    availability=st.sampled_from(Availability),
    assignee=st.sampled_from((None, *HANDLERS)),
    latest=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    version=st.integers(1, 10_000),
)


def _apply(command: Command, thread: Thread, now: datetime, assignee: str | None) -> Any:
    if command is Command.ADD_MESSAGE:
        return tx.add_message(thread, make_message(now))
    if command is Command.ASSIGN:
        return tx.assign(thread, RESOURCE, None, assignee, now)
    if command is Command.RESOLVE:
        return tx.resolve(thread, StatusReason.MANUAL, "101", now)
    if command is Command.EXPIRE:
        return tx.expire(thread, TTL)
    if command is Command.DELETE:
        return tx.delete(thread, "101", now)
    # the records around a thread: the thread itself does not change
    user = ThreadUser("101")
    if command is Command.ANNOTATE:
        _, event = messaging.new_note("n-1", thread, user, "A note", now)
    elif command is Command.DRAFT:
        _, event = messaging.new_draft("d-1", thread, user, "Draft", (), False, None, now)
    elif command is Command.DISCARD_DRAFT:
        draft = attrs.evolve(make_message(now, Direction.OUTBOUND), status=DeliveryStatus.DRAFT)
        _, event = messaging.discard_draft(draft, thread, "101", now)
    else:
        _, event = messaging.delete_message(make_message(now), thread, "101", now)
    return thread, event


@given(
    thread=threads,
    command=st.sampled_from(Command),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    assignee=st.sampled_from((None, *HANDLERS)),
)
def test_every_transition_follows_the_table(
    thread: Thread, command: Command, later: timedelta, assignee: str | None
) -> None:
    now = thread.latest_message_at + later
    outcome = TRANSITIONS[tx.lifecycle(thread), command]
    if isinstance(outcome, Lifecycle):
        new, event = _apply(command, thread, now, assignee)
        assert tx.lifecycle(new) is outcome
        assert new.id == thread.id
        assert new.creation_time == thread.creation_time
        if event is None:  # only the no-op assignment makes no event
            assert command is Command.ASSIGN
            assert new == thread
        else:
            assert event.thread_id == thread.id
            record_command = command in RECORD_COMMANDS
            assert new.version == thread.version + (0 if record_command else 1)
    else:
        with pytest.raises(ThreadcoreError) as caught:
            _apply(command, thread, now, assignee)
        assert type(caught.value) is outcome


@given(thread=threads, actor=st.sampled_from(HANDLERS), claim=st.booleans())
def test_sending_follows_the_table(thread: Thread, actor: str, claim: bool) -> None:
    now = thread.latest_message_at + timedelta(minutes=1)
    outcome = TRANSITIONS[tx.lifecycle(thread), Command.ADD_MESSAGE]
    if not isinstance(outcome, Lifecycle):
        with pytest.raises(ThreadcoreError) as caught:
            tx.sender_may_send(thread, RESOURCE, actor, claim, now)
        assert type(caught.value) is outcome
        return
    current = thread.assignee.extension_id if thread.assignee else None
    if current is None and not claim:
        with pytest.raises(ThreadUnassigned):
            tx.sender_may_send(thread, RESOURCE, actor, claim, now)
    elif current is not None and current != actor:
        with pytest.raises(NotAssignee):
            tx.sender_may_send(thread, RESOURCE, actor, claim, now)
    else:
        new, claimed = tx.sender_may_send(thread, RESOURCE, actor, claim, now)
        assert new.assignee is not None
        assert new.assignee.extension_id == actor
        assert (claimed is None) == (current == actor)
        assert new.version == thread.version + (0 if claimed is None else 1)


# === what each transition does ==================================================================
@pytest.mark.parametrize("assignee", [None, "101", "102"])
def test_resolve_expire_and_delete_clear_the_assignee(assignee: str | None) -> None:
    thread = make_thread(assignee=assignee)
    now = T0 + timedelta(hours=1)
    resolved, _ = tx.resolve(thread, StatusReason.MANUAL, "103", now)
    expired, _ = tx.expire(thread, TTL)
    deleted, _ = tx.delete(thread, "103", now)
    assert resolved.assignee is expired.assignee is deleted.assignee is None
    assert (resolved.status, resolved.status_reason) == (ThreadStatus.RESOLVED, "Manual")
    assert (expired.status, expired.status_reason) == (ThreadStatus.RESOLVED, "ThreadExpired")
    assert (deleted.status, deleted.availability) == (ThreadStatus.OPEN, Availability.DELETED)
    assert deleted.status_reason is None


def test_expire_dates_the_change_at_the_due_instant() -> None:
    latest = T0 + timedelta(hours=5, microseconds=123)
    thread = make_thread(assignee="102", latest=latest, version=7)
    expired, event = tx.expire(thread, TTL)
    assert expired.last_modified_time == latest + TTL
    assert expired.latest_message_at == latest
    assert expired.version == 8
    assert (event.at, event.reason, event.initiator) == (
        latest + TTL,
        StatusReason.THREAD_EXPIRED,
        None,
    )


def test_effective_applies_expiry_from_the_due_instant_on() -> None:
    thread = make_thread(assignee="102")
    just_before = tx.effective(thread, T0 + TTL - timedelta(microseconds=1), TTL)
    assert just_before is thread
    due = tx.effective(thread, T0 + TTL, TTL)
    assert due.status_reason is StatusReason.THREAD_EXPIRED
    assert due.last_modified_time == T0 + TTL
    assert tx.effective(thread, T0 + TTL * 5, TTL) == due
    assert tx.catch_up(thread, T0 + TTL, TTL)[1] is not None
    assert tx.catch_up(thread, T0, TTL) == (thread, None)


@pytest.mark.parametrize(
    ("status", "availability"),
    [(ThreadStatus.RESOLVED, Availability.ALIVE), (ThreadStatus.OPEN, Availability.DELETED)],
)
def test_effective_leaves_closed_threads_alone(
    status: ThreadStatus, availability: Availability
) -> None:
    thread = make_thread(status, availability)
    assert tx.effective(thread, T0 + TTL * 10, TTL) is thread


@pytest.mark.parametrize("direction", list(Direction))
def test_add_message_moves_the_activity_fields(direction: Direction) -> None:
    thread = make_thread(assignee="101", version=3)
    at = T0 + timedelta(minutes=9)
    new, event = tx.add_message(thread, make_message(at, direction))
    assert new.label == new.latest_message_body == "New message"
    assert new.latest_message_at == new.last_modified_time == at
    if direction is Direction.INBOUND:
        assert (new.last_inbound_at, new.last_outbound_at) == (at, None)
        assert event.initiator is None
    else:
        assert (new.last_inbound_at, new.last_outbound_at) == (T0, at)
        assert event.initiator == "101"
    assert new.version == 4
    assert new.assignee == thread.assignee
    assert (event.message_id, event.direction, event.at) == ("m-9", direction, at)


def test_version_increases_by_one_per_change() -> None:
    thread = make_thread(version=1)
    steps = [
        lambda t, now: tx.add_message(t, make_message(now)),
        lambda t, now: tx.assign(t, RESOURCE, "101", "102", now),
        lambda t, now: tx.assign(t, RESOURCE, "102", "103", now),
        lambda t, now: tx.add_message(t, make_message(now, Direction.OUTBOUND)),
        lambda t, now: tx.resolve(t, StatusReason.MANUAL, "101", now),
        lambda t, now: tx.delete(t, "101", now),
    ]
    for number, step in enumerate(steps, 1):
        now = T0 + timedelta(minutes=number)
        thread, event = step(thread, now)
        assert thread.version == 1 + number
        assert thread.last_modified_time == now
        assert event.at == now


def test_open_thread_starts_at_version_one() -> None:
    thread, event = tx.open_thread("t-5", RESOURCE, OWNER, GUEST, RESOURCE.user("102"), "102", T0)
    assert thread.version == 1
    assert tx.lifecycle(thread) is OPEN
    assert thread.assignee == ThreadUser("102", "Ann Lee")
    assert thread.owner == RESOURCE.owner
    assert (thread.creation_time, thread.last_modified_time, thread.latest_message_at) == (
        T0,
        T0,
        T0,
    )
    assert (event.thread_id, event.initiator, event.assignee) == ("t-5", "102", thread.assignee)


# === the assignment rules, purely ===============================================================
def test_assign_checks_the_assignee_before_the_no_op() -> None:
    thread = make_thread(assignee="102")
    with pytest.raises(AssigneeNotHandler):
        tx.assign(thread, RESOURCE, "102", "999", T0)
    same, event = tx.assign(thread, RESOURCE, "103", "102", T0 + timedelta(hours=1))
    assert event is None
    assert same is thread


@pytest.mark.parametrize(
    ("current", "actor", "assignee", "allowed"),
    [
        (None, "101", "103", True),
        (None, "101", "101", True),
        ("102", "102", "103", True),
        ("102", "102", None, True),
        ("102", "103", "103", True),
        ("102", "103", "101", False),
        ("102", "103", None, False),
        ("102", None, None, True),  # the system (a handler removed from the directory)
        ("102", None, "101", True),
    ],
)
def test_who_may_assign(
    current: str | None, actor: str | None, assignee: str | None, allowed: bool
) -> None:
    thread = make_thread(assignee=current)
    now = T0 + timedelta(minutes=1)
    if allowed:
        new, event = tx.assign(thread, RESOURCE, actor, assignee, now)
        assert new.assignee == (RESOURCE.user(assignee) if assignee else None)
        assert event is not None
        assert (event.previous_assignee, event.initiator) == (thread.assignee, actor)
        assert new.last_modified_time == now
    else:
        with pytest.raises(NotPermitted):
            tx.assign(thread, RESOURCE, actor, assignee, now)


def test_transitions_do_not_mutate_their_input() -> None:
    thread = make_thread(assignee="102")
    snapshot = attrs.asdict(thread)
    tx.add_message(thread, make_message(T0 + timedelta(minutes=1)))
    tx.assign(thread, RESOURCE, "102", "103", T0)
    tx.resolve(thread, StatusReason.MANUAL, "101", T0)
    tx.expire(thread, TTL)
    tx.delete(thread, "101", T0)
    assert attrs.asdict(thread) == snapshot
