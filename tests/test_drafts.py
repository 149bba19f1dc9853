"""Issue 5, drafts: M6 (``save_draft``, ``send_draft``, ``discard_draft``, ``drafts``), proved
through the public ``Inbox`` API and named after the rule."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import observe
import pytest
from conftest import BOTH, GUEST, OWNER, TTL, MakeInbox
from observe import new_events

from threadcore import Direction, Inbox, ManualClock, Policy, SyncType, ThreadStatus
from threadcore.domain.errors import DraftNotFound, RecipientOptedOut
from threadcore.domain.events import DraftDiscarded, DraftSaved, DraftSent
from threadcore.domain.model import DeliveryStatus, EntryScope, Message, MessageSource
from threadcore.domain.queries import MessageFilter
from threadcore.errors import (
    InvalidInput,
    NotAssignee,
    ThreadDeletedError,
    ThreadNotFound,
    ThreadNotOpen,
    ThreadUnassigned,
)
from threadcore.events import MessageAdded, ThreadAssigned
from threadcore.model import ThreadUser

ANN = ThreadUser("102", "Ann Lee", "User")
U103 = ThreadUser("103", None, "User")


# --- helpers ------------------------------------------------------------------------------------
def snapshot(inbox: Inbox) -> tuple[Any, ...]:
    return observe.snapshot(inbox, "101", [(OWNER, GUEST)])


#: ``command`` raises exactly ``error`` and changes nothing (see ``observe.refused``).
refused = partial(observe.refused, actor="101", pairs=[(OWNER, GUEST)])


def thread_for_ann(inbox: Inbox, guest: str = GUEST) -> str:
    """An open thread opened by the guest and assigned to 102 (Ann Lee)."""
    thread_id = inbox.receive(owner_number=OWNER, guest_number=guest, body="Hi").thread_id
    inbox.assign(thread_id, actor="101", assignee="102")
    return thread_id


def position(inbox: Inbox) -> int:
    stored = inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)
    return stored[-1][0] if stored else 0


# === M6: drafts =================================================================================
def test_m6_a_saved_draft_is_an_unsent_outbound_message(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    thread_before = inbox.get(thread_id, actor="101")
    clock.advance(timedelta(minutes=5))
    cursor = position(inbox)
    draft = inbox.save_draft(
        thread_id,
        actor="103",  # any handler, not only the assignee
        body="We are on it",
        attachments=["https://cdn.example.com/a.png"],
        is_automated=True,
        source=MessageSource.WORKFLOW,
    )
    assert draft.status is DeliveryStatus.DRAFT
    assert draft.direction is Direction.OUTBOUND
    assert draft.author == U103
    assert draft.thread_id == thread_id
    assert draft.body == "We are on it"
    assert draft.attachments == ("https://cdn.example.com/a.png",)
    assert (draft.is_automated, draft.source) == (True, MessageSource.WORKFLOW)
    assert draft.sent_at is None
    assert new_events(inbox, cursor) == [DraftSaved(thread_id, clock.now(), draft.id, "103")]
    assert inbox.drafts(thread_id, actor="101") == [draft]
    # not a message: not listed, not the label, not a change of the thread record
    assert [m.body for m in inbox.messages(thread_id, actor="101")] == ["Hi"]
    assert draft.id not in [m.id for m in inbox.list_messages(actor="101")]
    assert inbox.get(thread_id, actor="101") == thread_before


def test_m6_a_draft_is_not_activity(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    opened = inbox.get(thread_id, actor="101")
    clock.advance(TTL - timedelta(seconds=1))
    inbox.save_draft(thread_id, actor="102", body="draft")
    clock.advance(timedelta(seconds=1))
    thread = inbox.get(thread_id, actor="101")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.last_modified_time == opened.latest_message_at + TTL


def test_m6_any_handler_changes_a_draft(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(thread_id, actor="102", body="first try")
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    changed = inbox.save_draft(
        thread_id,
        actor="101",
        body="second try",
        attachments=["https://cdn.example.com/b.png"],
        draft_id=draft.id,
    )
    assert changed.id == draft.id
    assert (changed.body, changed.attachments) == ("second try", ("https://cdn.example.com/b.png",))
    assert changed.status is DeliveryStatus.DRAFT
    assert changed.last_modified_at == clock.now()
    assert new_events(inbox, cursor) == [DraftSaved(thread_id, clock.now(), draft.id, "101")]
    assert inbox.drafts(thread_id, actor="103") == [changed]


def test_m6_drafts_are_listed_oldest_first(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    other = thread_for_ann(inbox, "+14083210001")
    made = []
    for i in range(3):
        made.append(inbox.save_draft(thread_id, actor="101", body=f"d{i}"))
        inbox.save_draft(other, actor="101", body=f"other {i}")
        clock.advance(timedelta(seconds=1))
    inbox.save_draft(thread_id, actor="103", body="d0 changed", draft_id=made[0].id)
    assert [d.body for d in inbox.drafts(thread_id, actor="102")] == ["d0 changed", "d1", "d2"]


def test_m6_saving_is_refused_where_the_thread_does_not_allow_it(
    inbox: Inbox, clock: ManualClock
) -> None:
    resolved = thread_for_ann(inbox)
    inbox.resolve(resolved, actor="101")
    deleted = thread_for_ann(inbox, "+14083210001")
    inbox.delete(deleted, actor="101")
    due = thread_for_ann(inbox, "+16505130001")
    clock.advance(TTL)  # due, and no sweep has run
    live = thread_for_ann(inbox)
    kept = inbox.save_draft(live, actor="101", body="kept")
    for command, error, code, status in (
        (
            lambda: inbox.save_draft(resolved, actor="101", body="x"),
            ThreadNotOpen,
            "ThreadNotOpen",
            409,
        ),
        (lambda: inbox.save_draft(due, actor="101", body="x"), ThreadNotOpen, "ThreadNotOpen", 409),
        (
            lambda: inbox.save_draft(deleted, actor="101", body="x"),
            ThreadDeletedError,
            "ThreadDeleted",
            410,
        ),
        (
            lambda: inbox.save_draft(live, actor="999", body="x"),
            ThreadNotFound,
            "ThreadNotFound",
            404,
        ),
        (
            lambda: inbox.save_draft("nope", actor="101", body="x"),
            ThreadNotFound,
            "ThreadNotFound",
            404,
        ),
        (
            lambda: inbox.save_draft(live, actor="101", body="x", draft_id="nope"),
            DraftNotFound,
            "DraftNotFound",
            404,
        ),
        (
            lambda: inbox.save_draft(live, actor="999", body="x", draft_id=kept.id),
            DraftNotFound,
            "DraftNotFound",
            404,
        ),
        (
            lambda: inbox.save_draft(live, actor="101", body="   "),
            InvalidInput,
            "InvalidInput",
            422,
        ),
        (
            lambda: inbox.save_draft(live, actor="101", body="x", attachments=["ftp://x/y"]),
            InvalidInput,
            "InvalidInput",
            422,
        ),
    ):
        refused(inbox, error, code, status, command)  # type: ignore[arg-type]


def test_m6_send_draft_sends_as_the_sender(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(
        thread_id,
        actor="103",
        body="Your refund is on its way",
        attachments=["https://cdn.example.com/r.pdf"],
        is_automated=True,
        source=MessageSource.CAMPAIGN,
    )
    clock.advance(timedelta(minutes=3))
    cursor = position(inbox)
    message = inbox.send_draft(draft.id, actor="102")
    assert message.id != draft.id
    assert message.author == ANN  # the sender, not the draft's saver
    assert message.direction is Direction.OUTBOUND
    assert message.status is DeliveryStatus.QUEUED
    assert (message.body, message.attachments) == (draft.body, draft.attachments)
    assert (message.is_automated, message.source) == (True, MessageSource.CAMPAIGN)
    assert message.created_at == clock.now()
    events = new_events(inbox, cursor)
    assert [type(e) for e in events] == [DraftSent, MessageAdded]
    assert events[0] == DraftSent(thread_id, clock.now(), draft.id, message.id, "102")
    assert inbox.drafts(thread_id, actor="101") == []
    assert [m.id for m in inbox.messages(thread_id, actor="101")][-1] == message.id
    thread = inbox.get(thread_id, actor="101")  # a real message: activity and the label
    assert (thread.label, thread.latest_message_at) == (draft.body, clock.now())
    for command in (
        lambda: inbox.send_draft(draft.id, actor="102"),
        lambda: inbox.discard_draft(draft.id, actor="102"),
        lambda: inbox.save_draft(thread_id, actor="102", body="x", draft_id=draft.id),
    ):
        refused(inbox, DraftNotFound, "DraftNotFound", 404, command)


def test_m6_send_draft_follows_the_rules_of_send(make_inbox: MakeInbox) -> None:
    inbox = make_inbox()
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(thread_id, actor="101", body="draft")
    refused(inbox, NotAssignee, "NotAssignee", 403, lambda: inbox.send_draft(draft.id, actor="101"))
    refused(
        inbox, DraftNotFound, "DraftNotFound", 404, lambda: inbox.send_draft(draft.id, actor="999")
    )
    inbox.assign(thread_id, actor="102", assignee=None)
    refused(
        inbox,
        ThreadUnassigned,
        "ThreadUnassigned",
        409,
        lambda: inbox.send_draft(draft.id, actor="101"),
    )
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="stop")
    inbox.assign(thread_id, actor="101", assignee="101")
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send_draft(draft.id, actor="101"),
    )
    assert inbox.drafts(thread_id, actor="101") == [draft]


def test_m6_send_draft_claims_with_claim_on_send(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(policy=Policy(ttl=TTL, claim_on_send=True))
    thread_id = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi").thread_id
    draft = inbox.save_draft(thread_id, actor="103", body="draft")
    cursor = position(inbox)
    message = inbox.send_draft(draft.id, actor="101")
    assert inbox.get(thread_id, actor="101").assignee is not None
    assert inbox.get(thread_id, actor="101").assignee.extension_id == "101"  # type: ignore[union-attr]
    kinds = [type(e) for e in new_events(inbox, cursor)]
    assert kinds == [ThreadAssigned, DraftSent, MessageAdded]
    assert message.author is not None
    assert message.author.extension_id == "101"


def test_m6_a_resolved_thread_keeps_its_drafts_for_discarding(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = thread_for_ann(inbox)
    first = inbox.save_draft(thread_id, actor="102", body="first")
    second = inbox.save_draft(thread_id, actor="102", body="second")
    inbox.resolve(thread_id, actor="101")
    assert inbox.drafts(thread_id, actor="101") == [first, second]
    for command in (
        lambda: inbox.save_draft(thread_id, actor="102", body="x", draft_id=first.id),
        lambda: inbox.save_draft(thread_id, actor="102", body="x"),
        lambda: inbox.send_draft(first.id, actor="102"),
    ):
        refused(inbox, ThreadNotOpen, "ThreadNotOpen", 409, command)
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    inbox.discard_draft(first.id, actor="103")
    assert new_events(inbox, cursor) == [DraftDiscarded(thread_id, clock.now(), first.id, "103")]
    assert inbox.drafts(thread_id, actor="101") == [second]


def test_m6_an_expired_thread_keeps_its_drafts_for_discarding(
    inbox: Inbox, clock: ManualClock
) -> None:
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(thread_id, actor="102", body="draft")
    clock.advance(TTL)  # due; no sweep
    refused(
        inbox, ThreadNotOpen, "ThreadNotOpen", 409, lambda: inbox.send_draft(draft.id, actor="102")
    )
    refused(
        inbox,
        ThreadNotOpen,
        "ThreadNotOpen",
        409,
        lambda: inbox.save_draft(thread_id, actor="102", body="x", draft_id=draft.id),
    )
    inbox.expire()
    assert inbox.drafts(thread_id, actor="101") == [draft]
    inbox.discard_draft(draft.id, actor="102")
    assert inbox.drafts(thread_id, actor="101") == []


def test_m6_discarding_throws_the_draft_away(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(thread_id, actor="102", body="draft")
    before = inbox.get(thread_id, actor="101")
    refused(
        inbox,
        DraftNotFound,
        "DraftNotFound",
        404,
        lambda: inbox.discard_draft(draft.id, actor="999"),
    )
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    inbox.discard_draft(draft.id, actor="101")
    assert new_events(inbox, cursor) == [DraftDiscarded(thread_id, clock.now(), draft.id, "101")]
    assert inbox.drafts(thread_id, actor="101") == []
    assert inbox.get(thread_id, actor="101") == before
    for command in (
        lambda: inbox.discard_draft(draft.id, actor="101"),
        lambda: inbox.send_draft(draft.id, actor="102"),
        lambda: inbox.discard_draft("nope", actor="101"),
    ):
        refused(inbox, DraftNotFound, "DraftNotFound", 404, command)


def test_m6_deleting_the_thread_deletes_its_drafts(inbox: Inbox) -> None:
    thread_id = thread_for_ann(inbox)
    draft = inbox.save_draft(thread_id, actor="102", body="draft")
    inbox.delete(thread_id, actor="101")
    assert inbox.drafts(thread_id, actor="101") == []
    before = snapshot(inbox)
    # the doc names no error for this (a deleted draft, or a command on a deleted thread)
    with pytest.raises((DraftNotFound, ThreadDeletedError)):
        inbox.send_draft(draft.id, actor="102")
    with pytest.raises((DraftNotFound, ThreadDeletedError)):
        inbox.discard_draft(draft.id, actor="102")
    assert snapshot(inbox) == before


def test_m6_drafts_never_appear_in_an_entries_sync(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = thread_for_ann(inbox)
    full = inbox.sync_entries(actor="102", scope=EntryScope.ACCESSIBLE)
    clock.advance(timedelta(minutes=1))
    draft = inbox.save_draft(thread_id, actor="102", body="draft")
    changed = inbox.save_draft(thread_id, actor="102", body="draft 2", draft_id=draft.id)
    incremental = inbox.sync_entries(
        actor="102", sync_type=SyncType.INCREMENTAL, sync_token=full.sync_token
    )
    assert incremental.records == ()
    refull = inbox.sync_entries(actor="102", scope=EntryScope.ACCESSIBLE)
    assert draft.id not in {e.id for e in refull.records}
    clock.advance(timedelta(minutes=1))
    inbox.discard_draft(changed.id, actor="102")
    again = inbox.sync_entries(
        actor="102", sync_type=SyncType.INCREMENTAL, sync_token=incremental.sync_token
    )
    assert again.records == ()


def test_m6_a_draft_is_not_a_message(inbox: Inbox) -> None:
    thread_id = thread_for_ann(inbox)
    draft: Message = inbox.save_draft(thread_id, actor="102", body="draft")
    assert draft.id not in [
        m.id for m in inbox.list_messages(actor="101", filter=MessageFilter(availability=BOTH))
    ]
