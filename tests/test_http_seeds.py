"""The two other seeds' platforms, served (issue 25, item 8): seed 000's
``GET /v2/sms-threads/{sms_thread_id}`` and seed 002's ``GET /conversations/messages/{messageId}``
through httpx (Starlette's TestClient) on memory and SQLite, with the primary API's tokens and
visibility, each answer's keys checked against the seed's own page and its values exactly, and
every error in that platform's body."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import threadcore
from tests.conftest import GUEST, GUEST2, OWNER, START, two_queue_directory
from threadcore import Inbox, InMemoryRepository, ManualClock, Policy, SQLiteRepository
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.storage import StoredDirectory
from threadcore.wire import load_error

BASE = "/restapi/v1.0/account/~/message-threads"
TOKENS = {"t101": "101", "t102": "102", "t201": "201"}
VERSION = {"Version": "2021-07-28"}


def user(extension: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer t{extension}", **headers}


#: Where the seeds sit beside a checkout (a worktree is one level deeper than the main one).
SEEDS = next(
    (
        found
        for found in (Path(__file__).resolve().parents[n] / "shared" / "seeds" for n in (2, 3))
        if found.is_dir()
    ),
    None,
)

#: The keys of seed 000's example answer, in its order: the thread's, a message's, and a
#: classification's (taken from 000_be9ed490df35beb8.txt; checked against it where it sits).
SEED_000_THREAD = ["created_at", "modified_at", "id", "from_number", "to_number", "partner",
                   "last_inbound_at", "last_outbound_at", "latest_message_at",
                   "latest_message_body", "messages", "object"]  # fmt: skip
SEED_000_SMS = ["created_at", "modified_at", "id", "body", "classifications", "direction",
                "from_number", "to_number", "status", "is_automated", "sent_at", "delivered_at",
                "object"]  # fmt: skip
SEED_000_CLASSIFICATION = ["created_at", "modified_at", "id", "action_recommendation",
                           "agent_confidence_score", "agent_metrics", "classification", "evidence",
                           "is_action_required", "is_reply_required", "language", "reason",
                           "object"]  # fmt: skip
#: The fields of seed 002's 200 answer (its page has no example body; from
#: 002_c7e68b7a1d85163c.txt, checked against it where it sits).
SEED_002_FIELDS = {"id", "type", "messageType", "locationId", "contactId", "conversationId",
                   "dateAdded", "body", "direction", "status", "contentType", "attachments",
                   "meta", "source", "userId", "conversationProviderId"}  # fmt: skip


def test_the_embedded_keys_are_the_seeds() -> None:
    if SEEDS is None:
        pytest.skip("the seeds are not beside this checkout: the embedded copies stand")
    text = (SEEDS / "000_be9ed490df35beb8.txt").read_text()
    example = json.loads(text[text.index("\n{\n") : text.index("\n}\n\nAuthorizations") + 2])
    assert list(example) == SEED_000_THREAD
    assert list(example["messages"][0]) == SEED_000_SMS
    assert list(example["messages"][0]["classifications"][0]) == SEED_000_CLASSIFICATION
    text = (SEEDS / "002_c7e68b7a1d85163c.txt").read_text()
    answer = text[text.index("Successful response\nBody\n") : text.index("\n422\n")]
    fields = set(re.findall(r"^([a-zA-Z]+)\n(?:string|number|array|object)", answer, re.M))
    assert fields - {"callStatus", "email"} == SEED_002_FIELDS  # those two are meta's own


@pytest.fixture(params=["memory", "sqlite"])
def make_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., tuple[TestClient, Inbox, ManualClock]]]:
    """A TestClient over a fresh inbox (memory, or a SQLite file), its clock at START."""
    opened: list[TestClient] = []

    def make(**options: Any) -> tuple[TestClient, Inbox, ManualClock]:
        if request.param == "memory":
            repository: Any = InMemoryRepository()
        else:
            repository = SQLiteRepository(str(tmp_path / f"seeds-{len(opened)}.db"))
        clock = ManualClock(START)
        inbox = Inbox(
            repository=repository,
            directory=StoredDirectory(repository),
            clock=clock,
            policy=Policy(ttl=timedelta(hours=72)),
            ids=SequentialIds("h"),
        )
        inbox.load_directory(two_queue_directory().resources())
        client = TestClient(create_app(inbox, tokens=TOKENS, **options)).__enter__()
        opened.append(client)
        return client, inbox, clock

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def served(
    make_client: Callable[..., tuple[TestClient, Inbox, ManualClock]],
) -> tuple[TestClient, Inbox, ManualClock]:
    return make_client()


def conversation(client: TestClient, inbox: Inbox, clock: ManualClock) -> dict[str, Any]:
    """A customer's SMS (classified), 101's reply with two files sent as the platform's client
    sends them, the carrier's delivery report, and a draft: the ids of each."""
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Was I charged twice?")
    inbox.classify(
        received.id,
        "payment_inquiry",
        confidence=0.92,
        reason="asks about a charge",
        is_action_required=True,
        is_reply_required=True,
        language="en",
        action_recommendation="check the ledger",
        details={"evidence": {"words": ["charged"]}},
    )
    clock.advance(timedelta(minutes=5))
    inbox.assign(received.thread_id, actor="101", assignee="101")
    metadata = {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}], "text": "Receipt"}
    files = [
        ("request.json", ("request.json", json.dumps({"metadata": metadata}), "application/json")),
        ("attachments", ("receipt.png", b"\x89PNG picture", "image/png")),
        ("attachments", ("notes.txt", b"plain", "text/plain")),
    ]
    sent = client.post(f"{BASE}/messages", files=files, headers=user("101"))
    assert sent.status_code == 200, sent.text
    reply = sent.json()["id"]
    clock.advance(timedelta(seconds=30))
    inbox.record_delivery(reply, "Delivered")
    clock.advance(timedelta(minutes=1))
    draft = inbox.save_draft(received.thread_id, actor="101", body="Anything else?")
    return {
        "thread": received.thread_id,
        "received": received.id,
        "classification": inbox.message(received.id, actor="101").classifications[0].id,
        "reply": reply,
        "draft": draft.id,
    }


