"""The stateful machine against the PostgreSQL repository, with a step that reopens the pool.

Every example starts from empty tables in one schema of the throwaway server; the example
count is the profile's divided by 5, like SQLite's (200 examples of up to 50 steps in CI).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings
from hypothesis.stateful import rule, run_state_machine_as_test
from pg_server import drop_schema, new_schema_name

from threadcore.adapters.postgres import PostgresRepository
from threadcore.ports import Repository
from threadcore.testing.stateful import InboxMachine

pytest_plugins = ["conftest_pg"]


class PostgresMachine(InboxMachine):
    """The shared machine on PostgreSQL, its directory stored in the schema; ``url`` and
    ``schema`` are set by the test."""

    stored_directory = True
    url = ""
    schema = ""

    def make_repository(self) -> Repository:
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = ("threads", "messages", "events", "notes", "opt_outs", "threadcore_resources")
            conn.execute("TRUNCATE " + ", ".join(f'"{self.schema}".{t}' for t in tables))
            conn.execute(f'UPDATE "{self.schema}".threadcore_directory SET version = 0')
        return PostgresRepository(self.url, schema=self.schema, max_size=1)

    @rule()
    def reopen(self) -> None:
        """Close the pool and open the schema again: nothing acknowledged may be lost."""
        assert isinstance(self.repository, PostgresRepository)
        self.repository.close()
        self.repository = PostgresRepository(self.url, schema=self.schema, max_size=1)
        if self.inbox is not None:
            self.inbox = self.make_inbox(self.inbox.policy)

    def teardown(self) -> None:
        assert isinstance(self.repository, PostgresRepository)
        self.repository.close()


@pytest.fixture
def machine_schema(postgres_url: str) -> Iterator[str]:
    schema = new_schema_name()
    PostgresRepository(postgres_url, schema=schema).close()  # create the tables once
    yield schema
    drop_schema(postgres_url, schema)


def test_the_stateful_machine_on_postgres(postgres_url: str, machine_schema: str) -> None:
    PostgresMachine.url = postgres_url
    PostgresMachine.schema = machine_schema
    profile = settings()
    run_state_machine_as_test(
        PostgresMachine,
        settings=settings(profile, max_examples=max(profile.max_examples // 5, 30)),
    )
