"""The PostgreSQL baselines of the benchmarks (``bench/pg_baselines.py``) store what threadcore's
``receive`` stores (issue 24): for the same inbound messages, the same thread, message and event
rows (ids, positions and transaction stamps aside), including a thread expired by the TTL. A
baseline that did less (no event, no TTL check) would make its ratio say little.

The fair raw's ladder (``FairRaw(..., rules=RULES)``) sends, in the claim's round trip, the
statements threadcore sends for its rules: the same lock statement with the same key, and the same
read but for the thread's columns (threadcore reads all of them), as libpq's protocol trace shows
them. If threadcore's claim changes (a statement more, another floor, another lock), the ladder
no longer measures what the rules cost, and the test says so."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import drop_schema, new_schema_name

from threadcore import Directory, Inbox, ManualClock, Policy, Resource
from threadcore.adapters.postgres import PostgresRepository

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import pg_baselines

pytest_plugins = ["conftest_pg"]

OWNER = "+12092480001"
TTL = timedelta(hours=72)
START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
#: (guest, hours after START): two pairs, a second message, and one after the TTL (expiry).
WORK = [("+16502000001", 0), ("+16502000002", 1), ("+16502000001", 2), ("+16502000001", 80)]


@pytest.fixture
def schemas(postgres_url: str) -> Iterator[list[str]]:
    made = [new_schema_name() for _ in range(3)]
    yield made
    for schema in made:
        drop_schema(postgres_url, schema)


def _stored(url: str, schema: str) -> dict[str, Any]:
    """The rows of a schema, with what differs by construction (ids, positions, transaction
    ids) replaced by their order of appearance."""
    s = pg_baselines.quoted(schema)
    names: dict[str, str] = {}

    def named(value: object) -> object:
        if isinstance(value, str) and len(value) >= 32 and value.count("-") == 4:  # an id
            return names.setdefault(value, f"id{len(names)}")
        return value

    with psycopg.connect(url) as conn:
        threads = conn.execute(f"SELECT * FROM {s}.threads ORDER BY creation_time").fetchall()
        messages = conn.execute(f"SELECT * FROM {s}.messages ORDER BY position").fetchall()
        events = conn.execute(
            f"SELECT ordinal, thread_id, kind, payload FROM {s}.events ORDER BY xid, ordinal"
        ).fetchall()
    return {
        "threads": [tuple(named(v) for v in row[:-1]) for row in threads],  # (not the xid)
        "messages": [tuple(named(v) for v in row[1:]) for row in messages],  # (not the position)
        "events": [
            (ordinal, named(thread), kind, _payload(json.loads(payload), named))
            for ordinal, thread, kind, payload in events
        ],
    }


def _payload(fields: dict[str, Any], named: Any) -> dict[str, Any]:
    """An event's payload: its instant parsed (written to the microsecond or not), ids named."""
    return {
        key: datetime.fromisoformat(value) if key == "at" else named(value)
        for key, value in fields.items()
    }


