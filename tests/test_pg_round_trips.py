"""What a command costs the PostgreSQL client (issue 24): every statement it sends stays within
psycopg's query-conversion cache (so the client never converts it again), and every command
takes at most 2 round trips (the claim's pipeline, then the writes with the ``COMMIT``).

Round trips are counted from libpq's own protocol trace (``PQtrace``): each ``ReadyForQuery`` the
server sends answers one ``Sync`` the client waited for, one round trip. Statements are counted
where psycopg converts them (``PostgresQuery.convert``), with the limits of its cache."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import stores
from conftest import GUEST, GUEST2, OWNER, START
from psycopg import _queries

from threadcore import Inbox, ManualClock

pytest_plugins = ["conftest_pg"]


@pytest.fixture
def traced(postgres_url: str, pg_schema: str) -> Iterator[tuple[Inbox, ManualClock, Any]]:
    from psycopg.pq import Trace

    from threadcore.adapters.postgres import PostgresRepository

    repo = PostgresRepository(postgres_url, schema=pg_schema, min_size=1, max_size=1)
    clock = ManualClock(START)
    inbox: Inbox = stores.inbox_on(repo, clock)
    handle = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed at the end
    getconn, putconn = repo._getconn, repo._putconn

    def traced_getconn() -> Any:
        conn = getconn()
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        return conn

    def traced_putconn(conn: Any) -> None:
        conn.pgconn.untrace()
        putconn(conn)

    repo._getconn = traced_getconn  # type: ignore[method-assign]
    repo._putconn = traced_putconn  # type: ignore[method-assign]
    try:
        yield inbox, clock, handle
    finally:
        repo._getconn, repo._putconn = getconn, putconn  # type: ignore[method-assign]
        repo.close()
        handle.close()


def _round_trips(handle: Any, command: Callable[[], object]) -> int:
    """How many times the client waited for the server while ``command`` ran."""
    handle.seek(0, os.SEEK_END)
    start = handle.tell()
    command()
    handle.flush()
    handle.seek(start)
    lines = handle.read().decode(errors="replace").splitlines()
    return sum(1 for line in lines if line.startswith("B") and "\tReadyForQuery" in line)


def _commands(inbox: Inbox, clock: ManualClock) -> list[tuple[str, Callable[[], object]]]:
    """Each command the issue names, on a store where its thread exists (and, for the first
    receive, where it does not)."""
    first = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="hi")

    def later(command: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            clock.advance(timedelta(seconds=1))
            return command()

        return run

    return [
        ("receive opening a thread", later(lambda: inbox.receive(
            owner_number=OWNER, guest_number=GUEST2, body="new"
        ))),
        ("receive", later(lambda: inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="again"
        ))),
        ("receive with a carrier id", later(lambda: inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="carried", provider_message_id="SM1"
        ))),
        ("receive with a carrier id again", later(lambda: inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="carried", provider_message_id="SM1"
        ))),
        ("assign", later(lambda: inbox.assign(first.thread_id, actor="101", assignee="101"))),
        ("send", later(lambda: inbox.send(
            owner_number=OWNER, guest_number=GUEST, body="reply", actor="101"
        ))),
        ("send with a carrier id", later(lambda: inbox.send(
            owner_number=OWNER, guest_number=GUEST, body="out", actor="101",
            provider_message_id="SM2",
        ))),
        ("send on the thread", later(lambda: inbox.send(
            thread_id=first.thread_id, body="reply", actor="101"
        ))),
    ]  # fmt: skip


def test_every_command_takes_at_most_two_round_trips(
    traced: tuple[Inbox, ManualClock, Any],
) -> None:
    inbox, clock, handle = traced
    counted = {name: _round_trips(handle, run) for name, run in _commands(inbox, clock)}
    assert counted == {name: min(found, 2) for name, found in counted.items()}, counted
    assert all(found >= 1 for found in counted.values()), counted  # the trace does count


def test_every_statement_of_a_command_stays_in_the_conversion_cache(
    traced: tuple[Inbox, ManualClock, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, clock, _ = traced
    commands = _commands(inbox, clock)
    seen: list[tuple[int, int, str]] = []
    convert = _queries.PostgresQuery.convert

    def counting(self: Any, query: Any, params: Any) -> None:
        text = query if isinstance(query, bytes) else str(query).encode()
        if params is not None:
            seen.append((len(params), len(text), text[:60].decode(errors="replace")))
        convert(self, query, params)

    monkeypatch.setattr(_queries.PostgresQuery, "convert", counting)
    for _, run in commands:
        run()
    assert seen  # the wrapper does see the statements
    limits = (_queries.MAX_CACHED_STATEMENT_PARAMS, _queries.MAX_CACHED_STATEMENT_LENGTH)
    over = [s for s in seen if s[0] > limits[0] or s[1] > limits[1]]
    assert not over, over


def test_the_claims_lookup_is_a_declared_capability_only_postgresql_offers(
    postgres_url: str, pg_schema: str
) -> None:
    """The runner reads a carrier id's message with the claim through the port's
    ``ClaimLookups`` capability, not by probing for a method: PostgreSQL offers it, the
    adapters whose reads cost no round trip do not."""
    from threadcore.ports import ClaimLookups, offers
    from threadcore.storage import InMemoryRepository, PostgresRepository, SQLiteRepository

    pg = PostgresRepository(postgres_url, schema=pg_schema, max_size=1)
    try:
        with pg.unit_of_work() as uow:
            assert offers(uow, ClaimLookups)
    finally:
        pg.close()
    for other in (InMemoryRepository(), SQLiteRepository(":memory:")):
        with other.unit_of_work() as uow:
            assert not offers(uow, ClaimLookups)


def test_a_planned_write_sends_what_packing_it_anew_sends() -> None:
    """``Statements.write`` packs a unit of work's pieces once per shape and then slices the
    parameters by that plan: for every shape (pieces split for the cache's limits, tombstones
    sparing ids, a batch's large groups), and again from the plan with other values, the
    statements are those packing them anew makes."""
    from threadcore.adapters._postgres_statements import Statements
    from threadcore.adapters._sql import MESSAGE_COLUMNS, NOTE_COLUMNS, THREAD_COLUMNS

    class Unplanned(Statements):
        def _planned(self, pieces: Any, spare: bool, most: int, chars: int | None) -> Any:
            return self._packed(pieces, spare, most, chars)

    counter = iter(range(10**9))

    def row(width: int) -> tuple[Any, ...]:
        return tuple(f"v{next(counter)}" for _ in range(width))

    def writes(threads: int, messages: int, events: int, buried: int, notes: int) -> Any:
        return (
            [(row(len(THREAD_COLUMNS)), n % 2 * 3) for n in range(threads)],
            [row(len(MESSAGE_COLUMNS) + 2) for _ in range(messages)],
            [row(4) for _ in range(events)],
            {
                "tombstones": [(f"t{n}", START) for n in range(buried)],
                "spared": ["m1", "m2"] if buried else [],
                "notes": [(row(len(NOTE_COLUMNS) + 2), 0) for _ in range(notes)],
                "opt_outs": [("+1", "+2", True)] if notes else [],
            },
        )

    planned, unplanned = Statements('"s"'), Unplanned('"s"')
    counts = set()
    shapes = [(1, 1, 1, 0, 0), (1, 1, 2, 0, 0), (2, 1, 3, 0, 0), (2, 3, 12, 2, 1), (0, 9, 30, 0, 4)]
    for _ in range(2):  # planned, then from the plan
        for shape in shapes:
            threads, messages, events, rest = writes(*shape)
            for compact in (True, False):
                expected = unplanned.write(threads, messages, events, compact=compact, **rest)
                got = planned.write(threads, messages, events, compact=compact, **rest)
                assert got == expected, shape
                counts.add(len(expected))
    assert max(counts) > 2, counts  # (pieces split over several statements were seen)
