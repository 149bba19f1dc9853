"""How the PostgreSQL adapter words driver errors: threadcore errors that say what the caller can
do, the driver's error as their ``__cause__`` and in the ``threadcore.storage`` log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from threadcore.domain.errors import (
    ConcurrencyConflict,
    ConnectionLost,
    OutcomeUnknown,
    StorageError,
    ThreadcoreError,
)

__all__ = ["closed_by_server", "translated"]

_CONFLICTS = (
    pg_errors.UniqueViolation,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
)


_log = logging.getLogger("threadcore.storage")


def _describe(error: psycopg.Error) -> str:
    """The error's class and SQLSTATE, and its first line, cut short: for the log."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    state = f" {error.sqlstate}" if error.sqlstate else ""
    return f"{type(error).__name__}{state}: {first[:200]}"


def _storage_error(error: psycopg.Error | PoolTimeout, connecting: bool = False) -> StorageError:
    """What a caller can do about a driver error, in words that name no driver internals (the
    error itself is the ``__cause__`` and goes to the ``threadcore.storage`` log).
    ``connecting``: no command ran (the repository opening, a readiness check), so none needs
    retrying."""
    unreachable = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
    if connecting and isinstance(error, unreachable):
        message = (
            "The database cannot be reached, or refused the connection; nothing was read or "
            "changed. Check that the server runs and accepts connections, and the URL's host, "
            "port, database name, user and password; then try again"
        )
    elif isinstance(error, pg_errors.LockNotAvailable):  # the lock timeout ran out: not retried
        message = (
            "The database is busy: another session held a lock this call needed for longer than "
            "the lock timeout. Nothing was changed; retry later"
        )
    elif isinstance(error, PoolTimeout):
        message = (
            "The database is busy: no connection was free in time. Nothing was changed; retry "
            "later (or give the repository a larger pool)"
        )
    elif isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        message = "The database is unavailable (the connection failed or was closed). Retry later"
    elif isinstance(error, psycopg.DataError):
        message = "The database refused a value it cannot store (out of range); nothing changed"
    elif isinstance(error, psycopg.ProgrammingError):
        message = (
            "The database schema is not what threadcore expects (a table, column or right is "
            "missing); nothing changed: check the schema and the role's rights"
        )
    else:
        message = "The database failed; nothing was changed. Retry later"
    _log.warning("PostgreSQL: %s", _describe(error) if isinstance(error, psycopg.Error) else error)
    return StorageError(message)


def closed_by_server(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server has closed ``conn`` already (a restart or a terminated session): what
    it sent, and the connection's end, are read without waiting (no round trip)."""
    try:
        conn.pgconn.consume_input()  # what arrived (a FATAL message) ...
        conn.pgconn.consume_input()  # ... and then the end of the connection, if it came
    except psycopg.OperationalError:
        pass
    return conn.broken


@contextmanager
def translated(
    conn: psycopg.Connection[Any] | None = None,
    *,
    committing: bool = False,
    connecting: bool = False,
) -> Iterator[None]:
    """Driver errors become threadcore errors: none escapes the adapter.

    With ``conn`` (a unit of work's own connection, outside a batch), an error that lost that
    connection says what became of the unit of work: before its commit was sent the server
    rolled it back, so it is :class:`ConnectionLost` (the facade runs the command again, once);
    with ``committing`` (its commit was on its way) nobody can tell: :class:`OutcomeUnknown`.
    ``connecting``: while no command runs, when a failure to connect is the operator's to fix,
    not a command's."""
    try:
        yield
    except ThreadcoreError:
        raise
    except psycopg.Error as error:
        if conn is None or not conn.broken:
            raise _translate(error, connecting) from error
        _log.warning("PostgreSQL connection lost: %s", _describe(error))
        if committing:
            raise OutcomeUnknown() from error
        raise ConnectionLost(
            "The database is unavailable (the connection was lost before the command was "
            "committed): nothing was changed. Retry later"
        ) from error
    except PoolTimeout as error:
        raise _storage_error(error, connecting) from error


def _translate(error: psycopg.Error, connecting: bool = False) -> ThreadcoreError:
    """A driver error that did not lose the unit of work's connection, as a threadcore error."""
    if isinstance(error, _CONFLICTS):
        constraint = error.diag.constraint_name
        where = f" ({constraint})" if constraint else ""
        return ConcurrencyConflict(
            f"A concurrent writer got there first{where}; the command can be retried"
        )
    return _storage_error(error, connecting)