@pytest.mark.parametrize("rules", [(), pg_baselines.RULES], ids=["fair-raw", "ladder-top"])
def test_the_fair_raw_and_the_one_call_store_what_threadcore_stores(
    postgres_url: str, schemas: list[str], rules: tuple[str, ...]
) -> None:
    core, raw, one = schemas
    clock = ManualClock(START)
    repo = PostgresRepository(postgres_url, schema=core)
    resource = Resource(pg_baselines.EXTENSION, phone_numbers=[OWNER], handlers=["101"])
    inbox = Inbox(
        repository=repo, directory=Directory([resource]), clock=clock, policy=Policy(ttl=TTL)
    )
    for guest, hours in WORK:
        clock.set(START + timedelta(hours=hours))
        inbox.receive(owner_number=OWNER, guest_number=guest, body=f"Hi {hours}")
    repo.close()
    for schema in (raw, one):
        PostgresRepository(postgres_url, schema=schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        pg_baselines.install_one_call(conn, one)
    fair = pg_baselines.FairRaw(postgres_url, raw, OWNER, TTL, rules)
    limit = pg_baselines.OneCall(postgres_url, one, OWNER, TTL)
    for guest, hours in WORK:
        fair.receive(guest, f"Hi {hours}", START + timedelta(hours=hours))
        limit.receive(guest, f"Hi {hours}", START + timedelta(hours=hours))
    fair.close()
    limit.close()
    expected = _stored(postgres_url, core)
    assert [row[7] for row in expected["threads"]] == ["Resolved", "Open", "Open"]  # expired
    assert [kind for _, _, kind, _ in expected["events"]].count("ThreadResolved") == 1
    assert _stored(postgres_url, raw) == expected
    assert _stored(postgres_url, one) == expected


def _traced(conn: Any, schema: str, run: Any) -> list[tuple[str, str]]:
    """The statements (their text) and bound values (as libpq's trace prints them) that ``run``
    sent on ``conn`` in the round trip of its claim (the one that takes an advisory lock),
    ``schema`` written ``S``."""
    from psycopg.pq import Trace

    with tempfile.TemporaryFile(mode="w+b") as handle:
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            run()
        finally:
            conn.pgconn.untrace()
        handle.seek(0, os.SEEK_SET)
        text = handle.read().decode(errors="replace").replace(schema, "S")
    text = re.sub(r'"_pg3_\d+"', '"_"', text)  # (prepared statements' names: in order of use)
    trips: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "B" and fields[2] == "ReadyForQuery":
            trips.append([])
        elif fields[0] == "F" and fields[2] in ("Parse", "Bind"):
            trips[-1].append((fields[2], fields[3]))
    claims = [trip for trip in trips if any("pg_advisory" in sent for _, sent in trip)]
    assert len(claims) == 1, trips
    return claims[0]


def test_the_ladder_sends_threadcores_statements_for_the_rules(
    postgres_url: str, schemas: list[str]
) -> None:
    core, raw, _ = schemas
    repo = PostgresRepository(postgres_url, schema=core, min_size=1, max_size=1)
    resource = Resource(pg_baselines.EXTENSION, phone_numbers=[OWNER], handlers=["101"])
    inbox = Inbox(
        repository=repo,
        directory=Directory([resource]),
        clock=ManualClock(START),
        policy=Policy(ttl=TTL),
    )
    conn = repo._getconn()  # (the pool's one connection: the receive takes it next)
    repo._putconn(conn)
    guest = WORK[0][0]
    try:
        sent = _traced(conn, core, lambda: inbox.receive(
            owner_number=OWNER, guest_number=guest, body="Hi"
        ))  # fmt: skip
    finally:
        repo.close()
    PostgresRepository(postgres_url, schema=raw).close()
    fair = pg_baselines.FairRaw(postgres_url, raw, OWNER, TTL, pg_baselines.RULES)
    try:
        ladder = _traced(fair.conn, raw, lambda: fair.receive(guest, "Hi", START))
    finally:
        fair.close()
    # the thread's columns aside (threadcore reads the 19 of its record, the ladder the 3 the
    # fair raw needs), every statement and value of the claim's round trip is threadcore's
    columns = re.compile(r"(?:t\.\w+, )*t\.\w+ FROM \(SELECT 1\)")
    expected = [(kind, columns.sub("<thread> FROM (SELECT 1)", what)) for kind, what in sent]
    assert [(kind, columns.sub("<thread> FROM (SELECT 1)", what)) for kind, what in ladder] == (
        expected
    )
    texts = [what for kind, what in expected if kind == "Parse"]
    assert len(texts) == 3, texts  # BEGIN, the claim's lock, its read
    assert "threadcore_gate()" in texts[1]
    for part in ("max(created_at)", "opted_out", "<thread>"):  # the floor, the opt-out, the row
        assert part in texts[2], texts[2]
