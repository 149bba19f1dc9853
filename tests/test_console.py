"""The inbox console (issue 26), through Starlette's TestClient: the login and its cookie, the
redirect without it, the refusal of a form without the session's CSRF token, every page, the
escaping of a customer's text, and each command; and the operator's reads it is built on."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from click.testing import CliRunner
from conftest import (
    GUEST,
    GUEST2,
    OWNER,
    QUEUE,
    START,
    SUPPORT,
    SUPPORT_NUMBER,
    two_queue_directory,
)
from starlette.testclient import TestClient

from threadcore import (
    EntryType,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Message,
    ThreadFilter,
    ThreadStatus,
)
from threadcore.cli.app import run
from threadcore.connect import DATABASE_URL_VARIABLE
from threadcore.errors import InvalidInput, ThreadNotFound
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.model import Availability

CONTROL = "ctl-secret"
PAGES = ("/console/", "/console/threads", "/console/outbound", "/console/directory")
SCRIPT = "<script>alert('body')</script>"
IMAGE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def inbox(clock: ManualClock) -> Inbox:
    return Inbox(
        repository=InMemoryRepository(),
        directory=two_queue_directory(),
        clock=clock,
        ids=SequentialIds("t"),
    )


@pytest.fixture
def client(inbox: Inbox) -> TestClient:
    app = create_app(inbox, tokens={"tok-101": "101"}, control_token=CONTROL, console=True)
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def _login(client: TestClient) -> str:
    """Log in; the session's CSRF token."""
    page = client.get("/console/login")
    answer = client.post(
        "/console/login", data={"token": CONTROL, "csrf": _csrf(page.text), "next": "/console/"}
    )
    assert answer.status_code == 303
    return _csrf(client.get("/console/").text)


def _post(client: TestClient, path: str, csrf: str, **fields: str) -> str:
    """POST a form as the console's page does and follow to the page it goes back to."""
    answer = client.post(path, data={"csrf": csrf, **fields})
    assert answer.status_code == 303, answer.text[:300]
    return client.get(answer.headers["location"]).text


def _answer(inbox: Inbox, thread_id: str, body: str) -> Message:
    """Handler 101 takes the thread and answers on it."""
    inbox.assign(thread_id, actor="101", assignee="101")
    return inbox.send(actor="101", thread_id=thread_id, body=body)


def _notice(html: str) -> str:
    found = re.search(r'data-testid="notice">(.*?)</div>', html, re.S)
    assert found is not None, "no notice on the page"
    return found.group(1)


# --- the session ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [*PAGES, "/console/threads/t1", "/console/live"])
def test_without_the_cookie_every_page_goes_to_the_login(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


def test_the_login_sets_an_httponly_strict_session_cookie(client: TestClient) -> None:
    page = client.get("/console/login?next=/console/threads")
    assert 'name="token"' in page.text
    assert 'for="token"' in page.text
    answer = client.post(
        "/console/login",
        data={"token": CONTROL, "csrf": _csrf(page.text), "next": "/console/threads"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/threads"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "threadcore_console=" in c)
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/console" in cookie
    assert client.get("/console/threads").status_code == 200


def test_a_wrong_token_is_refused_and_opens_no_session(client: TestClient) -> None:
    page = client.get("/console/login")
    answer = client.post("/console/login", data={"token": "guess", "csrf": _csrf(page.text)})
    assert answer.status_code == 401
    assert "not the control token" in answer.text
    assert "threadcore_console=" not in answer.headers.get("set-cookie", "")
    assert client.get("/console/").status_code == 303


def test_the_login_form_needs_its_csrf_field(client: TestClient) -> None:
    client.get("/console/login")
    answer = client.post("/console/login", data={"token": CONTROL, "csrf": "forged"})
    assert answer.status_code == 403
    assert client.get("/console/").status_code == 303


def test_a_user_token_is_not_the_control_token(client: TestClient) -> None:
    page = client.get("/console/login")
    answer = client.post("/console/login", data={"token": "tok-101", "csrf": _csrf(page.text)})
    assert answer.status_code == 401


def test_the_next_page_after_login_is_only_a_console_path(client: TestClient) -> None:
    page = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"token": CONTROL, "csrf": _csrf(page.text), "next": "//evil.example/console/"},
    )
    assert answer.headers["location"] == "/console/"


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, {}),
        ("forged", {}),
        ("session's", {"Origin": "http://evil.example"}),
        ("session's", {"Sec-Fetch-Site": "cross-site"}),
    ],
)
def test_a_form_from_elsewhere_is_refused_and_changes_nothing(
    client: TestClient, inbox: Inbox, csrf: str | None, headers: dict[str, str]
) -> None:
    session_csrf = _login(client)
    fields = {"from": GUEST, "to": OWNER, "text": "hello"}
    if csrf is not None:
        fields["csrf"] = session_csrf if csrf == "session's" else csrf
    answer = client.post("/console/inbound", data=fields, headers=headers)
    assert answer.status_code == 403
    assert inbox.operator_threads().records == ()


