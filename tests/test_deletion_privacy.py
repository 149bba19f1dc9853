"""A deleted thread carries no message text anywhere (issue 12, item 5; rule R12), on memory,
SQLite and PostgreSQL, whatever reads it: ``get``, ``list`` of deleted threads, an incremental
sync's tombstone, an entries sync, the wire, and another process reading the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import stores
from conftest import BOTH, GUEST, OWNER, START

from threadcore import EntryScope, ManualClock, SQLiteRepository, SyncType, ThreadFilter, wire

pytest_plugins = ["conftest_pg"]
store = stores.store
SECRET_TEXT = "my card number is 4111 1111 1111 1111"


def test_a_deleted_thread_carries_no_message_text(store: stores.Store) -> None:
    clock = ManualClock(START)
    inbox = stores.inbox_on(store(), clock)
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hello")
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body=SECRET_TEXT)
    thread_id = message.thread_id
    inbox.add_note(thread_id, actor="101", text=f"note: {SECRET_TEXT}")
    token = inbox.sync(actor="101").sync_token
    entries_token = inbox.sync_entries(actor="101", scope=EntryScope.ACCESSIBLE).sync_token
    assert inbox.get(thread_id, actor="101").label == SECRET_TEXT
    deleted = inbox.delete(thread_id, actor="101")

    other = stores.inbox_on(store(), clock)  # another process
    seen = [
        deleted,
        inbox.get(thread_id, actor="101"),
        other.get(thread_id, actor="101"),
        *other.list(actor="101", filter=ThreadFilter(availability=BOTH)),
        *other.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token).records,
    ]
    assert len(seen) == 5
    for thread in seen:
        assert thread.label is None
        assert thread.latest_message_body is None
        assert SECRET_TEXT not in json.dumps(wire.dump_thread(thread))
    entries = other.sync_entries(
        actor="101", sync_type=SyncType.INCREMENTAL, sync_token=entries_token
    )
    assert SECRET_TEXT not in json.dumps(wire.dump_entries_sync(entries))
    assert SECRET_TEXT not in repr(entries)


def test_a_thread_deleted_by_an_older_threadcore_serves_no_text(tmp_path: Path) -> None:
    """Rows deleted before the fix still hold the label on disk; reads never serve it."""
    path = tmp_path / "t.db"
    repo = SQLiteRepository(path)
    inbox = stores.inbox_on(repo, ManualClock(START))
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body=SECRET_TEXT)
    inbox.delete(message.thread_id, actor="101")
    repo.close()
    with sqlite3.connect(path) as conn:  # as an older threadcore left it
        conn.execute("UPDATE threads SET label = ?", (SECRET_TEXT,))
    repo = SQLiteRepository(path)
    inbox = stores.inbox_on(repo, ManualClock(START))
    assert inbox.get(message.thread_id, actor="101").label is None
    listed = inbox.list(actor="101", filter=ThreadFilter(availability=BOTH))
    assert [t.label for t in listed] == [None]
    repo.close()
