"""Every bundled unit of work satisfies the storage port's core and its queries, as mypy --strict
sees them (it is not run by pytest): the keyword arguments of ``claim`` and ``open_threads`` are
declared once (``ClaimArgs``, ``OpenThreadsArgs``), and an adapter that takes them packed (memory,
SQLite) or spells them out (PostgreSQL) must match that declaration."""

from __future__ import annotations

from collections.abc import Sequence

from threadcore.adapters._memory_queries import MemoryQueries
from threadcore.adapters._postgres_uow import PostgresUnitOfWork
from threadcore.adapters._sqlite_uow import SQLiteUnitOfWork
from threadcore.adapters.memory import InMemoryRepository
from threadcore.storage import Claims, Queries, UnitOfWork


def cores(memory: InMemoryRepository, sqlite: SQLiteUnitOfWork, pg: PostgresUnitOfWork) -> None:
    units: list[UnitOfWork] = [memory.unit_of_work(), sqlite, pg]
    claims: Sequence[Claims] = units
    for uow in claims:
        uow.claim(pair=("+12092480001", "+16502240003"), directory="read")
        uow.claim(thread_id="t1")


def queries(memory: MemoryQueries, sqlite: SQLiteUnitOfWork, pg: PostgresUnitOfWork) -> None:
    selections: list[Queries] = [memory, sqlite, pg]
    for each in selections:
        each.open_threads(owner_extension_id="101", assignee_id=None)
