"""The ``threadcore`` command line (click for arguments, rich for output). See docs/cli.md."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from threadcore import Directory, Inbox, ManualClock, SystemClock, ThreadcoreError, open_inbox
from threadcore.adapters.stored_clock import refuse_stored_clock
from threadcore.cli.diagram import embed, embedded, mermaid
from threadcore.cli.directory_file import (
    DIRECTORY_VARIABLE,
    DirectoryFileError,
    dump_directory,
    load_directory,
)
from threadcore.cli.replay import Replayer, ReplaySummary, json_schema
from threadcore.cli.workload import DEMO_RESOURCES, DEMO_START, demo_lines
from threadcore.connect import DATABASE_URL_VARIABLE, _connect, _sqlite_target
from threadcore.errors import ClockMismatch
from threadcore.storage import Clock, Repository, StoredClock, StoredDirectory

__all__ = ["CliError", "cli", "run"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CliError(Exception):
    """A failure the command line reports in one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


# --- shared plumbing --------------------------------------------------------------------------
def _database_url(url: str | None, *, must_exist: bool) -> str:
    url = url or os.environ.get(DATABASE_URL_VARIABLE)
    if not url:
        raise CliError(f"give --db URL (or set {DATABASE_URL_VARIABLE})", 2)
    path = _sqlite_file(url)
    if must_exist and path is not None and not Path(path).is_file():
        raise CliError(f"no SQLite database at {path!r}")
    return url


def _sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite://`` URL (``None``: not a SQLite file, or a URL ``connect`` will
    refuse in its own words)."""
    if not url.startswith("sqlite://"):
        return None
    try:
        path, _ = _sqlite_target(url)
    except ThreadcoreError:
        return None
    return path if path and path != ":memory:" else None


def _open(url: str, *, migrate: bool | None = None) -> Repository:
    """The repository at ``url``; ``migrate`` (when not ``None``) instead of its switch."""
    try:
        return _connect(url, migrate=migrate)
    except ThreadcoreError as error:
        raise CliError(f"cannot open {_redact(url)}: {error.message}") from None


def _open_inbox(
    url: str,
    clock: Clock | None = None,
    token_secret: bytes | None = None,
    manual_clock: bool | datetime | Literal["follow"] = False,
) -> tuple[Inbox, StoredDirectory]:
    """An inbox over the database at ``url`` and the directory stored in it (``open_inbox``),
    with that directory; close the inbox when done. ``manual_clock="follow"`` (a one-shot
    command given no clock): the database's stored manual clock when it has one (rule R18c)."""
    given = False if manual_clock == "follow" else manual_clock
    try:
        try:
            inbox = open_inbox(url, clock=clock, token_secret=token_secret, manual_clock=given)
        except ClockMismatch:
            if manual_clock != "follow":
                raise
            inbox = open_inbox(url, token_secret=token_secret, manual_clock=True)
    except ThreadcoreError as error:
        raise CliError(f"cannot open {_redact(url)}: {error.message}") from None
    stored = inbox.directory
    assert isinstance(stored, StoredDirectory)  # open_inbox's own, given no directory=
    return inbox, stored


def _inbox(url: str, directory: Directory | None, clock: Clock | None) -> tuple[Repository, Inbox]:
    """An inbox over the database at ``url`` deciding on ``directory`` (a directory file's) or,
    when it is ``None``, on the directory stored in the database, which must not be empty;
    close the repository when done. Without ``clock``: the database's stored manual clock if
    it has one, else the system clock."""
    if directory is not None:
        repository = _open(url)
        try:
            refuse_stored_clock(repository, clock)
        except ClockMismatch:
            if clock is not None:
                _close(repository)
                raise CliError(f"cannot open {_redact(url)}: the database runs on its stored "
                               "manual clock: leave out --at") from None  # fmt: skip
            clock = StoredClock(repository)  # type: ignore[arg-type]
        return repository, Inbox(repository=repository, directory=directory, clock=clock)
    no_directory = CliError(
        f"give --directory FILE (or set {DIRECTORY_VARIABLE}): the database stores no "
        "directory (`threadcore directory load FILE --db URL` stores one); see docs/cli.md",
        2,
    )
    path = _sqlite_file(url)
    if path is not None and not Path(path).is_file():
        raise no_directory  # a new file stores none: refused before it is made
    inbox, stored = _open_inbox(url, clock, manual_clock="follow" if clock is None else False)
    if not stored.resources():
        inbox.close()
        raise no_directory
    return stored.repository, inbox


