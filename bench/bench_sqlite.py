"""SQLite inbound throughput: threadcore against raw ``sqlite3`` doing the same rows, same run.

    python bench/bench_sqlite.py [--pairs 2000] [--messages 20000] [--repeat 3]
    python bench/bench_sqlite.py --count --pairs 300 --messages 3000   # instructions (valgrind)

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

A fourth, the "floor", issues those same statements (checked against the recording before the
timing: the same texts in the same order, the same parameters but for the ids) from one plain loop
that does the same row and record work as threadcore: the claim's row decoded into a ``Thread``,
the ``Message``, the thread's next state and the event made by the domain's own makers and
transition, the rows and the event's JSON written by the adapter's codecs. It has no validation,
runner, unit of work, buffers, retries or re-check: threadcore / floor is what those cost, and
floor / SQL alone is what the data's own Python work costs, the most threadcore / SQL alone can
reach with these records and codecs. Issue 24's targets: threadcore / its SQL alone at least 0.85
per command and 0.6 in bulk, printed as the median (min-max) of the rounds' ratios (each round
runs every contender once, interleaved, on fresh files), by elapsed time and by the process's CPU
time (steadier on a shared machine: it leaves out the waits for a core).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ticking import TickingClock

from threadcore import Directory, Inbox, Resource, SQLiteRepository
from threadcore.adapters import _sqlite_uow as uow
from threadcore.adapters._sql import (
    THREAD_COLUMNS,
    THREAD_STATE_COLUMNS,
    event_to_json,
    message_to_row,
    thread_from_row,
    thread_state_row,
    thread_to_row,
    time_from_text,
    time_to_text,
)
from threadcore.adapters.sqlite import _PRAGMAS
from threadcore.domain import transitions as tx
from threadcore.domain.content import TEXT, check_content
from threadcore.domain.events import Event
from threadcore.domain.messaging import keyword_of
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Message,
    Policy,
    Thread,
    make_message,
)
from threadcore.domain.validation import check_pair
from threadcore.ids import RandomIds

#: The adapter's connection settings, for raw as well: the adapter switches the journal to WAL
#: apart from its other pragmas (``_enter_wal``), so raw names it here. Without it raw committed
#: in rollback-journal mode, 20-50x slower, and the bench printed threadcore faster than raw
#: (issue 24).
SETTINGS = ("PRAGMA journal_mode=WAL", *_PRAGMAS)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TICK = timedelta(microseconds=1)
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
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
    inbox = Inbox(repository=repo, directory=directory, clock=TickingClock(START))
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


Loop = Callable[[SQLiteRepository, list[str], bool], float]


def _on_file(loop: Loop, path: Path, work: list[str], bulk: bool) -> float:
    """``loop`` on a repository of a fresh file at ``path``: its seconds (opening excluded)."""
    repo = SQLiteRepository(path)
    try:
        return loop(repo, work, bulk)
    finally:
        repo.close()


def threadcore(path: Path, work: list[str], bulk: bool) -> float:
    """threadcore's ``Inbox.receive`` on a SQLite file. Returns seconds."""
    return _on_file(_receive_all, path, work, bulk)


def _record(loop: Loop, work: list[str], bulk: bool) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements ``loop`` runs for ``work``, on a scratch file."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = SQLiteRepository(Path(tmp) / "record.db")
        recorder = _Recorder(repo._conn)
        repo._conn = recorder  # type: ignore[assignment]
        loop(repo, work, bulk)
        repo._conn = recorder.conn
        repo.close()
    return recorder.log


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
        _recorded[key] = _record(_receive_all, work, bulk)
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


_STATE_COLUMNS = range(len(THREAD_STATE_COLUMNS))


def _write(
    execute: Callable[..., sqlite3.Cursor],
    new: Thread,
    version: int,
    stored: tuple[Any, ...] | None,
    message: Message,
    events: Sequence[Event],
    bulk: bool,
) -> tuple[Any, ...]:
    """The floors' writes of one command, threadcore's statements: the thread (inserted, or
    its state columns that differ from ``stored`` set where it is at ``version``), the message
    with its non-NULL columns, the events, in a savepoint in bulk; then its commit. Returns the
    thread's row as written: all of it when inserted, its state columns when updated."""
    if bulk:
        execute("SAVEPOINT threadcore_command")
    if stored is None:
        written = thread_to_row(new, time_to_text)
        execute(uow._INSERT_THREAD, written)
    else:
        written = thread_state_row(new, time_to_text)
        changed = tuple([i for i in _STATE_COLUMNS if written[i] != stored[i]])
        params = (*[written[i] for i in changed], new.id, version)
        execute(uow._update_thread(changed), params)
    values = message_to_row(message, time_to_text)
    present = tuple([i for i, value in enumerate(values) if value is not None])
    execute(uow._insert_message(present), [values[i] for i in present])
    for event in events:
        execute(uow._INSERT_EVENT, (event.thread_id, *event_to_json(event)))
    execute("RELEASE threadcore_command" if bulk else "COMMIT")
    return written


