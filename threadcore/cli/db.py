"""``threadcore db``: the schema outside the request path (issue 14). ``upgrade`` creates or
migrates it with a role that may (whatever the URL's ``migrate=`` says); ``sql`` prints what that
would run, for a DBA to review or run by hand. Services then open the URL with ``?migrate=off``
(``create_schema=False``), with a role that may only read and write rows (rule D3)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import click

from threadcore.cli._common import CliError, cli, db_option
from threadcore.cli._store import _close, _database_url, _open, _redact
from threadcore.errors import ThreadcoreError

__all__ = ["db"]


@cli.group()
def db() -> None:
    """Create, migrate or print the database schema (run it before the services)."""


@db.command("upgrade")
@db_option
def db_upgrade(url: str | None) -> None:
    """Create the schema, or migrate it to this threadcore's version (idempotent; whatever the
    URL's migrate= says)."""
    url = _database_url(url, must_exist=False)
    if urlsplit(url).scheme.lower() == "memory":
        raise CliError("memory:// has no schema to upgrade", 2)
    repository = _open(url, migrate=True)  # whatever the URL's migrate= says: that is its job
    _close(repository)
    click.echo(f"{_redact(url)}: schema at version {_version_of(url)}")


@db.command("sql")
@db_option
def db_sql(url: str | None) -> None:
    """Print the SQL `db upgrade` would run on this database (nothing when it is current)."""
    url = _database_url(url, must_exist=False)
    scheme = urlsplit(url).scheme.lower()
    try:
        if scheme == "sqlite":
            from threadcore.adapters import sqlite as adapter

            script = adapter.pending_sql(_sqlite_version(_sqlite_path(url)))
        elif scheme in ("postgresql", "postgres"):
            from threadcore.adapters import _postgres_schema as schema

            version, quoted, exists = _postgres_version(url)
            script = schema.pending_sql(version, quoted, create_schema=not exists)
        else:
            raise CliError(f"no schema to print for {_redact(url)}", 2)
    except ThreadcoreError as error:
        raise CliError(f"{error.code}: {error.message}") from None
    if not script.strip():
        click.echo("-- the schema is current: nothing to run")
        return
    # one transaction: run by hand (psql -f, sqlite3 <), a failure leaves nothing half done
    click.echo(f"BEGIN;\n{script.strip()}\nCOMMIT;")


@db.command("new-store-id")
@db_option
def db_new_store_id(url: str | None) -> None:
    """Give the database a new store id, after restoring it from a backup: every page and sync
    token issued before is then refused, and clients do a full sync (rule S4)."""
    url = _database_url(url, must_exist=True)
    scheme = urlsplit(url).scheme.lower()
    made = uuid.uuid4().hex
    try:
        if scheme == "sqlite":
            path = _sqlite_path(url)
            with sqlite3.connect(Path(path).resolve().as_uri() + "?mode=rw", uri=True) as conn:
                changed = conn.execute("UPDATE threadcore_store SET id = ?", (made,)).rowcount
        elif scheme in ("postgresql", "postgres"):
            import psycopg

            conninfo, quoted = _postgres_target(url)
            with psycopg.connect(conninfo, connect_timeout=10) as conn:
                cursor = conn.execute(f"UPDATE {quoted}.threadcore_store SET id = %s", (made,))
                changed = cursor.rowcount
        else:
            raise CliError(f"{_redact(url)} keeps no store id", 2)
    except (sqlite3.Error, ImportError) as error:
        raise CliError(f"cannot change the store id of {_redact(url)}: {error}") from None
    except Exception as error:  # psycopg's errors, without importing it for SQLite
        if type(error).__module__.startswith("psycopg"):
            raise CliError(f"cannot change the store id of {_redact(url)}") from None
        raise
    if not changed:
        raise CliError(f"{_redact(url)} has no store id yet: open it once (db upgrade)")
    click.echo(f"{_redact(url)}: new store id; tokens issued before are refused")


def _version_of(url: str) -> int | None:
    if urlsplit(url).scheme.lower() == "sqlite":
        return _sqlite_version(_sqlite_path(url))
    return _postgres_version(url)[0]


def _sqlite_path(url: str) -> str:
    from threadcore.connect import _sqlite_target

    try:
        return _sqlite_target(url)[0]
    except ThreadcoreError as error:
        raise CliError(f"{error.code}: {error.message}", 2) from None


def _sqlite_version(path: str) -> int | None:
    """The file's threadcore schema version, read without changing anything (``None``: none)."""
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'threadcore_schema'"
            ).fetchone()
            if not found:
                return None
            return int(conn.execute("SELECT max(version) FROM threadcore_schema").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise CliError(f"cannot read {path}: {error}") from None


def _postgres_target(url: str) -> tuple[str, str]:
    """The libpq connection string of a PostgreSQL URL and its schema's quoted name."""
    from threadcore.connect import _pool_options

    conninfo, options = _pool_options(url)
    schema = str(options.get("schema", "public"))
    return conninfo, '"' + schema.replace('"', '""') + '"'


def _postgres_version(url: str) -> tuple[int | None, str, bool]:
    """The schema's threadcore version (``None``: none), its quoted name, and whether the
    schema exists."""
    import psycopg

    conninfo, quoted = _postgres_target(url)
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s), to_regnamespace(%s)",
                (f"{quoted}.threadcore_schema", quoted),
            ).fetchone()
            if row is None or row[0] is None:
                return None, quoted, row is not None and row[1] is not None
            found = conn.execute(f"SELECT max(version) FROM {quoted}.threadcore_schema").fetchone()
            return (None if found is None or found[0] is None else int(found[0])), quoted, True
    except psycopg.Error:
        raise CliError(f"cannot reach {_redact(url)}") from None
