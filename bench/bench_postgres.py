"""PostgreSQL inbound throughput: threadcore against the fair raw and the one-call limit, same run.

    python bench/bench_postgres.py [--url postgresql://...] [--messages 400] [--pairs 200]
                                   [--workers 1 4 8] [--rounds 5] [--hot] [--ladder]
                                   [--clock system|ticking]
    python bench/bench_postgres.py --count [--messages 1000]   # client instructions (valgrind)

Each worker is a process (spawn) with its own connection(s); workers receive on disjoint pairs
(``--pairs`` each, round-robin: the first message of each pair opens its thread), one transaction
per inbound message. ``--hot`` adds runs where every worker writes to the same pair (one customer,
every process): the pair's receives then wait for one another, in threadcore on the pair's claim,
in the baselines on the row lock.

The contenders, on fresh schemas made by threadcore's own migrations (``bench/pg_baselines.py``
says what each does and does not do):

* ``fair raw``: raw psycopg, the same rows and the same correct work in the same 2 round trips
  (lock the pair's open thread ``FOR UPDATE``, check its TTL, insert or update the thread with a
  unique violation retried, insert the message and its events). The target's baseline: threadcore
  at 0.9 of it or more (0.7 for the hot pair).
* ``one call``: the same work as one plpgsql function, 1 round trip: the limit of the schema,
  reported, not a target.
* ``threadcore``: ``Inbox.receive`` on ``PostgresRepository``.
* ``--ladder``: the fair raw again with the statements threadcore sends for its rules added one
  rule at a time (``+ claim``: the pair's advisory lock instead of the row lock, R1/R18a;
  ``+ gate``: the walks' gate in the same statement, Q2; ``+ floor``: the latest stored instant
  in the read, R18a; ``+ opt-out``: the pair's opt-out in the read, M7), cumulatively, in
  threadcore's SQL and round trips (``pg_baselines.RULES``), run in the same rounds as the
  others, on disjoint pairs (the hot pair's rows run the three contenders alone: there every
  contender waits on the pair's lock). A second table gives each rung's ratio to the fair raw
  (what the rules' statements cost) and threadcore's ratio to the top rung (the library's own
  cost: its Python, its record mapping, the shape of its writes).

Rounds are interleaved (each round runs every contender once, in turn), so the ratios compare runs
a few seconds apart on this shared machine; each figure is the median of ``--rounds`` rounds with
the min-max, and each ratio is the median (min-max) of the per-round ratios. Each receive's
latency is timed too (p50 and p99 over every worker of the round with the median rate).

threadcore's workers read the system clock (``--clock system``, the default): the processes of
one host share it, so a command's instant is after the latest stored one and never equal to it.
``--clock ticking`` gives each process a clock of its own that ticks a microsecond per reading
from the same instant (``bench/ticking.py``, the single-process benchmarks' clock): with several
processes those clocks stay behind the store's latest instant and read it exactly, so a good
part of the receives (about 40% at 4 processes) take rule Q2's tie path (the ids created at
that instant read, one round trip more, and a rerun when the command's own would sort before
them), which a real clock almost never does.

``--count`` times nothing: it counts the instructions each contender's client runs per receive
on one connection (the fair raw, each rung of the ladder, threadcore), under valgrind as
``bench_instructions`` does (the count of ``--messages`` receives after 400 untimed ones, less the
count of the 400 alone). The server's work is not in it. It repeats within about 1%, where timed
rounds at several processes spread by a third, so it is the measure of the library's own client
cost.

Without ``--url`` (or ``THREADCORE_TEST_POSTGRES_URL``) a throwaway server is started with
``tests/pg_server.py`` (fsync off: this measures CPU and round trips, not the disk).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from bench_receive import spread
from pg_baselines import EXTENSION, RULES, FairRaw, OneCall, install_one_call, quoted
from pgserver import default_url, postgres
from ticking import TickingClock

from threadcore import Directory, Inbox, Policy, Resource, SystemClock
from threadcore.adapters.postgres import PostgresRepository
from threadcore.storage import Clock

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"
TTL = timedelta(hours=72)
HOT_GUEST = "+16502000000"

#: Contender names as printed, by kind.
LABELS = {"raw": "fair raw", "onecall": "one call", "threadcore": "threadcore"}
#: ``THREADCORE_BENCH_CLOCK=ticking``: threadcore's workers each read a ticking clock of their own
#: instead of the system clock, which the processes of one host share (``--clock``; the spawned
#: workers inherit it). Unset, as when ``run_all`` or ``bench_pg_creation`` call :func:`run`: the
#: system clock.
_CLOCK = "THREADCORE_BENCH_CLOCK"
#: The ladder's contenders: the fair raw with the statements of the rules up to each of
#: :data:`pg_baselines.RULES` (cumulative), by kind.
LADDER = {f"raw+{rule}": RULES[: n + 1] for n, rule in enumerate(RULES)}
LABELS.update({kind: "+ " + kind[4:].replace("_", "-") for kind in LADDER})
#: The shapes of a worker's work: ``mixed`` round-robin over its pairs (the first message of each
#: opens its thread); ``creation`` every message on a new pair (a campaign's replies: every
#: receive opens a thread); ``open`` its pairs' threads opened before the timing (no receive opens
#: one).
SHAPES = ("mixed", "creation", "open")


def guests(
    worker: int, pairs: int, messages: int, hot: bool = False, shape: str = "mixed"
) -> list[str]:
    """The guest number of each inbound message of one worker: round-robin over its pairs, a new
    pair each (``shape="creation"``), or (``hot``) the one pair every worker writes to."""
    if hot:
        return [HOT_GUEST] * messages
    if shape == "creation":
        return [f"+1651{worker * messages + i:07d}" for i in range(messages)]
    return [f"+1650{2000000 + worker * pairs + i % pairs:07d}" for i in range(messages)]


def bench_clock() -> Clock:
    """threadcore's clock in a worker: the system clock, or with ``THREADCORE_BENCH_CLOCK=ticking``
    a ticking clock of the worker's own."""
    return TickingClock(START) if os.environ.get(_CLOCK) == "ticking" else SystemClock()


