"""Inputs a review found answered by a bare Python error or in the wrong order (issue 5), on
every storage the suite runs embedded (memory and SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import GUEST, GUEST2, OWNER, START, two_queue_directory

from threadcore import Inbox, InMemoryRepository, ManualClock, SQLiteRepository
from threadcore.errors import InvalidInput
from threadcore.events import MessageDeleted, ThreadResolved
from threadcore.ids import SequentialIds
from threadcore.model import Keyword
from threadcore.storage import Repository


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Inbox, ManualClock]:
    repository: Repository = (
        InMemoryRepository() if request.param == "memory" else SQLiteRepository(tmp_path / "t.db")
    )
    clock = ManualClock(START)
    inbox = Inbox(
        repository=repository,
        directory=two_queue_directory(),
        clock=clock,
        ids=SequentialIds("t"),
    )
    return inbox, clock


def _thread(inbox: Inbox) -> tuple[str, str, str]:
    """An open thread assigned to 101 with one inbound and one outbound message."""
    inbound = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(inbound.thread_id, actor="101", assignee="101")
    outbound = inbox.send(actor="101", thread_id=inbound.thread_id, body="Hello")
    return inbound.thread_id, inbound.id, outbound.id


def _nested(depth: int) -> dict[str, object]:
    top: dict[str, object] = {}
    level = top
    for _ in range(depth):
        level["a"] = {}
        level = level["a"]  # type: ignore[assignment]
    return top


@pytest.mark.parametrize(
    "call",
    [
        lambda ib, t, i, o: ib.add_note(t, actor="101", text="note \ud800"),
        lambda ib, t, i, o: ib.save_draft(t, actor="101", body="draft \ud800"),
        lambda ib, t, i, o: ib.record_delivery(o, "SendingFailed", error_code="e\ud800"),
        lambda ib, t, i, o: ib.receive(owner_number=OWNER, guest_number=GUEST, body="x \udfff"),
        lambda ib, t, i, o: ib.save_draft(123, actor="101", body="x", draft_id="t-9"),
        lambda ib, t, i, o: ib.classify(i, "spam", confidence=10**400),
        lambda ib, t, i, o: ib.classify(i, "spam", details={"k": {1: 2}}),
        lambda ib, t, i, o: ib.classify(i, "spam", details=_nested(3000)),
        lambda ib, t, i, o: ib.sync_entries(actor="101", sync_type="ISync", scope="nope"),
    ],
    ids=[
        "surrogate-note",
        "surrogate-draft",
        "surrogate-error-code",
        "surrogate-body",
        "draft-thread-id-type",
        "huge-confidence",
        "details-int-key",
        "details-too-deep",
        "isync-scope",
    ],
)
def test_bad_input_is_invalid_input_and_stores_nothing(
    world: tuple[Inbox, ManualClock], call: Callable[..., object]
) -> None:
    inbox, _ = world
    thread_id, inbound, outbound = _thread(inbox)
    before = inbox.events()
    with pytest.raises(InvalidInput):
        call(inbox, thread_id, inbound, outbound)
    assert inbox.events() == before


def test_m7_a_keyword_with_much_surrounding_whitespace_still_opts_out(
    world: tuple[Inbox, ManualClock],
) -> None:
    inbox, _ = world
    stop = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="\n STOP" + " " * 200)
    assert stop.keyword is Keyword.OPT_OUT
    assert inbox.opted_out(actor="101", owner_number=OWNER, guest_number=GUEST2)


def test_m5_a_due_threads_expiry_is_stored_before_the_deletions(
    world: tuple[Inbox, ManualClock],
) -> None:
    inbox, clock = world
    _thread_id, _, outbound = _thread(inbox)
    clock.advance(timedelta(hours=80))
    cursor = inbox.events()[-1][0]
    inbox.delete_messages([outbound], actor="101")
    kinds = [type(e) for _, e in inbox.events(cursor=inbox.feed_cursor(cursor))]
    assert kinds == [ThreadResolved, MessageDeleted]


def test_m6_an_automation_drafts_without_an_actor(world: tuple[Inbox, ManualClock]) -> None:
    inbox, _ = world
    thread_id, _, _ = _thread(inbox)
    draft = inbox.save_draft(thread_id, actor=None, body="We will call you back")
    assert (draft.author, draft.is_automated) == (None, True)
    changed = inbox.save_draft(thread_id, actor=None, body="Call at 5?", draft_id=draft.id)
    assert changed.body == "Call at 5?"
    sent = inbox.send_draft(draft.id, actor="101")  # a handler sends it, under send's rules
    assert sent.author is not None
    assert sent.author.extension_id == "101"
    assert sent.is_automated is True


def test_m3_the_classification_may_be_given_positionally(
    world: tuple[Inbox, ManualClock],
) -> None:
    inbox, _ = world
    _, inbound, _ = _thread(inbox)
    assert [c.classification for c in inbox.classify(inbound, "greeting").classifications] == [
        "greeting"
    ]


def test_e2_scope_names_are_accepted_in_any_case(world: tuple[Inbox, ManualClock]) -> None:
    inbox, _ = world
    _thread(inbox)
    by_value = inbox.sync_entries(actor="101", scope="AssignedToMe").records
    assert inbox.sync_entries(actor="101", scope="assigned_to_me").records == by_value
    assert by_value  # the thread is assigned to 101


# --- issue 13 review -----------------------------------------------------------------------------
def test_an_id_in_brackets_stays_as_the_caller_gave_it() -> None:
    """Only a parameter name is respelled the platform's way, never a value in brackets."""
    from threadcore import Directory, Inbox
    from threadcore.errors import InvalidInput, ThreadNotFound

    inbox = Inbox(directory=Directory([]))
    with pytest.raises(ThreadNotFound, match=r"\[my_thread_1\]"):
        inbox.get("my_thread_1", actor="101")
    error = InvalidInput(
        "Parameter [per_page] must be 1..1000; got [per_page]", parameter="per_page"
    )
    assert error.message == "Parameter [perPage] must be 1..1000; got [per_page]"
    assert error.parameter == "perPage"


