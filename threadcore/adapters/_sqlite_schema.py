"""The SQLite schema: the fresh one, and the steps from every older version (what ``threadcore db
sql`` prints and :class:`~threadcore.adapters.sqlite.SQLiteRepository` runs on open)."""

from __future__ import annotations

from threadcore.adapters._sql import MESSAGE_COLUMNS, OPEN, directory_sql
from threadcore.adapters._sql_attachments import sqlite_refs_sql

__all__ = ["SCHEMA", "SCHEMA_VERSION", "pending_sql"]

_M_COLS = ", ".join(MESSAGE_COLUMNS)

#: The version of the SQLite schema this library writes; opening a newer one is refused. (Each
#: SQL adapter versions its own schema: PostgreSQL's is in ``postgres.py``.)
SCHEMA_VERSION = 10


# The messages table and its indexes, and the events table (schema version 3): shared by the
# fresh schema and the migration from version 2. Message and event positions are plain rowids:
# AUTOINCREMENT would write sqlite_sequence on every insert, and it only differs in never reusing
# the position of a deleted last row; threadcore deletes neither messages nor events, and a row
# rolled back was never seen. The provider id index leaves out the messages without one.
_MESSAGES = """
CREATE TABLE messages (
    position INTEGER PRIMARY KEY,
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
    provider_message_id TEXT,
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
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""
_MESSAGE_INDEXES = """
CREATE INDEX messages_by_thread ON messages (thread_id, position);
CREATE INDEX messages_by_time ON messages (created_at, id);
CREATE UNIQUE INDEX messages_by_provider_id ON messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
"""

# What schema version 2 added besides the messages' new columns and their time index; shared by
# the fresh schema and the migration from version 1.
_NOTES_AND_OPT_OUTS = """
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
"""

# Schema version 1 -> 2: the messages' delivery fields, notes, opt-outs. SQLite cannot add a NOT
# NULL column without a default, so the migrated columns keep theirs until the move to version 3
# rebuilds the table without them (version 2 inserts named every column). Old inbound
# messages are Received. Old outbound ones become Sent, sent when they were created: version 1
# stored an outbound message when the provider was handed it and tracked no delivery, so "Queued"
# would show years-old messages as still waiting forever; Sent still lets a late Delivered, Read
# or DeliveryFailed report move them on (the delivery machine refuses only SendingFailed after
# Sent). Version 2's index on the messages' time is left to the move to version 3, which runs
# next, in the same transaction, and builds all the messages' indexes anew.
_MIGRATE_FROM_1 = f"""
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'Received';
ALTER TABLE messages ADD COLUMN sent_at TEXT;
ALTER TABLE messages ADD COLUMN delivered_at TEXT;
ALTER TABLE messages ADD COLUMN read_at TEXT;
ALTER TABLE messages ADD COLUMN error_code TEXT;
ALTER TABLE messages ADD COLUMN is_automated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN source TEXT;
ALTER TABLE messages ADD COLUMN content_type TEXT NOT NULL DEFAULT 'text/plain';
ALTER TABLE messages ADD COLUMN attachments TEXT;
ALTER TABLE messages ADD COLUMN classifications TEXT;
ALTER TABLE messages ADD COLUMN keyword TEXT;
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
UPDATE messages SET status = 'Sent', sent_at = created_at WHERE direction = 'Outbound';
{_NOTES_AND_OPT_OUTS}
UPDATE threadcore_schema SET version = 2;
"""

# Schema version 2 -> 3: messages and events without AUTOINCREMENT, and the provider id index
# partial. SQLite cannot alter either, so both tables are rebuilt, keeping every position (the
# old tables are renamed out of the way first, so the new ones are created by the very DDL of the
# fresh schema). Their sqlite_sequence rows go with the old tables; the empty sqlite_sequence
# table itself cannot be dropped. New rows take positions after the highest kept one (threadcore
# never deletes messages or events, so no position a reader has seen comes back). The rebuild holds
# the write lock while it copies; indexes, triggers or views someone added to these two tables by
# hand are not carried over.
_MIGRATE_FROM_2 = f"""
ALTER TABLE messages RENAME TO threadcore_v2_messages;
ALTER TABLE events RENAME TO threadcore_v2_events;
{_MESSAGES}
INSERT INTO messages (position, {_M_COLS}) SELECT position, {_M_COLS} FROM threadcore_v2_messages;
INSERT INTO events (position, thread_id, kind, payload)
    SELECT position, thread_id, kind, payload FROM threadcore_v2_events;
