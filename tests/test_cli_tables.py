"""Every table the command line prints is one line a row at 80 columns, its short ids are
accepted back, and the full values stay in ``show`` and ``--format json`` (issue 25, item 9)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len

from threadcore import Handler, ManualClock, Resource, open_inbox
from threadcore.cli import main
from threadcore.cli.short_ids import ShortIds
from threadcore.cli.tables import Column, age, one_line, table

Run = Callable[..., tuple[int, str, str]]

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
VIEW_AT = "2026-02-21T18:00Z"  # the first threads' 72 h are over, the later ones' are not
OWNER, SECOND = "+12092480001", "+12092480002"
QUEUE = "6249888001"
LONG_NAME = "Customer Care — Returns, Exchanges & Warranty Claims (EMEA, evenings)"
HANDLER = "Maximiliana Konstantinopoulou-Wolfeschlegelsteinhausen"
LABEL = (
    "Hi 👋 my order #A-99812 arrived broken,\nthe box was open and the charger is missing; "
    "can you send a new one or refund me? I paid with the card ending 4471."
)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("COLUMNS", "80")  # what rich reads for a console that is not a terminal

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store made in one process (every id shares its first twelve hex digits): open,
    resolved, expired, deleted threads and one resolved by the loss of its number; long names,
    labels and bodies, on several lines, with emoji."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tables') / 'inbox.db'}"
    clock = ManualClock(START)
    with open_inbox(url, clock=clock) as inbox:
        inbox.load_directory([
            Resource(QUEUE, LONG_NAME, phone_numbers=[OWNER, SECOND],
                     handlers=["101", Handler("102", name=HANDLER), "103"]),
        ])  # fmt: skip
        for i in range(40):
            # the first ten are silent from the start, the others get messages three days later
            clock.set(START + timedelta(days=0 if i < 10 else 3, minutes=i))
            guest = f"+165022400{i:02d}"
            owner = SECOND if i % 13 == 0 else OWNER
            message = inbox.receive(owner_number=owner, guest_number=guest, body=LABEL)
            thread = message.thread_id
            if i % 3 == 0:
                inbox.assign(thread, actor="101", assignee="102")
                clock.advance(timedelta(minutes=1))
                inbox.send(actor="102", thread_id=thread, body=f"On it ({i}) " + LABEL * 2)
            if i % 5 == 1:
                inbox.resolve(thread, actor="103")
            if i % 7 == 2:
                inbox.delete(thread, actor="101")
        clock.set(START + timedelta(days=3, hours=2))
        inbox.remove_phone_number(QUEUE, SECOND)  # its open threads: resolved/number
    return url


def view(url: str) -> tuple[str, ...]:
    return ("--db", url, "--as", "101", "--at", VIEW_AT)


def rows_after(out: str, heading: str) -> list[str]:
    """The lines of the table under ``heading``, its header first, up to a blank line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_threads_list_is_one_line_a_thread_and_its_ids_are_accepted_back(
    run: Run, store: str
) -> None:
    code, out, _ = run("threads", "list", *view(store), "--deleted", "--format", "json")
    assert code == 0
    records = json.loads(out)["records"]
    assert len(records) == 40
    assert len({r["id"][:8] for r in records}) == 1  # one process: a shared head
    assert records[1]["label"] == LABEL  # whole in JSON
    code, out, _ = run("threads", "list", *view(store), "--deleted")
    assert code == 0
    header, *rows = rows_after(out, "Threads 101 may see")
    assert header.split() == ["id", "state", "guest", "owner", "assignee", "label", "idle"]
    assert len(rows) == len(records)  # no row wraps onto a second line
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    states = {}
    for record, row in zip(records, rows, strict=True):
        short = row.split()[0]
        assert 8 <= len(short) < len(record["id"])
        assert record["id"].endswith(short)
        states[record["id"]] = row.split()[1]
        assert "…" in row  # the long owner name and label are cut
        assert re.search(r"  (Hi 👋|On it \(\d+\))", row) or states[record["id"]] == "deleted"
    assert {"open", "resolved/manual", "expired", "deleted", "resolved/number"} <= set(
        states.values()
    )
    # every short id shown is accepted back, and stands for its own thread
    for record, row in zip(records, rows, strict=True):
        code, out, err = run("threads", "show", row.split()[0], *view(store), "--format", "json")
        assert (code, err) == (0, "")
        assert json.loads(out)["id"] == record["id"]


