"""What any instance has shown expired is final (issue 22, items 1 and 2; rule R10b).

Each test runs on memory, SQLite and PostgreSQL ("two processes" are two inboxes, each with its
own clock, over one store), except the ones about a commit in flight, which need PostgreSQL's
row locks and real sessions. The history checker (``test_history.py``) runs the same rule with
real processes, skewed clocks and delayed commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import stores
from conftest import GUEST, GUEST2, OWNER, START, TTL, billing_directory

from threadcore import (
    Inbox,
    MessageFilter,
    Policy,
    StatusReason,
    SyncType,
    ThreadFilter,
    ThreadStatus,
)
from threadcore.errors import StorageError, ThreadcoreError, ThreadNotOpen
from threadcore.events import ThreadResolved

pytest_plugins = ["conftest_pg"]
store = stores.store

Store = stores.Store
_inbox = stores.inbox_on


SettableClock = stores.SteppingClock


def _reads(inbox: Inbox, thread_id: str, tokens: dict[str, str]) -> dict[str, Callable[[], Any]]:
    """Every read that shows a thread's status (or leaves it out as expired)."""
    return {
        "get": lambda: inbox.get(thread_id, actor="101"),
        "list": lambda: inbox.list(actor="101"),
        "list resolved": lambda: inbox.list(actor="101", filter=ThreadFilter(status="Resolved")),
        "list open (left out)": lambda: inbox.list(actor="101", filter=ThreadFilter(status="Open")),
        "numbered page of open (counted out)": lambda: inbox.numbered_page(
            actor="101",
            filter=ThreadFilter(status="Open"),
            page=1,
            per_page=1,
        ),
        "messages of resolved threads": lambda: inbox.list_messages(
            actor="101", filter=MessageFilter(thread_status="Resolved")
        ),
        "messages of open threads (left out)": lambda: inbox.list_messages(
            actor="101", filter=MessageFilter(thread_status="Open")
        ),
        "full sync (left out)": lambda: inbox.sync(actor="101"),
        "incremental sync": lambda: inbox.sync(
            actor="101", sync_type=SyncType.INCREMENTAL, sync_token=tokens["sync"]
        ),
        "full entries (left out)": lambda: inbox.sync_entries(actor="101", scope="Accessible"),
        "incremental entries": lambda: inbox.sync_entries(
            actor="101", sync_type=SyncType.INCREMENTAL, sync_token=tokens["entries"]
        ),
    }


def _refusals(inbox: Inbox, thread_id: str) -> dict[str, Callable[[], Any]]:
    """Commands refused because the thread has expired."""

    def refused(command: Callable[[], object]) -> None:
        with pytest.raises(ThreadNotOpen):
            command()

    return {
        "resolve": lambda: refused(lambda: inbox.resolve(thread_id, actor="101")),
        "assign": lambda: refused(lambda: inbox.assign(thread_id, actor="101", assignee="103")),
        "send": lambda: refused(lambda: inbox.send(actor="102", thread_id=thread_id, body="x")),
        "add_note": lambda: refused(lambda: inbox.add_note(thread_id, actor="101", text="n")),
        "save_draft as the system": lambda: refused(
            lambda: inbox.save_draft(thread_id, actor=None, body="d")
        ),
    }


READS = ["get", "list", "list resolved", "list open (left out)"]
READS += ["numbered page of open (counted out)", "messages of resolved threads"]
READS += ["messages of open threads (left out)", "full sync (left out)"]
READS += ["incremental sync", "full entries (left out)", "incremental entries"]
SHOWN = [*READS, "resolve", "assign", "send", "add_note", "save_draft as the system"]


def _tokens(inbox: Inbox) -> dict[str, str]:
    return {
        "sync": inbox.sync(actor="101").sync_token,
        "entries": inbox.sync_entries(actor="101", scope="Accessible").sync_token,
    }


