"""Issue 5, the entries timeline and its sync: E1 (entries and hints), E2 (full sync and its
scopes), E3 (incremental sync and its tokens) and E4 (convergence, a hypothesis property), proved
through the public ``Inbox`` API and named after their rules."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import observe
import pytest
from conftest import (
    BOTH,
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadcore import (
    Direction,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    StatusReason,
    SyncType,
    ThreadcoreError,
    ThreadFilter,
)
from threadcore.domain.model import DeliveryStatus, Entry, EntryScope, EntryType, Message, Note
from threadcore.domain.queries import MessageFilter, NoteFilter
from threadcore.errors import InvalidInput, InvalidSyncToken, ThreadNotFound
from threadcore.events import ThreadAssigned
from threadcore.ids import SequentialIds
from threadcore.model import Availability, ThreadUser

ALIVE, DELETED = Availability.ALIVE, Availability.DELETED
GUEST3 = "+16505130001"
U101 = ThreadUser("101", None, "User")
ANN = ThreadUser("102", "Ann Lee", "User")
U103 = ThreadUser("103", None, "User")
FULL, INCREMENTAL = SyncType.FULL, SyncType.INCREMENTAL
ACCESSIBLE = EntryScope.ACCESSIBLE
CREATED = EntryType.THREAD_CREATED_HINT
ASSIGNED = EntryType.THREAD_ASSIGNED_HINT
RESOLVED = EntryType.THREAD_RESOLVED_HINT
DELETED_HINT = EntryType.THREAD_DELETED_HINT


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    """Billing (OWNER, OWNER2; 101, 102, 103) and Support (SUPPORT_NUMBER; 103 and 201)."""
    return make_inbox(directory=two_queue_directory())


refused = observe.refused  # as handler 103, no pairs: its defaults


def receive(inbox: Inbox, body: str = "Hi", guest: str = GUEST, owner: str = OWNER) -> Message:
    return inbox.receive(owner_number=owner, guest_number=guest, body=body)


def full(inbox: Inbox, actor: str = "101", **kwargs: Any) -> Any:
    return inbox.sync_entries(actor=actor, sync_type=FULL, **kwargs)


def since(inbox: Inbox, token: str, actor: str = "101") -> Any:
    return inbox.sync_entries(actor=actor, sync_type=INCREMENTAL, sync_token=token)


def by_id(records: Any) -> dict[str, Entry]:
    return {e.id: e for e in records}


def thread_ids_of(records: Any) -> set[str]:
    return {e.thread_id for e in records}


def last_position(inbox: Inbox) -> int:
    return inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)[-1][0]


def message_entry(message: Message) -> Entry:
    """What E1 says an alive message entry carries."""
    return Entry(
        EntryType.ALIVE_MESSAGE,
        message.id,
        message.thread_id,
        ALIVE,
        message.created_at,
        message.last_modified_at,
        direction=message.direction,
        message_status=message.status,
        text=message.body,
        attachments=message.attachments,
        author=message.author,
    )


def note_entry(note: Note) -> Entry:
    """What E1 says an alive note entry carries."""
    return Entry(
        EntryType.ALIVE_NOTE,
        note.id,
        note.thread_id,
        ALIVE,
        note.creation_time,
        note.last_modified_time,
        text=note.text,
        author=note.author,
    )


def assert_sorted(records: Any) -> None:
    keys = [(e.last_modified_time, e.id) for e in records]
    assert keys == sorted(keys, reverse=True)


# === E1: entries ================================================================================
def test_e1_message_and_note_entries_carry_their_fields(inbox: Inbox, clock: ManualClock) -> None:
    first = receive(inbox, "Hi there")
    thread_id = first.thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    clock.advance(timedelta(minutes=1))
    reply = inbox.send(
        actor="101",
        thread_id=thread_id,
        body="See attached",
        attachments=["https://cdn.example.com/a.pdf"],
    )
    inbox.record_delivery(reply.id, DeliveryStatus.DELIVERED)
    clock.advance(timedelta(minutes=1))
    note = inbox.add_note(thread_id, actor="102", text="VIP customer")
    result = full(inbox)  # AssignedToMe by default
    assert result.sync_type is FULL
    assert result.sync_time == clock.now()
    reply_now = inbox.message(reply.id, actor="101")
    assert list(result.records) == [
        note_entry(note),
        message_entry(reply_now),
        message_entry(first),
    ]
    delivered = by_id(result.records)[reply.id]
    assert delivered.message_status is DeliveryStatus.DELIVERED
    assert delivered.author == U101
    assert delivered.direction is Direction.OUTBOUND
    assert by_id(result.records)[note.id].author == ANN
    assert by_id(result.records)[first.id].author is None


def test_e1_records_are_sorted_newest_change_first(inbox: Inbox, clock: ManualClock) -> None:
    made = [receive(inbox, f"m{i}", g) for i in range(3) for g in (GUEST, GUEST2, GUEST3)]
    clock.advance(timedelta(minutes=1))
    notes = [inbox.add_note(m.thread_id, actor="101", text="n") for m in made[:4]]
    clock.advance(timedelta(minutes=1))
    inbox.classify(made[0].id, classification="greeting")  # the oldest message changes last
    result = full(inbox, scope=ACCESSIBLE)
    assert len(result.records) == len(made) + len(notes)
    assert result.records[0].id == made[0].id
    assert_sorted(result.records)


def test_e1_hints_carry_their_fields(inbox: Inbox, clock: ManualClock) -> None:
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbound = receive(inbox)  # created by the system: no initiator, no assignee
    a = inbound.thread_id
    opened_at = clock.now()
    clock.advance(timedelta(minutes=1))
    inbox.assign(a, actor="101", assignee="102")
    assigned_at, assigned_position = clock.now(), last_position(inbox)
    clock.advance(timedelta(minutes=1))
    inbox.resolve(a, actor="103")
    resolved_at = clock.now()
    sent = inbox.send(actor="102", owner_number=OWNER2, guest_number=GUEST, body="Hello")
    b = sent.thread_id
    clock.advance(timedelta(minutes=1))
    inbox.delete(b, actor="101")
    deleted_at = clock.now()
    records = by_id(since(inbox, start.sync_token).records)
    assert records[f"{a}-created"] == Entry(
        CREATED, f"{a}-created", a, ALIVE, opened_at, opened_at, initiator=None, assignee=None
    )
    assert records[f"{a}-assigned-{assigned_position}"] == Entry(
        ASSIGNED,
        f"{a}-assigned-{assigned_position}",
        a,
        ALIVE,
        assigned_at,
        assigned_at,
        initiator=U101,
        assignee=ANN,
        previous_assignee=None,
    )
    assert records[f"{a}-resolved"] == Entry(
        RESOLVED,
        f"{a}-resolved",
        a,
        ALIVE,
        resolved_at,
        resolved_at,
        initiator=U103,
        status_reason=StatusReason.MANUAL,
    )
    created_b = records[f"{b}-created"]
    assert (created_b.initiator, created_b.assignee) == (ANN, ANN)
    assert records[f"{b}-deleted"] == Entry(
        DELETED_HINT, f"{b}-deleted", b, ALIVE, deleted_at, deleted_at, initiator=U101
    )
    for hint in records.values():
        if hint.record_type in (CREATED, ASSIGNED, RESOLVED, DELETED_HINT):
            assert hint.last_modified_time == hint.creation_time


def test_e1_a_reassignment_and_a_system_unassignment(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = receive(inbox).thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbox.assign(thread_id, actor="101", assignee="102")
    first = last_position(inbox)
    clock.advance(timedelta(minutes=1))
    inbox.remove_handler(QUEUE, "102")  # the system unassigns: no initiator
    second = last_position(inbox)
    assert isinstance(inbox.events(cursor=inbox.feed_cursor(second - 1))[0][1], ThreadAssigned)
    hints = [e for e in since(inbox, start.sync_token).records if e.record_type is ASSIGNED]
    assert [(h.id, h.initiator, h.assignee, h.previous_assignee) for h in hints] == [
        (f"{thread_id}-assigned-{second}", None, None, ANN),
        (f"{thread_id}-assigned-{first}", U101, ANN, U101),
    ]


# === E2: full entries sync ======================================================================
@pytest.fixture
def scoped(inbox: Inbox, clock: ManualClock) -> dict[str, str]:
    """Threads 101 may see in every state, with two messages and a note each; one Support
    thread 101 may not see."""
    made: dict[str, str] = {}

    def thread(name: str, guest: str, owner: str = OWNER) -> str:
        thread_id = receive(inbox, f"{name} 1", guest, owner).thread_id
        receive(inbox, f"{name} 2", guest, owner)
        inbox.add_note(thread_id, actor="103", text=f"{name} note")
        made[name] = thread_id
        return thread_id

    inbox.assign(thread("due", GUEST3, OWNER2), actor="101", assignee="101")
    clock.advance(TTL - timedelta(hours=1))
    thread("unassigned", GUEST)
    inbox.assign(thread("mine", GUEST2), actor="101", assignee="101")
    inbox.assign(thread("ann", GUEST3), actor="101", assignee="102")
    inbox.assign(thread("resolved", GUEST, OWNER2), actor="101", assignee="101")
    inbox.resolve(made["resolved"], actor="101")
    inbox.assign(thread("deleted", GUEST2, OWNER2), actor="101", assignee="101")
    inbox.delete(made["deleted"], actor="101")
    thread("support", GUEST, SUPPORT_NUMBER)
    # a deleted message and a deleted note on "mine": full syncs return only alive ones
    doomed = receive(inbox, "doomed", GUEST2)
    inbox.delete_messages([doomed.id], actor="101")
    doomed_note = inbox.add_note(made["mine"], actor="101", text="doomed")
    inbox.delete_notes([doomed_note.id], actor="101")
    clock.advance(timedelta(hours=1))  # "due" is due now; no sweep has run
    return made


def expected_entries(inbox: Inbox, *thread_ids: str) -> dict[str, Entry]:
    """Every alive message and note of these threads, as E1 says they look."""
    entries = {}
    for thread_id in thread_ids:
        for m in inbox.list_messages(actor="103", filter=MessageFilter(thread_ids=[thread_id])):
            entries[m.id] = message_entry(m)
        for n in inbox.list_notes(actor="103", filter=NoteFilter(thread_ids=[thread_id])):
            entries[n.id] = note_entry(n)
    return entries


@pytest.mark.parametrize(
    ("scope", "names"),
    [
        (None, ["mine"]),
        (EntryScope.ASSIGNED_TO_ME, ["mine"]),
        (EntryScope.UNASSIGNED, ["unassigned"]),
        (EntryScope.ASSIGNED_TO_ME_AND_UNASSIGNED, ["mine", "unassigned"]),
        (EntryScope.ACCESSIBLE, ["mine", "unassigned", "ann"]),
    ],
)
def test_e2_each_scope(
    inbox: Inbox, scoped: dict[str, str], scope: EntryScope | None, names: list[str]
) -> None:
    kwargs = {} if scope is None else {"scope": scope}
    result = full(inbox, **kwargs)
    assert by_id(result.records) == expected_entries(inbox, *(scoped[n] for n in names))
    assert_sorted(result.records)
    assert all(e.availability is ALIVE for e in result.records)
    assert {e.record_type for e in result.records} <= {
        EntryType.ALIVE_MESSAGE,
        EntryType.ALIVE_NOTE,
    }


def test_e2_accessible_for_another_handler(inbox: Inbox, scoped: dict[str, str]) -> None:
    assert thread_ids_of(full(inbox, "201", scope=ACCESSIBLE).records) == {scoped["support"]}
    assert thread_ids_of(full(inbox, "102").records) == {scoped["ann"]}
    assert thread_ids_of(full(inbox, "103", scope=ACCESSIBLE).records) == {
        scoped[n] for n in ("mine", "unassigned", "ann", "support")
    }
    assert full(inbox, "999", scope=ACCESSIBLE).records == ()


def test_e2_explicit_names_threads_open_or_not(inbox: Inbox, scoped: dict[str, str]) -> None:
    names = ["resolved", "due", "mine"]
    result = full(inbox, scope=EntryScope.EXPLICIT, thread_ids=[scoped[n] for n in names])
    assert by_id(result.records) == expected_entries(inbox, *(scoped[n] for n in names))
    assert_sorted(result.records)


def test_e2_explicit_threads_must_be_visible(inbox: Inbox, scoped: dict[str, str]) -> None:
    for wanted in ([scoped["mine"], scoped["support"]], ["nope"]):
        refused(
            inbox,
            ThreadNotFound,
            "ThreadNotFound",
            404,
            lambda w=wanted: full(inbox, scope=EntryScope.EXPLICIT, thread_ids=w),  # type: ignore[misc]
        )


def test_e2_thread_ids_only_with_explicit(inbox: Inbox, scoped: dict[str, str]) -> None:
    for scope in (None, *[s for s in EntryScope if s is not EntryScope.EXPLICIT]):
        kwargs = {} if scope is None else {"scope": scope}
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda k=kwargs: full(inbox, thread_ids=[scoped["mine"]], **k),  # type: ignore[misc]
        )
    for thread_ids in (None, []):
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda t=thread_ids: full(inbox, scope=EntryScope.EXPLICIT, thread_ids=t),  # type: ignore[misc]
        )
    token = full(inbox).sync_token
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.sync_entries(
            actor="101", sync_type=INCREMENTAL, sync_token=token, thread_ids=[scoped["mine"]]
        ),
    )


# === E3: incremental entries sync ===============================================================
def test_e3_reports_what_was_added_or_changed(inbox: Inbox, clock: ManualClock) -> None:
    old = receive(inbox, "old")
    thread_id = old.thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    untouched = receive(inbox, "untouched")
    note = inbox.add_note(thread_id, actor="101", text="note")
    start = full(inbox)
    clock.advance(timedelta(minutes=1))
    new = receive(inbox, "new")
    inbox.classify(old.id, classification="greeting")
    inbox.edit_note(note.id, actor="101", text="edited")
    added = inbox.add_note(thread_id, actor="102", text="added")
    result = since(inbox, start.sync_token)
    assert result.sync_type is INCREMENTAL
    assert result.sync_time == clock.now()
    records = by_id(result.records)
    assert set(records) == {new.id, old.id, note.id, added.id}
    assert untouched.id not in records
    assert records[old.id] == message_entry(inbox.message(old.id, actor="101"))
    assert records[note.id].text == "edited"
    assert records[note.id].last_modified_time == clock.now()
    assert_sorted(result.records)
    assert since(inbox, result.sync_token).records == ()


def test_e3_reports_deleted_entries_with_identifying_fields_only(
    inbox: Inbox, clock: ManualClock
) -> None:
    message = inbox.receive(
        owner_number=OWNER,
        guest_number=GUEST,
        body="pic",
        attachments=["https://mms.example.com/p.jpg"],
    )
    receive(inbox, "kept")
    note = inbox.add_note(message.thread_id, actor="101", text="note")
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbox.delete_messages([message.id], actor="101")
    inbox.delete_notes([note.id], actor="101")
    records = by_id(since(inbox, start.sync_token).records)
    assert records == {
        message.id: Entry(
            EntryType.DELETED_MESSAGE,
            message.id,
            message.thread_id,
            DELETED,
            message.created_at,
            clock.now(),
        ),
        note.id: Entry(
            EntryType.DELETED_NOTE,
            note.id,
            note.thread_id,
            DELETED,
            note.creation_time,
            clock.now(),
        ),
    }


def test_e3_whatever_the_full_sync_scope(inbox: Inbox, clock: ManualClock) -> None:
    start = full(inbox)  # AssignedToMe: nothing yet
    assert start.records == ()
    clock.advance(timedelta(minutes=1))
    unassigned = receive(inbox, "to everyone")
    other = receive(inbox, "support", owner=SUPPORT_NUMBER)
    records = by_id(since(inbox, start.sync_token).records)
    assert unassigned.id in records
    assert f"{unassigned.thread_id}-created" in records
    assert other.thread_id not in thread_ids_of(records.values())  # not 101's to see


def test_e3_an_unwritten_expiry_is_reported_once(inbox: Inbox, clock: ManualClock) -> None:
    message = receive(inbox)
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(TTL + timedelta(hours=1))  # due an hour ago; no sweep
    due = message.created_at + TTL
    first = since(inbox, start.sync_token)
    assert list(first.records) == [
        Entry(
            RESOLVED,
            f"{message.thread_id}-resolved",
            message.thread_id,
            ALIVE,
            due,
            due,
            initiator=None,
            status_reason=StatusReason.THREAD_EXPIRED,
        )
    ]
    clock.advance(timedelta(minutes=1))
    assert inbox.expire() == []  # the sync wrote the expiry it reported (rule R10b)
    assert since(inbox, first.sync_token).records == ()  # and that write is not news


def test_e3_an_expiry_swept_after_the_token_is_reported_once(
    inbox: Inbox, clock: ManualClock
) -> None:
    message = receive(inbox)
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(TTL + timedelta(hours=1))
    inbox.expire()
    result = since(inbox, start.sync_token)
    hints = [e for e in result.records if e.record_type is RESOLVED]
    assert [(h.id, h.creation_time, h.status_reason, h.initiator) for h in hints] == [
        (
            f"{message.thread_id}-resolved",
            message.created_at + TTL,
            StatusReason.THREAD_EXPIRED,
            None,
        )
    ]
    assert since(inbox, result.sync_token).records == ()


def test_e3_a_deleted_thread_is_one_hint(inbox: Inbox, clock: ManualClock) -> None:
    messages = [receive(inbox, f"m{i}") for i in range(3)]
    thread_id = messages[0].thread_id
    inbox.add_note(thread_id, actor="101", text="note")
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbox.delete(thread_id, actor="102")
    records = since(inbox, start.sync_token).records
    assert [(e.record_type, e.id) for e in records] == [(DELETED_HINT, f"{thread_id}-deleted")]


def test_e3_a_thread_closed_since_is_reported_with_its_closing_hint(
    inbox: Inbox, clock: ManualClock
) -> None:
    message = receive(inbox)
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbox.resolve(message.thread_id, actor="101")
    result = since(inbox, start.sync_token)
    assert f"{message.thread_id}-resolved" in by_id(result.records)
    # a client dropping the thread holds nothing, as a new full sync says
    assert full(inbox, scope=ACCESSIBLE).records == ()


def test_e3_late_changes_to_a_thread_closed_before_the_token_are_not_reported(
    inbox: Inbox, clock: ManualClock
) -> None:
    sent = inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Hello")
    received = receive(inbox, "Thanks")
    inbox.resolve(sent.thread_id, actor="101")
    expired = receive(inbox, "bye", GUEST2)
    clock.advance(TTL)  # GUEST2's thread is due; GUEST's was resolved before
    start = full(inbox, scope=ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    inbox.record_delivery(sent.id, DeliveryStatus.DELIVERED)
    inbox.classify(received.id, classification="thanks")
    inbox.delete_messages([received.id], actor="101")
    inbox.classify(expired.id, classification="farewell")
    inbox.expire()
    assert since(inbox, start.sync_token).records == ()


def test_e3_tokens_are_checked(make_inbox: MakeInbox, clock: ManualClock) -> None:
    inbox = make_inbox(directory=two_queue_directory(), policy=Policy(ttl=TTL))
    receive(inbox)
    token = full(inbox, scope=ACCESSIBLE).sync_token
    thread_token = inbox.sync(actor="101").sync_token
    for bad in (
        None,
        "",
        "garbage",
        token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        thread_token,
    ):
        refused(
            inbox,
            InvalidSyncToken,
            "InvalidSyncToken",
            400,
            lambda b=bad: inbox.sync_entries(  # type: ignore[misc]
                actor="101", sync_type=INCREMENTAL, sync_token=b
            ),
        )
    refused(  # bound to the actor: 102 cannot use 101's
        inbox, InvalidSyncToken, "InvalidSyncToken", 400, lambda: since(inbox, token, "102")
    )
    other_inbox = make_inbox(directory=two_queue_directory())  # another secret
    with pytest.raises(InvalidSyncToken):
        since(other_inbox, token)
    assert since(inbox, token).records == ()  # the good token still works


def test_e3_a_token_dies_when_the_actor_resources_change(inbox: Inbox) -> None:
    receive(inbox)
    token = full(inbox, scope=ACCESSIBLE).sync_token
    inbox.add_handler(SUPPORT, "101")
    refused(inbox, InvalidSyncToken, "InvalidSyncToken", 400, lambda: since(inbox, token))
    token = full(inbox, scope=ACCESSIBLE).sync_token
    inbox.remove_handler(SUPPORT, "101")
    refused(inbox, InvalidSyncToken, "InvalidSyncToken", 400, lambda: since(inbox, token))


def test_e3_a_token_dies_of_old_age(make_inbox: MakeInbox, clock: ManualClock) -> None:
    inbox = make_inbox(
        directory=two_queue_directory(),
        policy=Policy(ttl=TTL, sync_token_max_age=timedelta(hours=1)),
    )
    receive(inbox)
    token = full(inbox, scope=ACCESSIBLE).sync_token
    clock.advance(timedelta(hours=1))
    assert since(inbox, token).records == ()  # exactly max age: still good
    clock.advance(timedelta(seconds=1))
    refused(inbox, InvalidSyncToken, "InvalidSyncToken", 400, lambda: since(inbox, token))


def test_e3_more_than_sync_max_changes_asks_for_a_full_sync(
    make_inbox: MakeInbox, clock: ManualClock
) -> None:
    inbox = make_inbox(directory=two_queue_directory(), policy=Policy(ttl=TTL, sync_max_changes=3))
    receive(inbox)
    start = full(inbox, scope=ACCESSIBLE).sync_token
    for i in range(3):
        receive(inbox, f"m{i}")
    three = since(inbox, start)
    assert len(three.records) == 3
    receive(inbox, "m3")
    refused(inbox, InvalidSyncToken, "InvalidSyncToken", 400, lambda: since(inbox, start))
    assert len(since(inbox, three.sync_token).records) == 1


def test_e3_full_sync_token_rules(inbox: Inbox) -> None:
    token = full(inbox).sync_token
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.sync_entries(actor="101", sync_type=FULL, sync_token=token),
    )
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.sync_entries(actor="101", sync_type="Sometimes"),
    )
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.sync_entries(actor="101", scope="Everything"),
    )


# === E4: convergence ============================================================================
OWNERS = [OWNER, OWNER2, SUPPORT_NUMBER]
GUESTS = [GUEST, GUEST2, GUEST3]
ACTORS = ["101", "102", "103", "201"]
CLIENT = "101"
INDEX = st.integers(0, 1000)  # which thread, message or note (see `run`)
#: clock moves, with the edges of the 72 h expiry well represented
ADVANCES = st.one_of(
    st.sampled_from(
        [
            timedelta(0),
            timedelta(seconds=1),
            timedelta(hours=1),
            timedelta(hours=24),
            TTL - timedelta(seconds=1),
            TTL,
            TTL + timedelta(hours=1),
        ]
    ),
    st.integers(0, 80 * 3600).map(lambda s: timedelta(seconds=s)),
)
ACTOR = st.sampled_from(ACTORS)
#: how to draw each kind of command, and how often (out of the sum of the weights)
BUILDERS: dict[str, tuple[int, st.SearchStrategy[tuple[Any, ...]]]] = {
    "receive": (4, st.tuples(st.just("receive"), st.sampled_from(OWNERS), st.sampled_from(GUESTS))),
    "send": (
        2,
        st.tuples(st.just("send"), ACTOR, st.sampled_from(OWNERS), st.sampled_from(GUESTS)),
    ),
    "send_on": (2, st.tuples(st.just("send_on"), ACTOR, INDEX)),
    "assign": (3, st.tuples(st.just("assign"), INDEX, ACTOR, st.one_of(st.none(), ACTOR))),
    "resolve": (1, st.tuples(st.just("resolve"), INDEX, ACTOR)),
    "delete": (1, st.tuples(st.just("delete"), INDEX, ACTOR)),
    "note": (3, st.tuples(st.just("note"), INDEX, ACTOR)),
    # actor None: the note's author
    "edit_note": (2, st.tuples(st.just("edit_note"), INDEX, st.one_of(st.none(), ACTOR))),
    "delete_note": (1, st.tuples(st.just("delete_note"), INDEX, st.one_of(st.none(), ACTOR))),
    "delete_message": (2, st.tuples(st.just("delete_message"), INDEX, ACTOR)),
    "delivery": (
        2,
        st.tuples(st.just("delivery"), INDEX, st.sampled_from(list(DeliveryStatus))),
    ),
    "classify": (2, st.tuples(st.just("classify"), INDEX)),
    "draft": (1, st.tuples(st.just("draft"), INDEX, ACTOR)),
    "advance": (4, st.tuples(st.just("advance"), ADVANCES)),
    "expire": (1, st.tuples(st.just("expire"))),
    "sync": (5, st.tuples(st.just("sync"))),
}
KINDS = [kind for kind, (weight, _) in BUILDERS.items() for _ in range(weight)]
COMMANDS = st.sampled_from(KINDS).flatmap(lambda kind: BUILDERS[kind][1])


class Client:
    """A client of the entries sync, as E4 describes it."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        answer = inbox.sync_entries(actor=CLIENT, sync_type=FULL, scope=ACCESSIBLE)
        self.held = by_id(answer.records)
        self.token = answer.sync_token

    def sync(self) -> None:
        answer = self.inbox.sync_entries(actor=CLIENT, sync_type=INCREMENTAL, sync_token=self.token)
        visible = {
            t.id
            for t in self.inbox.list(
                actor=CLIENT,
                filter=ThreadFilter(availability=BOTH),
                limit=1000,
            )
        }
        assert thread_ids_of(answer.records) <= visible  # nobody else's threads
        closed = set()
        for entry in answer.records:
            if entry.record_type in (EntryType.ALIVE_MESSAGE, EntryType.ALIVE_NOTE):
                self.held[entry.id] = entry
            elif entry.record_type in (EntryType.DELETED_MESSAGE, EntryType.DELETED_NOTE):
                self.held.pop(entry.id, None)
            elif entry.record_type in (RESOLVED, DELETED_HINT):
                closed.add(entry.thread_id)
        self.held = {k: e for k, e in self.held.items() if e.thread_id not in closed}
        self.token = answer.sync_token

    def check(self) -> None:
        fresh = self.inbox.sync_entries(actor=CLIENT, sync_type=FULL, scope=ACCESSIBLE)
        assert self.held == by_id(fresh.records)


