"""The manual clock stored in the database (issue 25, rule R18c): every process on a database in
manual time runs at the stored instant, which a move by any of them changes for all; the clock
answered is the instant commands run at and never goes back; a process on another clock is
refused; ``threadcore clock system`` ends it. Library level on every adapter, then ``threadcore
serve --workers 2`` and ``threadcore sweep`` as processes on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import stores
from conftest import GUEST, OWNER, START, TTL
from stores import Store, inbox_on

from threadcore import ManualClock, SQLiteRepository, StoredClock, SystemClock, open_inbox
from threadcore.adapters.stored_clock import refuse_stored_clock
from threadcore.errors import ClockMismatch, InvalidInput

pytest_plugins = ["conftest_pg"]
store = stores.store

DAY = timedelta(days=1)


# --- the library, on every adapter ------------------------------------------------------------
def test_every_process_runs_at_the_stored_instant(store: Store) -> None:
    first, second = store(), store()
    clock_a = StoredClock(first, start=START)  # type: ignore[arg-type]
    clock_b = StoredClock(second)  # type: ignore[arg-type]  # joins: no start of its own
    a, b = inbox_on(first, clock_a), inbox_on(second, clock_b)
    assert a.receive(owner_number=OWNER, guest_number=GUEST, body="hi").created_at == START
    assert clock_b.advance(DAY) == START + DAY  # moved by the other process ...
    assert a.now() == START + DAY  # ... for this one, at its next read
    message = a.receive(owner_number=OWNER, guest_number=GUEST, body="again")
    assert message.created_at == START + DAY
    assert clock_a.advance(TTL) == START + DAY + TTL
    expired = b.expire()  # a sweeper on the same database expires by the stored clock
    assert [t.id for t in expired] == [message.thread_id]
    assert expired[0].last_modified_time == START + DAY + TTL


def test_a_process_on_another_clock_is_refused(store: Store) -> None:
    repository = store()
    refuse_stored_clock(repository, None)  # system time: anyone may run
    StoredClock(repository, start=START)  # type: ignore[arg-type]
    for other in (None, SystemClock(), ManualClock(START)):
        with pytest.raises(ClockMismatch, match="threadcore clock system"):
            refuse_stored_clock(store(), other)
    refuse_stored_clock(store(), StoredClock(store()))  # type: ignore[arg-type]


def test_the_return_to_the_system_clock(store: Store) -> None:
    repository = store()
    with pytest.raises(ClockMismatch):
        StoredClock(repository)  # type: ignore[arg-type]  # no stored clock to join
    clock = StoredClock(repository, start=START)  # type: ignore[arg-type]
    assert StoredClock.return_to_system_clock(store()) == START  # type: ignore[arg-type]
    assert StoredClock.return_to_system_clock(store()) is None  # type: ignore[arg-type]
    refuse_stored_clock(store(), None)
    with pytest.raises(ClockMismatch, match="returned to the system clock"):
        clock.now()  # a process still on the stored clock stops at its next command


def test_a_restart_answers_the_instant_commands_run_at(store: Store) -> None:
    """The store recorded an instant after START (here: on the system clock, five days later):
    the clock begins there, not at START, and moves from there."""
    repository = store()
    later = START + 5 * DAY + timedelta(microseconds=7)
    inbox_on(repository, ManualClock(later)).receive(
        owner_number=OWNER, guest_number=GUEST, body="x"
    )
    clock = StoredClock(store(), start=START)  # type: ignore[arg-type]
    begun = later.replace(microsecond=1000)  # the next whole millisecond after it
    assert clock.now() == clock.reading() == begun
    inbox = inbox_on(store(), clock)
    assert inbox.receive(owner_number=OWNER, guest_number=GUEST, body="y").created_at == begun
    assert clock.reading() == begun
    clock.advance(DAY)
    assert clock.advance(DAY) == begun + 2 * DAY  # two days, from where commands ran
    assert StoredClock(store(), start=START).now() == begun + 2 * DAY  # a later START: ignored


def test_set_never_goes_back_and_names_the_instant(store: Store) -> None:
    clock = StoredClock(store(), start=START)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=re.escape(START.isoformat())) as refused:
        clock.set(START - timedelta(seconds=1))
    assert refused.value.parameter == "instant"
    assert clock.set(START + DAY) == START + DAY
    assert StoredClock(store()).now() == START + DAY  # type: ignore[arg-type]


def test_postgres_reads_the_stored_clock_with_the_claim(pg_repo: Any) -> None:
    """A command on PostgreSQL reads the clock twice (when it starts, and when it is done with a
    thread it relied on) without a statement of its own: the claim's read brings it."""
    inbox = inbox_on(pg_repo, StoredClock(pg_repo, start=START))
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="opens")
    sent: list[str] = []
    original = pg_repo._autocommit

    def spy(sql: str, params: tuple[Any, ...]) -> list[Any]:
        sent.append(sql)
        return original(sql, params)  # type: ignore[no-any-return]

    pg_repo._autocommit = spy
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="into the open thread")
    assert [sql for sql in sent if "threadcore_clock" in sql] == []
    assert inbox.now() == START  # outside a command: one read of its own
    assert [sql for sql in sent if "threadcore_clock" in sql] != []


