"""What time a command runs at, whatever the clocks do (issue 12, items 1 to 4; rules R10, R18).

Each test runs on memory, SQLite and PostgreSQL. "Two processes" are two inboxes, each with its
own clock, over one store (for memory: one repository object; for SQLite: two connections to one
file; for PostgreSQL: two pools on one schema).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import stores
from conftest import GUEST, GUEST2, OWNER, START, TTL, billing_directory

from threadcore import (
    Directory,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Page,
    Policy,
    SyncType,
    ThreadStatus,
)
from threadcore.domain.events import Event, MessageAdded, ThreadOpened
from threadcore.domain.model import Resource
from threadcore.errors import InvalidSyncToken, ThreadNotOpen
from threadcore.ids import SequentialIds

pytest_plugins = ["conftest_pg"]
store = stores.store

Store = stores.Store
_inbox = stores.inbox_on
SECRET = stores.SECRET


SteppingClock = stores.SteppingClock


def test_a_clock_that_steps_back_does_not_reopen_an_expired_thread(store: Store) -> None:
    clock = SteppingClock(START)
    inbox = _inbox(store(), clock)
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    clock.at = START + TTL + timedelta(hours=1)
    assert inbox.get(first.thread_id, actor="101").status is ThreadStatus.RESOLVED
    clock.at = START + TTL - timedelta(hours=1)  # NTP steps the clock back
    assert inbox.get(first.thread_id, actor="101").status is ThreadStatus.RESOLVED
    later = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="again")
    assert later.thread_id != first.thread_id
    assert later.created_at == START + TTL + timedelta(hours=1)


def test_a_thread_never_moves_back_in_time(store: Store) -> None:
    clock = SteppingClock(START + timedelta(hours=10))
    inbox = _inbox(store(), clock)
    one = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="one")
    clock.at = START + timedelta(hours=9)
    two = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="two")
    assert two.thread_id == one.thread_id
    assert two.created_at >= one.created_at
    thread = inbox.get(one.thread_id, actor="101")
    assert thread.latest_message_at == two.created_at
    listed = inbox.list_messages(actor="101")
    assert [m.body for m in listed] == ["one", "two"]
    assert [m.body for m in inbox.messages(one.thread_id, actor="101")] == ["one", "two"]


def test_another_process_behind_never_dates_a_command_before_what_the_store_recorded(
    store: Store,
) -> None:
    ahead_clock = SteppingClock(START)
    ahead = _inbox(store(), ahead_clock)
    opened = ahead.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    # the host ahead writes something after the thread's due instant (another pair)
    ahead_clock.at = START + TTL + timedelta(minutes=5)
    ahead.receive(owner_number=OWNER, guest_number=GUEST2, body="other pair")
    # a process whose clock is behind (skew) receives on the expired pair
    behind = _inbox(store(), SteppingClock(START + TTL - timedelta(hours=1)))
    message = behind.receive(owner_number=OWNER, guest_number=GUEST, body="late")
    assert message.thread_id != opened.thread_id, "the expired thread took the message"
    assert message.created_at >= START + TTL + timedelta(minutes=5)
    assert ahead.get(opened.thread_id, actor="101").status is ThreadStatus.RESOLVED


def test_a_note_of_a_process_behind_is_dated_after_every_stored_note(store: Store) -> None:
    """A note is a record that lists walk by creation time (N1, Q2): a process whose clock is
    behind dates its note after a note another process stored, though notes change no thread
    and no message (issue 24: the store's latest instant counts notes too). Otherwise a walk of
    notes that passed the earlier process's note would never return the later one."""
    ahead = _inbox(store(), SteppingClock(START + timedelta(hours=2)))
    first = ahead.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    behind_clock = SteppingClock(START)
    behind = _inbox(store(), behind_clock)
    other = behind.receive(owner_number=OWNER, guest_number=GUEST2, body="other pair")
    ahead_note = ahead.add_note(first.thread_id, actor="101", text="ahead")
    behind_note = behind.add_note(other.thread_id, actor="101", text="behind")
    assert behind_note.creation_time > ahead_note.creation_time
    walked = [n.text for n in ahead.list_notes(actor="101")]
    assert walked == ["ahead", "behind"]


def _walk(first: Page[Any], more: Callable[[str], Page[Any]]) -> list[str]:
    """The ids a walk returns, page after page from ``first``."""
    page, ids = first, [r.id for r in first.records]
    while page.next_cursor is not None:
        page = more(page.next_cursor)
        ids += [r.id for r in page.records]
    return ids


def test_a_walk_never_skips_what_another_process_creates_at_the_same_instant(store: Store) -> None:
    """Two processes whose clocks read the very same instant (a stored manual clock puts every
    process there, R18c): one creates two threads, messages and notes, and walks of one record
    a page pass the first of each; then the other creates records at that instant whose ids
    sort before them. Dated at that instant they would sort behind the walks' cursors and never
    be returned (Q2); they are dated a microsecond later instead, with the ids they drew first."""
    clock = ManualClock(START)
    z = Inbox(repository=store(), directory=billing_directory(), clock=clock,
              policy=Policy(ttl=TTL), ids=SequentialIds("z"), token_secret=SECRET)  # fmt: skip
    a = Inbox(repository=store(), directory=billing_directory(), clock=clock,
              policy=Policy(ttl=TTL), ids=SequentialIds("a"), token_secret=SECRET)  # fmt: skip
    one = z.receive(owner_number=OWNER, guest_number=GUEST, body="z")  # z-1, z-2
    two = z.receive(owner_number=OWNER, guest_number=GUEST2, body="z")  # z-3, z-4
    z.add_note(one.thread_id, actor="101", text="z")  # z-5
    z.add_note(one.thread_id, actor="101", text="z")  # z-6
    threads = z.list(actor="101", limit=1)
    messages = z.list_messages(actor="101", limit=1)
    notes = z.list_notes(actor="101", limit=1)
    assert [t.id for t in threads.records] == ["z-1"]
    z.resolve(two.thread_id, actor="101")
    later = a.receive(owner_number=OWNER, guest_number=GUEST2, body="a")
    note = a.add_note(later.thread_id, actor="101", text="a")
    assert (later.thread_id, later.id, note.id) == ("a-1", "a-2", "a-3")  # the ids drawn first
    assert later.created_at == START + timedelta(microseconds=1)
    assert note.creation_time == later.created_at  # (no tie left at the new instant)
    walked = _walk(threads, lambda c: z.list(actor="101", limit=1, cursor=c))
    assert walked == ["z-1", "z-3", "a-1"]
    walked = _walk(messages, lambda c: z.list_messages(actor="101", limit=1, cursor=c))
    assert walked == ["z-2", "z-4", "a-2"]
    walked = _walk(notes, lambda c: z.list_notes(actor="101", limit=1, cursor=c))
    assert walked == ["z-5", "z-6", "a-3"]


def test_a_tie_costs_no_retry(store: Store) -> None:
    """A command moved past a tie runs again without using one of its retries: an inbox
    allowed a single attempt still commits it."""
    clock = ManualClock(START)
    z = Inbox(repository=store(), directory=billing_directory(), clock=clock,
              policy=Policy(ttl=TTL), ids=SequentialIds("z"), token_secret=SECRET)  # fmt: skip
    a = Inbox(repository=store(), directory=billing_directory(), clock=clock, retries=1,
              policy=Policy(ttl=TTL), ids=SequentialIds("a"), token_secret=SECRET)  # fmt: skip
    z.receive(owner_number=OWNER, guest_number=GUEST, body="z")
    moved = a.receive(owner_number=OWNER, guest_number=GUEST2, body="a")
    assert (moved.id, moved.created_at) == ("a-2", START + timedelta(microseconds=1))


def test_ids_that_sort_after_those_at_the_instant_keep_it(store: Store) -> None:
    """The tie rule moves nothing where the new ids already sort last at the instant: one
    process's random ids increase, so a frozen clock dates all its records at the instant."""
    clock = ManualClock(START)
    inbox = _inbox(store(), clock)
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="one")
    second = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="two")
    note = inbox.add_note(second.thread_id, actor="101", text="n")
    assert first.created_at == second.created_at == note.creation_time == START


