"""``threadcore directory``: the directory file (docs/cli.md) into and out of the directory stored
with the threads (issue 14). ``load`` merges a file into it (or, with ``--replace``, makes it
exactly the file's) in one transaction with the effect on the threads (rule R11); ``show`` prints
it as a directory file, so that ``show`` then ``load --replace`` changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from threadcore import ThreadStatus
from threadcore.cli._common import FILE_PATH, CliError, cli, db_option
from threadcore.cli._store import _database_url, _directory_file, _open_inbox, _redact
from threadcore.cli.directory_file import dump_directory
from threadcore.errors import ThreadcoreError

__all__ = ["directory"]


@cli.group()
def directory() -> None:
    """Store a directory file in the database, or print the stored directory as one."""


@directory.command("load")
@click.argument("file", type=FILE_PATH)
@db_option
@click.option(
    "--replace/--merge",
    default=False,
    help="--replace: the stored directory becomes exactly FILE's, resources FILE does not name "
    "are removed. --merge (the default): they stay.",
)
def directory_load(file: Path, url: str | None, replace: bool) -> None:
    """Store the directory file FILE in the database, in one transaction.

    By default a merge: each resource of FILE replaces the stored one of its extension id (its
    numbers and handlers become FILE's) or is added, and stored resources FILE does not name
    stay (--merge says it). With --replace the stored directory becomes exactly FILE's.

    What a change removes changes the open threads (rule R11): a removed resource's threads are
    resolved (OwnerDeleted), a removed number's are resolved (OwnerPhoneNumberDeleted), and the
    threads assigned to a removed handler become unassigned. Prints what changed.
    """
    url = _database_url(url, must_exist=False)
    if urlsplit(url).scheme.lower() == "memory":
        raise CliError("memory:// keeps nothing once the command ends: give a database", 2)
    given = list(_directory_file(file).resources())  # a bad file: refused before the database
    inbox, stored = _open_inbox(url, manual_clock="follow")
    try:
        before = {r.extension_id: r for r in stored.resources()}
        try:
            threads = inbox.load_directory(given, replace=replace)
        except ThreadcoreError as error:
            raise CliError(f"{error.code}: {error.message}") from None
    finally:
        inbox.close()
    named = {r.extension_id for r in given}
    added = sum(r.extension_id not in before for r in given)
    changed = sum(r.extension_id in before and before[r.extension_id] != r for r in given)
    removed = sum(extension_id not in named for extension_id in before) if replace else 0
    same = len(before) - changed - removed
    resolved = sum(t.status is ThreadStatus.RESOLVED for t in threads)
    click.echo(
        f"{_redact(url)}: directory {'replaced' if replace else 'merged'}: "
        f"{added} resource(s) added, {changed} changed, {removed} removed, {same} unchanged; "
        f"{len(threads)} thread(s) changed: {resolved} resolved, "
        f"{len(threads) - resolved} unassigned"
    )


@directory.command("show")
@db_option
def directory_show(url: str | None) -> None:
    """Print the directory stored in the database as a directory file (JSON), resources in
    the order they were added: `load` reads it back (`show > f.json`, then
    `load f.json --replace` changes nothing)."""
    url = _database_url(url, must_exist=True)
    inbox, stored = _open_inbox(url, manual_clock="follow")
    try:
        resources = list(stored.resources())
    finally:
        inbox.close()
    click.echo(json.dumps(dump_directory(resources), indent=2))
