"""``threadcore directory load`` / ``show``: the directory file into and out of the directory
stored with the threads (merge or replace, with rule R11's effect on the threads), and ``replay``
/ ``threads`` deciding on the stored directory when no directory file is given; on SQLite and
PostgreSQL, through click's CliRunner and the command line's own error reporting (``run``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stores
from click.testing import CliRunner
from conftest import GUEST, GUEST2, OWNER, OWNER2, QUEUE, SUPPORT, SUPPORT_NUMBER

from threadcore import Resource, open_inbox
from threadcore.cli.app import run
from threadcore.cli.directory_file import DIRECTORY_VARIABLE, dump_directory, load_directory
from threadcore.connect import DATABASE_URL_VARIABLE
from threadcore.storage import StoredDirectory

pytest_plugins = ["conftest_pg"]
store = stores.store

BILLING: dict[str, Any] = {
    "extensionId": QUEUE,
    "name": "Billing Queue",
    "extensionType": "Department",
    "phoneNumbers": [OWNER, OWNER2],
    "handlers": ["101", {"extensionId": "102", "name": "Ann Lee"}],
}
SUPPORT_QUEUE: dict[str, Any] = {
    "extensionId": SUPPORT,
    "name": "Support",
    "extensionType": "Department",
    "phoneNumbers": [SUPPORT_NUMBER],
    "handlers": ["201"],
}


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``threadcore ARGS`` in CliRunner's isolation (the environment variables the command
    line reads are unset unless given): exit code, stdout, stderr."""
    variables: dict[str, str | None] = {DATABASE_URL_VARIABLE: None, DIRECTORY_VARIABLE: None}
    variables.update(env or {})
    with CliRunner().isolation(env=variables) as (out, err, _):
        code = run(list(args))
    return code, out.getvalue().decode(), err.getvalue().decode()


def write(path: Path, *resources: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"resources": list(resources)}), encoding="utf-8")
    return path


def stored(url: str) -> list[Resource]:
    """The directory stored in the database, as another process opening it reads it."""
    with open_inbox(url) as inbox:
        directory = inbox.directory
        assert isinstance(directory, StoredDirectory)
        return list(directory.resources())


def shown(url: str) -> dict[str, Any]:
    code, out, err = cli("directory", "show", "--db", url)
    assert (code, err) == (0, ""), err
    result: dict[str, Any] = json.loads(out)
    return result


def thread(url: str, thread_id: str, directory: Path, actor: str) -> dict[str, Any]:
    """The thread as ``threads show --format json`` prints it (deciding on ``directory``, a
    file, so that threads of a removed resource can be looked at)."""
    code, out, err = cli(
        "threads", "show", thread_id, "--db", url, "--directory", str(directory),
        "--as", actor, "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture
def url(store: stores.Store) -> str:
    """A database (SQLite file or PostgreSQL schema) with the schema and nothing in it."""
    return stores.url_of(store())


#: The tests that run on a SQLite file and on PostgreSQL.
both = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)


@both
def test_load_into_an_empty_database_then_show_round_trips(url: str, tmp_path: Path) -> None:
    assert shown(url) == {"resources": []}
    file = write(tmp_path / "both.json", BILLING, SUPPORT_QUEUE)
    code, out, err = cli("directory", "load", str(file), "--db", url)
    assert (code, err) == (0, "")
    assert out.endswith(
        ": directory merged: 2 resource(s) added, 0 changed, 0 removed, 0 unchanged; "
        "0 thread(s) changed: 0 resolved, 0 unassigned\n"
    )
    assert out.count("\n") == 1
    assert stored(url) == list(load_directory(file).resources())
    first = shown(url)
    assert first == dump_directory(load_directory(file).resources())
    assert first == {"resources": [BILLING, SUPPORT_QUEUE]}
    # show > f.json; load f.json --replace: nothing changes
    again = tmp_path / "shown.json"
    again.write_text(json.dumps(first), encoding="utf-8")
    code, out, _ = cli("directory", "load", str(again), "--db", url, "--replace")
    assert code == 0
    assert ": directory replaced: 0 resource(s) added, 0 changed, 0 removed, 2 unchanged; " in out
    assert shown(url) == first


@both
def test_merge_keeps_the_resources_the_file_does_not_name(url: str, tmp_path: Path) -> None:
    assert cli("directory", "load", str(write(tmp_path / "a.json", BILLING, SUPPORT_QUEUE)),
               "--db", url)[0] == 0  # fmt: skip
    with open_inbox(url) as inbox:
        support = inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST, body="Hi")
    renamed = {**BILLING, "name": "Billing", "handlers": [*BILLING["handlers"], "103"]}
    new = {**SUPPORT_QUEUE, "extensionId": "6249888009", "phoneNumbers": ["+12092480009"]}
    code, out, err = cli(
        "directory", "load", str(write(tmp_path / "b.json", renamed, new)), "--db", url, "--merge"
    )
    assert (code, err) == (0, "")
    assert ": directory merged: 1 resource(s) added, 1 changed, 0 removed, 1 unchanged; " in out
    assert shown(url)["resources"] == [renamed, SUPPORT_QUEUE, new]
    after = thread(url, support.thread_id, tmp_path / "a.json", "201")
    assert (after["status"], after.get("statusReason")) == ("Open", None)


