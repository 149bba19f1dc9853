"""A batch on PostgreSQL (``PostgresRepository.batch()``): one transaction whose writes are sent in
groups (write-behind), so a bulk import costs a few statements per group of commands instead of
several round trips per command.

A unit of work in the batch that ends cleanly has its writes checked against what the batch knows
(:meth:`Batch.record`: a stale version or a second open thread for a pair is refused there, and
that unit alone is undone, as everywhere) and merged into :attr:`Batch.pending`, one buffer for
the whole group (a record written twice is written once, in its last state). The batch keeps
what it knows of the threads (by id, and which thread of each pair is open), the messages (by id
and carrier id), the notes, the opt-outs and the latest instant: what pending writes wrote and
what the batch read. The reads a command makes first (its claim, its thread, the pair's open
thread, a message by id or carrier id, an opt-out) are answered from that, or read from the
database when nothing pending touched them; every other read sends the pending writes first
(:meth:`Batch.flush`), so each read sees everything before it.

A group is sent without waiting for its answer (in pipeline mode): the database stores it while
the batch goes on with the next commands, and the next read or the batch's end waits for it
(:meth:`Batch.settle`). If the database refuses a group (another process changed a thread the
batch changes), the whole batch is rolled back, and every later command in it is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime
from typing import Any, Final

import psycopg

from threadcore.adapters._buffer import BufferedWrites
from threadcore.adapters._postgres_errors import translated
from threadcore.domain.errors import StorageError, ThreadcoreError
from threadcore.domain.model import Availability, Message, Note, Thread, ThreadStatus

__all__ = ["UNKNOWN", "Batch"]

Connection = psycopg.Connection[tuple[Any, ...]]
Statement = tuple[str, Any]
#: Builds the statements that store a buffer of writes, numbering its events from the given
#: ordinal.
Build = Callable[[BufferedWrites, int], list[Statement]]

#: A pair whose open thread a pending write may have closed: read it only after a flush.
UNKNOWN: Final = "\x00unknown"

#: How many open threads of one owner number a batch reads at once (see ``learn_owner``).
LOOK_AROUND = 1000

#: How many units of work wait before their writes are sent.
FLUSH_AT = 500


#: ``$1``, ``$2`` …, made once (a statement has at most 65,535 parameters).
_DOLLARS = [f"${n}" for n in range(1, 65536)]


def _numbered(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders as ``$1``, ``$2`` …: a group's statement is long and
    new each time (its rows vary), and psycopg would parse it for ``%s`` at every flush."""
    pieces = sql.split("%s")
    if len(pieces) == 1:
        return sql
    out: list[str] = [""] * (2 * len(pieces) - 1)
    out[::2] = pieces
    out[1::2] = _DOLLARS[: len(pieces) - 1]
    return "".join(out)


def is_open(thread: Thread) -> bool:
    """Whether ``thread`` is its pair's open thread (as stored: expiry not applied)."""
    return thread.status is ThreadStatus.OPEN and thread.availability is Availability.ALIVE


def pair_of(thread: Thread) -> tuple[str, str]:
    return thread.owner_party.phone_number, thread.guest_party.phone_number


