"""``GET /threadcore/v1/ready`` (issue 25): the readiness probe beside ``/health``. It answers 200
only while the database answers and holds this threadcore's schema version, and 503 with the
reason in the platform's error body otherwise; like ``/health`` it needs no token (a load balancer
has none), on memory, SQLite and PostgreSQL (a server stopped under it, and started again)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pg_server
import pytest
from starlette.testclient import TestClient
from test_http import TOKENS, error_of, make_client

import threadcore
from tests.conftest import START, two_queue_directory
from threadcore import Inbox, ManualClock

__all__ = ["make_client"]  # the fixture, shared with test_http

READY = "/threadcore/v1/ready"
MakeClient = Callable[..., tuple[TestClient, Inbox]]


def _ready(client: TestClient) -> None:
    answer = client.get(READY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready", "version": threadcore.__version__}


def test_ready_needs_no_token_and_is_described(make_client: MakeClient) -> None:
    client, _ = make_client(control_token=None)
    _ready(client)
    described = client.get("/openapi.json").json()["paths"][READY]["get"]
    assert described["security"] == []
    assert "default" in described["responses"]  # the error body of a 503


def test_sqlite_is_not_ready_closed_or_on_a_schema_of_another_version(tmp_path: Any) -> None:
    path = tmp_path / "ready.db"
    inbox = threadcore.open_inbox(f"sqlite:///{path}", clock=ManualClock(START))
    with TestClient(threadcore.http.create_app(inbox, tokens=TOKENS)) as client:
        _ready(client)
        with sqlite3.connect(path) as other:  # a newer threadcore migrated the file meanwhile
            other.execute("INSERT INTO threadcore_schema VALUES (999)")
        error_of(client.get(READY), 503, "SchemaVersionError")
        assert "999" in client.get(READY).json()["message"]
        assert str(tmp_path) not in client.get(READY).text  # names no path
        assert client.get("/threadcore/v1/health").status_code == 200  # alive all the same
        with sqlite3.connect(path) as other:
            other.execute("DELETE FROM threadcore_schema WHERE version = 999")
        _ready(client)
        inbox.close()
        error_of(client.get(READY), 503, "StorageError")


@pytest.fixture
def own_postgres() -> Iterator[pg_server.PostgresServer]:
    """A throwaway PostgreSQL server of this test's own, which it may stop."""
    try:
        server = pg_server.start()
    except pg_server.ServerUnavailable as error:
        pytest.fail(f"PostgreSQL cannot be started: {error}", pytrace=False)
    yield server
    server.stop()


def test_postgres_is_not_ready_while_its_server_is_stopped(
    own_postgres: pg_server.PostgresServer,
) -> None:
    from threadcore.adapters.postgres import PostgresRepository

    repository = PostgresRepository(f"{own_postgres.url}?connect_timeout=2", timeout=5)
    inbox = Inbox(repository=repository, directory=two_queue_directory(), clock=ManualClock(START))
    with TestClient(threadcore.http.create_app(inbox, tokens=TOKENS)) as client:
        _ready(client)
        import psycopg

        with psycopg.connect(own_postgres.url, autocommit=True) as admin:
            admin.execute("UPDATE threadcore_schema SET version = version - 1")
        older = client.get(READY)
        error_of(older, 503, "SchemaVersionError")
        assert "threadcore db upgrade" in older.json()["message"]
        with psycopg.connect(own_postgres.url, autocommit=True) as admin:
            admin.execute("UPDATE threadcore_schema SET version = version + 1")
        _ready(client)
        own_postgres.halt()
        stopped = client.get(READY)
        error_of(stopped, 503, "StorageError")
        assert "cannot be reached" in stopped.json()["message"]
        assert "inbound" not in stopped.text
        assert client.get("/threadcore/v1/health").status_code == 200
        own_postgres.start()
        _ready(client)
    inbox.close()
