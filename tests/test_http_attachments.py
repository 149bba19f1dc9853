"""Files sent through threadcore.http (issue 25, rule M8): a send the rules refuse stores none of
its files; a file's bytes are stored once, shared by every message that carries it, and go when
the last message (or its thread) that carries them is deleted."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import GUEST, GUEST2, OWNER
from tests.test_http import BASE, assigned, error_of, inbound, make_client, user
from threadcore import Inbox, SQLiteRepository

__all__ = ["make_client"]  # the fixture, shared with test_http.py

MakeClient = Callable[..., tuple[TestClient, Inbox]]


def stored_files(inbox: Inbox) -> tuple[int, int]:
    """How many files' bytes the inbox's store holds, and how many bytes: read from the SQLite
    file itself, or from the in-memory repository."""
    repository = inbox._repo
    if isinstance(repository, SQLiteRepository):
        with sqlite3.connect(repository.path) as conn:
            count, size = conn.execute(
                "SELECT count(*), coalesce(sum(length(content)), 0) FROM threadcore_attachments"
            ).fetchone()
        return int(count), int(size)
    kept: dict[str, bytes] = repository._files._bytes  # type: ignore[attr-defined]
    return len(kept), sum(map(len, kept.values()))


def ten_files(seed: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Ten distinct files of 100 kB each."""
    return [
        (
            "attachments",
            (f"{seed}-{i}.bin", (f"{seed}{i}".encode() * 100_000)[:100_000], "image/png"),
        )
        for i in range(10)
    ]


def send_form(
    client: TestClient,
    actor: str,
    files: list[tuple[str, tuple[str, bytes, str]]],
    text: str = "Your receipt",
    owner: str = OWNER,
    guest: str = GUEST,
) -> Any:
    metadata = {"from": {"phoneNumber": owner}, "to": [{"phoneNumber": guest}], "text": text}
    form = [("request.json", ("request.json", json.dumps(metadata), "application/json"))]
    return client.post(f"{BASE}/messages", files=form + files, headers=user(actor))


@pytest.mark.parametrize(
    ("actor", "owner", "guest", "text", "status", "code"),
    [
        ("102", OWNER, GUEST, "hi", 403, "NotAssignee"),  # not the assignee
        ("201", OWNER, GUEST, "hi", 404, "UnknownPhoneNumber"),  # a number 201 does not handle
        ("101", "+12092489999", GUEST, "hi", 404, "UnknownPhoneNumber"),  # nobody's number
        ("101", OWNER, GUEST2, "hi", 409, "RecipientOptedOut"),  # the guest said STOP
        ("101", OWNER, GUEST, "x" * 1601, 422, "InvalidInput"),  # text too long
    ],
)
def test_a_refused_send_stores_none_of_its_files(
    make_client: MakeClient,
    actor: str,
    owner: str,
    guest: str,
    text: str,
    status: int,
    code: str,
) -> None:
    client, inbox = make_client()
    assigned(client)
    assigned(client, guest=GUEST2)
    inbound(client, "STOP", guest=GUEST2)
    before = stored_files(inbox)
    refused = send_form(client, actor, ten_files("refused"), text, owner, guest)
    assert refused.status_code == status, refused.text
    assert refused.json()["errorCode"] == code
    assert stored_files(inbox) == before == (0, 0)  # docs/http.md: nothing refused is stored
    assert send_form(client, "101", ten_files("sent")).status_code == 200
    assert stored_files(inbox) == (10, 1_000_000)


def test_one_file_sent_twice_is_stored_once_and_goes_with_the_last_message(
    make_client: MakeClient,
) -> None:
    client, inbox = make_client()
    assigned(client)
    picture = [("attachments", ("receipt.png", b"\x89PNG" + bytes(range(256)) * 40, "image/png"))]
    first = send_form(client, "101", picture).json()
    second = send_form(client, "101", picture, text="Again").json()
    assert stored_files(inbox) == (1, 4 + 256 * 40)
    gone = client.request(
        "DELETE", f"{BASE}/messages", json={"ids": [first["id"]]}, headers=user("101")
    )
    assert gone.status_code == 204, gone.text
    assert stored_files(inbox) == (1, 4 + 256 * 40)  # the second message still carries it
    shared = client.get(second["attachments"][0]["contentUri"], headers=user("101"))
    assert shared.status_code == 200
    assert shared.content.startswith(b"\x89PNG")
    error_of(
        client.get(first["attachments"][0]["contentUri"], headers=user("101")), 404, "NotFound"
    )
    client.request("DELETE", f"{BASE}/messages", json={"ids": [second["id"]]}, headers=user("101"))
    assert stored_files(inbox) == (0, 0)


def test_a_deleted_thread_takes_its_files_but_not_another_threads(
    make_client: MakeClient,
) -> None:
    client, inbox = make_client()
    thread_id = assigned(client)
    assigned(client, guest=GUEST2)
    shared = ("attachments", ("shared.pdf", b"%PDF shared" * 100, "application/pdf"))
    own = ("attachments", ("own.pdf", b"%PDF own" * 100, "application/pdf"))
    assert send_form(client, "101", [shared, own]).status_code == 200
    kept = send_form(client, "101", [shared], guest=GUEST2).json()
    assert stored_files(inbox)[0] == 2
    assert client.delete(f"{BASE}/{thread_id}", headers=user("101")).status_code == 204
    assert stored_files(inbox) == (1, len(b"%PDF shared" * 100))
    still = client.get(kept["attachments"][0]["contentUri"], headers=user("101"))
    assert still.content == b"%PDF shared" * 100


def test_a_draft_carries_its_files_into_the_message_it_becomes(make_client: MakeClient) -> None:
    """Files come through the library too (``Upload``), in drafts as in messages."""
    from threadcore import Upload

    client, inbox = make_client()
    thread_id = assigned(client)
    upload = Upload(b"draft file" * 10, "text/plain", "draft.txt")
    draft = inbox.save_draft(thread_id, actor="101", body="later", attachments=[upload])
    assert stored_files(inbox) == (1, 100)
    sent = inbox.send_draft(draft.id, actor="101")
    assert sent.attachments == (upload.url,)
    assert inbox.attachment_content(sent.id, 0, actor="101") == upload.content
    assert stored_files(inbox) == (1, 100)
    inbox.delete_messages([sent.id], actor="101")
    assert stored_files(inbox) == (0, 0)