@pytest.mark.parametrize("shown", SHOWN)
def test_what_an_instance_ahead_showed_expired_stays_expired_for_an_instance_behind(
    store: Store, shown: str
) -> None:
    """Two instances 10 s apart, a thread due between them (item 2): once the one ahead has
    shown the thread expired (or refused a command for it), the one behind never appends to it
    nor shows it open; the expiry is stored once."""
    behind_clock = SettableClock(START)
    behind = _inbox(store(), behind_clock)
    first = behind.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    behind.receive(owner_number=OWNER, guest_number=GUEST2, body="another pair, open for days")
    behind.assign(first.thread_id, actor="101", assignee="102")
    tokens = _tokens(behind)
    due = START + TTL
    behind_clock.at = due - timedelta(seconds=5)
    ahead = _inbox(store(), SettableClock(due + timedelta(seconds=5)))

    {**_reads(ahead, first.thread_id, tokens), **_refusals(ahead, first.thread_id)}[shown]()

    late = behind.receive(owner_number=OWNER, guest_number=GUEST, body="late")
    assert late.thread_id != first.thread_id, "the instance behind appended to an expired thread"
    for inbox in (ahead, behind):
        thread = inbox.get(first.thread_id, actor="101")
        assert (thread.status, thread.status_reason) == (
            ThreadStatus.RESOLVED,
            StatusReason.THREAD_EXPIRED,
        )
        assert thread.last_modified_time == due
        with pytest.raises(ThreadNotOpen):
            inbox.resolve(first.thread_id, actor="101")
    expiries = [
        event
        for _, event in ahead.events()
        if isinstance(event, ThreadResolved) and event.thread_id == first.thread_id
    ]
    assert expiries == [ThreadResolved(first.thread_id, due, StatusReason.THREAD_EXPIRED, None)]


def test_a_read_of_threads_that_are_not_due_writes_nothing(store: Store) -> None:
    clock = SettableClock(START)
    inbox = _inbox(store(), clock)
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    tokens = _tokens(inbox)
    clock.at = START + TTL - timedelta(seconds=1)
    before = len(inbox.events())
    for read in _reads(inbox, first.thread_id, tokens).values():
        read()
    assert len(inbox.events()) == before
    assert inbox.get(first.thread_id, actor="101").status is ThreadStatus.OPEN


def test_a_list_writes_the_expiries_it_finds_in_one_unit_of_work(store: Store) -> None:
    clock = SettableClock(START)
    inbox = _inbox(store(), clock)
    guests = [f"+165022401{n:02d}" for n in range(40)]
    for guest in guests:
        inbox.receive(owner_number=OWNER, guest_number=guest, body="hi")
    clock.at = START + TTL
    writes: list[int] = []
    inbox.subscribe(lambda event: writes.append(1))
    units = 0
    real = inbox._write_expiries

    def counted(threads: Any) -> bool:
        nonlocal units
        units += 1
        return real(threads)

    inbox._write_expiries = counted  # type: ignore[method-assign]
    assert list(inbox.list(actor="101", filter=ThreadFilter(status="Open"))) == []
    assert (units, len(writes)) == (1, len(guests))
    assert inbox.expire() == []


def test_one_attempt_is_enough_to_write_what_a_read_or_a_command_finds_due(store: Store) -> None:
    """With ``Inbox(retries=1)``: reading again after writing the expiries a page held, and
    running a command again after writing the expiry it found due, are not retries."""
    clock = SettableClock(START)
    inbox = Inbox(
        repository=store(),  # type: ignore[arg-type]
        directory=billing_directory(),
        clock=clock,
        policy=Policy(ttl=TTL),
        retries=1,
    )
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    clock.at = START + TTL
    assert list(inbox.list(actor="101", filter=ThreadFilter(status="Open"))) == []
    second = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="hi")
    draft = inbox.save_draft(second.thread_id, actor="101", body="later")
    clock.at = START + 2 * TTL
    gone = inbox.discard_draft(draft.id, actor="101")  # on an expired thread: allowed
    assert gone.id == draft.id
    for thread_id in (first.thread_id, second.thread_id):
        thread = inbox.get(thread_id, actor="101")
        assert thread.status_reason is StatusReason.THREAD_EXPIRED


# --- a commit in flight (PostgreSQL: real sessions, real row locks) ------------------------------


