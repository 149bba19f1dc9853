"""The embedding example (issue 25, item 5): ``docs/examples/embedding_fastapi.py``, the FastAPI
service ``docs/embedding.md`` shows, is at most 50 lines and answers every request of its seven
endpoints, errors included, exactly as ``threadcore.http`` does: the same status, the same body
(the platform's shapes and field names) and the same ``WWW-Authenticate``.

Each request is sent to the example and to ``create_app`` over two inboxes that start alike (the
same directory, manual clock, sequential ids and token secret), so equal answers mean equal ids.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from starlette.testclient import TestClient

from tests.conftest import GUEST, GUEST2, OWNER, OWNER2, START, two_queue_directory
from threadcore import AsyncInbox, Inbox, InMemoryRepository, ManualClock, Policy, wire
from threadcore.errors import InvalidInput, UnsupportedMediaType, WireFormatError
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.wire import (
    load_api_error,
    load_message,
    load_thread,
    load_thread_list,
    load_thread_sync,
)

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "embedding_fastapi.py"
DOC = Path(__file__).parent.parent / "docs" / "embedding.md"
BASE = "/restapi/v1.0/account/~/message-threads"
TOKENS = {"t101": "101", "t102": "102", "t103": "103", "t201": "201"}
CARRIER = {"Authorization": "Bearer carrier-secret"}
SECRET = b"0123456789abcdef0123456789abcdef"


def user(extension: str) -> dict[str, str]:
    return {"Authorization": f"Bearer t{extension}"}


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embedding_fastapi", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inbox() -> Inbox:
    inbox = Inbox(
        repository=InMemoryRepository(store_id="0" * 32),  # (sync tokens name their store)
        directory=two_queue_directory(),
        clock=ManualClock(START),
        policy=Policy(ttl=timedelta(hours=72)),
        ids=SequentialIds("e"),
        token_secret=SECRET,
    )
    return inbox


@pytest.fixture
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    """The example service and ``threadcore.http``'s app, each over an inbox of its own."""
    service = example().create_service(AsyncInbox(_inbox()), TOKENS, "carrier-secret")
    app = create_app(_inbox(), tokens=TOKENS, control_token="carrier-secret")
    with TestClient(service) as embedded, TestClient(app) as served:
        yield embedded, served


def both(
    clients: tuple[TestClient, TestClient], method: str, path: str, **request: Any
) -> tuple[int, Any]:
    """Send the request to both; their answers must be equal: the status and JSON body."""
    embedded, served = (client.request(method, path, **request) for client in clients)
    assert embedded.status_code == served.status_code, (embedded.text, served.text)
    assert embedded.json() == served.json()
    assert embedded.headers.get("www-authenticate") == served.headers.get("www-authenticate")
    assert embedded.headers["content-type"] == served.headers["content-type"]
    return served.status_code, served.json()


def refused(
    clients: tuple[TestClient, TestClient],
    method: str,
    path: str,
    status: int,
    parameter: str | None = None,
    **request: Any,
) -> str:
    """Both refuse the request with ``status``, in the platform's body naming ``parameter``:
    the error's code."""
    code, body = both(clients, method, path, **request)
    assert code == status, body
    error = load_api_error(body)
    assert error.status == status
    assert body["errors"][0].get("parameterName") == parameter, body
    return error.code


def test_the_example_is_at_most_50_lines_and_the_doc_shows_it() -> None:
    code = EXAMPLE.read_text()
    assert len(code.splitlines()) <= 50
    assert code.strip() in DOC.read_text()