def _floor_loop(repo: SQLiteRepository, work: list[str], bulk: bool) -> float:
    """The same statements as threadcore, with the same row and record work, in one plain loop:
    the claim's row decoded into a ``Thread``, the ``Message`` and the thread's next state made
    by the domain's own makers and transition, the rows and the events' JSON written by the
    adapter's codecs. No validation, runner, unit of work, buffers or retries: what is left of
    threadcore's Python once everything but the data's own work is gone. Returns seconds."""
    execute = repo._conn.execute
    ids = RandomIds()
    resource = Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])
    inbound, alive, received = Direction.INBOUND, Availability.ALIVE, DeliveryStatus.RECEIVED
    state_at = len(THREAD_COLUMNS) - len(THREAD_STATE_COLUMNS)
    now = START
    t0 = time.perf_counter()
    if bulk:
        execute("BEGIN IMMEDIATE")
    for guest in work:
        now += _TICK  # (as threadcore's clock: bench/ticking.py)
        if not bulk:
            execute("BEGIN IMMEDIATE")
        row = execute(uow._CLAIM_PAIR, (OWNER, guest)).fetchone()
        if row[1] is None:
            thread, opened = tx.open_thread(ids.new_id(), resource, OWNER, guest, None, None, now)
            stored = None
        else:
            thread, opened = thread_from_row(row[1:], time_from_text), None
            stored = row[1 + state_at :]
        message = make_message(ids.new_id(), thread.id, inbound, "Hi", guest, OWNER, None, now,
                               now, alive, None, received, None, None, None, None, False, None,
                               TEXT, (), (), None, 1)  # fmt: skip
        new, added = tx.add_message(thread, message)
        events = (added,) if opened is None else (opened, added)
        _write(execute, new, thread.version, stored, message, events, bulk)
    if bulk:
        execute("COMMIT")
    return time.perf_counter() - t0


def floor(path: Path, work: list[str], bulk: bool) -> float:
    """:func:`_floor_loop` on a fresh file. Returns seconds."""
    return _on_file(_floor_loop, path, work, bulk)


def _checked_loop(repo: SQLiteRepository, work: list[str], bulk: bool) -> float:
    """:func:`_floor_loop` plus the checks the rules make on every inbound message, which any
    correct implementation makes too, each by the domain's own function and inline, with no
    layer around it: the numbers' form (E.164: ``check_pair``, whose parse is cached
    per number as threadcore's is), the body (``check_content``: a non-blank text within the
    policy's length), the keyword that would change the pair's opt-out (rule M7:
    ``keyword_of``; the workload's body is none, so the opt-out is neither read nor written,
    as in threadcore), the owner number's resource (the directory's lookup: an unknown number
    is refused), the clock floor (rule R18a: the instant after the latest stored one, which the
    claim reads), and the open thread's TTL (rule R10: ``catch_up``; none is due here, as none
    is in threadcore's run). The events are made as in the floor. Like threadcore (and unlike
    the plain floor), it keeps each thread it wrote with the row it wrote and answers a claimed
    row equal to it with that thread, not a decode: no more row work than threadcore's. The
    same statements as threadcore (checked like the floor's). Returns seconds."""
    execute = repo._conn.execute
    ids = RandomIds()
    resource = Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])
    directory = Directory([resource])
    policy = Policy()
    ttl = policy.ttl
    inbound, alive, received = Direction.INBOUND, Availability.ALIVE, DeliveryStatus.RECEIVED
    state_at = len(THREAD_COLUMNS) - len(THREAD_STATE_COLUMNS)
    decoded: dict[str, tuple[tuple[Any, ...], Thread]] = {}  # row as written, its thread
    now = START
    t0 = time.perf_counter()
    if bulk:
        execute("BEGIN IMMEDIATE")
    for guest_number in work:
        owner, guest = check_pair(OWNER, guest_number)
        body = "Hi"
        check_content(body, (), TEXT, False, None, policy)
        keyword = keyword_of(body, policy)
        owned = directory.resource_for_number(owner)
        if owned is None:
            raise SystemExit(f"{owner} belongs to no resource")
        now += _TICK  # (as threadcore's clock: bench/ticking.py)
        if not bulk:
            execute("BEGIN IMMEDIATE")
        row = execute(uow._CLAIM_PAIR, (owner, guest)).fetchone()
        latest = row[0]
        if latest is not None and time_from_text(latest) >= now:  # the clock floor
            now = time_from_text(latest) + _TICK
        events: list[Event] = []
        if row[1] is None:
            thread, opened = tx.open_thread(ids.new_id(), owned, owner, guest, None, None, now)
            stored = None
            events.append(opened)
        else:
            stored_row = row[1:]
            known = decoded.get(row[1])
            thread = (
                known[1]
                if known is not None and known[0] == stored_row
                else thread_from_row(stored_row, time_from_text)
            )
            stored = row[1 + state_at :]
            thread, expired = tx.catch_up(thread, now, ttl)
            if expired is not None:
                raise SystemExit("no thread of the workload expires")
        message = make_message(ids.new_id(), thread.id, inbound, body, guest, owner, None, now,
                               now, alive, None, received, None, None, None, None, False, None,
                               TEXT, (), (), keyword, 1)  # fmt: skip
        new, added = tx.add_message(thread, message)
        events.append(added)
        written = _write(execute, new, thread.version, stored, message, events, bulk)
        decoded[new.id] = (written if stored is None else row[1 : 1 + state_at] + written, new)
    if bulk:
        execute("COMMIT")
    return time.perf_counter() - t0


