"""``threadcore clock``: the manual clock stored in a database (issue 25, rule R18c), and the
``--manual-clock START`` option of the commands that run on it (``serve``, ``sweep``)."""

from __future__ import annotations

from datetime import datetime

import click

from threadcore.adapters.stored_clock import refuse_stored_clock
from threadcore.cli._common import CliError, _instant, cli, db_option
from threadcore.cli._store import _close, _database_url, _open, _redact
from threadcore.errors import ThreadcoreError
from threadcore.ports import Clock, ClockStore, Repository
from threadcore.storage import StoredClock

__all__ = ["clock", "clock_for", "manual_start", "say_start"]

#: The help of every ``--manual-clock START`` option.
MANUAL_CLOCK_HELP = (
    "Run at the manual clock stored in the database, which every process on it shares; START "
    "(RFC 3339) puts the database in manual time if it is not (a stored clock already later "
    "stays where it is). POST /threadcore/v1/clock moves it; `threadcore clock system` ends it."
)


def manual_start(text: str | None) -> datetime | None:
    """The START of ``--manual-clock START``, or ``None``. Without a zone the time is read as
    UTC, as the query parameters are (docs/http.md)."""
    return _instant(text, "--manual-clock", zone=False)


def say_start(start: datetime | None, at: datetime) -> None:
    """Say on stderr that ``--manual-clock START`` was ignored, when the clock stands elsewhere."""
    if start is not None and at != start:
        click.echo(
            f"threadcore: --manual-clock {start.isoformat()} ignored: the database's clock is "
            f"already at {at.isoformat()} and never goes back",
            err=True,
        )


def clock_for(repository: Repository, url: str, start: datetime | None, other: Clock) -> Clock:
    """The clock a command runs at on ``repository``: its stored manual clock (begun at
    ``start`` if it has none), or, without ``start``, ``other``, which a database in manual
    time refuses (one line)."""
    try:
        if start is None:
            refuse_stored_clock(repository, other)
            return other
        stored = StoredClock(repository, start=start)  # type: ignore[arg-type]
        say_start(start, stored.now())
    except ThreadcoreError as error:
        raise CliError(f"cannot open {_redact(url)}: {error.message}") from None
    return stored


@cli.group()
def clock() -> None:
    """The manual clock stored in a database (docs/cli.md)."""


def _store(url: str | None) -> tuple[Repository, ClockStore]:
    repository = _open(_database_url(url, must_exist=True))
    if not isinstance(repository, ClockStore):  # pragma: no cover - every bundled one is
        _close(repository)
        raise CliError("this database keeps no clock")
    return repository, repository


@clock.command("show")
@db_option
def clock_show(url: str | None) -> None:
    """Print the stored manual instant, or `system` when the database runs on the system
    clock."""
    repository, store = _store(url)
    try:
        instant = store.stored_clock()
    finally:
        _close(repository)
    click.echo("system" if instant is None else f"manual {instant.isoformat()}")


@clock.command("system")
@db_option
def clock_system(url: str | None) -> None:
    """Return the database to the system clock (stop the processes on its manual clock first:
    their next command is refused)."""
    repository, store = _store(url)
    try:
        left = StoredClock.return_to_system_clock(store)
    finally:
        _close(repository)
    if left is None:
        click.echo("the database runs on the system clock already")
    else:
        click.echo(f"the database runs on the system clock (its manual clock was at {left})")