DROP TABLE threadcore_v2_messages;
DROP TABLE threadcore_v2_events;
{_MESSAGE_INDEXES}
UPDATE threadcore_schema SET version = 3;
"""

#: Version 3 -> 4: a thread deleted by an older threadcore kept the text of its last message as its
#: label; a deleted thread carries no message text (rule R12, issue 12).
_MIGRATE_FROM_3 = """
UPDATE threads SET label = NULL WHERE availability = 'Deleted' AND label IS NOT NULL;
UPDATE threadcore_schema SET version = 4;
"""

#: The durable event consumers' cursors (issue 14): a name and the position it has handled.
_CONSUMERS = """
CREATE TABLE IF NOT EXISTS threadcore_consumers (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""

#: Version 4 -> 5: the consumers' cursors.
_MIGRATE_FROM_4 = _CONSUMERS + "UPDATE threadcore_schema SET version = 5;\n"

#: Version 5 -> 6: the stored directory.
_MIGRATE_FROM_5 = directory_sql("") + "UPDATE threadcore_schema SET version = 6;\n"

#: Attachments' bytes by key (issue 15: what ``threadcore.http`` stores of an upload).
_ATTACHMENTS = """
CREATE TABLE IF NOT EXISTS threadcore_attachments (key TEXT PRIMARY KEY, content BLOB NOT NULL);
"""

#: Version 6 -> 7: attachments.
_MIGRATE_FROM_6 = _ATTACHMENTS + "UPDATE threadcore_schema SET version = 7;\n"

#: The manual clock stored in the database (issue 25, rule R18c): one row while the database
#: runs on it, none on the system clock.
_CLOCK = """
CREATE TABLE IF NOT EXISTS threadcore_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instant TEXT NOT NULL
);
"""

#: Version 7 -> 8: the stored clock.
_MIGRATE_FROM_7 = _CLOCK + "UPDATE threadcore_schema SET version = 8;\n"

#: Version 8 -> 9: each file's bytes counted by the live messages naming them (issue 25).
_MIGRATE_FROM_8 = sqlite_refs_sql() + "UPDATE threadcore_schema SET version = 9;\n"

#: The threads by creation time (issue 24): the greatest id created at an instant, read with one
#: probe (``CreationTies``, rule Q2).
_THREADS_BY_TIME = "CREATE INDEX IF NOT EXISTS threads_by_time ON threads (creation_time, id);\n"

#: Version 9 -> 10: the threads by creation time.
_MIGRATE_FROM_9 = _THREADS_BY_TIME + "UPDATE threadcore_schema SET version = 10;\n"


def pending_sql(version: int | None) -> str:
    """What brings a database file from ``version`` (``None``: no threadcore schema yet) to
    :data:`SCHEMA_VERSION`, as one script for a DBA; empty when it is current."""
    store = "CREATE TABLE IF NOT EXISTS threadcore_store (id text NOT NULL);\n"
    if version is None:
        return SCHEMA + store
    steps = "".join(
        script
        for since, script in (
            (1, _MIGRATE_FROM_1),
            (2, _MIGRATE_FROM_2),
            (3, _MIGRATE_FROM_3),
            (4, _MIGRATE_FROM_4),
            (5, _MIGRATE_FROM_5),
            (6, _MIGRATE_FROM_6),
            (7, _MIGRATE_FROM_7),
            (8, _MIGRATE_FROM_8),
            (9, _MIGRATE_FROM_9),
        )
        if version <= since
    )
    return steps + store if steps else ""


SCHEMA = f"""
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
{_MESSAGES}
{_MESSAGE_INDEXES}
{_NOTES_AND_OPT_OUTS}
{_CONSUMERS}
{directory_sql("")}
{_ATTACHMENTS}
{_CLOCK}
{sqlite_refs_sql()}
{_THREADS_BY_TIME}
INSERT INTO threadcore_schema VALUES ({SCHEMA_VERSION});
"""
