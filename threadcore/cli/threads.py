"""``threadcore threads`` and ``threadcore messages``: what a handler sees, one line a record
(issue 25, item 9). Ids are shown by their short form (:mod:`threadcore.cli.short_ids`), unique
among the records of that kind the handler may see, and every command taking an id takes that
form too; ``show`` and ``--format json`` print every value whole."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial, wraps
from typing import Any, TypeVar

import attrs
import click
from rich.table import Table
from rich.text import Text

from threadcore import (
    Direction,
    Inbox,
    ManualClock,
    Message,
    MessageFilter,
    Page,
    Thread,
    ThreadcoreError,
    ThreadFilter,
    wire,
)
from threadcore.cli._common import CliError, _console, _instant, cli, db_option, directory_option
from threadcore.cli._store import _close, _database_url, _directory, _inbox
from threadcore.cli.short_ids import ShortIds
from threadcore.cli.tables import Column, age, delivery, printable, short_time, state, table
from threadcore.errors import MessageNotFound, ThreadNotFound
from threadcore.model import Availability, OwnerResource, ThreadUser

__all__ = ["messages", "threads"]

_EVERY = (Availability.ALIVE, Availability.DELETED)
_PAGE = 1000  # the largest page a list read gives
_SHOWN_MATCHES = 10  # an ambiguous id's error names at most this many of its matches


# --- reading ----------------------------------------------------------------------------------
@attrs.frozen
class _View:
    """What every read command takes (``@_view_options``): the database and directory, the
    handler it reads as, the instant it reads at, and how it prints."""

    url: str | None
    directory_path: str | None
    actor: str
    at_text: str | None
    fmt: str

    @contextmanager
    def inbox(self) -> Iterator[Inbox]:
        """The inbox to read, closed after the block; a refusal in the block is one line."""
        url = _database_url(self.url, must_exist=True)
        directory = _directory(self.directory_path)
        at = _instant(self.at_text)
        repository, inbox = _inbox(url, directory, ManualClock(at) if at is not None else None)
        try:
            yield inbox
        except ThreadcoreError as error:
            raise CliError(f"{error.code}: {error.message}") from None
        finally:
            _close(repository)


def _view_options(command: Callable[..., None]) -> Any:
    """``command`` with the options of a :class:`_View`, which it is given as ``view``."""

    @wraps(command)  # keeps the options declared below this decorator
    def with_view(
        url: str | None,
        directory_path: str | None,
        actor: str,
        at_text: str | None,
        fmt: str,
        **rest: Any,
    ) -> None:
        command(view=_View(url, directory_path, actor, at_text, fmt), **rest)

    wrapped: Any = with_view
    for option in reversed(
        [
            db_option,
            directory_option,
            click.option("--as", "actor", required=True, help="The handler's extension id."),
            click.option("--at", "at_text", help="As of this instant (default: now)."),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["table", "json"]),
                default="table",
                show_default=True,
            ),
        ]
    ):
        wrapped = option(wrapped)
    return wrapped


def _every_id(listing: Callable[..., Page[Any]], everything: object) -> ShortIds:
    """The short forms of the ids of every record a list read (``Inbox.list``,
    ``Inbox.list_messages``, bound to the handler) gives for ``everything``, page after page."""
    ids: list[str] = []
    token: str | None = None
    while True:
        page = listing(filter=everything, limit=_PAGE, cursor=token)
        ids.extend(record.id for record in page)
        token = page.next_cursor
        if token is None:
            return ShortIds(ids)


def thread_ids(inbox: Inbox, actor: str) -> ShortIds:
    """The short forms of the ids of every thread ``actor`` may see, deleted ones too."""
    return _every_id(partial(inbox.list, actor=actor), ThreadFilter(availability=_EVERY))


def message_ids(inbox: Inbox, actor: str) -> ShortIds:
    """The short forms of the ids of every message ``actor`` may see, deleted ones too."""
    return _every_id(partial(inbox.list_messages, actor=actor), MessageFilter(availability=_EVERY))


def resolve(given: str, ids: ShortIds, kind: str) -> str:
    """The id ``given`` stands for among ``ids``: the id it equals, else the one id it is the
    tail of; ``given`` itself when it is none of them (the command then refuses it as not found,
    in the library's words). A tail of several ids is a one-line error naming them by their
    short forms (exit 2)."""
    found = ids.matches(given)
    if len(found) > 1:
        named = ", ".join(ids.short(i) for i in found[:_SHOWN_MATCHES])
        more = len(found) - _SHOWN_MATCHES
        raise CliError(
            f"{kind} id {given!r} is ambiguous: {len(found)} {kind}s end with it: {named}"
            + (f" and {more} more" if more > 0 else "")
            + "; give more of it",
            2,
        )
    return found[0] if found else given


R = TypeVar("R")


def read_by_id(
    given: str,
    read: Callable[[str], R],
    not_found: type[ThreadcoreError],
    ids: Callable[[], ShortIds],
    kind: str,
) -> R:
    """The record ``read`` gives for ``given``, a whole id (read at once: a whole id wins) or a
    short one (read back among ``ids()``, as :func:`resolve` does)."""
    try:
        return read(given)
    except not_found:
        resolved = resolve(given, ids(), kind)
        if resolved == given:
            raise
    return read(resolved)


# --- rendering --------------------------------------------------------------------------------
_THREAD_COLUMNS = (
    Column("id"),
    Column("state"),
    Column("guest"),
    Column("owner", cut=True),
    Column("assignee", cut=True),
    Column("label", cut=True, keep=24),
    Column("idle"),
)


def _name(user: ThreadUser | OwnerResource | None) -> str:
    return (user.name or user.extension_id) if user else ""


def thread_rows(records: Sequence[Thread], ids: ShortIds, inbox: Inbox) -> Table:
    """Threads one line each: short id, state, guest, owner, assignee, label, and how long the
    thread has been idle: since its latest message, as of the command's instant."""
    now = inbox.now()
    rows = [
        (
            ids.short(t.id),
            state(t),
            t.guest_party.phone_number,
            _name(t.owner),
            _name(t.assignee),
            t.label or "",
            age(t.latest_message_at, now),
        )
        for t in records
    ]
    return table(_THREAD_COLUMNS, rows, _console().width)


_MESSAGE_COLUMNS = (
    Column("id"),
    Column("time"),
    Column("dir"),
    Column("author", cut=True),
    Column("status"),
    Column("text", cut=True, keep=24),
)


def message_rows(records: Sequence[Message], ids: ShortIds) -> Table:
    """Messages one line each: short id, time (UTC, to the minute), direction, author, delivery
    status, text."""
    rows = [
        (
            ids.short(m.id),
            short_time(m.created_at),
            "in" if m.direction is Direction.INBOUND else "out",
            _name(m.author),
            delivery(m.status),
            m.body,
        )
        for m in records
    ]
    return table(_MESSAGE_COLUMNS, rows, _console().width)


def _details(pairs: Sequence[tuple[str, str]]) -> Table:
    """``name  value`` lines, every value whole (folded when it is wider than the console), its
    control characters shown as escapes (:func:`printable`)."""
    out = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    out.add_column("what", no_wrap=True, style="bold")
    out.add_column("value", overflow="fold")
    for name, value in pairs:
        out.add_row(name, Text(printable(value)))
    return out


def _who(user: ThreadUser | OwnerResource | None) -> str:
    if user is None:
        return ""
    return f"{user.name} ({user.extension_id})" if user.name else user.extension_id


def _when(at: datetime | None) -> str:
    return "" if at is None else at.isoformat().replace("+00:00", "Z")


# --- the commands -----------------------------------------------------------------------------
@cli.group()
def threads() -> None:
    """List or show threads as a handler sees them."""


@threads.command("list")
@_view_options
@click.option("--status", type=click.Choice(["Open", "Resolved"]), help="Only these.")
@click.option("--deleted", is_flag=True, help="Also deleted threads (tombstones).")
@click.option("--page", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 1000), default=100, show_default=True)
def threads_list(view: _View, status: str | None, deleted: bool, page: int, per_page: int) -> None:
    """The threads a handler may see, oldest first, one line each (JSON: the platform's
    MessageThreadList, every value whole)."""
    actor = view.actor
    with view.inbox() as inbox:
        query = ThreadFilter(status=status, **({"availability": _EVERY} if deleted else {}))
        found = inbox.numbered_page(query, actor=actor, page=page, per_page=per_page)
        if view.fmt == "json":
            click.echo(json.dumps(wire.dump_thread_list(found), indent=2))
            return
        ids = thread_ids(inbox, actor)
        rows = thread_rows(found, ids, inbox)
    paging = found.paging
    total = paging.total_elements if paging and paging.total_elements is not None else len(found)
    console = _console()
    console.print(f"Threads {actor} may see: page {page}, {len(found)} of {total:,}", markup=False)
    console.print(rows)


