"""Schema migrations in both SQL adapters. A database written by threadcore's version-1 schema (its
DDL copied below, as it shipped) opens, keeps its rows with sensible values for the new fields,
gains notes and opt-outs, ends up with the fresh schema's shape, and then passes the whole
repository contract. SQLite's version 2 (also copied below) moves to version 3 (messages and events
without AUTOINCREMENT, a partial provider id index) keeping every row and position. A failed
migration changes nothing; a newer schema is still refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threadcore import SQLiteRepository
from threadcore.adapters._sql import OPEN
from threadcore.adapters.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from threadcore.domain.events import GuestOptedOut, MessageAdded, ThreadAssigned, ThreadOpened
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    Note,
    ThreadStatus,
    ThreadUser,
)
from threadcore.errors import SchemaVersionError, StorageError
from threadcore.ports import MessageQuery, NoteQuery, Repository
from threadcore.testing.contract import RepositoryContract

pytest_plugins = ["conftest_pg"]

T0 = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
Q1 = "6249888001"
ANN = ThreadUser("101", "Ann", "User")

# --- version 1, as it shipped ---------------------------------------------------------------------
SQLITE_V1 = f"""
CREATE TABLE threadcore_schema (version INTEGER NOT NULL);
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    owner_number TEXT NOT NULL,
    guest_number TEXT NOT NULL,
    owner_extension_id TEXT NOT NULL,
    owner_name TEXT,
    owner_type TEXT,
    creation_time TEXT NOT NULL,
    status TEXT NOT NULL,
    availability TEXT NOT NULL,
    assignee_id TEXT,
    assignee_name TEXT,
    assignee_type TEXT,
    status_reason TEXT,
    label TEXT,
    last_modified_time TEXT NOT NULL,
    last_inbound_at TEXT,
    last_outbound_at TEXT,
    latest_message_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    change_position INTEGER NOT NULL
);
CREATE UNIQUE INDEX threads_one_open_per_pair ON threads (owner_number, guest_number)
    WHERE {OPEN};
CREATE INDEX threads_by_owner ON threads (owner_extension_id, creation_time, id);
CREATE INDEX threads_by_guest ON threads (guest_number, creation_time, id);
CREATE INDEX threads_by_owner_number ON threads (owner_number, creation_time, id);
CREATE INDEX threads_by_change ON threads (change_position);
CREATE INDEX threads_due ON threads (latest_message_at) WHERE {OPEN};
CREATE TABLE messages (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    author_id TEXT,
    author_name TEXT,
    author_type TEXT,
    created_at TEXT NOT NULL,
    last_modified_at TEXT NOT NULL,
    availability TEXT NOT NULL,
    provider_message_id TEXT UNIQUE
);
CREATE INDEX messages_by_thread ON messages (thread_id, position);
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
INSERT INTO threadcore_schema VALUES (1);
"""


# --- SQLite version 2, as it shipped -------------------------------------------------------------
SQLITE_V2 = f"""
CREATE TABLE threadcore_schema (version INTEGER NOT NULL);
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    owner_number TEXT NOT NULL,
    guest_number TEXT NOT NULL,
    owner_extension_id TEXT NOT NULL,
    owner_name TEXT,
    owner_type TEXT,
    creation_time TEXT NOT NULL,
    status TEXT NOT NULL,
    availability TEXT NOT NULL,
    assignee_id TEXT,
    assignee_name TEXT,
    assignee_type TEXT,
    status_reason TEXT,
    label TEXT,
    last_modified_time TEXT NOT NULL,
    last_inbound_at TEXT,
    last_outbound_at TEXT,
    latest_message_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    change_position INTEGER NOT NULL
);
CREATE UNIQUE INDEX threads_one_open_per_pair ON threads (owner_number, guest_number)
    WHERE {OPEN};
