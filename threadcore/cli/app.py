"""The ``threadcore`` command line (click for arguments, rich for output). See docs/cli.md."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import click
from rich.table import Table

from threadcore import Directory, Inbox, ManualClock, SystemClock, ThreadcoreError

# The commands defined in modules of their own register themselves on ``cli`` when imported.
from threadcore.cli import db as _db_commands  # noqa: F401
from threadcore.cli import directory as _directory_commands  # noqa: F401
from threadcore.cli import serve as _serve_command  # noqa: F401
from threadcore.cli import threads as _thread_commands  # noqa: F401
from threadcore.cli._common import (
    FILE_PATH,
    CliError,
    _console,
    _instant,
    cli,
    db_option,
    directory_option,
)
from threadcore.cli._replay_file import replay_file as _replay_file
from threadcore.cli._store import _close, _database_url, _directory, _open, _redact
from threadcore.cli.clock import clock_for, manual_start
from threadcore.cli.diagram import embed, embedded, mermaid
from threadcore.cli.directory_file import dump_directory, load_directory
from threadcore.cli.replay import ReplaySummary, json_schema
from threadcore.cli.workload import DEMO_RESOURCES, DEMO_START, demo_lines

__all__ = ["CliError", "cli", "run"]


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
@click.argument("log", type=FILE_PATH)
@db_option
@directory_option
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
@db_option
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
    type=FILE_PATH,
    help="Update the diagram embedded in this Markdown file.",
)
@click.option(
    "--check",
    "check_path",
    type=FILE_PATH,
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