@threads.command("show")
@click.argument("thread_id")
@_view_options
def threads_show(thread_id: str, view: _View) -> None:
    """One thread, every value whole, and its messages one line each (JSON: the platform's
    MessageThread, with its messages as a ThreadMessageList under "messages").

    THREAD_ID is a thread's id or its short form (any tail of it no other thread ends with).
    """
    actor = view.actor
    with view.inbox() as inbox:
        by_id, ids = partial(inbox.get, actor=actor), partial(thread_ids, inbox, actor)
        thread = read_by_id(thread_id, by_id, ThreadNotFound, ids, "thread")
        listed = inbox.messages(thread.id, actor=actor)
        if view.fmt == "json":
            out = wire.dump_thread(thread)
            out["messages"] = wire.dump_message_list(listed)
            click.echo(json.dumps(out, indent=2))
            return
        rows = message_rows(listed, message_ids(inbox, actor))
    reason = thread.status_reason.value if thread.status_reason else ""
    owner = f"{_who(thread.owner)} on {thread.owner_party.phone_number}"
    console = _console()
    console.print(f"Thread {thread.id}", markup=False)
    console.print(
        _details([
            ("state", f"{state(thread)} ({thread.status.value}"
                      + (f", {reason}" if reason else "") + f", {thread.availability.value})"),
            ("owner", owner),
            ("guest", thread.guest_party.phone_number),
            ("assignee", _who(thread.assignee)),
            ("label", thread.label or ""),
            ("created", _when(thread.creation_time)),
            ("modified", _when(thread.last_modified_time)),
            ("last message", _when(thread.latest_message_at)),
        ])
    )  # fmt: skip
    console.print(f"\nMessages: {len(listed)}", markup=False)
    console.print(rows)


