"""The command line, run in-process against temporary SQLite files: outputs and exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threadcore.cli import main
from threadcore.cli.directory_file import dump_directory
from threadcore.cli.workload import DEMO_RESOURCES, demo_lines

OWNER, GUEST, OTHER = "+12092480001", "+16502240001", "+16502240002"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    path = tmp_path / "directory.json"
    path.write_text(
        json.dumps(
            {
                "resources": [
                    {
                        "extensionId": "6249888001",
                        "name": "Billing Queue",
                        "phoneNumbers": [OWNER],
                        "handlers": ["101", {"extensionId": "102", "name": "Ann Lee"}, "103"],
                    }
                ]
            }
        )
    )
    return path


def write_log(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def counts(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return tuple(
            conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)
        )


def dump(db: Path) -> list[Any]:
    """Every row of every table: equal dumps mean nothing changed."""
    with sqlite3.connect(db) as conn:
        tables = sorted(
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        )
        return [sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables]


HISTORY: list[dict[str, Any] | str] = [
    {"type": "inbound", "at": "2026-02-17T17:00:00Z", "from": GUEST, "to": OWNER,
     "text": "Hi, my bill?", "id": "SM1"},
    {"type": "inbound", "at": "2026-02-17T17:00:05Z", "from": GUEST, "to": OWNER,
     "text": "Hi, my bill?", "id": "SM1"},  # the webhook again
    {"type": "assign", "at": "2026-02-17T17:01:00Z", "actor": "101",
     "thread": {"message": "SM1"}, "assignee": "102"},
    {"type": "outbound", "at": "2026-02-17T17:02:00Z", "actor": "103", "from": OWNER,
     "to": GUEST, "text": "I can help", "id": "SM2"},  # not the assignee: refused
    {"type": "outbound", "at": "2026-02-17T17:03:00Z", "actor": "102", "from": OWNER,
     "to": GUEST, "text": "On it", "id": "SM3"},
    {"type": "delivery", "at": "2026-02-17T17:03:02Z", "message": "SM3", "status": "Delivered"},
    {"type": "delivery", "at": "2026-02-17T17:03:09Z", "message": "SM3", "status": "Sent"},
    "this is not json",
    {"type": "note", "at": "2026-02-17T17:04:00Z", "actor": "102",
     "thread": {"message": "SM1"}, "text": "VIP"},
    {"type": "resolve", "at": "2026-02-17T17:05:00Z", "actor": "103",
     "thread": {"owner": OWNER, "guest": GUEST}},
    {"type": "resolve", "at": "2026-02-17T17:06:00Z", "actor": "101",
     "thread": {"message": "SM1"}},  # resolved already: refused
    {"type": "inbound", "at": "2026-02-17T17:07:00Z", "from": OTHER, "to": OWNER,
     "text": "hello", "id": "SM4"},
    {"type": "inbound", "at": "2026-02-17T17:08:00Z", "from": OTHER, "to": OWNER,
     "text": "STOP", "id": "SM5"},
    {"type": "assign", "at": "2026-02-17T17:09:00Z", "actor": "101",
     "thread": {"message": "SM4"}, "assignee": "101"},
    {"type": "outbound", "at": "2026-02-17T17:10:00Z", "actor": "101", "from": OWNER,
     "to": OTHER, "text": "Sorry to see you go", "id": "SM6"},  # opted out: refused
    {"type": "sweep", "at": "2026-02-21T00:00:00Z"},  # the second thread expires
]  # fmt: skip


def test_replay_applies_reports_and_summarises(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", HISTORY)
    db = tmp_path / "t.db"
    code, out, err = run(
        "replay", str(log), "--db", f"sqlite:///{db}", "--directory", str(directory)
    )
    assert code == 0, err
    assert "log.jsonl:4: NotAssignee: The thread is not assigned to extension [103]" in err
    assert "log.jsonl:8: MalformedLine: not JSON" in err
    assert "log.jsonl:11: ThreadNotOpen" in err
    assert "log.jsonl:15: RecipientOptedOut" in err
    for label, value in [
        ("lines read", 16),
        ("threads opened", 2),
        ("threads resolved by a handler", 1),
        ("threads expired", 1),
        ("messages stored", 4),
        ("notes", 1),
        ("delivery status changes", 1),
        ("opt-outs (STOP)", 1),
        ("refused: NotAssignee", 1),
        ("refused: MalformedLine", 1),
        ("refused: RecipientOptedOut", 1),
        ("refused: ThreadNotOpen", 1),
    ]:
        row = next(line for line in out.splitlines() if label in line)
        assert f" {value} " in row, row
    # the repeated webhook and the late "Sent" changed nothing
    assert next(line for line in out.splitlines() if "changed nothing" in line).split()[-2] == "2"


def test_a_second_replay_changes_nothing(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", HISTORY)
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert run("replay", str(log), "--db", url, "--directory", str(directory))[0] == 0
    before = dump(tmp_path / "t.db")
    code, out, _ = run("replay", str(log), "--db", url, "--directory", str(directory))
    assert code == 0
    assert dump(tmp_path / "t.db") == before
    # the watermark: the last event that is not an expiry (the assignment at 17:09)
    assert "already held up to 2026-02-17T17:09:00+00:00" in out
    assert next(line for line in out.splitlines() if "skipped" in line).split()[-2] == "13"


def test_an_interrupted_replay_resumes(run: Run, tmp_path: Path, directory: Path) -> None:
    whole = write_log(tmp_path / "whole.jsonl", HISTORY)
    half = write_log(tmp_path / "half.jsonl", HISTORY[:9])
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert run("replay", str(whole), "--db", a, "--directory", str(directory))[0] == 0
    assert (
        run("replay", str(half), "--db", b, "--directory", str(directory), "--batch", "2")[0] == 0
    )
    assert (
        run("replay", str(whole), "--db", b, "--directory", str(directory), "--batch", "2")[0] == 0
    )
    assert counts(tmp_path / "a.db") == counts(tmp_path / "b.db")


def test_strict_stops_at_the_first_refused_line(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", HISTORY)
    db = tmp_path / "t.db"
    code, _, err = run(
        "replay", str(log), "--db", f"sqlite:///{db}", "--directory", str(directory), "--strict"
    )
    assert code == 1
    assert err.strip().splitlines()[-1] == "threadcore: error: stopped at line 4 (--strict)"
    assert "Traceback" not in err
    with sqlite3.connect(db) as conn:  # the lines before it are stored
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[1, 2]", "MalformedLine: a line must be a JSON object, not list"),
        ('{"type": "wave", "at": "2026-02-17T17:00:00Z"}', "InvalidLine: field 'type' must be"),
        ('{"type": "sweep"}', "InvalidLine: field 'at' is required"),
        ('{"type": "sweep", "at": "yesterday"}', "InvalidLine: field 'at' of a sweep line must"),
        ('{"type": "sweep", "at": "2026-02-17T17:00:00"}', "InvalidLine: field 'at' has no time"),
        (
            '{"type": "inbound", "at": "2026-02-17T17:00:00Z", "from": "+16502240001", '
            '"to": "+12092480001", "text": "hi"}',
            "InvalidLine: field 'id' is required for a inbound line",
        ),
        (
            '{"type": "inbound", "at": "2026-02-17T17:00:00Z", "from": "6502240001", '
            '"to": "+12092480001", "text": "hi", "id": "x"}',
            "InvalidLine: field 'from' of a inbound line must be a phone number in E.164",
        ),
        (
            '{"type": "resolve", "at": "2026-02-17T17:00:00Z", "actor": "101", "thread": "t1"}',
            "InvalidLine: field 'thread' of a resolve line must be a thread",
        ),
        (
            '{"type": "sweep", "at": "2026-02-17T17:00:00Z", "colour": "red"}',
            "InvalidLine: unknown field(s) for a sweep line: colour",
        ),
        (
            '{"type": "delivery", "at": "2026-02-17T17:00:00Z", "message": "nope", '
            '"status": "Sent"}',
            "MessageNotFound: No message has provider id [nope]",
        ),
    ],
)
def test_malformed_lines_get_a_clear_message(
    run: Run, tmp_path: Path, directory: Path, line: str, expected: str
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(line + "\n")
    code, _, err = run(
        "replay", str(log), "--db", f"sqlite:///{tmp_path / 't.db'}", "--directory", str(directory)
    )
    assert code == 0
    assert f"log.jsonl:1: {expected}" in err


def test_lines_out_of_time_order_are_refused(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(
        tmp_path / "log.jsonl",
        [
            {"type": "sweep", "at": "2026-02-17T18:00:00Z"},
            {"type": "sweep", "at": "2026-02-17T17:00:00Z"},
        ],
    )
    code, _, err = run(
        "replay", str(log), "--db", f"sqlite:///{tmp_path / 't.db'}", "--directory", str(directory)
    )
    assert code == 0
    assert "log.jsonl:2: OutOfOrder" in err


def test_threads_list_and_show(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", HISTORY[:6])
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert run("replay", str(log), "--db", url, "--directory", str(directory))[0] == 0
    view = ("--db", url, "--directory", str(directory), "--as", "101", "--at", "2026-02-17T18:00Z")
    code, out, _ = run("threads", "list", *view, "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert listed["paging"]["totalElements"] == 1
    (thread,) = listed["records"]
    assert thread["status"] == "Open"
    assert thread["assignee"] == {"extensionId": "102", "name": "Ann Lee", "extensionType": "User"}
    assert thread["label"] == "On it"
    assert thread["creationTime"] == "2026-02-17T17:00:00.000Z"
    code, out, _ = run("threads", "show", thread["id"], *view, "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert [m["text"] for m in shown["messages"]["records"]] == ["Hi, my bill?", "On it"]
    assert shown["messages"]["records"][1]["messageStatus"] == "Delivered"
    code, out, _ = run("threads", "list", *view)
    assert code == 0
    assert "Ann Lee" in out
    assert "On it" in out
    # later, the thread has expired (no sweep needed to see it)
    later = (*view[:-1], "2026-02-21T00:00Z")
    assert (
        json.loads(run("threads", "list", *later, "--format", "json")[1])["records"][0][
            "statusReason"
        ]
        == "ThreadExpired"
    )
    # someone who handles nothing sees nothing; an unknown id is a one-line error
    assert json.loads(run("threads", "list", *view[:4], "--as", "999", "--format", "json")[1]) == {
        "records": [],
        "paging": {"perPage": 100},
    }
    code, _, err = run("threads", "show", "nope", *view)
    assert code == 1
    assert err == "threadcore: error: ThreadNotFound: Thread [nope] not found\n"


def test_sweep(run: Run, tmp_path: Path, directory: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", HISTORY[:1])
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert run("replay", str(log), "--db", url, "--directory", str(directory))[0] == 0
    assert run("sweep", "--db", url, "--at", "2026-02-18T00:00Z") == (
        0,
        "0 thread(s) expired\n",
        "",
    )
    assert run("sweep", "--db", url, "--at", "2026-02-21T00:00Z") == (
        0,
        "1 thread(s) expired\n",
        "",
    )
    assert run("sweep", "--db", url, "--at", "2026-02-22T00:00Z")[1] == "0 thread(s) expired\n"


def test_sweep_refuses_an_instant_in_the_future(run: Run, tmp_path: Path, directory: Path) -> None:
    """An expiry written early could never be taken back (issue 12, item 4)."""
    log = write_log(tmp_path / "log.jsonl", HISTORY[:1])
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert run("replay", str(log), "--db", url, "--directory", str(directory))[0] == 0
    code, out, err = run("sweep", "--db", url, "--at", "9000-01-01T00:00Z")
    assert (code, out) == (2, "")
    assert "is in the future" in err
    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("SELECT count(*) FROM threads WHERE status = 'Open'").fetchone() == (1,)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sweep", "--db", "mysql://x"], 1, "threadcore: error: cannot open mysql://x: Unknown"),
        (["sweep"], 2, "threadcore: error: give --db URL (or set THREADCORE_DATABASE_URL)"),
        (["sweep", "--db", "sqlite:///{tmp}/missing.db"], 1,
         "threadcore: error: no SQLite database"),
        (["sweep", "--db", "sqlite:///{tmp}/t.db", "--at", "soon"], 2,
         "threadcore: error: --at must be an RFC 3339"),
        (["replay", "{tmp}/missing.jsonl", "--db", "sqlite:///{tmp}/t.db", "--directory", "{dir}"],
         1, "threadcore: error: cannot read '{tmp}/missing.jsonl': No such file or directory"),
        (["replay", "{tmp}/log.jsonl", "--db", "sqlite:///{tmp}/t.db"], 2,
         "threadcore: error: give --directory FILE"),
        (["replay", "{tmp}/log.jsonl", "--db", "sqlite:///{tmp}/t.db", "--directory", "{tmp}/t.db"],
         1, "threadcore: error: the directory file '{tmp}/t.db' is not JSON"),
        (["replay", "{tmp}/log.jsonl", "--db", "sqlite:///{tmp}/t.db",
          "--directory", "{tmp}/log.jsonl"], 1,
         "threadcore: error: the directory file '{tmp}/log.jsonl' must be an object"),
        (["replay", "{tmp}/log.jsonl", "--db", "sqlite:///{tmp}/t.db", "--directory", "{dir}",
          "--batch", "0"], 2, "threadcore: error: Invalid value for '--batch'"),
        (["threads", "list", "--db", "sqlite:///{tmp}/t.db", "--directory", "{dir}"], 2,
         "threadcore: error: Missing option '--as'"),
        (["frobnicate"], 2, "threadcore: error: No such command 'frobnicate'"),
        (["threads", "list", "--db", "postgresql://u:secret@127.0.0.1:1/x", "--directory", "{dir}",
          "--as", "101"], 1, "threadcore: error: cannot open postgresql://u:***@127.0.0.1:1/x"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_an_exit_code(
    run: Run, tmp_path: Path, directory: Path, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "t.db").touch()
    write_log(tmp_path / "log.jsonl", HISTORY[:1])
    argv = [a.format(tmp=tmp_path, dir=directory) for a in args]
    got, _, err = run(*argv)
    assert got == code
    assert err.startswith(message.format(tmp=tmp_path)), err
    assert err.count("\n") == 1, err
    assert "secret" not in err


def test_the_demo_runs_and_its_log_replays_to_nothing_new(run: Run, tmp_path: Path) -> None:
    code, out, err = run(
        "demo", "--customers", "60", "--days", "4", "--out", str(tmp_path), "--no-progress"
    )
    assert code == 0, err
    for label in (
        "threads opened", "threads resolved by a handler", "threads expired", "threads deleted",
        "messages stored", "refused: NotAssignee", "messages/s",
    ):  # fmt: skip
        assert label in out
    assert "threadcore threads list" in out
    before = dump(tmp_path / "demo.db")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out, _ = run(
        "replay", str(tmp_path / "demo.jsonl"), "--db", url,
        "--directory", str(tmp_path / "directory.json"),
    )  # fmt: skip
    assert code == 0
    assert dump(tmp_path / "demo.db") == before
    # a second demo into the same folder is refused rather than mixed in
    code, _, err = run("demo", "--customers", "5", "--out", str(tmp_path), "--no-progress")
    assert code == 1
    assert "exists already" in err


def test_the_demo_workload_is_seeded_and_realistic() -> None:
    a = demo_lines(seed=3, customers=200, days=4)
    assert a == demo_lines(seed=3, customers=200, days=4)
    assert a != demo_lines(seed=4, customers=200, days=4)
    assert [line["at"] for line in a] == sorted(line["at"] for line in a)
    kinds = {line["type"] for line in a}
    assert kinds == {
        "inbound",
        "outbound",
        "assign",
        "resolve",
        "delete",
        "delivery",
        "note",
        "sweep",
    }
    assert any(line.get("text") == "STOP" for line in a)
    ids = [line["id"] for line in a if line["type"] == "inbound"]
    assert len(ids) > len(set(ids))  # some webhooks arrive twice
    assert dump_directory(DEMO_RESOURCES)["resources"][0]["extensionId"] == "6249888001"


def test_help_and_no_command(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "demo" in out
    assert "replay" in out
    code, out, _ = run()
    assert code == 0
    assert "Usage: threadcore" in out


def test_without_the_cli_extra_the_script_prints_a_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('click', 'rich'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "threadcore", "demo"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "threadcore: the command line needs the 'cli' extra: pip install 'threadcore[cli]'\n"
    )
