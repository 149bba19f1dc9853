"""The seed's sample list response, rebuilt from the commands that produce it.

The seed (shared/seeds/001_434161b56f4dc772.txt, "List message threads", "Sample response") lists
three threads of the Billing Queue: one Open, one Resolved "Manual" labelled "You can close this
case." and one Resolved "ThreadExpired" labelled "Thank you". The sample is copied below (ids and
the masked digits aside) and every field threadcore models is checked against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import OWNER, QUEUE

from threadcore import Inbox, ManualClock, StatusReason, Thread, ThreadStatus
from threadcore.events import ThreadResolved
from threadcore.model import Availability, OwnerResource, Party, ThreadUser

GUEST_A = "+16502240001"
GUEST_B = "+14083210001"
GUEST_C = "+16505130001"

C_CREATED = datetime(2026, 2, 12, 17, 19, 56, 260000, tzinfo=UTC)
C_LAST_MESSAGE = datetime(2026, 2, 13, 7, 29, 31, 319000, tzinfo=UTC)
C_EXPIRED = datetime(2026, 2, 16, 7, 29, 31, 319000, tzinfo=UTC)
AB_CREATED = datetime(2026, 2, 17, 17, 12, 39, 676000, tzinfo=UTC)
B_RESOLVED = datetime(2026, 2, 17, 17, 50, 27, 600000, tzinfo=UTC)

#: The seed's sample response (the fields threadcore models; X masks a digit).
SAMPLE: list[dict[str, Any]] = [
    {
        "status": "Open",
        "availability": "Alive",
        "ownerParty": {"phoneNumber": "+1209248XXXX"},
        "guestParty": {"phoneNumber": "+1650224XXXX"},
        "owner": {
            "extensionId": "6249888XXXX",
            "name": "Billing Queue",
            "extensionType": "Department",
        },
        "creationTime": "2026-02-17T17:12:39.676Z",
        "lastModifiedTime": "2026-02-17T17:12:39.676Z",
    },
    {
        "status": "Resolved",
        "availability": "Alive",
        "ownerParty": {"phoneNumber": "+1209248XXXX"},
        "guestParty": {"phoneNumber": "+1408321XXXX"},
        "owner": {
            "extensionId": "6249888XXXX",
            "name": "Billing Queue",
            "extensionType": "Department",
        },
        "label": "You can close this case.",
        "statusReason": "Manual",
        "creationTime": "2026-02-17T17:12:39.676Z",
        "lastModifiedTime": "2026-02-17T17:50:27.600Z",
    },
    {
        "status": "Resolved",
        "availability": "Alive",
        "ownerParty": {"phoneNumber": "+1209248XXXX"},
        "guestParty": {"phoneNumber": "+1650513XXXX"},
        "owner": {
            "extensionId": "6249888XXXX",
            "name": "Billing Queue",
            "extensionType": "Department",
        },
        "label": "Thank you",
        "statusReason": "ThreadExpired",
        "creationTime": "2026-02-12T17:19:56.260Z",
        "lastModifiedTime": "2026-02-16T07:29:31.319Z",
    },
]


@pytest.fixture
def clock() -> ManualClock:
    """The sample's history starts on 2026-02-12, before the suite's usual start."""
    return ManualClock(C_CREATED)


def rfc3339(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


#: The picture thread (a) opens with.
RECEIPT = "https://media.example.com/mms/receipt.jpg"


def masked(pattern: str, value: str) -> bool:
    """Whether ``value`` is what the sample shows as ``pattern``: the sample masks the tail with
    one X per digit (our extension id is one digit shorter than the sample's)."""
    head = pattern.rstrip("X")
    tail = value[len(head) :]
    return value.startswith(head) and tail.isdigit() and len(tail) <= len(pattern) - len(head)


def matches_sample(thread: Thread, sample: dict[str, Any]) -> None:
    assert thread.status == sample["status"]
    assert thread.availability == sample["availability"]
    assert masked(sample["ownerParty"]["phoneNumber"], thread.owner_party.phone_number)
    assert masked(sample["guestParty"]["phoneNumber"], thread.guest_party.phone_number)
    assert masked(sample["owner"]["extensionId"], thread.owner.extension_id)
    assert thread.owner.name == sample["owner"]["name"]
    assert thread.owner.extension_type == sample["owner"]["extensionType"]
    assert thread.status_reason == sample.get("statusReason")
    if "label" in sample:
        assert thread.label == sample["label"]
    assert rfc3339(thread.creation_time) == sample["creationTime"]
    assert rfc3339(thread.last_modified_time) == sample["lastModifiedTime"]
    assert thread.assignee is None  # none of the sample threads has one


def replay_sample(inbox: Inbox, clock: ManualClock) -> tuple[str, str, str]:
    """The commands behind the sample; returns the ids of threads (a), (b) and (c)."""
    # (c) A customer writes on 2026-02-12; 101 takes it and answers "Thank you" the next morning.
    c = inbox.receive(owner_number=OWNER, guest_number=GUEST_C, body="Got my invoice, all good")
    clock.set(datetime(2026, 2, 12, 17, 25, tzinfo=UTC))
    inbox.assign(c.thread_id, actor="101", assignee="101")
    clock.set(C_LAST_MESSAGE)
    inbox.send(actor="101", thread_id=c.thread_id, body="Thank you")
    # (a) and (b) Two customers write at the same instant on 2026-02-17.
    clock.set(AB_CREATED)
    # (a) opens with a picture and no text: the seed's open thread has no label (R13).
    a = inbox.receive(owner_number=OWNER, guest_number=GUEST_A, body="", attachments=[RECEIPT])
    b = inbox.receive(owner_number=OWNER, guest_number=GUEST_B, body="My bill is wrong")
    clock.set(datetime(2026, 2, 17, 17, 20, tzinfo=UTC))
    inbox.assign(b.thread_id, actor="101", assignee="102")
    clock.set(datetime(2026, 2, 17, 17, 31, 5, 250000, tzinfo=UTC))
    inbox.send(actor="102", thread_id=b.thread_id, body="Sorry, I refunded the difference.")
    clock.set(datetime(2026, 2, 17, 17, 48, 12, 4000, tzinfo=UTC))
    inbox.receive(owner_number=OWNER, guest_number=GUEST_B, body="You can close this case.")
    clock.set(B_RESOLVED)
    inbox.resolve(b.thread_id, actor="102")
    return a.thread_id, b.thread_id, c.thread_id


def test_the_sample_threads_are_rebuilt_exactly(inbox: Inbox, clock: ManualClock) -> None:
    a_id, b_id, c_id = replay_sample(inbox, clock)
    a, b, c = (inbox.get(thread_id, actor="103") for thread_id in (a_id, b_id, c_id))
    for thread, sample in zip((a, b, c), SAMPLE, strict=True):
        matches_sample(thread, sample)

    owner = OwnerResource(QUEUE, "Billing Queue", "Department")
    assert (a.owner, b.owner, c.owner) == (owner, owner, owner)
    assert a.owner_party == b.owner_party == c.owner_party == Party(OWNER)
    assert (a.guest_party, b.guest_party, c.guest_party) == (
        Party(GUEST_A),
        Party(GUEST_B),
        Party(GUEST_C),
    )

    assert a.status is ThreadStatus.OPEN
    assert a.availability is Availability.ALIVE
    assert a.status_reason is None
    assert a.creation_time == a.last_modified_time == AB_CREATED
    assert a.creation_time.microsecond == 676000
    assert a.label is None  # R13: opened by a picture without text

    assert b.status is ThreadStatus.RESOLVED
    assert b.status_reason is StatusReason.MANUAL
    assert b.label == "You can close this case."
    assert b.creation_time == AB_CREATED
    assert b.last_modified_time == B_RESOLVED
    assert b.last_modified_time.microsecond == 600000

    assert c.status is ThreadStatus.RESOLVED
    assert c.status_reason is StatusReason.THREAD_EXPIRED
    assert c.label == "Thank you"
    assert c.creation_time == C_CREATED
    assert c.last_modified_time == C_EXPIRED == C_LAST_MESSAGE + timedelta(hours=72)
    assert c.latest_message_at == C_LAST_MESSAGE


def test_the_sample_is_the_same_after_the_sweep(inbox: Inbox, clock: ManualClock) -> None:
    a_id, b_id, c_id = replay_sample(inbox, clock)
    before = [inbox.get(thread_id, actor="101") for thread_id in (a_id, b_id, c_id)]
    swept = inbox.expire()
    assert swept == []  # the first read that showed c expired wrote it (rule R10b)
    after = [inbox.get(thread_id, actor="101") for thread_id in (a_id, b_id, c_id)]
    assert after == before
    for thread, sample in zip(after, SAMPLE, strict=True):
        matches_sample(thread, sample)


def test_the_sample_is_produced_by_exactly_these_events(inbox: Inbox, clock: ManualClock) -> None:
    a_id, b_id, c_id = replay_sample(inbox, clock)
    inbox.expire()
    events = [event for _, event in inbox.events()]
    assert [(type(e).__name__, e.thread_id) for e in events] == [
        ("ThreadOpened", c_id),
        ("MessageAdded", c_id),
        ("ThreadAssigned", c_id),
        ("MessageAdded", c_id),
        ("ThreadOpened", a_id),
        ("MessageAdded", a_id),
        ("ThreadOpened", b_id),
        ("MessageAdded", b_id),
        ("ThreadAssigned", b_id),
        ("MessageAdded", b_id),
        ("MessageAdded", b_id),
        ("ThreadResolved", b_id),
        ("ThreadResolved", c_id),
    ]
    assert events[2].assignee == ThreadUser("101")
    assert events[8].assignee == ThreadUser("102", "Ann Lee")
    assert events[11] == ThreadResolved(b_id, B_RESOLVED, StatusReason.MANUAL, "102")
    # The expiry is dated when the thread became due, not when the sweep ran.
    assert events[12] == ThreadResolved(c_id, C_EXPIRED, StatusReason.THREAD_EXPIRED, None)
    assert [e.at for e in events[4:8]] == [AB_CREATED] * 4


def test_the_sample_messages(inbox: Inbox, clock: ManualClock) -> None:
    a_id, b_id, c_id = replay_sample(inbox, clock)
    assert [(m.body, m.attachments) for m in inbox.messages(a_id, actor="101")] == [
        ("", (RECEIPT,))
    ]
    assert [(m.direction, m.body) for m in inbox.messages(b_id, actor="101")] == [
        ("Inbound", "My bill is wrong"),
        ("Outbound", "Sorry, I refunded the difference."),
        ("Inbound", "You can close this case."),
    ]
    c_messages = inbox.messages(c_id, actor="101")
    assert [m.body for m in c_messages] == ["Got my invoice, all good", "Thank you"]
    assert c_messages[-1].created_at == C_LAST_MESSAGE
    assert c_messages[-1].author == ThreadUser("101")
