"""Carrier ids (issue 14; rule M2a): ``attach_provider_id`` records the carrier's id of an outbound
message once the carrier accepted it, and ``record_delivery(provider_message_id=...)`` names the
message by it; the same on memory, SQLite and PostgreSQL, and from another process."""

from __future__ import annotations

import pytest
import stores
from conftest import GUEST, OWNER, START

from threadcore import DeliveryStatus, EntryScope, ManualClock, SyncType
from threadcore.errors import (
    IdempotencyConflict,
    ImpossibleStatusChange,
    InvalidInput,
    MessageNotFound,
)
from threadcore.events import CarrierIdAttached, DeliveryStatusChanged

pytest_plugins = ["conftest_pg"]
store = stores.store


def _sent(inbox: object) -> tuple[str, str]:
    """An outbound message on a new thread: (its id, its thread's id)."""
    send = inbox.send  # type: ignore[attr-defined]
    sent = send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Hi")
    return sent.id, sent.thread_id


def test_a_delivery_report_names_the_message_by_the_carriers_id(store: stores.Store) -> None:
    clock = ManualClock(START)
    inbox = stores.inbox_on(store(), clock)
    message_id, thread_id = _sent(inbox)
    mark = inbox.events()[-1][0]
    attached = inbox.attach_provider_id(message_id, "SM-1")
    assert attached.provider_message_id == "SM-1"
    assert attached.version == 2
    assert inbox.attach_provider_id(message_id, "SM-1") == attached  # a retry changes nothing
    other = stores.inbox_on(store(), clock)  # another process: the carrier's callback
    delivered = other.record_delivery(status="Delivered", provider_message_id="SM-1")
    assert delivered.id == message_id
    assert delivered.status is DeliveryStatus.DELIVERED
    again = other.record_delivery(status="Delivered", provider_message_id="SM-1")  # retried
    assert again == delivered
    events = [event for _, event in inbox.events(cursor=inbox.feed_cursor(mark))]
    assert events == [
        CarrierIdAttached(thread_id, START, message_id, "SM-1"),
        DeliveryStatusChanged(
            thread_id, START, message_id, DeliveryStatus.DELIVERED, DeliveryStatus.QUEUED
        ),
    ]


def test_a_carrier_id_is_the_messages_once_and_only_its(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    first, _ = _sent(inbox)
    second = inbox.send(actor="101", owner_number=OWNER, guest_number="+16502240002", body="Yo")
    inbox.attach_provider_id(first, "SM-1")
    with pytest.raises(IdempotencyConflict):
        inbox.attach_provider_id(first, "SM-2")  # the message has its id already
    with pytest.raises(IdempotencyConflict):
        inbox.attach_provider_id(second.id, "SM-1")  # the id is another message's
    assert inbox.message(second.id, actor="101").provider_message_id is None


def test_unknown_and_unfit_messages_are_refused(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    _, thread_id = _sent(inbox)
    received = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Thanks", provider_message_id="SM-in"
    )
    draft = inbox.save_draft(thread_id, actor="101", body="later")
    with pytest.raises(MessageNotFound):
        inbox.attach_provider_id("no-such-message", "SM-1")
    with pytest.raises(MessageNotFound):
        inbox.attach_provider_id(draft.id, "SM-1")  # a draft is not sent
    with pytest.raises(ImpossibleStatusChange):
        inbox.attach_provider_id(received.id, "SM-1")  # inbound: its carrier id came with it
    with pytest.raises(MessageNotFound):
        inbox.record_delivery(status="Delivered", provider_message_id="SM-unknown")
    with pytest.raises(ImpossibleStatusChange):
        inbox.record_delivery(status="Delivered", provider_message_id="SM-in")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "Delivered"},  # neither id
        {"message_id": "m", "provider_message_id": "SM-1", "status": "Delivered"},  # both
        {"provider_message_id": "SM-1"},  # no status
        {"provider_message_id": "", "status": "Delivered"},
    ],
)
def test_a_report_names_its_message_one_way_and_has_a_status(kwargs: dict[str, str]) -> None:
    inbox = stores.inbox_on(stores.InMemoryRepository(), ManualClock(START))
    with pytest.raises(InvalidInput) as caught:
        inbox.record_delivery(**kwargs)  # type: ignore[arg-type]
    assert caught.value.parameter in ("messageId", "status", "providerMessageId")


def test_an_entries_client_hears_of_the_attached_id(store: stores.Store) -> None:
    inbox = stores.inbox_on(store(), ManualClock(START))
    message_id, _ = _sent(inbox)
    token = inbox.sync_entries(actor="101", scope=EntryScope.ACCESSIBLE).sync_token
    inbox.attach_provider_id(message_id, "SM-1")
    later = inbox.sync_entries(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token)
    assert [entry.id for entry in later.records] == [message_id]