def _close(repository: Repository) -> None:
    close = getattr(repository, "close", None)
    if callable(close):
        close()


def _redact(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


def _directory(path: str | None) -> Directory | None:
    """The directory of the file named by ``--directory`` (or ``THREADCORE_DIRECTORY``), or
    ``None`` when none is named: the command then uses the directory stored in the database."""
    path = path or os.environ.get(DIRECTORY_VARIABLE)
    return _directory_file(path) if path else None


def _directory_file(path: str | os.PathLike[str]) -> Directory:
    """The directory a directory file describes; a bad file is a one-line error."""
    try:
        return load_directory(path)
    except DirectoryFileError as error:
        raise CliError(str(error)) from None


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


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:,} lines"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled,
    )


def _lines(stream: Any, advance: Any) -> Iterator[str]:
    """The file's lines as text, reporting bytes read; a line that is not UTF-8 becomes one
    that fails JSON parsing with a clear message."""
    for count, raw in enumerate(stream, 1):
        advance(len(raw), count)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield "\x00 not UTF-8"


def _replay_file(
    path: Path,
    url: str,
    directory: Directory | None,
    *,
    strict: bool,
    batch: int,
    progress: bool,
    report_refused: int,
    title: str,
) -> ReplaySummary:
    try:
        stream = path.open("rb")
    except OSError as error:
        raise CliError(f"cannot read {str(path)!r}: {error.strerror}") from None
    err = _console(stderr=True)
    shown = 0

    def refused(number: int, code: str, message: str) -> None:
        nonlocal shown
        shown += 1
        if shown <= report_refused:
            err.print(f"{path.name}:{number}: {code}: {message}", markup=False)
        elif shown == report_refused + 1 and report_refused > 0:
            err.print("(more refused lines: see the summary)", markup=False)

    clock = ManualClock(_EPOCH)
    try:
        repository, inbox = _inbox(url, directory, clock)
    except BaseException:
        stream.close()
        raise
    try:
        replayer = Replayer(
            inbox, repository, clock, batch_size=batch, strict=strict, on_refused=refused
        )
        size = path.stat().st_size if path.is_file() else None
        with stream, _progress(err, progress and err.is_terminal) as bar:
            task = bar.add_task(title, total=size, lines=0)

            def advance(nbytes: int, count: int) -> None:
                bar.update(task, advance=nbytes, lines=count)

            try:
                return replayer.run(_lines(stream, advance))
            except ThreadcoreError as error:
                raise CliError(
                    f"storage failed, the current unit of work was undone: {error.message}"
                ) from None
    finally:
        _close(repository)