class Batch:
    """The connection, event ordinal, pending writes and knowledge of a batch open in one
    thread."""

    __slots__ = (
        "absent",
        "build",
        "conn",
        "directory",
        "directory_version",
        "failed",
        "latest",
        "latest_known",
        "messages",
        "missed",
        "mode",
        "notes",
        "opt_outs",
        "ordinal",
        "owners",
        "pairs",
        "pending",
        "provider_ids",
        "sent",
        "threads",
        "units",
    )

    def __init__(self, conn: Connection, build: Build) -> None:
        self.conn = conn
        self.build = build
        self.ordinal = 0  # the last event ordinal sent
        self.pending = BufferedWrites()
        self.units = 0  # units of work in ``pending``
        self.threads: dict[str, Thread] = {}
        self.pairs: dict[tuple[str, str], str | None] = {}  # open thread id, None, or UNKNOWN
        self.messages: dict[str, Message] = {}
        self.provider_ids: dict[str, str] = {}  # carrier id -> message id
        self.absent: set[str] = set()  # carrier ids no message had when the batch looked
        self.notes: dict[str, Note] = {}
        self.opt_outs: dict[tuple[str, str], bool] = {}
        # owner numbers whose open threads the batch read: all of them (True), or too many
        self.owners: dict[str, bool] = {}
        self.missed: set[str] = set()  # owner numbers a pair of which the batch had to read
        self.latest: datetime | None = None
        self.latest_known = False  # whether the latest instant stored was read
        self.directory: str | None = None  # the directory lock the batch holds
        self.directory_version: int | None = None  # and the stamp read under it
        self.failed: BaseException | None = None
        self.sent = False  # groups were sent in pipeline mode and are not answered yet
        self.mode = ExitStack()  # the connection's pipeline mode, while groups are unanswered

    def check(self) -> None:
        """Refuse to go on once a group of writes failed: the batch is being rolled back."""
        if self.failed is not None:
            raise StorageError(
                "An earlier write of this batch was refused; the whole batch is rolled back "
                "and can be run again"
            ) from self.failed

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Run a statement of the batch: the database's error ends the batch's transaction, so
        the batch fails (every later command, and its end, are refused: nothing is stored)."""
        self.settle()
        try:
            with translated():
                yield
        except ThreadcoreError as error:
            self.failed = error
            raise StorageError(
                f"A read of this batch failed ({error.message}); the whole batch is rolled back "
                "and can be run again"
            ) from error

    def flush(self) -> None:
        """Send the pending writes as one group, without waiting for the database's answer
        (:meth:`settle` waits for it)."""
        self.check()
        if not self.units:
            return
        pending, self.pending, self.units = self.pending, BufferedWrites(), 0
        conn = self.conn
        with self._writing():
            statements = self.build(pending, self.ordinal + 1)
            self.ordinal += len(pending._events)
            if not self.sent:
                self.mode.enter_context(conn.pipeline())
                self.sent = True
            raw = psycopg.RawCursor(conn)
            for sql, params in statements:  # never prepared: a pipeline (_postgres_uow.py's note)
                raw.execute(_numbered(sql), params, prepare=False)

    def settle(self) -> None:
        """Wait for the groups sent and leave pipeline mode (a read runs faster outside it); a
        group's error fails the batch here."""
        self.check()
        if self.sent:
            self.sent = False
            with self._writing():
                self.mode.close()

    def finish(self) -> None:
        """Send what is pending and wait for it: the batch's transaction can end."""
        self.flush()
        self.settle()

    def abandon(self) -> None:
        """Leave pipeline mode after the block failed (the transaction is rolled back)."""
        if self.sent:
            self.sent = False
            with suppress(psycopg.Error):
                self.mode.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Send or wait for a group: whatever goes wrong, the group is lost, and so is the
        batch."""
        try:
            with translated():
                yield
        except BaseException as error:
            self.failed = error
            if not isinstance(error, ThreadcoreError):
                raise
            raise StorageError(
                f"This batch could not be written ({error.message}); the whole batch is rolled "
                "back and can be run again"
            ) from error

    def see_latest(self, instant: datetime | None) -> datetime | None:
        """Take ``instant`` (read from the database, or written) into the latest known one."""
        if instant is not None and (self.latest is None or instant > self.latest):
            self.latest = instant
        self.latest_known = True
        return self.latest

    def learn(self, thread: Thread | None, pair: tuple[str, str] | None = None) -> None:
        """Keep a thread read from the database (no pending write touched it), or that ``pair``
        has no open thread there."""
        if thread is not None:
            self.threads[thread.id] = thread
            if is_open(thread):
                self.pairs[pair_of(thread)] = thread.id
        elif pair is not None:
            self.pairs[pair] = None

    def learn_owner(self, owner_number: str, found: list[Thread], complete: bool) -> None:
        """Keep the open threads of ``owner_number`` read from the database (``complete``: all
        of them), except the pairs and threads the batch already knows (pending writes touched
        them, or they were read before): every other pair of that number then has none."""
        for thread in found:
            if thread.id not in self.threads and pair_of(thread) not in self.pairs:
                self.learn(thread)
        self.owners[owner_number] = complete

    def knows(self, pair: tuple[str, str]) -> bool:
        """Whether the batch knows the open thread of ``pair`` (or that it has none)."""
        if pair in self.pairs:
            return True
        if self.owners.get(pair[0]):  # every open thread of the number is known: none here
            self.pairs[pair] = None
            return True
        return False

    def record(self, writes: BufferedWrites) -> None:
        """A unit of work ended cleanly (its writes checked): merge them into the pending
        ones and keep what they wrote."""
        pending = self.pending
        # closed first: a pair's thread opened in the same unit of work wins
        for thread, expected in sorted(writes._threads.values(), key=lambda t: is_open(t[0])):
            pending.save_thread(thread, expected)
            self.threads[thread.id] = thread
            pair = pair_of(thread)
            if is_open(thread):
                self.pairs[pair] = thread.id
            elif self.pairs.get(pair, thread.id) == thread.id:
                # it was the pair's open thread, or may have been (never read in this batch)
                self.pairs[pair] = None if pair in self.pairs else UNKNOWN
            self.see_latest(thread.last_modified_time)
        for message in writes._messages:
            pending.add_message(message)
            self._keep(message)
        for message, expected in writes._message_updates.values():
            pending.save_message(message, expected)
            self._keep(message)
        for note, expected in writes._notes.values():
            pending.save_note(note, expected)
            self.notes[note.id] = note
            self.see_latest(note.last_modified_time)
        pending._opt_outs.update(writes._opt_outs)
        self.opt_outs.update(writes._opt_outs)
        pending._events.extend(writes._events)
        pending._tombstones.extend(writes._tombstones)
        pending._resources.update(writes._resources)
        pending._attachments.update(writes._attachments)
        self.units += 1
        if writes._tombstones or writes._resources:
            # tombstones change the messages and notes of their threads, and a directory change
            # its stamp: send them now, and read again what they touched
            self._forget({thread_id for thread_id, _ in writes._tombstones})
            if writes._resources:
                self.directory_version = None
            self.flush()
        elif self.units >= FLUSH_AT:
            self.flush()

    def learn_message(self, provider_message_id: str, message: Message | None) -> Message | None:
        """Keep what the database answered for a carrier id (nothing pending had it); the
        message as the batch knows it, if it still has that carrier id."""
        if message is None:
            self.absent.add(provider_message_id)
            return None
        known = self.messages.setdefault(message.id, message)
        if known.provider_message_id != provider_message_id:
            return None  # changed in the batch since
        self.provider_ids[provider_message_id] = message.id
        return known

    def _forget(self, thread_ids: set[str]) -> None:
        """Drop what the batch knows of the messages and notes of ``thread_ids``."""
        if not thread_ids:
            return
        for message in [m for m in self.messages.values() if m.thread_id in thread_ids]:
            del self.messages[message.id]
            if message.provider_message_id is not None:
                self.provider_ids.pop(message.provider_message_id, None)
        for note in [n for n in self.notes.values() if n.thread_id in thread_ids]:
            del self.notes[note.id]

    def _keep(self, message: Message) -> None:
        self.messages[message.id] = message
        if message.provider_message_id is not None:
            self.provider_ids[message.provider_message_id] = message.id
            self.absent.discard(message.provider_message_id)  # missing no more
        self.see_latest(message.last_modified_at)
