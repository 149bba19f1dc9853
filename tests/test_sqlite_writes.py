"""The SQLite adapter's write path, beyond the repository contract: a thread update sets only the
columns that changed (and still lands every change, whether or not the unit of work read the
thread first), change positions grow with every write, messages keep their NULLs and their
values whichever columns are empty, and times convert the same through the text cache."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from threadcore import SQLiteRepository
from threadcore.adapters._sql import (
    _events,
    event_from_json,
    event_to_json,
    time_from_text,
    time_to_text,
)
from threadcore.domain import events as ev
from threadcore.domain import transitions as tx
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    MessageSource,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.errors import StorageError
from threadcore.ports import MessageQuery, NoteQuery

T0 = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
OWNER = "+12092480001"
RESOURCE = Resource("6249888001", name="Billing", phone_numbers=[OWNER], handlers=["101"])
ANN = ThreadUser("101", "Ann", "User")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[SQLiteRepository]:
    repository = SQLiteRepository(tmp_path / "w.db")
    yield repository
    repository.close()


def _open(tid: str, guest: str) -> Thread:
    thread, _ = tx.open_thread(tid, RESOURCE, OWNER, guest, None, None, T0)
    return thread


def _stored(repo: SQLiteRepository, tid: str) -> tuple[Thread | None, int]:
    with repo.unit_of_work() as uow:
        thread = uow.thread(tid)
        (position,) = uow._all(  # type: ignore[attr-defined]
            "SELECT change_position FROM threads WHERE id = ?", (tid,)
        )[0]
    return thread, position


def test_an_update_lands_every_changed_column_read_first_or_not(repo: SQLiteRepository) -> None:
    with repo.unit_of_work() as uow:
        uow.save_thread(_open("t1", "+16502240001"), 0)
    later = T0 + timedelta(hours=1)
    changed = attrs.evolve(
        _open("t1", "+16502240001"),
        status=ThreadStatus.RESOLVED,
        assignee=ANN,
        status_reason=StatusReason.MANUAL,
        label="done",
        last_modified_time=later,
        last_outbound_at=later,
        latest_message_at=later,
        version=2,
    )
    with repo.unit_of_work() as uow:  # read first: only what differs is set
        assert uow.thread("t1") is not None
        uow.save_thread(changed, 1)
    assert _stored(repo, "t1")[0] == changed
    back = attrs.evolve(changed, assignee=None, status_reason=None, label=None, version=3)
    with repo.unit_of_work() as uow:  # not read: every state column is set
        uow.save_thread(back, 2)
    assert _stored(repo, "t1")[0] == back


def test_change_positions_grow_with_every_thread_written(repo: SQLiteRepository) -> None:
    with repo.unit_of_work() as uow:
        uow.save_thread(_open("a", "+16502240001"), 0)
        uow.save_thread(_open("b", "+16502240002"), 0)
    positions = [_stored(repo, tid)[1] for tid in ("a", "b")]
    assert positions == [1, 2]
    with repo.unit_of_work() as uow:
        a = uow.thread("a")
        assert a is not None
        uow.save_thread(attrs.evolve(a, label="x", version=2), 1)
        uow.save_thread(attrs.evolve(_open("b", "+16502240002"), version=2), 1)  # not read
    assert [_stored(repo, tid)[1] for tid in ("a", "b")] == [3, 4]
    with repo.unit_of_work() as uow:  # read and saved as it is: nothing to SET but the position
        b = uow.thread("b")
        assert b is not None
        uow.save_thread(b, b.version)
    assert _stored(repo, "b") == (b, 5)


def test_a_batch_whose_transaction_was_lost_stores_nothing_more(
    repo: SQLiteRepository,
) -> None:
    # SQLite ends the whole transaction on some errors (a full disk, an I/O error); a batch that
    # went on would open, and commit, a transaction of its own for every later unit.
    def lose_the_transaction_midway() -> None:
        with repo.unit_of_work() as uow:
            uow.save_thread(_open("a", "+16502240001"), 0)
        repo._conn.execute("ROLLBACK")  # what SQLite does to the batch on such an error
        with pytest.raises(StorageError, match="lost"), repo.unit_of_work() as uow:
            uow.save_thread(_open("b", "+16502240002"), 0)

    with pytest.raises(StorageError, match="lost"), repo.batch():  # its end says so as well
        lose_the_transaction_midway()
    with repo.batch(), repo.unit_of_work() as uow:  # the repository is usable again
        uow.save_thread(_open("c", "+16502240003"), 0)
    with repo.unit_of_work() as uow:
        assert (uow.thread("a"), uow.thread("b")) == (None, None)
        assert uow.thread("c") is not None


@pytest.mark.parametrize("full", [False, True])
def test_a_message_keeps_its_values_and_its_nulls(repo: SQLiteRepository, full: bool) -> None:
    thread = _open("t1", "+16502240001")
    extra = {
        "provider_message_id": "p1",
        "status": DeliveryStatus.READ,
        "sent_at": T0,
        "delivered_at": T0 + timedelta(seconds=1),
        "read_at": T0 + timedelta(seconds=2),
        "error_code": "E1",
        "is_automated": True,
        "source": MessageSource.API,
        "content_type": "image/png",
        "attachments": ("https://example.com/a.png",),
        "classifications": (Classification("c1", "billing", T0, 0.5),),
        "keyword": Keyword.HELP,
    }
    message = Message("m1", "t1", Direction.OUTBOUND, "Hi", OWNER, "+16502240001",
                      ANN if full else None, T0, T0, Availability.ALIVE,
                      **(extra if full else {}))  # type: ignore[arg-type]  # fmt: skip
    with repo.unit_of_work() as uow:
        uow.save_thread(thread, 0)
        uow.add_message(message)
    with repo.unit_of_work() as uow:
        assert uow.message("m1") == message
        assert uow.message_by_provider_id("p1") == (message if full else None)
    with sqlite3.connect(repo.path) as conn:
        nulls = conn.execute(
            "SELECT author_id IS NULL, sent_at IS NULL, keyword IS NULL FROM messages"
        ).fetchone()
    assert nulls == ((0, 0, 0) if full else (1, 1, 1))


def test_times_convert_the_same_through_the_cache() -> None:
    new_york = ZoneInfo("America/New_York")
    # the same wall time twice across the autumn fold: equal as datetimes of one zone, an hour
    # apart as instants; each must get its own UTC text, in either order
    first = datetime(2026, 11, 1, 1, 30, tzinfo=new_york)
    second = first.replace(fold=1)
    for value in (first, second, first):
        assert time_to_text(value) == value.astimezone(UTC).isoformat(timespec="microseconds")
    assert time_to_text(first) != time_to_text(second)
    for value in (T0, T0 + timedelta(microseconds=1), T0):
        assert time_to_text(value) == value.isoformat(timespec="microseconds")
    assert time_to_text(T0) == "2026-02-17T17:00:00.000000+00:00"


def test_times_read_back_the_same_through_the_cache() -> None:
    """Stored text read back (cached after the first read) is the UTC instant it was written
    from, whatever zone or offset it was written in."""
    texts = ("2026-02-17T17:00:00.000000+00:00", "2026-02-17T12:00:00.000001-05:00")
    for text in (*texts, *texts):
        found = time_from_text(text)
        assert found.tzinfo is UTC
        assert found == datetime.fromisoformat(text)
    assert time_from_text(texts[0]) == T0


def test_event_payloads_are_the_compact_ascii_json_of_the_event() -> None:
    """The payload text is what ``json.dumps`` writes with compact separators (ASCII escapes,
    fields in declaration order), and reads back to the event."""
    event = ev.ThreadAssigned(
        thread_id="t-1",
        at=T0,
        assignee=ThreadUser("101", 'Zoë "Z"', "User"),
        previous_assignee=None,
        initiator=None,
    )
    kind, payload = event_to_json(event)
    assert kind == "ThreadAssigned"
    assert payload == json.dumps(_events.unstructure(event), separators=(",", ":"))
    assert '"assignee":["101","Zo\\u00eb \\"Z\\"","User"]' in payload
    assert event_from_json(kind, payload) == event


def test_an_id_filter_longer_than_an_old_builds_parameter_limit_is_answered(
    repo: SQLiteRepository,
) -> None:
    """Older SQLite builds allow 999 parameters a statement; a filter of thousands of ids is
    still answered (issue 12, item 17), as on memory and PostgreSQL."""
    repo._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # as an old build
    ids = frozenset({f"x-{n}" for n in range(5000)})
    owners = frozenset({f"q-{n}" for n in range(5000)})
    with repo.unit_of_work() as uow:
        query = MessageQuery(owners, T0, thread_ids=ids, message_ids=ids)
        assert uow.find_messages(query, 10) == []
        assert uow.find_notes(NoteQuery(owners, thread_ids=ids, note_ids=ids), 10) == []
        assert uow.changed_since(0, owners, 10) == []
        assert uow.due_between(T0 - timedelta(days=9), T0, owners) == []
        assert uow.events_since(0, 10, owners, 10) == []


def _open_new_file(path: str, start: float) -> str | None:
    """One process's first open of a file others open at the same moment: None, or its error."""
    import time

    time.sleep(max(0.0, start - time.time()))  # every process opens at the same wall instant
    try:
        SQLiteRepository(path).close()
    except Exception as error:
        return repr(error)
    return None


