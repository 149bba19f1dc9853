"""Pick storage from a URL, so an embedding service changes storage without code changes."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from threadcore.adapters.memory import InMemoryRepository
from threadcore.domain.errors import InvalidInput
from threadcore.ports import Repository

__all__ = ["DATABASE_URL_VARIABLE", "connect"]

#: The environment variable read when :func:`connect` is given no URL.
DATABASE_URL_VARIABLE = "THREADCORE_DATABASE_URL"


def connect(url: str | None = None) -> Repository:
    """A repository for ``url``: ``"memory://"``, ``"sqlite:///relative/path.db"``,
    ``"sqlite:////absolute/path.db"``, ``"sqlite://:memory:"`` or ``"postgresql://..."``.

    Without ``url`` the ``THREADCORE_DATABASE_URL`` environment variable is read, and without
    that the in-memory repository is used. The drivers are imported only when asked for.
    """
    if url is None:
        url = os.environ.get(DATABASE_URL_VARIABLE) or "memory://"
    if not isinstance(url, str):
        raise InvalidInput("Parameter [url] must be a string", parameter="url")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return InMemoryRepository()
    if scheme == "sqlite":
        from threadcore.adapters.sqlite import SQLiteRepository

        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
        if not path:
            raise InvalidInput(f"No file in the database URL {url!r}", parameter="url")
        return SQLiteRepository(path)
    if scheme in ("postgresql", "postgres"):
        try:
            from threadcore.adapters.postgres import PostgresRepository
        except ImportError as error:  # pragma: no cover - depends on the extra being installed
            raise InvalidInput(
                "PostgreSQL storage needs the 'postgres' extra: pip install 'threadcore[postgres]'",
                parameter="url",
            ) from error
        repository: Repository = PostgresRepository(url)
        return repository
    raise InvalidInput(
        f"Unknown database URL {url[:60]!r}: use memory://, sqlite:///path.db or postgresql://...",
        parameter="url",
    )