def test_open_inbox_joins_or_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(ClockMismatch):
        open_inbox(url, manual_clock=True)  # nothing to join yet
    with open_inbox(url, manual_clock=START) as first:
        assert first.now() == START
        with open_inbox(url, manual_clock=True) as second:
            assert second.now() == START
        with pytest.raises(ClockMismatch):
            open_inbox(url)
        with pytest.raises(InvalidInput, match="not both"):
            open_inbox(url, manual_clock=True, clock=SystemClock())


def test_the_schema_step_adds_the_clock_to_a_version_7_sqlite_file(tmp_path: Path) -> None:
    from threadcore.adapters.sqlite import SCHEMA_VERSION as SQLITE_VERSION

    path = tmp_path / "v7.db"
    SQLiteRepository(path).close()
    with sqlite3.connect(path) as conn:  # as version 7 left it
        conn.execute("DROP TABLE threadcore_clock")
        conn.execute("UPDATE threadcore_schema SET version = 7")
    repository = SQLiteRepository(path)
    try:
        StoredClock(repository, start=START)
        assert repository.stored_clock() == START
    finally:
        repository.close()
    with sqlite3.connect(path) as conn:
        # (and every later step: the current version)
        assert conn.execute("SELECT version FROM threadcore_schema").fetchall() == [
            (SQLITE_VERSION,)
        ]


