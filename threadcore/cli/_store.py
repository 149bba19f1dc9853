"""How the ``threadcore`` commands open what they work on: the database (the URL given by
``--db`` or the environment, shown in messages without its password), the repository or inbox
over it, and a directory file."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from threadcore import Directory, Inbox, ThreadcoreError, open_inbox
from threadcore.adapters.stored_clock import refuse_stored_clock
from threadcore.cli._common import CliError
from threadcore.cli.directory_file import DIRECTORY_VARIABLE, DirectoryFileError, load_directory
from threadcore.connect import DATABASE_URL_VARIABLE, _connect, _sqlite_target
from threadcore.errors import ClockMismatch
from threadcore.storage import Clock, Repository, StoredClock, StoredDirectory

__all__: list[str] = []


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
