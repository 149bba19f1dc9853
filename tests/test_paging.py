"""One paging style (issue 23): ``limit`` and an opaque ``cursor`` on every forward read, the one
numbered read, the feed's cursor, and the old names that keep working for one release (rule Q2,
D4)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from conftest import GUEST, OWNER

from threadcore import (
    Inbox,
    Message,
    MessageFilter,
    NoteFilter,
    NumberedPage,
    Page,
    Paging,
    ThreadFilter,
)
from threadcore.errors import InvalidInput, InvalidPageToken
from threadcore.events import ThreadAssigned


def guest(i: int) -> str:
    return f"+1650224{i:04d}"


def threads(inbox: Inbox, count: int) -> list[str]:
    """``count`` threads with one message and one note each, in the lists' order (creation time,
    then id: they are made at one instant)."""
    for i in range(count):
        thread_id = inbox.receive(owner_number=OWNER, guest_number=guest(i), body=f"m{i}").thread_id
        inbox.assign(thread_id, actor="101", assignee="101")
        inbox.add_note(thread_id, actor="101", text=f"n{i}")
    return [t.id for t in inbox.list(actor="101", limit=1000)]


def walk(read: Callable[..., Page[Any]], limit: int) -> list[Any]:
    """Every record of a cursor walk, page by page."""
    found: list[Any] = []
    cursor = None
    while True:
        page = read(limit=limit, cursor=cursor)
        assert len(page) <= limit
        found.extend(page)
        cursor = page.next_cursor
        if cursor is None:
            return found


def no_warning(call: Callable[[], Any]) -> Any:
    """``call()``, which must warn of nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


# --- the new names -------------------------------------------------------------------------------
def test_every_list_read_walks_by_limit_and_cursor(inbox: Inbox) -> None:
    made = threads(inbox, 5)
    thread_id = made[0]
    for _ in range(4):
        inbox.send(actor="101", thread_id=thread_id, body="more")
    inbox.save_draft(thread_id, actor="101", body="d1")
    inbox.save_draft(thread_id, actor="101", body="d2")
    every_message = inbox.list_messages(actor="101", limit=1000)
    reads: dict[str, tuple[Callable[..., Page[Any]], list[str]]] = {
        "list": (lambda **kw: inbox.list(actor="101", **kw), made),  # in the list's order
        "list_messages": (
            lambda **kw: inbox.list_messages(actor="101", **kw),
            [m.id for m in every_message],
        ),
        "list_notes": (
            lambda **kw: inbox.list_notes(actor="101", **kw),
            [n.id for n in inbox.list_notes(actor="101", limit=1000)],
        ),
        "messages": (
            lambda **kw: inbox.messages(thread_id, actor="101", **kw),
            [m.id for m in inbox.messages(thread_id, actor="101")],
        ),
        "drafts": (
            lambda **kw: inbox.drafts(thread_id, actor="101", **kw),
            [d.id for d in inbox.drafts(thread_id, actor="101")],
        ),
    }
    for name, (read, every) in reads.items():
        assert len(every) >= 2, name
        for limit in (1, 2, 3, 1000):
            walked = no_warning(lambda read=read, limit=limit: walk(read, limit))
            assert [r.id for r in walked] == every, (name, limit)


def test_one_default_limit_for_the_lists_and_every_record_for_a_threads_messages(
    inbox: Inbox,
) -> None:
    made = threads(inbox, 101)
    first = inbox.list(actor="101")
    assert len(first) == 100
    assert first.next_cursor is not None
    assert len(inbox.list_messages(actor="101")) == 100
    assert len(inbox.list_notes(actor="101")) == 100
    assert [t.id for t in inbox.list(actor="101", cursor=first.next_cursor)] == made[100:]
    for _ in range(100):
        inbox.send(actor="101", thread_id=made[0], body="x")
    every = inbox.messages(made[0], actor="101")  # no limit: all of them (kept from before)
    assert len(every) == 101
    assert every.next_cursor is None


