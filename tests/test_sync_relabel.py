"""Incremental sync reports a thread only when its record changed, whenever the sweep ran
(issue 12, item 7; rules S2, R10): deleting an older message of an expired thread leaves its
label as it was, so it is not a change; deleting the message its label comes from is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import GUEST, OWNER, TTL, MakeInbox

from threadcore import ManualClock, SyncType


@pytest.mark.parametrize("sweep", ["never", "before the token", "after the token"])
@pytest.mark.parametrize("delete", ["older", "latest"])
def test_deleting_a_message_of_an_expired_thread_is_news_only_if_it_relabels(
    make_inbox: MakeInbox, clock: ManualClock, sweep: str, delete: str
) -> None:
    inbox = make_inbox()
    older = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="older text")
    clock.advance(timedelta(minutes=1))
    latest = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="latest text")
    clock.advance(TTL + timedelta(hours=1))  # the thread has expired
    if sweep == "before the token":
        assert len(inbox.expire()) == 1
    token = inbox.sync(actor="101").sync_token  # the client knows it is closed
    clock.advance(timedelta(minutes=5))
    if sweep == "after the token":  # nothing left: the full sync wrote what it left out (R10b)
        assert inbox.expire() == []
    gone = older if delete == "older" else latest
    inbox.delete_messages([gone.id], actor="101")
    answer = inbox.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token)
    thread = inbox.get(older.thread_id, actor="101")
    if delete == "older":
        assert thread.label == "latest text"
        assert answer.records == ()
    else:
        assert thread.label == "older text"
        assert [t.id for t in answer.records] == [thread.id]
        assert answer.records[0].label == "older text"
