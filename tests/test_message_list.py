"""Issue 5, messages across threads: M4 (``list_messages`` and ``message``) and M5
(``delete_messages``), proved through the public ``Inbox`` API and named after their rules."""

from __future__ import annotations

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
    SUPPORT,
    SUPPORT_NUMBER,
    TTL,
    MakeInbox,
    two_queue_directory,
)

from threadcore import Inbox, ManualClock, StatusReason, SyncType, ThreadStatus
from threadcore.domain.errors import MessageNotFound
from threadcore.domain.events import MessageDeleted
from threadcore.domain.model import Message
from threadcore.domain.queries import MessageFilter
from threadcore.errors import InvalidInput, InvalidPageToken, NotPermitted, ThreadDeletedError
from threadcore.model import Availability

ALIVE, DELETED = Availability.ALIVE, Availability.DELETED
GUEST3 = "+16505130001"


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    """Billing (OWNER, OWNER2; 101, 102, 103) and Support (SUPPORT_NUMBER; 103 and 201)."""
    return make_inbox(directory=two_queue_directory())


def snapshot(inbox: Inbox) -> tuple[Any, ...]:
    return observe.snapshot(inbox, "103", ())


refused = observe.refused  # as handler 103, no pairs: its defaults


def receive(inbox: Inbox, body: str, guest: str = GUEST, owner: str = OWNER) -> Message:
    return inbox.receive(owner_number=owner, guest_number=guest, body=body)


def ids(records: Any) -> list[str]:
    return [r.id for r in records]


def walk(inbox: Inbox, actor: str, filter: MessageFilter | None, per_page: int) -> list[Message]:
    """Every page of a token walk."""
    found: list[Message] = []
    page = inbox.list_messages(actor=actor, filter=filter, limit=per_page)
    found += page
    while page.next_cursor is not None:
        page = inbox.list_messages(
            actor=actor,
            filter=filter,
            limit=per_page,
            cursor=page.next_cursor,
        )
        found += page
    return found


def position(inbox: Inbox) -> int:
    stored = inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)
    return stored[-1][0] if stored else 0


@pytest.fixture
def world(inbox: Inbox, clock: ManualClock) -> dict[str, Message]:
    """Messages on four threads, one minute apart: two Billing threads on OWNER, one on OWNER2,
    one Support thread; the OWNER2 thread is resolved."""
    made = {}
    for name, owner, guest in (
        ("a1", OWNER, GUEST),
        ("b1", OWNER, GUEST2),
        ("c1", OWNER2, GUEST),
        ("s1", SUPPORT_NUMBER, GUEST),
        ("a2", OWNER, GUEST),
        ("s2", SUPPORT_NUMBER, GUEST),
    ):
        made[name] = receive(inbox, name, guest, owner)
        clock.advance(timedelta(minutes=1))
    inbox.resolve(made["c1"].thread_id, actor="101")
    return made


# === M4: listing messages across threads ========================================================
def test_m4_lists_the_visible_alive_messages_by_creation_time(
    inbox: Inbox, world: dict[str, Message]
) -> None:
    assert [m.body for m in inbox.list_messages(actor="103")] == [
        "a1",
        "b1",
        "c1",
        "s1",
        "a2",
        "s2",
    ]
    assert [m.body for m in inbox.list_messages(actor="101")] == ["a1", "b1", "c1", "a2"]
    assert [m.body for m in inbox.list_messages(actor="201")] == ["s1", "s2"]
    assert list(inbox.list_messages(actor="999")) == []
    assert inbox.list_messages(actor="101")[0] == world["a1"]


def test_m4_ties_are_broken_by_id(inbox: Inbox) -> None:
    made = [receive(inbox, f"m{i}", guest) for i, guest in enumerate([GUEST, GUEST2, GUEST3] * 4)]
    listed = inbox.list_messages(actor="101")
    assert ids(listed) == sorted(ids(made))  # all at one instant: id order
    assert ids(walk(inbox, "101", None, 5)) == sorted(ids(made))