def run(inbox: Inbox, clock: ManualClock, made: dict[str, Any], command: Any) -> None:
    kind, *args = command

    def pick(kind_of: str, index: int) -> str | None:
        """One of the four latest (most likely still open), or any (index 0)."""
        known = made[kind_of]
        if not known:
            return None
        return known[-1 - index % min(len(known), 4)] if index else known[index % len(known)]

    with contextlib.suppress(ThreadcoreError):
        if kind == "receive":
            message = inbox.receive(owner_number=args[0], guest_number=args[1], body="in")
            made["messages"].append(message.id)
            made["threads"].append(message.thread_id)
        elif kind == "send":
            message = inbox.send(
                actor=args[0], owner_number=args[1], guest_number=args[2], body="out"
            )
            made["messages"].append(message.id)
            made["threads"].append(message.thread_id)
        elif kind == "advance":
            clock.advance(args[0])
        elif kind == "expire":
            inbox.expire()
        elif kind == "sync":
            pass  # before the client exists
        elif kind == "classify":
            if (message_id := pick("messages", args[0])) is not None:
                inbox.classify(message_id, classification="tag")
        elif kind == "delivery":
            if (message_id := pick("messages", args[0])) is not None:
                inbox.record_delivery(message_id, args[1])
        elif kind == "delete_message":
            if (message_id := pick("messages", args[0])) is not None:
                inbox.delete_messages([message_id], actor=args[1])
        elif kind in ("edit_note", "delete_note") and made["notes"]:
            note_id = made["notes"][-1 - args[0] % min(len(made["notes"]), 4)]
            actor = made["authors"][note_id] if args[1] is None else args[1]
            if kind == "edit_note":
                inbox.edit_note(note_id, actor=actor, text=f"edited at {clock.now()}")
            else:
                inbox.delete_notes([note_id], actor=actor)
        elif kind == "send_on":
            if (thread_id := pick("threads", args[1])) is not None:
                message = inbox.send(actor=args[0], thread_id=thread_id, body="reply")
                made["messages"].append(message.id)
        elif (thread_id := pick("threads", args[0])) is not None:
            if kind == "assign":
                inbox.assign(thread_id, actor=args[1], assignee=args[2])
            elif kind == "resolve":
                inbox.resolve(thread_id, actor=args[1])
            elif kind == "delete":
                inbox.delete(thread_id, actor=args[1])
            elif kind in ("note", "edit_note", "delete_note"):  # (no note yet: add one)
                actor = args[1] or "101"
                note = inbox.add_note(thread_id, actor=actor, text="note")
                made["notes"].append(note.id)
                made["authors"][note.id] = actor
            elif kind == "draft":
                inbox.save_draft(thread_id, actor=args[1], body="draft")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(COMMANDS, min_size=2, max_size=12),
    after=st.lists(COMMANDS, min_size=5, max_size=40),
)
def test_e4_a_client_converges_on_the_full_sync(before: list[Any], after: list[Any]) -> None:
    clock = ManualClock(START)
    inbox = Inbox(
        repository=InMemoryRepository(),
        directory=two_queue_directory(),
        clock=clock,
        policy=Policy(ttl=TTL, sync_token_max_age=timedelta(days=36500)),
        ids=SequentialIds("t"),
    )
    made: dict[str, Any] = {"threads": [], "messages": [], "notes": [], "authors": {}}
    for command in before:
        run(inbox, clock, made, command)
    client = Client(inbox)
    for command in after:
        if command == ("sync",):
            client.sync()
            client.check()
        else:
            run(inbox, clock, made, command)
    client.sync()
    client.check()
