"""threadcore.wire: the golden sample, the rules each shape follows, and clear errors.

The round-trip and hostile-JSON properties are in ``test_wire_properties.py``; the examples in
``docs/wire.md`` are checked by ``test_wire_docs.py``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_seed_sample import clock, replay_sample  # the sample's clock fixture and commands

from threadcore import Inbox, ManualClock, Page, ThreadFilter, wire
from threadcore.domain.errors import WireFormatError
from threadcore.domain.model import DeliveryStatus, Direction, Message, ThreadUser
from threadcore.errors import InvalidSyncToken, NotAssignee, ThreadNotFound

__all__ = ["clock"]  # the fixture is used by name

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "001_434161b56f4dc772.txt"

#: The seed's sample list response, exactly as the seed page shows it (the page lost the
#: indentation; ids and the masked digits are the seed's).
SAMPLE_TEXT = """\
[
{
"id": "07d6d352-2c96-40b8-a704-2505fdbdfa0a",
"status": "Open",
"availability": "Alive",
"ownerParty": {
"phoneNumber": "+1209248XXXX"
},
"guestParty": {
"phoneNumber": "+1650224XXXX"
},
"owner": {
"extensionId": "6249888XXXX",
"name": "Billing Queue",
"extensionType": "Department"
},
"creationTime": "2026-02-17T17:12:39.676Z",
"lastModifiedTime": "2026-02-17T17:12:39.676Z"
},
{
"id": "805808d1-31d2-4f01-867b-a5cff52d96ea",
"status": "Resolved",
"availability": "Alive",
"ownerParty": {
"phoneNumber": "+1209248XXXX"
},
"guestParty": {
"phoneNumber": "+1408321XXXX"
},
"owner": {
"extensionId": "6249888XXXX",
"name": "Billing Queue",
"extensionType": "Department"
},
"label": "You can close this case.",
"statusReason": "Manual",
"creationTime": "2026-02-17T17:12:39.676Z",
"lastModifiedTime": "2026-02-17T17:50:27.600Z"
},
{
"id": "ebf18942-9cd4-4980-9fa3-e1ddfec7c45a",
"status": "Resolved",
"availability": "Alive",
"ownerParty": {
"phoneNumber": "+1209248XXXX"
},
"guestParty": {
"phoneNumber": "+1650513XXXX"
},
"owner": {
"extensionId": "6249888XXXX",
"name": "Billing Queue",
"extensionType": "Department"
},
"label": "Thank you",
"statusReason": "ThreadExpired",
"creationTime": "2026-02-12T17:19:56.260Z",
"lastModifiedTime": "2026-02-16T07:29:31.319Z"
}
]"""
SAMPLE_IDS = [json.loads(SAMPLE_TEXT)[i]["id"] for i in range(3)]


#: sha256 of the seed's sample response, taken from ../shared/seeds/001_434161b56f4dc772.txt.
SAMPLE_SHA256 = "a2578a720f35e3f4e41f03b0959faa858e6ae255a4acddb843e9d71aa4484ca5"


def test_the_embedded_sample_is_the_seeds() -> None:
    """The embedded copy is the seed's, byte for byte: against the seed itself where the seeds
    sit next to the checkout, and always against the digest recorded from it."""
    assert hashlib.sha256(SAMPLE_TEXT.encode()).hexdigest() == SAMPLE_SHA256
    if SEED.exists():
        text = SEED.read_text()
        start = text.index("Sample response\n[") + len("Sample response\n")
        assert text[start : text.index("\n]\n", start) + 2] == SAMPLE_TEXT


def _masked(record: dict[str, Any], sample_id: str) -> dict[str, Any]:
    """The record as the seed prints it: its id, the last four digits of phone numbers and the
    tail of the owner's extension id masked with X."""
    out = dict(record, id=sample_id)
    for party in ("ownerParty", "guestParty"):
        number = record[party]["phoneNumber"]
        out[party] = {"phoneNumber": number[:-4] + "XXXX"}
    owner = dict(record["owner"])
    assert owner["extensionId"].startswith("6249888")
    owner["extensionId"] = "6249888XXXX"
    out["owner"] = owner
    return out


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_the_seed_sample_list_response_byte_for_byte(inbox: Inbox, clock: ManualClock) -> None:
    """The list response for the sample's commands is the seed's, byte for byte per line (the
    seed page lost the indentation) up to the ids and masked digits. The open thread has no label
    because a picture without text opened it (R13)."""
    a, b, c = replay_sample(inbox, clock)
    body = wire.dump_thread_list(inbox.numbered_page(filter=ThreadFilter(), actor="103", page=1))
    # The reference sorts by creation time (threadcore too); the seed's sample does not.
    assert [r["id"] for r in body["records"]] == [c, a, b]
    assert body["paging"] == {
        "page": 1,
        "perPage": 100,
        "pageStart": 0,
        "pageEnd": 2,
        "totalPages": 1,
        "totalElements": 3,
    }
    by_id = {r["id"]: r for r in body["records"]}
    records = [_masked(by_id[t], s) for t, s in zip((a, b, c), SAMPLE_IDS, strict=True)]
    ours = json.dumps(records, indent=4, ensure_ascii=False)

    assert _lines(ours) == _lines(SAMPLE_TEXT)