def test_m4_filter_thread_ids_and_message_ids(inbox: Inbox, world: dict[str, Message]) -> None:
    a_thread = world["a1"].thread_id
    assert [
        m.body
        for m in inbox.list_messages(actor="103", filter=MessageFilter(thread_ids=[a_thread]))
    ] == ["a1", "a2"]
    chosen = [world["s2"].id, world["b1"].id]
    assert [
        m.body for m in inbox.list_messages(actor="103", filter=MessageFilter(message_ids=chosen))
    ] == ["b1", "s2"]
    # AND: a message id outside the named threads is not listed
    assert [
        m.body
        for m in inbox.list_messages(
            actor="103", filter=MessageFilter(thread_ids=[a_thread], message_ids=chosen)
        )
    ] == []
    # ids of another resource's threads are invisible to 101
    assert (
        list(inbox.list_messages(actor="101", filter=MessageFilter(message_ids=[world["s1"].id])))
        == []
    )


def test_m4_filter_thread_status_as_the_thread_is_now(
    inbox: Inbox, clock: ManualClock, world: dict[str, Message]
) -> None:
    resolved = MessageFilter(thread_status=ThreadStatus.RESOLVED)
    opened = MessageFilter(thread_status=ThreadStatus.OPEN)
    assert [m.body for m in inbox.list_messages(actor="103", filter=resolved)] == ["c1"]
    assert [m.body for m in inbox.list_messages(actor="103", filter=opened)] == [
        "a1",
        "b1",
        "s1",
        "a2",
        "s2",
    ]
    # b1's thread falls due (no sweep has run): it is Resolved now
    clock.set(world["b1"].created_at + TTL)
    assert [m.body for m in inbox.list_messages(actor="103", filter=resolved)] == ["b1", "c1"]
    assert "b1" not in [m.body for m in inbox.list_messages(actor="103", filter=opened)]


def test_m4_filter_owner_extension_ids(inbox: Inbox, world: dict[str, Message]) -> None:
    support = MessageFilter(owner_extension_ids=[SUPPORT])
    assert [m.body for m in inbox.list_messages(actor="103", filter=support)] == ["s1", "s2"]
    billing = MessageFilter(owner_extension_ids=[QUEUE])
    assert [m.body for m in inbox.list_messages(actor="103", filter=billing)] == [
        "a1",
        "b1",
        "c1",
        "a2",
    ]
    refused(
        inbox,
        NotPermitted,
        "NotPermitted",
        403,
        lambda: inbox.list_messages(actor="101", filter=support),
    )


def test_m4_filter_availability(inbox: Inbox, world: dict[str, Message]) -> None:
    inbox.delete_messages([world["b1"].id], actor="101")
    inbox.delete(world["s1"].thread_id, actor="201")
    alive = inbox.list_messages(actor="103")
    assert [m.body for m in alive] == ["a1", "c1", "a2"]
    deleted = inbox.list_messages(actor="103", filter=MessageFilter(availability=[DELETED]))
    assert ids(deleted) == [world["b1"].id, world["s1"].id, world["s2"].id]
    assert all(m.availability is DELETED and m.body == "" for m in deleted)
    everything = inbox.list_messages(actor="103", filter=MessageFilter(availability=BOTH))
    assert ids(everything) == ids(sorted(world.values(), key=lambda m: (m.created_at, m.id)))


def test_m4_filter_creation_window(inbox: Inbox, world: dict[str, Message]) -> None:
    window = MessageFilter(
        creation_time_from=world["b1"].created_at, creation_time_to=world["a2"].created_at
    )
    # from is inclusive, to is exclusive
    assert [m.body for m in inbox.list_messages(actor="103", filter=window)] == ["b1", "c1", "s1"]
    only_from = MessageFilter(creation_time_from=world["a2"].created_at)
    assert [m.body for m in inbox.list_messages(actor="103", filter=only_from)] == ["a2", "s2"]
    only_to = MessageFilter(creation_time_to=world["b1"].created_at)
    assert [m.body for m in inbox.list_messages(actor="103", filter=only_to)] == ["a1"]
    with pytest.raises(InvalidInput):
        MessageFilter(
            creation_time_from=world["a2"].created_at, creation_time_to=world["a1"].created_at
        )