def test_a_walk_begun_on_a_numbered_page_goes_on_in_its_page_size() -> None:
    from datetime import UTC, datetime

    from conftest import GUEST, OWNER, billing_directory

    from threadcore import Inbox, ManualClock

    inbox = Inbox(
        directory=billing_directory(), clock=ManualClock(datetime(2026, 2, 17, tzinfo=UTC))
    )
    ids = [inbox.receive(owner_number=OWNER, guest_number=GUEST, body=f"m{i}").id for i in range(5)]
    thread_id = inbox.message(ids[0], actor="101").thread_id
    with pytest.warns(
        DeprecationWarning, match="page="
    ):  # a thread's numbered page: for one release
        first = inbox.messages(thread_id, actor="101", page=1, per_page=2)
    assert [m.id for m in first] == ids[:2]
    second = inbox.messages(thread_id, actor="101", cursor=first.next_cursor)
    assert [m.id for m in second] == ids[2:4]
    assert second.paging is not None
    assert (second.paging.per_page, second.paging.page) == (2, None)
    third = inbox.messages(thread_id, actor="101", cursor=second.next_cursor)
    assert [m.id for m in third] == ids[4:]
    assert third.next_cursor is None


def test_nested_unit_of_work_errors_survive_pickling() -> None:
    import pickle

    from threadcore.errors import NestedUnitOfWork

    error = pickle.loads(pickle.dumps(NestedUnitOfWork()))
    assert isinstance(error, NestedUnitOfWork)
    assert "batch()" in error.message


def test_a_maker_refuses_records_whose_signature_it_would_not_have() -> None:
    import attrs

    from threadcore.domain.records import record_maker

    @attrs.frozen(weakref_slot=False)
    class Aliased:
        _x: int

    @attrs.frozen(weakref_slot=False)
    class KeywordOnly:
        x: int = attrs.field(kw_only=True)

    for cls in (Aliased, KeywordOnly):
        with pytest.raises(TypeError, match="keyword-only or aliased"):
            record_maker(cls)
