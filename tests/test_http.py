"""threadcore.http (issue 15): every endpoint of the platform's message-threads API and of the
control plane through httpx (Starlette's TestClient) against the ASGI app, every error path with
the platform's body, and hostile requests that store nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

import threadcore
from tests.conftest import GUEST, GUEST2, OWNER, QUEUE, START, two_queue_directory
from threadcore import Inbox, InMemoryRepository, ManualClock, Policy, SQLiteRepository
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.storage import StoredDirectory
from threadcore.wire import load_api_error, load_message, load_thread, load_thread_list

BASE = "/restapi/v1.0/account/~/message-threads"
TOKENS = {"t101": "101", "t102": "102", "t103": "103", "t201": "201", "t999": "999"}
CONTROL = {"Authorization": "Bearer ctl"}


def user(extension: str) -> dict[str, str]:
    return {"Authorization": f"Bearer t{extension}"}


@pytest.fixture(params=["memory", "sqlite"])
def make_client(
    request: pytest.FixtureRequest, tmp_path: Any
) -> Iterator[Callable[..., tuple[TestClient, Inbox]]]:
    """A TestClient over a fresh inbox (memory, or a SQLite file with the stored directory)."""
    opened: list[TestClient] = []

    def make(**options: Any) -> tuple[TestClient, Inbox]:
        if request.param == "memory":
            repository: Any = InMemoryRepository()
        else:
            repository = SQLiteRepository(str(tmp_path / f"http-{len(opened)}.db"))
        inbox = Inbox(
            repository=repository,
            directory=StoredDirectory(repository),
            clock=ManualClock(START),
            policy=Policy(ttl=timedelta(hours=72)),
            ids=SequentialIds("h"),
        )
        inbox.load_directory(two_queue_directory().resources())
        options.setdefault("control_token", "ctl")
        client = TestClient(create_app(inbox, tokens=TOKENS, **options)).__enter__()
        opened.append(client)
        return client, inbox

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., tuple[TestClient, Inbox]]) -> TestClient:
    return make_client()[0]


def inbound(client: TestClient, text: str = "hi", guest: str = GUEST, **extra: Any) -> Any:
    body = {"from": guest, "to": OWNER, "text": text, **extra}
    response = client.post("/threadcore/v1/carrier/inbound", json=body, headers=CONTROL)
    assert response.status_code == 200, response.text
    return response.json()


def assigned(client: TestClient, guest: str = GUEST, to: str = "101") -> str:
    """A thread opened by a customer's SMS and assigned to ``to`` (who may then send on it)."""
    thread_id: str = inbound(client, guest=guest)["threadId"]
    body = {"assignee": {"extensionId": to}}
    response = client.post(f"{BASE}/{thread_id}/assign", json=body, headers=user(to))
    assert response.status_code == 200, response.text
    return thread_id