def test_m4_filters_combine_with_and(inbox: Inbox, world: dict[str, Message]) -> None:
    combined = MessageFilter(
        owner_extension_ids=[QUEUE],
        thread_status=ThreadStatus.OPEN,
        creation_time_from=world["b1"].created_at,
    )
    assert [m.body for m in inbox.list_messages(actor="103", filter=combined)] == ["b1", "a2"]


def test_m4_drafts_are_never_listed(inbox: Inbox, world: dict[str, Message]) -> None:
    thread_id = world["a1"].thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    draft = inbox.save_draft(thread_id, actor="101", body="draft")
    for availability in ([ALIVE], [DELETED], BOTH):
        listed = inbox.list_messages(actor="101", filter=MessageFilter(availability=availability))
        assert draft.id not in ids(listed)
    assert (
        list(inbox.list_messages(actor="101", filter=MessageFilter(message_ids=[draft.id]))) == []
    )
    refused(
        inbox,
        MessageNotFound,
        "MessageNotFound",
        404,
        lambda: inbox.message(draft.id, actor="101"),
    )


def test_m4_token_walk_visits_every_message_once_in_order(
    inbox: Inbox, clock: ManualClock, world: dict[str, Message]
) -> None:
    expected = ids(inbox.list_messages(actor="103", limit=1000))
    for per_page in (1, 2, 4, 6, 7):
        assert ids(walk(inbox, "103", None, per_page)) == expected
    page = inbox.list_messages(actor="103", limit=6)
    assert page.next_cursor is None


def test_m4_token_walk_is_stable_while_messages_arrive(
    inbox: Inbox, clock: ManualClock, world: dict[str, Message]
) -> None:
    first = inbox.list_messages(actor="103", limit=3)
    assert [m.body for m in first] == ["a1", "b1", "c1"]
    clock.advance(timedelta(minutes=1))
    late = receive(inbox, "late", GUEST3)
    inbox.delete_messages([world["b1"].id], actor="101")  # already seen: not repeated
    rest = inbox.list_messages(actor="103", limit=3, cursor=first.next_cursor)
    assert [m.body for m in rest] == ["s1", "a2", "s2"]
    last = inbox.list_messages(actor="103", limit=3, cursor=rest.next_cursor)
    assert ids(last) == [late.id]
    assert last.next_cursor is None


def test_m4_page_tokens_are_bound_to_actor_and_filter(
    inbox: Inbox, world: dict[str, Message]
) -> None:
    page = inbox.list_messages(actor="103", limit=2)
    token = page.next_cursor
    assert token is not None
    for command in (
        lambda: inbox.list_messages(actor="101", limit=2, cursor=token),
        lambda: inbox.list_messages(
            actor="103",
            limit=2,
            cursor=token,
            filter=MessageFilter(thread_status=ThreadStatus.OPEN),
        ),
        lambda: inbox.list_messages(actor="103", limit=2, cursor=token[:-2] + "xx"),
        lambda: inbox.list_messages(actor="103", limit=2, cursor="garbage"),
    ):
        refused(inbox, InvalidPageToken, "InvalidPageToken", 400, command)
    thread_page = inbox.list(actor="103", limit=1)
    assert thread_page.next_cursor is not None
    refused(
        inbox,
        InvalidPageToken,
        "InvalidPageToken",
        400,
        lambda: inbox.list_messages(actor="103", cursor=thread_page.next_cursor),
    )


@pytest.mark.parametrize("per_page", [0, 1001, -1])
def test_m4_per_page_is_1_to_1000(inbox: Inbox, world: dict[str, Message], per_page: int) -> None:
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.list_messages(actor="103", limit=per_page),
    )
    assert len(inbox.list_messages(actor="103", limit=1000)) == 6