def test_the_numbered_read_pages_threads_messages_and_notes(inbox: Inbox) -> None:
    made = threads(inbox, 5)
    for flt in (ThreadFilter(), MessageFilter(), NoteFilter()):
        every = no_warning(lambda flt=flt: inbox.numbered_page(flt, actor="101", per_page=1000))
        assert isinstance(every, NumberedPage)
        assert len(every) == 5
        second = no_warning(
            lambda flt=flt: inbox.numbered_page(flt, actor="101", page=2, per_page=2)
        )
        assert isinstance(second, NumberedPage)
        assert list(second) == list(every)[2:4]
        assert second.paging == Paging(2, 2, 2, 3, 3, 5)
        # its cursor continues it as a forward read of the same list
        assert second.next_cursor is not None
        if isinstance(flt, ThreadFilter):
            rest = inbox.list(actor="101", filter=flt, limit=2, cursor=second.next_cursor)
        elif isinstance(flt, MessageFilter):
            rest = inbox.list_messages(actor="101", filter=flt, limit=2, cursor=second.next_cursor)
        else:
            rest = inbox.list_notes(actor="101", filter=flt, limit=2, cursor=second.next_cursor)
        assert list(rest) == list(every)[4:]
    assert [t.id for t in inbox.numbered_page(ThreadFilter(), actor="101")] == made
    empty = inbox.numbered_page(ThreadFilter(), actor="101", page=9)
    assert isinstance(empty, NumberedPage)
    assert empty.paging == Paging(per_page=100)  # rule Q2: an empty page carries only its size


