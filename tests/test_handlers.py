"""Issue 23, commands as handlers: a handler is a function of a command record and an explicit
context, the rules it asks are the domain's, and the facade names no adapter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import GUEST, OWNER, START, TTL, billing_directory

import threadcore
from threadcore import Inbox, InMemoryRepository, ManualClock, Policy
from threadcore.domain import messaging
from threadcore.domain.content import PLAIN, check_content
from threadcore.domain.errors import IdempotencyConflict, InvalidInput, NotPermitted
from threadcore.domain.events import GuestOptedIn, GuestOptedOut, ThreadResolved
from threadcore.domain.model import Direction, Keyword, ThreadStatus
from threadcore.domain.validation import check_pair
from threadcore.ids import RandomIds
from threadcore.inbox import commands as c
from threadcore.inbox._runner import ONE_ACCOUNT, Context
from threadcore.inbox.handlers import threads
from threadcore.storage import StoredDirectory

PACKAGE = Path(threadcore.__file__).resolve().parent
GUEST_B = "+16502240002"


# --- a handler, called as cosmicpython calls one: a command, a context, no facade ---------------
def test_a_handler_runs_on_an_explicit_context_and_leaves_the_events_to_its_runner() -> None:
    repository = InMemoryRepository()
    clock = ManualClock(START)
    inbox = Inbox(repository=repository, directory=billing_directory(), clock=clock)
    thread_id = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi").thread_id
    with repository.unit_of_work() as uow:
        ctx = Context(
            uow,
            START,
            billing_directory(),
            Policy(ttl=TTL),
            RandomIds(),
            ONE_ACCOUNT,
            [],
            [],
            inbox,
        )
        resolved = threads.resolve(c.Resolve(thread_id, "101"), ctx)
        assert resolved.status is ThreadStatus.RESOLVED
        assert [type(e) for e in ctx.events] == [ThreadResolved]  # made, not yet stored
        assert [t.id for t in ctx.relied] == [thread_id]  # what the runner re-checks (R10)
        assert ctx.account == ONE_ACCOUNT
    assert inbox.get(thread_id, actor="101").status is ThreadStatus.RESOLVED  # saved
    assert ThreadResolved not in [type(e) for _, e in inbox.events()]  # the runner appends them


def test_the_inbox_runs_for_the_one_account_in_every_context() -> None:
    inbox = Inbox(directory=billing_directory(), clock=ManualClock(START))  # no repository given
    seen: list[str] = []

    def spy(command: object, ctx: Context) -> None:
        seen.append(ctx.account)

    inbox._run(spy, None)
    assert seen == [ONE_ACCOUNT]


# --- the rules, once each in the domain ---------------------------------------------------------
def test_a_number_cannot_message_itself_is_one_rule_for_receive_and_send() -> None:
    assert check_pair(OWNER, GUEST) == (OWNER, GUEST)
    with pytest.raises(InvalidInput) as refused:
        check_pair(OWNER, OWNER)
    assert refused.value.parameter == "guestNumber"  # (the wire spelling of guest_number)
    inbox = Inbox(directory=billing_directory(), clock=ManualClock(START))
    for call in (
        lambda: inbox.receive(owner_number=OWNER, guest_number=OWNER, body="x"),
        lambda: inbox.send(actor="101", owner_number=OWNER, guest_number=OWNER, body="x"),
    ):
        with pytest.raises(InvalidInput, match="cannot message itself"):
            call()


def test_keywords_change_the_opt_out_only_when_they_change_it() -> None:
    policy = Policy()
    assert messaging.keyword_of("  stop ", policy) is Keyword.OPT_OUT
    assert messaging.keyword_of("stop" + " " * 70 + "x", policy) is None
    args = ("t", START, OWNER, GUEST, "m")
    assert isinstance(messaging.opt_change(Keyword.OPT_OUT, False, *args), GuestOptedOut)
    assert messaging.opt_change(Keyword.OPT_OUT, True, *args) is None
    assert isinstance(messaging.opt_change(Keyword.OPT_IN, True, *args), GuestOptedIn)
    assert messaging.opt_change(Keyword.OPT_IN, False, *args) is None
    assert messaging.opt_change(Keyword.HELP, True, *args) is None


def test_a_carrier_id_replays_its_message_or_conflicts() -> None:
    inbox = Inbox(directory=billing_directory(), clock=ManualClock(START))
    original = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="hi", provider_message_id="p1"
    )
    inbound = Direction.INBOUND
    assert messaging.replayed(original, inbound, "hi", None, OWNER, GUEST, None) is original
    for changed in (
        (Direction.OUTBOUND, "hi", None, OWNER, GUEST, None),
        (inbound, "other", None, OWNER, GUEST, None),
        (inbound, "hi", "101", OWNER, GUEST, None),
        (inbound, "hi", None, OWNER, GUEST_B, None),
        (inbound, "hi", None, None, None, "another-thread"),
    ):
        with pytest.raises(IdempotencyConflict):
            messaging.replayed(original, *changed)


def test_content_rules_are_the_domains() -> None:
    assert check_content("hi", (), "text/plain", False, None, Policy()) is PLAIN
    assert check_content("", ("https://x.example/a.png",), "image/png", True, None, Policy())[
        0
    ] == ("https://x.example/a.png",)
    with pytest.raises(InvalidInput, match="at most 10"):
        check_content("hi", ("https://x.example/a",) * 11, "text/plain", False, None, Policy())


# --- the facade depends on ports only -----------------------------------------------------------
def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_the_inbox_source_imports_nothing_of_the_adapters() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / "inbox").rglob("*.py"))
        for name in _imports(path)
        if name.startswith("threadcore.adapters")
    ]
    assert offenders == []


# Loads threadcore.inbox in a fresh interpreter without running threadcore/__init__.py (which
# composes everything, adapters included): only what the inbox itself imports gets loaded.
_PROBE = """
import importlib, json, sys, types
package = types.ModuleType("threadcore")
package.__path__ = [sys.argv[1]]
sys.modules["threadcore"] = package
importlib.import_module("threadcore.inbox")
print(json.dumps(sorted(sys.modules)))
"""


def test_loading_the_inbox_loads_no_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PACKAGE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(result.stdout)
    assert "threadcore.inbox.handlers.messages" in modules
    assert [m for m in modules if m.startswith("threadcore.adapters")] == []


def test_a_stored_directory_is_a_port_the_inbox_refreshes_from_each_unit_of_work() -> None:
    from threadcore.ports import StoredDirectoryPort

    repository = InMemoryRepository()
    stored = StoredDirectory(repository)
    assert isinstance(stored, StoredDirectoryPort)
    assert not isinstance(billing_directory(), StoredDirectoryPort)
    inbox = Inbox(repository=repository, directory=stored, clock=ManualClock(START))
    inbox.add_resource(billing_directory().resources()[0])
    thread = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    assert thread.to_number == OWNER
    assert timedelta(0) < TTL


def test_load_directory_is_not_permitted_on_a_directory_not_stored_whatever_the_list() -> None:
    inbox = Inbox(directory=billing_directory(), clock=ManualClock(START))
    billing = billing_directory().resources()[0]
    with pytest.raises(NotPermitted):
        inbox.load_directory([billing, billing])  # a repeated id: refused as not permitted
    with pytest.raises(InvalidInput):
        inbox.load_directory(["not a resource"])  # type: ignore[list-item]