def _receiver(
    kind: str, url: str, schema: str
) -> tuple[Callable[[str], object], Callable[[], None]]:
    """A receive of ``kind`` on its own connection, and how to close it."""
    if kind == "threadcore":
        repo = PostgresRepository(url, schema=schema, min_size=1, max_size=1)
        resource = Resource(EXTENSION, phone_numbers=[OWNER], handlers=["101"])
        inbox = Inbox(
            repository=repo,
            directory=Directory([resource]),
            clock=bench_clock(),
            policy=Policy(ttl=TTL),
        )
        receive = inbox.receive

        def core(guest: str) -> object:
            return receive(owner_number=OWNER, guest_number=guest, body="Hi")

        return core, repo.close
    base: FairRaw | OneCall
    if kind == "onecall":
        base = OneCall(url, schema, OWNER, TTL)
    else:
        base = FairRaw(url, schema, OWNER, TTL, LADDER.get(kind, ()))
    at = START

    def baseline(guest: str) -> object:
        return base.receive(guest, "Hi", at)

    return baseline, base.close


def worker(
    kind: str, url: str, schema: str, work: list[str], warm: list[str], start: Any, done: Any
) -> None:
    """One process: receive ``warm`` (untimed), wait for every worker, receive ``work`` timed."""
    receive, close = _receiver(kind, url, schema)
    receive("+16509999999" if not warm else warm[0])  # connection and statements made
    for guest in warm[1:]:
        receive(guest)
    start.wait()
    took = []
    clock = time.perf_counter
    for guest in work:
        began = clock()
        receive(guest)
        took.append(clock() - began)
    close()
    done.put(took)


def new_schema(url: str, kind: str) -> str:
    """A fresh schema made by threadcore's migrations (and, for ``onecall``, its function)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    PostgresRepository(url, schema=schema).close()
    if kind == "onecall":
        with psycopg.connect(url, autocommit=True) as conn:
            install_one_call(conn, schema)
    return schema


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {quoted(schema)} CASCADE")


def run(
    kind: str,
    url: str,
    workers: int,
    messages: int,
    pairs: int,
    hot: bool = False,
    shape: str = "mixed",
    during: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> tuple[float, list[float]]:
    """Messages per second of ``workers`` processes of ``kind`` on a fresh schema, and every
    receive's latency (seconds). ``during(schema)``, when given, is called before the workers
    are ready and entered for the timed part."""
    schema = new_schema(url, kind)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers + 1)
    done: Any = ctx.Queue()
    procs = []
    for n in range(workers):
        work = guests(n, pairs, messages, hot, shape)
        warm = sorted(set(work)) if shape == "open" and not hot else []
        procs.append(ctx.Process(target=worker, args=(kind, url, schema, work, warm, start, done)))
    for proc in procs:
        proc.start()
    try:
        timed = during(schema) if during is not None else nullcontext()
        start.wait(timeout=300)
        with timed:
            t0 = time.perf_counter()
            latencies: list[float] = [t for _ in procs for t in done.get(timeout=900)]
            elapsed = time.perf_counter() - t0
    finally:
        for proc in procs:
            proc.join(timeout=60)
    if any(proc.exitcode != 0 for proc in procs):
        raise SystemExit(f"a {kind} worker failed")
    check(url, schema)
    drop_schema(url, schema)
    return len(latencies) / elapsed, latencies


def check(url: str, schema: str) -> None:
    """What every contender must leave: one open thread per pair, a ``MessageAdded`` event per
    message, a ``ThreadOpened`` event per thread."""
    s = quoted(schema)
    with psycopg.connect(url) as conn:
        doubled, messages, added, threads, opened = conn.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM {s}.threads WHERE status = 'Open'
                        GROUP BY owner_number, guest_number HAVING count(*) > 1) AS d),
                   (SELECT count(*) FROM {s}.messages),
                   (SELECT count(*) FROM {s}.events WHERE kind = 'MessageAdded'),
                   (SELECT count(*) FROM {s}.threads),
                   (SELECT count(*) FROM {s}.events WHERE kind = 'ThreadOpened')
        """).fetchone() or (1, 0, 0, 0, 0)  # fmt: skip
    if doubled or messages != added or threads != opened:
        raise SystemExit(
            f"{schema}: {doubled} pairs with two open threads, {messages} messages and {added} "
            f"MessageAdded, {threads} threads and {opened} ThreadOpened"
        )


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def rounds(
    kinds: tuple[str, ...],
    count: int,
    once: Callable[[str], tuple[float, list[float]]],
) -> Iterator[tuple[int, str, float, list[float]]]:
    """``count`` interleaved rounds of ``once(kind)`` for each kind: (round, kind, rate,
    latencies)."""
    for n in range(count):
        for kind in kinds:
            rate, latencies = once(kind)
            yield n, kind, rate, latencies


