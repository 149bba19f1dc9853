"""Issue 5, opt-out: M7 (carrier keywords on inbound messages, per owner number, durable),
proved through the public ``Inbox`` API and named after the rule."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import observe
import pytest
from conftest import GUEST, GUEST2, OWNER, OWNER2, START, TTL, MakeInbox, two_queue_directory

from threadcore import Inbox, ManualClock, Policy, SQLiteRepository, ThreadFilter, ThreadStatus
from threadcore.domain.errors import RecipientOptedOut
from threadcore.domain.events import GuestOptedIn, GuestOptedOut
from threadcore.domain.model import Keyword, Message
from threadcore.errors import (
    InvalidInput,
    NotAssignee,
    ThreadNotFound,
    ThreadNotOpen,
    UnknownPhoneNumber,
)
from threadcore.ids import SequentialIds

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN = ["START", "YES", "UNSTOP"]
HELP = ["HELP", "INFO"]
PAIRS = [(OWNER, GUEST), (OWNER2, GUEST), (OWNER, GUEST2)]


def odd(word: str) -> list[str]:
    """The word in odd case with surrounding whitespace."""
    return [
        word.lower(),
        f"  {word.capitalize()}  ",
        "\t" + "".join(c.lower() if i % 2 else c for i, c in enumerate(word)) + "\n",
        f"\r\n {word.swapcase()}",
    ]


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    """Billing has two numbers, OWNER and OWNER2 (handlers 101, 102, 103)."""
    return make_inbox(directory=two_queue_directory())


def snapshot(inbox: Inbox) -> tuple[Any, ...]:
    return observe.snapshot(inbox, "101", PAIRS)


#: ``command`` raises exactly ``error`` and changes nothing (see ``observe.refused``).
refused = partial(observe.refused, actor="101", pairs=PAIRS)


def opted_out(inbox: Inbox, owner: str = OWNER, guest: str = GUEST) -> bool:
    return inbox.opted_out(actor="101", owner_number=owner, guest_number=guest)


def texts(inbox: Inbox, body: str, owner: str = OWNER, guest: str = GUEST) -> Message:
    return inbox.receive(owner_number=owner, guest_number=guest, body=body)


def kinds(inbox: Inbox, after: int = 0) -> list[str]:
    return [
        type(event).__name__
        for _, event in inbox.events(cursor=inbox.feed_cursor(after), limit=100_000)
    ]


def position(inbox: Inbox) -> int:
    stored = inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)
    return stored[-1][0] if stored else 0


def opted_out_guest(inbox: Inbox) -> str:
    """GUEST texted STOP to OWNER; the thread is assigned to 101. Returns the thread id."""
    thread_id = texts(inbox, "Hi").thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    texts(inbox, "STOP")
    return thread_id


# === M7: opt-out ================================================================================
@pytest.mark.parametrize("body", [b for word in OPT_OUT for b in [word, *odd(word)]])
def test_m7_each_opt_out_keyword_opts_the_guest_out(
    inbox: Inbox, clock: ManualClock, body: str
) -> None:
    texts(inbox, "Hi")
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    message = texts(inbox, body)
    assert message.keyword is Keyword.OPT_OUT
    assert message.body == body  # stored as the guest wrote it
    assert opted_out(inbox)
    events = [e for _, e in inbox.events(cursor=inbox.feed_cursor(cursor))]
    assert [type(e).__name__ for e in events] == ["MessageAdded", "GuestOptedOut"]
    assert events[1] == GuestOptedOut(message.thread_id, clock.now(), OWNER, GUEST, message.id)
    # still stored on the thread like any message: activity and the label
    thread = inbox.get(message.thread_id, actor="101")
    assert [m.id for m in inbox.messages(message.thread_id, actor="101")][-1] == message.id
    assert (thread.label, thread.latest_message_at) == (body, clock.now())


@pytest.mark.parametrize(
    "body",
    [
        "STOP PLEASE",
        "please stop",
        "STOPP",
        "S TOP",
        "stop.",
        "STOP!",
        "'STOP'",
        "STOP\u200b",
        "\u017ftop",  # a long s: its upper() is "STOP", but no carrier reads it so
        "\ufb06art",  # the "st" ligature: its upper() is "START"
        "\uff33\uff34\uff2f\uff30",  # fullwidth STOP
        "STOP STOP",
        "unsubscribe me",
        "START NOW",
        "HELP ME",
        "stopall now",
        "OPT OUT",
    ],
)
def test_m7_near_misses_are_ordinary_messages(inbox: Inbox, body: str) -> None:
    message = texts(inbox, body)
    assert message.keyword is None
    assert not opted_out(inbox)
    assert "GuestOptedOut" not in kinds(inbox)
    inbox.assign(message.thread_id, actor="101", assignee="101")
    assert inbox.send(actor="101", thread_id=message.thread_id, body="ok").body == "ok"


def test_m7_opt_out_is_per_owner_number(inbox: Inbox) -> None:
    opted_out_guest(inbox)
    assert opted_out(inbox, OWNER, GUEST)
    assert not opted_out(inbox, OWNER2, GUEST)
    assert not opted_out(inbox, OWNER, GUEST2)
    # the same guest from the resource's other number, and another guest from the same number
    assert inbox.send(actor="101", owner_number=OWNER2, guest_number=GUEST, body="a").body == "a"
    assert inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST2, body="b").body == "b"


def test_m7_sending_to_an_opted_out_guest_stores_nothing(inbox: Inbox) -> None:
    thread_id = opted_out_guest(inbox)
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="x"),
    )
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send(actor="101", thread_id=thread_id, body="x"),
    )
    draft = inbox.save_draft(thread_id, actor="101", body="draft")
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send_draft(draft.id, actor="101"),
    )
    assert inbox.drafts(thread_id, actor="101") == [draft]


def test_m7_a_refused_send_by_pair_opens_no_thread(inbox: Inbox) -> None:
    thread_id = opted_out_guest(inbox)
    inbox.resolve(thread_id, actor="101")  # no open thread: a send would open one
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send(
            actor="102", owner_number=OWNER, guest_number=GUEST, body="x", provider_message_id="p1"
        ),
    )
    assert len(inbox.list(actor="101", filter=ThreadFilter(status=ThreadStatus.OPEN))) == 0


def test_m7_a_refused_send_does_not_claim_the_thread(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory(), policy=Policy(ttl=TTL, claim_on_send=True))
    thread_id = texts(inbox, "STOP").thread_id
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send(actor="101", thread_id=thread_id, body="x"),
    )
    assert inbox.get(thread_id, actor="101").assignee is None


def test_m7_the_other_checks_come_first(inbox: Inbox) -> None:
    thread_id = opted_out_guest(inbox)
    refused(
        inbox,
        UnknownPhoneNumber,
        "UnknownPhoneNumber",
        404,
        lambda: inbox.send(actor="201", owner_number=OWNER, guest_number=GUEST, body="x"),
    )
    refused(
        inbox,
        ThreadNotFound,
        "ThreadNotFound",
        404,
        lambda: inbox.send(actor="201", thread_id=thread_id, body="x"),
    )
    refused(
        inbox,
        NotAssignee,
        "NotAssignee",
        403,
        lambda: inbox.send(actor="102", thread_id=thread_id, body="x"),
    )
    draft = inbox.save_draft(thread_id, actor="102", body="draft")
    refused(inbox, NotAssignee, "NotAssignee", 403, lambda: inbox.send_draft(draft.id, actor="102"))
    inbox.resolve(thread_id, actor="101")
    refused(
        inbox,
        ThreadNotOpen,
        "ThreadNotOpen",
        409,
        lambda: inbox.send(actor="101", thread_id=thread_id, body="x"),
    )
    refused(
        inbox,
        ThreadNotOpen,
        "ThreadNotOpen",
        409,
        lambda: inbox.send_draft(draft.id, actor="101"),
    )


@pytest.mark.parametrize("body", [b for word in OPT_IN for b in [word, *odd(word)[:2]]])
def test_m7_an_opt_in_keyword_opts_back_in(inbox: Inbox, clock: ManualClock, body: str) -> None:
    thread_id = opted_out_guest(inbox)
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    message = texts(inbox, body)
    assert message.keyword is Keyword.OPT_IN
    assert not opted_out(inbox)
    events = [e for _, e in inbox.events(cursor=inbox.feed_cursor(cursor))]
    assert [type(e).__name__ for e in events] == ["MessageAdded", "GuestOptedIn"]
    assert events[1] == GuestOptedIn(thread_id, clock.now(), OWNER, GUEST, message.id)
    assert inbox.send(actor="101", thread_id=thread_id, body="welcome back").body == "welcome back"


@pytest.mark.parametrize("body", [b for word in HELP for b in [word, *odd(word)[:2]]])
def test_m7_a_help_keyword_is_only_flagged(inbox: Inbox, body: str) -> None:
    thread_id = texts(inbox, "Hi").thread_id
    cursor = position(inbox)
    message = texts(inbox, body)
    assert message.keyword is Keyword.HELP
    assert kinds(inbox, cursor) == ["MessageAdded"]
    assert not opted_out(inbox)
    opted_out_guest(inbox)
    texts(inbox, body)
    assert opted_out(inbox)  # help does not opt back in
    assert inbox.messages(thread_id, actor="101")[-1].keyword is Keyword.HELP


def test_m7_events_only_when_the_state_changes(inbox: Inbox) -> None:
    cursor = position(inbox)
    texts(inbox, "START")  # never opted out: nothing to change
    texts(inbox, "STOP")
    texts(inbox, "stop")  # already out
    texts(inbox, "QUIT")
    texts(inbox, "YES")
    texts(inbox, "UNSTOP")  # already in
    texts(inbox, "STOP", owner=OWNER2)  # another number: its own state
    opt_kinds = [k for k in kinds(inbox, cursor) if k.startswith("Guest")]
    assert opt_kinds == ["GuestOptedOut", "GuestOptedIn", "GuestOptedOut"]
    assert not opted_out(inbox, OWNER, GUEST)
    assert opted_out(inbox, OWNER2, GUEST)


def test_m7_a_keyword_the_handler_sends_opts_nobody_out(inbox: Inbox) -> None:
    thread_id = texts(inbox, "Hi").thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    sent = inbox.send(actor="101", thread_id=thread_id, body="STOP")
    assert sent.keyword is None
    assert not opted_out(inbox)
    assert "GuestOptedOut" not in kinds(inbox)


def test_m7_a_replayed_stop_changes_nothing(inbox: Inbox) -> None:
    first = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="STOP", provider_message_id="SM-stop"
    )
    texts(inbox, "START")
    before = snapshot(inbox)
    again = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="STOP", provider_message_id="SM-stop"
    )
    assert again == first
    assert snapshot(inbox) == before
    assert not opted_out(inbox)


def test_m7_opted_out_needs_a_handler_of_the_number(inbox: Inbox) -> None:
    opted_out_guest(inbox)
    refused(
        inbox,
        UnknownPhoneNumber,
        "UnknownPhoneNumber",
        404,
        lambda: inbox.opted_out(actor="201", owner_number=OWNER, guest_number=GUEST),
    )


def test_m7_opt_out_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    clock = ManualClock(START)

    def open_inbox() -> tuple[SQLiteRepository, Inbox]:
        repo = SQLiteRepository(path)
        inbox = Inbox(
            repository=repo,
            directory=two_queue_directory(),
            clock=clock,
            policy=Policy(ttl=TTL),
            ids=SequentialIds(f"r{clock.now().timestamp():.0f}-"),
        )
        return repo, inbox

    repo, inbox = open_inbox()
    thread_id = texts(inbox, "Hi").thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    stop = texts(inbox, " Stop ")
    repo.close()

    clock.advance(timedelta(minutes=1))
    repo, inbox = open_inbox()
    assert opted_out(inbox)
    assert not opted_out(inbox, OWNER2, GUEST)
    assert inbox.message(stop.id, actor="101").keyword is Keyword.OPT_OUT
    assert "GuestOptedOut" in kinds(inbox)
    refused(
        inbox,
        RecipientOptedOut,
        "RecipientOptedOut",
        409,
        lambda: inbox.send(actor="101", thread_id=thread_id, body="x"),
    )
    texts(inbox, "unstop")
    repo.close()

    clock.advance(timedelta(minutes=1))
    repo, inbox = open_inbox()
    assert not opted_out(inbox)
    assert inbox.send(actor="101", thread_id=thread_id, body="hello").body == "hello"
    repo.close()


def test_m7_custom_keyword_lists(make_inbox: MakeInbox) -> None:
    policy = Policy(
        ttl=TTL,
        opt_out_keywords=["arret", "Halt"],
        opt_in_keywords=["allez"],
        help_keywords=["aide"],
    )
    inbox = make_inbox(directory=two_queue_directory(), policy=policy)
    assert texts(inbox, "STOP").keyword is None  # the defaults are replaced
    assert not opted_out(inbox)
    assert texts(inbox, " ARRET ").keyword is Keyword.OPT_OUT
    assert opted_out(inbox)
    assert texts(inbox, "START").keyword is None
    assert opted_out(inbox)
    assert texts(inbox, "Aide").keyword is Keyword.HELP
    assert texts(inbox, "HELP").keyword is None
    assert texts(inbox, "allez").keyword is Keyword.OPT_IN
    assert not opted_out(inbox)
    assert texts(inbox, "halt").keyword is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "kwargs",
    [
        {"opt_out_keywords": ["STOP NOW"]},
        {"opt_out_keywords": [""]},
        {"opt_in_keywords": ["   "]},
        {"help_keywords": ["two words"]},
        {"opt_out_keywords": ["STOP"], "opt_in_keywords": ["stop"]},
        {"opt_in_keywords": ["START", "HELP"]},
        {"opt_out_keywords": ["INFO"]},
        {"opt_out_keywords": ["\u017fTOP"]},  # ASCII words only, as carriers match them
        {"help_keywords": ["AYUDA\u00a1"]},
    ],
)
def test_m7_keyword_lists_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy(**kwargs)
    assert type(caught.value) is InvalidInput
    assert (caught.value.code, caught.value.status) == ("InvalidInput", 422)
