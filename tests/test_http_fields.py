"""threadcore.http (issue 25): every refusal names the request's own field or form part, never a
Python argument: the control plane's inbound message and clock, a send form's parts whatever the
client names them (the platform's Python SDK, its Node client), and a list's owner filter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient
from test_http import BASE, CONTROL, assigned, error_of, inbound, make_client, user

from tests.conftest import GUEST, OWNER
from threadcore import Inbox

__all__ = ["make_client"]  # the fixture, shared with test_http

INBOUND = "/threadcore/v1/carrier/inbound"
MakeClient = Callable[..., tuple[TestClient, Inbox]]


# === the control plane ===========================================================================
def test_carrier_inbound_errors_name_the_fields_of_its_body(make_client: MakeClient) -> None:
    client, inbox = make_client()
    before = len(inbox.events())
    for text in ("x" * 1601, "   "):
        body = {"from": GUEST, "to": OWNER, "text": text}
        error_of(client.post(INBOUND, json=body, headers=CONTROL), 422, "InvalidInput", "text")
    itself = {"from": OWNER, "to": OWNER, "text": "hi"}
    error_of(client.post(INBOUND, json=itself, headers=CONTROL), 422, "InvalidInput", "from")
    assert len(inbox.events()) == before
    inbound(client, "first", id="carrier-7")
    reused = {"from": GUEST, "to": OWNER, "text": "another text", "id": "carrier-7"}
    answer = client.post(INBOUND, json=reused, headers=CONTROL)
    error_of(answer, 409, "IdempotencyConflict", "id")
    assert "providerMessageId" not in answer.text


def test_clock_errors_name_advance_and_set(make_client: MakeClient) -> None:
    client, _ = make_client()
    for move in ({"advance": "P999999D"}, {"advance": "P999999D"}, {"advance": "P999999D"}):
        last = client.post("/threadcore/v1/clock", json=move, headers=CONTROL)
    error_of(last, 422, "InvalidInput", "advance")  # past the last instant a clock can show
    assert "[advance]" in last.json()["message"]
    move = {"set": "9999-01-01T00:00:00Z"}
    late = client.post("/threadcore/v1/clock", json=move, headers=CONTROL)
    error_of(late, 422, "InvalidInput", "set")
    assert "[set]" in late.json()["message"]
    garbled = client.post("/threadcore/v1/clock", json={"set": "tomorrow"}, headers=CONTROL)
    error_of(garbled, 422, "InvalidInput", "set")


# === the owner filter ============================================================================
def test_an_owner_filter_naming_another_resource_is_403_naming_owner_extension_ids(
    make_client: MakeClient,
) -> None:
    client, _ = make_client()
    for path in (BASE, f"{BASE}/messages", f"{BASE}/notes"):
        answer = client.get(path, params={"ownerExtensionIds": "1"}, headers=user("101"))
        error_of(answer, 403, "NotPermitted", "ownerExtensionIds")


# === a send's form ===============================================================================
def _metadata(wrapped: bool = False) -> str:
    message = {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}], "text": "Receipt"}
    return json.dumps({"metadata": message} if wrapped else message)


def test_every_file_part_is_an_attachment_whatever_its_name(make_client: MakeClient) -> None:
    client, _ = make_client()
    assigned(client)
    # as the platform's Python SDK builds it: MultipartBuilder.set_body(...).add(file)
    sdk = [
        ("json", ("request.json", _metadata(), "application/json")),
        ("attachment", ("receipt.png", b"\x89PNG", "image/png")),
        ("attachment", ("notes.txt", b"plain", "text/plain")),
    ]
    sent = client.post(f"{BASE}/messages", files=sdk, headers=user("101"))
    assert sent.status_code == 200, sent.text
    entries = sent.json()["attachments"]
    assert [(e["filename"], e["contentType"], e["size"]) for e in entries] == [
        ("receipt.png", "image/png", 4),
        ("notes.txt", "text/plain", 5),
    ]
    assert client.get(entries[1]["contentUri"], headers=user("101")).content == b"plain"
    # a JSON part known by its type alone, files named anything, one without a type of its own
    loose = [
        ("photo", ("cat.jpg", b"\xff\xd8", "image/jpeg")),
        ("body", ("message", _metadata(wrapped=True), "application/json")),
        ("file", ("table.csv", b"a,b", "")),
    ]
    sent = client.post(f"{BASE}/messages", files=loose, headers=user("101"))
    assert sent.status_code == 200, sent.text
    assert [e["filename"] for e in sent.json()["attachments"]] == ["cat.jpg", "table.csv"]
    assert sent.json()["attachments"][1]["contentType"] == "text/csv"  # from its name


def test_every_multipart_error_names_the_part_and_stores_nothing(make_client: MakeClient) -> None:
    client, inbox = make_client()
    assigned(client)
    before = len(inbox.events())
    head = ("json", ("request.json", _metadata(), "application/json"))

    def refused(parts: list[Any], status: int, code: str, part: str, says: str) -> None:
        answer = client.post(f"{BASE}/messages", files=parts, headers=user("101"))
        error_of(answer, status, code, part)
        assert says in answer.json()["message"], answer.text
        assert "The request body is not valid JSON" not in answer.text

    png = ("a.png", b"\x89PNG", "image/png")
    refused([("json", ("request.json", b"{nope", "application/json")), ("attachment", png)],
            422, "WireFormatError", "json", "Part [json] is not valid JSON")  # fmt: skip
    refused([head, ("request.json", ("r.json", _metadata(), "application/json"))],
            422, "WireFormatError", "request.json", "second JSON part")  # fmt: skip
    refused([head, ("attachment", png), ("attachment", ("b.png", b"", "image/png"))],
            422, "InvalidInput", "attachment[1]", "is empty")  # fmt: skip
    refused([head, ("attachment", ("big.bin", b"\0" * 1_500_001, "application/octet-stream"))],
            413, "RequestTooLarge", "attachment[0]", "larger than")  # fmt: skip
    refused([head] + [("attachment", (f"{i}.txt", b"x", "text/plain")) for i in range(11)],
            413, "RequestTooLarge", "attachment", "at most 10")  # fmt: skip
    refused([("attachment", png)], 422, "WireFormatError", "metadata", "no JSON part")
    plain = client.post(
        f"{BASE}/messages",
        data={"json": _metadata(), "caption": "hello"},
        files=[("attachment", png)],
        headers=user("101"),
    )
    error_of(plain, 422, "WireFormatError", "caption")
    assert "neither the JSON part nor a file" in plain.json()["message"]
    assert len(inbox.events()) == before
