"""Rule Q2 on PostgreSQL, whose writers run at once: a list walk never skips a record that a
command under way when a page is read commits later with an earlier creation time. Thread
creations no longer take one lock for the whole schema (issue 24): every command's claim takes
the walks' gate in ROW EXCLUSIVE mode, which commands share, and a page of a walk takes it in
SHARE mode, so the page waits for the commands under way. The scenario is made deterministic
with a clock that holds a command after its claim (the moment the command reads its time)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from threadcore import Directory, EntryScope, Inbox, ManualClock, Resource
from threadcore.adapters.postgres import PostgresRepository
from threadcore.errors import StorageError
from threadcore.ports import CreationClaims, offers

pytest_plugins = ["conftest_pg"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OWNER = "+12092480001"
DIRECTORY = Directory(
    [Resource("6249888001", name="Billing", phone_numbers=[OWNER], handlers=["101"])]
)


class HeldClock:
    """A clock that, once armed, holds the next command that reads it until released."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.armed = False
        self.reading = threading.Event()  # a command is held in its clock read
        self.release = threading.Event()

    def now(self) -> datetime:
        if self.armed:
            self.armed = False
            self.reading.set()
            assert self.release.wait(20), "the test never released the held command"
        return self.at


def _walk(read: Callable[[str | None], Any]) -> list[str]:
    """Every id of a walk, a page of one record at a time."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = read(cursor)
        ids += [record.id for record in page]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def _holds_the_gate(url: str, schema: str) -> bool:
    """Whether some transaction holds the schema's walks' gate in ROW EXCLUSIVE mode."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = to_regclass(%s) "
            "AND mode = 'RowExclusiveLock' AND granted",
            (f'"{schema}".threadcore_walks',),
        ).fetchone()
    return row is not None and row[0] > 0


@pytest.mark.parametrize("listing", ["threads", "messages"])
def test_a_walk_waits_for_a_command_under_way_and_skips_nothing(
    postgres_url: str, pg_schema: str, listing: str
) -> None:
    held = HeldClock(T0)
    slow_repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=4)
    try:
        slow = Inbox(repository=slow_repo, directory=DIRECTORY, clock=held)
        fast = Inbox(repository=repo, directory=DIRECTORY, clock=ManualClock(T0 + timedelta(1)))
        # A receive that opens a thread, dated T0, held after its claim before it commits ...
        held.armed = True
        first = threading.Thread(
            target=slow.receive,
            kwargs={"owner_number": OWNER, "guest_number": "+16502240001", "body": "first"},
        )
        first.start()
        assert held.reading.wait(20)
        assert _holds_the_gate(postgres_url, pg_schema)  # held after its claim, as meant
        # ... while another, dated a day later, opens another pair's thread and commits.
        second = fast.receive(owner_number=OWNER, guest_number="+16502240002", body="second")

        def read(cursor: str | None) -> Any:
            if listing == "threads":
                return fast.list(actor="101", limit=1, cursor=cursor)
            return fast.list_messages(actor="101", limit=1, cursor=cursor)

        walked: list[list[str]] = []
        walker = threading.Thread(target=lambda: walked.append(_walk(read)))
        walker.start()  # its first page waits for the held receive
        walker.join(0.5)
        held.release.set()
        first.join(20)
        walker.join(20)
        assert not first.is_alive()
        assert not walker.is_alive()
        lister = fast.list if listing == "threads" else fast.list_messages
        every = [record.id for record in lister(actor="101")]
        assert len(every) == 2
        assert second.id in every or second.thread_id in every
        assert walked == [every]  # both, in creation order: the earlier one first
    finally:
        slow_repo.close()
        repo.close()


def test_postgres_serialises_no_creation(pg_repo: PostgresRepository) -> None:
    """The creation lock is gone: PostgreSQL offers no ``CreationClaims`` (rule R18a)."""
    with pg_repo.unit_of_work() as uow:
        assert not offers(uow, CreationClaims)