def error_of(response: Any, status: int, code: str, parameter: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code
    assert body["errors"][0]["errorCode"] == code
    assert body["errors"][0].get("parameterName") == parameter
    load_api_error(body)  # the platform's error body, as threadcore.wire reads it


def send(client: TestClient, text: str, actor: str = "101", **extra: Any) -> Any:
    metadata = {
        "from": {"phoneNumber": OWNER},
        "to": [{"phoneNumber": GUEST}],
        "text": text,
        **extra,
    }
    return client.post(f"{BASE}/messages", json=metadata, headers=user(actor))


# === threads =====================================================================================
def test_a_thread_is_listed_read_assigned_resolved_and_deleted(client: TestClient) -> None:
    message = inbound(client)
    thread_id = message["threadId"]
    listed = client.get(BASE, headers=user("101")).json()
    assert [t["id"] for t in listed["records"]] == [thread_id]
    assert listed["paging"] == {
        "page": 1, "totalPages": 1, "perPage": 100, "totalElements": 1, "pageStart": 0, "pageEnd": 0
    }  # fmt: skip
    read = client.get(f"{BASE}/{thread_id}", headers=user("101")).json()
    assert load_thread(read).id == thread_id
    assert read["status"] == "Open"

    assigned = client.post(
        f"{BASE}/{thread_id}/assign", json={"assignee": {"extensionId": "102"}}, headers=user("101")
    )
    assert assigned.status_code == 200
    assert assigned.json()["assignee"]["extensionId"] == "102"
    unassigned = client.post(
        f"{BASE}/{thread_id}/assign", json={"assignee": None}, headers=user("102")
    )
    assert unassigned.status_code == 200
    assert "assignee" not in unassigned.json()

    resolved = client.post(f"{BASE}/{thread_id}/resolve", json={}, headers=user("101")).json()
    assert resolved["status"] == "Resolved"
    assert resolved["statusReason"] == "Manual"
    deleted = client.delete(f"{BASE}/{thread_id}", headers=user("101"))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(BASE, headers=user("101")).json()["records"] == []
    both = client.get(BASE, params={"availability": "Alive,Deleted"}, headers=user("101")).json()
    assert [t["availability"] for t in both["records"]] == ["Deleted"]


def test_list_filters_and_paging_as_the_platform_takes_them(client: TestClient) -> None:
    first = inbound(client, guest=GUEST)["threadId"]
    second = inbound(client, guest=GUEST2)["threadId"]
    h = user("101")
    by_guest = client.get(BASE, params={"guestPhoneNumber": GUEST2}, headers=h).json()
    assert [t["id"] for t in by_guest["records"]] == [second]
    repeated = client.get(
        f"{BASE}?ownerExtensionIds={QUEUE}&ownerExtensionIds={QUEUE}&threadStatus=Open", headers=h
    ).json()
    assert [t["id"] for t in repeated["records"]] == [first, second]
    page = client.get(BASE, params={"perPage": 1, "page": 2}, headers=h).json()
    assert [t["id"] for t in page["records"]] == [second]
    assert page["paging"]["totalPages"] == 2
    assert page["paging"]["pageStart"] == 1
    clamped = client.get(BASE, params={"perPage": 100000}, headers=h).json()
    assert clamped["paging"]["perPage"] == 1000
    window = {"creationTimeFrom": "2026-02-17T00:00:00", "creationTimeTo": "2026-02-18T00:00:00Z"}
    assert len(client.get(BASE, params=window, headers=h).json()["records"]) == 2
    later = {"creationTimeFrom": "2026-02-18T00:00:00Z", "creationTimeTo": "2026-02-19T00:00:00Z"}
    assert client.get(BASE, params=later, headers=h).json() == {
        "records": [],
        "paging": {"perPage": 100},
    }


def test_sync_full_then_incremental_converges(client: TestClient) -> None:
    h = user("101")
    first = inbound(client)["threadId"]
    full = client.get(f"{BASE}/sync", headers=h).json()
    assert full["syncInfo"]["syncType"] == "FSync"
    assert [t["id"] for t in full["records"]] == [first]
    second = inbound(client, guest=GUEST2)["threadId"]
    client.post(f"{BASE}/{first}/resolve", json={}, headers=h)
    token = full["syncInfo"]["syncToken"]
    changed = client.get(
        f"{BASE}/sync", params={"syncType": "ISync", "syncToken": token}, headers=h
    )
    assert changed.status_code == 200
    seen = {t["id"]: t for t in full["records"]}
    seen.update({t["id"]: t for t in changed.json()["records"]})
    open_now = {i for i, t in seen.items() if t["status"] == "Open"}
    again = client.get(f"{BASE}/sync", headers=h).json()
    assert open_now == {t["id"] for t in again["records"]} == {second}


def test_entries_sync_scopes_and_explicit_threads(client: TestClient) -> None:
    h = user("101")
    thread_id = inbound(client)["threadId"]
    mine = client.get(f"{BASE}/entries/sync", headers=h).json()
    assert mine["records"] == []  # AssignedToMe by default: nothing is assigned to 101
    every = client.get(f"{BASE}/entries/sync", params={"scope": "Accessible"}, headers=h).json()
    assert {e["recordType"] for e in every["records"]} >= {"AliveMessage"}
    explicit = client.get(
        f"{BASE}/entries/sync", params={"scope": "Explicit", "threadIds": thread_id}, headers=h
    ).json()
    assert {e["threadId"] for e in explicit["records"]} == {thread_id}
    token = every["syncInfo"]["syncToken"]
    client.post(f"{BASE}/notes", json={"threadId": thread_id, "text": "call back"}, headers=h)
    delta = client.get(
        f"{BASE}/entries/sync", params={"syncType": "ISync", "syncToken": token}, headers=h
    ).json()
    assert [e["recordType"] for e in delta["records"]] == ["AliveNote"]


# === messages ====================================================================================
def test_a_message_is_sent_listed_and_deleted(client: TestClient) -> None:
    thread_id = assigned(client)
    sent = send(client, "On its way")
    assert sent.status_code == 200, sent.text
    message = sent.json()
    assert message["threadId"] == thread_id
    assert message["direction"] == "Outbound"
    assert message["author"]["extensionId"] == "101"
    assert load_message(message).body == "On its way"
    to_thread = send(client, "Again", threadId=thread_id).json()
    listed = client.get(
        f"{BASE}/messages", params={"threadIds": thread_id}, headers=user("101")
    ).json()
    assert [m["text"] for m in listed["records"]] == ["hi", "On its way", "Again"]
    gone = client.request(
        "DELETE", f"{BASE}/messages", json={"ids": [to_thread["id"]]}, headers=user("101")
    )
    assert gone.status_code == 204
    listed = client.get(
        f"{BASE}/messages", params={"messageIds": to_thread["id"]}, headers=user("101")
    )
    assert listed.json()["records"] == []


def test_send_as_the_platform_client_does_with_attachments(client: TestClient) -> None:
    assigned(client)
    picture = bytes(range(256)) * 10
    metadata = {
        "metadata": {
            "from": {"phoneNumber": OWNER},
            "to": [{"phoneNumber": GUEST}],
            "text": "Your receipt",
        }
    }
    files = [
        ("request.json", ("request.json", json.dumps(metadata), "application/json")),
        ("attachments", ("../../receipt.png", picture, "image/png")),
        ("attachments", ("notes.txt", b"plain", "text/plain; charset=utf-8")),
    ]
    sent = client.post(f"{BASE}/messages", files=files, headers=user("101"))
    assert sent.status_code == 200, sent.text
    entries = sent.json()["attachments"]
    assert [(e["id"], e["contentType"], e["size"], e["filename"]) for e in entries] == [
        ("1", "image/png", len(picture), "receipt.png"),
        ("2", "text/plain", 5, "notes.txt"),
    ]
    got = client.get(entries[0]["contentUri"], headers=user("101"))
    assert got.status_code == 200
    assert got.content == picture
    assert got.headers["content-type"] == "image/png"
    assert "receipt.png" in got.headers["content-disposition"]
    download = client.get(
        entries[1]["contentUri"], params={"contentDisposition": "Attachment"}, headers=user("101")
    )
    assert download.content == b"plain"
    assert download.headers["content-disposition"].startswith("attachment")
    outsider = client.get(entries[0]["contentUri"], headers=user("999"))
    error_of(outsider, 404, "MessageNotFound")
    missing = client.get(f"{BASE}/messages/{sent.json()['id']}/content/3", headers=user("101"))
    error_of(missing, 404, "NotFound")


def test_send_refuses_too_many_or_too_large_attachments_and_stores_nothing(
    make_client: Callable[..., tuple[TestClient, Inbox]],
) -> None:
    client, inbox = make_client()
    assigned(client)
    before = len(inbox.events())
    metadata = json.dumps(
        {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}], "text": "x"}
    )
    head = ("request.json", ("request.json", metadata, "application/json"))
    eleven = [head] + [("attachments", (f"{i}.txt", b"x", "text/plain")) for i in range(11)]
    error_of(
        client.post(f"{BASE}/messages", files=eleven, headers=user("101")),
        413, "RequestTooLarge", "attachments",
    )  # fmt: skip
    big = [head, ("attachments", ("big.bin", b"\0" * 1_500_001, "application/octet-stream"))]
    error_of(
        client.post(f"{BASE}/messages", files=big, headers=user("101")),
        413, "RequestTooLarge", "attachments[0]",
    )  # fmt: skip
    no_json = [("attachments", ("a.txt", b"x", "text/plain"))]
    error_of(
        client.post(f"{BASE}/messages", files=no_json, headers=user("101")),
        422, "WireFormatError", "metadata",
    )  # fmt: skip
    assert len(inbox.events()) == before