def test_the_schema_step_adds_the_clock_to_a_version_8_postgres_schema(
    postgres_url: str, pg_schema: str
) -> None:
    import psycopg

    from threadcore.adapters.postgres import SCHEMA_VERSION, PostgresRepository

    PostgresRepository(postgres_url, schema=pg_schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as version 8 left it
        conn.execute(f'DROP TABLE "{pg_schema}".threadcore_clock')
        conn.execute(f'UPDATE "{pg_schema}".threadcore_schema SET version = 8')
    repository = PostgresRepository(postgres_url, schema=pg_schema)
    try:
        StoredClock(repository, start=START)
        assert repository.stored_clock() == START
    finally:
        repository.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        version = conn.execute(f'SELECT version FROM "{pg_schema}".threadcore_schema').fetchall()
    assert version == [(SCHEMA_VERSION,)]  # (with every later step)


# --- threadcore serve --workers 2, threadcore sweep, threadcore clock: processes ----------------
THREADCORE = [sys.executable, "-m", "threadcore"]
DIRECTORY = {
    "resources": [
        {
            "extensionId": "6249888001",
            "name": "Billing",
            "phoneNumbers": [OWNER],
            "handlers": ["101"],
        }
    ]
}
CONTROL = {"Authorization": "Bearer ctl"}
SHOWN = "2026-02-17T17:00:00.000Z"


def _shown(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'served.db'}"
    return stores.url_of(request.getfixturevalue("pg_repo"))


class Served:
    """A running ``threadcore serve``: its URL, what it said on stderr before serving."""

    def __init__(self, process: subprocess.Popen[str], log: Path, base: str) -> None:
        self.process, self.log, self.base = process, log, base
        self.said = log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                pytest.fail("threadcore serve did not stop on SIGTERM")
        assert self.process.returncode == 0, self.log.read_text()
        assert "Traceback" not in self.log.read_text(), self.log.read_text()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``threadcore serve --workers 2`` on a database; every server is stopped (SIGTERM,
    exit 0) at the end."""
    (tmp_path / "directory.json").write_text(json.dumps(DIRECTORY))
    (tmp_path / "tokens.json").write_text(json.dumps({"tok-101": "101"}))
    started: list[Served] = []

    def start(url: str, *options: str) -> Served:
        log = tmp_path / f"serve-{len(started)}.log"
        command = [
            *THREADCORE, "serve", "--db", url, "--directory", str(tmp_path / "directory.json"),
            "--tokens", str(tmp_path / "tokens.json"), "--port", "0", "--control-token", "ctl",
            "--workers", "2", *options,
        ]  # fmt: skip
        with log.open("w") as errors:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert process.stdout is not None
        found = re.search(r"serving (http://\S+)", process.stdout.readline())
        if found is None:
            process.kill()
            pytest.fail(f"threadcore serve did not start: {log.read_text()}")
        started.append(Served(process, log, found.group(1)))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def _every_worker(base: str) -> set[str]:
    """The clock as a dozen fresh connections read it (the kernel hands them to both workers)."""
    return {
        httpx.get(f"{base}/threadcore/v1/clock", headers=CONTROL).json()["now"] for _ in range(12)
    }


def _post(base: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/threadcore/v1/{path}", headers=CONTROL, json=body, timeout=30)


def _inbound(base: str, text: str) -> dict[str, Any]:
    answer = _post(base, "carrier/inbound", {"from": GUEST, "to": OWNER, "text": text})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*THREADCORE, *arguments], capture_output=True, text=True, timeout=120)


def test_workers_and_a_sweeper_share_the_stored_clock(
    serve: Callable[..., Served], database: str
) -> None:
    served = serve(database, "--manual-clock", START.isoformat())
    base = served.base
    assert served.said == ""
    assert _every_worker(base) == {SHOWN}
    moved = _post(base, "clock", {"advance": "PT1H"})
    assert moved.json()["now"] == _shown(START + timedelta(hours=1))
    assert _every_worker(base) == {_shown(START + timedelta(hours=1))}  # moved for every worker
    message = _inbound(base, "hi")
    assert message["creationTime"] == _shown(START + timedelta(hours=1))  # and run at it
    # Another process moves the stored clock past the thread's due time without sweeping ...
    with open_inbox(database, manual_clock=True) as elsewhere:
        assert isinstance(elsewhere._clock, StoredClock)
        elsewhere._clock.advance(TTL)
    # ... a sweeper without --manual-clock is refused in one line ...
    refused = _cli("sweep", "--db", database)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "stored manual clock" in refused.stderr
    assert "--manual-clock" in refused.stderr
    # ... and one on the stored clock expires the thread by it.
    swept = _cli("sweep", "--db", database, "--manual-clock", START.isoformat())
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.strip() == "1 thread(s) expired"
    assert "ignored" in swept.stderr  # its START is before the stored clock
    threads = httpx.get(
        f"{base}/restapi/v1.0/account/~/message-threads",
        headers={"Authorization": "Bearer tok-101"},
    ).json()["records"]
    assert [(t["id"], t["status"]) for t in threads] == [(message["threadId"], "Resolved")]
    assert _every_worker(base) == {_shown(START + timedelta(hours=1) + TTL)}


def test_a_restart_keeps_the_clock_and_the_system_clock_returns(
    serve: Callable[..., Served], database: str, tmp_path: Path
) -> None:
    # On the system clock first: the store's latest instant is now, long after START.
    first = serve(database)
    recorded = datetime.fromisoformat(_inbound(first.base, "before")["creationTime"])
    assert _post(first.base, "clock", {"advance": "P1D"}).status_code == 409  # none to move
    first.stop()
    served = serve(database, "--manual-clock", START.isoformat())
    base = served.base
    assert "ignored" in served.said
    assert served.said.count("\n") == 1
    (now,) = _every_worker(base)
    begun = datetime.fromisoformat(now)
    assert recorded < begun <= recorded + timedelta(milliseconds=1)
    assert _inbound(base, "after")["creationTime"] == now  # the instant commands run at
    _post(base, "clock", {"advance": "P1D"})
    assert _post(base, "clock", {"advance": "P1D"}).json()["now"] == _shown(begun + 2 * DAY)
    refused = _post(base, "clock", {"set": SHOWN})
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["parameterName"] == "set"
    assert _shown(begun + 2 * DAY) in error["message"]  # the instant it must be at or after
    assert _post(base, "clock", {"set": _shown(begun + 2 * DAY)}).status_code == 200
    served.stop()
    # A later START before the clock is ignored, with a line saying so.
    again = serve(database, "--manual-clock", START.isoformat())
    assert f"already at {(begun + 2 * DAY).isoformat()}" in again.said
    assert _every_worker(again.base) == {_shown(begun + 2 * DAY)}
    again.stop()
    # Without --manual-clock, a process on this database is refused in one line.
    refused_serve = _cli(
        "serve", "--db", database, "--tokens", str(tmp_path / "tokens.json"), "--port", "0"
    )
    assert refused_serve.returncode == 1
    assert refused_serve.stdout == ""
    assert refused_serve.stderr.count("\n") == 1
    assert "threadcore clock system" in refused_serve.stderr
    # The documented way back to the system clock.
    assert _cli("clock", "show", "--db", database).stdout.startswith("manual ")
    back = _cli("clock", "system", "--db", database)
    assert back.returncode == 0, back.stderr
    assert _cli("clock", "show", "--db", database).stdout == "system\n"
    with open_inbox(database) as inbox:  # on the system clock again
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="back")
    assert message.created_at > begun  # never before what the store recorded (rule R18a)


def test_one_shot_commands_take_the_stored_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``threads`` and ``directory`` (no clock of their own) run at the stored clock; ``--at``,
    which names another time, is refused."""
    from threadcore.cli import main

    url = f"sqlite:///{tmp_path / 'c.db'}"
    (tmp_path / "directory.json").write_text(json.dumps(DIRECTORY))
    open_inbox(url, manual_clock=START).close()  # long before the system clock
    assert main(["directory", "load", str(tmp_path / "directory.json"), "--db", url]) == 0
    with open_inbox(url, manual_clock=True) as inbox:
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")
    capsys.readouterr()
    view = ["--db", url, "--as", "101", "--format", "json"]
    assert main(["threads", "list", *view]) == 0
    (thread,) = json.loads(capsys.readouterr().out)["records"]
    assert thread["status"] == "Open"  # at the stored clock (the system's would expire it)
    assert main(["directory", "show", "--db", url]) == 0
    assert "6249888001" in capsys.readouterr().out
    assert main(["threads", "list", *view, "--at", "2026-03-01T00:00Z"]) == 1
    assert "stored manual clock" in capsys.readouterr().err
    directory = ["--directory", str(tmp_path / "directory.json")]
    assert main(["threads", "list", *view, *directory]) == 0
    assert json.loads(capsys.readouterr().out)["records"][0]["status"] == "Open"
    assert main(["threads", "list", *view, *directory, "--at", "2026-03-01T00:00Z"]) == 1
    assert "leave out --at" in capsys.readouterr().err