def test_a_form_without_a_session_goes_to_the_login(client: TestClient, inbox: Inbox) -> None:
    answer = client.post("/console/inbound", data={"from": GUEST, "to": OWNER, "text": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")
    assert inbox.operator_threads().records == ()


def test_logging_out_ends_the_session(client: TestClient) -> None:
    csrf = _login(client)
    answer = client.post("/console/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    assert client.get("/console/").status_code == 303


def test_the_console_needs_a_control_token(inbox: Inbox) -> None:
    with pytest.raises(InvalidInput):
        create_app(inbox, tokens={"tok-101": "101"}, console=True)


def test_the_console_is_off_by_default(inbox: Inbox) -> None:
    app = create_app(inbox, tokens={"tok-101": "101"}, control_token=CONTROL)
    answer = TestClient(app).get("/console/login")
    assert answer.status_code == 404


# --- the pages -----------------------------------------------------------------------------------
def test_every_page_renders_with_the_clock_and_its_hooks(client: TestClient, inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="first")
    _answer(inbox, message.thread_id, "an answer")
    _login(client)
    for path in (*PAGES, f"/console/threads/{message.thread_id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="clock-now"' in page.text
        assert 'data-testid="clock-advance"' in page.text
        assert "2026-02-17T17:00:00.000Z" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert 'data-testid="inbound-form"' in client.get("/console/threads").text
    assert 'data-testid="directory-form"' in client.get("/console/directory").text
    rows = client.get("/console/threads").text
    assert f'data-testid="thread-row" data-thread-id="{message.thread_id}"' in rows
    assert "an answer" in rows  # its last message
    assert 'data-testid="outbound-row"' in client.get("/console/outbound").text
    timeline = client.get(f"/console/threads/{message.thread_id}").text
    # opened, inbound, assigned, outbound
    assert timeline.count('data-testid="timeline-entry"') == 4
    assert client.get("/console/threads/nope").status_code == 404


def test_the_overview_counts_each_resources_threads(client: TestClient, inbox: Inbox) -> None:
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="a")
    inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="b")
    inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST, body="c")
    inbox.resolve(first.thread_id, actor="101")
    _login(client)
    page = client.get("/console/").text
    row = re.search(rf'data-extension-id="{QUEUE}">(.*?)</tr>', page, re.S)
    assert row is not None
    counts = re.findall(r'data-testid="count-(\w+)">(\d+)<', row.group(1))
    assert counts == [("open", "1"), ("resolved", "1"), ("deleted", "0")]


def test_the_thread_list_filters_by_resource_status_and_handler(
    client: TestClient, inbox: Inbox
) -> None:
    billing = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="a")
    support = inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST2, body="b")
    inbox.resolve(support.thread_id, actor="201")
    _login(client)

    def listed(query: str) -> set[str]:
        page = client.get(f"/console/threads?{query}")
        assert page.status_code == 200
        return set(re.findall(r'data-testid="thread-row" data-thread-id="([^"]+)"', page.text))

    both = {billing.thread_id, support.thread_id}
    assert listed("") == both
    assert listed(f"resource={SUPPORT}") == {support.thread_id}
    assert listed("status=Open") == {billing.thread_id}
    assert listed("status=Resolved") == {support.thread_id}
    assert listed("handler=201") == {support.thread_id}  # the threads 201 may see
    assert listed("handler=103") == both
    assert listed(f"handler=101&resource={SUPPORT}") == set()
    assert client.get("/console/threads?status=Lost").status_code == 400
    for odd in ("0", "-1", "9" * 5000, "x"):  # page 1
        assert client.get(f"/console/threads?page={odd}").status_code == 200
        assert client.get(f"/console/outbound?page={odd}").status_code == 200