def test_every_endpoint_answers_as_threadcore_http_does(
    clients: tuple[TestClient, TestClient],
) -> None:
    inbound = "/threadcore/v1/carrier/inbound"
    sms = {"from": GUEST, "to": OWNER, "text": "my card was charged twice", "id": "c-1"}
    status, message = both(clients, "POST", inbound, json=sms, headers=CARRIER)
    assert status == 200
    thread_id = load_message(message).thread_id
    assert both(clients, "POST", inbound, json=sms, headers=CARRIER)[1] == message  # a retry

    status, page = both(
        clients, "GET", BASE, params=[("threadStatus", "Open")], headers=user("101")
    )
    assert status == 200
    assert [t.id for t in load_thread_list(page).records] == [thread_id]
    status, fsync = both(clients, "GET", BASE + "/sync", headers=user("101"))
    assert status == 200
    token = load_thread_sync(fsync).sync_token
    assert both(clients, "GET", f"{BASE}/{thread_id}", headers=user("102"))[0] == 200

    assign = {"assignee": {"extensionId": "102"}}
    status, thread = both(
        clients, "POST", f"{BASE}/{thread_id}/assign", json=assign, headers=user("101")
    )
    assert status == 200
    assert load_thread(thread).assignee.extension_id == "102"
    send = {"threadId": thread_id, "from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}]}
    status, sent = both(
        clients, "POST", BASE + "/messages", json={**send, "text": "refunded"}, headers=user("102")
    )
    assert status == 200
    assert load_message(sent).thread_id == thread_id
    form = {
        "files": [
            ("json", ("request.json", json.dumps({**send, "text": "receipt"}), "application/json")),
            ("attachment", ("receipt.png", b"\x89PNG receipt", "image/png")),
        ],
        "headers": user("102"),
    }
    status, with_file = both(clients, "POST", BASE + "/messages", **form)
    assert status == 200
    assert with_file["attachments"][0]["filename"] == "receipt.png"
    assert with_file["attachments"][0]["contentUri"].startswith("http://testserver" + BASE)
    new = {"from": {"phoneNumber": OWNER2}, "to": [{"phoneNumber": GUEST2}], "text": "hello"}
    assert both(clients, "POST", BASE + "/messages", json=new, headers=user("101"))[0] == 200

    status, isync = both(
        clients,
        "GET",
        BASE + "/sync",
        params=[("syncType", "ISync"), ("syncToken", token)],
        headers=user("101"),
    )
    assert status == 200
    assert len(load_thread_sync(isync).records) == 2
    status, resolved = both(clients, "POST", f"{BASE}/{thread_id}/resolve", headers=user("102"))
    assert status == 200
    assert load_thread(resolved).status.value == "Resolved"


def test_every_refusal_is_the_platforms_body_with_the_platforms_names(
    clients: tuple[TestClient, TestClient],
) -> None:
    inbound = "/threadcore/v1/carrier/inbound"
    sms = {"from": GUEST, "to": OWNER, "text": "hi", "id": "c-1"}
    thread_id = load_message(both(clients, "POST", inbound, json=sms, headers=CARRIER)[1]).thread_id
    thread = f"{BASE}/{thread_id}"

    # the bearer token: 401 with WWW-Authenticate, before anything else is read
    assert refused(clients, "GET", BASE, 401) == "Unauthenticated"
    assert refused(clients, "GET", thread + "?x=1", 401, headers=user("999")) == "Unauthenticated"
    assert (
        refused(clients, "POST", inbound, 401, json=sms, headers=user("101")) == "Unauthenticated"
    )
    # query parameters an endpoint does not take
    for method, path in (("GET", thread), ("POST", thread + "/resolve"), ("GET", BASE)):
        refused(
            clients, method, path + "?threadStatuss=Open", 422, "threadStatuss", headers=user("101")
        )
    refused(clients, "GET", BASE + "/sync?syncType=Full", 422, "syncType", headers=user("101"))
    refused(clients, "GET", BASE + "?perPage=x", 422, "perPage", headers=user("101"))
    # JSON bodies: 415, malformed JSON as $, the fields by the request's names
    path = thread + "/assign"
    text = {"content": "{}", "headers": {**user("101"), "Content-Type": "text/plain"}}
    assert refused(clients, "POST", path, 415, **text) == "UnsupportedMediaType"
    broken = {"content": "{", "headers": {**user("101"), "Content-Type": "application/json"}}
    refused(clients, "POST", path, 422, "$", **broken)
    nobody = {"assignee": {"extensionId": "999"}}
    refused(clients, "POST", path, 422, "assignee.extensionId", json=nobody, headers=user("101"))
    refused(clients, "POST", path, 422, "assignee", json={"assignee": 5}, headers=user("101"))
    refused(clients, "POST", path, 404, json={"assignee": None}, headers=user("201"))  # hidden
    # a send: its numbers must be the thread's; text, from and to by the request's names
    send = {"threadId": thread_id, "from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST}]}
    messages = BASE + "/messages"
    other = {**send, "to": [{"phoneNumber": GUEST2}], "text": "x"}
    refused(clients, "POST", messages, 422, "to", json=other, headers=user("101"))
    other = {**send, "from": {"phoneNumber": OWNER2}, "text": "x"}
    refused(clients, "POST", messages, 422, "from", json=other, headers=user("101"))
    both(clients, "POST", path, json={"assignee": {"extensionId": "101"}}, headers=user("101"))
    ok = {**send, "text": "x"}
    assert refused(clients, "POST", messages, 403, json=ok, headers=user("102")) == "NotAssignee"
    refused(
        clients,
        "POST",
        messages,
        422,
        "text",
        json={**send, "text": "x" * 1601},
        headers=user("101"),
    )
    unhandled = {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST2}], "text": "x"}
    refused(clients, "POST", messages, 404, json=unhandled, headers=user("201"))
    form = {"files": [("json", ("r.json", b"{", "application/json"))], "headers": user("101")}
    refused(clients, "POST", messages, 422, "json", **form)
    plain = {"content": b"x", "headers": {**user("101"), "Content-Type": "text/plain"}}
    refused(clients, "POST", messages, 415, **plain)
    # the carrier's webhook: from, to, text and id as the carrier names them
    itself = {"from": OWNER, "to": OWNER, "text": "x"}
    refused(clients, "POST", inbound, 422, "from", json=itself, headers=CARRIER)
    refused(clients, "POST", inbound, 422, "text", json={**sms, "text": " "}, headers=CARRIER)
    reused = {**sms, "text": "another text"}
    assert refused(clients, "POST", inbound, 409, "id", json=reused, headers=CARRIER)
    # the framework's own 404 and 405, and a thread that is not there
    assert refused(clients, "GET", BASE + "/a/b/c", 404, headers=user("101")) == "NotFound"
    assert refused(clients, "PUT", thread + "/resolve", 405, headers=user("101"))
    refused(clients, "GET", BASE + "/nope", 404, headers=user("101"))
    refused(
        clients,
        "GET",
        f"{BASE}/sync",
        400,
        "syncToken",
        params={"syncType": "ISync", "syncToken": "forged"},
        headers=user("101"),
    )


