"""What the SQLite repository and its unit of work share: driver errors translated, list
parameters, the reads of the latest instant and the stored clock."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from threadcore.domain.errors import ConcurrencyConflict, StorageError, ThreadcoreError

__all__ = [
    "LATEST",
    "MAX_INLINE",
    "MAX_INTEGER",
    "STORED_CLOCK",
    "UNREAD",
    "any_of",
    "check_batch_alive",
    "translate",
    "translated",
]

#: The latest instant stored: the newest message or note (rule R18a; notes count since issue 24,
#: as lists walk them by creation time too). Each branch reads one end of an index.
LATEST = (
    "SELECT max(at) FROM (SELECT max(created_at) AS at FROM messages "
    "UNION ALL SELECT max(creation_time) FROM notes)"
)
STORED_CLOCK = "SELECT instant FROM threadcore_clock"
UNREAD = object()  # the stored clock, not read yet in the open unit of work
#: Lists longer than this are passed as one JSON array parameter: SQLite limits the number of
#: parameters of a statement (999 on older builds), and an id filter may name thousands.
MAX_INLINE = 100
MAX_INTEGER = 2**63 - 1  # SQLite's largest integer


def any_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if len(values) > MAX_INLINE:
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


_log = logging.getLogger("threadcore.storage")


def _words_for(error: sqlite3.Error) -> str:
    """What a caller can do about a SQLite error, naming no driver internals (the error is the
    ``__cause__`` and goes to the ``threadcore.storage`` log)."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return "The database is busy (another process holds its lock); nothing changed: retry"
    if "full" in text or "readonly" in text or "read-only" in text or "disk i/o" in text:
        return (
            "The database file cannot be written (disk full, read-only or failing); nothing "
            "changed: free space or fix the file's permissions, then retry"
        )
    if "no such" in text:
        return "The database schema is not what threadcore expects; nothing changed"
    return "The database failed; nothing was changed. Retry later"


class _Translated:
    """Driver errors become threadcore errors: none escapes the adapter. (A class rather than a
    generator-based context manager: every command enters it several times, and a generator
    costs 1.5 µs a time.)"""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, sqlite3.Error):
            raise translate(exc) from exc


translated = _Translated()


def translate(error: sqlite3.Error) -> ThreadcoreError:
    """The threadcore error a driver error becomes (raised ``from`` it, as :data:`translated`
    does; for the hot paths, where a ``try`` costs nothing until it catches)."""
    if isinstance(error, sqlite3.IntegrityError):
        return ConcurrencyConflict(f"A concurrent writer got there first ({error})")
    _log.warning("SQLite: %s: %s", type(error).__name__, str(error)[:200])
    return StorageError(_words_for(error))


def check_batch_alive(conn: sqlite3.Connection) -> None:
    """Refuse to go on with a batch whose transaction an earlier error ended (SQLite rolls back
    the whole transaction on some errors, e.g. a full disk): nothing of it was committed."""
    if not conn.in_transaction:
        raise StorageError(
            "The batch's transaction was lost to an earlier storage error: nothing in it was "
            "stored; run the batch again"
        )