def test_processes_opening_one_new_file_together_all_open_it(tmp_path: Path) -> None:
    """Service instances started together on a new file (two `threadcore serve`s, a supervisor's
    workers): SQLite answers the racing switch to WAL "database is locked" without waiting, and
    the adapter waits for it as the busy timeout promises, so every instance opens the file."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        pool.map(abs, range(4))  # the workers are up before the first round is timed
        for round_ in range(12):
            path = str(tmp_path / f"new-{round_}.db")
            start = time.time() + 0.2
            errors = pool.starmap(_open_new_file, [(path, start)] * 4)
            assert errors == [None] * 4, errors
            repository = SQLiteRepository(path)
            assert repository.store_id
            repository.close()


def test_a_thread_another_connection_changed_is_read_as_stored(tmp_path: Path) -> None:
    """A repository keeps the threads it wrote, to answer the next read of the same row without
    decoding it again (issue 24): a row another process changed since is read as stored, in a
    plain read and in a command's claim."""
    ours, theirs = SQLiteRepository(tmp_path / "s.db"), SQLiteRepository(tmp_path / "s.db")
    try:
        thread = _open("t1", "+16502240001")
        with ours.unit_of_work() as uow:
            uow.save_thread(thread, 0)
        with ours.unit_of_work() as uow:  # read back, as written
            assert uow.thread("t1") == thread
        changed = attrs.evolve(thread, label="theirs", version=2)
        with theirs.unit_of_work() as uow:
            assert uow.thread("t1") == thread
            uow.save_thread(changed, 1)
        with ours.unit_of_work() as uow:
            assert uow.thread("t1") == changed
        with ours.unit_of_work() as uow:
            claim = uow.claim(pair=(OWNER, "+16502240001"))
            assert claim.thread == changed
            assert uow.open_thread_for_pair(OWNER, "+16502240001") == changed
    finally:
        ours.close()
        theirs.close()


def test_a_thread_written_is_read_back_as_its_row_decodes(repo: SQLiteRepository) -> None:
    """A thread kept as written is the one its stored row decodes to: its times in UTC (one
    written in another zone comes back in UTC) and a Deleted thread without its label."""
    ny = ZoneInfo("America/New_York")
    local = attrs.evolve(_open("t1", "+16502240001"), creation_time=T0.astimezone(ny))
    deleted = attrs.evolve(
        _open("t2", "+16502240002"), availability=Availability.DELETED, label="kept"
    )
    with repo.unit_of_work() as uow:
        uow.save_thread(local, 0)
        uow.save_thread(deleted, 0)
    with repo.unit_of_work() as uow:
        read = uow.thread("t1")
        assert read is not None
        assert read.creation_time.tzinfo is UTC
        assert uow.thread("t2") == attrs.evolve(deleted, label=None)
