"""PostgreSQL at scale: what one handler's reads cost in a store of 10,000 threads and in one of
1,000,000 threads and 10,000,000 messages, same run (issue 14: ratio 1M / 10k below 2).

    python bench/bench_pg_scale.py [--url postgresql://...] [--sizes 10000 1000000]
                                   [--repeat 5] [--out docs/performance-scale.md]

Each store is built in its own schema by ``INSERT ... SELECT generate_series`` into threadcore's
own tables (rows as threadcore writes them; indexes built after the rows), outside the timing:
1,000 resources; the measured handler's resource holds the same 1,000 threads (200 open, 800
resolved, 10 messages each) at every size, spread over the same 60 days as everyone's, the other
999 share the rest; 1,000 threads of other
resources are due (open, silent for longer than the TTL) for the sweep; two events a thread. So
what grows is the store, not what the handler asks for: a read that costs the same at every size
does not scan what is not its own.

Each operation goes through the public ``Inbox`` (the median of ``--repeat`` runs after one to
warm up). The statements it ran at the largest size are explained (``EXPLAIN (ANALYZE,
BUFFERS)``) in the report. Without ``--url`` (or ``THREADCORE_TEST_POSTGRES_URL``) a throwaway
server is started with ``tests/pg_server.py`` (fsync off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pgserver import default_url, postgres

from threadcore import (
    Directory,
    EntryScope,
    Inbox,
    ManualClock,
    Resource,
    SyncType,
    ThreadFilter,
    ThreadStatus,
)
from threadcore.adapters import postgres as pg_adapter
from threadcore.adapters.postgres import PostgresRepository

NOW = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)
DAYS = 60
MEASURED = 1_000  # threads of the measured resource, at every size
RESOURCES = 1_000
DUE = 1_000
ACTOR = "101"
MEASURED_NUMBER = "+12092000000"


def directory() -> Directory:
    measured = Resource("rm", name="Measured", phone_numbers=[MEASURED_NUMBER], handlers=[ACTOR])
    others = [
        Resource(f"r{k:03d}", phone_numbers=[f"+1209{3000000 + k:07d}"], handlers=[f"9{k:03d}"])
        for k in range(1, RESOURCES)
    ]
    return Directory([measured, *others])


def build(url: str, schema: str, threads: int) -> None:
    """Fill a fresh schema with ``threads`` threads, ten messages and two events each."""
    PostgresRepository(url, schema=schema).close()  # threadcore's own tables
    s = f'"{schema}"'
    now = NOW.isoformat()
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint)",
            (schema,),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX {s}."{name}"')
        with conn.transaction():
            # thread i: resource rm for i <= MEASURED, else one of the 999 others; the measured
            # resource's threads 1..200 and every fifth other thread are open and recent; the
            # last DUE threads are open and silent for 100 h (due); the rest resolved, spread
            # over DAYS days before that
            conn.execute(f"""
                INSERT INTO {s}.threads
                SELECT 't' || lpad(i::text, 9, '0') AS id,
                       CASE WHEN i <= {MEASURED} THEN '{MEASURED_NUMBER}'
                            ELSE '+1209' || lpad((3000000 + 1 + i % {RESOURCES - 1})::text, 7, '0')
                       END AS owner_number,
                       '+1650' || lpad(i::text, 7, '0') AS guest_number,
                       CASE WHEN i <= {MEASURED} THEN 'rm'
                            ELSE 'r' || lpad((1 + i % {RESOURCES - 1})::text, 3, '0')
                       END,
                       NULL, 'Department', created, status, 'Alive', NULL, NULL, NULL,
                       CASE WHEN status = 'Resolved' THEN 'Manual' END, 'Hello 9',
                       latest, latest, latest - interval '1 minute', latest, 12,
                       pg_current_xact_id()::text::bigint
                FROM (
                    SELECT i, CASE WHEN open THEN 'Open' ELSE 'Resolved' END AS status,
                           created, created + interval '9 minutes' AS latest
                    FROM (
                        SELECT i, (i <= 200 OR (i > {MEASURED} AND i % 5 = 0)
                                   OR i > {threads} - {DUE}) AS open,
                               CASE WHEN i > {threads} - {DUE}
                                        THEN timestamptz '{now}' - interval '101 hours'
                                    WHEN i <= 200 OR (i > {MEASURED} AND i % 5 = 0)
                                        THEN timestamptz '{now}' - interval '2 hours'
                                             + (i % 3600) * interval '1 second'
                                    ELSE timestamptz '{now}' - interval '{DAYS} days'
                                         + (CASE WHEN i <= {MEASURED}
                                                 THEN i::float / {MEASURED}
                                                 ELSE i::float / {threads} END)
                                           * interval '{DAYS - 5} days'
                               END AS created
                        FROM generate_series(1, {threads}) AS i
                    ) AS shape
                ) AS t
            """)
            conn.execute(f"""
                INSERT INTO {s}.messages (id, thread_id, direction, body, from_number,
                    to_number, author_id, author_name, author_type, created_at,
                    last_modified_at, availability, provider_message_id, status, sent_at,
                    delivered_at, read_at, error_code, is_automated, source, content_type,
                    attachments, classifications, keyword, version, owner_extension_id)
                SELECT t.id || '-' || j, t.id,
                       CASE WHEN j % 2 = 0 THEN 'Inbound' ELSE 'Outbound' END,
                       'Hello ' || j,
                       CASE WHEN j % 2 = 0 THEN t.guest_number ELSE t.owner_number END,
                       CASE WHEN j % 2 = 0 THEN t.owner_number ELSE t.guest_number END,
                       CASE WHEN j % 2 = 1 THEN '{ACTOR}' END, NULL,
                       CASE WHEN j % 2 = 1 THEN 'User' END,
                       t.creation_time + j * interval '1 minute',
                       t.creation_time + j * interval '1 minute', 'Alive', NULL,
                       CASE WHEN j % 2 = 0 THEN 'Received' ELSE 'Sent' END,
                       CASE WHEN j % 2 = 1 THEN t.creation_time + j * interval '1 minute' END,
                       NULL, NULL, NULL, false, NULL, 'text/plain', NULL, NULL, NULL, 1,
                       t.owner_extension_id
                FROM {s}.threads AS t CROSS JOIN generate_series(0, 9) AS j
                ORDER BY t.creation_time, t.id, j
            """)
            conn.execute(f"""
                INSERT INTO {s}.events
                SELECT pg_current_xact_id()::text::bigint,
                       row_number() OVER () AS ordinal, t.id, e.kind,
                       json_build_object('thread_id', t.id, 'at', t.creation_time)::text
                FROM {s}.threads AS t
                CROSS JOIN (VALUES ('ThreadOpened'), ('MessageAdded')) AS e(kind)
            """)
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute(f"ANALYZE {s}.threads")
        conn.execute(f"ANALYZE {s}.messages")
        conn.execute(f"ANALYZE {s}.events")


class Recorder:
    """Records the statements the adapter's reads run (to explain them afterwards)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self.on = False
        original = pg_adapter._PostgresUnitOfWork._all
        recorder = self

        def _all(uow: Any, sql: str, params: Any = (), **how: Any) -> list[Any]:
            params = tuple(params)
            if recorder.on:
                recorder.statements.append((sql, params))
            return original(uow, sql, params, **how)

        pg_adapter._PostgresUnitOfWork._all = _all  # type: ignore[method-assign]


