"""A deleted thread carries no message text anywhere (issue 12, item 5; rule R12), on memory,
SQLite and PostgreSQL, whatever reads it: ``get``, ``list`` of deleted threads, an incremental
sync's tombstone, an entries sync, the wire, and another process reading the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
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


def _as_an_older_threadcore_left_it(repo: object) -> object:
    """Put the deleted thread's text back into its stored label and the schema one version
    back (as threadcore before issue 12 left a deleted thread); the SQL statements to read the
    raw label afterwards."""
    if isinstance(repo, SQLiteRepository):
        path = repo.path
        repo.close()
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE threads SET label = ?", (SECRET_TEXT,))
            conn.execute(
                "UPDATE threadcore_schema SET version = ?", (3,)
            )  # before the erasure (SQLite 3 -> 4)

        def raw() -> list[object]:
            with sqlite3.connect(path) as conn:
                return [row[0] for row in conn.execute("SELECT label FROM threads")]

        return raw
    import psycopg

    from threadcore.adapters.postgres import PostgresRepository

    assert isinstance(repo, PostgresRepository)
    url, schema = repo._url, repo.schema
    repo.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".threads SET label = %s', (SECRET_TEXT,))
        conn.execute(
            f'UPDATE "{schema}".threadcore_schema SET version = %s', (2,)
        )  # before the erasure (PostgreSQL 2 -> 3)

    def raw_pg() -> list[object]:
        with psycopg.connect(url) as conn:
            return [row[0] for row in conn.execute(f'SELECT label FROM "{schema}".threads')]

    return raw_pg


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_thread_deleted_by_an_older_threadcore_loses_its_text_on_upgrade(
    store: stores.Store,
) -> None:
    """Rows deleted before the fix held the label on disk: opening the store migrates them to
    hold none (the schema's next version), and reads never serve it either way."""
    repo = store()
    inbox = stores.inbox_on(repo, ManualClock(START))
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body=SECRET_TEXT)
    inbox.delete(message.thread_id, actor="101")
    raw = _as_an_older_threadcore_left_it(repo)
    assert raw() == [SECRET_TEXT]  # type: ignore[operator]
    inbox = stores.inbox_on(store(), ManualClock(START))  # an upgraded threadcore opens it
    assert raw() == [None]  # type: ignore[operator]
    assert inbox.get(message.thread_id, actor="101").label is None
    listed = inbox.list(actor="101", filter=ThreadFilter(availability=BOTH))
    assert [t.label for t in listed] == [None]


def test_reads_never_serve_a_deleted_threads_stored_label(tmp_path: Path) -> None:
    """Even a label written back at the current schema version is not served."""
    path = tmp_path / "t.db"
    repo = SQLiteRepository(path)
    inbox = stores.inbox_on(repo, ManualClock(START))
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body=SECRET_TEXT)
    inbox.delete(message.thread_id, actor="101")
    repo.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE threads SET label = ?", (SECRET_TEXT,))
    repo = SQLiteRepository(path)
    inbox = stores.inbox_on(repo, ManualClock(START))
    assert inbox.get(message.thread_id, actor="101").label is None
    repo.close()