def _pg_inboxes(url: str, schema: str, lock_timeout: float) -> tuple[Inbox, Inbox, SettableClock]:
    from threadcore.adapters.postgres import PostgresRepository

    writer_clock = SettableClock(START)

    def repo() -> PostgresRepository:
        return PostgresRepository(url, schema=schema, max_size=2, lock_timeout=lock_timeout)

    writer = _inbox(repo(), writer_clock)
    reader = _inbox(repo(), SettableClock(START + TTL + timedelta(seconds=1)))
    return writer, reader, writer_clock


def _holding_the_row(url: str, schema: str, thread_id: str) -> psycopg.Connection[Any]:
    """Another session holding the thread's row lock: a command's commit waits behind it."""
    conn = psycopg.connect(url)
    conn.execute(f'SELECT 1 FROM "{schema}".threads WHERE id = %s FOR UPDATE', (thread_id,))
    return conn


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except ThreadcoreError as error:
            out["error"] = error
        out["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_reader_waits_for_a_commit_in_flight_instead_of_showing_the_thread_expired(
    postgres_url: str, pg_schema: str
) -> None:
    """Item 1: a receive found the thread open and checked the clock; its commit then waits (a
    row lock held by another session) past the thread's due instant. A reader in that window
    (its clock after the due instant) waits for the commit and shows what it committed, never
    "expired" followed by "open"."""
    writer, reader, writer_clock = _pg_inboxes(postgres_url, pg_schema, lock_timeout=30)
    first = writer.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    writer_clock.at = START + TTL - timedelta(seconds=1)  # one second before the due instant
    holder = _holding_the_row(postgres_url, pg_schema, first.thread_id)
    try:
        receiving, received = _in_thread(
            lambda: writer.receive(owner_number=OWNER, guest_number=GUEST, body="in time")
        )
        time.sleep(0.5)  # the receive is checked and waits to commit
        reading, read = _in_thread(lambda: reader.get(first.thread_id, actor="101"))
        time.sleep(0.5)
        assert "ended" not in read, f"the reader answered while a commit was in flight: {read}"
        released = time.monotonic()
    finally:
        holder.rollback()
        holder.close()
    receiving.join(30)
    reading.join(30)
    assert received["value"].thread_id == first.thread_id, received
    assert read["ended"] >= released
    shown = read["value"]
    assert shown.status is ThreadStatus.OPEN
    assert shown.latest_message_at == received["value"].created_at
    again = reader.get(first.thread_id, actor="101")
    assert again.status is ThreadStatus.OPEN
    writer.close()
    reader.close()


def test_a_reader_waits_at_most_the_lock_timeout_then_answers_a_retryable_error(
    postgres_url: str, pg_schema: str
) -> None:
    writer, reader, writer_clock = _pg_inboxes(postgres_url, pg_schema, lock_timeout=0.5)
    first = writer.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    holder = _holding_the_row(postgres_url, pg_schema, first.thread_id)
    try:
        with pytest.raises(StorageError) as caught:
            reader.get(first.thread_id, actor="101")
        assert caught.value.retryable
        assert caught.value.status == 503
    finally:
        holder.rollback()
        holder.close()
    shown = reader.get(first.thread_id, actor="101")  # the lock is gone: the expiry is written
    assert shown.status_reason is StatusReason.THREAD_EXPIRED
    writer_clock.at = START + TTL - timedelta(seconds=1)
    late = writer.receive(owner_number=OWNER, guest_number=GUEST, body="late")
    assert late.thread_id != first.thread_id
    writer.close()
    reader.close()


def test_a_list_writes_many_expiries_in_one_transaction(postgres_url: str, pg_schema: str) -> None:
    writer, reader, _ = _pg_inboxes(postgres_url, pg_schema, lock_timeout=5)
    for n in range(30):
        writer.receive(owner_number=OWNER, guest_number=f"+165022402{n:02d}", body="hi")
    assert list(reader.list(actor="101", filter=ThreadFilter(status="Open"))) == []
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            f'SELECT count(*), count(DISTINCT xid) FROM "{pg_schema}".threads '
            "WHERE status_reason = 'ThreadExpired'"
        ).fetchall()
    assert rows == [(30, 1)]
    writer.close()
    reader.close()
