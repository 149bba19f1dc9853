"""threadcore.connect: storage picked from a URL or from THREADCORE_DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadcore import InMemoryRepository, SQLiteRepository, connect
from threadcore.errors import InvalidInput


def test_memory_is_asked_for_and_never_a_silent_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several workers must never each get a private in-memory store by accident (issue 14)."""
    monkeypatch.delenv("THREADCORE_DATABASE_URL", raising=False)
    assert isinstance(connect("memory://"), InMemoryRepository)
    with pytest.raises(InvalidInput, match="THREADCORE_DATABASE_URL") as refused:
        connect()
    assert refused.value.parameter == "url"
    monkeypatch.setenv("THREADCORE_DATABASE_URL", "")
    with pytest.raises(InvalidInput):
        connect()


def test_sqlite_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = connect("sqlite:///relative.db")
    assert isinstance(relative, SQLiteRepository)
    assert (tmp_path / "relative.db").exists()
    relative.close()
    absolute = connect(f"sqlite:///{tmp_path / 'absolute.db'}")
    assert isinstance(absolute, SQLiteRepository)
    assert absolute.path == str(tmp_path / "absolute.db")
    absolute.close()


def test_the_environment_variable_is_read_when_no_url_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADCORE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    repository = connect()
    assert isinstance(repository, SQLiteRepository)
    assert (tmp_path / "env.db").exists()
    repository.close()


@pytest.mark.parametrize("url", ["mysql://x", "threads.db", "sqlite://", "", "http://example"])
def test_unknown_or_incomplete_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        connect(url)
    assert refused.value.parameter == "url"


def test_a_url_must_be_a_string() -> None:
    with pytest.raises(InvalidInput):
        connect(42)  # type: ignore[arg-type]


def test_a_postgres_url_keeps_everything_but_threadcores_own_parameters() -> None:
    """libpq reads the rest of the URL: a socket URL without a host and percent-encoded
    options reach it byte for byte (issue 14 review)."""
    from threadcore.connect import _pool_options

    url = "postgresql:///db?pool_max=3&options=-c%20statement_timeout%3D5000&schema=a%2Bb"
    assert _pool_options(url) == (
        "postgresql:///db?options=-c%20statement_timeout%3D5000",
        {"max_size": 3, "schema": "a+b"},
    )
    assert _pool_options("postgresql://u:p%40ss@h:5432/db") == (
        "postgresql://u:p%40ss@h:5432/db",
        {},
    )
    assert _pool_options("postgresql://h/db?notify=on&sslmode=require") == (
        "postgresql://h/db?sslmode=require",
        {"notify": True},
    )
    assert _pool_options("postgresql://h/db?notify=OFF")[1] == {"notify": False}


def test_create_schema_false_never_creates_a_file(tmp_path: Path) -> None:
    from threadcore.errors import SchemaVersionError

    with pytest.raises(SchemaVersionError):
        SQLiteRepository(tmp_path / "absent.db", create_schema=False)
    assert not (tmp_path / "absent.db").exists()