@pytest.mark.parametrize("bad", [None, {"status": "Open"}, "threads", ThreadFilter])
def test_the_numbered_read_needs_a_filter_naming_its_list(inbox: Inbox, bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.numbered_page(bad, actor="101")  # type: ignore[call-overload]
    assert caught.value.parameter == "filter"


def test_a_numbered_page_needs_its_paging_block() -> None:
    with pytest.raises(InvalidInput):
        NumberedPage((), None, None)


def test_a_cursor_is_bound_to_its_read_actor_and_store(inbox: Inbox, make_inbox: Any) -> None:
    threads(inbox, 3)
    cursor = inbox.list(actor="101", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidPageToken):
        inbox.list(actor="102", limit=1, cursor=cursor)  # another actor
    with pytest.raises(InvalidPageToken):
        inbox.list_notes(actor="101", limit=1, cursor=cursor)  # another read
    with pytest.raises(InvalidPageToken):
        inbox.events(cursor=cursor)  # not a feed's cursor
    with pytest.raises(InvalidPageToken):
        make_inbox().list(actor="101", limit=1, cursor=cursor)  # another store
    with pytest.raises(InvalidPageToken):
        make_inbox().events(cursor=inbox.feed_cursor(0))


# --- the feed ------------------------------------------------------------------------------------
def test_the_feed_is_polled_with_its_cursor(inbox: Inbox) -> None:
    made = threads(inbox, 2)
    every = inbox.events()
    assert every.next_cursor == inbox.feed_cursor(every[-1][0])
    now = inbox.feed_cursor()  # the latest event: only what comes next
    assert list(inbox.events(cursor=now)) == []
    assert inbox.events(cursor=now).next_cursor == now  # nothing new: the same cursor
    inbox.assign(made[0], actor="101", assignee="102")
    new = inbox.events(cursor=now)
    assert [type(e) for _, e in new] == [ThreadAssigned]
    assert list(inbox.events(cursor=new.next_cursor)) == []
    walked: list[Any] = []
    page = inbox.events(limit=2)
    while page:  # a feed has no last page: a walk of it ends on an empty one
        walked += page
        page = inbox.events(limit=2, cursor=page.next_cursor)
    assert walked == list(inbox.events())


def test_the_outbound_feed_is_paged_by_the_feeds_cursor(inbox: Inbox) -> None:
    thread_id = threads(inbox, 1)[0]
    sent = [inbox.send(actor="101", thread_id=thread_id, body=f"o{i}").id for i in range(3)]
    page = no_warning(lambda: inbox.outbound_messages(limit=4))
    assert isinstance(page, Page)
    found: list[Message] = [m for _, m in page]
    while page.after < inbox.feed_position():  # a window of events may hold no outbound one
        page = inbox.outbound_messages(limit=4, cursor=page.next_cursor)
        found += [m for _, m in page]
    assert [m.id for m in found] == sent
    assert inbox.outbound_messages(cursor=inbox.feed_cursor()).records == ()


@pytest.mark.parametrize("position", [-1, "1", 1.5, True])
def test_a_feed_cursor_needs_a_position(inbox: Inbox, position: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        inbox.feed_cursor(position)  # type: ignore[arg-type]
    assert caught.value.parameter == "position"


# --- the old names, for one release --------------------------------------------------------------
def old(match: str, call: Callable[[], Any]) -> Any:
    """``call()``, which must warn that a name is deprecated (``match`` in the warning)."""
    with pytest.warns(DeprecationWarning, match=match):
        return call()


def test_the_old_list_names_still_work_and_warn(inbox: Inbox) -> None:
    made = threads(inbox, 5)
    for read in ("list", "list_messages", "list_notes"):
        method = getattr(inbox, read)
        new = method(actor="101", limit=2)
        page = old("per_page=", lambda method=method: method(actor="101", per_page=2))
        assert page == new
        token = old("next_page_token", lambda page=page: page.next_page_token)
        assert token == new.next_cursor
        rest = old("page_token=", lambda m=method, t=token: m(actor="101", limit=2, page_token=t))
        assert list(rest) == list(method(actor="101", limit=2, cursor=new.next_cursor))
        numbered = old("deprecated", lambda m=method: m(actor="101", page=2, per_page=2))
        assert isinstance(numbered, NumberedPage)
        assert numbered.paging == Paging(2, 2, 2, 3, 3, 5)
    assert [t.id for t in old("page=", lambda: inbox.list(actor="101", page=1))] == made


def test_the_old_names_of_a_threads_reads_still_work_and_warn(inbox: Inbox) -> None:
    thread_id = threads(inbox, 1)[0]
    for i in range(3):
        inbox.send(actor="101", thread_id=thread_id, body=f"o{i}")
        inbox.save_draft(thread_id, actor="101", body=f"d{i}")
    for read in (inbox.messages, inbox.drafts):
        new = read(thread_id, actor="101", limit=2)
        page = old("per_page=", lambda r=read: r(thread_id, actor="101", per_page=2))
        assert page == new
        rest = old(
            "page_token=",
            lambda r=read, p=page: r(thread_id, actor="101", page_token=p.next_cursor),
        )
        assert list(rest) == list(read(thread_id, actor="101", cursor=new.next_cursor))
        numbered = old("deprecated", lambda r=read: r(thread_id, actor="101", page=1, per_page=2))
        assert isinstance(numbered, NumberedPage)
        assert list(numbered) == list(new)


def test_the_old_feed_names_still_work_and_warn(inbox: Inbox) -> None:
    threads(inbox, 2)
    every = inbox.events()
    position = every[0][0]
    want = list(inbox.events(cursor=inbox.feed_cursor(position)))
    assert list(old("after=", lambda: inbox.events(after=position))) == want
    assert list(old("after=", lambda: inbox.events(position))) == want  # positional
    assert list(old("after=", lambda: inbox.events(position, 1))) == want[:1]
    outbound = old("after=", lambda: inbox.outbound_messages(after=0, limit=100))
    assert outbound == inbox.outbound_messages(limit=100)


@pytest.mark.parametrize(
    "call",
    [
        lambda inbox: inbox.list(actor="101", limit=5, per_page=2),
        lambda inbox: inbox.list_messages(actor="101", cursor="x", page_token="y"),
        lambda inbox: inbox.messages("t-1", actor="101", limit=2, per_page=2),
        lambda inbox: inbox.events(0, cursor=inbox.feed_cursor(0)),
        lambda inbox: inbox.outbound_messages(after=0, cursor=inbox.feed_cursor(0)),
    ],
)
def test_an_old_name_with_its_new_one_is_refused(inbox: Inbox, call: Any) -> None:
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    with pytest.raises(InvalidInput), pytest.warns(DeprecationWarning, match="deprecated"):
        call(inbox)


def test_a_numbered_read_through_the_old_name_equals_the_new_one(inbox: Inbox) -> None:
    threads(inbox, 7)
    flt = ThreadFilter(status="Open")
    new = inbox.numbered_page(flt, actor="101", page=2, per_page=3)
    assert old("deprecated", lambda: inbox.list(actor="101", filter=flt, page=2, per_page=3)) == new


@pytest.mark.parametrize("read", ["list", "list_messages", "list_notes", "messages", "drafts"])
def test_a_name_neither_new_nor_old_is_a_type_error_naming_the_read(
    inbox: Inbox, read: str
) -> None:
    """The old names come in as ``**old`` (declared once, ``Deprecated``): any other keyword is
    still refused before anything is read, as Python refuses it, naming the read called."""
    args = ("t-1",) if read in ("messages", "drafts") else ()
    with pytest.raises(TypeError, match=rf"^{read}\(\) got an unexpected keyword argument 'pager'"):
        getattr(inbox, read)(*args, actor="101", pager=2)
