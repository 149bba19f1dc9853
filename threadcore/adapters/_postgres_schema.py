"""The PostgreSQL adapter's schema: the tables of a fresh schema, the migrations from older
versions (each a function of the quoted schema name), and what ``threadcore.adapters.postgres``
does to a schema when it opens it: :func:`current_store_id` only reads a current one (rule D3);
:func:`prepare_schema` runs the DDL, under an advisory lock, when it is missing or older."""

from __future__ import annotations

from typing import Any

from psycopg.errors import InsufficientPrivilege

from threadcore.adapters._sql import OPEN, check_version, directory_sql, store_id
from threadcore.adapters._sql_attachments import postgres_refs_sql
from threadcore.domain.errors import SchemaVersionError, StorageError

__all__ = [
    "SCHEMA_VERSION",
    "migrate_from_1_sql",
    "migrate_from_2_sql",
    "migrate_from_3_sql",
    "migrate_from_4_sql",
    "migrate_from_5_sql",
    "migrate_from_6_sql",
    "migrate_from_7_sql",
    "migrate_from_8_sql",
    "clock_sql",
    "migrate_from_9_sql",
    "migrate_from_10_sql",
    "walks_sql",
    "attachments_sql",
    "current_store_id",
    "prepare_schema",
    "pending_sql",
    "schema_sql",
]

#: The version of the PostgreSQL schema this library writes; opening a newer one is refused. (Each
#: SQL adapter versions its own schema: SQLite's is in ``sqlite.py``.)
SCHEMA_VERSION = 11


def _v2_sql(s: str) -> str:
    """What schema version 2 added besides the messages' new columns (shared by the fresh schema
    and the migration from version 1), in the (quoted) schema ``s``."""
    return f"""
CREATE INDEX messages_by_time ON {s}.messages (created_at, id);
CREATE TABLE {s}.notes (
    id text COLLATE "C" PRIMARY KEY,
    thread_id text COLLATE "C" NOT NULL,
    author_id text NOT NULL,
    author_name text,
    author_type text,
    text text NOT NULL,
    creation_time timestamptz NOT NULL,
    last_modified_time timestamptz NOT NULL,
    availability text NOT NULL,
    version integer NOT NULL
);
CREATE INDEX notes_by_thread ON {s}.notes (thread_id, creation_time, id);
CREATE INDEX notes_by_time ON {s}.notes (creation_time, id);
CREATE TABLE {s}.opt_outs (
    owner_number text COLLATE "C" NOT NULL,
    guest_number text COLLATE "C" NOT NULL,
    opted_out boolean NOT NULL,
    PRIMARY KEY (owner_number, guest_number)
);
CREATE OR REPLACE FUNCTION {s}.threadcore_expect(matched bigint, wanted bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> wanted THEN
        RAISE EXCEPTION 'threadcore: a record was changed concurrently'
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN matched;
END $$;
"""


def consumers_sql(s: str) -> str:
    """The durable event consumers' cursors (issue 14): a name and the position it handled."""
    return (
        f"CREATE TABLE IF NOT EXISTS {s}.threadcore_consumers "
        "(name text PRIMARY KEY, position numeric NOT NULL);\n"
    )


def attachments_sql(s: str) -> str:
    """Attachments' bytes by key (issue 15: what ``threadcore.http`` stores of an upload)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {s}.threadcore_attachments "
        '(key text COLLATE "C" PRIMARY KEY, content bytea NOT NULL);\n'
    )


def _covering_sql(s: str) -> str:
    """Schema version 8 (issue 14, docs/postgres.md): lists over one resource read one
    resource's index entries, not a row each from tables of millions. Each note carries its
    resource, as messages do (a thread never changes owner), indexed with the note's time; the
    indexes by resource cover what a list filters on, so a count is an index-only scan and a
    message list filtered by its thread's status reads the resource's threads from their index
    (a semi-join) instead of every message's thread. Threads in time order, all and open: a
    keyset page for an actor who handles most resources reads a page, not the table."""
    return f"""
ALTER TABLE {s}.notes ADD COLUMN IF NOT EXISTS owner_extension_id text COLLATE "C";
UPDATE {s}.notes AS n SET owner_extension_id = t.owner_extension_id
    FROM {s}.threads AS t WHERE t.id = n.thread_id AND n.owner_extension_id IS NULL;
ALTER TABLE {s}.notes ALTER COLUMN owner_extension_id SET NOT NULL;
CREATE INDEX IF NOT EXISTS notes_by_owner ON {s}.notes (owner_extension_id, creation_time, id)
    INCLUDE (availability);