def operations(
    inbox: Inbox, url: str, schema: str, threads: int
) -> dict[str, Callable[[], object]]:
    """The reads to time, by name; each returns what it read (checked, not thrown away)."""
    sample = "t000000007"  # a resolved thread of the measured resource
    recent = ThreadFilter(creation_time_from=NOW - timedelta(days=7))

    def keyset_second_page() -> object:
        first = inbox.list(actor=ACTOR, per_page=100)
        return inbox.list(actor=ACTOR, per_page=100, page_token=first.next_page_token)

    def thread_isync() -> object:
        token = inbox.sync(actor=ACTOR).sync_token
        inbox.receive(owner_number=MEASURED_NUMBER, guest_number="+16509999999", body="New")
        return inbox.sync(actor=ACTOR, sync_type=SyncType.INCREMENTAL, sync_token=token)

    def entries_isync() -> object:
        token = inbox.sync_entries(actor=ACTOR, scope=EntryScope.ACCESSIBLE).sync_token
        inbox.receive(owner_number=MEASURED_NUMBER, guest_number="+16509999998", body="New")
        return inbox.sync_entries(actor=ACTOR, sync_type=SyncType.INCREMENTAL, sync_token=token)

    def sweep() -> object:
        with psycopg.connect(url, autocommit=True) as conn:  # the due threads, due again
            conn.execute(
                f"UPDATE \"{schema}\".threads SET status = 'Open', status_reason = NULL "
                "WHERE id > %s",
                (f"t{threads - DUE:09d}",),
            )
        expired = inbox.expire()
        assert len(expired) == DUE, len(expired)
        return expired

    return {
        "list, page 1": lambda: inbox.list(actor=ACTOR, page=1, per_page=100),
        "list, last page (10)": lambda: inbox.list(actor=ACTOR, page=10, per_page=100),
        "list, keyset page 2": keyset_second_page,
        "list Open, page 1": lambda: inbox.list(
            actor=ACTOR, filter=ThreadFilter(status=ThreadStatus.OPEN), page=1
        ),
        "list Resolved, last page (8)": lambda: inbox.list(
            actor=ACTOR, filter=ThreadFilter(status=ThreadStatus.RESOLVED), page=8, per_page=100
        ),
        "list by guest number": lambda: inbox.list(
            actor=ACTOR, filter=ThreadFilter(guest_phone_number="+16500000007")
        ),
        "list created in the last 7 days": lambda: inbox.list(actor=ACTOR, filter=recent),
        "message list by thread": lambda: inbox.messages(sample, actor=ACTOR),
        "messages across threads, page 1": lambda: inbox.list_messages(actor=ACTOR, per_page=100),
        "thread FSync": lambda: inbox.sync(actor=ACTOR),
        "thread ISync (one change)": thread_isync,
        "entries FSync (every thread)": lambda: inbox.sync_entries(
            actor=ACTOR, scope=EntryScope.ACCESSIBLE
        ),
        "entries ISync (one change)": entries_isync,
        "sweep of 1,000 due threads": sweep,
    }


