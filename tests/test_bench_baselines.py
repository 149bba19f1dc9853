"""The PostgreSQL baselines of the benchmarks (``bench/pg_baselines.py``) store what threadcore's
``receive`` stores (issue 24): for the same inbound messages, the same thread, message and event
rows (ids, positions and transaction stamps aside), including a thread expired by the TTL. A
baseline that did less (no event, no TTL check) would make its ratio say little."""

from __future__ import annotations

import json
import sys
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


def test_the_fair_raw_and_the_one_call_store_what_threadcore_stores(
    postgres_url: str, schemas: list[str]
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
    fair = pg_baselines.FairRaw(postgres_url, raw, OWNER, TTL)
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
