"""The ``store`` fixture: one store on memory, SQLite and PostgreSQL, opened by several
"processes" (import it into a test module that loads ``conftest_pg``: ``store = stores.store``).

Each call of the fixture's value is another process's repository over the same store: for memory
one shared repository object, for SQLite another connection to one file, for PostgreSQL another
pool on one schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import TTL, billing_directory

from threadcore import Directory, Inbox, InMemoryRepository, Policy, SQLiteRepository

SECRET = b"0123456789abcdef0123456789abcdef"
#: A factory of repositories over one store: each call is another process's repository.
Store = Callable[[], object]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: list[object] = []
    if request.param == "memory":
        shared = InMemoryRepository()

        def make() -> object:
            return shared

    elif request.param == "sqlite":

        def make() -> object:
            repo = SQLiteRepository(tmp_path / "t.db")
            opened.append(repo)
            return repo

    else:
        from threadcore.adapters.postgres import PostgresRepository

        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("pg_schema")

        def make() -> object:
            repo = PostgresRepository(url, schema=schema, max_size=4)
            opened.append(repo)
            return repo

    yield make
    for repo in opened:
        repo.close()  # type: ignore[attr-defined]


class SteppingClock:
    """A host's clock that can be set anywhere, backwards too (NTP stepping, skewed hosts)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def url_of(repository: object) -> str:
    """The URL another process opens the store of ``repository`` by (SQLite or PostgreSQL)."""
    if isinstance(repository, SQLiteRepository):
        return f"sqlite:///{repository.path}"
    url, schema = repository._url, repository.schema  # type: ignore[attr-defined]
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def inbox_on(repo: object, clock: object, directory: Directory | None = None) -> Inbox:
    """An inbox of the billing directory over ``repo`` with ``clock`` (any ``Clock``)."""
    return Inbox(
        repository=repo,  # type: ignore[arg-type]
        directory=directory if directory is not None else billing_directory(),
        clock=clock,  # type: ignore[arg-type]
        policy=Policy(ttl=TTL),
        token_secret=SECRET,
    )