def measure(url: str, schema: str, threads: int, repeat: int, recorder: Recorder) -> dict[str, Any]:
    repo = PostgresRepository(url, schema=schema)
    clock = ManualClock(NOW)
    inbox = Inbox(repository=repo, directory=directory(), clock=clock)
    figures: dict[str, Any] = {}
    try:
        for name, operation in operations(inbox, url, schema, threads).items():
            assert operation() is not None  # warm
            took = []
            for _ in range(repeat):
                started = time.perf_counter()
                operation()
                took.append(time.perf_counter() - started)
            recorder.statements.clear()
            recorder.on = True
            operation()
            recorder.on = False
            figures[name] = statistics.median(took) * 1000
            figures[name + "\0statements"] = list(recorder.statements)
    finally:
        repo.close()
    return figures


def _cut(line: str, width: int = 200) -> str:
    """A plan line cut short (an id list may hold a thousand ids)."""
    return line if len(line) <= width else line[: width - 1] + "…"


def explain(url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> str:
    plans = []
    with psycopg.connect(url) as conn:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params).fetchall()
            conn.rollback()  # (FOR UPDATE locks go with it)
            plans.append("\n".join(_cut(r[0]) for r in rows))
    return "\n\n".join(plans)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=None, help="write the markdown report here")
    args = parser.parse_args()
    recorder = Recorder()
    results: dict[int, dict[str, Any]] = {}
    with postgres(args.url) as url:
        for size in args.sizes:
            schema = f"scale_{size}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            started = time.perf_counter()
            build(url, schema, size)
            print(f"built {size:,} threads in {time.perf_counter() - started:.0f} s", flush=True)
            results[size] = measure(url, schema, size, args.repeat, recorder)
            if size == max(args.sizes):
                for name in list(results[size]):
                    if name.endswith("\0statements"):
                        results[size][name] = explain(url, results[size][name])
        small, large = min(args.sizes), max(args.sizes)
        lines = [
            "# PostgreSQL at scale",
            "",
            "Generated by `python bench/bench_pg_scale.py "
            f"--sizes {' '.join(map(str, args.sizes))} --repeat {args.repeat}` (do not edit by "
            f"hand). {os.cpu_count()} CPUs, shared and noisy; fsync off; medians of "
            f"{args.repeat} runs through the public `Inbox`.",
            "",
            "The measured handler's resource holds 1,000 threads (200 open) with 10 messages each "
            "at every size; the store around it grows. Target: each read costs less than twice "
            "its cost in the small store.",
            "",
            f"| operation | {small:,} threads ms | {large:,} threads ms | ratio | < 2? |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for name, value in results[small].items():
            if "\0" in name:
                continue
            ratio = results[large][name] / value
            lines.append(
                f"| {name} | {value:.2f} | {results[large][name]:.2f} | {ratio:.2f} | "
                f"{'yes' if ratio < 2 else '**no**'} |"
            )
        lines += ["", f"## Plans at {large:,} threads", ""]
        for name, value in results[large].items():
            if name.endswith("\0statements"):
                lines += [f"### {name[:-11]}", "", "```", value or "(no read statement)", "```", ""]
        report = "\n".join(lines) + "\n"
        print(report)
        if args.out:
            Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
