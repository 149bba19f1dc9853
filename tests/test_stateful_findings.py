"""Disagreements the stateful machine found between the Inbox and docs/rules.md (issue 5).

Each test is the smallest example of one, written as a plain test so that it reads without the
machine. They fail until the Inbox follows the rule quoted in the test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import GUEST, OWNER, SUPPORT_NUMBER, two_queue_directory

from threadcore import Inbox, ManualClock, ThreadcoreError


def test_m6_a_draft_change_sets_is_automated_and_source(
    make_inbox: Callable[..., Inbox],
) -> None:
    """M6: ``save_draft(..., is_automated=, source=, draft_id=)`` "changes one"; send_draft
    sends "the draft's body, attachments, is_automated and source". A change that only sets
    ``is_automated`` or ``source`` was dropped (no change, no DraftSaved). Fixed since."""
    inbox = make_inbox()
    thread_id = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi").thread_id
    draft = inbox.save_draft(thread_id, actor="101", body="Hello")
    changed = inbox.save_draft(
        thread_id,
        actor="101",
        body="Hello",
        is_automated=True,
        source="workflow",
        draft_id=draft.id,
    )
    assert changed.is_automated is True
    assert changed.source == "workflow"


def test_m6_drafts_are_never_listed_with_the_messages(make_inbox: Callable[..., Inbox]) -> None:
    """M6: a draft "is never listed with the messages" (and Q3: ``messages()`` returns the alive
    messages). ``Inbox.messages`` returned the thread's drafts too. Fixed since."""
    inbox = make_inbox()
    message = inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.save_draft(message.thread_id, actor="101", body="Draft")
    assert [m.id for m in inbox.messages(message.thread_id, actor="101")] == [message.id]


def test_e3_late_changes_of_a_closed_thread_stay_unreported_when_it_is_deleted(
    make_inbox: Callable[..., Inbox],
) -> None:
    """E3: "a thread that closed (resolved, expired, deleted) before the token was issued is gone
    from the client, so late changes to its messages (a delivery callback, a deletion) are not
    reported". That holds until the thread is later deleted: then the late message deletion is
    reported as a DeletedMessage entry next to the ThreadDeletedHint."""
    inbox = make_inbox()
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.resolve(message.thread_id, actor="101")
    token = inbox.sync_entries(actor="101", scope="Accessible").sync_token
    inbox.delete_messages([message.id], actor="101")  # a late change: not reported
    inbox.delete(message.thread_id, actor="101")
    found = inbox.sync_entries(actor="101", sync_type="ISync", sync_token=token)
    assert [(e.record_type.value, e.id) for e in found.records] == [
        ("ThreadDeletedHint", f"{message.thread_id}-deleted")
    ]


def test_m5_r14_an_invisible_message_id_answers_like_an_unknown_one(
    make_inbox: Callable[..., Inbox],
) -> None:
    """M5: ``delete_messages`` answers ``MessageNotFound`` "for an unknown, invisible or draft
    id"; R14: to a non-handler a record "does not exist ... so ids cannot be probed". Next to an
    id on a deleted thread, an unknown id is MessageNotFound but another resource's message id is
    ThreadDeleted today, so a handler can tell which ids exist elsewhere."""
    inbox = make_inbox(directory=two_queue_directory(support_handlers=("201",)))
    mine = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.delete(mine.thread_id, actor="101")
    theirs = inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST, body="Hi")
    codes = []
    for other in (theirs.id, "no-such-message"):
        with pytest.raises(ThreadcoreError) as refused:
            inbox.delete_messages([mine.id, other], actor="101")
        codes.append(refused.value.code)
    assert codes[0] == codes[1] == "MessageNotFound"


def test_s2_m5_a_relabel_in_the_instant_of_the_token_is_reported(
    make_inbox: Callable[..., Inbox], clock: ManualClock
) -> None:
    """S2: an incremental sync returns "exactly the threads ... whose record changed since the
    token was issued"; M5: deleting a message relabels the thread, "which changes the thread
    record (last_modified_time, thread ISync)". On a thread that expired before the token, a
    relabel in the same instant as the token is lost (one microsecond later it is reported):
    it is taken for the already-seen expiry."""
    inbox = make_inbox()
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    clock.advance(timedelta(hours=73))  # expired an hour ago; nothing swept it
    token = inbox.sync(actor="101").sync_token
    inbox.delete_messages([message.id], actor="101")  # label "Hi" -> None, same instant
    assert inbox.get(message.thread_id, actor="101").label is None
    found = inbox.sync(actor="101", sync_type="ISync", sync_token=token)
    assert [t.id for t in found.records] == [message.thread_id]
