"""Files' bytes in the SQL adapters (issue 25, rule M8): one row per content (its SHA-256), with
the number of live messages and drafts whose attachment URLs name it.

The count is kept by triggers on ``messages`` (a row inserted, its attachments changed, or the
row deleted), so every way a message is written counts alike: single writes, a thread's
tombstones, PostgreSQL's statements of many rows and its batches. A unit of work that stores
files writes their bytes first (count 0; an existing row is only locked), then its messages
(the triggers count them); the rows whose count is then 0 go before it commits (SQLite: a sweep
statement; PostgreSQL: a deferred constraint trigger), so bytes no live message names never
outlive the transaction that left them unnamed. Each trigger reads a message's URLs as
:func:`threadcore.domain.attachments.stored_keys` does, and a URL naming bytes not stored counts
nothing.
"""

from __future__ import annotations

from typing import Final

from threadcore.domain.attachments import STORED_PREFIX

__all__ = [
    "postgres_refs_sql",
    "postgres_store_sql",
    "sqlite_refs_sql",
    "sqlite_statements",
]

_AT: Final = len(STORED_PREFIX) + 1  # where the key starts (SQL counts from 1)
_END: Final = _AT + 64


def _named(value: str) -> str:
    """SQLite: whether the text ``value`` is a stored file's URL (its key: :func:`_key`)."""
    return (
        f"substr({value}, 1, {_AT - 1}) = '{STORED_PREFIX}' "
        f"AND (length({value}) = {_END - 1} OR substr({value}, {_END}, 1) = '?')"
    )


def _key(value: str) -> str:
    return f"substr({value}, {_AT}, 64)"


def _keys(json: str) -> str:
    """SQLite: the keys the stored-file URLs of the JSON array ``json`` name."""
    return f"SELECT {_key('value')} FROM json_each({json}) WHERE {_named('value')}"


def _sqlite_step(json: str, step: str) -> str:
    return f"UPDATE threadcore_attachments SET refs = refs {step} 1 WHERE key IN ({_keys(json)});"


def sqlite_refs_sql() -> str:
    """SQLite schema version 8: the table again with the count (copied, so that running it on
    a file that has it already changes nothing), its index of unnamed rows, the triggers, and
    the count of what is stored already (the bytes no live message names go: those of refused
    sends and deleted messages that older versions kept)."""
    return f"""
DROP TRIGGER IF EXISTS threadcore_attachments_added;
DROP TRIGGER IF EXISTS threadcore_attachments_changed;
DROP TRIGGER IF EXISTS threadcore_attachments_removed;
CREATE TABLE threadcore_attachments_counted
    (key TEXT PRIMARY KEY, content BLOB NOT NULL, refs INTEGER NOT NULL DEFAULT 0);
INSERT INTO threadcore_attachments_counted (key, content)
    SELECT key, content FROM threadcore_attachments;
DROP TABLE threadcore_attachments;
ALTER TABLE threadcore_attachments_counted RENAME TO threadcore_attachments;
CREATE INDEX threadcore_attachments_unnamed ON threadcore_attachments (key) WHERE refs <= 0;
CREATE TRIGGER threadcore_attachments_added AFTER INSERT ON messages
WHEN NEW.attachments IS NOT NULL BEGIN
    {_sqlite_step("NEW.attachments", "+")}
END;
CREATE TRIGGER threadcore_attachments_changed AFTER UPDATE OF attachments ON messages
WHEN OLD.attachments IS NOT NEW.attachments BEGIN
    {_sqlite_step("OLD.attachments", "-")}
    {_sqlite_step("NEW.attachments", "+")}
END;
CREATE TRIGGER threadcore_attachments_removed AFTER DELETE ON messages
WHEN OLD.attachments IS NOT NULL BEGIN
    {_sqlite_step("OLD.attachments", "-")}
END;
UPDATE threadcore_attachments SET refs = c.n FROM (
    SELECT {_key("j.value")} AS key, count(DISTINCT m.id) AS n
    FROM messages AS m, json_each(m.attachments) AS j
    WHERE m.attachments IS NOT NULL AND {_named("j.value")} GROUP BY 1
) AS c WHERE c.key = threadcore_attachments.key;
DELETE FROM threadcore_attachments WHERE refs <= 0;
"""