CREATE INDEX threads_by_owner ON threads (owner_extension_id, creation_time, id);
CREATE INDEX threads_by_guest ON threads (guest_number, creation_time, id);
CREATE INDEX threads_by_owner_number ON threads (owner_number, creation_time, id);
CREATE INDEX threads_by_change ON threads (change_position);
CREATE INDEX threads_due ON threads (latest_message_at) WHERE {OPEN};
CREATE TABLE messages (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    author_id TEXT,
    author_name TEXT,
    author_type TEXT,
    created_at TEXT NOT NULL,
    last_modified_at TEXT NOT NULL,
    availability TEXT NOT NULL,
    provider_message_id TEXT UNIQUE,
    status TEXT NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    read_at TEXT,
    error_code TEXT,
    is_automated INTEGER NOT NULL,
    source TEXT,
    content_type TEXT NOT NULL,
    attachments TEXT,
    classifications TEXT,
    keyword TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX messages_by_thread ON messages (thread_id, position);
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX messages_by_time ON messages (created_at, id);
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    author_name TEXT,
    author_type TEXT,
    text TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    last_modified_time TEXT NOT NULL,
    availability TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX notes_by_thread ON notes (thread_id, creation_time, id);
CREATE INDEX notes_by_time ON notes (creation_time, id);
CREATE TABLE opt_outs (
    owner_number TEXT NOT NULL,
    guest_number TEXT NOT NULL,
    opted_out INTEGER NOT NULL,
    PRIMARY KEY (owner_number, guest_number)
) WITHOUT ROWID;
INSERT INTO threadcore_schema VALUES (2);
"""


def postgres_v1(s: str) -> str:
    """Version 1's PostgreSQL DDL in the (quoted) schema ``s``."""
    return f"""
CREATE TABLE {s}.threadcore_schema (version integer NOT NULL);
CREATE TABLE {s}.threads (
    id text COLLATE "C" PRIMARY KEY,
    owner_number text COLLATE "C" NOT NULL,
    guest_number text COLLATE "C" NOT NULL,
    owner_extension_id text COLLATE "C" NOT NULL,
    owner_name text,
    owner_type text,
    creation_time timestamptz NOT NULL,
    status text NOT NULL,
    availability text NOT NULL,
    assignee_id text COLLATE "C",
    assignee_name text,
    assignee_type text,
    status_reason text,
    label text,
    last_modified_time timestamptz NOT NULL,
    last_inbound_at timestamptz,
    last_outbound_at timestamptz,
    latest_message_at timestamptz NOT NULL,
    version integer NOT NULL,
    xid bigint NOT NULL
);
CREATE UNIQUE INDEX threads_one_open_per_pair ON {s}.threads (owner_number, guest_number)
    WHERE {OPEN};
CREATE INDEX threads_by_owner ON {s}.threads (owner_extension_id, creation_time, id);
CREATE INDEX threads_by_guest ON {s}.threads (guest_number, creation_time, id);
CREATE INDEX threads_by_owner_number ON {s}.threads (owner_number, creation_time, id);
CREATE INDEX threads_by_change ON {s}.threads (xid);
CREATE INDEX threads_due ON {s}.threads (latest_message_at) WHERE {OPEN};
CREATE TABLE {s}.messages (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    thread_id text COLLATE "C" NOT NULL,
    direction text NOT NULL,
    body text NOT NULL,
    from_number text NOT NULL,
    to_number text NOT NULL,
    author_id text,
    author_name text,
    author_type text,
    created_at timestamptz NOT NULL,
    last_modified_at timestamptz NOT NULL,
    availability text NOT NULL,
    provider_message_id text COLLATE "C" UNIQUE
);
CREATE INDEX messages_by_thread ON {s}.messages (thread_id, position);
CREATE TABLE {s}.events (
    xid bigint NOT NULL,
    ordinal integer NOT NULL,
    thread_id text NOT NULL,
    kind text NOT NULL,
    payload text NOT NULL,
    PRIMARY KEY (xid, ordinal)
);
CREATE FUNCTION {s}.threadcore_expect(matched bigint, wanted bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> wanted THEN
        RAISE EXCEPTION 'threadcore: a thread was changed concurrently'
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN matched;
END $$;
INSERT INTO {s}.threadcore_schema VALUES (1);
"""


# Rows as version 1 wrote them (times as each dialect takes them: see ``rows``).
def rows(time: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Version-1 rows: an open, assigned thread with an inbound message, an outbound one and a
    deleted outbound one, and its events (payloads exactly as version 1 wrote them)."""
    t0, t1 = time(T0), time(T1)
    return {
        "threads": [
            ("t1", "+12092480001", "+16502240001", Q1, "Billing", "Department", t0, "Open",
             "Alive", "101", "Ann", "User", None, "On it", t1, t0, t1, t1, 3),
        ],
        "messages": [
            ("t1-m1", "t1", "Inbound", "Hi", "+16502240001", "+12092480001", None, None, None,
             t0, t0, "Alive", "p-in"),
            ("t1-m2", "t1", "Outbound", "On it", "+12092480001", "+16502240001", "101", "Ann",
             "User", t1, t1, "Alive", "p-out"),
            ("t1-m3", "t1", "Outbound", "", "+12092480001", "+16502240001", "101", "Ann",
             "User", t1, t1, "Deleted", None),
        ],
        "events": [
            ("t1", "ThreadOpened",
             '{"thread_id":"t1","at":"2026-02-17T17:00:00.000000+00:00","owner_extension_id":'
             '"6249888001","owner_number":"+12092480001","guest_number":"+16502240001",'
             '"assignee":null,"initiator":null}'),
            ("t1", "MessageAdded",
             '{"thread_id":"t1","at":"2026-02-17T17:00:00.000000+00:00","message_id":"t1-m1",'
             '"direction":"Inbound","initiator":null}'),
            ("t1", "ThreadAssigned",
             '{"thread_id":"t1","at":"2026-02-17T17:01:00.000000+00:00","assignee":["101",'
             '"Ann","User"],"previous_assignee":null,"initiator":"101"}'),
        ],
    }  # fmt: skip


def check_old_rows_after_migration(repo: Repository) -> None:
    """What a version-1 database holds, read through this version's repository."""
    with repo.unit_of_work() as uow:
        thread = uow.thread("t1")
        assert thread is not None
        assert thread.version == 3
        assert thread.label == "On it"
        inbound, outbound, deleted = uow.messages("t1")
        assert inbound == Message("t1-m1", "t1", Direction.INBOUND, "Hi", "+16502240001",
                                  "+12092480001", None, T0, T0, Availability.ALIVE, "p-in",
                                  status=DeliveryStatus.RECEIVED)  # fmt: skip
        assert outbound == Message("t1-m2", "t1", Direction.OUTBOUND, "On it", "+12092480001",
                                   "+16502240001", ANN, T1, T1, Availability.ALIVE, "p-out",
                                   status=DeliveryStatus.SENT, sent_at=T1)  # fmt: skip
        assert (deleted.status, deleted.availability) == (DeliveryStatus.SENT, Availability.DELETED)
        for message in (inbound, outbound, deleted):
            assert message.version == 1
            assert message.content_type == "text/plain"
            assert message.is_automated is False
            assert message.attachments == ()
            assert message.classifications == ()
            assert message.keyword is None
            assert message.source is None
            assert uow.message(message.id) == message
        query = MessageQuery(frozenset({Q1}), T0, thread_status=ThreadStatus.OPEN)
        assert [m.id for m in uow.find_messages(query, 10)] == ["t1-m1", "t1-m2"]
        assert uow.opted_out("+12092480001", "+16502240001") is False
        assert uow.find_notes(NoteQuery(frozenset({Q1})), 10) == []
        position = uow.event_position()
        old = uow.events_since(0, position, frozenset({Q1}), 10)
    assert [type(e) for _, e in old] == [ThreadOpened, MessageAdded, ThreadAssigned]
    assert old == repo.events()
    assert old[2][1] == ThreadAssigned("t1", T1, ANN, None, "101")
    # the old records take the new writes
    note = Note("n1", "t1", ANN, "called back", T1, T1)
    with repo.unit_of_work() as uow:
        uow.save_message(
            Message("t1-m2", "t1", Direction.OUTBOUND, "On it", "+12092480001", "+16502240001",
                    ANN, T1, T1, Availability.ALIVE, "p-out", status=DeliveryStatus.DELIVERED,
                    sent_at=T1, delivered_at=T1, version=2),
            1,
        )  # fmt: skip
        uow.save_note(note, 0)
        uow.set_opted_out("+12092480001", "+16502240001", True)
    with repo.unit_of_work() as uow:
        delivered = uow.message("t1-m2")
        assert delivered is not None
        assert delivered.status is DeliveryStatus.DELIVERED
        assert uow.note("n1") == note
        assert uow.opted_out("+12092480001", "+16502240001") is True


# --- SQLite ---------------------------------------------------------------------------------------
def sqlite_v1(path: Path, with_rows: bool = True) -> None:
    """A version-1 SQLite database at ``path``."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(SQLITE_V1)
        if with_rows:
            data = rows(lambda t: t.isoformat(timespec="microseconds"))
            for row in data["threads"]:
                conn.execute(f"INSERT INTO threads VALUES ({', '.join('?' * 20)})", (*row, 7))
            for row in data["messages"]:
                conn.execute(
                    "INSERT INTO messages (id, thread_id, direction, body, from_number, "
                    "to_number, author_id, author_name, author_type, created_at, "
                    f"last_modified_at, availability, provider_message_id) VALUES "
                    f"({', '.join('?' * 13)})",
                    row,
                )
            for row in data["events"]:
                conn.execute("INSERT INTO events (thread_id, kind, payload) VALUES (?, ?, ?)", row)
    finally:
        conn.close()


# Version-2 rows beyond version 1's: delivery fields, a message without a provider id (an opt-out
# keyword), attachments, classifications, a draft, a note, an opt-out and their events.
SQLITE_V2_MESSAGES = [
    ("t1-m4", "t1", "Inbound", "STOP", "+16502240001", "+12092480001", None, None, None,
     "2026-02-17T17:01:00.000000+00:00", "2026-02-17T17:01:00.000000+00:00", "Alive", None,
     "Received", None, None, None, None, 0, None, "text/plain", None,
     '[{"id": "c1", "classification": "opt_out", "created_at": '
     '"2026-02-17T17:01:00.000000+00:00", "confidence": 0.9, "reason": null, '
     '"is_action_required": true, "is_reply_required": null, "language": "en", '
     '"action_recommendation": null, "details": {"n": 1}}]', "OptOut", 2),
    ("t1-m5", "t1", "Outbound", "See attached", "+12092480001", "+16502240001", "101", "Ann",
     "User", "2026-02-17T17:01:00.000000+00:00", "2026-02-17T17:01:00.000000+00:00", "Alive",
     "p-out-2", "Delivered", "2026-02-17T17:01:00.000000+00:00",
     "2026-02-17T17:01:00.000000+00:00", None, None, 1, "api", "image/png",
     '["https://example.com/a.png"]', None, None, 3),
    ("t1-m6", "t1", "Outbound", "draft", "+12092480001", "+16502240001", "101", "Ann", "User",
     "2026-02-17T17:01:00.000000+00:00", "2026-02-17T17:01:00.000000+00:00", "Alive", None,
     "Draft", None, None, None, None, 0, None, "text/plain", None, None, None, 1),
]  # fmt: skip
SQLITE_V2_EVENTS = [
    ("t1", "MessageAdded",
     '{"thread_id":"t1","at":"2026-02-17T17:01:00.000000+00:00","message_id":"t1-m4",'
     '"direction":"Inbound","initiator":null}'),
    ("t1", "GuestOptedOut",
     '{"thread_id":"t1","at":"2026-02-17T17:01:00.000000+00:00","owner_number":"+12092480001",'
     '"guest_number":"+16502240001","message_id":"t1-m4","initiator":null}'),
]  # fmt: skip


V2_MESSAGE_POSITIONS = (1, 2, 4, 7, 8, 12)
V2_EVENT_POSITIONS = (1, 3, 4, 9, 10)


def sqlite_v2(path: Path, with_rows: bool = True) -> None:
    """A version-2 SQLite database at ``path``: version 1's rows as version 2 held them after
    migrating, and rows only version 2 could hold."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(SQLITE_V2)
        if with_rows:
            data = rows(lambda t: t.isoformat(timespec="microseconds"))
            for row in data["threads"]:
                conn.execute(f"INSERT INTO threads VALUES ({', '.join('?' * 20)})", (*row, 7))
            old_messages = [
                (*row, "Received" if row[2] == "Inbound" else "Sent",
                 None if row[2] == "Inbound" else row[9], None, None, None, 0, None,
                 "text/plain", None, None, None, 1)
                for row in data["messages"]
            ]  # fmt: skip
            # positions with gaps (as rows written concurrently and rolled back can leave in
            # PostgreSQL, or as AUTOINCREMENT does after a failed insert), so that a migration
            # that renumbered the rows would show
            messages = zip(V2_MESSAGE_POSITIONS, old_messages + SQLITE_V2_MESSAGES, strict=True)
            for position, row in messages:
                conn.execute(f"INSERT INTO messages VALUES ({', '.join('?' * 26)})",
                             (position, *row))  # fmt: skip
            events = zip(V2_EVENT_POSITIONS, data["events"] + SQLITE_V2_EVENTS, strict=True)
            for position, row in events:
                conn.execute(
                    "INSERT INTO events (position, thread_id, kind, payload) VALUES (?, ?, ?, ?)",
                    (position, *row),
                )
            conn.execute(
                "INSERT INTO notes VALUES ('n0', 't1', '101', 'Ann', 'User', 'called', "
                "'2026-02-17T17:01:00.000000+00:00', '2026-02-17T17:01:00.000000+00:00', "
                "'Alive', 1)"
            )
            conn.execute("INSERT INTO opt_outs VALUES ('+12092480001', '+16502240001', 1)")
    finally:
        conn.close()


def sqlite_shape(path: Path) -> dict[str, Any]:
    """Every table's columns and every index's definition (what a schema is, beyond its rows).
    ``sqlite_sequence`` is left out: SQLite creates it for AUTOINCREMENT (versions 1 and 2) and
    will not drop it; migrated, it is empty and unused."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence' "
            "ORDER BY name")]  # fmt: skip
        return {
            "columns": {
                table: [(name, kind, notnull, pk) for _, name, kind, notnull, _, pk in
                        conn.execute(f"PRAGMA table_info({table})")]
                for table in tables
            },
            "indexes": sorted(conn.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")),
            # the DDL itself, which alone shows AUTOINCREMENT and column defaults
            "tables": {table: " ".join(sql.split()) for table, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name <> 'sqlite_sequence'")},
        }  # fmt: skip
    finally:
        conn.close()


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but SQLite's own, the version, the store's id (made when a
    store is first opened) and the tables later versions add empty (consumers, the stored
    directory, the stored clock), positions included, in a fixed order."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT IN ('threadcore_schema', 'threadcore_store', "
            "'threadcore_consumers', 'threadcore_directory', 'threadcore_resources', "
            "'threadcore_attachments', 'threadcore_clock')")]  # fmt: skip
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables
        }
    finally:
        conn.close()


def sqlite_version(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version FROM threadcore_schema").fetchall()


def test_sqlite_version_1_migrates_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    sqlite_v1(path)
    repo = SQLiteRepository(path)
    try:
        check_old_rows_after_migration(repo)
    finally:
        repo.close()
    # opening again changes nothing; the shape is the fresh schema's
    SQLiteRepository(path).close()
    assert sqlite_version(path) == [(SQLITE_SCHEMA_VERSION,)]
    SQLiteRepository(tmp_path / "fresh.db").close()
    assert sqlite_shape(path) == sqlite_shape(tmp_path / "fresh.db")


def check_v2_rows_after_migration(repo: Repository) -> None:
    """What a version-2 database holds, read through the version-3 repository; then new rows
    take positions after every old one."""
    with repo.unit_of_work() as uow:
        ids = [m.id for m in uow.messages("t1")]
        assert ids == ["t1-m1", "t1-m2", "t1-m3", "t1-m4", "t1-m5", "t1-m6"]
        stop = uow.message("t1-m4")
        assert stop is not None
        assert stop.provider_message_id is None
        assert stop.keyword is Keyword.OPT_OUT
        assert stop.classifications[0].details == {"n": 1}
        attached = uow.message_by_provider_id("p-out-2")
        assert attached is not None
        assert attached.attachments == ("https://example.com/a.png",)
        assert attached.status is DeliveryStatus.DELIVERED
        assert attached.is_automated
        assert uow.message_by_provider_id("p-in") == uow.message("t1-m1")
        assert uow.message_by_provider_id("p-none") is None
        assert uow.opted_out("+12092480001", "+16502240001") is True
        assert uow.note("n0") is not None
    events = repo.events()
    assert [p for p, _ in events] == list(V2_EVENT_POSITIONS)
    assert events[4][1] == GuestOptedOut("t1", T1, "+12092480001", "+16502240001", "t1-m4")
    with repo.unit_of_work() as uow:
        uow.add_message(
            Message("t1-m7", "t1", Direction.INBOUND, "Hi again", "+16502240001", "+12092480001",
                    None, T1, T1)
        )  # fmt: skip
        uow.append_events([MessageAdded("t1", T1, "t1-m7", Direction.INBOUND, None)])
    assert [p for p, _ in repo.events(after=V2_EVENT_POSITIONS[-1])] == [11]
    with repo.unit_of_work() as uow:
        assert [m.id for m in uow.messages("t1")][-1] == "t1-m7"


def test_sqlite_version_2_migrates_keeping_every_row_and_position(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    sqlite_v2(path)
    before = sqlite_rows(path)
    assert len(before["messages"]) == 6
    assert len(before["events"]) == 5
    repo = SQLiteRepository(path)
    try:
        assert sqlite_rows(path) == before
        check_v2_rows_after_migration(repo)
    finally:
        repo.close()
    SQLiteRepository(path).close()  # again: no change
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT * FROM sqlite_sequence").fetchall() == []
        assert conn.execute("SELECT max(position) FROM messages").fetchone() == (13,)
    assert sqlite_version(path) == [(SQLITE_SCHEMA_VERSION,)]
    SQLiteRepository(tmp_path / "fresh.db").close()
    assert sqlite_shape(path) == sqlite_shape(tmp_path / "fresh.db")


def test_the_provider_id_lookup_uses_the_partial_index(tmp_path: Path) -> None:
    SQLiteRepository(tmp_path / "fresh.db").close()
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE provider_message_id = ?", ("p",)
        ).fetchall()
    assert "messages_by_provider_id" in str(plan)


@pytest.mark.parametrize(
    ("make", "obstacle", "version", "check"),
    [
        # each obstacle is in the way of a table the migration makes
        (sqlite_v1, "CREATE TABLE opt_outs (x)", 1, check_old_rows_after_migration),
        (sqlite_v2, "CREATE TABLE threadcore_v2_events (x)", 2, check_v2_rows_after_migration),
    ],
)
def test_a_failed_sqlite_migration_changes_nothing(
    tmp_path: Path,
    make: Callable[[Path], None],
    obstacle: str,
    version: int,
    check: Callable[[Repository], None],
) -> None:
    path = tmp_path / "old.db"
    make(path)
    name = obstacle.split()[2]
    with sqlite3.connect(path) as conn:
        conn.execute(obstacle)
    before = sqlite_shape(path), sqlite_rows(path)
    with pytest.raises(StorageError):
        SQLiteRepository(path)
    assert (sqlite_shape(path), sqlite_rows(path)) == before
    assert sqlite_version(path) == [(version,)]
    with sqlite3.connect(path) as conn:
        conn.execute(f"DROP TABLE {name}")
    repo = SQLiteRepository(path)  # with the obstacle gone, it migrates
    try:
        check(repo)
    finally:
        repo.close()


def test_a_newer_sqlite_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteRepository(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE threadcore_schema SET version = ?", (SQLITE_SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaVersionError, match="upgrade threadcore"):
        SQLiteRepository(path)


class TestMigratedSQLiteContract(RepositoryContract):
    """The whole contract on an (empty) version-1 SQLite database opened by this version."""

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "v1.db"

    def make_repository(self) -> Repository:
        sqlite_v1(self.path, with_rows=False)
        return SQLiteRepository(self.path)


class TestMigratedSQLiteV2Contract(RepositoryContract):
    """The whole contract on an (empty) version-2 SQLite database opened by this version."""

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "v2.db"

    def make_repository(self) -> Repository:
        sqlite_v2(self.path, with_rows=False)
        return SQLiteRepository(self.path)


# --- PostgreSQL -----------------------------------------------------------------------------------
def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def postgres_v1_schema(url: str, schema: str, with_rows: bool = True) -> None:
    """A version-1 threadcore schema ``schema`` in the database at ``url``."""
    import psycopg

    s = _quoted(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {s}")
        conn.execute(postgres_v1(s))
        if not with_rows:
            return
        data = rows(lambda t: t)
        for row in data["threads"]:
            conn.execute(f"INSERT INTO {s}.threads VALUES ({', '.join(['%s'] * 20)})", (*row, 7))
        for row in data["messages"]:
            conn.execute(
                f"INSERT INTO {s}.messages (id, thread_id, direction, body, from_number, "
                "to_number, author_id, author_name, author_type, created_at, last_modified_at, "
                f"availability, provider_message_id) VALUES ({', '.join(['%s'] * 13)})",
                row,
            )
        for ordinal, row in enumerate(data["events"], 1):
            conn.execute(
                f"INSERT INTO {s}.events VALUES (7, %s, %s, %s, %s)", (ordinal, *row)
            )  # an old, finished transaction's stamp


def postgres_shape(url: str, schema: str) -> dict[str, Any]:
    """Every column (type, nullability, default, collation), index and function of ``schema``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "collation_name, is_identity FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (schema,),
        ).fetchall()
        indexes = [
            (table, name, definition.replace(f" ON {_quoted(schema)}.", " ON ").replace(
                f" ON {schema}.", " ON "))
            for table, name, definition in conn.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
                "ORDER BY indexname",
                (schema,),
            )
        ]  # fmt: skip
        functions = [  # (a body naming its own schema's tables names them without it here)
            (name, source.replace(f"{_quoted(schema)}.", "").replace(f"{schema}.", ""))
            for name, source in conn.execute(
                "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY p.proname",
                (schema,),
            )
        ]
    return {"columns": columns, "indexes": indexes, "functions": functions}