def test_a_page_behind_a_hung_command_is_refused_not_read(
    postgres_url: str, pg_repo: PostgresRepository, pg_schema: str
) -> None:
    """A page waits for the commands under way at most 2 s (``lock_timeout``): behind one that
    hangs mid-transaction it is a ``StorageError`` saying the database is busy, and once that
    command ends the page is read."""
    inbox = Inbox(repository=pg_repo, directory=DIRECTORY, clock=ManualClock(T0))
    inbox.receive(owner_number=OWNER, guest_number="+16502240001", body="hello")
    with psycopg.connect(postgres_url) as hung:  # a command's claim, then nothing
        hung.execute(f'LOCK TABLE "{pg_schema}".threadcore_walks IN ROW EXCLUSIVE MODE')
        with pytest.raises(StorageError, match="busy"):
            inbox.list(actor="101")
        hung.rollback()
    assert len(inbox.list(actor="101")) == 1


def test_reads_that_are_not_pages_do_not_wait_for_the_commands_under_way(
    postgres_url: str, pg_repo: PostgresRepository, pg_schema: str
) -> None:
    """Only a page of a walk (at most 1,001 records) waits at the gate: a thread's whole message
    list and the entries sync, which reads every message and note of the threads it returns,
    read at once behind a command hung mid-transaction."""
    inbox = Inbox(repository=pg_repo, directory=DIRECTORY, clock=ManualClock(T0))
    message = inbox.receive(owner_number=OWNER, guest_number="+16502240001", body="hello")
    with psycopg.connect(postgres_url) as hung:
        hung.execute(f'LOCK TABLE "{pg_schema}".threadcore_walks IN ROW EXCLUSIVE MODE')
        every = inbox.messages(message.thread_id, actor="101")  # no limit: every record
        assert [m.id for m in every] == [message.id]
        assert len(inbox.sync(actor="101").records) == 1
        entries = inbox.sync_entries(actor="101", scope=EntryScope.ACCESSIBLE)
        assert message.id in {entry.id for entry in entries.records}
        with pytest.raises(StorageError, match="busy"):  # while a page still waits
            inbox.list_messages(actor="101", limit=10)
        hung.rollback()


class CommitsMeanwhile:
    """A clock at ``at`` that, once armed, has another command commit while the command reading
    it holds its claim (the moment after its claim, before its tie check)."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.meanwhile: Callable[[], object] | None = None

    def now(self) -> datetime:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return self.at


def test_a_tie_is_checked_at_its_instant_though_a_later_record_commits_after_the_claim(
    postgres_url: str, pg_schema: str
) -> None:
    """Another process commits a record a microsecond later between a command's claim and its
    tie check (READ COMMITTED: the check sees it). The check still asks for the ids at the
    command's own instant, so the command, whose new id sorts before another process's record
    there, moves past it and the walk that passed that record returns it."""
    from threadcore.ids import SequentialIds

    repos = [PostgresRepository(postgres_url, schema=pg_schema, max_size=2) for _ in range(3)]
    try:
        clock = CommitsMeanwhile(T0)
        z, a, b = (
            Inbox(repository=repo, directory=DIRECTORY, clock=c, ids=SequentialIds(prefix))
            for repo, c, prefix in zip(
                repos, (ManualClock(T0), clock, ManualClock(T0 + timedelta(microseconds=1))),
                "zab", strict=True,
            )
        )  # fmt: skip
        z.receive(owner_number=OWNER, guest_number="+16502240001", body="z")  # z-1, z-2
        z.receive(owner_number=OWNER, guest_number="+16502240002", body="z")  # z-3, z-4
        first = z.list_messages(actor="101", limit=1)
        assert [m.id for m in first] == ["z-2"]
        clock.meanwhile = lambda: b.receive(owner_number=OWNER, guest_number="+16502240003",
                                            body="b")  # fmt: skip
        late = a.receive(owner_number=OWNER, guest_number="+16502240004", body="a")
        assert late.created_at == T0 + timedelta(microseconds=2)  # past b's record too
        rest = _walk(lambda c: z.list_messages(actor="101", limit=1, cursor=c or first.next_cursor))
        assert rest == ["z-4", "b-2", late.id]
    finally:
        for repo in repos:
            repo.close()