class _NoAttachments(InMemoryRepository):
    """A repository that keeps no attachments (a third party's, say)."""

    save_attachment = None  # type: ignore[assignment]
    attachment = None  # type: ignore[assignment]


def test_a_repository_without_attachments_refuses_files_and_stores_nothing() -> None:
    inbox = Inbox(
        repository=_NoAttachments(),
        directory=two_queue_directory(),
        clock=ManualClock(START),
        ids=SequentialIds("h"),
    )
    with TestClient(create_app(inbox, tokens=TOKENS, control_token="ctl")) as client:
        assigned(client)
        before = len(inbox.events())
        metadata = json.dumps(
            {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}], "text": "x"}
        )
        form = [
            ("request.json", ("request.json", metadata, "application/json")),
            ("attachments", ("a.txt", b"x", "text/plain")),
        ]
        error_of(
            client.post(f"{BASE}/messages", files=form, headers=user("101")),
            422, "InvalidInput", "attachments",
        )  # fmt: skip
        assert len(inbox.events()) == before
        assert send(client, "without files").status_code == 200


def test_send_errors_name_the_platform_parameters(client: TestClient) -> None:
    assigned(client)
    error_of(send(client, ""), 422, "InvalidInput", "text")
    bad_to = client.post(
        f"{BASE}/messages",
        json={"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": "12345"}], "text": "x"},
        headers=user("101"),
    )
    error_of(bad_to, 422, "WireFormatError", "to[0].phoneNumber")
    two = client.post(
        f"{BASE}/messages",
        json={"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}] * 2, "text": "x"},
        headers=user("101"),
    )
    error_of(two, 422, "WireFormatError", "to")
    error_of(send(client, "x", threadId="nope"), 404, "ThreadNotFound")
    plain = client.post(f"{BASE}/messages", content=b"hello", headers=user("101"))
    error_of(plain, 415, "UnsupportedMediaType")


# === notes =======================================================================================
def test_notes_are_created_listed_edited_and_deleted(client: TestClient) -> None:
    thread_id = inbound(client)["threadId"]
    created = client.post(
        f"{BASE}/notes", json={"threadId": thread_id, "text": "VIP"}, headers=user("101")
    )
    assert created.status_code == 200
    note = created.json()
    assert note["author"]["extensionId"] == "101"
    assert note["text"] == "VIP"
    listed = client.get(f"{BASE}/notes", params={"threadIds": thread_id}, headers=user("102"))
    assert [n["id"] for n in listed.json()["records"]] == [note["id"]]
    edited = client.patch(f"{BASE}/notes/{note['id']}", json={"text": "VIP!"}, headers=user("101"))
    assert edited.json()["text"] == "VIP!"
    error_of(
        client.patch(f"{BASE}/notes/{note['id']}", json={"text": "no"}, headers=user("102")),
        403, "NotAuthor",
    )  # fmt: skip
    gone = client.request(
        "DELETE", f"{BASE}/notes", json={"ids": [note["id"]]}, headers=user("101")
    )
    assert gone.status_code == 204
    assert client.get(f"{BASE}/notes", headers=user("101")).json()["records"] == []


# === who may do what =============================================================================
def test_tokens_and_visibility(make_client: Callable[..., tuple[TestClient, Inbox]]) -> None:
    client, _ = make_client()
    thread_id = inbound(client)["threadId"]
    error_of(client.get(BASE), 401, "Unauthenticated")
    assert client.get(BASE).headers["www-authenticate"] == "Bearer"
    error_of(client.get(BASE, headers={"Authorization": "Bearer nope"}), 401, "Unauthenticated")
    error_of(client.get(BASE, headers={"Authorization": "Basic dDEwMQ=="}), 401, "Unauthenticated")
    error_of(client.get(f"{BASE}/{thread_id}", headers=user("999")), 404, "ThreadNotFound")
    error_of(client.get(f"{BASE}/nope", headers=user("999")), 404, "ThreadNotFound")
    forbidding, _ = make_client(outsiders="forbidden")
    thread_id = inbound(forbidding)["threadId"]
    error_of(forbidding.get(f"{BASE}/{thread_id}", headers=user("999")), 403, "NotPermitted")
    error_of(forbidding.get(f"{BASE}/nope", headers=user("999")), 404, "ThreadNotFound")
    assign = forbidding.post(
        f"{BASE}/{thread_id}/assign", json={"assignee": {"extensionId": "999"}}, headers=user("101")
    )
    error_of(assign, 422, "AssigneeNotHandler", "assignee.extensionId")


def test_the_account_may_be_tilde_or_the_configured_id(
    make_client: Callable[..., tuple[TestClient, Inbox]],
) -> None:
    client, _ = make_client(account_id="37439510")
    inbound(client)
    own = client.get("/restapi/v1.0/account/37439510/message-threads", headers=user("101"))
    assert own.status_code == 200
    assert len(own.json()["records"]) == 1
    other = client.get("/restapi/v1.0/account/1/message-threads", headers=user("101"))
    error_of(other, 404, "NotFound")


# === hostile requests ============================================================================
HOSTILE: list[tuple[str, str, dict[str, Any], int, str, str | None]] = [
    ("GET", f"{BASE}?threadStatus=Closed", {}, 422, "InvalidInput", "threadStatus"),
    ("GET", f"{BASE}?creationTimeFrom=yesterday", {}, 422, "InvalidInput", "creationTimeFrom"),
    ("GET", f"{BASE}?perPage=0", {}, 422, "InvalidInput", "perPage"),
    ("GET", f"{BASE}?perPage=-5", {}, 422, "InvalidInput", "perPage"),
    ("GET", f"{BASE}?page=1001", {}, 422, "InvalidInput", "page"),
    ("GET", f"{BASE}?page=1&page=2", {}, 422, "InvalidInput", "page"),
    ("GET", f"{BASE}?colour=blue", {}, 422, "InvalidInput", "colour"),
    ("GET", f"{BASE}?ownerExtensionIds=,", {}, 422, "InvalidInput", "ownerExtensionIds"),
    ("GET", f"{BASE}?availability=Gone", {}, 422, "InvalidInput", "availability"),
    ("GET", f"{BASE}?ownerPhoneNumber=5551234", {}, 422, "InvalidInput", "ownerPhoneNumber"),
    ("GET", f"{BASE}/sync?syncType=Delta", {}, 422, "InvalidInput", "syncType"),
    ("GET", f"{BASE}/sync?syncType=ISync&syncToken=forged", {}, 400, "InvalidSyncToken",
     "syncToken"),
    ("GET", f"{BASE}/entries/sync?scope=Everything", {}, 422, "InvalidInput", "scope"),
    ("GET", f"{BASE}/..%2F..%2Fetc%2Fpasswd", {}, 404, "NotFound", None),
    ("GET", f"{BASE}/%00", {}, 404, "ThreadNotFound", None),
    ("GET", f"{BASE}/{'x' * 5000}", {}, 404, "ThreadNotFound", None),
    ("GET", "/restapi/v1.0/account/~/message-threads/messages/../../../etc/passwd", {}, 404,
     "NotFound", None),
    ("POST", f"{BASE}/notes", {"content": b"{not json", "headers": {"content-type":
     "application/json"}}, 422, "WireFormatError", "$"),
    ("POST", f"{BASE}/notes", {"content": b'{"threadId": NaN, "text": "x"}', "headers": {
     "content-type": "application/json"}}, 422, "WireFormatError", "$"),
    ("POST", f"{BASE}/notes", {"content": b"[]", "headers": {"content-type":
     "application/json"}}, 422, "WireFormatError", "$"),
    ("POST", f"{BASE}/notes", {"content": b'{"threadId": "x"}', "headers": {"content-type":
     "text/plain"}}, 415, "UnsupportedMediaType", None),
    ("POST", f"{BASE}/notes", {"json": {"threadId": 5, "text": "x"}}, 422, "WireFormatError",
     "threadId"),
    ("POST", f"{BASE}/notes", {"content": b"{" + b" " * 300_000 + b"}", "headers": {
     "content-type": "application/json"}}, 413, "RequestTooLarge", None),
    ("POST", f"{BASE}/messages", {"content": b"--x\r\nbroken", "headers": {"content-type":
     "multipart/form-data; boundary=x"}}, 422, "WireFormatError", "metadata"),
    ("DELETE", f"{BASE}/messages", {"json": {"ids": []}}, 422, "WireFormatError", "ids"),
    ("DELETE", f"{BASE}/messages", {"json": {"ids": "m-1"}}, 422, "WireFormatError", "ids"),
    ("PUT", f"{BASE}/notes", {}, 405, "MethodNotAllowed", None),
    ("GET", "/restapi/v1.0/elsewhere", {}, 404, "NotFound", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "options", "status", "code", "parameter"),
    HOSTILE,
    ids=[f"{m} {u[len(BASE) :][:40]} {s}" for m, u, _, s, _, _ in HOSTILE],
)
def test_hostile_requests_get_the_platform_4xx_body_and_store_nothing(
    make_client: Callable[..., tuple[TestClient, Inbox]],
    method: str,
    url: str,
    options: dict[str, Any],
    status: int,
    code: str,
    parameter: str | None,
) -> None:
    client, inbox = make_client()
    inbound(client)
    before = list(inbox.events())
    options = dict(options)
    headers = {**user("101"), **options.pop("headers", {})}
    response = client.request(method, url, headers=headers, **options)
    error_of(response, status, code, parameter)
    assert list(inbox.events()) == before


# === the control plane ===========================================================================
def test_control_plane_needs_its_token_and_is_off_without_one(
    make_client: Callable[..., tuple[TestClient, Inbox]],
) -> None:
    client, _ = make_client()
    body = {"from": GUEST, "to": OWNER, "text": "hi"}
    for headers in ({}, user("101"), {"Authorization": "Bearer wrong"}):
        error_of(
            client.post("/threadcore/v1/carrier/inbound", json=body, headers=headers),
            401, "Unauthenticated",
        )  # fmt: skip
    off, _ = make_client(control_token=None)
    error_of(
        off.post("/threadcore/v1/carrier/inbound", json=body, headers=CONTROL), 404, "NotFound"
    )
    paths = off.get("/openapi.json").json()["paths"]
    served = [p for p in paths if p.startswith("/threadcore")]
    assert served == ["/threadcore/v1/health", "/threadcore/v1/ready"]


def test_health_answers_without_a_token_or_the_database(
    make_client: Callable[..., tuple[TestClient, Inbox]],
) -> None:
    client, inbox = make_client(control_token=None)
    inbox.close()  # no database behind it any more: health does not read one
    answer = client.get("/threadcore/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": threadcore.__version__}
    described = client.get("/openapi.json").json()["paths"]["/threadcore/v1/health"]["get"]
    assert described["security"] == []


def test_carrier_inbound_is_idempotent_by_its_id_and_status_callbacks_apply(
    client: TestClient,
) -> None:
    first = inbound(client, id="carrier-1")
    again = inbound(client, id="carrier-1")
    assert again["id"] == first["id"]
    assigned(client)
    sent = send(client, "Thanks").json()
    status = client.post(
        "/threadcore/v1/carrier/status",
        json={"messageId": sent["id"], "status": "Delivered"},
        headers=CONTROL,
    )
    assert status.status_code == 200
    assert status.json()["messageStatus"] == "Delivered"
    bad = client.post(
        "/threadcore/v1/carrier/status", json={"messageId": sent["id"], "status": "Lost"},
        headers=CONTROL,
    )  # fmt: skip
    error_of(bad, 422, "WireFormatError", "status")


def test_carrier_outbound_reads_sent_messages_in_order_with_a_cursor(client: TestClient) -> None:
    assigned(client)
    texts = ["one", "two", "three"]
    for text in texts:
        send(client, text)
    page = client.get("/threadcore/v1/carrier/outbound", params={"limit": 1000}, headers=CONTROL)
    records = page.json()["records"]
    assert [r["message"]["text"] for r in records] == texts
    assert all(r["from"] == OWNER and r["to"] == GUEST for r in records)
    after = records[0]["position"]
    rest = client.get("/threadcore/v1/carrier/outbound", params={"after": after}, headers=CONTROL)
    assert [r["message"]["text"] for r in rest.json()["records"]] == texts[1:]
    end = page.json()["after"]
    tail = client.get("/threadcore/v1/carrier/outbound", params={"after": end}, headers=CONTROL)
    assert tail.json() == {"records": [], "after": end}


def test_the_clock_moves_only_with_a_manual_clock_and_expiry_follows(
    make_client: Callable[..., tuple[TestClient, Inbox]], tmp_path: Any
) -> None:
    client, _ = make_client()
    thread_id = inbound(client)["threadId"]
    moved = client.post("/threadcore/v1/clock", json={"advance": "PT72H"}, headers=CONTROL)
    assert moved.status_code == 200
    assert moved.json() == {"now": "2026-02-20T17:00:00.000Z", "expired": [thread_id]}
    thread = client.get(f"{BASE}/{thread_id}", headers=user("101")).json()
    assert (thread["status"], thread["statusReason"]) == ("Resolved", "ThreadExpired")
    back = client.post(
        "/threadcore/v1/clock", json={"set": "2026-01-01T00:00:00Z"}, headers=CONTROL
    )
    error_of(back, 422, "InvalidInput", "set")
    error_of(
        client.post("/threadcore/v1/clock", json={"advance": "72 hours"}, headers=CONTROL),
        422, "WireFormatError", "advance",
    )  # fmt: skip
    assert (
        client.get("/threadcore/v1/clock", headers=CONTROL).json()["now"].startswith("2026-02-20")
    )
    inbox = Inbox(directory=two_queue_directory())  # the system clock: it cannot be moved
    system = TestClient(create_app(inbox, tokens=TOKENS, control_token="ctl"))
    error_of(
        system.post("/threadcore/v1/clock", json={"advance": "PT1H"}, headers=CONTROL),
        409, "Conflict",
    )  # fmt: skip


def test_directory_changes_apply_their_thread_effects(client: TestClient) -> None:
    thread_id = inbound(client)["threadId"]
    client.post(
        f"{BASE}/{thread_id}/assign", json={"assignee": {"extensionId": "102"}}, headers=user("101")
    )
    removed = client.post(
        "/threadcore/v1/directory/remove-handler",
        json={"extensionId": QUEUE, "handlerId": "102"},
        headers=CONTROL,
    )
    assert removed.status_code == 200
    assert [(t["id"], "assignee" in t) for t in removed.json()["records"]] == [(thread_id, False)]
    error_of(client.get(f"{BASE}/{thread_id}", headers=user("102")), 404, "ThreadNotFound")
    added = client.post(
        "/threadcore/v1/directory/add-handler",
        json={"extensionId": QUEUE, "handlerId": "102"},
        headers=CONTROL,
    )
    assert added.json() == {"records": []}
    assert client.get(f"{BASE}/{thread_id}", headers=user("102")).status_code == 200
    resource = {"extensionId": "77", "name": "Sales", "phoneNumbers": ["+12092480077"],
                "handlers": ["999"]}  # fmt: skip
    assert (
        client.post(
            "/threadcore/v1/directory/add-resource", json=resource, headers=CONTROL
        ).status_code
        == 200
    )
    body = {"from": GUEST, "to": "+12092480077", "text": "sales?"}
    client.post("/threadcore/v1/carrier/inbound", json=body, headers=CONTROL)
    assert len(client.get(BASE, headers=user("999")).json()["records"]) == 1
    gone = client.post(
        "/threadcore/v1/directory/remove-resource", json={"extensionId": "77"}, headers=CONTROL
    )
    assert [t["statusReason"] for t in gone.json()["records"]] == ["OwnerDeleted"]
    number = client.post(
        "/threadcore/v1/directory/remove-phone-number",
        json={"extensionId": QUEUE, "phoneNumber": OWNER},
        headers=CONTROL,
    )
    assert [t["statusReason"] for t in number.json()["records"]] == ["OwnerPhoneNumberDeleted"]
    error_of(
        client.post("/threadcore/v1/directory/add-resource", json={"name": "x"}, headers=CONTROL),
        422, "InvalidInput",
    )  # fmt: skip


# === the description =============================================================================
def test_openapi_describes_exactly_the_routes_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    app = client.app
    served = {
        (route.path, method)
        for route in app.routes  # type: ignore[attr-defined]
        for method in _methods_served(client, route.path)
    }
    described = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    assert described == served

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    names = {f"#/components/schemas/{n}" for n in document["components"]["schemas"]}
    assert set(refs(document)) <= names
    message = document["components"]["schemas"]["ThreadMessage"]
    assert message["properties"]["attachments"]["items"] == {
        "$ref": "#/components/schemas/MessageAttachment"
    }
    thread = document["components"]["schemas"]["MessageThread"]
    assert set(thread["required"]) >= {"id", "status", "availability", "owner", "creationTime"}


def _methods_served(client: TestClient, path: str) -> set[str]:
    """The methods a path answers with something other than 405 (asked without a token)."""
    if path == "/openapi.json":
        return {"GET"}
    concrete = path.replace("{accountId}", "~")
    for name in ("threadId", "messageId", "attachmentId", "noteId", "sms_thread_id"):
        concrete = concrete.replace("{" + name + "}", "x")
    found = set()
    for method in ("GET", "POST", "PATCH", "DELETE"):
        if client.request(method, concrete).status_code != 405:
            found.add(method)
    return found


def test_load_thread_list_reads_what_the_app_serves(client: TestClient) -> None:
    inbound(client)
    page = load_thread_list(client.get(BASE, headers=user("101")).json())
    assert len(page.records) == 1
    assert page.paging is not None
    assert page.paging.total_elements == 1


def test_an_invalid_id_is_named_as_an_id_and_an_extension_as_an_extension(
    client: TestClient,
) -> None:
    note_ids = client.get(f"{BASE}/notes", params={"noteIds": "\x00"}, headers=user("101"))
    error_of(note_ids, 422, "InvalidInput", "noteIds")
    assert "is not a valid id" in note_ids.json()["message"]
    owners = client.get(BASE, params={"ownerExtensionIds": "\x01"}, headers=user("101"))
    error_of(owners, 422, "InvalidInput", "ownerExtensionIds")
    assert "is not a valid extension id" in owners.json()["message"]
