"""Issue 5, messages: M1 (message fields), M2 (the delivery status machine) and M3
(classifications), each proved through the public ``Inbox`` API and named after its rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import observe
import pytest
from conftest import BOTH, GUEST, OWNER, START, TTL, billing_directory
from hypothesis import given, settings
from hypothesis import strategies as st
from observe import new_events

from threadcore import Direction, Inbox, InMemoryRepository, ManualClock, Policy, ThreadStatus
from threadcore.domain.errors import ImpossibleStatusChange, MessageNotFound
from threadcore.domain.events import DeliveryStatusChanged, MessageClassified
from threadcore.domain.messaging import DELIVERY
from threadcore.domain.model import Classification, DeliveryStatus, Message, MessageSource
from threadcore.domain.queries import MessageFilter
from threadcore.errors import InvalidInput
from threadcore.ids import SequentialIds
from threadcore.model import Availability

Q, S, D, R = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
)
SF, DF = DeliveryStatus.SENDING_FAILED, DeliveryStatus.DELIVERY_FAILED
REPORTABLE = (Q, S, D, R, SF, DF)


# --- helpers ------------------------------------------------------------------------------------
def snapshot(inbox: Inbox) -> tuple[Any, ...]:
    return observe.snapshot(inbox, "101", [(OWNER, GUEST)])


#: ``command`` raises exactly ``error`` and changes nothing (see ``observe.refused``).
refused = partial(observe.refused, actor="101", pairs=[(OWNER, GUEST)])


def outbound(inbox: Inbox, body: str = "Hello", **kwargs: Any) -> Message:
    """A message 101 sends (opening a thread assigned to 101 when none is open)."""
    return inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body=body, **kwargs)


def current(inbox: Inbox, message_id: str) -> Message:
    return inbox.message(message_id, actor="101")


def position(inbox: Inbox) -> int:
    stored = inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)
    return stored[-1][0] if stored else 0


# === M1: message fields =========================================================================
def test_m1_an_inbound_message_is_received_with_default_fields(inbox: Inbox) -> None:
    message = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM1"
    )
    assert message.status is DeliveryStatus.RECEIVED
    assert message.direction is Direction.INBOUND
    assert (message.sent_at, message.delivered_at, message.read_at) == (None, None, None)
    assert message.error_code is None
    assert message.is_automated is False
    assert message.source is None
    assert message.content_type == "text/plain"
    assert message.attachments == ()
    assert message.classifications == ()
    assert message.keyword is None
    assert message.provider_message_id == "SM1"
    assert message.version == 1
    assert current(inbox, message.id) == message


def test_m1_a_sent_message_starts_queued_and_keeps_what_the_sender_says(
    inbox: Inbox,
) -> None:
    message = outbound(
        inbox,
        body="See the invoice",
        attachments=["https://cdn.example.com/invoice.pdf"],
        content_type="application/pdf",
        is_automated=True,
        source=MessageSource.WORKFLOW,
        provider_message_id="SM2",
    )
    assert message.status is DeliveryStatus.QUEUED
    assert message.direction is Direction.OUTBOUND
    assert (message.sent_at, message.delivered_at, message.read_at) == (None, None, None)
    assert message.attachments == ("https://cdn.example.com/invoice.pdf",)
    assert message.content_type == "application/pdf"
    assert message.is_automated is True
    assert message.source is MessageSource.WORKFLOW
    assert message.provider_message_id == "SM2"
    assert message.keyword is None
    assert current(inbox, message.id) == message


def test_m1_a_sent_message_defaults(inbox: Inbox) -> None:
    message = outbound(inbox)
    assert message.is_automated is False
    assert message.source is None
    assert message.content_type == "text/plain"
    assert message.attachments == ()


@pytest.mark.parametrize("source", list(MessageSource))
def test_m1_every_seed_source_is_accepted(inbox: Inbox, source: MessageSource) -> None:
    assert outbound(inbox, source=source).source is source
    assert {s.value for s in MessageSource} == {
        "app",
        "api",
        "workflow",
        "campaign",
        "bulk_actions",
    }


def test_m1_receive_takes_attachments_and_content_type(inbox: Inbox) -> None:
    message = inbox.receive(
        owner_number=OWNER,
        guest_number=GUEST,
        body="",
        attachments=["http://mms.example.com/a.jpg", "https://mms.example.com/b.jpg"],
        content_type="image/jpeg",
    )
    assert message.attachments == (
        "http://mms.example.com/a.jpg",
        "https://mms.example.com/b.jpg",
    )
    assert message.content_type == "image/jpeg"
    assert message.body == ""
    assert current(inbox, message.id) == message


def test_m1_an_mms_picture_may_have_an_empty_body(inbox: Inbox) -> None:
    message = outbound(inbox, body="", attachments=["https://cdn.example.com/p.png"])
    assert message.body == ""
    assert current(inbox, message.id).attachments == ("https://cdn.example.com/p.png",)


def test_m1_ten_attachments_of_2048_characters_are_accepted(inbox: Inbox) -> None:
    prefix = "https://cdn.example.com/"
    urls = [prefix + str(i) + "x" * (2048 - len(prefix) - 1) for i in range(10)]
    assert all(len(url) == 2048 for url in urls)
    assert outbound(inbox, attachments=urls).attachments == tuple(urls)


def test_m1_attachment_limits_are_refused_without_change(inbox: Inbox) -> None:
    first = outbound(inbox, body="first")
    prefix = "https://cdn.example.com/"
    too_long = prefix + "x" * (2049 - len(prefix))
    eleven = [f"https://cdn.example.com/{i}.png" for i in range(11)]
    for attachments in (
        eleven,
        [too_long],
        ["ftp://cdn.example.com/a.png"],
        ["not a url"],
        ["javascript:alert(1)"],
        ["cdn.example.com/a.png"],
    ):
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda a=attachments: outbound(inbox, attachments=a),  # type: ignore[misc]
        )
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda a=attachments: inbox.receive(  # type: ignore[misc]
                owner_number=OWNER, guest_number=GUEST, body="x", attachments=a
            ),
        )
    assert [m.id for m in inbox.messages(first.thread_id, actor="101")] == [first.id]


def test_m1_a_message_without_attachments_needs_a_body(inbox: Inbox) -> None:
    outbound(inbox, body="first")
    for body in ("", "   "):
        refused(inbox, InvalidInput, "InvalidInput", 422, lambda b=body: outbound(inbox, body=b))  # type: ignore[misc]
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda b=body: inbox.receive(owner_number=OWNER, guest_number=GUEST, body=b),  # type: ignore[misc]
        )


# === M2: the delivery status machine ============================================================
NO_CHANGE = "no change"
IMPOSSIBLE = "impossible"
#: the order of the doc's path Queued -> Sent -> Delivered -> Read, with SendingFailed in place
#: of Sent and DeliveryFailed in place of Delivered
RANK = {Q: 0, S: 1, SF: 1, D: 2, DF: 2, R: 3}


def documented(now: DeliveryStatus, reported: DeliveryStatus) -> object:
    """What docs/rules.md M2 says a report of ``reported`` does to a message that is ``now``."""
    if reported is now:
        return NO_CHANGE  # "a report that repeats the current status ... changes nothing"
    if reported is Q:
        return NO_CHANGE  # "Queued after anything"
    if now is SF:
        return IMPOSSIBLE  # "anything but Queued after SendingFailed"
    if now in (D, R) and reported in (SF, DF):
        return IMPOSSIBLE  # "a failure after Delivered or Read"
    if now is DF and reported in (D, R):
        return IMPOSSIBLE  # "Delivered or Read after DeliveryFailed"
    if now is S and reported is SF:
        return IMPOSSIBLE  # "SendingFailed after Sent"
    if now is DF and reported is SF:
        # not named by the doc: DeliveryFailed stands in place of Delivered (it was sent: "Sent
        # after DeliveryFailed" is old news), and SendingFailed after Sent is impossible
        return IMPOSSIBLE
    if RANK[reported] > RANK[now]:
        return reported  # moves along the path
    return NO_CHANGE  # "lies behind it": a late Sent after Delivered, Sent after DeliveryFailed


#: reports that bring a Queued message to each status
PATH_TO = {Q: (), S: (S,), D: (S, D), R: (S, D, R), SF: (SF,), DF: (S, DF)}
PAIRS = [(a, b) for a in REPORTABLE for b in REPORTABLE]


def test_m2_the_delivery_table_is_the_documented_one() -> None:
    assert set(DELIVERY) == set(PAIRS)
    for pair, outcome in DELIVERY.items():
        expected = documented(*pair)
        if expected is NO_CHANGE:
            assert outcome is None, pair
        elif expected is IMPOSSIBLE:
            assert outcome is ImpossibleStatusChange, pair
        else:
            assert outcome is expected, pair


@pytest.mark.parametrize(("now", "reported"), PAIRS, ids=[f"{a.value}-{b.value}" for a, b in PAIRS])
def test_m2_every_pair_of_the_delivery_table(
    inbox: Inbox, clock: ManualClock, now: DeliveryStatus, reported: DeliveryStatus
) -> None:
    message = outbound(inbox)
    for status in PATH_TO[now]:
        clock.advance(timedelta(seconds=1))
        inbox.record_delivery(message.id, status)
    clock.advance(timedelta(minutes=1))
    before = current(inbox, message.id)
    assert before.status is now
    cursor = position(inbox)
    expected = documented(now, reported)
    if expected is IMPOSSIBLE:
        refused(
            inbox,
            ImpossibleStatusChange,
            "ImpossibleStatusChange",
            409,
            lambda: inbox.record_delivery(message.id, reported),
        )
    elif expected is NO_CHANGE:
        inbox.record_delivery(message.id, reported)
        assert current(inbox, message.id) == before
        assert new_events(inbox, cursor) == []
    else:
        inbox.record_delivery(message.id, reported)
        after = current(inbox, message.id)
        assert after.status is expected
        assert after.last_modified_at == clock.now()
        assert after.version == before.version + 1
        assert new_events(inbox, cursor) == [
            DeliveryStatusChanged(message.thread_id, clock.now(), message.id, expected, now)
        ]


def test_m2_times_are_set_once_by_the_first_report_that_implies_them(
    inbox: Inbox, clock: ManualClock
) -> None:
    message = outbound(inbox)
    t1, t2, t3 = (START + timedelta(seconds=s) for s in (10, 20, 30))
    clock.advance(timedelta(minutes=5))
    inbox.record_delivery(message.id, S, at=t1)
    inbox.record_delivery(message.id, D, at=t2)
    inbox.record_delivery(message.id, D, at=t3)  # repeated: nothing moves
    inbox.record_delivery(message.id, S, at=t3)  # late: nothing moves
    after = current(inbox, message.id)
    assert (after.sent_at, after.delivered_at, after.read_at) == (t1, t2, None)
    inbox.record_delivery(message.id, R, at=t3)
    after = current(inbox, message.id)
    assert (after.sent_at, after.delivered_at, after.read_at) == (t1, t2, t3)
    assert after.last_modified_at == clock.now()  # the change is dated now, not at `at`


def test_m2_delivered_implies_sent_and_read_implies_delivered(inbox: Inbox) -> None:
    at = START + timedelta(seconds=7)
    delivered = outbound(inbox, body="one")
    inbox.record_delivery(delivered.id, D, at=at)
    assert current(inbox, delivered.id).sent_at == at
    assert current(inbox, delivered.id).delivered_at == at
    read = outbound(inbox, body="two")
    inbox.record_delivery(read.id, R, at=at)
    got = current(inbox, read.id)
    assert (got.sent_at, got.delivered_at, got.read_at) == (at, at, at)


def test_m2_at_defaults_to_now(inbox: Inbox, clock: ManualClock) -> None:
    message = outbound(inbox)
    clock.advance(timedelta(seconds=42))
    inbox.record_delivery(message.id, S)
    assert current(inbox, message.id).sent_at == clock.now()


def test_m2_a_failure_keeps_its_error_code(inbox: Inbox) -> None:
    failed_send = outbound(inbox, body="one")
    inbox.record_delivery(failed_send.id, SF, error_code="30007")
    assert current(inbox, failed_send.id).error_code == "30007"
    assert current(inbox, failed_send.id).sent_at is None  # it was never sent
    failed_delivery = outbound(inbox, body="two")
    inbox.record_delivery(failed_delivery.id, S)
    inbox.record_delivery(failed_delivery.id, DF, error_code="30003")
    got = current(inbox, failed_delivery.id)
    assert (got.status, got.error_code) == (DF, "30003")
    assert got.sent_at is not None
    assert got.delivered_at is None


def test_m2_a_change_emits_one_event_and_a_repeat_none(inbox: Inbox, clock: ManualClock) -> None:
    message = outbound(inbox)
    cursor = position(inbox)
    clock.advance(timedelta(seconds=3))
    inbox.record_delivery(message.id, S)
    inbox.record_delivery(message.id, S)
    inbox.record_delivery(message.id, Q)
    assert new_events(inbox, cursor) == [
        DeliveryStatusChanged(message.thread_id, clock.now(), message.id, S, Q)
    ]
    assert new_events(inbox, cursor)[0].initiator is None


def test_m2_delivery_callbacks_are_not_activity(inbox: Inbox, clock: ManualClock) -> None:
    message = outbound(inbox)
    thread_before = inbox.get(message.thread_id, actor="101")
    clock.advance(TTL - timedelta(minutes=1))
    inbox.record_delivery(message.id, S)
    inbox.record_delivery(message.id, D)
    assert inbox.get(message.thread_id, actor="101") == thread_before  # the record is untouched
    clock.advance(timedelta(minutes=1))
    thread = inbox.get(message.thread_id, actor="101")
    assert thread.status is ThreadStatus.RESOLVED  # expiry did not move
    assert thread.last_modified_time == message.created_at + TTL


def test_m2_a_callback_for_a_deleted_message_changes_nothing(inbox: Inbox) -> None:
    message = outbound(inbox, body="one")
    outbound(inbox, body="two")
    inbox.delete_messages([message.id], actor="101")
    before = snapshot(inbox)
    inbox.record_delivery(message.id, S)
    inbox.record_delivery(message.id, SF)
    assert snapshot(inbox) == before


def test_m2_a_callback_for_a_message_of_a_deleted_thread_changes_nothing(inbox: Inbox) -> None:
    message = outbound(inbox)
    inbox.delete(message.thread_id, actor="101")
    before = snapshot(inbox)
    inbox.record_delivery(message.id, D)
    assert snapshot(inbox) == before


def test_m2_unknown_message_is_message_not_found(inbox: Inbox) -> None:
    outbound(inbox)
    refused(
        inbox,
        MessageNotFound,
        "MessageNotFound",
        404,
        lambda: inbox.record_delivery("no-such-message", S),
    )


def test_m2_inbound_messages_and_drafts_get_no_reports(inbox: Inbox) -> None:
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(received.thread_id, actor="101", assignee="101")
    draft = inbox.save_draft(received.thread_id, actor="101", body="Draft")
    for message_id in (received.id, draft.id):
        for status in REPORTABLE:
            refused(
                inbox,
                ImpossibleStatusChange,
                "ImpossibleStatusChange",
                409,
                lambda m=message_id, s=status: inbox.record_delivery(m, s),  # type: ignore[misc]
            )


@pytest.mark.parametrize("status", [DeliveryStatus.DRAFT, DeliveryStatus.RECEIVED, "Bounced", None])
def test_m2_only_reportable_statuses(inbox: Inbox, status: object) -> None:
    message = outbound(inbox)
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.record_delivery(message.id, status),  # type: ignore[arg-type]
    )


def test_m2_a_naive_at_is_refused(inbox: Inbox) -> None:
    message = outbound(inbox)
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.record_delivery(message.id, S, at=datetime(2026, 2, 17, 17, 0)),
    )


#: every path a message may really take from Queued, each step moving forward
VALID_PATHS = [
    (S,),
    (S, D),
    (S, D, R),
    (S, R),
    (D,),
    (D, R),
    (R,),
    (SF,),
    (S, DF),
    (DF,),
]


@st.composite
def shuffled_reports(draw: st.DrawFn) -> tuple[tuple[DeliveryStatus, ...], list[DeliveryStatus]]:
    path = draw(st.sampled_from(VALID_PATHS))
    extra = draw(st.lists(st.sampled_from([Q, *path]), max_size=8))
    reports = draw(st.permutations([*path, *extra]))
    return path, reports


@settings(max_examples=150, deadline=None)
@given(shuffled_reports())
def test_m2_shuffled_and_repeated_reports_end_in_the_path_final_status(
    case: tuple[tuple[DeliveryStatus, ...], list[DeliveryStatus]],
) -> None:
    path, reports = case
    clock = ManualClock(START)
    inbox = Inbox(
        repository=InMemoryRepository(),
        directory=billing_directory(),
        clock=clock,
        policy=Policy(ttl=TTL),
        ids=SequentialIds("t"),
    )
    message = outbound(inbox)
    cursor = position(inbox)
    furthest, changes = Q, []
    first_at: dict[str, datetime] = {}
    for report in reports:
        clock.advance(timedelta(seconds=1))
        before = current(inbox, message.id).status
        inbox.record_delivery(message.id, report)
        after = current(inbox, message.id).status
        if RANK[report] > RANK[furthest]:
            changes.append((furthest, report, clock.now()))
            furthest = report
        assert after is furthest
        assert RANK[after] >= RANK[before]
        for field, implied_by in (
            ("sent", (S, D, R, DF)),
            ("delivered", (D, R)),
            ("read", (R,)),
        ):
            if report in implied_by:
                first_at.setdefault(field, clock.now())
    final = current(inbox, message.id)
    assert final.status is path[-1]
    assert final.sent_at == first_at.get("sent")
    assert final.delivered_at == first_at.get("delivered")
    assert final.read_at == first_at.get("read")
    assert new_events(inbox, cursor) == [
        DeliveryStatusChanged(message.thread_id, at, message.id, new, old)
        for old, new, at in changes
    ]


# === M3: classifications ========================================================================
def test_m3_an_automation_classifies_a_message(inbox: Inbox, clock: ManualClock) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Where is my refund?")
    thread_before = inbox.get(message.thread_id, actor="101")
    cursor = position(inbox)
    clock.advance(timedelta(minutes=2))
    inbox.classify(
        message.id,
        classification="payment_inquiry",
        confidence=0.93,
        reason="mentions a refund",
        is_action_required=True,
        is_reply_required=True,
        language="en",
        action_recommendation="check the refund status",
        details={"uncertainties": ["order id"]},
    )
    got = current(inbox, message.id)
    assert len(got.classifications) == 1
    c = got.classifications[0]
    assert isinstance(c, Classification)
    assert c.id
    assert c.created_at == clock.now()
    assert (c.classification, c.confidence, c.reason) == (
        "payment_inquiry",
        0.93,
        "mentions a refund",
    )
    assert (c.is_action_required, c.is_reply_required, c.language) == (True, True, "en")
    assert c.action_recommendation == "check the refund status"
    assert dict(c.details) == {"uncertainties": ["order id"]}
    assert got.last_modified_at == clock.now()
    assert got.version == message.version + 1
    assert (got.body, got.status) == (message.body, message.status)
    assert new_events(inbox, cursor) == [
        MessageClassified(message.thread_id, clock.now(), message.id, "payment_inquiry", None)
    ]
    # not activity: the thread record and its expiry stay as they were
    assert inbox.get(message.thread_id, actor="101") == thread_before
    clock.set(message.created_at + TTL)
    assert inbox.get(message.thread_id, actor="101").status is ThreadStatus.RESOLVED


def test_m3_classifications_are_appended_in_order(inbox: Inbox, clock: ManualClock) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.classify(message.id, classification="greeting")
    clock.advance(timedelta(seconds=1))
    inbox.classify(message.id, classification="smalltalk", actor="102")
    got = current(inbox, message.id).classifications
    assert [c.classification for c in got] == ["greeting", "smalltalk"]
    assert got[0].id != got[1].id
    assert got[0].confidence is None
    assert got[0].details == {}
    assert [type(e).__name__ for e in new_events(inbox, 0)][-2:] == ["MessageClassified"] * 2
    assert new_events(inbox, 0)[-1].initiator == "102"


def test_m3_classifying_an_outbound_message(inbox: Inbox) -> None:
    message = outbound(inbox)
    inbox.classify(message.id, classification="reply")
    got = current(inbox, message.id)
    assert [c.classification for c in got.classifications] == ["reply"]
    assert got.status is Q


def test_m3_an_actor_must_handle_the_resource(inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    refused(
        inbox,
        MessageNotFound,
        "MessageNotFound",
        404,
        lambda: inbox.classify(message.id, classification="x", actor="999"),
    )
    refused(
        inbox,
        MessageNotFound,
        "MessageNotFound",
        404,
        lambda: inbox.classify("no-such-message", classification="x"),
    )


def test_m3_a_deleted_message_cannot_be_classified(inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hello?")
    inbox.delete_messages([message.id], actor="101")
    refused(
        inbox,
        InvalidInput,
        "InvalidInput",
        422,
        lambda: inbox.classify(message.id, classification="x"),
    )


def test_m3_a_classification_survives_until_the_message_is_deleted(inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.classify(message.id, classification="greeting")
    inbox.delete_messages([message.id], actor="101")
    (tombstone,) = inbox.list_messages(
        actor="101", filter=MessageFilter(message_ids=[message.id], availability=BOTH)
    )
    assert tombstone.availability is Availability.DELETED
    assert tombstone.classifications == ()