def test_the_seed_sample_single_thread_and_sync(inbox: Inbox, clock: ManualClock) -> None:
    a, _b, c = replay_sample(inbox, clock)
    expired = wire.dump_thread(inbox.get(c, actor="101"))
    assert expired["statusReason"] == "ThreadExpired"
    assert "assignee" not in expired  # removed on resolution
    assert wire.dump_thread(wire.load_thread(expired)) == expired
    result = inbox.sync(actor="101")
    body = wire.dump_thread_sync(result)
    assert [r["id"] for r in body["records"]] == [a]
    assert body["syncInfo"] == {
        "syncType": "FSync",
        "syncToken": result.sync_token,
        "syncTime": "2026-02-17T17:50:27.600Z",
    }
    assert wire.load_thread_sync(body).sync_token == result.sync_token


def test_an_open_assigned_thread_shows_its_assignee_and_no_reason(
    inbox: Inbox, clock: ManualClock
) -> None:
    a, _, _ = replay_sample(inbox, clock)
    thread = inbox.assign(a, actor="102", assignee="102")
    body = wire.dump_thread(thread)
    assert body["assignee"] == {"extensionId": "102", "name": "Ann Lee", "extensionType": "User"}
    assert "statusReason" not in body
    deleted = wire.dump_thread(inbox.delete(a, actor="101"))
    assert deleted["availability"] == "Deleted"
    assert "assignee" not in deleted
    assert "statusReason" not in deleted


def test_messages_follow_the_platform_shape(inbox: Inbox, clock: ManualClock) -> None:
    _, b, _ = replay_sample(inbox, clock)
    inbound, outbound, _ = inbox.messages(b, actor="101")
    assert wire.dump_message(inbound) == {
        "id": inbound.id,
        "threadId": b,
        "availability": "Alive",
        "creationTime": "2026-02-17T17:12:39.676Z",
        "lastModifiedTime": "2026-02-17T17:12:39.676Z",
        "direction": "Inbound",
        "messageStatus": "Received",
        "text": "My bill is wrong",
    }
    body = wire.dump_message(outbound)
    assert body["author"] == {"extensionId": "102", "name": "Ann Lee", "extensionType": "User"}
    assert body["messageStatus"] == "Queued"
    loaded = wire.load_message(body)
    assert (loaded.id, loaded.body, loaded.author, loaded.status) == (
        outbound.id,
        outbound.body,
        outbound.author,
        outbound.status,
    )


def _message(status: DeliveryStatus, direction: Direction = Direction.OUTBOUND) -> Message:
    at = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
    return Message(
        id="m-1",
        thread_id="t-1",
        direction=direction,
        body="Hello",
        from_number="+12092480001",
        to_number="+16502240001",
        author=ThreadUser("101") if direction is Direction.OUTBOUND else None,
        created_at=at,
        last_modified_at=at,
        status=status,
    )


@pytest.mark.parametrize(
    ("status", "platform", "sms", "conversation"),
    [
        (DeliveryStatus.QUEUED, "Queued", "queued", "pending"),
        (DeliveryStatus.SENT, "Sent", "sent", "sent"),
        (DeliveryStatus.DELIVERED, "Delivered", "delivered", "delivered"),
        (DeliveryStatus.READ, "Delivered", "read", "read"),
        (DeliveryStatus.SENDING_FAILED, "SendingFailed", "sending_failed", "failed"),
        (DeliveryStatus.DELIVERY_FAILED, "DeliveryFailed", "delivery_failed", "undelivered"),
    ],
)
def test_delivery_statuses_on_each_shape(
    status: DeliveryStatus, platform: str, sms: str, conversation: str
) -> None:
    message = _message(status)
    assert wire.dump_message(message)["messageStatus"] == platform
    thread_body = wire.dump_sms_thread(_thread(), [message])
    assert thread_body["messages"][0]["status"] == sms
    assert wire.dump_conversation_message(message)["status"] == conversation
    assert wire.load_sms_thread(thread_body)[1][0].status is status
    assert wire.load_conversation_message(wire.dump_conversation_message(message)).status is status


