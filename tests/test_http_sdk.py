"""``threadcore serve`` driven end to end by the platform's Python SDK (issue 25), the second real
client beside the Node one (``test_http_node.py``).

``ringcentral`` (0.9.x, PyPI) calls every operation of the message-threads API through
``platform.get/post/put/patch/delete``, sends files with the SDK's own ``MultipartBuilder`` (its
JSON part named ``json``, its files ``attachment``), and reads every refusal through its
``ApiException``. The bearer token is set with ``platform.auth().set_data(...)``; query
parameters go as a list of pairs (the SDK's dict form does not encode ``+``). One server per
storage, started once for the module: SQLite, and PostgreSQL with two workers, both on the
stored manual clock (``--manual-clock``), which the control plane moves for every worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import served
from pg_server import drop_schema, new_schema_name
from ringcentral import SDK
from ringcentral.http.api_exception import ApiException
from ringcentral.platform.platform import Platform
from test_http_node import DIRECTORY, START, TOKENS  # the Node client's world: the same

from threadcore.wire import (
    load_api_error,
    load_entries_sync,
    load_message,
    load_message_list,
    load_note,
    load_note_list,
    load_thread,
    load_thread_list,
    load_thread_sync,
)

pytest_plugins = ["conftest_pg"]

CONTROL = "ctl"
BILLING = "+12092480001"
THREADS = "/restapi/v1.0/account/~/message-threads"


class Server:
    """A running ``threadcore serve``: its URL, and an SDK platform per bearer token."""

    def __init__(self, url: str, storage: str) -> None:
        self.url, self.storage = url, storage
        self._guests = 0

    def sdk(self, token: str) -> tuple[SDK, Platform]:
        """The platform's SDK pointed at this server, signed in with ``token``."""
        sdk = SDK("threadcore-test", "unused-secret", self.url, name="threadcore-e2e")
        platform = sdk.platform()
        year = 365 * 24 * 3600  # the SDK refreshes a token it thinks expired: it never is
        platform.auth().set_data(
            {
                "token_type": "Bearer",
                "access_token": token,
                "expires_in": year,
                "refresh_token_expires_in": year,
            }
        )
        return sdk, platform

    def as_user(self, extension: str) -> Platform:
        return self.sdk(f"tok-{extension}")[1]

    def control(self, path: str, body: Any = None) -> Any:
        """A control-plane call (a full URL: the SDK puts ``/restapi/v1.0`` before any other)."""
        platform = self.sdk(CONTROL)[1]
        url = f"{self.url}/threadcore/v1/{path}"
        answer = platform.get(url) if body is None else platform.post(url, body)
        return answer.json_dict()

    def guest(self) -> str:
        """A customer's number no other test of this server used."""
        self._guests += 1
        return f"+1650224{self._guests:04d}"

    def inbound(self, guest: str, owner: str = BILLING, text: str = "hi", **extra: Any) -> Any:
        body = {"from": guest, "to": owner, "text": text, **extra}
        return load_message(self.control("carrier/inbound", body))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One ``threadcore serve`` per storage for the whole module, on the stored manual clock:
    SQLite (one worker), PostgreSQL (two workers)."""
    folder = tmp_path_factory.mktemp(f"sdk-{request.param}")
    dropped: tuple[str, str] | None = None
    if request.param == "sqlite":
        url, options = f"sqlite:///{folder / 'sdk.db'}", ()
    else:
        postgres: str = request.getfixturevalue("postgres_url")
        schema = new_schema_name()
        dropped = (postgres, schema)
        url = f"{postgres}{'&' if '?' in postgres else '?'}schema={schema}"
        options = ("--workers", "2")
    try:
        with served.servers(folder, DIRECTORY, TOKENS, "--control-token", CONTROL) as start:
            _, base = start(url, "--manual-clock", START, *options)
            yield Server(base, request.param)
    finally:
        if dropped is not None:
            drop_schema(*dropped)


def refusal(call: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """The status and error body of a call the server refuses, read through ``ApiException``."""
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    response = caught.value.api_response().response()
    body = response.json()
    load_api_error(body)  # the platform's error body
    return response.status_code, body


def without_files(page: Any) -> Any:
    """A served page of messages with their attachment entries dropped, for the wire's loader
    (which reads a message's attachments as the library's URLs)."""
    return {**page, "records": [{**m, "attachments": []} for m in page["records"]]}


def parameter(body: Any) -> Any:
    return body["errors"][0].get("parameterName")


def test_threads_list_read_assign_resolve_delete_and_sync(server: Server) -> None:
    guest = server.guest()
    ann, bob, support = server.as_user("102"), server.as_user("101"), server.as_user("201")
    full = load_thread_sync(ann.get(THREADS + "/sync", [("syncType", "FSync")]).json_dict())
    thread_id = server.inbound(guest, text="my card was charged twice", id="sdk-1").thread_id
    assert (
        server.inbound(guest, text="my card was charged twice", id="sdk-1").thread_id == thread_id
    )

    # "+" survives as a list of pairs; availability repeats
    query = [("guestPhoneNumber", guest), ("availability", "Alive"), ("availability", "Deleted")]
    listed = load_thread_list(ann.get(THREADS, query).json_dict())
    assert [t.id for t in listed.records] == [thread_id]
    read = ann.get(f"{THREADS}/{thread_id}").json_dict()
    assert load_thread(read).id == thread_id
    assert read == ann.get(THREADS, query).json_dict()["records"][0]
    assert load_thread_list(support.get(THREADS, query).json_dict()).records == ()

    assigned = load_thread(
        ann.post(f"{THREADS}/{thread_id}/assign", {"assignee": {"extensionId": "101"}}).json_dict()
    )
    assert assigned.assignee is not None
    assert assigned.assignee.extension_id == "101"
    changed = load_thread_sync(
        ann.get(
            THREADS + "/sync", [("syncType", "ISync"), ("syncToken", full.sync_token)]
        ).json_dict()
    )
    assert thread_id in [t.id for t in changed.records]

    resolved = load_thread(bob.post(f"{THREADS}/{thread_id}/resolve", {}).json_dict())
    assert resolved.status.value == "Resolved"
    assert bob.delete(f"{THREADS}/{thread_id}").response().status_code == 204
    deleted = load_thread_list(ann.get(THREADS, [("availability", "Deleted")]).json_dict())
    assert thread_id in [t.id for t in deleted.records]


def test_messages_json_and_multipart_content_and_delete(server: Server) -> None:
    guest = server.guest()
    sdk, bob = server.sdk("tok-101")
    thread_id = server.inbound(guest, text="where is my receipt?").thread_id
    bob.post(f"{THREADS}/{thread_id}/assign", {"assignee": {"extensionId": "101"}})
    on_thread = {
        "threadId": thread_id,
        "from": {"phoneNumber": BILLING},
        "to": [{"phoneNumber": guest}],
    }
    reply = load_message(
        bob.post(THREADS + "/messages", {**on_thread, "text": "one moment"}).json_dict()
    )
    assert reply.thread_id == thread_id

    builder = sdk.create_multipart_builder()
    builder.set_body({**on_thread, "text": "your receipt"})
    builder.add(("receipt.png", b"\x89PNG the receipt", "image/png"))  # a part named attachment
    builder.add(("note.txt", b"paid in full", "text/plain"), "attachment")
    sent = bob.send_request(builder.request(THREADS + "/messages")).json_dict()
    assert [a["filename"] for a in sent["attachments"]] == ["receipt.png", "note.txt"]
    content = bob.get(sent["attachments"][0]["contentUri"])
    assert content.response().content == b"\x89PNG the receipt"
    assert content.response().headers["content-type"] == "image/png"

    # (a served message's attachments are the platform's entries, not the library's URLs)
    listed = bob.get(THREADS + "/messages", [("threadIds", thread_id)]).json_dict()
    assert {reply.id, sent["id"]} <= {m["id"] for m in listed["records"]}
    deleting = bob.delete(THREADS + "/messages", {"ids": [reply.id]})
    assert deleting.response().status_code == 204
    alive = bob.get(THREADS + "/messages", [("threadIds", thread_id), ("perPage", "5")])
    assert load_message_list(without_files(alive.json_dict())).records
    assert reply.id not in {m["id"] for m in alive.json_dict()["records"]}

    explicit = [("syncType", "FSync"), ("scope", "Explicit"), ("threadIds", thread_id)]
    entries = bob.get(THREADS + "/entries/sync", explicit).json_dict()
    assert sent["id"] in {entry.get("id") for entry in entries["records"]}
    assert load_entries_sync(without_files(entries)).sync_token


def test_notes_create_update_list_delete(server: Server) -> None:
    guest = server.guest()
    bob = server.as_user("101")
    thread_id = server.inbound(guest).thread_id
    note = load_note(
        bob.post(THREADS + "/notes", {"threadId": thread_id, "text": "called"}).json_dict()
    )
    patched = load_note(
        bob.patch(f"{THREADS}/notes/{note.id}", {"text": "called twice"}).json_dict()
    )
    assert patched.text == "called twice"
    notes = load_note_list(bob.get(THREADS + "/notes", [("threadIds", thread_id)]).json_dict())
    assert [n.id for n in notes.records] == [note.id]
    assert bob.delete(THREADS + "/notes", {"ids": [note.id]}).response().status_code == 204
    notes = load_note_list(bob.get(THREADS + "/notes", [("threadIds", thread_id)]).json_dict())
    assert notes.records == ()


def test_refusals_through_the_sdks_exception(server: Server) -> None:
    guest = server.guest()
    sdk, bob = server.sdk("tok-101")
    thread_id = server.inbound(guest).thread_id
    thread = f"{THREADS}/{thread_id}"

    assert refusal(server.sdk("nobody")[1].get, THREADS)[0] == 401
    assert refusal(server.as_user("201").get, thread)[0] == 404
    status, body = refusal(bob.put, thread + "/resolve", {})
    assert (status, body["errorCode"]) == (405, "MethodNotAllowed")
    status, body = refusal(bob.get, thread, [("threadStatus", "Open")])
    assert (status, parameter(body)) == (422, "threadStatus")
    # a dict query goes into the URL unencoded: a number's "+" arrives as a space
    status, body = refusal(bob.get, THREADS, {"guestPhoneNumber": guest})
    assert (status, parameter(body)) == (422, "guestPhoneNumber")
    status, body = refusal(bob.get, THREADS, [("creationTimeFrom", "yesterday")])
    assert (status, parameter(body)) == (422, "creationTimeFrom")
    status, body = refusal(bob.get, THREADS + "/sync", [("syncType", "ISync"), ("syncToken", "x")])
    assert (status, parameter(body)) == (400, "syncToken")
    status, body = refusal(bob.post, thread + "/assign", {"assignee": {"extensionId": "999"}})
    assert (status, parameter(body)) == (422, "assignee.extensionId")

    bob.post(thread + "/assign", {"assignee": {"extensionId": "101"}})
    on_thread = {
        "threadId": thread_id,
        "from": {"phoneNumber": BILLING},
        "to": [{"phoneNumber": guest}],
    }
    status, body = refusal(bob.post, THREADS + "/messages", {**on_thread, "text": "x" * 1601})
    assert (status, parameter(body)) == (422, "text")
    other = {**on_thread, "to": [{"phoneNumber": server.guest()}], "text": "x"}
    assert parameter(refusal(bob.post, THREADS + "/messages", other)[1]) == "to"
    builder = sdk.create_multipart_builder()
    builder.set_body({**on_thread, "text": "files"})
    for i in range(11):
        builder.add((f"f{i}.txt", b"x", "text/plain"))
    status, body = refusal(bob.send_request, builder.request(THREADS + "/messages"))
    assert (status, parameter(body)) == (413, "attachment")

    reused = {"from": guest, "to": BILLING, "text": "another text", "id": "sdk-refused"}
    server.control("carrier/inbound", {**reused, "text": "first"})
    control = server.sdk(CONTROL)[1]
    status, body = refusal(control.post, f"{server.url}/threadcore/v1/carrier/inbound", reused)
    assert (status, parameter(body)) == (409, "id")
    status, body = refusal(bob.post, f"{server.url}/threadcore/v1/carrier/inbound", reused)
    assert status == 401


def test_the_stored_clock_expires_a_thread_for_every_worker(server: Server) -> None:
    guest = server.guest()
    bob = server.as_user("101")
    thread_id = server.inbound(guest, text="hello?").thread_id
    before = {server.control("clock")["now"] for _ in range(6)}
    assert len(before) == 1  # every worker answers the same instant
    moved = server.control("clock", {"advance": "PT72H"})
    assert thread_id in moved["expired"]
    for _ in range(6):  # several connections: both workers of PostgreSQL's server
        thread = load_thread(bob.get(f"{THREADS}/{thread_id}").json_dict())
        assert thread.status.value == "Resolved"
        assert server.control("clock")["now"] == moved["now"]
