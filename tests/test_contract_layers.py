"""The storage port is layered by capability (issue 23): an adapter that offers only the core unit
of work and the queries passes their contracts, runs the whole ``Inbox`` (the stateful machine,
its sync rules aside), and whatever needs a capability it lacks raises ``Unsupported`` naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import pytest
from conftest import GUEST, OWNER, START, billing_directory

from threadcore import Inbox, InMemoryRepository, ManualClock, Policy, Upload
from threadcore.errors import InvalidInput, Unsupported
from threadcore.ports import (
    AttachmentStore,
    AttachmentWrites,
    ChangeFeed,
    ConsumerStore,
    CreationClaims,
    DirectoryRecords,
    Prefetch,
    Queries,
    Repository,
    UnitOfWork,
    offers,
    require,
)
from threadcore.storage import StoredDirectory
from threadcore.testing.contract import CoreContract, QueriesContract
from threadcore.testing.stateful import InboxMachine

#: The core's methods, and the queries', as the Protocols declare them.
CORE = [name for name in dir(UnitOfWork) if not name.startswith("_")]
QUERIES = [name for name in dir(Queries) if not name.startswith("_")]


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: _CoreAndQueries, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


class _CoreAndQueries:
    """A unit of work with the core and the queries only (the memory adapter's, behind)."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner


for _name in CORE + QUERIES:
    setattr(_CoreAndQueries, _name, _delegate(_name))


class CoreAndQueriesRepository:
    """A repository whose units of work offer only :class:`UnitOfWork` and :class:`Queries`,
    and which offers none of the optional repository capabilities."""

    atomic_batches = False  # (memory's batches, behind: an abandoned one is not undone)

    def __init__(self) -> None:
        self._inner = InMemoryRepository()

    @contextmanager
    def _unit(self) -> Iterator[UnitOfWork]:
        with self._inner.unit_of_work() as uow:
            yield _CoreAndQueries(uow)  # type: ignore[misc]

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return self._unit()

    def batch(self) -> AbstractContextManager[None]:
        return self._inner.batch()

    def events(self, after: int = 0, limit: int = 1000) -> list[Any]:
        return self._inner.events(after, limit)


def test_the_core_unit_of_work_holds_at_most_15_methods() -> None:
    assert len(CORE) <= 15, CORE
    assert set(CORE).isdisjoint(QUERIES)


def test_the_wrapper_offers_the_core_and_the_queries_and_nothing_else() -> None:
    repository = CoreAndQueriesRepository()
    assert isinstance(repository, Repository)
    with repository.unit_of_work() as uow:
        assert offers(uow, UnitOfWork)
        assert offers(uow, Queries)
        assert require(uow, Queries) is uow
        for lacking in (ChangeFeed, DirectoryRecords, Prefetch, CreationClaims, AttachmentWrites):
            assert not offers(uow, lacking)
            with pytest.raises(Unsupported, match=lacking.__name__) as refused:
                require(uow, lacking)
            assert (refused.value.code, refused.value.status) == ("Unsupported", 501)
            assert refused.value.capability == lacking.__name__
    for lacking in (AttachmentStore, ConsumerStore):
        assert not offers(repository, lacking)


class TestCoreAndQueriesContract(CoreContract, QueriesContract):
    def make_repository(self) -> Repository:
        return CoreAndQueriesRepository()


class CoreAndQueriesMachine(InboxMachine):
    """The whole inbox on the core and the queries: every rule but sync's and the entries'
    (their change feed is what the adapter lacks: see the tests below)."""

    def make_repository(self) -> Repository:
        return CoreAndQueriesRepository()

    # (plain methods in place of the rules and the invariant that read the change feed)
    def sync(self, *args: object) -> None: ...

    def sync_entries_full(self, *args: object) -> None: ...

    def entries_client(self, *args: object) -> None: ...

    def entries_match_the_model(self) -> None: ...


TestCoreAndQueriesMachine = CoreAndQueriesMachine.TestCase


def test_the_machine_without_the_change_feed_still_has_its_command_rules() -> None:
    names = {
        name
        for name, value in inspect.getmembers(CoreAndQueriesMachine)
        if getattr(value, "hypothesis_stateful_rule", None) is not None
    }
    assert {"send_on_thread", "assign", "resolve_or_delete", "expire", "batch"} <= names
    assert not names & {"sync", "sync_entries_full", "entries_client"}
    assert inspect.isfunction(CoreAndQueriesMachine.sync)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox(
        repository=CoreAndQueriesRepository(),
        directory=billing_directory(),
        clock=ManualClock(START),
        policy=Policy(ttl=timedelta(hours=72)),
    )


def test_commands_and_queries_run(inbox: Inbox) -> None:
    received = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(received.thread_id, actor="101", assignee="101")
    inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body="Hello")
    assert [t.id for t in inbox.list(actor="101").records] == [received.thread_id]
    inbox.add_note(received.thread_id, actor="101", text="Called back")
    assert len(inbox.list_notes(actor="101").records) == 1
    inbox.resolve(received.thread_id, actor="101")
    assert inbox.expire() == []
    assert len(inbox.events().records) >= 4  # the repository's own event reads


def test_a_sync_says_the_change_feed_is_missing(inbox: Inbox) -> None:
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    with pytest.raises(Unsupported, match="ChangeFeed") as refused:
        inbox.sync(actor="101")
    assert refused.value.capability == "ChangeFeed"
    with pytest.raises(Unsupported, match="ChangeFeed"):
        inbox.sync_entries(actor="101")


def test_files_are_refused_naming_the_attachment_store(inbox: Inbox) -> None:
    """Files are refused as input (422: the caller may send without them, as before issue 23),
    the message naming the capability the repository lacks."""
    upload = Upload(b"\x89PNG...", "image/png")
    with pytest.raises(InvalidInput, match="AttachmentStore") as refused:
        inbox.send(
            actor="101", owner_number=OWNER, guest_number=GUEST, body="A file",
            attachments=[upload],
        )  # fmt: skip
    assert refused.value.parameter == "attachments"
    assert inbox.list(actor="101").records == ()  # nothing was stored


def test_a_stored_directory_says_the_directory_records_are_missing() -> None:
    with pytest.raises(Unsupported, match="DirectoryRecords"):
        StoredDirectory(CoreAndQueriesRepository())  # type: ignore[arg-type]


def test_a_consumer_says_the_consumer_store_is_missing(inbox: Inbox) -> None:
    with pytest.raises(Unsupported, match="ConsumerStore"):
        inbox.consumer("mailer")


def test_the_pre_1_0_contract_names_still_work_one_release() -> None:
    """The contract's parts had other names before 1.0: an adapter author's test module that
    subclasses them still runs, told what checks them now."""
    from threadcore.testing import contract

    with pytest.warns(DeprecationWarning, match="threadcore.testing.contract.CoreContract"):
        assert contract.WritesContract is contract.CoreContract
    with pytest.warns(DeprecationWarning, match="contract.ReadsContract"):
        reads = contract.ThreadReadsContract
    assert issubclass(reads, contract.QueriesContract)
    assert issubclass(reads, contract.PrefetchContract)
