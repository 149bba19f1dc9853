"""Migrations outside the request path (issue 14; rule D3): ``threadcore db upgrade`` creates or
migrates the schema, ``threadcore db sql`` prints what it would run, and repositories opened with
``create_schema=False`` never change the schema: they refuse a missing, older or newer one, and a
role without DDL rights runs every command."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import stores
from conftest import GUEST, OWNER, QUEUE, START, billing_directory

from threadcore import ManualClock, SQLiteRepository, SyncType
from threadcore.adapters.postgres import SCHEMA_VERSION as PG_VERSION
from threadcore.adapters.postgres import PostgresRepository
from threadcore.adapters.sqlite import SCHEMA_VERSION as SQLITE_VERSION
from threadcore.cli.app import run
from threadcore.errors import InvalidInput, SchemaVersionError
from threadcore.storage import StoredDirectory

pytest_plugins = ["conftest_pg"]


def _commands_work(repository: object) -> None:
    """Every kind of command and read, on ``repository``, with the directory stored in it."""
    clock = ManualClock(START)
    inbox = stores.inbox_on(repository, clock, StoredDirectory(repository))  # type: ignore[arg-type]
    inbox.load_directory(billing_directory().resources())
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(message.thread_id, actor="101", assignee="102")
    sent = inbox.send(actor="102", thread_id=message.thread_id, body="On it")
    inbox.record_delivery(sent.id, "Delivered")
    inbox.add_note(message.thread_id, actor="101", text="VIP")
    assert [t.id for t in inbox.list(actor="101")] == [message.thread_id]
    assert inbox.sync(actor="101", sync_type=SyncType.FULL).records
    [unassigned] = inbox.remove_handler(QUEUE, "102")
    assert unassigned.assignee is None
    inbox.delete(message.thread_id, actor="101")
    assert len(inbox.events()) >= 7


def test_sqlite_create_schema_false_uses_only_an_upgraded_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.db"
    url = f"sqlite:///{path}"
    with pytest.raises(SchemaVersionError, match="db upgrade"):
        SQLiteRepository(path, create_schema=False)  # nothing there yet: nothing is created
    assert run(["db", "sql", "--db", url]) == 0
    script = capsys.readouterr().out
    assert "CREATE TABLE threads" in script
    by_hand = tmp_path / "dba.db"  # a DBA runs the printed SQL; the service never changes it
    with sqlite3.connect(by_hand) as conn:
        conn.executescript(script)
    _commands_work(SQLiteRepository(by_hand, create_schema=False))
    assert run(["db", "upgrade", "--db", url]) == 0
    assert f"version {SQLITE_VERSION}" in capsys.readouterr().out
    assert run(["db", "sql", "--db", url]) == 0
    assert "nothing to run" in capsys.readouterr().out
    repository = SQLiteRepository(path, create_schema=False)
    _commands_work(repository)
    repository.close()
    for version, words in ((SQLITE_VERSION - 1, "older"), (SQLITE_VERSION + 1, "knows")):
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE threadcore_schema SET version = ?", (version,))
        with pytest.raises(SchemaVersionError, match=words):
            SQLiteRepository(path, create_schema=False)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE threadcore_schema SET version = ?", (SQLITE_VERSION - 1,))
    assert run(["db", "sql", "--db", url]) == 0
    assert f"UPDATE threadcore_schema SET version = {SQLITE_VERSION}" in capsys.readouterr().out
    assert run(["db", "upgrade", "--db", url]) == 0
    SQLiteRepository(path, create_schema=False).close()
    with pytest.raises(InvalidInput):
        SQLiteRepository(path, create_schema="no")  # type: ignore[arg-type]


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def test_a_role_without_ddl_rights_runs_every_command_after_db_upgrade(
    postgres_url: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}"
    assert run(["db", "sql", "--db", url]) == 0
    assert "CREATE SCHEMA IF NOT EXISTS" in capsys.readouterr().out
    assert run(["db", "upgrade", "--db", url]) == 0
    assert f"version {PG_VERSION}" in capsys.readouterr().out
    role = f"threadcore_app_{uuid.uuid4().hex[:8]}"
    s = f'"{pg_schema}"'
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        admin.execute(f"GRANT USAGE ON SCHEMA {s} TO {role}")
        admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {role}")
        admin.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role}")
        admin.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {role}")
    try:
        app_url = _as_role(postgres_url, role)
        with pytest.raises(SchemaVersionError, match="db upgrade"):
            PostgresRepository(app_url, schema=f"{pg_schema}_none", create_schema=False)
        repository = PostgresRepository(app_url, schema=pg_schema, create_schema=False)
        try:
            _commands_work(repository)
        finally:
            repository.close()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"UPDATE {s}.threadcore_schema SET version = {PG_VERSION - 1}")
        with pytest.raises(SchemaVersionError, match="older"):
            PostgresRepository(app_url, schema=pg_schema, create_schema=False)
        assert run(["db", "sql", "--db", url]) == 0
        assert f"SET version = {PG_VERSION}" in capsys.readouterr().out
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")
