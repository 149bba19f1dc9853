"""Every benchmark side by side in one run; writes docs/performance.md and docs/performance.png.

    python bench/run_all.py [--quick] [--no-postgres] [--out docs] [--report-only]

Same workload, same run, for: the limits (the bare dict-and-list loop of ``bench_receive``, the
floors of ``bench_floor`` (one built with plain attrs records of its own), raw ``sqlite3`` per
command and batched from ``bench_sqlite``, the fair raw psycopg and the one-call limit of
``bench_postgres`` / ``pg_baselines``),
the peer (``peer_eventsourcing``: the rule on the ``eventsourcing`` library, default settings,
POPO / SQLite / PostgreSQL persistence) and threadcore (memory, SQLite, PostgreSQL).

Measured:
* throughput of inbound messages on 10,000 pairs (PostgreSQL: one worker, 200 pairs), best of
  ``--repeat`` interleaved runs, and the ratios to each baseline;
* cost per message against thread length: the marginal cost of more messages on threads that
  already hold 10 .. 10,000 messages (memory);
* cost per message against stored threads: inbound messages on threads of a store holding
  10,000 .. 1,000,000 threads (memory and SQLite; ``--quick`` stops at 100,000);
* peak memory per million stored messages in memory (the peak RSS growth of a child process
  that receives them; ``--quick`` receives 200,000 and scales).

The report also describes every baseline (what it does and does not do) and embeds the figures
of the benchmarks run on their own when their files are in ``--out``: ``bench_postgres.py --out
docs/performance-fair-raw.md``, ``bench_pg_creation.py --out docs/performance-creation.md`` and
``bench_http_load.py --out docs/performance-http.md``; ``--report-only`` writes the report of the
last run (``bench/results.json``) again with them.

The stores for the stored-threads series are built directly through each side's storage
(threadcore: the repository's unit of work with the pure transitions, as ``bench_queries``
does; the peer: aggregates saved in bulk), then measured through the public APIs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_floor  # noqa: E402
import bench_receive  # noqa: E402
import bench_sqlite  # noqa: E402
from peer_eventsourcing import PeerInbox  # noqa: E402
from ticking import TickingClock  # noqa: E402

from threadcore import (  # noqa: E402
    Directory,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    Resource,
    SQLiteRepository,
)
from threadcore.domain import transitions as tx  # noqa: E402

START = bench_receive.START
OWNER = bench_receive.OWNER
TTL = bench_receive.TTL
PAIRS = 10_000
FAIR_RAW = "fair raw psycopg (2 round trips)"
ONE_CALL = "one-call limit (plpgsql, 1 round trip)"
RESOURCE = Resource("6249888001", name="Billing", phone_numbers=[OWNER], handlers=["101"])


def guest(i: int) -> str:
    return f"+1650{2240000 + i:07d}"


def inbox_on(repository: Any) -> Inbox:
    return Inbox(
        repository=repository,
        directory=Directory([RESOURCE]),
        clock=TickingClock(START),
        policy=Policy(ttl=TTL),
    )


def best_of(runs: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Best seconds of each callable over ``repeat`` interleaved rounds."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            best[name] = min(best[name], run())
    return best


def peer_loop(work: list[str], env: dict[str, str] | None = None) -> float:
    app = PeerInbox(env=env)
    receive = app.receive
    t0 = time.perf_counter()
    for g in work:
        receive(OWNER, g, "Hi", START)
    elapsed = time.perf_counter() - t0
    app.close()
    return elapsed


def peer_sqlite(work: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/peer.db"}
        return peer_loop(work, env)


def sqlite_run(fn: Callable[[Path, list[str], bool], float], work: list[str], bulk: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return fn(Path(tmp) / "bench.db", work, bulk)


# --- 1. throughput ----------------------------------------------------------------------------
def throughput(args: argparse.Namespace, results: dict[str, Any]) -> None:
    n_mem = 40_000 if args.quick else 200_000
    n_peer = 20_000 if args.quick else 60_000
    n_sql = 5_000 if args.quick else 20_000
    mem_work = bench_receive.workload(PAIRS, n_mem)
    peer_work = bench_receive.workload(PAIRS, n_peer)
    sql_work = bench_receive.workload(PAIRS, n_sql)
    print(f"throughput: memory ({n_mem:,} messages; peer {n_peer:,}), {PAIRS:,} pairs", flush=True)
    mem = best_of(
        {
            "bare loop": lambda: bench_receive.bare_loop(mem_work) / n_mem,
            "threadcore memory": lambda: bench_receive.threadcore_loop(mem_work) / n_mem,
            "floor, today's records": lambda: bench_floor.floor_records(mem_work) / n_mem,
            "floor, plain attrs records": lambda: bench_floor.floor_attrs(mem_work) / n_mem,
            "floor, mutable thread state": lambda: bench_floor.floor_mutable(mem_work) / n_mem,
            "floor, mutable, input checked": lambda: bench_floor.floor_checked(mem_work) / n_mem,
            "floor, the rules' work": lambda: bench_floor.floor_rules(mem_work) / n_mem,
            "threadcore's layers alone": lambda: bench_floor.threadcore_layers(mem_work) / n_mem,
            "peer memory (POPO)": lambda: peer_loop(peer_work) / n_peer,
        },
        args.repeat,
    )
    print(f"throughput: SQLite ({n_sql:,} messages)", flush=True)
    for bulk in (False, True):
        bench_sqlite.statements(sql_work, bulk)  # recorded before the timing
    sql = best_of(
        {
            "raw sqlite3 per command": lambda: sqlite_run(bench_sqlite.raw, sql_work, False),
            "raw sqlite3 batched": lambda: sqlite_run(bench_sqlite.raw, sql_work, True),
            "threadcore SQLite per command": lambda: sqlite_run(
                bench_sqlite.threadcore, sql_work, False
            ),
            "threadcore SQLite batched": lambda: sqlite_run(
                bench_sqlite.threadcore, sql_work, True
            ),
            "threadcore's SQL alone per command": lambda: sqlite_run(
                bench_sqlite.sql_alone, sql_work, False
            ),
            "threadcore's SQL alone batched": lambda: sqlite_run(
                bench_sqlite.sql_alone, sql_work, True
            ),
            "floor: threadcore's statements, a plain loop, per command": lambda: sqlite_run(
                bench_sqlite.floor, sql_work, False
            ),
            "floor: threadcore's statements, a plain loop, batched": lambda: sqlite_run(
                bench_sqlite.floor, sql_work, True
            ),
            "floor with the rules' checks, per command": lambda: sqlite_run(
                bench_sqlite.checked, sql_work, False
            ),
            "floor with the rules' checks, batched": lambda: sqlite_run(
                bench_sqlite.checked, sql_work, True
            ),
            "peer SQLite": lambda: peer_sqlite(sql_work),
        },
        args.repeat,
    )
    rates = {name: 1 / seconds for name, seconds in mem.items()}
    rates.update({name: n_sql / seconds for name, seconds in sql.items()})
    results["throughput"] = rates
    results["sizes"] = {"memory": n_mem, "peer memory": n_peer, "sqlite": n_sql}


def postgres(args: argparse.Namespace, results: dict[str, Any]) -> None:
    import bench_postgres

    server = None
    url = os.environ.get("THREADCORE_TEST_POSTGRES_URL")
    if not url:
        sys.path.insert(0, str(HERE.parent / "tests"))
        pg_server = importlib.import_module("pg_server")
        try:
            server = pg_server.start()
        except Exception as error:
            print(f"PostgreSQL skipped: {error}", flush=True)
            return
        url = server.url
    messages, pairs = (300, 200) if args.quick else (800, 200)
    print(f"throughput: PostgreSQL, 1 worker ({messages:,} messages, {pairs} pairs)", flush=True)
    try:
        import psycopg

        def peer() -> float:
            schema = f"peer_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            parts = urlsplit(url)
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": parts.path.lstrip("/"),
                "POSTGRES_HOST": parts.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parts.port or 5432),
                "POSTGRES_USER": parts.username or "postgres",
                "POSTGRES_PASSWORD": parts.password or "",
                "POSTGRES_SCHEMA": schema,
            }
            work = bench_postgres.guests(0, pairs, messages)
            app = PeerInbox(env=env)
            app.receive(OWNER, "+16509999999", "warm-up", START)
            t0 = time.perf_counter()
            for g in work:
                app.receive(OWNER, g, "Hi", START)
            elapsed = time.perf_counter() - t0
            app.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            return messages / elapsed

        kinds = {"raw": FAIR_RAW, "onecall": ONE_CALL, "threadcore": "threadcore PostgreSQL"}
        got: dict[str, list[float]] = {name: [] for name in (*kinds.values(), "peer PostgreSQL")}
        for _ in range(args.repeat):  # interleaved rounds; the median of each
            for kind, name in kinds.items():
                got[name].append(bench_postgres.run(kind, url, 1, messages, pairs)[0])
            got["peer PostgreSQL"].append(peer())
        best = {name: statistics.median(rates) for name, rates in got.items()}
        results["postgres_ratios"] = {
            name: [c / r for c, r in zip(got[name], got[FAIR_RAW], strict=True)]
            for name in ("threadcore PostgreSQL", ONE_CALL)
        }
        results["throughput"].update(best)
        results["sizes"]["postgres"] = messages
    finally:
        if server is not None:
            server.stop()


# --- 2. thread length -------------------------------------------------------------------------
def thread_length(args: argparse.Namespace, results: dict[str, Any]) -> None:
    lengths = [10, 100, 1_000, 10_000]
    threads = 5
    more = 200 if args.quick else 1_000
    peer_more = (
        {10: 500, 100: 500, 1_000: 100, 10_000: 20}
        if args.quick
        else {10: 2_000, 100: 1_000, 1_000: 300, 10_000: 60}
    )
    series: dict[str, dict[int, float]] = {"threadcore memory": {}, "peer memory (POPO)": {}}
    print(f"thread length: {lengths} messages a thread", flush=True)
    for length in lengths:
        guests = [guest(i) for i in range(threads)]

        def core(length: int = length, guests: list[str] = guests) -> float:
            inbox = inbox_on(InMemoryRepository())
            receive = inbox.receive
            for i in range(length * threads):
                receive(owner_number=OWNER, guest_number=guests[i % threads], body="Hi")
            t0 = time.perf_counter()
            for i in range(more):
                receive(owner_number=OWNER, guest_number=guests[i % threads], body="Hi")
            return (time.perf_counter() - t0) / more

        def peer(length: int = length, guests: list[str] = guests) -> float:
            app = PeerInbox()
            for g in guests:
                app.store(OWNER, [g], START, messages=length)
            count = peer_more[length]
            t0 = time.perf_counter()
            for i in range(count):
                app.receive(OWNER, guests[i % threads], "Hi", START)
            return (time.perf_counter() - t0) / count

        got = best_of({"threadcore memory": core, "peer memory (POPO)": peer}, args.repeat)
        for name, seconds in got.items():
            series[name][length] = seconds
    results["thread_length"] = series


# --- 3. stored threads ------------------------------------------------------------------------
def build_threadcore(repository: Any, size: int) -> None:
    """``size`` open threads, one message old, on guests 0..size-1 (not due during the run)."""
    created = START - timedelta(hours=1)
    chunk = 50_000
    for first in range(0, size, chunk):
        with repository.unit_of_work() as uow:
            for i in range(first, min(size, first + chunk)):
                thread, _ = tx.open_thread(
                    f"t{i:09d}", RESOURCE, OWNER, guest(i), None, None, created
                )
                uow.save_thread(thread, 0)


def build_peer(app: PeerInbox, size: int) -> None:
    created = START - timedelta(hours=1)
    chunk = 10_000
    for first in range(0, size, chunk):
        app.store(OWNER, [guest(i) for i in range(first, min(size, first + chunk))], created)


def stored_threads(args: argparse.Namespace, results: dict[str, Any]) -> None:
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    sqlite_sizes = [10_000, 100_000]
    count = 5_000 if args.quick else 20_000
    peer_count = 2_000 if args.quick else 5_000
    sql_count = 2_000 if args.quick else 5_000
    series: dict[str, dict[int, float]] = {
        "threadcore memory": {},
        "peer memory (POPO)": {},
        "threadcore SQLite": {},
        "peer SQLite": {},
    }
    for size in sizes:
        print(f"stored threads: {size:,}", flush=True)
        rng = random.Random(size)
        targets = [guest(rng.randrange(size)) for _ in range(max(count, peer_count))]
        sql = size in sqlite_sizes
        with tempfile.TemporaryDirectory() as tmp:
            stores: dict[str, Any] = {}
            t0 = time.perf_counter()
            core_repo = InMemoryRepository()
            build_threadcore(core_repo, size)
            stores["threadcore memory"] = inbox_on(core_repo)
            peer_app = PeerInbox()
            build_peer(peer_app, size)
            stores["peer memory (POPO)"] = peer_app
            if sql:
                sqlite_repo = SQLiteRepository(Path(tmp) / "core.db")
                build_threadcore(sqlite_repo, size)
                stores["threadcore SQLite"] = inbox_on(sqlite_repo)
                env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/p.db"}
                peer_sql = PeerInbox(env=env)
                build_peer(peer_sql, size)
                stores["peer SQLite"] = peer_sql
            print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)
            gc.collect()
            gc.freeze()
            position = 0
            for round_ in range(args.repeat):
                for name, store in stores.items():
                    n = (
                        count
                        if name == "threadcore memory"
                        else (sql_count if "SQLite" in name else peer_count)
                    )
                    work = targets[:n]
                    now = START + timedelta(seconds=round_ + 1)
                    t0 = time.perf_counter()
                    if isinstance(store, Inbox):
                        store_clock_set(store, now)
                        for g in work:
                            store.receive(owner_number=OWNER, guest_number=g, body="More")
                    else:
                        for g in work:
                            store.receive(OWNER, g, "More", now)
                    seconds = (time.perf_counter() - t0) / n
                    old = series[name].get(size, float("inf"))
                    series[name][size] = min(old, seconds)
                    position += 1
            gc.unfreeze()
            for store in stores.values():
                if isinstance(store, PeerInbox):
                    store.close()
            if sql:
                sqlite_repo.close()
            del stores, core_repo, peer_app
            gc.collect()
    results["stored_threads"] = series


def store_clock_set(inbox: Inbox, now: datetime) -> None:
    clock = inbox._clock  # the bench's own ManualClock
    assert isinstance(clock, ManualClock)
    clock.set(now)


# --- 4. memory --------------------------------------------------------------------------------
def rss_kib() -> int:
    """The resident set size now, in KiB (``ru_maxrss`` is no good here: a child process
    inherits its parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the peak


def memory_child(messages: int) -> None:
    """In a child process: receive ``messages`` on one pair per ten messages (100,000 pairs for a
    million, the same shape in --quick mode); print the RSS growth (the store keeps everything,
    so the RSS at the end is the peak of the run)."""
    work = bench_receive.workload(max(1, messages // 10), messages)
    gc.collect()
    before = rss_kib()
    inbox = inbox_on(InMemoryRepository())
    receive = inbox.receive
    for g in work:
        receive(owner_number=OWNER, guest_number=g, body="Hi, my bill looks too high")
    gc.collect()
    after = rss_kib()
    print(json.dumps({"messages": messages, "kib": after - before}))


def memory(args: argparse.Namespace, results: dict[str, Any]) -> None:
    messages = 200_000 if args.quick else 1_000_000
    print(f"memory: {messages:,} messages in memory", flush=True)
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(messages)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    results["memory"] = {
        "messages": messages,
        "mib": got["kib"] / 1024,
        "mib_per_million": got["kib"] / 1024 * 1_000_000 / messages,
    }


# --- the report -------------------------------------------------------------------------------
def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def write_report(args: argparse.Namespace, results: dict[str, Any], out: Path) -> None:
    rates: dict[str, float] = results["throughput"]
    lines = [
        "# Performance",
        "",
        "Generated by `python bench/run_all.py"
        + (" --quick" if args.quick else "")
        + "` (do not edit by hand; run it again).",
        f"Machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; {results['date']}; "
        f"best of {args.repeat} interleaved runs per figure (PostgreSQL: the median of "
        f"{args.repeat} interleaved rounds); load average {results.get('load', '?')} at the start.",
        "",
        "Every figure below comes from the same run on the same generated workload: inbound "
        "messages round-robin over 10,000 pairs (PostgreSQL: 200 pairs, one worker process). "
        "The peer is the same inbound-threading rule written on the `eventsourcing` library "
        f"({results['eventsourcing']}, default settings: no snapshots, no cache; "
        "`bench/peer_eventsourcing.py`). The floors (`bench/bench_floor.py`) are one inlined "
        "loop doing only what the public API obliges per message (a new id, the frozen `Message` "
        "that `receive` returns, the thread's state, an event), with no validation, unit of work, "
        "expiry index or function layers: no implementation of the API runs faster. "
        "The rows of threadcore's SQL alone replay the statements threadcore ran for the same "
        "workload on a fresh database of its schema, with no Python around them: the floor of "
        "its schema. The plain attrs floor does the work of the records floor with `@attrs.frozen` "
        "records of its own, not threadcore's record makers: a floor that does not slow down "
        "with them. The PostgreSQL baselines (`bench/pg_baselines.py`) run on threadcore's own "
        "schema (its migrations: every table, index and trigger) and store the same rows, events "
        "and `xid` stamps: the fair raw psycopg in threadcore's 2 round trips (begin and lock the "
        "pair's open thread `FOR UPDATE`; check its TTL in Python; write thread, message and "
        "events, commit; a unique violation retried), without threadcore's clock floor, advisory "
        "locks, validation, opt-out and keyword reads or records; the one-call limit is the same "
        "work as one plpgsql function (1 round trip), the schema's limit, reported, not a target. "
        "See [performance.md's baselines](#baselines) below.",
        "",
        "## Throughput",
        "",
        "| storage | contender | messages/s | threadcore's ratio to it |",
        "| --- | --- | ---: | ---: |",
    ]
    groups = [
        (
            "memory",
            "threadcore memory",
            [
                "bare loop",
                "floor, today's records",
                "floor, plain attrs records",
                "floor, mutable thread state",
                "floor, mutable, input checked",
                "floor, the rules' work",
                "threadcore's layers alone",
                "peer memory (POPO)",
            ],
        ),
        (
            "SQLite",
            "threadcore SQLite per command",
            [
                "raw sqlite3 per command",
                "threadcore's SQL alone per command",
                "floor: threadcore's statements, a plain loop, per command",
                "floor with the rules' checks, per command",
                "peer SQLite",
            ],
        ),
        (
            "SQLite, batched",
            "threadcore SQLite batched",
            [
                "raw sqlite3 batched",
                "threadcore's SQL alone batched",
                "floor: threadcore's statements, a plain loop, batched",
                "floor with the rules' checks, batched",
                "peer SQLite",
            ],
        ),
        ("PostgreSQL", "threadcore PostgreSQL", [FAIR_RAW, ONE_CALL, "peer PostgreSQL"]),
    ]
    for storage, core, others in groups:
        if core not in rates:
            continue
        lines.append(f"| {storage} | **{core}** | **{rates[core]:,.0f}** | |")
        for other in others:
            if other in rates:
                lines.append(
                    f"| {storage} | {other} | {rates[other]:,.0f} | "
                    f"{ratio(rates[core], rates[other])} |"
                )
    lines += [
        "",
        "## Targets (same-run ratios)",
        "",
        "| target | measured | met? |",
        "| --- | --- | --- |",
    ]

    def verdict(ok: bool | None) -> str:
        return "reported" if ok is None else "yes" if ok else "**no**"

    checks: list[tuple[str, str, bool | None]] = []
    if "bare loop" in rates:
        r = rates["bare loop"] / rates["threadcore memory"]
        checks.append(("≥ 1/6 of the bare loop in memory (issue 2)", f"1/{r:.1f}", r <= 6))
        checks.append(("≥ 1/19 of the bare loop in memory (issue 24)", f"1/{r:.1f}", r <= 19))
    if "floor, plain attrs records" in rates:
        r = rates["floor, plain attrs records"] / rates["threadcore memory"]
        checks.append(
            ("within 2x of the plain attrs floor in memory (issue 24)", f"{r:.2f}x", r <= 2)
        )
    if "peer memory (POPO)" in rates:
        r = rates["threadcore memory"] / rates["peer memory (POPO)"]
        checks.append(("≥ 25x the peer in memory (10,000 pairs)", f"{r:.1f}x", r >= 25))
    for mode, core in (("per command", "threadcore SQLite per command"),
                       ("batched", "threadcore SQLite batched")):  # fmt: skip
        if f"raw sqlite3 {mode}" in rates:
            r = rates[f"raw sqlite3 {mode}"] / rates[core]
            checks.append((f"≥ 1/3 of raw sqlite3 {mode} (issue 4)", f"1/{r:.1f}", r <= 3))
    for mode, target in (("per command", 0.85), ("batched", 0.6)):
        alone = f"threadcore's SQL alone {mode}"
        floor = f"floor: threadcore's statements, a plain loop, {mode}"
        checked = f"floor with the rules' checks, {mode}"
        if alone in rates and floor in rates:
            r = rates[f"threadcore SQLite {mode}"] / rates[alone]
            limit = f"the floor: {rates[floor] / rates[alone]:.2f}"
            if checked in rates:
                limit += f"; with the rules' checks: {rates[checked] / rates[alone]:.2f}"
            checks.append((f"≥ {target} of its SQL alone on SQLite, {mode} (issue 24; "
                           f"{limit})", f"{r:.2f}", r >= target))  # fmt: skip
    if "peer SQLite" in rates:
        r = rates["threadcore SQLite per command"] / rates["peer SQLite"]
        checks.append(("≥ 10x the peer on SQLite (per command)", f"{r:.1f}x", r >= 10))
    for name, ratios in results.get("postgres_ratios", {}).items():
        shown = (
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}), "
            f"median (min-max) of {len(ratios)} rounds"
        )
        if name == ONE_CALL:
            checks.append(("one-call limit / fair raw, 1 process (not a target)", shown, None))
        else:
            checks.append(("≥ 0.9 of the fair raw on PostgreSQL, 1 process (issue 24)", shown,
                           statistics.median(ratios) >= 0.9))  # fmt: skip
    if "peer PostgreSQL" in rates:
        r = rates["threadcore PostgreSQL"] / rates["peer PostgreSQL"]
        checks.append(("≥ 2x the peer on PostgreSQL (1 worker)", f"{r:.1f}x", r >= 2))
    stored = results.get("stored_threads", {})
    for storage, target in (("memory", 25), ("SQLite", 10)):
        core_name = f"threadcore {storage}"
        peer_name = "peer memory (POPO)" if storage == "memory" else "peer SQLite"
        sizes = sorted(set(stored.get(core_name, {})) & set(stored.get(peer_name, {})))
        if sizes:
            worst = min(stored[peer_name][s] / stored[core_name][s] for s in sizes)
            checks.append(
                (
                    f"≥ {target}x the peer on {storage} at every stored size "
                    f"({', '.join(f'{s:,}' for s in sizes)})",
                    f"worst {worst:.1f}x",
                    worst >= target,
                )
            )
    length = results.get("thread_length", {}).get("threadcore memory", {})
    if length:
        keys = sorted(length)
        growth = length[keys[-1]] / length[keys[0]]
        checks.append(
            (
                f"flat cost in thread length ({keys[0]:,} → {keys[-1]:,} messages)",
                f"{growth:.2f}x",
                growth < 1.5,
            )
        )
    if "memory" in results:
        mib = results["memory"]["mib_per_million"]
        checks.append(
            ("< 1 GiB per million stored messages in memory", f"{mib:,.0f} MiB", mib < 1024)
        )
    for name, measured, ok in checks:
        lines.append(f"| {name} | {measured} | {verdict(ok)} |")

    lines += ["", *BASELINES]
    for title, name, read in FRAGMENTS:
        fragment = out / name
        if fragment.exists():
            lines += ["", title, "", f"From [{name}]({name}), written by:", ""]
            lines += [fragment.read_text(encoding="utf-8").rstrip(), "", read]
    lines += [
        "",
        "## Cost per message against thread length (memory)",
        "",
        "The marginal cost of more inbound messages on 5 threads that already hold that many "
        "messages each. The peer rebuilds the thread from all its events on every load.",
        "",
        "| messages a thread | threadcore µs/message | peer µs/message | peer / threadcore |",
        "| ---: | ---: | ---: | ---: |",
    ]
    tl = results.get("thread_length", {})
    for length in sorted(tl.get("threadcore memory", {})):
        c = tl["threadcore memory"][length] * 1e6
        p = tl["peer memory (POPO)"][length] * 1e6
        lines.append(f"| {length:,} | {c:.1f} | {p:,.1f} | {p / c:,.0f}x |")
    lines += [
        "",
        "## Cost per message against stored threads",
        "",
        "Inbound messages on random stored threads of a store that holds that many open "
        "threads."
        + (
            " `--quick` stops at 100,000 stored threads; the full run goes to 1,000,000 in memory."
            if args.quick
            else " SQLite is measured up to 100,000 stored threads (building a million-thread "
            "store on both sides takes longer than the rest of the run)."
        ),
        "",
        "| stored threads | threadcore memory µs | peer memory µs | ratio | threadcore SQLite µs "
        "| peer SQLite µs | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    st = results.get("stored_threads", {})
    for size in sorted(st.get("threadcore memory", {})):
        cells = []
        for core_name, peer_name in (
            ("threadcore memory", "peer memory (POPO)"),
            ("threadcore SQLite", "peer SQLite"),
        ):
            c, p = st[core_name].get(size), st[peer_name].get(size)
            if c is None or p is None:
                cells += ["-", "-", "-"]
            else:
                cells += [f"{c * 1e6:.1f}", f"{p * 1e6:.1f}", f"{p / c:.1f}x"]
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    if "memory" in results:
        m = results["memory"]
        lines += [
            "",
            "## Memory",
            "",
            f"RSS growth of a process that receives {m['messages']:,} messages on "
            f"{m['messages'] // 10:,} pairs (ten a thread) into the memory repository: "
            f"{m['mib']:,.0f} MiB, "
            f"**{m['mib_per_million']:,.0f} MiB per million messages**"
            + (" (scaled from the quick run's 200,000)." if args.quick else "."),
        ]
    lines += [
        "",
        "## Elsewhere",
        "",
        "Measured by their own benchmarks, with the command that produced each figure: PostgreSQL "
        "at scale, in bulk and with several instances in [postgres.md](postgres.md); the REST "
        "API served by `threadcore serve` under concurrent clients on PostgreSQL, next to a "
        "no-op endpoint in the same run (`bench/bench_http_load.py`), in "
        "[http.md](http.md#under-load).",
    ]
    lines += ["", "![cost per message](performance.png)", ""]
    (out / "performance.md").write_text("\n".join(lines), encoding="utf-8")


#: What each baseline does and does not do (issue 24), in the report.
BASELINES = [
    "## Baselines",
    "",
    "threadcore's side runs on a clock that ticks a microsecond per reading (`bench/ticking.py`), "
    "as a real clock's readings differ between commands. Under a frozen clock every command runs "
    "at the store's latest instant, where rule Q2 has it read the ids created then "
    "(`CreationTies`: one statement more on SQLite and PostgreSQL); `bench_stored_clock.py` "
    "measures that case. With several processes (`bench_postgres.py`) each process's ticking "
    "clock would stay behind the store's latest instant and read it exactly (about 40% of the "
    "receives at 4 processes took that path, a round trip more and some reruns), which the "
    "processes of one host sharing a real clock almost never do: its threadcore workers read the "
    "system clock (`--clock system`, the default; `--clock ticking` for the other), and so do "
    "this report's PostgreSQL rows and `bench_pg_creation.py`.",
    "",
    "- **bare loop** (`bench_receive.bare_loop`): dicts and lists, no ids, no records, no events, "
    "no validation: the limit of any Python in-memory threading.",
    "- **floors** (`bench_floor`): one inlined loop doing what the API obliges per message (an id, "
    "the frozen `Message` returned, the thread's state, an event), no validation, unit of work or "
    "expiry index. *today's records* uses threadcore's record makers; *plain attrs records* the "
    "same work with `@attrs.frozen` classes of its own (independent of threadcore's makers: the "
    "floor threadcore's memory receive is held to within 2x); *mutable* keeps the thread's state "
    "in a list. *the rules' work* (`floor_rules`) adds, still inlined, what the rules and the "
    "reads need of every receive: the input checks and the keyword, the owner number's "
    "resource, the clock validated and never before the latest instant used or the store's "
    "(R18, R18a, Q2's tie told), the due check before and, with a second clock reading, after "
    "(R10), a new thread's `ThreadOpened` and index entries, the change order, the expiry "
    "hour, the message order. *threadcore's layers alone* (`threadcore_layers`) is the other "
    "half: threadcore's runner and memory unit of work around a handler that does nothing, no "
    "checks, records or indexes.",
    "- **raw sqlite3** (`bench_sqlite.raw`): the least a correct SQLite implementation writes per "
    "message, with the adapter's pragmas (WAL); **threadcore's SQL alone**: the statements "
    "threadcore ran, replayed with no Python around them (the floor of its schema); **the floor** "
    "(`bench_sqlite.floor`): those very statements issued by one plain loop doing the same row "
    "and record work (the domain's makers, the adapter's codecs, new ids), and nothing else: "
    "what any implementation on this schema and these records costs; **the floor with the "
    "rules' checks** (`bench_sqlite.checked`): the floor plus the checks every correct "
    "implementation makes per message, each by the domain's own function called inline (the "
    "numbers' form, the body, the keyword that would change the pair's opt-out, the owner "
    "number's resource, the clock floor the claim reads, the open thread's TTL), with no runner, "
    "unit of work, buffers or retries (targets: threadcore at 0.85 of its SQL alone per command, "
    "0.6 batched; the floors' own ratios show whether they can be met, and "
    "`bench_sqlite.py --count` counts each side's instructions per message, which repeat within "
    "1% where timings on a shared machine do not).",
    "- **fair raw psycopg** (`pg_baselines.FairRaw`): threadcore's own schema (its migrations: "
    "every index and trigger), the same rows, events and `xid` stamps, the same correct work (the "
    "pair's open thread locked `FOR UPDATE`, its TTL checked, a unique violation retried) in the "
    "same 2 round trips (pipelines). It does not read the clock floor, take advisory locks (the "
    "pair's claim, the walks' gate), validate, read opt-outs or build records: threadcore's "
    "ratio to it is what those cost. Target: 0.9 (hot pair 0.7).",
    "- **the fair raw's ladder** (`FairRaw(..., rules=pg_baselines.RULES[:n])`, "
    "`bench_postgres.py --ladder`): the fair raw with the statements threadcore sends for its "
    "rules added one rule at a time, in threadcore's own SQL and round trip (the claim's): "
    "`+ claim`, the pair's advisory lock in place of the row lock (R1, R18a); `+ gate`, the "
    "walks' gate in that lock statement (Q2); `+ floor`, the latest stored instant in the read "
    "(R18a); `+ opt-out`, the pair's opt-out in the read (M7). Run in the same rounds on disjoint "
    "pairs: each rung's ratio to the fair raw is what the rules' statements cost, threadcore's "
    "ratio to the top rung the library's own cost (its Python, its record mapping, its writes' "
    "shape). `tests/test_bench_baselines.py` checks from libpq's trace that the top rung sends "
    "threadcore's statements and values, the thread's columns aside.",
    "- **one-call limit** (`pg_baselines.install_one_call`): the same work as one plpgsql "
    "function, 1 round trip: the schema's limit, reported, not a target (threadcore keeps its "
    "decisions in Python).",
    "- **HTTP** (`bench_http_load`): the served receive (`POST /threadcore/v1/carrier/inbound`) "
    "against the library's `Inbox.receive` at the same process count on the same database "
    "(target 0.8) and a raw Starlette endpoint doing the fair raw's SQL (`bench/raw_starlette.py`:"
    " no auth, no document checks, no platform JSON); `GET /health` stays the ceiling of the mix.",
    "- **peer** (`peer_eventsourcing`): the same rule on the `eventsourcing` library.",
]
#: The figures of the benchmarks run on their own, embedded when their file is there.
FRAGMENTS = [
    (
        "## PostgreSQL against the fair raw, 1 to 8 processes",
        "performance-fair-raw.md",
        "What the baselines do and what the ratios say: [postgres.md](postgres.md), "
        "*Several instances, against a fair raw*.",
    ),
    (
        "## Memory receive against the rules' floor and the layers (issue 24)",
        "performance-memory.md",
        "Where the memory receive's time goes: the rules' work inlined (`floor_rules`), "
        "threadcore's runner and unit of work alone (`threadcore_layers`), and threadcore, "
        "timed in the same process and counted under valgrind.",
    ),
    (
        "## Thread creation under a campaign's replies",
        "performance-creation.md",
        "Receives under way at once: the mean number of receives holding the walks' gate in the "
        "`pg_locks` samples (every 4 ms; more than 1: creations do not wait for each other); "
        "waiting: the mean number waiting for it (and share of the processes); wait per "
        "receive: that over the rate (Little's law). The mechanism and what it replaced: "
        "[postgres.md](postgres.md), *Creation without a global lock (Q2)*.",
    ),
    (
        "## HTTP: the served receive against the library and raw Starlette",
        "performance-http.md",
        "What each contender does: [http.md](http.md#under-load).",
    ),
]


def write_chart(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    rates = results["throughput"]
    names = list(rates)
    axes[0].barh(names, [rates[n] for n in names], color=[
        "tab:blue" if n.startswith("threadcore") else "tab:red" if n.startswith("peer")
        else "tab:gray" for n in names
    ])  # fmt: skip
    axes[0].set_xscale("log")
    axes[0].set_xlabel("messages/s (log)")
    axes[0].set_title("Throughput")
    for ax, key, xlabel in (
        (axes[1], "thread_length", "messages a thread"),
        (axes[2], "stored_threads", "stored threads"),
    ):
        for name, series in results.get(key, {}).items():
            if series:
                xs = sorted(series)
                ax.plot(xs, [series[x] * 1e6 for x in xs], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("µs per message (log)")
        ax.set_title(f"Cost per message vs {xlabel}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "performance.png", dpi=110)


def report_again(args: argparse.Namespace) -> None:
    """The report of the last run (``bench/results.json``), written again."""
    results = json.loads((HERE / "results.json").read_text())
    for series in ("thread_length", "stored_threads"):  # (JSON keys are text)
        for name, values in results.get(series, {}).items():
            results[series][name] = {int(k): v for k, v in values.items()}
    args.quick, args.repeat = results["run"]["quick"], results["run"]["repeat"]
    write_report(args, results, args.out)
    print((args.out / "performance.md").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--repeat", type=int, default=None, help="rounds (default 3; quick 2)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the report again from bench/results.json (with the other benchmarks' "
        "figures written since)",
    )
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.report_only:
        report_again(args)
        return
    if args.repeat is None:
        args.repeat = 2 if args.quick else 3
    from importlib.metadata import version

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "eventsourcing": f"eventsourcing {version('eventsourcing')}",
    }
    results["load"] = f"{os.getloadavg()[0]:.1f}"
    results["run"] = {"quick": args.quick, "repeat": args.repeat}
    t0 = time.perf_counter()
    memory(args, results)  # first, while this process is small
    throughput(args, results)
    if not args.no_postgres:
        postgres(args, results)
    thread_length(args, results)
    stored_threads(args, results)
    args.out.mkdir(parents=True, exist_ok=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_report(args, results, args.out)
    write_chart(results, args.out)
    print(f"done in {time.perf_counter() - t0:.0f} s: {args.out / 'performance.md'}")
    print((args.out / "performance.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