def checked(path: Path, work: list[str], bulk: bool) -> float:
    """:func:`_checked_loop` on a fresh file. Returns seconds."""
    return _on_file(_checked_loop, path, work, bulk)


def check_floor(work: list[str], bulk: bool, loop: Loop = _floor_loop) -> None:
    """Refuse a floor (``loop``: :func:`_floor_loop` or :func:`_checked_loop`) that does not run
    threadcore's statements: the same texts in the same order, the same parameters but for the
    ids (fresh on each side) and the instants."""

    def shape(log: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
        def blank(p: object) -> str:
            return _INSTANT.sub("<at>", _UUID.sub("<id>", str(p)))

        return [(sql, tuple(blank(p) for p in params)) for sql, params in log]

    ours, theirs = shape(_record(loop, work, bulk)), shape(statements(work, bulk))
    if ours != theirs:
        pairs = enumerate(zip(ours, theirs, strict=False))
        first = next((i for i, (a, b) in pairs if a != b), min(len(ours), len(theirs)))
        raise SystemExit(f"the floor's statements differ from threadcore's at {first}: "
                         f"{ours[first:first + 1]} != {theirs[first:first + 1]}")  # fmt: skip


def paired(
    fns: tuple[Callable[[Path, list[str], bool], float], ...],
    work: list[str],
    bulk: bool,
    repeat: int,
) -> tuple[list[list[float]], list[list[float]]]:
    """``repeat`` rounds of each, interleaved, each on a fresh file: the seconds of each
    contender in each round, and the CPU seconds this process spent on each run (its setup
    included: opening the file and making the schema: a few milliseconds). On a
    shared machine the CPU time is the steadier measure: it leaves out the time the process
    waited for a core."""
    rounds, cpu = [], []
    for _ in range(repeat):
        times, spent = [], []
        for fn in fns:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.process_time()
                times.append(fn(Path(tmp) / "bench.db", work, bulk))
                spent.append(time.process_time() - start)
        rounds.append(times)
        cpu.append(spent)
    return rounds, cpu


def _spread(values: list[float]) -> str:
    """``median (min-max)``."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


#: What threadcore's rate must reach against its own SQL alone (issue 24).
TARGETS = {False: 0.85, True: 0.6}


#: What ``--count`` runs in a child under valgrind: each contender (``record``: threadcore's
#: statements recorded and nothing else, subtracted from ``sql_alone``, which records them first).
COUNTED = ("threadcore", "sql_alone", "floor", "checked", "record")


def _child(name: str, pairs: int, messages: int, bulk: bool) -> None:
    """Run contender ``name`` once over ``messages`` messages, on a fresh file."""
    work = workload(pairs, messages)
    if name in ("sql_alone", "record"):
        statements(work, bulk)
        if name == "record":
            return
    run = {"threadcore": threadcore, "sql_alone": sql_alone, "floor": floor, "checked": checked}
    with tempfile.TemporaryDirectory() as tmp:
        run[name](Path(tmp) / "bench.db", work, bulk)


def count(pairs: int, messages: int) -> None:
    """Print each contender's instructions per message (valgrind), and the ratios to threadcore's
    SQL alone they give: a count repeats within 1% from run to run, where timings on a shared
    machine differ by 10-30%. It counts work, not time (no cache misses, no waits), so it ranks
    the Python each side runs and leaves the timed rounds the judges of speed."""
    from bench_instructions import instructions

    def counted(run: tuple[str, int, bool]) -> int:
        name, n, bulk = run
        args = ["--child", name, "--pairs", str(pairs), "--messages", str(n)]
        return instructions([__file__, *args, *(["--bulk"] if bulk else [])])

    runs = [(name, n, bulk) for bulk in (False, True) for name in COUNTED for n in (0, messages)]
    with ThreadPoolExecutor(2) as pool:  # two children at a time (two cores here)
        found = dict(zip(runs, pool.map(counted, runs), strict=True))
    print(f"SQLite inbound, {pairs:,} pairs, {messages:,} messages: instructions per message "
          "(valgrind; each side's run of no message subtracted)")  # fmt: skip
    shown = {"threadcore": "threadcore", "sql_alone": "its SQL alone", "floor": "floor",
             "checked": "floor with the rules' checks"}  # fmt: skip
    for label, bulk in (("one transaction per command", False), ("bulk, one transaction", True)):
        each = {
            name: (found[name, messages, bulk] - found[name, 0, bulk]) / messages
            for name in COUNTED
        }
        each["sql_alone"] -= each.pop("record")  # the replay alone
        print(f"  {label}:")
        for name, title in shown.items():
            print(f"    {title:30s} {each[name]:10,.0f} instructions/message  "
                  f"SQL alone / it: {each['sql_alone'] / each[name]:.3f}")  # fmt: skip
        print(f"    (target: threadcore at {TARGETS[bulk]} of its SQL alone, i.e. at most "
              f"{each['sql_alone'] / TARGETS[bulk]:,.0f} instructions/message)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--count", action="store_true", help="count instructions (valgrind) instead of timing"
    )
    parser.add_argument("--child", choices=COUNTED, help=argparse.SUPPRESS)
    parser.add_argument("--bulk", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.pairs, args.messages, args.bulk)
        return
    if args.count:
        count(args.pairs, args.messages)
        return
    work = workload(args.pairs, args.messages)
    print(f"SQLite inbound, {args.pairs:,} pairs, {len(work):,} messages, {args.repeat} rounds "
          f"(load average {os.getloadavg()[0]:.1f}); settings on every side:")  # fmt: skip
    print("  " + ", ".join(pragma.removeprefix("PRAGMA ") for pragma in SETTINGS))
    for label, bulk in (("one transaction per command", False), ("bulk, one transaction", True)):
        statements(work, bulk)  # recorded before the timing
        check_floor(work, bulk)
        check_floor(work, bulk, _checked_loop)
        contenders = (raw, threadcore, sql_alone, floor, checked)
        rounds, cpu = paired(contenders, work, bulk, args.repeat)
        raw_s, core_s, sql_s, floor_s, checked_s = (
            min(column) for column in zip(*rounds, strict=True)
        )
        raw_rate, core_rate, sql_rate, floor_rate, checked_rate = (
            len(work) / s for s in (raw_s, core_s, sql_s, floor_s, checked_s)
        )
        print(f"  {label} (best of {args.repeat}; ratios: median (min-max) of the rounds):")
        print(f"    raw sqlite3:             {raw_rate:10,.0f} messages/s")
        print(f"    threadcore:              {core_rate:10,.0f} messages/s")
        print(f"    threadcore's SQL alone:  {sql_rate:10,.0f} messages/s  (the schema's floor)")
        print(f"    floor (same SQL, records, one loop): {floor_rate:10,.0f} messages/s")
        print(f"    floor with the rules' checks:        {checked_rate:10,.0f} messages/s")
        print(f"    ratio threadcore/raw: 1/{raw_rate / core_rate:.2f}  (target: 1/3 or better)")
        print(f"    ratio SQL alone/raw:  1/{raw_rate / sql_rate:.2f}")
        for measure, runs in (("elapsed", rounds), ("CPU time", cpu)):
            own = [sql / core for _, core, sql, _, _ in runs]
            print(f"    by {measure}:")
            print(f"      threadcore / its SQL alone: {_spread(own)}  (target: {TARGETS[bulk]})")
            print(f"      floor / SQL alone:          {_spread([s / f for _, _, s, f, _ in runs])}")
            print(f"      checked / SQL alone:        {_spread([s / k for _, _, s, _, k in runs])}"
                  "  (the floor with the rules' checks)")  # fmt: skip
            print(f"      threadcore / floor:         {_spread([f / c for _, c, _, f, _ in runs])}")
            print(f"      threadcore / checked:       {_spread([k / c for _, c, _, _, k in runs])}")


if __name__ == "__main__":
    main()
