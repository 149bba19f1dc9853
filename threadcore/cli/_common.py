"""What the ``threadcore`` commands share: the ``cli`` group they are commands of, the error they
report in one line, and reading options (opening a database, an inbox or a directory file:
``threadcore.cli._store``). Every command
module imports it; nothing imports ``threadcore.cli.app`` back (no import cycle: issue 23)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from threadcore.cli.directory_file import DIRECTORY_VARIABLE
from threadcore.connect import DATABASE_URL_VARIABLE

__all__ = ["FILE_PATH", "CliError", "cli", "db_option", "directory_option"]


class CliError(Exception):
    """A failure the command line reports in one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _instant(value: str | None, option: str = "--at", zone: bool = True) -> datetime | None:
    """The instant an ``option`` gives (UTC), or ``None``; without a zone it is refused, or
    with ``zone=False`` read as UTC."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option} must be an RFC 3339 date-time, not {value!r}", 2) from None
    if at.tzinfo is None:
        if zone:
            raise CliError(f"{option} needs a time zone (e.g. {value}Z)", 2)
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


_DB_HELP = (
    f"Database URL: sqlite:///path.db, postgresql://... (default: ${DATABASE_URL_VARIABLE}); "
    "add ?migrate=off never to change the schema"
)
_DIR_HELP = (
    f"Directory file (JSON: resources, numbers, handlers; default: ${DIRECTORY_VARIABLE}, "
    "else the directory stored in the database)"
)
#: A file's path (not a directory's), given to the command as a :class:`~pathlib.Path`.
FILE_PATH = click.Path(dir_okay=False, path_type=Path)
#: ``--db URL`` (the parameter ``url``): every command that opens a database takes it so.
db_option = click.option("--db", "url", help=_DB_HELP)
#: ``--directory FILE`` (the parameter ``directory_path``), for the commands that read one.
directory_option = click.option("--directory", "directory_path", help=_DIR_HELP)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """threadcore: the thread rules of a shared SMS inbox, on the command line.

    Start with `threadcore demo`.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