def _thread() -> Any:
    from threadcore.domain.model import Availability, OwnerResource, Party, Thread, ThreadStatus

    at = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
    return Thread(
        id="t-1",
        owner_party=Party("+12092480001"),
        guest_party=Party("+16502240001"),
        owner=OwnerResource("6249888001", "Billing Queue", "Department"),
        creation_time=at,
        status=ThreadStatus.OPEN,
        availability=Availability.ALIVE,
        assignee=None,
        status_reason=None,
        label="Hello",
        last_modified_time=at,
        last_inbound_at=None,
        last_outbound_at=at,
        latest_message_at=at,
    )


def test_received_is_delivered_inbound_on_the_conversation_shape() -> None:
    body = wire.dump_conversation_message(_message(DeliveryStatus.RECEIVED, Direction.INBOUND))
    assert (body["direction"], body["status"], body["type"], body["messageType"]) == (
        "inbound",
        "delivered",
        2,
        "TYPE_SMS",
    )
    assert "userId" not in body
    assert wire.load_conversation_message(body).status is DeliveryStatus.RECEIVED
    with pytest.raises(WireFormatError) as caught:
        wire.load_conversation_message(dict(body, status="read"))
    assert caught.value.parameter == "status"


def test_a_draft_has_no_platform_or_conversation_shape_but_has_the_sms_one() -> None:
    draft = _message(DeliveryStatus.DRAFT)
    with pytest.raises(WireFormatError) as caught:
        wire.dump_message(draft)
    assert caught.value.parameter == "status"
    with pytest.raises(WireFormatError):
        wire.dump_conversation_message(draft)
    body = wire.dump_sms_thread(_thread(), [draft])
    assert body["messages"][0]["status"] == "draft"


def test_the_sms_thread_writes_nulls_and_classification_details() -> None:
    from threadcore.domain.model import Classification

    at = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
    classification = Classification(
        "c-1", "payment_inquiry", at, 0.9, details={"agent_metrics": {"uncertainties": []}}
    )
    message = _message(DeliveryStatus.RECEIVED, Direction.INBOUND)
    message = Message(**{**_fields(message), "classifications": (classification,)})
    body = wire.dump_sms_thread(_thread(), [message])
    assert body["last_inbound_at"] is None
    item = body["messages"][0]["classifications"][0]
    assert item["agent_confidence_score"] == 0.9
    assert item["agent_metrics"] == {"uncertainties": []}
    assert item["reason"] is None
    thread, (loaded,) = wire.load_sms_thread(body)
    assert thread.label == "Hello"
    assert loaded.classifications == (classification,)
    clash = Classification("c-2", "x", at, details={"reason": "twice"})
    with pytest.raises(WireFormatError):
        wire.dump_sms_thread(
            _thread(), [Message(**{**_fields(message), "classifications": (clash,)})]
        )


def _fields(message: Message) -> dict[str, Any]:
    import attrs

    return attrs.asdict(message, recurse=False)


def test_the_platform_error_body(inbox: Inbox, clock: ManualClock) -> None:
    a, _, _ = replay_sample(inbox, clock)
    inbox.assign(a, actor="101", assignee="101")
    with pytest.raises(NotAssignee) as refused:
        inbox.send(actor="102", thread_id=a, body="Hi")
    body = wire.dump_api_error(refused.value)
    assert body == {
        "errorCode": "NotAssignee",
        "message": "The thread is not assigned to extension [102] at the moment.",
        "errors": [
            {
                "errorCode": "NotAssignee",
                "message": "The thread is not assigned to extension [102] at the moment.",
            }
        ],
    }
    loaded = wire.load_api_error(body)
    assert isinstance(loaded, NotAssignee)
    assert loaded.actor == "102"
    with pytest.raises(InvalidSyncToken) as bad:
        inbox.sync(actor="101", sync_type="ISync", sync_token="nonsense")
    token_body = wire.dump_api_error(bad.value)
    assert token_body["message"].startswith("Parameter [syncToken] is invalid")
    assert token_body["errors"][0]["parameterName"] == "syncToken"
    again = wire.load_api_error(token_body)
    assert isinstance(again, InvalidSyncToken)
    assert again.reason == bad.value.reason
    with pytest.raises(WireFormatError) as unknown:
        wire.load_api_error(dict(body, errorCode="CMN-102"))
    assert unknown.value.parameter == "errorCode"