def _summary_table(summary: ReplaySummary, title: str) -> Table:
    ev, res = summary.events, summary.resolved
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, int | str]] = [
        ("lines read", summary.lines),
        ("  applied", summary.applied),
        ("    of which changed nothing (repeats)", summary.unchanged),
        ("  refused", sum(summary.refused.values())),
        ("  skipped (already in the database)", summary.skipped),
        ("threads opened", ev["ThreadOpened"]),
        ("threads resolved by a handler", res["Manual"]),
        ("threads expired (72 h without messages)", res["ThreadExpired"]),
        ("threads deleted", ev["ThreadDeleted"]),
        ("messages stored", ev["MessageAdded"]),
        ("assignments", ev["ThreadAssigned"]),
        ("notes", ev["NoteAdded"]),
        ("delivery status changes", ev["DeliveryStatusChanged"]),
        ("opt-outs (STOP)", ev["GuestOptedOut"]),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    for code, count in sorted(summary.refused.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(f"refused: {code}", f"{count:,}")
    seconds = max(summary.seconds, 1e-9)
    table.add_row("time", f"{summary.seconds:.2f} s")
    table.add_row("throughput", f"{summary.lines / seconds:,.0f} lines/s")
    table.add_row("", f"{summary.messages / seconds:,.0f} messages/s")
    return table


# --- the commands -----------------------------------------------------------------------------
_DB_HELP = (
    f"Database URL: sqlite:///path.db, postgresql://... (default: ${DATABASE_URL_VARIABLE}); "
    "add ?migrate=off never to change the schema"
)
_DIR_HELP = (
    f"Directory file (JSON: resources, numbers, handlers; default: ${DIRECTORY_VARIABLE}, "
    "else the directory stored in the database)"
)


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


@cli.command()
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option("--customers", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=5, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for demo.db, demo.jsonl and directory.json (default: a new temporary folder).",
)
@click.option("--db", "url", help="Run on this database instead of OUT/demo.db.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.option("--progress/--no-progress", default=True, help="Progress bar (on a terminal).")
def demo(
    seed: int,
    customers: int,
    days: int,
    out: Path | None,
    url: str | None,
    batch: int,
    progress: bool,
) -> None:
    """Run a seeded, realistic shared-inbox workload through the rules and show what happened.

    A few resources and handlers, many customers, a few simulated days: bursts, replies,
    assignments, notes, manual resolves, deletions, STOPs, silences that expire, late and
    duplicated carrier callbacks. Stored in an embedded SQLite file by default.
    """
    console = _console()
    folder = out if out is not None else Path(tempfile.mkdtemp(prefix="threadcore-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.db"
    if url is None:
        if database.exists():
            raise CliError(f"{str(database)!r} exists already: give another --out folder")
        url = f"sqlite:///{database.resolve()}"
    log, directory_file = folder / "demo.jsonl", folder / "directory.json"
    lines = demo_lines(seed=seed, customers=customers, days=days)
    try:
        with log.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        directory_file.write_text(
            json.dumps(dump_directory(DEMO_RESOURCES), indent=2) + "\n", encoding="utf-8"
        )
    except OSError as error:
        raise CliError(f"cannot write to {str(folder)!r}: {error.strerror}") from None
    console.print(
        f"[bold]threadcore demo[/]: {customers:,} customers, {len(DEMO_RESOURCES)} resources, "
        f"{days} days from {DEMO_START:%Y-%m-%d}, seed {seed}: {len(lines):,} lines → "
        f"{_redact(url)}"
    )
    summary = _replay_file(
        log,
        url,
        load_directory(directory_file),
        strict=False,
        batch=batch,
        progress=progress,
        report_refused=0,
        title="demo",
    )
    console.print(_summary_table(summary, "What happened"))
    end = DEMO_START + timedelta(days=days + 2)
    at = end.strftime("%Y-%m-%dT%H:%MZ")
    common = f"--db {url} --directory {directory_file}"
    console.print("\nLook around:", style="bold")
    console.print(f"  threadcore threads list {common} --as 101 --at {at}", markup=False)
    console.print(f"  threadcore replay {log} {common}   # again: changes nothing", markup=False)


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "url", help=_DB_HELP)
@click.option("--directory", "directory_path", help=_DIR_HELP)
@click.option("--strict", is_flag=True, help="Stop at the first refused line (exit code 1).")
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Lines per unit of work.",
)
@click.option(
    "--show-refused",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Refused lines printed to stderr (all are counted).",
)
@click.option("--progress/--no-progress", default=True, help="Progress bar (on a terminal).")
def replay(
    log: Path,
    url: str | None,
    directory_path: str | None,
    strict: bool,
    batch: int,
    show_refused: int,
    progress: bool,
) -> None:
    """Thread a JSON Lines history (LOG) through the rules, with the clock set from each line.

    Refused lines are reported with line number and error code; the run goes on unless
    --strict. Re-running the same file changes nothing. Line format: docs/replay.md.
    """
    url = _database_url(url, must_exist=False)
    directory = _directory(directory_path)
    summary = _replay_file(
        log,
        url,
        directory,
        strict=strict,
        batch=batch,
        progress=progress,
        report_refused=show_refused,
        title="replay",
    )
    title = f"Replayed {log.name}"
    if summary.watermark is not None:
        title += f" (database already held up to {summary.watermark.isoformat()})"
    _console().print(_summary_table(summary, title))
    if summary.stopped_at is not None:
        raise CliError(f"stopped at line {summary.stopped_at} (--strict)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of one replay line."""
    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.option("--db", "url", help=_DB_HELP)
@click.option("--at", "at_text", help="Sweep as of this instant (default: now).")
@click.option(
    "--every",
    "every_text",
    help="Sweep again and again at this interval (60s, 5m, 0.5s) until stopped: any number of "
    "instances may run; one leads at a time, and another takes over when it dies.",
)
@click.option("--manual-clock", "manual_clock", metavar="START", help="Sweep at the manual "
              "clock stored in the database (see threadcore serve --manual-clock).")  # fmt: skip
def sweep(
    url: str | None, at_text: str | None, every_text: str | None, manual_clock: str | None
) -> None:
    """Write every expiry that is due (reads never wait for it) and say how many."""
    from threadcore.cli.clock import clock_for, manual_start

    url = _database_url(url, must_exist=True)
    start = manual_start(manual_clock)
    if start is not None and at_text is not None:
        raise CliError("--at and --manual-clock do not go together: the stored clock says when", 2)
    if every_text is not None:
        if at_text is not None:
            raise CliError("--at and --every do not go together: a loop sweeps as of now", 2)
        from threadcore.cli.sweeper import interval, sweep_forever

        sweep_forever(url, interval(every_text), start)
        return
    at = _instant(at_text)
    if at is not None and at > SystemClock().now():
        # An expiry written early cannot be taken back: the thread would stay resolved.
        raise CliError(
            f"--at {at_text} is in the future: a sweep writes only expiries that are already "
            "due (reads and commands see them without a sweep)",
            2,
        )
    repository = _open(url)
    try:
        other = ManualClock(at) if at is not None else SystemClock()
        clock = clock_for(repository, url, start, other)
        inbox = Inbox(repository=repository, directory=Directory([]), clock=clock)
        try:
            expired = inbox.expire()
        except ThreadcoreError as error:
            raise CliError(f"{error.code}: {error.message}") from None
    finally:
        _close(repository)
    _console().print(f"{len(expired):,} thread(s) expired", markup=False)


@cli.command()
@click.option(
    "--write",
    "write_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Update the diagram embedded in this Markdown file.",
)
@click.option(
    "--check",
    "check_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Exit 1 if the diagram embedded in this Markdown file is out of date.",
)
def diagram(write_path: Path | None, check_path: Path | None) -> None:
    """Print the thread state machine as Mermaid, generated from the transition table."""
    text = mermaid()
    for path in (write_path, check_path):
        if path is None:
            continue
        try:
            document = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CliError(f"cannot read {str(path)!r}: {error.strerror}") from None
        if path == check_path:
            if embedded(document) != text:
                raise CliError(f"the diagram in {str(path)!r} is out of date: run "
                               f"threadcore diagram --write {path}")  # fmt: skip
            continue
        try:
            path.write_text(embed(document, text), encoding="utf-8")
        except ValueError as error:
            raise CliError(f"{path}: {error}") from None
    if write_path is None and check_path is None:
        click.echo(text, nl=False)


# --- the entry point --------------------------------------------------------------------------
def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Every failure is one line on stderr: 2 for bad arguments, 1 for anything else that went
    wrong (bad URL, unreadable file, refused line under --strict), 130 when interrupted.
    Set ``THREADCORE_DEBUG=1`` to see the traceback of an unexpected error.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="threadcore", standalone_mode=False)
    except CliError as error:
        click.echo(f"threadcore: error: {error.message}", err=True)
        return error.exit_code
    except click.UsageError as error:
        where = (
            f" {error.ctx.command_path.split(' ', 1)[1]}"
            if error.ctx and " " in (error.ctx.command_path)
            else ""
        )
        click.echo(
            f"threadcore: error: {error.format_message()} (see: threadcore{where} --help)",
            err=True,
        )
        return 2
    except click.ClickException as error:
        click.echo(f"threadcore: error: {error.format_message()}", err=True)
        return error.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("threadcore: interrupted", err=True)
        return 130
    except ThreadcoreError as error:
        click.echo(f"threadcore: error: {error.code}: {error.message}", err=True)
        return 1
    except Exception as error:
        if os.environ.get("THREADCORE_DEBUG"):
            raise
        message = str(error).splitlines()[0] if str(error) else ""
        click.echo(
            f"threadcore: internal error: {type(error).__name__}: {message} "
            "(THREADCORE_DEBUG=1 shows the traceback)",
            err=True,
        )
        return 70
    return result if isinstance(result, int) else 0


# The command groups defined in modules of their own register themselves on ``cli``.
from threadcore.cli import db as _db  # noqa: E402, F401
from threadcore.cli import directory as _directory_commands  # noqa: E402, F401
from threadcore.cli import serve as _serve_command  # noqa: E402, F401
from threadcore.cli import threads as _thread_commands  # noqa: E402, F401
