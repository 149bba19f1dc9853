"""``threadcore sweep --every``: the sweep as a loop that any number of instances may start.

On PostgreSQL one instance leads at a time: it holds a session-level advisory lock on a
connection of its own, and sweeps at every interval; the others stand by and try for the lock at
every interval, so when the leader dies (its connection, and with it the lock, goes away) another
takes over within one interval. On SQLite every instance sweeps in turn under the database's
writer lock, which serialises them. Either way each due thread is expired once, with one event
(concurrent sweeps on PostgreSQL also skip the threads another sweep holds). SIGINT and SIGTERM
stop the loop after the sweep in progress.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from datetime import datetime
from types import FrameType
from urllib.parse import urlsplit

import click

from threadcore import Directory, Inbox, SystemClock
from threadcore.cli._common import CliError
from threadcore.cli._store import _close, _open
from threadcore.cli.clock import clock_for
from threadcore.errors import ThreadcoreError

__all__ = ["interval", "sweep_forever"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def interval(text: str) -> float:
    """Seconds from ``60s``, ``5m``, ``0.5s``, ``250ms``, ``1h`` or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else 0.0
    if not 0.01 <= seconds <= 86_400:
        raise CliError(f"--every {text!r}: give an interval from 10ms to 24h, e.g. 60s", 2)
    return seconds


class _Lead:
    """The right to sweep: a PostgreSQL advisory lock held on a connection of its own, or, on
    SQLite, always (its writer lock serialises the sweeps)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._postgres = urlsplit(url).scheme.lower() in ("postgresql", "postgres")
        self._conn: object | None = None

    def try_take(self) -> bool:
        """Whether this instance leads now (taking the lead if it is free)."""
        if not self._postgres:
            return True
        import psycopg

        from threadcore.connect import _pool_options

        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")  # type: ignore[attr-defined]
                return True  # still ours
            except psycopg.Error:
                self.release()  # the connection died, and the lock with it
        conninfo, options = _pool_options(self._url)
        key = f"threadcore:sweep:{options.get('schema', 'public')}"
        try:
            conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            _say_unreachable(error)
            return False  # try again at the next interval
        try:
            taken = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        except psycopg.Error as error:
            conn.close()
            _say_unreachable(error)
            return False
        if taken is not None and taken[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._conn.close()  # type: ignore[attr-defined]
            self._conn = None


def _say_unreachable(error: Exception) -> None:
    """Why this instance cannot lead now (not that another one leads)."""
    click.echo(
        f"threadcore sweep: cannot take the lead: the database is unavailable "
        f"({type(error).__name__}); trying again at the next interval",
        err=True,
    )


def sweep_forever(url: str, every: float, start: datetime | None = None) -> None:
    """Sweep ``url`` every ``every`` seconds while this instance leads, until SIGINT/SIGTERM
    (with ``start``: at the database's stored manual clock, begun at ``start`` if it has none)."""
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    repository = _open(url)
    try:
        clock = clock_for(repository, url, start, SystemClock())
    except BaseException:
        _close(repository)
        raise
    lead = _Lead(url)
    leading: bool | None = None
    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        inbox = Inbox(repository=repository, directory=Directory([]), clock=clock)
        while not stop.is_set():
            now_leading = lead.try_take()
            if now_leading != leading:
                leading = now_leading
                state = "leading" if leading else "standing by (another instance leads)"
                click.echo(f"threadcore sweep: {state}, every {every:g}s")
            if leading:
                try:
                    expired = inbox.expire()
                except ThreadcoreError as error:
                    click.echo(f"threadcore sweep: {error.code}: {error.message}", err=True)
                else:
                    if expired:
                        click.echo(f"{len(expired):,} thread(s) expired")
            stop.wait(every)
    finally:
        lead.release()
        _close(repository)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