def compare(
    url: str,
    workers: int,
    messages: int,
    pairs: int,
    count: int,
    hot: bool = False,
    kinds: tuple[str, ...] = ("raw", "onecall", "threadcore"),
) -> dict[str, Any]:
    """Interleaved rounds of each kind: rates, latencies of the median round, ratios to raw."""
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    took: dict[str, list[list[float]]] = {k: [] for k in kinds}
    for _, kind, rate, latencies in rounds(
        kinds, count, lambda kind: run(kind, url, workers, messages, pairs, hot)
    ):
        rates[kind].append(rate)
        took[kind].append(latencies)
    ratios = {
        k: [c / r for c, r in zip(rates[k], rates["raw"], strict=True)] for k in kinds if k != "raw"
    }
    top = [kind for kind in LADDER if kind in kinds]
    if top:  # threadcore against the fair raw with every rule's statements: the library's own
        ratios["own"] = [c / r for c, r in zip(rates["threadcore"], rates[top[-1]], strict=True)]
    median_round = {
        k: took[k][sorted(range(count), key=lambda i: rates[k][i])[count // 2]] for k in kinds
    }
    return {"rates": rates, "ratios": ratios, "latencies": median_round}


TABLE = [
    "| processes | pairs | fair raw msg/s | one call msg/s | threadcore msg/s "
    "| threadcore / fair raw (target) | one call / fair raw | p50 / p99 ms: fair raw "
    "| one call | threadcore |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


LADDER_TABLE = [
    "| processes | pairs | "
    + " | ".join(f"{LABELS[kind]} / fair raw" for kind in LADDER)
    + " | threadcore / fair raw | threadcore / fair raw with the rules (the library's own) |",
    "| ---: | --- |" + " ---: |" * (len(LADDER) + 2),
]


def ladder_row(result: dict[str, Any], workers: int, hot: bool) -> str:
    """One markdown row of :data:`LADDER_TABLE`: each rung's ratio to the fair raw (median,
    min-max, per round), threadcore's, and threadcore's to the top rung."""
    ratios = result["ratios"]
    cells = [str(workers), "one hot pair" if hot else "disjoint"]
    cells += [spread(ratios[kind], ".2f") for kind in (*LADDER, "threadcore", "own")]
    return "| " + " | ".join(cells) + " |"


def table_row(result: dict[str, Any], workers: int, hot: bool) -> str:
    """One markdown row of :data:`TABLE`: medians (min-max) and the ratios to the fair raw."""
    rates, ratios, took = result["rates"], result["ratios"], result["latencies"]
    target = 0.7 if hot else 0.9
    cells = [str(workers), "one hot pair" if hot else "disjoint"]
    cells += [spread(rates[k]) for k in ("raw", "onecall", "threadcore")]
    met = "met" if statistics.median(ratios["threadcore"]) >= target else "**not met**"
    cells += [f"{spread(ratios['threadcore'], '.2f')} (≥ {target}: {met})"]
    cells += [spread(ratios["onecall"], ".2f")]
    for kind in ("raw", "onecall", "threadcore"):
        cells.append(f"{percentile(took[kind], 0.5) * 1000:.2f} / "
                     f"{percentile(took[kind], 0.99) * 1000:.2f}")  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def said(lines: list[str], line: str) -> None:
    """``line`` printed now and kept for the report."""
    print(line, flush=True)
    lines.append(line)


def finish(lines: list[str], out: Path | None) -> None:
    """The load at the end, said; the report written to ``out`` when given."""
    said(lines, f"\n(load average {os.getloadavg()[0]:.1f} at the end)")
    if out:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def server_line(url: str) -> str:
    with psycopg.connect(url) as conn:
        shown = [
            (conn.execute(f"SHOW {name}").fetchone() or ("?",))[0]
            for name in ("server_version", "fsync", "synchronous_commit")
        ]
    load = os.getloadavg()[0]
    return (
        f"PostgreSQL {shown[0]} (fsync={shown[1]}, synchronous_commit={shown[2]}), "
        f"{os.cpu_count()} CPUs, load {load:.1f} at the start"
    )


#: The untimed receives a counted client makes first (its connection, its prepared statements).
_COUNT_WARM = 400


def count_child(kind: str, url: str, messages: int) -> None:
    """One client of ``kind`` on a fresh schema: :data:`_COUNT_WARM` receives, then ``messages``
    more (what ``--count`` runs under valgrind)."""
    schema = new_schema(url, kind)
    receive, close = _receiver(kind, url, schema)
    try:
        for guest in guests(0, 200, _COUNT_WARM + messages):
            receive(guest)
    finally:
        close()
        drop_schema(url, schema)


def count(url: str, messages: int) -> list[str]:
    """Each contender's client instructions per receive, counted (see the module's docstring)."""
    from bench_instructions import instructions

    def run(kind: str, n: int) -> int:
        return instructions([__file__, "--count-child", kind, "--url", url, "--messages", str(n)])

    kinds = ("raw", *LADDER, "threadcore")
    per = {kind: (run(kind, messages) - run(kind, 0)) / messages for kind in kinds}
    lines = [f"client instructions per receive, one connection, {messages:,} receives (valgrind)"]
    for kind in kinds:
        lines.append(
            f"  {LABELS[kind]:12s} {per[kind]:12,.0f}  {per[kind] / per['raw']:.2f}x the fair raw"
        )
    top = per[next(reversed(LADDER))]
    lines.append(f"  threadcore / every rule's statements: {per['threadcore'] / top:.2f}x")
    return lines


def options(doc: str | None, messages: int, rounds: int) -> argparse.ArgumentParser:
    """The options of a benchmark of worker processes on PostgreSQL: the server, the messages
    of each worker, the process counts, the rounds, and a file for the table (the script adds
    its own)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--messages", type=int, default=messages, help="per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    return parser


def main() -> None:
    parser = options(__doc__, messages=400, rounds=5)
    parser.add_argument("--pairs", type=int, default=200, help="per worker")
    parser.add_argument("--hot", action="store_true", help="also one pair for every worker")
    parser.add_argument(
        "--ladder", action="store_true", help="also the fair raw with each rule's statements"
    )
    parser.add_argument(
        "--clock",
        choices=("system", "ticking"),
        default="system",
        help="threadcore's clock: the system's (shared by the processes, as on one host), or "
        "each process's own ticking from the same instant",
    )
    parser.add_argument(
        "--count", action="store_true", help="count each client's instructions per receive"
    )
    parser.add_argument(
        "--count-child", choices=("raw", *LADDER, "threadcore"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    os.environ[_CLOCK] = args.clock
    if args.count_child:
        count_child(args.count_child, args.url, args.messages)
        return
    if args.count:
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not on the PATH (apt-get install valgrind)")
        with postgres(args.url) as url:
            print("\n".join(count(url, args.messages)))
        return
    kinds = ("raw", *(LADDER if args.ladder else ()), "onecall", "threadcore")
    command = " ".join(["python bench/bench_postgres.py", *sys.argv[1:]])
    with postgres(args.url) as url:
        lines = [
            f"`{command}`: {server_line(url)}; {args.messages:,} inbound messages per worker "
            f"on {args.pairs} pairs each (one hot pair: every message on it); threadcore on the "
            f"{args.clock} clock; median (min-max) of {args.rounds} interleaved rounds, ratios "
            "per round.",
            "",
            *TABLE,
        ]
        print("\n".join(lines), flush=True)
        ladder: list[str] = []
        for hot in (False, True) if args.hot else (False,):
            for workers in args.workers:
                # (the ladder on disjoint pairs: a hot pair waits on its lock whatever runs)
                ran = kinds if not hot else ("raw", "onecall", "threadcore")
                result = compare(url, workers, args.messages, args.pairs, args.rounds, hot, ran)
                said(lines, table_row(result, workers, hot))
                if args.ladder and not hot:
                    ladder.append(ladder_row(result, workers, hot))
        if ladder:
            said(lines, "\nThe ladder (disjoint pairs; the same rounds, ratios per round):\n")
            for line in (*LADDER_TABLE, *ladder):
                said(lines, line)
        finish(lines, args.out)


if __name__ == "__main__":
    main()
