"""The directory stored with the threads (issue 14): ``open_inbox``, ``StoredDirectory``, changes
in the same transaction as their thread effects (rule R11), seen by every process from its next
command on, on memory, SQLite files and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stores
from conftest import GUEST, GUEST2, OWNER, OWNER2, QUEUE, START, billing_directory

import threadcore
from threadcore import Handler, Inbox, ManualClock, Resource, StatusReason, ThreadStatus
from threadcore.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotPermitted,
    PhoneNumberInUse,
    ResourceNotFound,
    StorageError,
    ThreadNotFound,
    UnknownPhoneNumber,
)
from threadcore.events import ThreadAssigned, ThreadResolved
from threadcore.storage import StoredDirectory

pytest_plugins = ["conftest_pg"]
store = stores.store
WORKER = Path(__file__).with_name("directory_worker.py")
SUPPORT = Resource("6249888002", name="Support", phone_numbers=["+12092480003"], handlers=["201"])


def stored_inbox(repository: object, clock: ManualClock | None = None) -> Inbox:
    """Another process's inbox over ``repository``'s store and the directory stored in it."""
    return Inbox(
        repository=repository,  # type: ignore[arg-type]
        directory=StoredDirectory(repository),  # type: ignore[arg-type]
        clock=clock or ManualClock(START),
        token_secret=stores.SECRET,
    )


def test_a_change_in_one_process_is_seen_by_another_at_its_next_command(
    store: stores.Store,
) -> None:
    clock = ManualClock(START)
    admin, service = stored_inbox(store(), clock), stored_inbox(store(), clock)
    with pytest.raises(UnknownPhoneNumber):  # the service has no such number yet
        service.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    admin.load_directory(billing_directory().resources())
    message = service.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    service.assign(message.thread_id, actor="102", assignee="102")

    [unassigned] = admin.remove_handler(QUEUE, "102")
    assert unassigned.assignee is None
    with pytest.raises(ThreadNotFound):  # the other process refuses them at once
        service.assign(message.thread_id, actor="102", assignee="102")
    with pytest.raises(ThreadNotFound):
        service.get(message.thread_id, actor="102")
    with pytest.raises(UnknownPhoneNumber):
        service.send(actor="102", owner_number=OWNER, guest_number=GUEST, body="Still here")
    assert list(service.list(actor="102")) == []
    assert service.get(message.thread_id, actor="101").assignee is None

    admin.add_handler(QUEUE, Handler("102", name="Ann Lee"))
    assert service.assign(message.thread_id, actor="102", assignee="102").assignee is not None
    admin.remove_phone_number(QUEUE, OWNER)
    with pytest.raises(UnknownPhoneNumber):
        service.receive(owner_number=OWNER, guest_number=GUEST2, body="Anyone?")
    assert service.get(message.thread_id, actor="101").status is ThreadStatus.RESOLVED


def test_changes_and_their_thread_effects_are_one_transaction(store: stores.Store) -> None:
    inbox = stored_inbox(store())
    inbox.load_directory(billing_directory().resources())
    taken = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(taken.thread_id, actor="101", assignee="102")
    mark = inbox.events()[-1][0]
    [unassigned] = inbox.remove_handler(QUEUE, "102")
    [event] = [e for _, e in inbox.events(cursor=inbox.feed_cursor(mark))]
    assert isinstance(event, ThreadAssigned)
    assert event.assignee is None
    assert event.thread_id == unassigned.id == taken.thread_id
    [resolved] = inbox.remove_resource(QUEUE)
    assert resolved.status_reason is StatusReason.OWNER_DELETED
    assert inbox.directory.resource(QUEUE) is None
    assert isinstance(inbox.events()[-1][1], ThreadResolved)


def test_refused_changes_store_nothing(store: stores.Store) -> None:
    inbox = stored_inbox(store())
    inbox.load_directory(billing_directory().resources())
    with store().unit_of_work() as uow:  # type: ignore[attr-defined]
        stamp = uow.directory_version()
    refusals = [
        (lambda: inbox.add_resource(Resource(QUEUE)), threadcore.errors.ResourceExists),
        (lambda: inbox.add_resource(Resource("9", phone_numbers=[OWNER])), PhoneNumberInUse),
        (lambda: inbox.remove_handler(QUEUE, "999"), InvalidInput),
        (lambda: inbox.remove_handler("nope", "101"), ResourceNotFound),
        (lambda: inbox.remove_phone_number(QUEUE, OWNER2), UnknownPhoneNumber),
        (lambda: inbox.add_phone_number(QUEUE, "not a number"), InvalidInput),
        (lambda: inbox.load_directory([SUPPORT, SUPPORT]), threadcore.errors.ResourceExists),
        (lambda: inbox.load_directory(["6249888002"]), InvalidInput),  # type: ignore[list-item]
    ]
    for refuse, error in refusals:
        with pytest.raises(error):
            refuse()
    with store().unit_of_work() as uow:  # type: ignore[attr-defined]
        assert uow.directory_version() == stamp
        assert uow.directory_resources() == list(billing_directory().resources())


def test_load_directory_merges_or_replaces(store: stores.Store) -> None:
    inbox = stored_inbox(store())
    inbox.load_directory(billing_directory().resources())
    billing = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(billing.thread_id, actor="101", assignee="103")

    # merge: the resource given replaces the stored one whole; the others stay
    smaller = Resource(QUEUE, name="Billing", phone_numbers=[OWNER], handlers=["101", "102"])
    [unassigned] = inbox.load_directory([SUPPORT, smaller])
    assert (unassigned.id, unassigned.assignee) == (billing.thread_id, None)
    assert inbox.directory.resources() == (smaller, SUPPORT)  # type: ignore[attr-defined]
    support = inbox.receive(owner_number="+12092480003", guest_number=GUEST, body="Help")
    assert inbox.load_directory([SUPPORT]) == []  # the same again: nothing changes

    # replace: what is not given is removed, with its threads
    [resolved] = inbox.load_directory([SUPPORT], replace=True)
    assert resolved.id == billing.thread_id
    assert resolved.status_reason is StatusReason.OWNER_DELETED
    assert inbox.directory.resources() == (SUPPORT,)  # type: ignore[attr-defined]
    assert inbox.get(support.thread_id, actor="201").status is ThreadStatus.OPEN

    # a number that moves to another resource resolves the first one's threads on it
    inbox.load_directory([smaller])
    on_owner = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="Again")
    moved = Resource(QUEUE, phone_numbers=[], handlers=["101"])
    taker = Resource("6249888003", phone_numbers=[OWNER], handlers=["301"])
    [gone] = inbox.load_directory([moved, taker])
    assert gone.id == on_owner.thread_id
    assert gone.status_reason is StatusReason.OWNER_PHONE_NUMBER_DELETED
    fresh = inbox.receive(owner_number=OWNER, guest_number=GUEST2, body="New owner")
    assert inbox.get(fresh.thread_id, actor="301").owner.extension_id == "6249888003"


def test_load_directory_needs_a_stored_directory() -> None:
    inbox = Inbox(directory=billing_directory())
    with pytest.raises(NotPermitted):
        inbox.load_directory([SUPPORT])


def test_open_inbox_stores_the_directory_with_the_threads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with threadcore.open_inbox(url) as first:
        assert isinstance(first.directory, StoredDirectory)
        first.load_directory(billing_directory().resources())
        first.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    with threadcore.open_inbox(url) as later:  # another process, later: the same directory
        [thread] = later.list(actor="101")
        assert later.directory.resource(QUEUE) == billing_directory().resource(QUEUE)
        assert thread.owner.extension_id == QUEUE
    with threadcore.open_inbox(url, directory=billing_directory()) as own:
        assert not isinstance(own.directory, StoredDirectory)  # directory= wins
    with pytest.raises(InvalidInput):
        Inbox(
            repository=threadcore.connect("memory://"),
            directory=StoredDirectory(threadcore.connect("memory://")),
        )


def test_a_change_whose_threads_cannot_be_written_is_undone(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    inbox = stored_inbox(threadcore.SQLiteRepository(path))
    inbox.load_directory(billing_directory().resources())
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(message.thread_id, actor="101", assignee="102")
    with sqlite3.connect(path) as conn:  # the threads cannot be written (a full disk, say)
        conn.execute(
            "CREATE TRIGGER no_writes BEFORE UPDATE ON threads "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    for change in (
        lambda: inbox.remove_handler(QUEUE, "102"),
        lambda: inbox.remove_phone_number(QUEUE, OWNER),
        lambda: inbox.remove_resource(QUEUE),
        lambda: inbox.load_directory([], replace=True),
    ):
        with pytest.raises((StorageError, ConcurrencyConflict)):  # (SQLite says "constraint")
            change()
    other = stored_inbox(threadcore.SQLiteRepository(path))
    other.events()  # a read: the copy is refreshed
    assert other.directory.resource(QUEUE) == billing_directory().resource(QUEUE)
    assert inbox.get(message.thread_id, actor="102").assignee is not None


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ask(worker: subprocess.Popen[str], line: str) -> str:
    assert worker.stdin is not None
    assert worker.stdout is not None
    worker.stdin.write(line + "\n")
    worker.stdin.flush()
    return worker.stdout.readline().strip()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_another_os_process_sees_a_change_at_its_next_command(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        schema = request.getfixturevalue("pg_schema")
        url = f"{request.getfixturevalue('postgres_url')}?schema={schema}"
    here = threadcore.open_inbox(url)
    here.load_directory(billing_directory().resources())
    message = here.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    worker = _start("serve", url)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        assert _ask(worker, f"assign {message.thread_id} 102 102") == "ok 102"
        assert _ask(worker, f"handlers {QUEUE}") == "ok 101,102,103"
        [unassigned] = here.remove_handler(QUEUE, "102")  # here, while the worker waits
        assert unassigned.assignee is None
        assert _ask(worker, f"assign {message.thread_id} 102 102") == "ThreadNotFound"
        assert _ask(worker, f"get {message.thread_id} 102") == "ThreadNotFound"
        assert _ask(worker, f"handlers {QUEUE}") == "ok 101,103"
        here.add_handler(QUEUE, "102")
        assert _ask(worker, f"assign {message.thread_id} 102 102") == "ok 102"
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=30)
        here.close()


def test_a_handler_removed_while_another_process_keeps_taking_the_thread(
    postgres_url: str, pg_schema: str
) -> None:
    """Race a removal against a process that takes and hands back the thread as fast as it can:
    whatever the interleaving, the removal waits for the commands that read the directory
    before it and every later one sees it, so the handler never holds the thread after."""
    url = f"{postgres_url}?schema={pg_schema}"
    here = threadcore.open_inbox(url)
    here.load_directory(billing_directory().resources())
    threads = [
        here.receive(owner_number=OWNER, guest_number=f"+1650224{i:04d}", body="Hi").thread_id
        for i in range(3)
    ]
    workers = [_start("churn", url, t, "102", "2") for t in threads]
    for worker in workers:  # every worker is taking and handing back its thread
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "started"
    time.sleep(0.2)
    here.remove_handler(QUEUE, "102")
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    for output in outputs:
        took, refused = (int(x) for x in output.split()[1::2])
        assert took > 0, output  # it raced: it took the thread before the removal
        assert refused > 0, output  # and was refused after it
    for thread_id in threads:
        assert here.get(thread_id, actor="101").assignee is None
    here.close()