@pytest.fixture
def other_schema(postgres_url: str) -> Iterator[str]:
    from pg_server import drop_schema, new_schema_name

    schema = new_schema_name()
    yield schema
    drop_schema(postgres_url, schema)


def test_postgres_version_1_migrates_keeping_its_rows(
    postgres_url: str, pg_schema: str, other_schema: str
) -> None:
    from threadcore.adapters.postgres import PostgresRepository

    postgres_v1_schema(postgres_url, pg_schema)
    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
    try:
        check_old_rows_after_migration(repo)
    finally:
        repo.close()
    PostgresRepository(postgres_url, schema=pg_schema, max_size=1).close()  # again: no change
    PostgresRepository(postgres_url, schema=other_schema, max_size=1).close()  # fresh
    migrated = postgres_shape(postgres_url, pg_schema)
    assert migrated == postgres_shape(postgres_url, other_schema)
    assert len(migrated["columns"]) > 40
    assert migrated["functions"]


def test_a_failed_postgres_migration_changes_nothing(postgres_url: str, pg_schema: str) -> None:
    import psycopg

    from threadcore.adapters.postgres import PostgresRepository

    postgres_v1_schema(postgres_url, pg_schema)
    s = _quoted(pg_schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {s}.opt_outs (x int)")  # in the way of the migration's own
    before = postgres_shape(postgres_url, pg_schema)
    with pytest.raises(StorageError):
        PostgresRepository(postgres_url, schema=pg_schema, max_size=1)
    assert postgres_shape(postgres_url, pg_schema) == before
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        version = conn.execute(f"SELECT version FROM {s}.threadcore_schema").fetchall()
        assert version == [(1,)]
        conn.execute(f"DROP TABLE {s}.opt_outs")
    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
    try:
        check_old_rows_after_migration(repo)
    finally:
        repo.close()


def test_postgres_version_7_notes_take_their_resource(
    postgres_url: str, pg_schema: str, other_schema: str
) -> None:
    """Version 7 -> 8: every stored note takes its thread's resource (the notes' list by
    resource reads it), and the migrated schema is the fresh one, covering indexes included."""
    import psycopg

    from threadcore import Directory, Inbox, ManualClock, NoteFilter, Resource
    from threadcore.adapters.postgres import PostgresRepository

    s = _quoted(pg_schema)
    resources = [
        Resource("q1", phone_numbers=["+12092480001"], handlers=["101"]),
        Resource("q2", phone_numbers=["+12092480002"], handlers=["102"]),
    ]

    def inbox_on(repo: PostgresRepository) -> Inbox:
        clock = ManualClock(datetime(2026, 2, 17, 17, 0, tzinfo=UTC))
        return Inbox(repository=repo, directory=Directory(resources), clock=clock)

    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=1)
    inbox = inbox_on(repo)
    for n, (owner, actor) in enumerate((("+12092480001", "101"), ("+12092480002", "102"))):
        thread = inbox.receive(owner_number=owner, guest_number=f"+1650224000{n}", body="Hi")
        inbox.add_note(thread.thread_id, text=f"note {n}", actor=actor)
    repo.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as version 7 left it
        conn.execute(f"ALTER TABLE {s}.notes DROP COLUMN owner_extension_id")
        conn.execute(f"DROP INDEX {s}.threads_by_time, {s}.threads_open_by_time")
        for index, table, columns in (
            ("messages_by_owner", "messages", "owner_extension_id, created_at, id"),
            ("threads_by_owner", "threads", "owner_extension_id, creation_time, id"),
        ):
            conn.execute(f"DROP INDEX {s}.{index}")
            conn.execute(f"CREATE INDEX {index} ON {s}.{table} ({columns})")
        conn.execute(f"UPDATE {s}.threadcore_schema SET version = 7")
    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=1)
    try:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            stored = conn.execute(
                f"SELECT text, owner_extension_id FROM {s}.notes ORDER BY text"
            ).fetchall()
        assert stored == [("note 0", "q1"), ("note 1", "q2")]
        listed = inbox_on(repo).list_notes(actor="102", filter=NoteFilter())
        assert [n.text for n in listed] == ["note 1"]
    finally:
        repo.close()
    PostgresRepository(postgres_url, schema=other_schema, max_size=1).close()  # fresh
    assert postgres_shape(postgres_url, pg_schema) == postgres_shape(postgres_url, other_schema)


class TestMigratedPostgresContract(RepositoryContract):
    """The whole contract on an (empty) version-1 PostgreSQL schema opened by this version."""

    @pytest.fixture(autouse=True)
    def _pg(self, postgres_url: str, pg_schema: str) -> None:
        self.url, self.schema = postgres_url, pg_schema

    def make_repository(self) -> Repository:
        from threadcore.adapters.postgres import PostgresRepository

        postgres_v1_schema(self.url, self.schema, with_rows=False)
        return PostgresRepository(self.url, schema=self.schema, max_size=4)