DROP INDEX IF EXISTS {s}.messages_by_owner;
CREATE INDEX messages_by_owner ON {s}.messages (owner_extension_id, created_at, id)
    INCLUDE (availability, status, thread_id);
DROP INDEX IF EXISTS {s}.threads_by_owner;
CREATE INDEX threads_by_owner ON {s}.threads (owner_extension_id, creation_time, id)
    INCLUDE (status, availability, latest_message_at);
CREATE INDEX IF NOT EXISTS threads_by_time ON {s}.threads (creation_time, id);
CREATE INDEX IF NOT EXISTS threads_open_by_time ON {s}.threads (creation_time, id) WHERE {OPEN};
"""


def clock_sql(s: str) -> str:
    """The manual clock stored in the database (issue 25, rule R18c): one row while the
    database runs on it, none on the system clock."""
    return (
        f"CREATE TABLE IF NOT EXISTS {s}.threadcore_clock "
        "(id smallint PRIMARY KEY CHECK (id = 1), instant timestamptz NOT NULL);\n"
    )


def walks_sql(s: str) -> str:
    """The walks' gate (schema version 11, rule Q2): a table without rows whose table lock orders
    the list walks by creation time after the commands that write records. Every command's claim
    takes it in ROW EXCLUSIVE mode (``threadcore_gate()``, called in the claim's first lock
    statement) (commands do not wait for each other: that mode does not
    conflict with itself), and a page of a list walk takes it in SHARE mode (pages do not wait
    for each other either): a page is read once no command that may write a record it lists is
    under way, and every command begun after that is dated after what the page shows."""
    return f"""CREATE TABLE IF NOT EXISTS {s}.threadcore_walks ();
CREATE OR REPLACE FUNCTION {s}.threadcore_gate() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE {s}.threadcore_walks IN ROW EXCLUSIVE MODE;
END $$;
"""


def migrate_from_10_sql(s: str) -> str:
    """Schema version 10 -> 11: the walks' gate, which replaces the creation lock. Stop the
    writers of version 10 before it (they take the old lock, and a page would not wait for
    them)."""
    return walks_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 11;\n"


def migrate_from_8_sql(s: str) -> str:
    """Schema version 8 -> 9: the stored clock."""
    return clock_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 9;\n"


def migrate_from_7_sql(s: str) -> str:
    """Schema version 7 -> 8: the notes' resource and the covering indexes by resource. On a
    large store this rewrites every note and rebuilds two indexes of the largest tables,
    holding writers back while it runs: run ``threadcore db upgrade`` in a quiet moment, with
    the writers of version 7 stopped (their notes would fail: NOT NULL)."""
    return _covering_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 8;\n"


def migrate_from_9_sql(s: str) -> str:
    """Schema version 9 -> 10 (issue 25, rule M8): each file's bytes counted by the live
    messages and drafts naming them, kept so by triggers; the bytes no live message names
    (kept by older versions for refused sends and deleted messages) go."""
    return postgres_refs_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 10;\n"


def migrate_from_6_sql(s: str) -> str:
    """Schema version 6 -> 7: attachments."""
    return attachments_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 7;\n"


def migrate_from_3_sql(s: str) -> str:
    """Schema version 3 -> 4: the consumers' cursors."""
    return consumers_sql(s) + f"UPDATE {s}.threadcore_schema SET version = 4;\n"


def _by_owner_sql(s: str) -> str:
    """Indexes by resource (schema version 6, issue 14; docs/performance-scale.md): each
    resource's open threads in list order (a full sync, a list of open threads and the expiries
    an incremental sync reports read a resource's few open threads, not every open thread of the
    store), and each resource's messages in time order (a list of messages across threads reads
    one resource's, not the store's)."""
    return (
        f"CREATE INDEX IF NOT EXISTS threads_open_by_owner ON {s}.threads "
        f"(owner_extension_id, creation_time, id) WHERE {OPEN};\n"
        f"CREATE INDEX IF NOT EXISTS messages_by_owner ON {s}.messages "
        "(owner_extension_id, created_at, id);\n"
    )