def test_m4_message_reads_one(inbox: Inbox, world: dict[str, Message]) -> None:
    assert inbox.message(world["s1"].id, actor="201") == world["s1"]
    assert inbox.message(world["s1"].id, actor="103") == world["s1"]
    for actor, message_id in (("101", world["s1"].id), ("201", world["a1"].id), ("101", "nope")):
        refused(
            inbox,
            MessageNotFound,
            "MessageNotFound",
            404,
            lambda a=actor, m=message_id: inbox.message(m, actor=a),  # type: ignore[misc]
        )


# === M5: deleting messages ======================================================================
def test_m5_a_deleted_message_becomes_a_tombstone(inbox: Inbox, clock: ManualClock) -> None:
    first = receive(inbox, "first")
    inbox.classify(first.id, classification="greeting")
    clock.advance(timedelta(minutes=1))
    second = inbox.receive(
        owner_number=OWNER,
        guest_number=GUEST,
        body="picture",
        attachments=["https://mms.example.com/p.jpg"],
    )
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    result = inbox.delete_messages([first.id, second.id], actor="103")
    assert ids(result) == [first.id, second.id]
    for message in result:
        assert message.availability is DELETED
        assert message.body == ""
        assert message.attachments == ()
        assert message.classifications == ()
        assert message.last_modified_at == clock.now()
    assert [
        e
        for _, e in inbox.events(cursor=inbox.feed_cursor(cursor))
        if isinstance(e, MessageDeleted)
    ] == [
        MessageDeleted(first.thread_id, clock.now(), first.id, "103"),
        MessageDeleted(first.thread_id, clock.now(), second.id, "103"),
    ]
    assert list(inbox.messages(first.thread_id, actor="101")) == []
    assert list(inbox.list_messages(actor="101")) == []
    listed = inbox.list_messages(actor="101", filter=MessageFilter(availability=[DELETED]))
    assert list(listed) == result


def test_m5_any_handler_may_delete_on_open_or_resolved_threads(inbox: Inbox) -> None:
    a = receive(inbox, "a")
    receive(inbox, "a-2")
    inbox.assign(a.thread_id, actor="101", assignee="102")
    inbox.delete_messages([a.id], actor="103")  # not the assignee
    b = receive(inbox, "b", GUEST2)
    receive(inbox, "b-2", GUEST2)
    inbox.resolve(b.thread_id, actor="101")
    inbox.delete_messages([b.id], actor="102")
    deleted = inbox.list_messages(actor="101", filter=MessageFilter(availability=[DELETED]))
    assert ids(deleted) == [a.id, b.id]


def test_m5_deleting_on_a_due_thread(inbox: Inbox, clock: ManualClock) -> None:
    first = receive(inbox, "first")
    last = receive(inbox, "last")
    clock.advance(TTL)  # due; no sweep has run
    (tombstone,) = inbox.delete_messages([last.id], actor="101")
    assert tombstone.availability is DELETED
    thread = inbox.get(first.thread_id, actor="101")
    assert (thread.status, thread.label) == (ThreadStatus.RESOLVED, "first")
    assert thread.status_reason is StatusReason.THREAD_EXPIRED


def test_m5_a_message_of_a_deleted_thread_is_thread_deleted(inbox: Inbox) -> None:
    gone = receive(inbox, "gone")
    inbox.delete(gone.thread_id, actor="101")
    alive = receive(inbox, "alive", GUEST2)
    err = refused(
        inbox,
        ThreadDeletedError,
        "ThreadDeleted",
        410,
        lambda: inbox.delete_messages([alive.id, gone.id], actor="101"),
    )
    assert err.status == 410


def test_m5_every_id_is_checked_before_anything_changes(inbox: Inbox) -> None:
    ok = receive(inbox, "ok")
    other = receive(inbox, "support", owner=SUPPORT_NUMBER)
    thread_id = ok.thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    draft = inbox.save_draft(thread_id, actor="101", body="draft")
    for bad in ("no-such-id", other.id, draft.id):
        refused(
            inbox,
            MessageNotFound,
            "MessageNotFound",
            404,
            lambda b=bad: inbox.delete_messages([ok.id, b], actor="101"),  # type: ignore[misc]
        )
        refused(
            inbox,
            MessageNotFound,
            "MessageNotFound",
            404,
            lambda b=bad: inbox.delete_messages([b, ok.id], actor="101"),  # type: ignore[misc]
        )
    refused(
        inbox, InvalidInput, "InvalidInput", 422, lambda: inbox.delete_messages([], actor="101")
    )
    refused(
        inbox,
        MessageNotFound,
        "MessageNotFound",
        404,
        lambda: inbox.delete_messages([ok.id], actor="201"),
    )
    assert inbox.message(ok.id, actor="101").availability is ALIVE


