"""Files' bytes in storage (issue 25, rule M8) through the library, on memory, SQLite and
PostgreSQL: a refused command stores none of its files, a file is stored once and shared, and
it goes with the last live message, draft or thread that carries it. And the schema step that
brings an older store's bytes under the rule (SQLite 7 -> 8, PostgreSQL 8 -> 9): the bytes
nobody carries go, the others are counted."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GUEST, GUEST2, OWNER, START, two_queue_directory
from stores import Store, store

from threadcore import Inbox, ManualClock, SQLiteRepository, Upload
from threadcore.errors import InvalidInput, NotAssignee, NotFound, RecipientOptedOut
from threadcore.ids import SequentialIds
from threadcore.ports import AttachmentStore

pytest_plugins = ["conftest_pg"]
__all__ = ["store"]

PICTURE = Upload(b"\x89PNG" + bytes(range(256)) * 8, "image/png", "receipt.png")
LEAFLET = Upload(b"%PDF leaflet" * 50, "application/pdf", "leaflet.pdf")
ORPHAN = Upload(b"kept by an older version for a refused send", "text/plain")


def _inbox(repository: object, ids: str = "a") -> Inbox:
    return Inbox(
        repository=repository,  # type: ignore[arg-type]
        directory=two_queue_directory(),
        clock=ManualClock(START),
        ids=SequentialIds(ids),
    )


def _assigned(inbox: Inbox, guest: str = GUEST) -> str:
    thread = inbox.receive(owner_number=OWNER, guest_number=guest, body="hi")
    inbox.assign(thread.thread_id, assignee="101", actor="101")
    return thread.thread_id


def _bytes(repository: object, upload: Upload) -> bytes | None:
    assert isinstance(repository, AttachmentStore)
    return repository.attachment(upload.key)


def test_m8_a_refused_send_stores_none_of_its_files(store: Store) -> None:
    repository = store()
    inbox = _inbox(repository)
    _assigned(inbox)
    refusals: list[tuple[type[Exception], Callable[[], object]]] = [
        (NotAssignee, lambda: inbox.send(
            actor="102", body="x", owner_number=OWNER, guest_number=GUEST,
            attachments=[PICTURE])),
        (InvalidInput, lambda: inbox.send(
            actor="101", body="x" * 1601, owner_number=OWNER, guest_number=GUEST,
            attachments=[PICTURE])),
    ]  # fmt: skip
    _assigned(inbox, GUEST2)
    inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="STOP")
    refusals.append(
        (RecipientOptedOut, lambda: inbox.send(
            actor="101", body="x", owner_number=OWNER, guest_number=GUEST2,
            attachments=[PICTURE]))
    )  # fmt: skip
    for error, refused in refusals:
        with pytest.raises(error):
            refused()
        assert _bytes(repository, PICTURE) is None
    sent = inbox.send(
        actor="101", body="x", owner_number=OWNER, guest_number=GUEST, attachments=[PICTURE]
    )
    assert _bytes(store(), PICTURE) == PICTURE.content  # another process reads them
    assert inbox.attachment_content(sent.id, 0, actor="101") == PICTURE.content


def test_m8_no_file_of_a_deleted_message_or_thread_survives_while_none_carries_it(
    store: Store,
) -> None:
    repository = store()
    inbox = _inbox(repository)
    thread_id = _assigned(inbox)
    other_thread = _assigned(inbox, GUEST2)
    url = "https://files.example/menu.png"  # a URL the library keeps as it is
    one = inbox.send(actor="101", body="a", thread_id=thread_id, attachments=[PICTURE, url])
    two = inbox.send(actor="101", body="b", thread_id=thread_id, attachments=[PICTURE, LEAFLET])
    three = inbox.send(actor="101", body="c", thread_id=other_thread, attachments=[LEAFLET])
    assert one.attachments == (PICTURE.url, url)
    inbox.delete_messages([one.id], actor="101")
    assert _bytes(repository, PICTURE) == PICTURE.content  # two carries it
    with pytest.raises(NotFound):
        inbox.attachment_content(one.id, 0, actor="101")
    inbox.delete(thread_id, actor="101")
    assert _bytes(repository, PICTURE) is None
    assert _bytes(repository, LEAFLET) == LEAFLET.content  # three carries it
    assert inbox.attachment_content(three.id, 0, actor="101") == LEAFLET.content
    with pytest.raises(NotFound):
        inbox.attachment_content(two.id, 1, actor="101")
    inbox.delete_messages([three.id], actor="101")
    assert _bytes(repository, LEAFLET) is None


def test_m8_a_draft_carries_files_until_discarded(store: Store) -> None:
    repository = store()
    inbox = _inbox(repository)
    thread_id = _assigned(inbox)
    draft = inbox.save_draft(thread_id, actor="101", body="later", attachments=[PICTURE])
    assert _bytes(repository, PICTURE) == PICTURE.content
    edited = inbox.save_draft(
        thread_id, actor="101", body="later", attachments=[LEAFLET], draft_id=draft.id
    )
    assert _bytes(repository, PICTURE) is None
    assert _bytes(repository, LEAFLET) == LEAFLET.content
    inbox.discard_draft(edited.id, actor="101")
    assert _bytes(repository, LEAFLET) is None


def test_m8_two_writers_of_one_file_never_lose_it_while_a_message_carries_it(
    store: Store,
) -> None:
    """Two processes each send the same file on their own thread and delete it again, over and
    over: whenever a send has returned, its file can be read, though the other process's
    deletion may have left the file's count at 0 at that very moment; at the end nothing is
    left."""
    first, second = _inbox(store(), "a"), _inbox(store(), "b")
    threads = [(first, _assigned(first)), (second, _assigned(first, GUEST2))]
    lost: list[str] = []

    def writer(inbox: Inbox, thread_id: str) -> None:
        try:
            for _ in range(25):
                sent = inbox.send(actor="101", body="f", thread_id=thread_id, attachments=[PICTURE])
                try:
                    inbox.attachment_content(sent.id, 0, actor="101")
                except NotFound:
                    lost.append(sent.id)
                inbox.delete_messages([sent.id], actor="101")
        except Exception as error:
            lost.append(repr(error))

    workers = [threading.Thread(target=writer, args=pair) for pair in threads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert lost == []
    assert _bytes(store(), PICTURE) is None


# --- the schema step ------------------------------------------------------------------------------
def _older_store(inbox: Inbox) -> tuple[str, str]:
    """Messages as an older version left them: one carrying PICTURE, one carrying PICTURE and
    LEAFLET; the bytes an older version kept though nothing carries them are added after."""
    thread_id = _assigned(inbox)
    one = inbox.send(actor="101", body="a", thread_id=thread_id, attachments=[PICTURE])
    two = inbox.send(actor="101", body="b", thread_id=thread_id, attachments=[PICTURE, LEAFLET])
    return one.id, two.id


def _check_counted(inbox: Inbox, repository: object, one: str, two: str) -> None:
    assert _bytes(repository, ORPHAN) is None  # nothing carried it: gone with the upgrade
    assert _bytes(repository, PICTURE) == PICTURE.content
    inbox.delete_messages([one], actor="101")
    assert _bytes(repository, PICTURE) == PICTURE.content  # counted twice
    inbox.delete_messages([two], actor="101")
    assert _bytes(repository, PICTURE) is None
    assert _bytes(repository, LEAFLET) is None


_SQLITE_7 = """
DROP TRIGGER threadcore_attachments_added;
DROP TRIGGER threadcore_attachments_changed;
DROP TRIGGER threadcore_attachments_removed;
DROP INDEX threadcore_attachments_unnamed;
CREATE TABLE v7 (key TEXT PRIMARY KEY, content BLOB NOT NULL);
INSERT INTO v7 SELECT key, content FROM threadcore_attachments;
DROP TABLE threadcore_attachments;
ALTER TABLE v7 RENAME TO threadcore_attachments;
UPDATE threadcore_schema SET version = 7;
"""


def test_m8_sqlite_version_7_counts_its_files_and_drops_what_nothing_carries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v7.db"
    repository = SQLiteRepository(path)
    one, two = _older_store(_inbox(repository))
    repository.close()
    with sqlite3.connect(path) as conn:
        conn.executescript(_SQLITE_7)
        conn.execute("INSERT INTO threadcore_attachments VALUES (?, ?)", (ORPHAN.key, b"x"))
    repository = SQLiteRepository(path)
    try:
        with sqlite3.connect(path) as conn:
            counted = dict(conn.execute("SELECT key, refs FROM threadcore_attachments"))
        assert counted == {PICTURE.key: 2, LEAFLET.key: 1}
        _check_counted(_inbox(repository), repository, one, two)
    finally:
        repository.close()


def test_m8_postgres_version_8_counts_its_files_and_drops_what_nothing_carries(
    postgres_url: str, pg_schema: str
) -> None:
    import psycopg

    from threadcore.adapters.postgres import PostgresRepository

    repository = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
    one, two = _older_store(_inbox(repository))
    repository.close()
    s = '"' + pg_schema.replace('"', '""') + '"'
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as version 8 left it
        for trigger in ("added", "changed", "removed"):
            conn.execute(f"DROP TRIGGER threadcore_attachments_{trigger} ON {s}.messages")
        conn.execute(f"DROP TRIGGER threadcore_attachments_unnamed ON {s}.threadcore_attachments")
        conn.execute(f"DROP FUNCTION {s}.threadcore_count_attachments()")
        conn.execute(f"DROP FUNCTION {s}.threadcore_drop_unnamed()")
        conn.execute(f"DROP FUNCTION {s}.threadcore_attachment_keys(text)")
        conn.execute(f"ALTER TABLE {s}.threadcore_attachments DROP COLUMN refs")
        conn.execute(f"INSERT INTO {s}.threadcore_attachments VALUES (%s, %s)", (ORPHAN.key, b"x"))
        conn.execute(f"UPDATE {s}.threadcore_schema SET version = 8")
    repository = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
    try:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            counted = dict(conn.execute(f"SELECT key, refs FROM {s}.threadcore_attachments"))
        assert counted == {PICTURE.key: 2, LEAFLET.key: 1}
        _check_counted(_inbox(repository), repository, one, two)
    finally:
        repository.close()