class SlowDirectory:
    """A directory whose lookups take ``delay`` of the clock's time (a slow user store)."""

    def __init__(self, inner: Directory, clock: ManualClock) -> None:
        self.inner, self.clock, self.delay = inner, clock, timedelta(0)

    def resource(self, extension_id: str) -> Resource | None:
        self.clock.advance(self.delay)
        return self.inner.resource(extension_id)

    def resource_for_number(self, phone_number: str) -> Resource | None:
        self.clock.advance(self.delay)
        return self.inner.resource_for_number(phone_number)

    def resources_of_handler(self, extension_id: str) -> list[Resource]:
        return list(self.inner.resources_of_handler(extension_id))


@pytest.mark.parametrize("command", ["receive", "send", "assign", "add_note"])
def test_a_command_that_ends_after_the_due_instant_does_not_reopen_the_thread(
    store: Store, command: str
) -> None:
    """Started one second before the due instant, done two seconds later (a slow directory,
    a lock, a pause): the thread readers saw expire stays expired (item 1)."""
    clock = ManualClock(START)
    directory = SlowDirectory(billing_directory(), clock)
    inbox = _inbox(store(), clock, directory)  # type: ignore[arg-type]
    first = inbox.send(owner_number=OWNER, guest_number=GUEST, body="hello", actor="101")
    clock.set(START + TTL - timedelta(seconds=1))
    directory.delay = timedelta(seconds=1)
    if command == "receive":
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="late")
        assert message.thread_id != first.thread_id
    elif command == "send":
        message = inbox.send(owner_number=OWNER, guest_number=GUEST, body="late", actor="101")
        assert message.thread_id != first.thread_id
    elif command == "assign":
        with pytest.raises(ThreadNotOpen):
            inbox.assign(first.thread_id, actor="101", assignee="102")
    else:
        with pytest.raises(ThreadNotOpen):
            inbox.add_note(first.thread_id, actor="101", text="late note")
    directory.delay = timedelta(0)
    thread = inbox.get(first.thread_id, actor="101")
    assert thread.status is ThreadStatus.RESOLVED
    assert thread.latest_message_at == first.created_at
    assert [m.body for m in inbox.messages(first.thread_id, actor="101")] == ["hello"]