def test_m5_repeated_ids_count_once(inbox: Inbox) -> None:
    a = receive(inbox, "a")
    receive(inbox, "b")
    cursor = position(inbox)
    result = inbox.delete_messages([a.id, a.id, a.id], actor="101")
    assert ids(result) == [a.id]
    assert [type(e).__name__ for _, e in inbox.events(cursor=inbox.feed_cursor(cursor))].count(
        "MessageDeleted"
    ) == 1


def test_m5_deleting_a_tombstone_again_changes_nothing(inbox: Inbox, clock: ManualClock) -> None:
    a = receive(inbox, "a")
    receive(inbox, "b")
    (tombstone,) = inbox.delete_messages([a.id], actor="101")
    clock.advance(timedelta(minutes=1))
    before = snapshot(inbox)
    assert inbox.delete_messages([a.id], actor="102") == [tombstone]
    assert snapshot(inbox) == before


def test_m5_the_label_follows_the_newest_alive_message(inbox: Inbox, clock: ManualClock) -> None:
    first = receive(inbox, "first")
    clock.advance(timedelta(minutes=1))
    inbox.assign(first.thread_id, actor="101", assignee="101")
    reply = inbox.send(actor="101", thread_id=first.thread_id, body="reply")
    clock.advance(timedelta(minutes=1))
    last = receive(inbox, "last")
    before = inbox.get(first.thread_id, actor="101")
    assert before.label == "last"
    clock.advance(timedelta(minutes=1))
    inbox.delete_messages([last.id], actor="101")
    after = inbox.get(first.thread_id, actor="101")
    assert (after.label, after.latest_message_body) == ("reply", "reply")
    assert after.last_modified_time == clock.now()
    # the activity times stay: deleting does not move the expiry
    assert after.latest_message_at == before.latest_message_at == last.created_at
    assert after.last_inbound_at == before.last_inbound_at == last.created_at
    assert after.last_outbound_at == before.last_outbound_at == reply.created_at
    clock.advance(timedelta(minutes=1))
    inbox.delete_messages([reply.id, first.id], actor="101")
    emptied = inbox.get(first.thread_id, actor="101")
    assert (emptied.label, emptied.latest_message_body) == (None, None)
    assert emptied.last_modified_time == clock.now()
    assert emptied.latest_message_at == last.created_at
    clock.set(last.created_at + TTL)
    assert inbox.get(first.thread_id, actor="101").status is ThreadStatus.RESOLVED


def test_m5_deleting_an_older_message_leaves_the_thread_record(
    inbox: Inbox, clock: ManualClock
) -> None:
    first = receive(inbox, "first")
    clock.advance(timedelta(minutes=1))
    receive(inbox, "second")
    before = inbox.get(first.thread_id, actor="101")
    clock.advance(timedelta(minutes=1))
    inbox.delete_messages([first.id], actor="101")
    assert inbox.get(first.thread_id, actor="101") == before


def test_m5_a_relabel_is_reported_by_the_thread_sync(inbox: Inbox, clock: ManualClock) -> None:
    first = receive(inbox, "first")
    clock.advance(timedelta(minutes=1))
    last = receive(inbox, "last")
    other = receive(inbox, "other", GUEST2)
    full = inbox.sync(actor="101")
    assert {t.id for t in full.records} == {first.thread_id, other.thread_id}
    clock.advance(timedelta(minutes=1))
    inbox.delete_messages([last.id], actor="101")
    changed = inbox.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=full.sync_token)
    assert [(t.id, t.label) for t in changed.records] == [(first.thread_id, "first")]