def test_threads_show_is_whole_and_its_messages_one_line_each(run: Run, store: str) -> None:
    code, out, _ = run("threads", "list", *view(store), "--format", "json")
    thread = next(r for r in json.loads(out)["records"] if r.get("assignee"))
    code, out, _ = run("threads", "show", thread["id"][-8:], *view(store))
    assert code == 0
    assert out.splitlines()[0] == f"Thread {thread['id']}"  # the whole id
    whole = "".join(out.split())
    assert "".join(LABEL.split()) in whole  # the whole label, on as many lines as it takes
    assert f"{HANDLER}(102)".replace(" ", "") in whole
    assert LONG_NAME.replace(" ", "") in whole
    header, *rows = rows_after(out, "Messages: 2")
    assert header.split() == ["id", "time", "dir", "author", "status", "text"]
    assert len(rows) == 2
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    assert rows[0].split()[3:5] == ["in", "received"]
    assert rows[1].split()[3:5] == ["out", "Maximiliana"]
    assert "queued" in rows[1]
    assert HANDLER not in rows[1]
    assert rows[1].rstrip().endswith("…")
    code, out, _ = run("threads", "show", thread["id"], *view(store), "--format", "json")
    messages = json.loads(out)["messages"]["records"]
    for message, row in zip(messages, rows, strict=True):
        short = row.split()[0]
        assert message["id"].endswith(short)
        assert len(short) >= 8
        code, out, err = run("messages", "show", short, *view(store), "--format", "json")
        assert (code, err) == (0, "")
        assert json.loads(out) == message  # the whole message, as the thread shows it
        code, out, _ = run("messages", "show", short, *view(store))
        assert code == 0
        assert out.splitlines()[0] == f"Message {message['id']}"
        assert "".join(message["text"].split()) in "".join(out.split())


def test_an_ambiguous_short_id_names_its_matches_and_an_unknown_one_is_not_found(
    run: Run, store: str
) -> None:
    code, out, _ = run("threads", "list", *view(store), "--deleted", "--format", "json")
    ids = [r["id"] for r in json.loads(out)["records"]]
    tail = max("0123456789abcdef", key=lambda c: sum(i.endswith(c) for i in ids))
    matches = [i for i in ids if i.endswith(tail)]
    assert len(matches) > 1  # 40 ids, 16 last digits
    code, out, err = run("threads", "show", tail, *view(store))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"threadcore: error: thread id '{tail}' is ambiguous: ")
    listed = re.findall(r"[0-9a-f]{8,}", err.split(": ", 3)[3])
    assert len(listed) == len(matches)
    assert sorted(next(i for i in ids if i.endswith(s)) for s in listed) == sorted(matches)
    # none: the library's one-line not-found error, for a short id as for a whole one
    for kind, error in (("threads", "ThreadNotFound"), ("messages", "MessageNotFound")):
        code, out, err = run(kind, "show", "fedcba98", *view(store))
        assert (code, out) == (1, "")
        assert err == f"threadcore: error: {error}: {kind[:-1].title()} [fedcba98] not found\n"
    # a handler sees only the ids of what it may see: the same tail finds nothing for 999
    code, _, err = run("threads", "show", tail, *view(store)[:-4], "--as", "999")
    assert code == 1
    assert "ThreadNotFound" in err


def test_the_replay_summary_fits_80_columns(run: Run, tmp_path: Path) -> None:
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps({"resources": [
        {"extensionId": QUEUE, "name": LONG_NAME, "phoneNumbers": [OWNER], "handlers": ["101"]}
    ]}))  # fmt: skip
    log = tmp_path / ("a-replay-log-with-a-rather-long-name-" * 2 + ".jsonl")
    log.write_text(json.dumps({"type": "inbound", "at": "2026-02-17T17:00:00Z",
                               "from": "+16502240001", "to": OWNER, "text": "hi", "id": "SM1"})
                   + "\n")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert run("replay", str(log), "--db", url, "--directory", str(directory))[0] == 0
    code, out, _ = run("replay", str(log), "--db", url, "--directory", str(directory))
    assert code == 0
    title, *lines = out.splitlines()
    assert title.startswith("Replayed a-replay-log")
    assert "already held" in title
    assert lines
    assert all(cell_len(line) <= 80 for line in lines)


