"""Batches on PostgreSQL write behind (rule D1, issue 14): a history replayed in big batches
leaves exactly what it leaves replayed one line a transaction, and what it leaves in memory."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from threadcore import Directory, Inbox, InMemoryRepository, ManualClock
from threadcore.adapters import _postgres_batch
from threadcore.adapters.postgres import PostgresRepository
from threadcore.cli.replay import Replayer
from threadcore.cli.workload import DEMO_RESOURCES, demo_lines
from threadcore.ids import SequentialIds
from threadcore.ports import Repository

pytest_plugins = ["conftest_pg"]
START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)

#: The demo's history: inbound and outbound messages, assignments, resolutions, deletions (their
#: tombstones), notes, delivery reports, sweeps, and lines the rules refuse.
LINES = [json.dumps(line) for line in demo_lines(customers=120, days=2)]


def replayed(repository: Repository, batch_size: int) -> tuple[Any, ...]:
    """Replay :data:`LINES` and dump what is stored: the summary, every thread, every message
    of each, every event (ids are sequential, so every store names everything alike)."""
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    inbox = Inbox(
        repository=repository,
        directory=Directory(DEMO_RESOURCES),
        clock=clock,
        ids=SequentialIds("r"),
    )
    summary = Replayer(inbox, repository, clock, batch_size=batch_size).run(LINES)
    with repository.unit_of_work() as uow:
        threads = sorted(uow.open_threads(), key=lambda t: t.id)
        changed = uow.changed_since(0, frozenset(r.extension_id for r in DEMO_RESOURCES), 10**6)
        every = sorted(changed, key=lambda t: t.id)
        messages = {t.id: uow.messages(t.id) for t in every}
    events = [event for _, event in repository.events(limit=10**6)]
    return (
        (summary.applied, dict(summary.refused), summary.unchanged),
        threads,
        every,
        messages,
        events,
    )


@pytest.mark.parametrize("flush_at", [7, 500])
def test_a_history_replayed_in_big_batches_stores_what_it_stores_line_by_line(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, flush_at: int
) -> None:
    monkeypatch.setattr(_postgres_batch, "FLUSH_AT", flush_at)  # groups sent often, or seldom
    expected = replayed(InMemoryRepository(), 500)
    assert expected[0][0] > 1000  # the history did happen
    assert sum(expected[0][1].values()) > 0  # with refusals among it
    for batch_size in (1, 1000):
        schema = f"replay_{uuid.uuid4().hex[:12]}"
        repository = PostgresRepository(postgres_url, schema=schema)
        try:
            assert replayed(repository, batch_size) == expected, f"batches of {batch_size}"
        finally:
            repository.close()


def test_a_batch_whose_transaction_the_database_ended_raises_and_stores_nothing(
    postgres_url: str, pg_schema: str
) -> None:
    """Two imports in batches both change the stored directory after a command: each holds the
    directory's lock shared and asks for it exclusive, and PostgreSQL ends one of the two
    transactions (a deadlock). That batch must say so (``StorageError`` at the change and at its
    end) and store nothing, not end "cleanly" with a COMMIT that PostgreSQL turns into a
    ROLLBACK; the other batch stores everything (found in review)."""
    import threading

    from threadcore import Resource
    from threadcore.errors import StorageError, ThreadcoreError
    from threadcore.storage import StoredDirectory

    def make() -> tuple[PostgresRepository, Inbox]:
        repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=2)
        inbox = Inbox(repository=repo, directory=StoredDirectory(repo), clock=ManualClock(START))
        return repo, inbox

    admin_repo, admin = make()
    admin.add_resource(Resource("q", phone_numbers=["+12092480001"], handlers=["101"]))
    both_hold_it = threading.Barrier(2)
    outcome: dict[int, tuple[str, str]] = {}

    def import_(n: int) -> None:
        repo, inbox = make()
        change = end = "ok"
        try:
            with inbox.batch():
                inbox.receive(owner_number="+12092480001", guest_number=f"+1650224000{n}",
                              body="Hi", provider_message_id=f"p{n}")  # fmt: skip
                both_hold_it.wait()
                try:
                    inbox.add_resource(Resource(f"extra{n}", phone_numbers=[f"+1209248100{n}"]))
                except ThreadcoreError as error:
                    change = error.code
        except StorageError as error:
            end = error.code
        finally:
            repo.close()
        outcome[n] = (change, end)

    workers = [threading.Thread(target=import_, args=(n,)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(outcome.values()) == [("StorageError", "StorageError"), ("ok", "ok")], outcome
    [failed] = [n for n, (change, _) in outcome.items() if change != "ok"]
    with admin_repo.unit_of_work() as uow:
        for n in (1, 2):
            stored = uow.message_by_provider_id(f"p{n}") is not None
            assert stored is (n != failed), f"batch {n}: receive stored {stored}"
    admin.list(actor="101")  # a read: the admin's copy of the directory is refreshed
    assert {r.extension_id for r in admin.directory.resources()} == {"q", f"extra{3 - failed}"}
    admin_repo.close()


OWNER = "+12092480001"


def _on_one_number(repository: Repository, ids: str) -> Inbox:
    """An inbox over ``repository`` with one resource on :data:`OWNER` and handler 101."""
    from threadcore import Resource

    return Inbox(
        repository=repository,
        directory=Directory([Resource("q", phone_numbers=[OWNER], handlers=["101"])]),
        clock=ManualClock(START),
        ids=SequentialIds(ids),
    )


def _within_one_batch(repository: Repository) -> list[Any]:
    """Outbound messages on two threads, carrier ids attached, a delivery report, one thread
    deleted, then reports by carrier id for both threads' messages, a send (the opt-out read),
    STOP and a send (refused by the opt-out the batch wrote), all in one batch: what each step
    answered (or refused) and what is stored after."""
    from threadcore.errors import ThreadcoreError

    inbox = _on_one_number(repository, "b")
    owner = OWNER
    seen: list[Any] = []

    def step(command: Any) -> None:
        try:
            seen.append(command())
        except ThreadcoreError as error:
            seen.append(error.code)

    with inbox.batch():
        kept = inbox.receive(owner_number=owner, guest_number="+16502240001", body="kept")
        gone = inbox.receive(owner_number=owner, guest_number="+16502240002", body="gone")
        replies = {}
        for name, inbound in (("kept", kept), ("gone", gone)):
            inbox.assign(inbound.thread_id, actor="101", assignee="101")
            reply = inbox.send(thread_id=inbound.thread_id, body=f"re {name}", actor="101")
            inbox.attach_provider_id(reply.id, f"carrier-{name}")
            replies[name] = reply.id
        step(lambda: inbox.record_delivery(status="Sent", provider_message_id="carrier-gone"))
        step(lambda: inbox.delete(gone.thread_id, actor="101"))
        for name in ("gone", "kept"):
            carrier_id = f"carrier-{name}"
            step(lambda: inbox.record_delivery(status="Delivered", provider_message_id=carrier_id))  # noqa: B023  # fmt: skip
        step(lambda: inbox.send(thread_id=kept.thread_id, body="again", actor="101"))
        step(lambda: inbox.receive(owner_number=owner, guest_number="+16502240001", body="STOP"))
        step(lambda: inbox.send(thread_id=kept.thread_id, body="refused", actor="101"))
    with repository.unit_of_work() as uow:
        stored = [uow.messages(m.thread_id) for m in (kept, gone)]
    return [seen, stored]


def test_what_a_batch_knows_after_a_deletion_is_what_memory_stores(
    postgres_url: str, pg_schema: str
) -> None:
    """A deletion in a batch forgets the batch's knowledge of that thread's messages only (the
    other thread's carrier ids are still answered from it), and opt-outs read once are kept:
    the answers and the stored result are the in-memory store's."""
    repository = PostgresRepository(postgres_url, schema=pg_schema)
    try:
        assert _within_one_batch(repository) == _within_one_batch(InMemoryRepository())
    finally:
        repository.close()


def _one_number_in_one_batch(repository: Repository) -> list[Any]:
    """Open, resolved and fresh pairs of one business number, then a batch that meets several
    of them, resolves one first (its close still pending when the batch reads the number's open
    threads) and receives on every pair: which thread each message joined, and every thread."""
    inbox = _on_one_number(repository, "o")
    owner = OWNER
    guests = [f"+165022400{n:02d}" for n in range(8)]
    before = {g: inbox.receive(owner_number=owner, guest_number=g, body="before").thread_id
              for g in guests[:4]}  # fmt: skip
    inbox.resolve(before[guests[1]], actor="101")
    joined = []

    def receive(guest: str) -> None:
        joined.append(inbox.receive(owner_number=owner, guest_number=guest, body="in").thread_id)

    with inbox.batch():
        receive(guests[4])
        inbox.resolve(before[guests[3]], actor="101")  # closed in the batch, not yet sent
        for guest in [*guests[5:], *guests[:4]]:  # the second miss reads the number's threads
            receive(guest)
    ids = sorted(set(joined) | set(before.values()))
    with repository.unit_of_work() as uow:
        threads = [uow.thread(i) for i in ids]
    every = [(t.id, t.guest_party.phone_number, t.status.value) for t in threads if t]
    return [joined, every]


def test_a_batch_that_reads_a_numbers_open_threads_at_once_joins_what_memory_joins(
    postgres_url: str, pg_schema: str
) -> None:
    """The second pair of one number a batch knows nothing of makes it read the number's open
    threads at once; a thread the batch closed meanwhile (not yet sent) stays closed to it, and
    every message joins the thread it joins in memory."""
    repository = PostgresRepository(postgres_url, schema=pg_schema)
    try:
        assert _one_number_in_one_batch(repository) == _one_number_in_one_batch(
            InMemoryRepository()
        )
    finally:
        repository.close()