# === seed 000: GET /v2/sms-threads/{sms_thread_id} ===============================================
def test_a_thread_with_classifications_delivery_fields_and_a_draft(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, inbox, clock = served
    ids = conversation(client, inbox, clock)
    answer = client.get(f"/v2/sms-threads/{ids['thread']}", headers=user("102"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body == {
        "created_at": "2026-02-17T17:00:00.000Z",
        "modified_at": "2026-02-17T17:05:00.000Z",  # a delivery or a draft is no thread change
        "id": ids["thread"],
        "from_number": OWNER,
        "to_number": GUEST,
        "last_inbound_at": "2026-02-17T17:00:00.000Z",
        "last_outbound_at": "2026-02-17T17:05:00.000Z",
        "latest_message_at": "2026-02-17T17:05:00.000Z",
        "latest_message_body": "Receipt",
        "messages": [
            {
                "created_at": "2026-02-17T17:00:00.000Z",
                "modified_at": "2026-02-17T17:00:00.000Z",
                "id": ids["received"],
                "body": "Was I charged twice?",
                "classifications": [
                    {
                        "created_at": "2026-02-17T17:00:00.000Z",
                        "modified_at": "2026-02-17T17:00:00.000Z",
                        "id": ids["classification"],
                        "action_recommendation": "check the ledger",
                        "agent_confidence_score": 0.92,
                        "classification": "payment_inquiry",
                        "is_action_required": True,
                        "is_reply_required": True,
                        "language": "en",
                        "reason": "asks about a charge",
                        "object": "classification",
                        "evidence": {"words": ["charged"]},
                    }
                ],
                "direction": "inbound",
                "from_number": GUEST,
                "to_number": OWNER,
                "status": "received",
                "is_automated": False,
                "sent_at": None,
                "delivered_at": None,
                "object": "sms",
            },
            {
                "created_at": "2026-02-17T17:05:00.000Z",
                "modified_at": "2026-02-17T17:05:30.000Z",
                "id": ids["reply"],
                "body": "Receipt",
                "classifications": [],
                "direction": "outbound",
                "from_number": OWNER,
                "to_number": GUEST,
                "status": "delivered",
                "is_automated": False,
                "sent_at": "2026-02-17T17:05:30.000Z",  # no Sent report: sent when delivered
                "delivered_at": "2026-02-17T17:05:30.000Z",
                "object": "sms",
            },
            {
                "created_at": "2026-02-17T17:06:30.000Z",
                "modified_at": "2026-02-17T17:06:30.000Z",
                "id": ids["draft"],
                "body": "Anything else?",
                "classifications": [],
                "direction": "outbound",
                "from_number": OWNER,
                "to_number": GUEST,
                "status": "draft",
                "is_automated": False,
                "sent_at": None,
                "delivered_at": None,
                "object": "sms",
            },
        ],
        "object": "sms_thread",
    }
    # The keys, in the seed's order, are the seed's: partner is not written (threadcore keeps no
    # partner records), a classification's agent_metrics and evidence come from its details.
    assert list(body) == [key for key in SEED_000_THREAD if key != "partner"]
    assert list(body["messages"][1]) == SEED_000_SMS
    seed_classification = SEED_000_CLASSIFICATION
    served_classification = list(body["messages"][0]["classifications"][0])
    details = ("agent_metrics", "evidence")
    assert [k for k in served_classification if k not in details] == [
        k for k in seed_classification if k not in details
    ]
    assert set(served_classification) <= set(seed_classification)


def test_a_thread_is_404_in_fastapi_body_to_outsiders_unknown_and_deleted(
    make_client: Callable[..., tuple[TestClient, Inbox, ManualClock]],
) -> None:
    client, inbox, _ = make_client(outsiders="forbidden")
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    path = f"/v2/sms-threads/{received.thread_id}"
    outsider = client.get(path, headers=user("201"))  # 201 handles Support only
    assert outsider.status_code == 404  # never the primary platform's 403, even with forbidden
    assert outsider.json() == {"detail": f"Thread [{received.thread_id}] not found"}
    unknown = client.get("/v2/sms-threads/no-such-thread", headers=user("101"))
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"detail": "Thread [no-such-thread] not found"},
    )
    inbox.delete(received.thread_id, actor="101")
    deleted = client.get(path, headers=user("101"))
    assert (deleted.status_code, deleted.json()) == (404, outsider.json())


def test_sms_thread_refusals_are_in_fastapi_body(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, inbox, _ = served
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    path = f"/v2/sms-threads/{received.thread_id}"
    missing = client.get(path)
    assert (missing.status_code, missing.json()) == (
        401,
        {"detail": "Authorization header is not specified"},
    )
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.get(path, headers={"Authorization": "Bearer nobody"})
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"detail"}
    extra = client.get(path, params={"page": "2"}, headers=user("101"))
    assert (extra.status_code, extra.json()) == (
        422,
        {
            "detail": [
                {
                    "type": "InvalidInput",
                    "loc": ["query", "page"],
                    "msg": "Parameter [page] is not a parameter of this operation",
                }
            ]
        },
    )
    method = client.delete(path, headers=user("101"))
    assert (method.status_code, method.json()) == (
        405,
        {"detail": "Method DELETE is not allowed here (GET)"},
    )
    nowhere = client.get("/v2/sms-threads/", headers=user("101"))
    assert (nowhere.status_code, nowhere.json()) == (
        404,
        {"detail": "Resource [/v2/sms-threads/] not found"},
    )


# === seed 002: GET /conversations/messages/{messageId} ============================================
def test_a_message_with_attachments_and_delivery_status(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, inbox, clock = served
    ids = conversation(client, inbox, clock)
    answer = client.get(f"/conversations/messages/{ids['reply']}", headers=user("102", **VERSION))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    content = f"http://testserver{BASE}/messages/{ids['reply']}/content"
    assert body == {
        "id": ids["reply"],
        "type": 2,
        "messageType": "TYPE_SMS",
        "conversationId": ids["thread"],
        "dateAdded": "2026-02-17T17:05:00.000Z",
        "body": "Receipt",
        "direction": "outbound",
        "status": "delivered",
        "contentType": "text/plain",
        "attachments": [f"{content}/1", f"{content}/2"],
        "userId": "101",
    }
    assert set(body) <= SEED_002_FIELDS
    # Each URL is one the caller reads with the same token.
    picture = client.get(body["attachments"][0], headers=user("102"))
    assert (picture.status_code, picture.content) == (200, b"\x89PNG picture")
    assert picture.headers["content-type"] == "image/png"
    inbound = client.get(
        f"/conversations/messages/{ids['received']}", headers=user("101", **VERSION)
    )
    assert inbound.json() == {
        "id": ids["received"],
        "type": 2,
        "messageType": "TYPE_SMS",
        "conversationId": ids["thread"],
        "dateAdded": "2026-02-17T17:00:00.000Z",
        "body": "Was I charged twice?",
        "direction": "inbound",
        "status": "delivered",
        "contentType": "text/plain",
    }


def test_a_carriers_media_url_is_served_as_it_came(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, inbox, _ = served
    media = "https://media.carrier.example/m/1.jpg"
    received = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="photo", attachments=[media]
    )
    answer = client.get(f"/conversations/messages/{received.id}", headers=user("101", **VERSION))
    assert answer.json()["attachments"] == [media]


def test_a_message_is_404_in_its_body_to_outsiders_unknown_draft_and_deleted(
    make_client: Callable[..., tuple[TestClient, Inbox, ManualClock]],
) -> None:
    client, inbox, clock = make_client(outsiders="forbidden")
    ids = conversation(client, inbox, clock)

    def not_found(message_id: str, extension: str = "101") -> None:
        answer = client.get(
            f"/conversations/messages/{message_id}", headers=user(extension, **VERSION)
        )
        assert answer.status_code == 404, answer.text
        assert answer.json() == {
            "statusCode": 404,
            "message": f"Message [{message_id}] not found",
            "error": "Not Found",
        }
        assert type(load_error(answer.json())).__name__ == "NotFound"

    not_found(ids["received"], extension="201")  # 201 does not handle Billing
    not_found("no-such-message")
    not_found(ids["draft"])  # a draft is not a message on that platform
    inbox.delete_messages([ids["reply"]], actor="101")
    not_found(ids["reply"])  # deleted: the shape cannot say so


def test_the_version_header_is_required_and_must_be_the_seeds(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, inbox, _ = served
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    path = f"/conversations/messages/{received.id}"
    missing = client.get(path, headers=user("101"))
    assert (missing.status_code, missing.json()) == (
        400,
        {
            "statusCode": 400,
            "message": "Header [Version] is required: send Version: 2021-07-28",
            "error": "Bad Request",
        },
    )
    older = client.get(path, headers=user("101", Version="2021-04-15"))
    assert (older.status_code, older.json()) == (
        400,
        {
            "statusCode": 400,
            "message": "Header [Version] must be 2021-07-28, not '2021-04-15'",
            "error": "Bad Request",
        },
    )
    assert client.get(path, headers=user("101", **VERSION)).status_code == 200
    # The token is checked first: without one, the version is not looked at.
    assert client.get(path).status_code == 401


def test_message_refusals_are_in_its_body(served: tuple[TestClient, Inbox, ManualClock]) -> None:
    client, inbox, _ = served
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="hi")
    path = f"/conversations/messages/{received.id}"
    missing = client.get(path, headers=VERSION)
    assert (missing.status_code, missing.json()) == (
        401,
        {
            "statusCode": 401,
            "message": "Authorization header is not specified",
            "error": "Unauthorized",
        },
    )
    wrong = client.get(path, headers={"Authorization": "Bearer nobody", **VERSION})
    assert (wrong.status_code, wrong.json()) == (
        401,
        {
            "statusCode": 401,
            "message": "Invalid token: access token is invalid",  # the seed's own sentence
            "error": "Unauthorized",
        },
    )
    assert wrong.headers["www-authenticate"] == "Bearer"
    extra = client.get(path, params={"locationId": "x"}, headers=user("101", **VERSION))
    assert (extra.status_code, extra.json()) == (
        422,
        {
            "statusCode": 422,
            "message": ["Parameter [locationId] is not a parameter of this operation"],
            "error": "Unprocessable Entity",
        },
    )
    method = client.post(path, headers=user("101", **VERSION))
    assert method.status_code == 405
    assert method.json()["statusCode"] == 405
    nowhere = client.get("/conversations/messages/x/y", headers=user("101", **VERSION))
    assert nowhere.json() == {
        "statusCode": 404,
        "message": "Resource [/conversations/messages/x/y] not found",
        "error": "Not Found",
    }


# === the description ==============================================================================
def test_openapi_describes_both_paths_with_their_own_error_bodies(
    served: tuple[TestClient, Inbox, ManualClock],
) -> None:
    client, _, _ = served
    document = client.get("/openapi.json").json()
    thread = document["paths"]["/v2/sms-threads/{sms_thread_id}"]["get"]
    message = document["paths"]["/conversations/messages/{messageId}"]["get"]
    schemas = document["components"]["schemas"]
    assert thread["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SmsThread"
    }
    assert thread["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SmsThreadError"
    }
    sms_thread = schemas["SmsThread"]
    assert set(sms_thread["required"]) == set(SEED_000_THREAD) - {"partner"}
    assert sms_thread["properties"]["last_inbound_at"] == {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
    }
    version = {"type": "string", "enum": ["2021-07-28"]}
    header = {"name": "Version", "in": "header", "required": True, "schema": version}
    assert header in message["parameters"]
    assert message["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConversationsError"
    }
    assert set(schemas["ConversationMessage"]["properties"]) <= SEED_002_FIELDS
    assert schemas["ConversationsError"]["required"] == ["statusCode", "message", "error"]


# === through a real `threadcore serve` ============================================================
def test_both_platforms_through_threadcore_serve_on_sqlite(tmp_path: Path) -> None:
    """An integrator's view: a database prepared by another process, `threadcore serve` on it,
    and plain HTTP calls as either platform's client makes them."""
    database = f"sqlite:///{tmp_path / 'seeds.db'}"
    with threadcore.open_inbox(database) as inbox:
        inbox.load_directory(two_queue_directory().resources())
        received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Charged twice?")
        inbox.classify(received.id, "payment_inquiry", confidence=0.5, details={"evidence": {}})
        inbox.assign(received.thread_id, actor="101", assignee="101")
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tok-101": "101", "tok-201": "201"}))
    process = subprocess.Popen(
        [sys.executable, "-m", "threadcore", "serve", "--tokens", str(tokens), "--port", "0",
         "--db", database],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"serving (http://\S+)", line)
        assert found is not None, (line, process.stderr and process.stderr.read())
        url = found.group(1)
        ann = {"Authorization": "Bearer tok-101"}
        metadata = {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}], "text": "Yes"}
        sent = httpx.post(
            f"{url}{BASE}/messages",
            files=[
                ("request.json", ("request.json", json.dumps(metadata), "application/json")),
                ("attachments", ("receipt.png", b"picture", "image/png")),
            ],
            headers=ann,
        )
        assert sent.status_code == 200, sent.text
        reply = sent.json()["id"]

        thread = httpx.get(f"{url}/v2/sms-threads/{received.thread_id}", headers=ann)
        assert thread.status_code == 200, thread.text
        body = thread.json()
        assert list(body) == [key for key in SEED_000_THREAD if key != "partner"]
        assert [(m["id"], m["direction"], m["status"]) for m in body["messages"]] == [
            (received.id, "inbound", "received"),
            (reply, "outbound", "queued"),
        ]
        classification = body["messages"][0]["classifications"][0]
        assert (classification["classification"], classification["evidence"]) == (
            "payment_inquiry",
            {},
        )

        message = httpx.get(f"{url}/conversations/messages/{reply}", headers={**ann, **VERSION})
        assert message.status_code == 200, message.text
        assert message.json()["status"] == "pending"
        assert set(message.json()) <= SEED_002_FIELDS
        (attachment,) = message.json()["attachments"]
        assert httpx.get(attachment, headers=ann).content == b"picture"

        outsider = {"Authorization": "Bearer tok-201", **VERSION}
        hidden = httpx.get(f"{url}/conversations/messages/{reply}", headers=outsider)
        assert (hidden.status_code, hidden.json()["statusCode"]) == (404, 404)
        hidden_thread = httpx.get(f"{url}/v2/sms-threads/{received.thread_id}", headers=outsider)
        assert (hidden_thread.status_code, set(hidden_thread.json())) == (404, {"detail"})
        unversioned = httpx.get(f"{url}/conversations/messages/{reply}", headers=ann)
        assert unversioned.status_code == 400
        anonymous = httpx.get(f"{url}/v2/sms-threads/{received.thread_id}")
        assert (anonymous.status_code, set(anonymous.json())) == (401, {"detail"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
