"""Least privilege (issue 22, item 4; rule D3): the schema's owner runs ``threadcore db upgrade``,
and everything else runs under a role that may only read and write rows. Opening a current schema
does no DDL whatever the settings; ``?migrate=off`` (PostgreSQL and SQLite URLs alike) never
migrates and refuses a missing or older schema in one line naming ``threadcore db upgrade``."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from conftest import GUEST, OWNER, START, billing_directory

from threadcore import ManualClock, SQLiteRepository, connect, open_inbox
from threadcore.adapters.postgres import SCHEMA_VERSION as PG_VERSION
from threadcore.adapters.postgres import PostgresRepository
from threadcore.adapters.sqlite import SCHEMA_VERSION as SQLITE_VERSION
from threadcore.cli.app import run
from threadcore.cli.directory_file import dump_directory
from threadcore.errors import InvalidInput, SchemaVersionError

pytest_plugins = ["conftest_pg"]

THREADCORE = [sys.executable, "-m", "threadcore"]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "postgres.md"


def _roles_sql(owner: str, app: str, schema: str) -> str:
    """What docs/postgres.md has a superuser run once, before the first `threadcore db upgrade`
    (the owner may create in the schema, the application role may only read and write rows, in
    the tables the owner makes now and later), for these names: the test runs the docs."""
    text = DOCS.read_text().split("## Two roles", 1)[1]
    block = text.split("```sql\n", 1)[1].split("```", 1)[0]
    block = re.sub(r"--[^\n]*", "", re.sub(r" PASSWORD '[^']*'", "", block))
    block = block.replace("threadcore_owner", owner).replace("threadcore_app", app)
    return re.sub(r"\bthreadcore\b", f'"{schema}"', block)


def _as_role(url: str, role: str, schema: str, query: str = "") -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    extra = f"schema={schema}{query}"
    return urlunsplit(
        parts._replace(
            netloc=f"{role}@{host}", query=f"{parts.query}&{extra}" if parts.query else extra
        )
    )


@pytest.fixture
def roles(postgres_url: str, pg_schema: str) -> Iterator[tuple[str, str]]:
    """The owner's URL and the application role's URL of a schema the owner owns, empty."""
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"tc_owner_{suffix}", f"tc_app_{suffix}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(_roles_sql(owner, app, pg_schema).encode())
        privileges = admin.execute(
            "SELECT has_schema_privilege(%s, %s, 'CREATE'), has_database_privilege(%s, "
            "current_database(), 'CREATE')",
            (app, pg_schema, app),
        ).fetchone()
        assert privileges == (False, False)  # the application role may create nothing
    try:
        yield _as_role(postgres_url, owner, pg_schema), _as_role(postgres_url, app, pg_schema)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for role in (app, owner):  # the owner's schema and tables with it
                admin.execute(f"DROP OWNED BY {role} CASCADE")
                admin.execute(f"DROP ROLE {role}")


def _line(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """The first line ``process`` prints, which must match ``pattern``."""
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(pattern, line)
    if found is None:
        process.kill()
        pytest.fail(f"{line!r} does not match {pattern!r}; stderr: {process.communicate()[1]!r}")
    return found


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.mark.parametrize("switch", ["", "&migrate=off"], ids=["default", "migrate-off"])
def test_a_role_that_may_only_read_and_write_rows_runs_serve_sweep_and_a_consumer(
    roles: tuple[str, str], tmp_path: Path, switch: str
) -> None:
    owner_url, app_url = roles
    assert run(["db", "upgrade", "--db", owner_url]) == 0
    app_url += switch + "&notify=on"  # writers NOTIFY, consumers LISTEN: both as the app role
    # A thread due long ago, received through the library under the application role.
    with open_inbox(app_url, clock=ManualClock(START)) as inbox:
        inbox.load_directory(billing_directory().resources())
        old = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    # sweep once (before serve: a list there would write the expiry it shows, rule R10b)
    once = subprocess.run(
        [*THREADCORE, "sweep", "--db", app_url], capture_output=True, text=True, timeout=120
    )
    assert (once.returncode, once.stdout.strip()) == (0, "1 thread(s) expired"), once.stderr
    # serve: two workers, each opening the store; a customer's message and an assignment
    (tmp_path / "tokens.json").write_text(json.dumps({"tok-101": "101"}))
    directory = dump_directory(billing_directory().resources())
    (tmp_path / "directory.json").write_text(json.dumps(directory))
    serve = subprocess.Popen(
        [*THREADCORE, "serve", "--db", app_url, "--tokens", str(tmp_path / "tokens.json"),
         "--directory", str(tmp_path / "directory.json"), "--control-token", "ctl",
         "--workers", "2", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = _line(serve, r"serving (http://\S+)").group(1)
        inbound = httpx.post(
            f"{base}/threadcore/v1/carrier/inbound",
            json={"from": "+16502240002", "to": OWNER, "text": "Hello", "id": "carrier-1"},
            headers={"Authorization": "Bearer ctl"},
        )
        assert inbound.status_code == 200, inbound.text
        threads = f"{base}/restapi/v1.0/account/~/message-threads"
        handler = {"Authorization": "Bearer tok-101"}
        thread_id = inbound.json()["threadId"]
        assigned = httpx.post(
            f"{threads}/{thread_id}/assign",
            json={"assignee": {"extensionId": "101"}},
            headers=handler,
        )
        assert assigned.status_code == 200, assigned.text
        listed = httpx.get(threads, params={"threadStatus": "Open"}, headers=handler)
        assert [t["id"] for t in listed.json()["records"]] == [thread_id]
    finally:
        assert _stop(serve) == 0, serve.communicate()[1]
    # sweep as a loop that takes the lead (an advisory lock on its own connection)
    loop = subprocess.Popen(
        [*THREADCORE, "sweep", "--db", app_url, "--every", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _line(loop, r"threadcore sweep: leading, every 60s")
    finally:
        assert _stop(loop) == 0
    # a durable consumer: run (holds the name, listens), then poll and commit
    with open_inbox(app_url) as inbox:
        total = len(inbox.events())
        seen: list[str] = []
        done = threading.Event()

        def handle(position: int, event: object) -> None:
            seen.append(type(event).__name__)
            if len(seen) == total:
                done.set()

        give_up = time.monotonic() + 60  # not a timing assertion: a hung run fails, not hangs
        inbox.consumer("relay").run(
            handle, stop=lambda: done.is_set() or time.monotonic() > give_up, idle=0.2
        )
        assert len(seen) == total
        assert seen[0] == "ThreadOpened"
        assert "ThreadResolved" in seen  # the sweep's expiry
        assert seen[-1] == "ThreadAssigned"  # served after the sweep
        consumer = inbox.consumer("audit")
        [(position, _)] = consumer.poll(limit=1)
        consumer.commit(position)
        assert consumer.position() == position
        assert inbox.get(old.thread_id, actor="101").status.value == "Resolved"


def test_migrate_off_refuses_a_database_not_yet_upgraded_in_one_line(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    owner_url, app_url = roles
    off = app_url + "&migrate=off"
    with pytest.raises(SchemaVersionError, match=r"no threadcore schema: .*threadcore db upgrade"):
        open_inbox(off)
    (tmp_path / "tokens.json").write_text(json.dumps({"tok-101": "101"}))
    serve = ["serve", "--tokens", str(tmp_path / "tokens.json")]
    for command in (["sweep"], serve, ["threads", "list", "--as", "101"]):
        done = subprocess.run(
            [*THREADCORE, *command, "--db", off], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert "threadcore db upgrade" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    # without migrate=off the application role may not create it: the same advice
    with pytest.raises(SchemaVersionError, match=r"may not change it: .*threadcore db upgrade"):
        open_inbox(app_url)
    # not even the owner's migrate=off creates anything; db upgrade migrates whatever it says
    with pytest.raises(SchemaVersionError, match="threadcore db upgrade"):
        connect(owner_url + "&migrate=off")
    schema = dict(p.split("=") for p in urlsplit(owner_url).query.split("&"))["schema"]
    with psycopg.connect(owner_url.split("?")[0], autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s",
            (schema,),
        )
        assert found.fetchone() == (0,)
    assert run(["db", "upgrade", "--db", owner_url + "&migrate=off"]) == 0
    open_inbox(off).close()
    with psycopg.connect(owner_url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".threadcore_schema SET version = {PG_VERSION - 1}')
    with pytest.raises(SchemaVersionError, match=r"older than .*threadcore db upgrade"):
        open_inbox(off)
    with pytest.raises(SchemaVersionError, match=r"older than .*may not change it"):
        open_inbox(app_url)


def test_after_a_dba_ran_the_printed_sql_the_application_role_opens_and_makes_the_store_id(
    roles: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    owner_url, app_url = roles
    assert run(["db", "sql", "--db", owner_url]) == 0
    script = capsys.readouterr().out
    with psycopg.connect(owner_url.split("?")[0], autocommit=True) as owner:
        owner.execute(script.encode())  # the DBA, as the owner: no store id yet (a row: DML)
    made = set()
    for url in (app_url, app_url + "&migrate=off", app_url):
        repository = connect(url)
        assert isinstance(repository, PostgresRepository)
        made.add(repository.store_id)
        repository.close()
    assert len(made) == 1


def test_a_sqlite_url_says_migrate_off_and_writes_a_question_mark_in_a_file_name_as_3f(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in?box.db"
    url = f"sqlite:///{tmp_path}/in%3Fbox.db"
    with pytest.raises(SchemaVersionError, match="threadcore db upgrade"):
        connect(url + "?migrate=off")
    assert list(tmp_path.iterdir()) == []  # nothing created
    assert run(["db", "upgrade", "--db", url + "?migrate=off"]) == 0  # it migrates regardless
    assert f"version {SQLITE_VERSION}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".db"] == ["in?box.db"]
    for query in ("?migrate=off", "?migrate=on", "?migrate=OFF", ""):
        repository = connect(url + query)
        assert isinstance(repository, SQLiteRepository)
        assert repository.path == str(path)
        repository.close()
    assert run(["sweep", "--db", url + "?migrate=off"]) == 0
    assert "0 thread(s) expired" in capsys.readouterr().out
    assert run(["db", "sql", "--db", url + "?migrate=off"]) == 0
    assert "nothing to run" in capsys.readouterr().out
    assert run(["db", "new-store-id", "--db", url + "?migrate=off"]) == 0
    connect(f"sqlite:///{tmp_path}/100%25.db").close()  # type: ignore[attr-defined]
    assert (tmp_path / "100%.db").is_file()
    for bad, words in (("?migrate=maybe", "migrate must be on or off"), ("?mode=ro", "'mode'")):
        with pytest.raises(InvalidInput, match=words):
            connect(url + bad)
        assert run(["sweep", "--db", url + bad]) == 1
        error = capsys.readouterr().err
        assert words in error
        assert error.count("\n") == 1
    with pytest.raises(InvalidInput, match="migrate must be on or off"):
        connect("postgresql://nobody@127.0.0.1:1/none?migrate=maybe")


def test_with_migrate_off_an_older_sqlite_file_is_one_line_naming_db_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    SQLiteRepository(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE threadcore_schema SET version = ?", (SQLITE_VERSION - 1,))
    for command in (["sweep"], ["threads", "list", "--as", "101"], ["directory", "show"]):
        assert run([*command, "--db", f"sqlite:///{path}?migrate=off"]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1
        assert "older than this threadcore's" in error
        assert "threadcore db upgrade" in error
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM threadcore_schema").fetchone() == (
            SQLITE_VERSION - 1,
        )
    SQLiteRepository(path).close()  # the default still migrates
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM threadcore_schema").fetchone() == (SQLITE_VERSION,)


def test_opening_a_current_sqlite_file_writes_nothing_and_waits_for_no_writer(
    tmp_path: Path,
) -> None:
    """A current file is only read on open: a writer holding the file's write lock (a long
    batch, a DBA's transaction) does not hold the opening back, migrating or not."""
    path = tmp_path / "t.db"
    SQLiteRepository(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        for create_schema in (True, False):
            SQLiteRepository(path, timeout=0.05, create_schema=create_schema).close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
