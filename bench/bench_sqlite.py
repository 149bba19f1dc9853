"""SQLite inbound throughput: threadcore against raw ``sqlite3`` doing the same rows, same run.

    python bench/bench_sqlite.py [--pairs 2000] [--messages 20000] [--repeat 3]

Per command: one transaction per inbound message. Raw does the least a correct implementation
must: select the pair's open thread, insert or update the thread, insert the message. Both sides
run with the adapter's connection settings (WAL, synchronous=NORMAL, its checkpoint interval,
cache and temporary storage), so the ratio measures the work done, not the settings. Bulk: the
same messages in one transaction (threadcore's ``Inbox.batch()``; raw in one ``BEGIN``/``COMMIT``).
Targets: threadcore at least a third of raw's rate (we aim for half), per command and in bulk.

A third contender, "threadcore's SQL alone", replays the very statements threadcore ran for the
same workload (recorded once, outside the timing) on a fresh database of its schema, with no Python
around them: no validation, no domain, no row mapping. It is the floor for threadcore's schema, the
rate no amount of Python tuning can beat; the gap between it and raw is the extra B-tree pages each
commit writes for the indexes threadcore's queries need (lists, sync, the sweep, messages by
thread, time and id, the event outbox).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threadcore import Directory, Inbox, ManualClock, Resource, SQLiteRepository
from threadcore.adapters.sqlite import _PRAGMAS

#: The adapter's connection settings, for raw as well: the adapter switches the journal to WAL
#: apart from its other pragmas (``_enter_wal``), so raw names it here. Without it raw committed
#: in rollback-journal mode, 20-50x slower, and the bench printed threadcore faster than raw
#: (issue 24).
SETTINGS = ("PRAGMA journal_mode=WAL", *_PRAGMAS)

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"

RAW_SCHEMA = """
CREATE TABLE threads (id INTEGER PRIMARY KEY, owner TEXT, guest TEXT, status TEXT, label TEXT,
                      latest TEXT, version INTEGER);
CREATE UNIQUE INDEX one_open ON threads (owner, guest) WHERE status = 'Open';
CREATE TABLE messages (id INTEGER PRIMARY KEY, thread_id INTEGER, body TEXT, at TEXT);
"""


def workload(pairs: int, messages: int) -> list[str]:
    """The guest number of each inbound message, round-robin over the pairs."""
    return [f"+1650{2240000 + i % pairs:07d}" for i in range(messages)]


def raw(path: Path, work: list[str], bulk: bool) -> float:
    """Raw sqlite3: the same rows per message. Returns seconds."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in SETTINGS:
        conn.execute(pragma)
    conn.executescript(RAW_SCHEMA)
    now = START.isoformat()
    t0 = time.perf_counter()
    if bulk:
        conn.execute("BEGIN IMMEDIATE")
    for guest in work:
        if not bulk:
            conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT id, version FROM threads WHERE owner = ? AND guest = ? AND status = 'Open'",
            (OWNER, guest),
        ).fetchone()
        if row is None:
            thread_id = conn.execute(
                "INSERT INTO threads (owner, guest, status, label, latest, version) "
                "VALUES (?, ?, 'Open', ?, ?, 1)",
                (OWNER, guest, "Hi", now),
            ).lastrowid
        else:
            thread_id = row[0]
            conn.execute(
                "UPDATE threads SET label = ?, latest = ?, version = version + 1 "
                "WHERE id = ? AND version = ?",
                ("Hi", now, thread_id, row[1]),
            )
        conn.execute(
            "INSERT INTO messages (thread_id, body, at) VALUES (?, ?, ?)", (thread_id, "Hi", now)
        )
        if not bulk:
            conn.execute("COMMIT")
    if bulk:
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def _receive_all(repo: SQLiteRepository, work: list[str], bulk: bool) -> float:
    """Receive every message of ``work`` through an Inbox on ``repo``. Returns seconds."""
    directory = Directory([Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])])
    inbox = Inbox(repository=repo, directory=directory, clock=ManualClock(START))
    receive = inbox.receive
    t0 = time.perf_counter()
    if bulk:
        with inbox.batch():
            for guest in work:
                receive(owner_number=OWNER, guest_number=guest, body="Hi")
    else:
        for guest in work:
            receive(owner_number=OWNER, guest_number=guest, body="Hi")
    return time.perf_counter() - t0


def threadcore(path: Path, work: list[str], bulk: bool) -> float:
    """threadcore's ``Inbox.receive`` on a SQLite file. Returns seconds."""
    repo = SQLiteRepository(path)
    elapsed = _receive_all(repo, work, bulk)
    repo.close()
    return elapsed


class _Recorder:
    """A connection that notes every statement run through it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.log: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.log.append((sql, tuple(params)))
        return self.conn.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


_recorded: dict[tuple[int, bool], list[tuple[str, tuple[Any, ...]]]] = {}


def statements(work: list[str], bulk: bool) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements threadcore runs for ``work`` (recorded on first use)."""
    key = (id(work), bulk)
    if key not in _recorded:
        with tempfile.TemporaryDirectory() as tmp:
            repo = SQLiteRepository(Path(tmp) / "record.db")
            recorder = _Recorder(repo._conn)
            repo._conn = recorder  # type: ignore[assignment]
            _receive_all(repo, work, bulk)
            repo._conn = recorder.conn
            repo.close()
        _recorded[key] = recorder.log
    return _recorded[key]


def sql_alone(path: Path, work: list[str], bulk: bool) -> float:
    """threadcore's own statements for ``work`` replayed on a fresh database of its schema, with
    nothing else. Returns seconds."""
    log = statements(work, bulk)
    repo = SQLiteRepository(path)  # the schema and the connection settings
    execute = repo._conn.execute
    t0 = time.perf_counter()
    for sql, params in log:
        execute(sql, params)
    elapsed = time.perf_counter() - t0
    repo.close()
    return elapsed


def paired(
    fns: tuple[Callable[[Path, list[str], bool], float], ...],
    work: list[str],
    bulk: bool,
    repeat: int,
) -> list[float]:
    """Best of ``repeat`` runs of each, interleaved, each on a fresh file."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            with tempfile.TemporaryDirectory() as tmp:
                best[i] = min(best[i], fn(Path(tmp) / "bench.db", work, bulk))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = workload(args.pairs, args.messages)
    print(f"SQLite inbound, {args.pairs:,} pairs, {len(work):,} messages; settings on both sides:")
    print("  " + ", ".join(pragma.removeprefix("PRAGMA ") for pragma in SETTINGS))
    for label, bulk in (("one transaction per command", False), ("bulk, one transaction", True)):
        statements(work, bulk)  # recorded before the timing
        raw_s, core_s, sql_s = paired((raw, threadcore, sql_alone), work, bulk, args.repeat)
        raw_rate, core_rate, sql_rate = (len(work) / s for s in (raw_s, core_s, sql_s))
        print(f"  {label}:")
        print(f"    raw sqlite3:             {raw_rate:10,.0f} messages/s")
        print(f"    threadcore:              {core_rate:10,.0f} messages/s")
        print(f"    threadcore's SQL alone:  {sql_rate:10,.0f} messages/s  (the schema's floor)")
        print(f"    ratio threadcore/raw: 1/{raw_rate / core_rate:.2f}  (target: 1/3 or better)")
        print(f"    ratio SQL alone/raw:  1/{raw_rate / sql_rate:.2f}")


if __name__ == "__main__":
    main()
