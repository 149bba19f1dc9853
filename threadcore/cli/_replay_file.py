"""A replay file run through :class:`~threadcore.cli.replay.Replayer` with a progress bar
(``threadcore replay``, ``threadcore demo`` and the console's demo)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from threadcore import Directory, ManualClock, ThreadcoreError
from threadcore.cli._common import CliError, _console
from threadcore.cli._store import _close, _inbox
from threadcore.cli.replay import Replayer, ReplaySummary

__all__ = ["replay_file"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def replay_file(
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
    """Replay the JSON Lines file at ``path`` into the database at ``url`` (deciding on
    ``directory``, else the one stored there) on a manual clock the lines set, ``batch`` lines
    a unit of work; print the first ``report_refused`` refused lines on stderr and, with
    ``progress`` on a terminal, a progress bar titled ``title``."""
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