@cli.group()
def messages() -> None:
    """Show one message as a handler sees it."""


@messages.command("show")
@click.argument("message_id")
@_view_options
def messages_show(message_id: str, view: _View) -> None:
    """One message, every value whole (JSON: the platform's thread message).

    MESSAGE_ID is a message's id or its short form, as `threads show` lists it.
    """
    with view.inbox() as inbox:
        by_id = partial(inbox.message, actor=view.actor)
        ids = partial(message_ids, inbox, view.actor)
        message = read_by_id(message_id, by_id, MessageNotFound, ids, "message")
    if view.fmt == "json":
        click.echo(json.dumps(wire.dump_message(message), indent=2))
        return
    m = message
    pairs = [
        ("thread", m.thread_id),
        ("direction", m.direction.value),
        ("from", m.from_number),
        ("to", m.to_number),
        ("author", _who(m.author)),
        ("status", f"{m.status.value}, {m.availability.value}"),
        ("created", _when(m.created_at)),
        ("modified", _when(m.last_modified_at)),
        ("sent", _when(m.sent_at)),
        ("delivered", _when(m.delivered_at)),
        ("read", _when(m.read_at)),
        ("error code", m.error_code or ""),
        ("carrier id", m.provider_message_id or ""),
        ("source", m.source.value if m.source else ""),
        ("keyword", m.keyword.value if m.keyword else ""),
        ("attachments", ", ".join(m.attachments)),
        ("classified", ", ".join(c.classification for c in m.classifications)),
    ]
    console = _console()
    console.print(f"Message {m.id}", markup=False)
    console.print(_details([(name, value) for name, value in pairs if value]))
    console.print()
    console.print(Text(printable(m.body)))