def test_a_sync_token_from_an_instance_whose_clock_is_ahead_is_accepted(store: Store) -> None:
    ahead = _inbox(store(), SteppingClock(START + timedelta(minutes=10)))
    behind = _inbox(store(), SteppingClock(START))
    ahead.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    token = ahead.sync(actor="101").sync_token
    answer = behind.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token)
    assert answer.records == ()
    assert answer.sync_time >= START + timedelta(minutes=10)
    far = _inbox(store(), SteppingClock(START + timedelta(days=30)))
    with pytest.raises(InvalidSyncToken, match="future"):
        behind.sync(
            actor="101",
            sync_type=SyncType.INCREMENTAL,
            sync_token=far.sync(actor="101").sync_token,
        )


# --- listeners (item 12) -----------------------------------------------------------------------
def test_a_listener_that_raises_breaks_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = _inbox(store(), ManualClock(START))
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    inbox.subscribe(broken)
    inbox.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="threadcore.events"):
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    assert message.body == "hello"
    assert [type(e) for e in heard] == [ThreadOpened, MessageAdded]
    assert "listener bug" in caplog.text
    assert len(inbox.events()) == 2


def test_listeners_hear_a_batch_only_once_it_has_committed(store: Store) -> None:
    repo = store()
    inbox = _inbox(repo, ManualClock(START))
    heard: list[Event] = []
    inbox.subscribe(heard.append)
    with inbox.batch():
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="one")
        during = len(heard)
    assert len(heard) == 2
    atomic = not isinstance(repo, InMemoryRepository)
    assert during == (0 if atomic else 2)
    heard.clear()

    def failing_batch() -> None:
        with inbox.batch():
            inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="two")
            raise KeyError("the block fails")

    with pytest.raises(KeyError):
        failing_batch()
    stored = [e for _, e in inbox.events()]
    # durable storage undid the batch and nobody heard of it; memory applied the command
    assert heard == ([] if atomic else stored[2:])
    assert len(stored) == (2 if atomic else 4)