@both
def test_replace_removes_what_the_file_does_not_name_and_resolves_its_threads(
    url: str, tmp_path: Path
) -> None:
    before = write(tmp_path / "before.json", BILLING, SUPPORT_QUEUE)
    assert cli("directory", "load", str(before), "--db", url)[0] == 0
    with open_inbox(url) as inbox:
        support = inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST, body="Hi")
        second = inbox.receive(owner_number=OWNER2, guest_number=GUEST, body="Hello")
        first = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="Hey")
    one_number = {**BILLING, "phoneNumbers": [OWNER]}
    code, out, err = cli(
        "directory", "load", str(write(tmp_path / "after.json", one_number)), "--db", url,
        "--replace",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.endswith(
        ": directory replaced: 0 resource(s) added, 1 changed, 1 removed, 0 unchanged; "
        "2 thread(s) changed: 2 resolved, 0 unassigned\n"
    )
    assert shown(url) == {"resources": [one_number]}
    gone = thread(url, support.thread_id, before, "201")
    assert (gone["status"], gone["statusReason"]) == ("Resolved", "OwnerDeleted")
    lost = thread(url, second.thread_id, before, "101")
    assert (lost["status"], lost["statusReason"]) == ("Resolved", "OwnerPhoneNumberDeleted")
    kept = thread(url, first.thread_id, before, "101")
    assert (kept["status"], kept.get("statusReason")) == ("Open", None)


@both
def test_a_handler_removed_by_a_replace_unassigns_their_thread(url: str, tmp_path: Path) -> None:
    before = write(tmp_path / "before.json", BILLING)
    assert cli("directory", "load", str(before), "--db", url)[0] == 0
    with open_inbox(url) as inbox:
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
        inbox.assign(message.thread_id, actor="102", assignee="102")
    assert thread(url, message.thread_id, before, "101")["assignee"]["extensionId"] == "102"
    without_ann = {**BILLING, "handlers": ["101"]}
    code, out, _ = cli(
        "directory", "load", str(write(tmp_path / "after.json", without_ann)), "--db", url,
        "--replace",
    )  # fmt: skip
    assert code == 0
    assert out.endswith(
        ": directory replaced: 0 resource(s) added, 1 changed, 0 removed, 0 unchanged; "
        "1 thread(s) changed: 0 resolved, 1 unassigned\n"
    )
    after = thread(url, message.thread_id, before, "101")
    assert after["status"] == "Open"
    assert after.get("assignee") is None


CONFLICT = json.dumps(
    {"resources": [{"extensionId": "6249888009", "phoneNumbers": [SUPPORT_NUMBER, OWNER]}]}
)


@both
@pytest.mark.parametrize(
    ("content", "replace", "message"),
    [
        (None, True, "cannot read the directory file '{file}': No such file or directory"),
        ('{"resources": [', True, "the directory file '{file}' is not JSON: Expecting value"),
        ('{"resources": {}}', True,
         'the directory file \'{file}\' must be an object with a "resources" list'),
        ('{"resources": [{"extensionId": "1", "phoneNumbers": ["12"]}]}', True,
         "the directory file '{file}': resources[0]: Parameter [phoneNumbers] is not a "
         "phone number"),
        ('{"resources": [{"extensionId": "1"}, {"extensionId": "1"}]}', True,
         "the directory file '{file}': Resource [1] already exists"),
        # good on its own, but a merge keeps Support and Billing, which own those numbers:
        # threadcore refuses the whole load
        (CONFLICT, False, "PhoneNumberInUse: Phone number [+1"),
    ],
)  # fmt: skip
def test_a_bad_file_is_a_one_line_error_and_changes_nothing(
    url: str, tmp_path: Path, content: str | None, replace: bool, message: str
) -> None:
    before_file = write(tmp_path / "a.json", BILLING, SUPPORT_QUEUE)
    assert cli("directory", "load", str(before_file), "--db", url)[0] == 0
    with open_inbox(url) as inbox:
        support = inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=GUEST, body="Hi")
    before = shown(url)
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    flags = ["--replace"] if replace else []
    code, out, err = cli("directory", "load", str(bad), "--db", url, *flags)
    assert (code, out) == (1, "")
    assert err.startswith("threadcore: error: " + message.format(file=bad)), err
    assert err.count("\n") == 1
    assert shown(url) == before
    after = thread(url, support.thread_id, before_file, "201")
    assert (after["status"], after.get("statusReason")) == ("Open", None)


@both
def test_the_database_url_may_come_from_the_environment(url: str, tmp_path: Path) -> None:
    env = {DATABASE_URL_VARIABLE: url}
    code, out, _ = cli("directory", "load", str(write(tmp_path / "a.json", BILLING)), env=env)
    assert code == 0
    assert "1 resource(s) added" in out
    code, out, _ = cli("directory", "show", env=env)
    assert (code, json.loads(out)) == (0, {"resources": [BILLING]})