@pytest.mark.parametrize("text", [SCRIPT, IMAGE])
def test_a_customers_text_and_a_note_are_never_markup(
    client: TestClient, inbox: Inbox, text: str
) -> None:
    csrf = _login(client)
    page = _post(client, "/console/inbound", csrf, **{"from": GUEST, "to": OWNER, "text": text,
                                                       "back": "/console/threads"})  # fmt: skip
    thread_id = inbox.operator_threads().records[0].id
    inbox.add_note(thread_id, actor="101", text=text)
    _answer(inbox, thread_id, text)
    for html in (
        page,
        client.get(f"/console/threads/{thread_id}").text,
        client.get("/console/outbound").text,
    ):
        assert text not in html
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    timeline = client.get(f"/console/threads/{thread_id}").text
    assert timeline.count(text.replace("<", "&lt;").replace(">", "&gt;")[:20]) >= 3


# --- the commands --------------------------------------------------------------------------------
def test_the_inbound_form_receives_and_names_the_thread(client: TestClient, inbox: Inbox) -> None:
    csrf = _login(client)
    fields = {"from": GUEST, "to": OWNER, "text": "hi", "id": "carrier-1"}
    page = _post(client, "/console/inbound", csrf, back="/console/threads", **fields)
    (thread,) = inbox.operator_threads().records
    assert thread.id in _notice(page)
    assert f'data-thread-id="{thread.id}"' in page
    again = _post(
        client, "/console/inbound", csrf, **{"from": "nonsense", "to": OWNER, "text": "x"}
    )
    assert "InvalidInput" in _notice(again) or "WireFormatError" in _notice(again)


def test_advancing_the_clock_72h_expires_and_lists_the_thread(
    client: TestClient, inbox: Inbox
) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    csrf = _login(client)
    back = f"/console/threads/{message.thread_id}"
    page = _post(client, "/console/clock", csrf, advance="PT72H", back=back)
    assert message.thread_id in _notice(page)
    assert "2026-02-20T17:00:00.000Z" in page
    assert re.search(r'data-testid="thread-status">Resolved \(ThreadExpired\)', page)
    assert 'data-entry-type="ThreadResolvedHint"' in page


def test_the_advance_field_and_the_set_field_move_the_clock(
    client: TestClient, inbox: Inbox
) -> None:
    csrf = _login(client)
    _post(client, "/console/clock", csrf, advance="P1D")
    assert inbox.now() == START + timedelta(days=1)
    # the typed field first, then the button pressed: the button wins
    form = urlencode([("csrf", csrf), ("advance", "PT5H"), ("advance", "PT1H")])
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/console/clock", content=form, headers=kind).status_code == 303
    assert inbox.now() == START + timedelta(days=1, hours=1)
    _post(client, "/console/clock", csrf, set="2026-03-01T00:00")
    assert inbox.now().isoformat() == "2026-03-01T00:00:00+00:00"
    refused = _post(client, "/console/clock", csrf, set="2026-01-01T00:00:00Z")
    assert "InvalidInput" in _notice(refused)


def test_without_a_manual_clock_the_clock_cannot_move(inbox: Inbox) -> None:
    served = Inbox(repository=InMemoryRepository(), directory=two_queue_directory())
    client = TestClient(
        create_app(served, tokens={}, control_token=CONTROL, console=True),
        base_url="http://testserver",
        follow_redirects=False,
    )
    csrf = _login(client)
    page = client.get("/console/").text
    assert 'data-testid="clock-advance"' not in page
    assert "Conflict" in _notice(_post(client, "/console/clock", csrf, advance="PT1H"))