def test_the_wires_pieces_without_a_framework() -> None:
    """``error_answer``, ``load_json_body``, ``check_send_numbers`` and the carrier's loader,
    called as a service of any framework would call them."""
    inbox = _inbox()
    with pytest.raises(InvalidInput) as caught, wire.renaming(wire.SEND_NAMES):
        inbox.send(actor="101", body=" ", owner_number=OWNER, guest_number=GUEST)
    status, body = wire.error_answer(caught.value)
    assert (status, body["errors"][0]["parameterName"]) == (422, "text")
    assert wire.error_answer(
        InvalidInput("Parameter [body] ...", parameter="body"), wire.SEND_NAMES
    )[1]["errors"][0] == {
        "errorCode": "InvalidInput",
        "message": "Parameter [text] ...",
        "parameterName": "text",
    }

    with pytest.raises(UnsupportedMediaType):
        wire.load_json_body("text/plain", b"{}")
    with pytest.raises(WireFormatError) as malformed:
        wire.load_json_body("application/json; charset=utf-8", b"{")
    assert malformed.value.parameter == "$"
    assert wire.load_json_body("application/merge-patch+json", b'{"a": 1}') == {"a": 1}

    sms = wire.load_carrier_inbound({"from": GUEST, "to": OWNER, "text": "hi", "id": "c-9"})
    thread = inbox.get(inbox.receive(**sms.arguments()).thread_id, actor="101")
    own = wire.load_send_request(
        {
            "threadId": thread.id,
            "from": {"phoneNumber": OWNER},
            "to": [{"phoneNumber": GUEST}],
            "text": "x",
        }
    )
    wire.check_send_numbers(own, thread)
    with pytest.raises(InvalidInput) as other:
        wire.check_send_numbers(attrs.evolve(own, guest_number=GUEST2), thread)
    assert other.value.parameter == "to"