LOG = [
    {"type": "inbound", "at": "2026-02-17T17:00:00Z", "from": GUEST, "to": OWNER,
     "text": "Hi, my bill?", "id": "SM1"},
    {"type": "assign", "at": "2026-02-17T17:01:00Z", "actor": "101",
     "thread": {"message": "SM1"}, "assignee": "102"},
    {"type": "inbound", "at": "2026-02-17T17:02:00Z", "from": GUEST, "to": SUPPORT_NUMBER,
     "text": "Support?", "id": "SM2"},
]  # fmt: skip


@both
def test_replay_and_threads_use_the_stored_directory_without_a_file(
    url: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in LOG), encoding="utf-8")
    # nothing stored and no file: refused, as before
    code, out, err = cli("replay", str(log), "--db", url, "--no-progress")
    assert (code, out) == (2, "")
    assert err.startswith("threadcore: error: give --directory FILE (or set THREADCORE_DIRECTORY)")
    assert "threadcore directory load FILE --db URL" in err
    assert err.count("\n") == 1
    assert cli("directory", "load", str(write(tmp_path / "d.json", BILLING)), "--db", url)[0] == 0
    code, out, err = cli("replay", str(log), "--db", url, "--no-progress")
    assert code == 0, err
    # Support is not in the stored directory
    assert f"log.jsonl:3: UnknownPhoneNumber: Phone number [{SUPPORT_NUMBER}]" in err
    view = ("--db", url, "--as", "102", "--at", "2026-02-17T18:00Z", "--format", "json")
    code, out, err = cli("threads", "list", *view)
    assert code == 0, err
    (listed,) = json.loads(out)["records"]
    assert listed["assignee"]["name"] == "Ann Lee"
    code, out, _ = cli("threads", "show", listed["id"], *view)
    assert code == 0
    assert json.loads(out)["messages"]["records"][0]["text"] == "Hi, my bill?"
    # a file, given or in the environment, is still what the command decides on
    other = write(tmp_path / "other.json", {**BILLING, "handlers": ["101"]})
    code, out, _ = cli("threads", "list", *view, "--directory", str(other))
    assert (code, json.loads(out)["records"]) == (0, [])
    code, out, _ = cli("threads", "list", *view, env={DIRECTORY_VARIABLE: str(other)})
    assert (code, json.loads(out)["records"]) == (0, [])


def test_load_makes_a_new_sqlite_file_and_replay_without_a_directory_does_not(
    tmp_path: Path,
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(LOG[0]) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, _, err = cli("replay", str(log), "--db", url, "--no-progress")
    assert code == 2
    assert err.startswith("threadcore: error: give --directory FILE")
    assert not (tmp_path / "new.db").exists()
    assert cli("directory", "load", str(write(tmp_path / "d.json", BILLING)), "--db", url)[0] == 0
    assert shown(url) == {"resources": [BILLING]}
    code, _, err = cli("replay", str(log), "--db", url, "--no-progress")
    assert (code, err) == (0, "")


def test_the_help_says_merge_is_the_default() -> None:
    code, out, _ = cli("directory", "load", "--help")
    assert code == 0
    out = " ".join(out.split())  # whatever the wrapping
    assert "By default a merge" in out
    assert "--replace / --merge" in out
    assert "--merge (the default)" in out
    code, out, _ = cli("--help")
    assert "directory" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["directory", "show"], 2, "give --db URL (or set THREADCORE_DATABASE_URL)"),
        (["directory", "load", "{file}"], 2, "give --db URL (or set THREADCORE_DATABASE_URL)"),
        (["directory", "load", "--db", "sqlite:///{tmp}/t.db"], 2, "Missing argument 'FILE'"),
        (["directory", "load", "{file}", "--db", "sqlite:///{tmp}/t.db", "--replace=yes"], 2,
         "Option '--replace' does not take a value"),
        (["directory", "show", "--db", "sqlite:///{tmp}/missing.db"], 1,
         "no SQLite database at '{tmp}/missing.db'"),
        (["directory", "load", "{file}", "--db", "mysql://x"], 1,
         "cannot open mysql://x: Unknown database URL"),
        (["directory", "load", "{file}", "--db", "memory://"], 2, "memory:// keeps nothing"),
        (["directory", "show", "--db", "postgresql://u:secret@127.0.0.1:1/x"], 1,
         "cannot open postgresql://u:***@127.0.0.1:1/x"),
        (["directory", "load", "{file}", "--db", "postgresql://u:secret@127.0.0.1:1/x"], 1,
         "cannot open postgresql://u:***@127.0.0.1:1/x"),
        (["threads", "list", "--db", "postgresql://u:secret@127.0.0.1:1/x", "--as", "101"], 1,
         "cannot open postgresql://u:***@127.0.0.1:1/x"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_an_exit_code(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    file = write(tmp_path / "d.json", BILLING)
    argv = [a.format(tmp=tmp_path, file=file) for a in args]
    got, out, err = cli(*argv)
    assert (got, out) == (code, "")
    assert err.startswith("threadcore: error: " + message.format(tmp=tmp_path)), err
    assert err.count("\n") == 1
    assert "secret" not in err
