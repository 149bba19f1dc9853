"""The concurrent history checker (issue 12): several processes run random commands and reads on
a real PostgreSQL with real delays (a slow directory, a clock that steps back, clocks 50 ms apart,
pauses between a command's last check and its commit, a short TTL so threads fall due while
commands run); every call is recorded with its real start and end, and the history is checked
against the rules:

* once any process has seen a thread resolved (a read showing it, or a resolve refused because
  it was), no call anywhere that began after that one ended sees it open (rules R10, R10b,
  R18a);
* a keyset list walk never skips a thread: every thread whose creating call ended before the
  walk asked for its last page is in the walk, and no thread is returned twice (rule Q2); the
  same of a walk of every message, across threads (rules M4, Q2: issue 24's walks' gate);
* at the end: one open thread per pair, and every acknowledged message is stored once.

Before the fix of issue 12 (commands dated at their start, committed later) it fails on the
first two; ``docs/rules.md`` R18a says what changed.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

import pg_history_worker as worker
import psycopg

from threadcore.adapters.postgres import PostgresRepository

pytest_plugins = ["conftest_pg"]

WORKERS = 4
SECONDS = 8.0


def _history(
    url: str, schema: str, frozen: bool = False
) -> tuple[list[tuple[Any, ...]], list[str], dict[str, int]]:
    PostgresRepository(url, schema=schema).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS + 1)
    report: Any = ctx.Queue()
    processes = [
        ctx.Process(
            target=worker.run, args=(n, url, schema, SECONDS, start, report, frozen), daemon=True
        )
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=120)
    calls, errors, done = [], [], 0
    acked: dict[str, int] = {}  # message id -> the end of the receive that stored it
    give_up = time.monotonic() + SECONDS + 120
    while done < WORKERS:
        assert time.monotonic() < give_up, "the workers did not finish"
        try:
            item = report.get(timeout=1)
        except queue.Empty:
            continue
        if item[0] == "call":
            calls.append(item[1:])
        elif item[0] == "message":
            acked[item[1]] = item[2]
        elif item[0] == "error":
            errors.append(f"{item[2]}: {item[3]}")
        else:
            done += 1
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return calls, errors, acked


def _resolved_never_reopens(calls: list[tuple[Any, ...]]) -> list[str]:
    """Each (thread, Resolved) seen by a call ending at E, against every (thread, Open) seen by a
    call that began after E."""
    resolved_at: dict[str, int] = {}  # thread -> the earliest end of a call that saw it resolved
    opens: list[tuple[str, int, str]] = []
    for _, kind, began, ended, seen in calls:
        if kind == "message-walk":
            continue
        views = [v for _, page in seen for v in page] if kind == "walk" else seen
        for thread_id, status in views:
            if status == "Resolved":
                resolved_at[thread_id] = min(resolved_at.get(thread_id, ended), ended)
            else:
                opens.append((thread_id, began, kind))
    return [
        f"thread {t} seen Resolved by a call ending at {resolved_at[t]}, then Open by a {kind} "
        f"that began at {began}"
        for t, began, kind in opens
        if t in resolved_at and began > resolved_at[t]
    ]


def _threads_created(calls: list[tuple[Any, ...]]) -> dict[str, int]:
    """Each thread a receive returned -> the end of the first receive that returned it."""
    created: dict[str, int] = {}
    for _, kind, _, ended, seen in calls:
        if kind == "receive":
            thread_id = seen[0][0]
            created[thread_id] = min(created.get(thread_id, ended), ended)
    return created


def _walks_skip_nothing(
    calls: list[tuple[Any, ...]], kind: str, stored: dict[str, int], record: str
) -> list[str]:
    """Every record of ``stored`` (its id -> the end of the call that stored it) whose call ended
    before a walk of ``kind`` asked for its last page is in the walk (a walk sees what was
    committed before it ended), and no record is returned twice. A walk's pages hold ids, or
    (thread id, status) for a walk of threads."""
    problems = []
    for _, called, began, _, pages in calls:
        if called != kind:
            continue
        returned = [r if isinstance(r, str) else r[0] for _, page in pages for r in page]
        if len(returned) != len(set(returned)):
            problems.append(f"a {kind} returned a {record} twice: {returned}")
        last_page = pages[-1][0]
        missing = {r for r, ended in stored.items() if ended < last_page} - set(returned)
        problems += [
            f"a {kind} begun at {began} skipped {record} {r}, committed at {stored[r]} before "
            f"its last page ({last_page})"
            for r in sorted(missing)
        ]
    return problems


def test_a_concurrent_history_keeps_the_rules(postgres_url: str, pg_schema: str) -> None:
    calls, errors, acked = _history(postgres_url, pg_schema)
    assert errors == []
    kinds = {kind for _, kind, *_ in calls}
    assert kinds == {"receive", "get", "walk", "message-walk", "resolve"}, kinds
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT id, creation_time, status, availability, owner_number, guest_number "
            f'FROM "{pg_schema}".threads'
        ).fetchall()
        stored = conn.execute(f'SELECT count(*) FROM "{pg_schema}".messages').fetchone()
    receives = sum(1 for _, kind, *_ in calls if kind == "receive")
    assert stored == (receives,), "an acknowledged message is missing or doubled"
    assert len(rows) > len(worker.GUESTS), "no thread fell due while the workers ran"
    problems = _resolved_never_reopens(calls)
    problems += _walks_skip_nothing(calls, "walk", _threads_created(calls), "thread")
    # (walks of every message across threads, whose writers run at once: issue 24's gate)
    problems += _walks_skip_nothing(calls, "message-walk", acked, "message")
    assert len(acked) == receives
    assert problems == [], "\n".join(problems[:10])
    open_pairs = [(r[4], r[5]) for r in rows if r[2] == "Open" and r[3] == "Alive"]
    assert len(open_pairs) == len(set(open_pairs))


def test_walks_skip_nothing_when_every_process_runs_at_one_instant(
    postgres_url: str, pg_schema: str
) -> None:
    """Every worker's clock stands at one instant (as a stored manual clock puts them, R18c):
    every record of every process ties on its creation time, and ties sort by id, which only
    increases within one process. Walks of threads and of messages still skip nothing (Q2:
    a command whose new record would sort before another process's record at that instant
    runs a microsecond later). Without that, walks here skipped records."""
    calls, errors, acked = _history(postgres_url, pg_schema, frozen=True)
    assert errors == []
    kinds = {kind for _, kind, *_ in calls}
    assert {"receive", "walk", "message-walk", "resolve"} <= kinds, kinds
    problems = _walks_skip_nothing(calls, "walk", _threads_created(calls), "thread")
    problems += _walks_skip_nothing(calls, "message-walk", acked, "message")
    assert problems == [], "\n".join(problems[:10])
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        stored = conn.execute(f'SELECT count(*) FROM "{pg_schema}".messages').fetchone()
        threads = conn.execute(f'SELECT count(*) FROM "{pg_schema}".threads').fetchone()
    assert stored == (len(acked),), "an acknowledged message is missing or doubled"
    assert threads is not None
    assert threads[0] > len(worker.GUESTS), "no pair had a second thread (resolves)"