def test_a_delivery_status_button_records_it(client: TestClient, inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    sent = _answer(inbox, message.thread_id, "answer")
    csrf = _login(client)
    page = _post(client, "/console/status", csrf, messageId=sent.id, status="Delivered",
                 back="/console/outbound")  # fmt: skip
    assert inbox.message(sent.id, actor="101").status == "Delivered"
    assert re.search(rf'data-message-id="{sent.id}"[^>]*data-status="Delivered"', page)
    refused = _post(client, "/console/status", csrf, messageId=sent.id, status="Lost")
    assert "must be one of" in _notice(refused)
    missing = _post(client, "/console/status", csrf, messageId="t-99", status="Delivered")
    assert "MessageNotFound" in _notice(missing)


def test_a_directory_change_shows_the_threads_it_changed(client: TestClient, inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    inbox.assign(message.thread_id, actor="101", assignee="101")
    csrf = _login(client)
    page = _post(client, "/console/directory", csrf, change="remove-handler",
                 extensionId=QUEUE, handlerId="101")  # fmt: skip
    assert message.thread_id in _notice(page)
    assert inbox.operator_thread(message.thread_id).thread.assignee is None
    page = _post(client, "/console/directory", csrf, change="add-resource", extensionId="777",
                 name="Night desk", phoneNumbers="+12092480077", handlers="701 702")  # fmt: skip
    assert "Add resource: 0 threads changed" in _notice(page)
    assert [r.extension_id for r in inbox.resources()] == [QUEUE, SUPPORT, "777"]
    page = _post(client, "/console/directory", csrf, change="remove-resource", extensionId=SUPPORT)
    assert "Remove resource" in _notice(page)
    refused = _post(client, "/console/directory", csrf, change="drop-table", extensionId=QUEUE)
    assert "InvalidInput" in _notice(refused)


def test_the_live_poll_answers_204_until_the_inbox_changes(
    client: TestClient, inbox: Inbox
) -> None:
    _login(client)
    page = client.get("/console/threads").text
    poll = re.search(r'hx-get="(/console/live\?[^"]+)"', page)
    assert poll is not None
    url = poll.group(1).replace("&amp;", "&")
    assert client.get(url).status_code == 204
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    changed = client.get(url)
    assert changed.status_code == 200
    assert changed.headers["hx-trigger"] == "inbox-changed"


# --- the operator's reads ------------------------------------------------------------------------
def test_operator_threads_are_every_resources_newest_first(
    inbox: Inbox, clock: ManualClock
) -> None:
    ids = []
    for n in range(5):
        clock.advance(timedelta(minutes=1))
        owner = OWNER if n % 2 else SUPPORT_NUMBER
        ids.append(
            inbox.receive(owner_number=owner, guest_number=f"+1650224000{n}", body="x").thread_id
        )
    first = inbox.operator_threads(per_page=2)
    assert [t.id for t in first] == [ids[4], ids[3]]
    assert first.paging is not None
    assert first.paging.total_elements == 5
    assert [t.id for t in inbox.operator_threads(per_page=2, page=3)] == [ids[0]]
    support = inbox.operator_threads(filter=ThreadFilter(owner_extension_ids=[SUPPORT]))
    assert [t.id for t in support] == [ids[4], ids[2], ids[0]]
    assert inbox.status_counts(SUPPORT) == {"open": 3, "resolved": 0, "deleted": 0}
    clock.advance(timedelta(hours=72))
    due = inbox.operator_threads(filter=ThreadFilter(status=ThreadStatus.RESOLVED))
    assert len(due) == 5  # expiry applied on read, no sweep needed
    assert inbox.latest_messages([ids[0]])[ids[0]].body == "x"


def test_operator_thread_is_the_whole_timeline_in_order(inbox: Inbox, clock: ManualClock) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    clock.advance(timedelta(minutes=1))
    inbox.assign(message.thread_id, actor="101", assignee="102")
    clock.advance(timedelta(minutes=1))
    inbox.add_note(message.thread_id, actor="102", text="a note")
    clock.advance(timedelta(minutes=1))
    inbox.send(actor="102", thread_id=message.thread_id, body="answer", attachments=["https://x/1"])
    clock.advance(timedelta(hours=80))  # due: expired on read, no sweep yet
    found = inbox.operator_thread(message.thread_id)
    assert found.thread.status is ThreadStatus.RESOLVED
    kinds = [e.record_type for e in found.entries]
    assert kinds == [
        EntryType.THREAD_CREATED_HINT,
        EntryType.ALIVE_MESSAGE,
        EntryType.THREAD_ASSIGNED_HINT,
        EntryType.ALIVE_NOTE,
        EntryType.ALIVE_MESSAGE,
        EntryType.THREAD_RESOLVED_HINT,
    ]
    assert found.entries[4].attachments == ("https://x/1",)
    assert found.entries[2].assignee is not None
    assert found.entries[2].assignee.name == "Ann Lee"
    inbox.expire()  # the sweep's hint replaces the one read ahead of it: still one
    assert [e.record_type for e in inbox.operator_thread(message.thread_id).entries].count(
        EntryType.THREAD_RESOLVED_HINT
    ) == 1
    with pytest.raises(ThreadNotFound):
        inbox.operator_thread("missing")


def test_operator_reads_see_deleted_threads_and_outbound(inbox: Inbox) -> None:
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    sent = _answer(inbox, message.thread_id, "answer")
    inbox.delete(message.thread_id, actor="101")
    deleted = inbox.operator_threads(filter=ThreadFilter(availability=[Availability.DELETED]))
    assert [t.id for t in deleted] == [message.thread_id]
    outbound = inbox.outbound_messages()
    assert [m.id for _, m in outbound.records] == [sent.id]
    assert outbound.after == inbox.feed_position()


# --- threadcore serve --console ------------------------------------------------------------------
def _serve(*arguments: str) -> tuple[int, str]:
    with CliRunner().isolation(env={DATABASE_URL_VARIABLE: None}) as (out, err, _):
        code = run(["serve", *arguments])
    return code, out.getvalue().decode() + err.getvalue().decode()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--console"], "--console needs --control-token"),
        (["--demo"], "--demo goes with --console"),
        (["--console", "--demo", "--db", "sqlite:///x.db"], "--demo makes its own SQLite file"),
    ],
)
def test_serve_refuses_a_console_it_cannot_serve(
    tmp_path: Path, options: list[str], words: str
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"tok-101": "101"}')
    code, output = _serve("--tokens", str(tokens), *options)
    assert code == 2
    assert words in output
    assert "Traceback" not in output


def test_serve_console_demo_is_the_one_command_of_the_readme() -> None:
    """``threadcore serve --console --demo``: the demo's inbox, a manual clock, and a control
    token printed with the console's URL, which opens the console."""
    command = [sys.executable, "-m", "threadcore", "serve", "--console", "--demo", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        serving = re.search(r"serving (http://\S+) on sqlite:///", process.stdout.readline())
        told = re.search(r"console (http://\S+/console/) \(log in with the control token (\S+)\)",
                         process.stdout.readline())  # fmt: skip
        assert serving is not None
        assert told is not None
        base, token = serving.group(1), told.group(2)
        assert told.group(1) == f"{base}/console/"
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as browser:
            login = browser.get("/console/login")
            fields = {"token": token, "csrf": _csrf(login.text), "next": "/console/threads"}
            assert browser.post("/console/login", data=fields).status_code == 303
            threads = browser.get("/console/threads?status=Open")
            assert threads.status_code == 200
            assert threads.text.count('data-testid="thread-row"') == 50  # a full first page
            moved = browser.post(
                "/threadcore/v1/clock",
                json={"advance": "PT1H"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert moved.status_code == 200, moved.text  # a manual clock
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