def test_the_conversation_error_body() -> None:
    assert wire.dump_error(ThreadNotFound("Thread [t-9] not found")) == {
        "statusCode": 404,
        "message": "Thread [t-9] not found",
        "error": "Not Found",
    }
    invalid = wire.dump_error(WireFormatError("Field [id] is required", parameter="id"))
    assert invalid == {
        "statusCode": 422,
        "message": ["Field [id] is required"],
        "error": "Unprocessable Entity",
    }
    assert type(wire.load_error(invalid)).__name__ == "InvalidInput"
    assert wire.load_error({"statusCode": 410, "message": "gone", "error": "Gone"}).status == 410
    unauthenticated = {"statusCode": 401, "message": "Invalid token", "error": "Unauthorized"}
    assert type(wire.load_error(unauthenticated)).__name__ == "Unauthenticated"
    with pytest.raises(WireFormatError) as caught:
        wire.load_error({"statusCode": 418, "message": "teapot", "error": "I'm a Teapot"})
    assert caught.value.parameter == "statusCode"


@pytest.mark.parametrize(
    ("change", "parameter", "words"),
    [
        ({"id": None}, "id", "must be a string, not null"),
        ({"status": "Closed"}, "status", "must be one of Open, Resolved"),
        ({"creationTime": "2026-02-17 17:12:39"}, "creationTime", "RFC 3339"),
        ({"creationTime": "2026-02-30T10:00:00.000Z"}, "creationTime", "not a valid time"),
        ({"lastModifiedTime": "2026-02-17T17:12:39.676"}, "lastModifiedTime", "with a zone"),
        ({"owner": {"name": "Billing"}}, "owner.extensionId", "is required"),
        ({"guestParty": {"phoneNumber": "650-224"}}, "guestParty.phoneNumber", "E.164"),
        ({"label": "x" * 1_000_000}, "label", "longer than"),
        ({"label": 7}, "label", "must be a string"),
        ({"statusReason": "Manual"}, "statusReason", "only for resolved threads"),
        ({"ownerParty": []}, "ownerParty", "must be an object"),
    ],
)
def test_malformed_threads_name_the_field(
    change: dict[str, Any], parameter: str, words: str
) -> None:
    body = wire.dump_thread(_thread())
    with pytest.raises(WireFormatError) as caught:
        wire.load_thread({**body, **change})
    assert caught.value.parameter == parameter
    assert words in caught.value.message
    assert caught.value.code == "WireFormatError"
    assert caught.value.status == 422


def test_malformed_lists_name_the_record() -> None:
    record = wire.dump_thread(_thread())
    page_body = {"records": [record, {**record, "availability": 1}], "paging": {"perPage": 100}}
    with pytest.raises(WireFormatError) as caught:
        wire.load_thread_list(page_body)
    assert caught.value.parameter == "records[1].availability"
    with pytest.raises(WireFormatError) as missing:
        wire.load_thread_list({"records": "abc", "paging": {"perPage": 100}})
    assert missing.value.parameter == "records"
    with pytest.raises(WireFormatError) as root:
        wire.load_thread_list([])  # type: ignore[arg-type]
    assert root.value.parameter == "$"
    with pytest.raises(WireFormatError) as paging:
        wire.load_thread_list({"records": [], "paging": {"perPage": True}})
    assert paging.value.parameter == "paging.perPage"


def test_a_token_walk_page_carries_only_its_size(inbox: Inbox, clock: ManualClock) -> None:
    replay_sample(inbox, clock)
    body = wire.dump_thread_list(inbox.list(actor="101", limit=2))
    assert len(body["records"]) == 2
    assert body["paging"] == {"perPage": 2}  # its place in the walk is not known
    with pytest.raises(WireFormatError) as caught:
        wire.dump_thread_list(Page((), None, None))  # a page without any paging block
    assert caught.value.parameter == "page"
    empty = wire.dump_thread_list(inbox.numbered_page(filter=ThreadFilter(), actor="101", page=9))
    assert empty == {"records": [], "paging": {"perPage": 100}}