def migrate_from_5_sql(s: str) -> str:
    """Schema version 5 -> 6: each message's resource (its thread's, which never changes), and
    the indexes by resource. On a large store this rewrites every message and holds writers back
    while it runs: run ``threadcore db upgrade`` in a quiet moment. Writers of version 5 still
    running then fail (NOT NULL) instead of storing messages no list would show: stop them first."""
    return f"""
ALTER TABLE {s}.messages ADD COLUMN IF NOT EXISTS owner_extension_id text COLLATE "C";
UPDATE {s}.messages AS m SET owner_extension_id = t.owner_extension_id
    FROM {s}.threads AS t WHERE t.id = m.thread_id AND m.owner_extension_id IS NULL;
ALTER TABLE {s}.messages ALTER COLUMN owner_extension_id SET NOT NULL;
{_by_owner_sql(s)}UPDATE {s}.threadcore_schema SET version = 6;
"""


def migrate_from_4_sql(s: str) -> str:
    """Schema version 4 -> 5: the stored directory."""
    return directory_sql(f"{s}.") + f"UPDATE {s}.threadcore_schema SET version = 5;\n"


def migrate_from_2_sql(s: str) -> str:
    """Schema version 2 -> 3: a thread deleted by an older threadcore kept the text of its last
    message as its label; a deleted thread carries no message text (rule R12, issue 12)."""
    return f"""
UPDATE {s}.threads SET label = NULL WHERE availability = 'Deleted' AND label IS NOT NULL;
UPDATE {s}.threadcore_schema SET version = 3;
"""


def migrate_from_1_sql(s: str) -> str:
    """Schema version 1 -> 2: the messages' delivery fields, notes, opt-outs.

    Old inbound messages are Received. Old outbound ones become Sent, sent when they were
    created: version 1 stored an outbound message when the provider was handed it and tracked no
    delivery, so "Queued" would show old messages as still waiting forever; Sent still lets a
    late Delivered, Read or DeliveryFailed report move them on (the delivery machine refuses only
    SendingFailed after Sent). The defaults only fill the old rows and are dropped again, so a
    migrated schema is the fresh one; version-1 writers still running then fail (NOT NULL)
    instead of storing messages without a status: stop them before upgrading.
    """
    m = f"{s}.messages"
    return f"""
ALTER TABLE {m}
    ADD COLUMN status text NOT NULL DEFAULT 'Received',
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN read_at timestamptz,
    ADD COLUMN error_code text,
    ADD COLUMN is_automated boolean NOT NULL DEFAULT false,
    ADD COLUMN source text,
    ADD COLUMN content_type text NOT NULL DEFAULT 'text/plain',
    ADD COLUMN attachments text,
    ADD COLUMN classifications text,
    ADD COLUMN keyword text,
    ADD COLUMN version integer NOT NULL DEFAULT 1;
UPDATE {m} SET status = 'Sent', sent_at = created_at WHERE direction = 'Outbound';
ALTER TABLE {m}
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN is_automated DROP DEFAULT,
    ALTER COLUMN content_type DROP DEFAULT,
    ALTER COLUMN version DROP DEFAULT;
{_v2_sql(s)}
UPDATE {s}.threadcore_schema SET version = 2;
"""


def schema_sql(s: str) -> str:
    """The DDL of the current schema version in the (quoted) schema ``s``."""
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
    provider_message_id text COLLATE "C" UNIQUE,
    status text NOT NULL,
    sent_at timestamptz,
    delivered_at timestamptz,
    read_at timestamptz,
    error_code text,
    is_automated boolean NOT NULL,
    source text,
    content_type text NOT NULL,
    attachments text,
    classifications text,
    keyword text,
    version integer NOT NULL,
    owner_extension_id text COLLATE "C" NOT NULL
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
{_v2_sql(s)}
{consumers_sql(s)}
{directory_sql(f"{s}.")}
{_by_owner_sql(s)}
{attachments_sql(s)}
{_covering_sql(s)}
{clock_sql(s)}
{postgres_refs_sql(s)}
{walks_sql(s)}
INSERT INTO {s}.threadcore_schema VALUES ({SCHEMA_VERSION});
"""


#: The migration from each version to the next, oldest first: the n-th brings version n to n + 1.
_MIGRATIONS = (
    migrate_from_1_sql,
    migrate_from_2_sql,
    migrate_from_3_sql,
    migrate_from_4_sql,
    migrate_from_5_sql,
    migrate_from_6_sql,
    migrate_from_7_sql,
    migrate_from_8_sql,
    migrate_from_9_sql,
    migrate_from_10_sql,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION - 1, "a schema version without its migration"


def pending_sql(version: int | None, s: str, *, create_schema: bool = True) -> str:
    """What brings the (quoted) schema ``s`` from ``version`` (``None``: no threadcore schema
    yet) to :data:`SCHEMA_VERSION`, as one script for a DBA; empty when it is current. Without
    ``create_schema`` (the schema exists) a fresh script does not create it: ``CREATE SCHEMA IF
    NOT EXISTS`` needs the right to create schemas in the database even when it exists, which
    the schema's owner need not have."""
    store = f"CREATE TABLE IF NOT EXISTS {s}.threadcore_store (id text NOT NULL);\n"
    if version is None:
        create = f"CREATE SCHEMA IF NOT EXISTS {s};\n" if create_schema else ""
        return f"{create}{schema_sql(s)}{store}"
    steps = [step(s) for since, step in enumerate(_MIGRATIONS, start=1) if version <= since]
    return "".join(steps) + store if steps else ""