def sqlite_statements() -> tuple[str, str]:
    """SQLite: the statement that stores one file's bytes (a stored key keeps its row), and the
    sweep."""
    return (
        "INSERT INTO threadcore_attachments (key, content, refs) VALUES (?, ?, 0) "
        "ON CONFLICT (key) DO NOTHING",
        "DELETE FROM threadcore_attachments WHERE refs <= 0",
    )


def postgres_refs_sql(s: str) -> str:
    """PostgreSQL: what :func:`sqlite_refs_sql` is, in the (quoted) schema ``s``."""
    table = f"{s}.threadcore_attachments"
    # The trigger finds its schema by the table it fires on (a function's text names no
    # schema: every schema's functions are the same).
    return f"""
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS refs integer NOT NULL DEFAULT 0;
CREATE OR REPLACE FUNCTION {s}.threadcore_attachment_keys(urls text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(u, {_AT}, 64) FROM json_array_elements_text(urls::json) AS u
    WHERE left(u, {_AT - 1}) = '{STORED_PREFIX}'
    AND (length(u) = {_END - 1} OR substr(u, {_END}, 1) = '?')
$$;
CREATE OR REPLACE FUNCTION {s}.threadcore_count_attachments() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    step text := format('UPDATE %I.threadcore_attachments SET refs = refs + $1 WHERE key IN ('
        || 'SELECT %I.threadcore_attachment_keys($2))', TG_TABLE_SCHEMA, TG_TABLE_SCHEMA);
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.attachments IS NOT NULL THEN
            EXECUTE step USING -1, OLD.attachments;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.attachments IS NOT NULL THEN
            EXECUTE step USING 1, NEW.attachments;
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION {s}.threadcore_drop_unnamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I.%I WHERE key = $1 AND refs <= 0', TG_TABLE_SCHEMA,
        TG_TABLE_NAME) USING NEW.key;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS threadcore_attachments_unnamed ON {table};
CREATE CONSTRAINT TRIGGER threadcore_attachments_unnamed AFTER INSERT OR UPDATE OF refs
    ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.refs <= 0)
    EXECUTE FUNCTION {s}.threadcore_drop_unnamed();
DROP TRIGGER IF EXISTS threadcore_attachments_added ON {s}.messages;
DROP TRIGGER IF EXISTS threadcore_attachments_changed ON {s}.messages;
DROP TRIGGER IF EXISTS threadcore_attachments_removed ON {s}.messages;
CREATE TRIGGER threadcore_attachments_added AFTER INSERT ON {s}.messages FOR EACH ROW
    WHEN (NEW.attachments IS NOT NULL) EXECUTE FUNCTION {s}.threadcore_count_attachments();
CREATE TRIGGER threadcore_attachments_changed AFTER UPDATE OF attachments ON {s}.messages
    FOR EACH ROW WHEN (OLD.attachments IS DISTINCT FROM NEW.attachments)
    EXECUTE FUNCTION {s}.threadcore_count_attachments();
CREATE TRIGGER threadcore_attachments_removed AFTER DELETE ON {s}.messages FOR EACH ROW
    WHEN (OLD.attachments IS NOT NULL) EXECUTE FUNCTION {s}.threadcore_count_attachments();
UPDATE {table} AS a SET refs = c.n FROM (
    SELECT k AS key, count(DISTINCT m.id) AS n FROM {s}.messages AS m
    CROSS JOIN LATERAL {s}.threadcore_attachment_keys(m.attachments) AS k
    WHERE m.attachments IS NOT NULL GROUP BY k
) AS c WHERE c.key = a.key;
DELETE FROM {table} WHERE refs <= 0;
"""


def postgres_store_sql(s: str, keys: int) -> str:
    """PostgreSQL: the statement that stores ``keys`` files' bytes (key, content pairs). A
    stored key's row is locked, so a concurrent transaction that leaves it unnamed waits for
    this one (and then finds it named), and one that dropped it first leaves room for a new
    row. There is no sweep to send: a row whose count is 0 is dropped when its transaction
    commits, by a deferred constraint trigger, so a unit of work stays one statement."""
    rows = ", ".join(["(%s, %s, 0)"] * keys)
    return (
        f"INSERT INTO {s}.threadcore_attachments AS a (key, content, refs) VALUES {rows} "
        "ON CONFLICT (key) DO UPDATE SET refs = a.refs"
    )
