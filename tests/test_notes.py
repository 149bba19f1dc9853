"""Issue 5, internal notes: N1 (``add_note``, ``edit_note``, ``delete_notes``, ``list_notes``),
proved through the public ``Inbox`` API and named after the rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import observe
import pytest
from conftest import (
    BOTH,
    GUEST,
    GUEST2,
    OWNER,
    QUEUE,
    SUPPORT,
    SUPPORT_NUMBER,
    TTL,
    MakeInbox,
    two_queue_directory,
)
from observe import new_events

from threadcore import Inbox, ManualClock, Policy, ThreadStatus
from threadcore.domain.errors import NotAuthor, NoteDeletedError, NoteNotFound
from threadcore.domain.events import NoteAdded, NoteEdited
from threadcore.domain.events import NoteDeleted as NoteDeletedEvent
from threadcore.domain.model import Note
from threadcore.domain.queries import NoteFilter
from threadcore.errors import (
    InvalidInput,
    InvalidPageToken,
    NotPermitted,
    ThreadDeletedError,
    ThreadNotFound,
    ThreadNotOpen,
)
from threadcore.model import Availability, ThreadUser

ALIVE, DELETED = Availability.ALIVE, Availability.DELETED
ANN = ThreadUser("102", "Ann Lee", "User")


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def inbox(make_inbox: MakeInbox) -> Inbox:
    """Billing (OWNER, OWNER2; 101, 102, 103) and Support (SUPPORT_NUMBER; 103 and 201)."""
    return make_inbox(directory=two_queue_directory())


def snapshot(inbox: Inbox) -> tuple[Any, ...]:
    return observe.snapshot(inbox, "103", ())


refused = observe.refused  # as handler 103, no pairs: its defaults


def open_thread(inbox: Inbox, guest: str = GUEST, owner: str = OWNER) -> str:
    return inbox.receive(owner_number=owner, guest_number=guest, body="Hi").thread_id


def position(inbox: Inbox) -> int:
    stored = inbox.events(cursor=inbox.feed_cursor(0), limit=100_000)
    return stored[-1][0] if stored else 0


def all_notes(inbox: Inbox, actor: str = "103") -> list[Note]:
    return list(inbox.list_notes(actor=actor, filter=NoteFilter(availability=BOTH), limit=1000))


# === N1: internal notes =========================================================================
def test_n1_any_handler_adds_a_note(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = open_thread(inbox)
    inbox.assign(thread_id, actor="101", assignee="101")
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    note = inbox.add_note(thread_id, actor="102", text="Customer called about invoice 7")
    assert isinstance(note, Note)
    assert (note.thread_id, note.author, note.text) == (
        thread_id,
        ANN,
        "Customer called about invoice 7",
    )
    assert note.availability is ALIVE
    assert note.creation_time == note.last_modified_time == clock.now()
    assert new_events(inbox, cursor) == [NoteAdded(thread_id, clock.now(), note.id, "102")]
    assert inbox.list_notes(actor="101") == [note]


def test_n1_notes_are_not_activity_and_never_sent(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = open_thread(inbox)
    before = inbox.get(thread_id, actor="101")
    clock.advance(TTL - timedelta(seconds=1))
    note = inbox.add_note(thread_id, actor="101", text="note")
    inbox.edit_note(note.id, actor="101", text="edited note")
    assert inbox.get(thread_id, actor="101") == before  # no label, no record change
    assert [m.body for m in inbox.messages(thread_id, actor="101")] == ["Hi"]
    assert [m.body for m in inbox.list_messages(actor="101")] == ["Hi"]
    clock.advance(timedelta(seconds=1))
    assert inbox.get(thread_id, actor="101").status is ThreadStatus.RESOLVED
    assert inbox.get(thread_id, actor="101").last_modified_time == before.latest_message_at + TTL


def test_n1_adding_needs_an_open_visible_thread(inbox: Inbox, clock: ManualClock) -> None:
    resolved = open_thread(inbox, GUEST)
    inbox.resolve(resolved, actor="101")
    deleted = open_thread(inbox, GUEST2)
    inbox.delete(deleted, actor="101")
    due = open_thread(inbox, "+16505130001")
    clock.advance(TTL)  # due: no sweep has run
    live = open_thread(inbox, GUEST)
    for command, error, code, status in (
        (
            lambda: inbox.add_note(resolved, actor="101", text="x"),
            ThreadNotOpen,
            "ThreadNotOpen",
            409,
        ),
        (lambda: inbox.add_note(due, actor="101", text="x"), ThreadNotOpen, "ThreadNotOpen", 409),
        (
            lambda: inbox.add_note(deleted, actor="101", text="x"),
            ThreadDeletedError,
            "ThreadDeleted",
            410,
        ),
        (
            lambda: inbox.add_note(live, actor="201", text="x"),
            ThreadNotFound,
            "ThreadNotFound",
            404,
        ),
        (
            lambda: inbox.add_note("nope", actor="101", text="x"),
            ThreadNotFound,
            "ThreadNotFound",
            404,
        ),
    ):
        refused(inbox, error, code, status, command)  # type: ignore[arg-type]


def test_n1_note_text_is_checked(make_inbox: MakeInbox) -> None:
    inbox = make_inbox(directory=two_queue_directory())
    thread_id = open_thread(inbox)
    assert inbox.add_note(thread_id, actor="101", text="x" * 5000).text == "x" * 5000
    note = inbox.add_note(thread_id, actor="101", text="short")
    for text in ("", "   ", "x" * 5001, None, 7):
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda t=text: inbox.add_note(thread_id, actor="101", text=t),  # type: ignore[misc]
        )
        refused(
            inbox,
            InvalidInput,
            "InvalidInput",
            422,
            lambda t=text: inbox.edit_note(note.id, actor="101", text=t),  # type: ignore[misc]
        )
    small = make_inbox(directory=two_queue_directory(), policy=Policy(ttl=TTL, max_note_length=10))
    small_thread = open_thread(small)
    assert small.add_note(small_thread, actor="101", text="x" * 10).text == "x" * 10
    with pytest.raises(InvalidInput):
        small.add_note(small_thread, actor="101", text="x" * 11)


def test_n1_the_author_edits(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = open_thread(inbox)
    note = inbox.add_note(thread_id, actor="102", text="draft note")
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    edited = inbox.edit_note(note.id, actor="102", text="final note")
    assert (edited.id, edited.text, edited.author) == (note.id, "final note", ANN)
    assert edited.creation_time == note.creation_time
    assert edited.last_modified_time == clock.now()
    assert new_events(inbox, cursor) == [NoteEdited(thread_id, clock.now(), note.id, "102")]
    assert inbox.list_notes(actor="101") == [edited]
    clock.advance(timedelta(minutes=1))
    before = snapshot(inbox)
    assert inbox.edit_note(note.id, actor="102", text="final note") == edited  # unchanged text
    assert snapshot(inbox) == before


def test_n1_only_the_author_edits_or_deletes(inbox: Inbox) -> None:
    thread_id = open_thread(inbox)
    note = inbox.add_note(thread_id, actor="102", text="Ann's note")
    mine = inbox.add_note(thread_id, actor="101", text="101's note")
    refused(
        inbox, NotAuthor, "NotAuthor", 403, lambda: inbox.edit_note(note.id, actor="101", text="x")
    )
    refused(inbox, NotAuthor, "NotAuthor", 403, lambda: inbox.delete_notes([note.id], actor="101"))
    refused(
        inbox,
        NotAuthor,
        "NotAuthor",
        403,
        lambda: inbox.delete_notes([mine.id, note.id], actor="101"),
    )
    assert all(n.availability is ALIVE for n in all_notes(inbox))


def test_n1_only_while_the_thread_is_open(inbox: Inbox, clock: ManualClock) -> None:
    resolved = open_thread(inbox, GUEST)
    on_resolved = inbox.add_note(resolved, actor="101", text="r")
    inbox.resolve(resolved, actor="101")
    due = open_thread(inbox, GUEST2)
    on_due = inbox.add_note(due, actor="101", text="d")
    deleted = open_thread(inbox, "+16505130001")
    on_deleted = inbox.add_note(deleted, actor="101", text="x")
    inbox.delete(deleted, actor="101")
    clock.advance(TTL)
    for note in (on_resolved, on_due):
        refused(
            inbox,
            ThreadNotOpen,
            "ThreadNotOpen",
            409,
            lambda n=note: inbox.edit_note(n.id, actor="101", text="new"),  # type: ignore[misc]
        )
        refused(
            inbox,
            ThreadNotOpen,
            "ThreadNotOpen",
            409,
            lambda n=note: inbox.delete_notes([n.id], actor="101"),  # type: ignore[misc]
        )
    refused(
        inbox,
        ThreadDeletedError,
        "ThreadDeleted",
        410,
        lambda: inbox.edit_note(on_deleted.id, actor="101", text="new"),
    )


def test_n1_deleted_notes_are_tombstones(inbox: Inbox, clock: ManualClock) -> None:
    thread_id = open_thread(inbox)
    note = inbox.add_note(thread_id, actor="101", text="secret")
    other = inbox.add_note(thread_id, actor="101", text="kept")
    clock.advance(timedelta(minutes=1))
    cursor = position(inbox)
    (tombstone,) = inbox.delete_notes([note.id], actor="101")
    assert tombstone.id == note.id
    assert tombstone.availability is DELETED
    assert not tombstone.text
    assert tombstone.last_modified_time == clock.now()
    assert new_events(inbox, cursor) == [NoteDeletedEvent(thread_id, clock.now(), note.id, "101")]
    assert inbox.list_notes(actor="101") == [other]
    assert inbox.list_notes(actor="101", filter=NoteFilter(availability=[DELETED])) == [tombstone]
    refused(
        inbox,
        NoteDeletedError,
        "NoteDeleted",
        410,
        lambda: inbox.edit_note(note.id, actor="101", text="x"),
    )
    clock.advance(timedelta(minutes=1))
    before = snapshot(inbox)
    assert inbox.delete_notes([note.id], actor="101") == [tombstone]  # again: no change
    assert snapshot(inbox) == before


def test_n1_delete_notes_checks_every_id_first(inbox: Inbox) -> None:
    thread_id = open_thread(inbox)
    mine = inbox.add_note(thread_id, actor="101", text="mine")
    support = inbox.add_note(open_thread(inbox, owner=SUPPORT_NUMBER), actor="201", text="s")
    resolved = open_thread(inbox, GUEST2)
    on_resolved = inbox.add_note(resolved, actor="101", text="r")
    inbox.resolve(resolved, actor="101")
    for others, error, code, status in (
        (["nope"], NoteNotFound, "NoteNotFound", 404),
        ([support.id], NoteNotFound, "NoteNotFound", 404),  # invisible to 101
        ([on_resolved.id], ThreadNotOpen, "ThreadNotOpen", 409),
    ):
        refused(
            inbox,
            error,
            code,
            status,
            lambda o=others: inbox.delete_notes([mine.id, *o], actor="101"),  # type: ignore[misc]
        )
        refused(
            inbox,
            error,
            code,
            status,
            lambda o=others: inbox.delete_notes([*o, mine.id], actor="101"),  # type: ignore[misc]
        )
    assert inbox.list_notes(actor="101", filter=NoteFilter(note_ids=[mine.id])) == [mine]


def test_n1_unknown_or_invisible_notes_are_note_not_found(inbox: Inbox) -> None:
    note = inbox.add_note(open_thread(inbox), actor="101", text="billing only")
    for actor, note_id in (("201", note.id), ("101", "nope")):
        refused(
            inbox,
            NoteNotFound,
            "NoteNotFound",
            404,
            lambda a=actor, n=note_id: inbox.edit_note(n, actor=a, text="x"),  # type: ignore[misc]
        )
        refused(
            inbox,
            NoteNotFound,
            "NoteNotFound",
            404,
            lambda a=actor, n=note_id: inbox.delete_notes([n], actor=a),  # type: ignore[misc]
        )


def test_n1_deleting_a_thread_makes_its_notes_tombstones(inbox: Inbox) -> None:
    thread_id = open_thread(inbox)
    first = inbox.add_note(thread_id, actor="101", text="one")
    second = inbox.add_note(thread_id, actor="102", text="two")
    inbox.delete(thread_id, actor="103")
    assert list(inbox.list_notes(actor="101")) == []
    gone = inbox.list_notes(actor="101", filter=NoteFilter(availability=[DELETED]))
    assert [n.id for n in gone] == [first.id, second.id]
    assert all(n.availability is DELETED and not n.text for n in gone)


def test_n1_list_notes_filters(inbox: Inbox, clock: ManualClock) -> None:
    a = open_thread(inbox, GUEST)
    b = open_thread(inbox, GUEST2)
    s = open_thread(inbox, owner=SUPPORT_NUMBER)
    made = {}
    for name, thread_id, actor in (
        ("a1", a, "101"),
        ("b1", b, "102"),
        ("s1", s, "201"),
        ("a2", a, "103"),
    ):
        made[name] = inbox.add_note(thread_id, actor=actor, text=name)
        clock.advance(timedelta(minutes=1))
    inbox.delete_notes([made["b1"].id], actor="102")

    def texts(actor: str, **criteria: Any) -> list[str]:
        listed = inbox.list_notes(actor=actor, filter=NoteFilter(**criteria))
        return [made_by_id[n.id] for n in listed]

    made_by_id = {n.id: name for name, n in made.items()}
    assert texts("103") == ["a1", "s1", "a2"]
    assert texts("101") == ["a1", "a2"]
    assert texts("201") == ["s1"]
    assert texts("103", thread_ids=[a]) == ["a1", "a2"]
    assert texts("103", note_ids=[made["a2"].id, made["s1"].id]) == ["s1", "a2"]
    assert texts("103", thread_ids=[a], note_ids=[made["s1"].id]) == []
    assert texts("103", owner_extension_ids=[SUPPORT]) == ["s1"]
    assert texts("103", owner_extension_ids=[QUEUE]) == ["a1", "a2"]
    assert texts("103", availability=[DELETED]) == ["b1"]
    assert texts("103", availability=BOTH) == ["a1", "b1", "s1", "a2"]
    assert texts("101", note_ids=[made["s1"].id]) == []  # another resource's note
    refused(
        inbox,
        NotPermitted,
        "NotPermitted",
        403,
        lambda: inbox.list_notes(actor="101", filter=NoteFilter(owner_extension_ids=[SUPPORT])),
    )


def test_n1_list_notes_pages_by_token(inbox: Inbox, clock: ManualClock) -> None:
    threads = [open_thread(inbox, g) for g in (GUEST, GUEST2)]
    made = []
    for i in range(7):
        made.append(inbox.add_note(threads[i % 2], actor="101", text=f"n{i}"))
        if i % 3 == 0:
            clock.advance(timedelta(seconds=1))
    expected = [n.id for n in sorted(made, key=lambda n: (n.creation_time, n.id))]
    for per_page in (1, 2, 3, 7, 8):
        seen: list[str] = []
        page = inbox.list_notes(actor="101", limit=per_page)
        seen += [n.id for n in page]
        while page.next_cursor is not None:
            page = inbox.list_notes(actor="101", limit=per_page, cursor=page.next_cursor)
            seen += [n.id for n in page]
        assert seen == expected
    first = inbox.list_notes(actor="101", limit=3)
    clock.advance(timedelta(minutes=1))
    late = inbox.add_note(threads[0], actor="101", text="late")
    rest = inbox.list_notes(actor="101", limit=100, cursor=first.next_cursor)
    assert [n.id for n in rest] == [*expected[3:], late.id]
    token = first.next_cursor
    assert token is not None
    refused(
        inbox,
        InvalidPageToken,
        "InvalidPageToken",
        400,
        lambda: inbox.list_notes(actor="102", limit=3, cursor=token),
    )
    refused(
        inbox,
        InvalidPageToken,
        "InvalidPageToken",
        400,
        lambda: inbox.list_notes(
            actor="101",
            limit=3,
            cursor=token,
            filter=NoteFilter(thread_ids=[threads[0]]),
        ),
    )