def stored_version(conn: Any, s: str) -> int | None:
    """The threadcore schema version the (quoted) schema ``s`` holds (``None``: none there)."""
    return _stored(conn, s)[0]


def _stored(conn: Any, s: str) -> tuple[int | None, str | None]:
    """The stored schema version (``None``: no threadcore schema) and store id (``None``: none
    yet) of the (quoted) schema ``s``, read without writing anything."""
    tables = conn.execute(
        "SELECT to_regclass(%s), to_regclass(%s)",
        (f"{s}.threadcore_schema", f"{s}.threadcore_store"),
    ).fetchone()
    version = made = None
    if tables[0] is not None:
        version = conn.execute(f"SELECT max(version) FROM {s}.threadcore_schema").fetchone()[0]
        if version is None:
            raise StorageError(f"Schema {s} has no threadcore version")
    if tables[1] is not None:
        row = conn.execute(f"SELECT id FROM {s}.threadcore_store").fetchone()
        made = None if row is None else str(row[0])
    return version, made


def current_store_id(conn: Any, schema: str, s: str, *, migrate: bool) -> str | None:
    """The store id of the schema ``schema`` (quoted: ``s``) when it is current: only read, no
    DDL, no lock, no write, so a role without DDL rights opens it whatever ``migrate`` says
    (rule D3). ``None``: :func:`prepare_schema` has work to do. Refused here: a newer schema,
    and, without ``migrate``, a missing or older one
    (:class:`~threadcore.errors.SchemaVersionError` naming ``threadcore db upgrade``)."""
    version, made = _stored(conn, s)
    if version == SCHEMA_VERSION and made is not None:
        return made
    _refuse_unusable(version, schema, migrate)
    return None


def prepare_schema(conn: Any, schema: str, s: str, *, migrate: bool) -> str:
    """Under a transaction-level advisory lock, taken first (processes opening one schema at once
    wait for each other), in the transaction of ``conn`` (the caller commits): with ``migrate``
    create a missing schema and migrate an older one; make the store id when there is none
    (one row: DML); answer it. ``conn`` must be a connection that has not looked for the tables
    yet: one that found a table missing may go on believing it (the server caches the lookup
    until something makes it look again), though another process made it meanwhile."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("threadcore:" + schema,))
    version, made = _stored(conn, s)
    _refuse_unusable(version, schema, migrate)
    try:
        if version is None:
            row = conn.execute("SELECT to_regnamespace(%s)", (s,)).fetchone()
            if row is None or row[0] is None:
                conn.execute(f"CREATE SCHEMA {s}")
            conn.execute(schema_sql(s))
        elif version < SCHEMA_VERSION:
            conn.execute(pending_sql(version, s))  # the same steps `db sql` prints
    except InsufficientPrivilege as error:  # a role that may only read and write rows
        state = (
            "has no threadcore schema"
            if version is None
            else f"has threadcore schema version {version}, older than this threadcore's "
            f"{SCHEMA_VERSION}"
        )
        raise SchemaVersionError(
            f"Schema {schema!r} {state}, and this role may not change it: run `threadcore db "
            "upgrade --db URL` with a role that may change the schema"
        ) from error
    if made is not None:
        return made
    table = conn.execute("SELECT to_regclass(%s)", (f"{s}.threadcore_store",)).fetchone()
    return store_id(conn, f"{s}.", create=table is None or table[0] is None)


def _refuse_unusable(version: int | None, schema: str, migrate: bool) -> None:
    """Refuse a newer schema, and, without ``migrate``, a missing or older one."""
    if not migrate or (version is not None and version > SCHEMA_VERSION):
        check_version(version, SCHEMA_VERSION, f"Schema {schema!r}")