def test_a_guests_control_characters_never_reach_the_terminal(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'escape.db'}"
    text = "Hi\x1b[2J\x1b]0;pwned\x07 there\r\nsecond line"
    with open_inbox(url, clock=ManualClock(START)) as inbox:
        inbox.load_directory([Resource(QUEUE, phone_numbers=[OWNER], handlers=["101"])])
        message = inbox.receive(owner_number=OWNER, guest_number="+16502240001", body=text)
    view = ("--db", url, "--as", "101", "--at", "2026-02-17T18:00Z")
    outputs = [
        run("threads", "list", *view)[1],
        run("threads", "show", message.thread_id[-8:], *view)[1],
        run("messages", "show", message.id[-8:], *view)[1],
    ]
    for out in outputs:
        assert "\x1b" not in out
        assert "\x07" not in out
        assert "\r" not in out
    assert "  Hi [2J ]0;pwned there …" in outputs[0]  # one line in a table
    assert "Hi\\x1b[2J\\x1b]0;pwned\\x07 there\\x0d\nsecond line" in outputs[2]  # whole


# --- the pieces -------------------------------------------------------------------------------
HEAD = "43ca29f6-3578-4"


def test_a_short_id_is_the_shortest_unique_tail_of_at_least_eight() -> None:
    ids = [
        HEAD + "dd1-8f61-77996388abd3",
        HEAD + "e03-a148-238230ec5e43",
        HEAD + "e13-afc2-86aa30ec5e43",  # shares a tail of eight with the one above
        "id-1",
        "xid-1",  # "id-1" is its tail
    ]
    short = ShortIds(ids)
    assert [short.short(i) for i in ids] == [
        "6388abd3", "230ec5e43", "a30ec5e43", "id-1", "xid-1",
    ]  # fmt: skip
    assert short.short("not-one-of-them") == "not-one-of-them"
    assert short.matches("6388abd3") == [ids[0]]
    assert short.matches("abd3") == [ids[0]]
    assert short.matches("30ec5e43") == sorted(ids[1:3])  # ambiguous
    assert short.matches("id-1") == ["id-1"]  # a whole id wins over the tail of another
    assert short.matches("zz") == short.matches("") == []
    assert ShortIds(ids, minimum=4).short(ids[0]) == "abd3"


def test_a_table_cuts_free_text_first_and_keeps_one_line_a_row() -> None:
    from rich.console import Console

    columns = [Column("id"), Column("name", cut=True), Column("text", cut=True, keep=24)]
    rows = [["6388abd3", LONG_NAME, LABEL], ["e98a3e80", "Ann", "ok"]]

    def lines(width: int) -> list[str]:
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(table(columns, rows, width))
        return console.export_text().splitlines()

    wide = lines(80)
    assert len(wide) == 3
    assert [cell_len(line) for line in wide] == [80, 80, 80]
    assert wide[1].startswith("6388abd3  Customer Care — ")
    assert wide[1].endswith("…")
    assert "…  Hi 👋 my order #A-99812 arrived b" in wide[1]  # its blanks made one space
    assert wide[2].split() == ["e98a3e80", "Ann", "ok"]
    # narrower: the name gives up cells down to 8 before the text goes below its 24
    narrow = lines(40)
    assert len(narrow) == 3
    assert all(cell_len(line) <= 40 for line in narrow)
    assert narrow[1].startswith("6388abd3  Custome…  Hi 👋 my order #A-9…")
    assert one_line(" a\n\tb\x1b[31m c ") == "a b [31m c"


def test_ages_are_short() -> None:
    now = START
    assert [age(now - timedelta(seconds=s), now) for s in (5, 300, 7_200, 90_000, 400_000)] == [
        "5s", "5m", "2h", "25h", "4d",
    ]  # fmt: skip
    assert age(now + timedelta(seconds=1), now) == "-"
