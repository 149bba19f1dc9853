"""The inbox's public seams (issue 23): what http, cli, aio and replay use of an ``Inbox``
instead of its private state (``threadcore/inbox/seams.py``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import pytest
from conftest import GUEST, GUEST2, OWNER, START, billing_directory

from threadcore import Inbox, InMemoryRepository, ManualClock
from threadcore.aio import AsyncInbox
from threadcore.cli.replay import LineError, Replayer, parse_line
from threadcore.domain.validation import e164
from threadcore.errors import InvalidInput
from threadcore.events import Event, MessageAdded, ThreadOpened
from threadcore.storage import Prefetch, StoredEvent, UnitOfWork

_BULK = ("messages_by_provider_ids", "open_threads_for_pairs", "opted_out_pairs")


class _UnitOfWorkWithout:
    """A unit of work that offers every capability but the bulk look-ahead (or, with
    ``counted``, offers it and counts its calls)."""

    def __init__(self, uow: UnitOfWork, calls: list[str] | None) -> None:
        self._uow = uow
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._uow, name)
        calls = self._calls
        if name not in _BULK:
            return found
        if calls is None:
            raise AttributeError(name)

        def counted(*args: Any) -> Any:
            calls.append(name)
            return found(*args)

        return counted


class _UnitOfWorkCounted(_UnitOfWorkWithout):
    """The same, offering the look-ahead: a type of its own, since the storage port decides
    once per type whether a unit of work offers a capability (``threadcore.ports.offers``)."""


class _Repository:
    """The memory repository, its units of work seen through :class:`_UnitOfWorkWithout`."""

    def __init__(self, *, bulk: bool) -> None:
        self.inner = InMemoryRepository()
        self.calls: list[str] | None = [] if bulk else None

    @contextmanager
    def unit_of_work(self) -> Iterator[Any]:
        with self.inner.unit_of_work() as uow:
            kind = _UnitOfWorkWithout if self.calls is None else _UnitOfWorkCounted
            yield kind(uow, self.calls)

    def batch(self) -> AbstractContextManager[None]:
        return self.inner.batch()

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        return self.inner.events(after, limit)


def _inbox(**kwargs: Any) -> Inbox:
    kwargs.setdefault("clock", ManualClock(START))
    return Inbox(directory=billing_directory(), **kwargs)


def test_the_clock_and_the_repository_are_the_ones_given() -> None:
    clock, repository = ManualClock(START), InMemoryRepository()
    inbox = _inbox(clock=clock, repository=repository)
    assert inbox.clock is clock
    assert inbox.repository is repository
    ainbox = AsyncInbox(inbox)
    assert ainbox.clock is clock
    assert ainbox.repository is repository


def test_concurrency_is_a_pools_size_else_one() -> None:
    assert _inbox().concurrency == 1

    class Pooled(InMemoryRepository):
        max_size = 4

    inbox = _inbox(repository=Pooled())
    assert inbox.concurrency == 4
    assert AsyncInbox(inbox).max_workers == 4  # the workers are sized with it


def test_observers_are_told_each_command_as_it_succeeds_even_in_a_batch() -> None:
    inbox = _inbox()
    told: list[Sequence[Event]] = []
    heard: list[Event] = []
    inbox.observe(told.append)
    inbox.subscribe(heard.append)
    with inbox.batch():
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="a")
        assert [type(e) for e in told[0]] == [ThreadOpened, MessageAdded]
        inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="a")
        assert told[1] == ()  # a repeat changes nothing: told so
    assert len(told) == 2
    assert [type(e) for e in heard] == [ThreadOpened, MessageAdded]


def test_an_observer_that_raises_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    inbox = _inbox()
    told: list[int] = []

    def broken(events: Sequence[Event]) -> None:
        raise RuntimeError("observer bug")

    inbox.observe(broken)
    inbox.observe(lambda events: told.append(len(events)))
    with caplog.at_level(logging.ERROR, logger="threadcore.events"):
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    assert inbox.get(message.thread_id, actor="101").id == message.thread_id
    assert told == [2]
    assert "observer bug" in caplog.text
    with pytest.raises(InvalidInput):
        inbox.observe("not callable")  # type: ignore[arg-type]


def test_thread_exists_whoever_may_see_it() -> None:
    inbox = _inbox()
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    assert inbox.thread_exists(message.thread_id)
    inbox.delete(message.thread_id, actor="101")
    assert inbox.thread_exists(message.thread_id)  # deleted, still stored
    assert not inbox.thread_exists("no-such-thread")
    assert not inbox.thread_exists(42)


def test_a_message_is_found_by_its_carrier_id() -> None:
    inbox = _inbox()
    message = inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="SM1"
    )
    assert inbox.message_by_provider_id("SM1") == message
    assert inbox.message_by_provider_id("SM2") is None
    with pytest.raises(InvalidInput):
        inbox.message_by_provider_id("")


def test_prefetch_reads_ahead_where_the_storage_offers_it() -> None:
    repository = _Repository(bulk=True)
    inbox = _inbox(repository=repository)
    assert isinstance(InMemoryRepository().unit_of_work().__enter__(), Prefetch)
    with inbox.batch():
        assert inbox.prefetch(provider_message_ids=["a"], pairs=[(OWNER, GUEST)])
    assert repository.calls == list(_BULK)
    assert not inbox.prefetch()  # nothing to read: nothing read
    assert repository.calls == list(_BULK)


def test_without_the_look_ahead_a_batch_reads_pair_by_pair() -> None:
    inbox = _inbox(repository=_Repository(bulk=False))
    with inbox.batch():
        assert not inbox.prefetch(provider_message_ids=["a"], pairs=[(OWNER, GUEST)])
        message = inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id="a"
        )
    assert inbox.message_by_provider_id("a") == message


def _line(at: int, **fields: object) -> str:
    return json.dumps({"at": (START + timedelta(minutes=at)).isoformat(), **fields})


def test_replay_runs_on_storage_without_the_look_ahead() -> None:
    clock = ManualClock(START)
    repository = _Repository(bulk=False)
    inbox = _inbox(repository=repository, clock=clock)
    lines = [
        _line(1, type="inbound", **{"from": GUEST, "to": OWNER}, text="Hi", id="m1"),
        _line(2, type="outbound", actor="101", **{"from": OWNER, "to": GUEST2}, text="Yo", id="m2"),
        _line(3, type="inbound", **{"from": GUEST, "to": OWNER}, text="Hi", id="m1"),
        _line(4, type="delivery", message="m2", status="Delivered"),
    ]
    summary = Replayer(inbox, repository, clock, batch_size=10).run(lines)
    assert (summary.applied, summary.unchanged, dict(summary.refused)) == (4, 1, {})
    with pytest.raises(InvalidInput):
        Replayer(inbox, InMemoryRepository(), clock)  # not the inbox's repository


@pytest.mark.parametrize("number", ["+1000", "+0123456789", "+1650224000\u0661"])
def test_replay_refuses_the_numbers_the_library_refuses(number: str) -> None:
    with pytest.raises(InvalidInput):
        e164(number, "from")

    def text(sender: str) -> str:
        return _line(1, type="inbound", **{"from": sender, "to": OWNER}, text="Hi", id="m1")

    with pytest.raises(LineError) as refused:
        parse_line(1, text(number))
    assert refused.value.code == "InvalidLine"
    assert parse_line(1, text(GUEST)).fields["from"] == GUEST


def test_an_observer_can_be_stopped_and_the_others_are_still_told() -> None:
    inbox = _inbox()
    first: list[int] = []
    second: list[int] = []
    stop_first = inbox.observe(lambda events: first.append(len(events)))
    inbox.observe(lambda events: second.append(len(events)))
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    stop_first()
    stop_first()  # a second stop changes nothing
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="again")
    assert len(first) == 1
    assert len(second) == 2
