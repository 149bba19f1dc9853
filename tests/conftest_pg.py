"""PostgreSQL fixtures, loaded by the PostgreSQL test modules with ``pytest_plugins``.

``postgres_url`` (session): a throwaway PostgreSQL started for the run (see ``pg_server.py``) and
stopped at the end, or the database named by ``THREADCORE_TEST_POSTGRES_URL``. Without server
binaries the tests skip with a message saying how to enable them, except in CI (``CI=true``),
where they fail: CI must run them.

``pg_schema``: a fresh PostgreSQL schema name per test, dropped afterwards; ``pg_repo``: a
``PostgresRepository`` in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pg_server
import pytest
from pg_server import drop_schema, new_schema_name

URL_VARIABLE = "THREADCORE_TEST_POSTGRES_URL"


def in_ci() -> bool:
    """Whether this run is CI's (where PostgreSQL tests must run, never skip)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a database the tests may fill (a throwaway server, or the given one)."""
    try:
        import psycopg  # noqa: F401  (the driver the adapter needs)
        import psycopg_pool  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[test]' (or '.[postgres]')")
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    try:
        server = pg_server.start()
    except pg_server.ServerUnavailable as error:
        _unavailable(str(error))
        raise  # unreachable: _unavailable skips or fails
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema name, dropped after the test."""
    schema = new_schema_name()
    yield schema
    drop_schema(postgres_url, schema)


@pytest.fixture
def pg_repo(postgres_url: str, pg_schema: str) -> Iterator[object]:
    """A ``PostgresRepository`` in a fresh schema, closed after the test."""
    from threadcore.adapters.postgres import PostgresRepository

    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=4)
    yield repo
    repo.close()
