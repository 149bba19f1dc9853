"""The stateful machine's spine: the inbox under test and the model side by side, the
comparison of every result and of every step's events, and the helpers the rules share."""

from __future__ import annotations

import enum
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize

from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    Entry,
    Handler,
    Message,
    Note,
    Policy,
    Resource,
    Thread,
    ThreadUser,
)
from threadcore.ids import SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import DirectoryRecords, Repository, require
from threadcore.testing.machine.records import (
    _same_record,
    entry_record,
    message_record,
    model_draft_record,
    model_entry_record,
    model_message_record,
    model_note_record,
    note_record,
)
from threadcore.testing.model import (
    Err,
    MEvent,
    MHint,
    MMessage,
    MNote,
    Model,
    MResource,
    MScope,
    MThread,
    Ok,
)
from threadcore.testing.model._base import RESOLVED
from threadcore.testing.strategies import (
    GUESTS,
    NAMES,
    Q1,
    Q2,
    RESOURCES,
    START,
    TTL,
    actors,
    availability_choices,
    owner_id_lists,
    owner_numbers,
)


def _resource(extension_id: str) -> Resource:
    name, numbers, handlers = RESOURCES[extension_id]
    return Resource(
        extension_id=extension_id,
        name=name,
        phone_numbers=numbers,
        handlers=[Handler(h, name=NAMES.get(h)) for h in handlers],
    )


def _model_resource(extension_id: str) -> MResource:
    _, numbers, handlers = RESOURCES[extension_id]
    return MResource(extension_id, list(numbers), {h: NAMES.get(h) for h in handlers})


Outcome = tuple[str, Any]


def _call(fn: Callable[[], Any]) -> Outcome:
    try:
        return ("ok", fn())
    except ThreadcoreError as error:
        return ("err", error.code)


class _Client:
    """A sync client: the copy of open threads it keeps, and its last token."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.issued: datetime | None = None
        self.handled: frozenset[str] = frozenset()
        self.seen: dict[str, tuple[object, ...]] = {}
        self.store: dict[str, Thread] = {}


class _EntriesClient:
    """An entries sync client (E4): the open threads' alive entries it keeps, its last token,
    and the model's tick when the token was issued."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.issued: datetime | None = None
        self.tick = 0
        self.handled: frozenset[str] = frozenset()
        self.store: dict[str, Entry] = {}


class _Abandoned(Exception):
    """Raised inside a batch to abandon it."""


class _HostClock:
    """A host's clock as the machine moves it: forward, and back (NTP stepping it)."""

    def __init__(self, start: datetime) -> None:
        self.instant = start

    def now(self) -> datetime:
        return self.instant


def _failing_listener(event: Event) -> None:
    """A listener that fails on every message added: it must break nothing (R16)."""
    if type(event).__name__ == "MessageAdded":
        raise RuntimeError("a listener's own bug")


def _plain(value: object) -> object:
    """An event field as the model writes it: a user by extension id, an enumeration by value."""
    if isinstance(value, ThreadUser):
        return value.extension_id
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _has_threads(machine: MachineBase) -> bool:
    return machine.model is not None and bool(machine.model.threads)


class MachineBase(RuleBasedStateMachine):
    """Random commands on the real inbox and on the reference model, compared step by step.

    Override :meth:`make_repository` to run the machine against another adapter, and
    :meth:`reopen` to close and reopen durable storage between steps.
    """

    #: How long to wait for a step's events to reach the feed (seconds): a feed may deliver
    #: late, but never lose an event.
    feed_patience = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.clock = _HostClock(START)
        #: The machine's time: the latest instant the clock has shown. A clock that steps back
        #: does not take the inbox back (R18a): its commands keep running at this instant.
        self.at = START
        self.ttl = TTL
        #: What the inbox's listeners heard since the last step, in order (R16, issue 12).
        self.heard: list[Event] = []
        self.directory = Directory([_resource(Q1), _resource(Q2)])
        self.repository = self.make_repository()
        # deterministic, so hypothesis can replay and shrink; in the order made, as one
        # process's RandomIds, so that a restarted inbox's records keep the instant (rule Q2)
        self.ids = SequentialIds("t", width=6)
        self.inbox: Inbox | None = None
        self.model: Model | None = None
        self.events_seen = 0  # the position of the last event read
        self.ever_resolved: set[str] = set()
        # One sync client per actor: its token, what the model saw when the token was issued
        # (resources handled, every visible record) and the copy of open threads it keeps.
        self.clients: dict[str, _Client] = {}
        # One entries sync client per actor (E4).
        self.entry_clients: dict[str, _EntriesClient] = {}
        # The delivery reports still to come for each outbound message: its true path, shuffled
        # and duplicated; and the path itself (its last status is where the message must end).
        self.reports: dict[str, list[str]] = {}
        self.paths: dict[str, tuple[str, ...]] = {}

    #: Whether the inbox's directory is stored with the threads (``StoredDirectory``, loaded
    #: with the machine's resources at setup, kept across reopenings) rather than the machine's
    #: in-memory ``Directory``.
    stored_directory = False

    def make_repository(self) -> Repository:
        """The repository under test (a fresh, empty one per run)."""
        return InMemoryRepository()

    def directory_now(self) -> Directory:
        """The directory as it is: the machine's own, or the one stored in the repository (read
        from the repository itself, not through the inbox's copy)."""
        if not self.stored_directory:
            return self.directory
        with self.repository.unit_of_work() as uow:
            return Directory(require(uow, DirectoryRecords).directory_resources())

    def reopen(self) -> None:
        """Close and reopen durable storage (a no-op for memory)."""

    def make_inbox(self, policy: Policy) -> Inbox:
        """The inbox under test over :attr:`repository` (a process started now, its clock
        synchronised), with two listeners: one that fails now and then, and one that records
        what it hears."""
        self.clock.instant = max(self.clock.instant, self.at)
        inbox = Inbox(
            repository=self.repository,
            directory=StoredDirectory(self.repository) if self.stored_directory else self.directory,
            clock=self.clock,
            policy=policy,
            ids=self.ids,
            token_secret=b"the stateful machine's secret",
        )
        inbox.subscribe(_failing_listener)
        inbox.subscribe(self.heard.append)
        return inbox

    def check_heard(self, stored: list[Event]) -> None:
        """Listeners heard exactly the events stored since the last step, in order, although a
        listener before them failed (R16)."""
        assert self.heard == stored, f"listeners heard {self.heard}, the feed holds {stored}"
        self.heard.clear()

    @property
    def real(self) -> Inbox:
        assert self.inbox is not None
        return self.inbox

    @property
    def ref(self) -> Model:
        assert self.model is not None
        return self.model

    def check_events(
        self, expected: tuple[MEvent, ...], may_expire: tuple[str, ...] | None = ()
    ) -> None:
        """The events the step stored are exactly the ones the model expects, each thread's in
        the order the model made them, with the payloads the model knows.

        ``may_expire`` names threads the step touched without changing their record (a delivery
        report, a classification, a draft discarded): R10 lets such a command write a due thread's
        expiry or leave it to the sweep (readers see the same either way), so a
        ``ThreadResolved`` for one of them is accepted, and the model writes the expiry too.
        ``None``: any thread due in the model (a read, or a refusal, writes the expiries of the
        due threads it showed: rule R10b; which ones it showed each step checks on its own with
        :meth:`assert_expiry_stored`).
        """
        cursor = self.real.feed_cursor(self.events_seen)
        new = self.real.events(cursor=cursor, limit=10_000)
        deadline = time.monotonic() + self.feed_patience
        while len(new) < len(expected) and time.monotonic() < deadline:
            # a feed may deliver late (PostgreSQL waits for older transactions), never lose
            time.sleep(0.01)
            new = self.real.events(cursor=cursor, limit=10_000)
        if new:  # follow the positions handed out: they need not be 1, 2, 3 ...
            self.events_seen = new[-1][0]
        self.check_heard([event for _, event in new])
        in_order = [(type(event).__name__, event.thread_id) for _, event in new]
        got = sorted(in_order)
        extra = sorted(set(got) - {e[:2] for e in expected})
        first: list[MEvent] = []
        if extra and all(
            kind == "ThreadResolved"
            and (may_expire is None or tid in may_expire)
            and self.ref.due(self.ref.threads[tid])
            for kind, tid in extra
        ):
            for _, tid in extra:
                first += self.ref.materialise(self.ref.threads[tid])
        assert got == sorted(e[:2] for e in (*first, *expected)), (
            f"events: inbox {got}, model {sorted(e[:2] for e in (*first, *expected))}"
        )
        # each thread's events in the order they happened (rule D4), as the model made them, with
        # their payloads; an expiry the step was free to write is dated first
        for thread_id in {tid for _, tid in in_order}:
            ours = [event for _, event in new if event.thread_id == thread_id]
            theirs = [e for e in (*first, *expected) if e[1] == thread_id]
            kinds = [type(event).__name__ for event in ours]
            assert kinds == [e[0] for e in theirs], (
                f"thread {thread_id}'s events: inbox {kinds}, model {[e[0] for e in theirs]}"
            )
            for event, (kind, _, fields) in zip(ours, theirs, strict=True):
                payload = {name: _plain(getattr(event, name)) for name, _ in fields}
                assert payload == dict(fields), f"{kind} of {thread_id}: {payload} != {fields}"
        for position, event in new:
            if type(event).__name__ == "ThreadAssigned":
                self.ref.name_assigned_hint(event.thread_id, position)

    def absorb_expiries(self) -> None:
        """After a read: the step stored nothing but the expiries of due threads (rule R10b),
        which the model now holds too."""
        self.check_events((), may_expire=None)

    def assert_expiry_stored(self, thread_ids: Iterable[str]) -> None:
        """Rule R10b: each of these threads, which the step showed expired (or refused a
        command on because it was), is stored expired: no process can show it open again."""
        for thread_id in thread_ids:
            thread = self.ref.threads.get(thread_id)
            if thread is not None and self.ref.view(thread).reason == "ThreadExpired":
                assert thread.status == RESOLVED, f"{thread_id} was shown expired, stored open"

    def threads_of(self, actor: str) -> list[str]:
        """The threads of the resources ``actor`` handles, in the model."""
        handled = self.ref.handled(actor)
        return [t.id for t in self.ref.threads.values() if t.owner_ext in handled]

    def compare(self, real: Outcome, expected: Ok | Err) -> Any:
        note(f"  inbox -> {real[0]} {real[1]!r:.120}; model -> {expected!r:.120}")
        if isinstance(expected, Err):
            assert real == ("err", expected.code), f"inbox {real}, model {expected}"
            self.check_events((), may_expire=None)  # the expiry it was refused for (R10b)
            return None
        assert real[0] == "ok", f"inbox refused with {real[1]}, model accepted"
        return real[1]

    def pick_thread(self, data: st.DataObject, open_mostly: bool = False) -> str:
        """Any thread (or an unknown id); with ``open_mostly``, an open one two times in three
        (commands that need an open thread would otherwise mostly test refusals)."""
        every = st.sampled_from([*self.ref.threads, "no-such-thread"])
        if open_mostly:
            open_now = [t.id for t in self.ref.threads.values()
                        if self.ref.view(t).status == "Open" and t.alive]  # fmt: skip
            if open_now and data.draw(st.integers(0, 2)) > 0:
                return data.draw(st.sampled_from(open_now))
        return data.draw(every)

    def pick_thread_and_actor(
        self, data: st.DataObject, open_mostly: bool = False
    ) -> tuple[str, str]:
        """A thread (:meth:`pick_thread`) and someone acting on it (:meth:`pick_actor`), the
        opening of most thread rules."""
        thread_id = self.pick_thread(data, open_mostly)
        return thread_id, self.pick_actor(data, thread_id)

    def pick_pair(self, data: st.DataObject) -> tuple[str, str]:
        """An owner and guest number; an opted-out pair half the time when there is one."""
        opted = sorted(pair for pair, out in self.ref.opted.items() if out)
        use_opted: bool = bool(opted) and data.draw(st.booleans())
        if use_opted:
            owner, guest = data.draw(st.sampled_from(opted))
            return owner, guest
        return data.draw(owner_numbers), data.draw(st.sampled_from(GUESTS))

    def pick_actor(self, data: st.DataObject, thread_id: str | None = None,
                   owner: str | None = None) -> str:  # fmt: skip
        """Mostly someone who may act (a handler of the resource, the assignee), sometimes
        anyone: otherwise most steps would only test visibility."""
        thread = self.ref.threads.get(thread_id) if thread_id is not None else None
        resource = (
            self.ref.resources.get(thread.owner_ext)
            if thread is not None
            else self.ref.owner_of(owner)
            if owner is not None
            else None
        )
        choices = [actors]
        if resource is not None and resource.handlers:
            choices.append(st.sampled_from(sorted(resource.handlers)))
        if thread is not None and thread.assignee is not None:
            choices.append(st.just(thread.assignee))
        return data.draw(st.one_of(choices))

    @initialize(
        claim_on_send=st.booleans(),
        ttl=st.sampled_from([TTL, TTL, timedelta(hours=1)]),
        token_age=st.sampled_from([timedelta(days=7), timedelta(hours=2)]),
    )
    def setup(self, claim_on_send: bool, ttl: timedelta, token_age: timedelta) -> None:
        note(f"claim_on_send={claim_on_send}, ttl={ttl}, sync_token_max_age={token_age}")
        self.ttl = ttl
        policy = Policy(ttl=ttl, claim_on_send=claim_on_send, sync_token_max_age=token_age)
        self.inbox = self.make_inbox(policy)
        if self.stored_directory:
            assert self.inbox.load_directory(self.directory.resources(), replace=True) == []
        self.model = Model([_model_resource(Q1), _model_resource(Q2)], ttl, claim_on_send)
        self.model.set_now(self.at)

    def move_clock(self, instant: datetime) -> None:
        """Set the host's clock; the machine's time follows it forward only."""
        self.clock.instant = instant
        if instant > self.at:
            self.at = instant
            self.ref.set_now(instant)

    def check_numbered(self, found: Any, expected: Ok | Err, page: int, per_page: int) -> None:
        """Numbered page ``page`` holds the model's ids of that page, and says where it is."""
        assert isinstance(expected, Ok) and isinstance(expected.value, list)
        want = expected.value[(page - 1) * per_page : page * per_page]
        assert [r.id for r in found] == want, ([r.id for r in found], want)
        paging = found.paging
        assert paging.per_page == per_page
        # a numbered page carries the cursor that continues it, when more follow
        assert (found.next_cursor is not None) == (page * per_page < len(expected.value))
        if want:  # Q2: an empty page carries only per_page
            assert paging.page == page
            assert paging.total_elements == len(expected.value)
            assert paging.page_start == (page - 1) * per_page
            assert paging.page_end == paging.page_start + len(want) - 1
            assert paging.total_pages == -(-len(expected.value) // per_page)
        else:
            assert paging.total_elements is None

    def assert_message(self, real: Message) -> None:
        """A message the inbox handed out equals the model's record of it."""
        model = self.ref.find_message(real.id)
        _same_record(real.id, model, message_record(real), model_message_record)

    def pick_message(self, data: st.DataObject, outbound: bool = False) -> str:
        """Mostly a message the model knows (outbound ones if asked), sometimes a draft or an
        unknown id."""
        messages = self.ref.all_messages()
        if outbound:
            messages = [m for m in messages if m.direction == "Outbound"] or messages
        choices = [m.id for m in messages]
        drafts = [d.id for d in self.ref.all_drafts()]
        return data.draw(
            st.sampled_from(choices)
            if choices
            else st.just("no-such-message") | st.sampled_from([*drafts, "no-such-message"])
        )

    def assert_draft(self, real: Message) -> None:
        model = self.ref.find_draft(real.id)
        _same_record(real.id, model, message_record(real), model_draft_record)

    def assert_note(self, real: Note) -> None:
        model = self.ref.find_note(real.id)
        _same_record(real.id, model, note_record(real), model_note_record)

    def walk(
        self,
        data: st.DataObject,
        call: Callable[..., Any],
        expected: Ok | Err,
        per_page: int,
        numbered: Callable[..., Any],
    ) -> list[Any]:
        """``call(limit=..., cursor=...)`` walked to its end by cursor, or one numbered page of
        it (``numbered(page=N, per_page=...)``, with its ``paging``), against the model's list of
        ids."""
        if data.draw(st.booleans()):
            number = data.draw(st.integers(1, 4))
            found = self.compare(_call(lambda: numbered(page=number, per_page=per_page)), expected)
            if found is None:
                return []
            self.check_numbered(found, expected, number, per_page)
            return list(found)

        def page(token: str | None) -> Outcome:
            return _call(lambda: call(limit=per_page, cursor=token))

        walked: list[Any] = []
        token: str | None = None
        while True:
            found = self.compare(page(token), expected)
            if found is None:
                return []
            assert len(found) <= per_page
            walked.extend(found)
            token = found.next_cursor
            if token is None:
                break
            assert len(found) == per_page
        assert isinstance(expected, Ok)
        assert [r.id for r in walked] == expected.value, (
            [r.id for r in walked],
            expected.value,
        )
        return walked

    def walk_read(
        self,
        data: st.DataObject,
        read: Callable[..., Any],
        of: object,
        actor: str,
        expected: Ok | Err,
        per_page: int,
    ) -> list[Any]:
        """``read`` walked by cursor, or one numbered page of it, against the model: a list with
        the filter ``of`` (numbered by ``numbered_page``), or a thread's messages or drafts
        (``of`` the thread's id; the numbered page it still answers for one release warns)."""
        if isinstance(of, str):
            call = partial(read, of, actor=actor)
            return self.walk(data, call, expected, per_page, deprecated_numbered(call))
        numbered = partial(self.real.numbered_page, of, actor=actor)
        return self.walk(data, partial(read, actor=actor, filter=of), expected, per_page, numbered)

    def draw_scope(
        self, data: st.DataObject, times: Sequence[datetime] = (), upto: bool = False
    ) -> MScope:
        """What every list narrows by, drawn: resources, availability and, among ``times``,
        where the creation window starts (and, ``upto``, where it ends)."""
        owner_ids = data.draw(owner_id_lists)
        availability = data.draw(availability_choices)
        bound = st.none() | st.sampled_from(times) if times else st.none()
        start, end = data.draw(bound), data.draw(bound) if upto else None
        if start is not None and end is not None and start > end:
            start, end = end, start
        return MScope(owner_ids, availability, start, end)

    def assert_entries(self, real: Any, expected: list[MMessage | MNote | MHint]) -> None:
        got = [entry_record(e) for e in real]
        want = [model_entry_record(e) for e in expected]
        assert got == want, f"entries: inbox {got}, model {want}"

    def stored(self) -> dict[str, Thread]:
        """Every thread the model knows, as the repository stores it."""
        with self.repository.unit_of_work() as uow:
            found = {tid: uow.thread(tid) for tid in self.ref.threads}
        missing = [tid for tid, t in found.items() if t is None]
        assert not missing, f"threads lost by the repository: {missing}"
        return found  # type: ignore[return-value]

    def assert_same(self, real: Thread, model: MThread) -> None:
        assert real.id == model.id
        assert real.status == model.status, (real.status, model.status)
        assert real.status_reason == model.reason, (real.status_reason, model.reason)
        assert (real.availability is Availability.ALIVE) == model.alive
        assert (real.assignee.extension_id if real.assignee else None) == model.assignee
        assert real.owner.extension_id == model.owner_ext
        assert real.owner_party.phone_number == model.owner
        assert real.guest_party.phone_number == model.guest
        assert real.label == model.label == real.latest_message_body
        assert real.creation_time == model.created
        assert real.last_modified_time == model.modified, (
            real.last_modified_time,
            model.modified,
        )
        assert real.last_inbound_at == model.last_in
        assert real.last_outbound_at == model.last_out
        assert real.latest_message_at == model.latest
        assert real.version == model.version, ("version", real.version, model.version)


def deprecated_numbered(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call(page=N, per_page=...)``, the numbered page a read without a numbered form of its
    own (a thread's messages, its drafts) still answers for one release: it must warn."""

    def numbered(**arguments: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = call(**arguments)
        assert any(issubclass(w.category, DeprecationWarning) for w in caught), "no warning"
        return found

    return numbered


def scoped(scope: MScope) -> dict[str, Any]:
    """The model's ``scope`` as the criteria a thread or message filter shares (notes have no
    creation window)."""
    return {
        "owner_extension_ids": scope.owner_ids,
        "availability": scope.availability,
        "creation_time_from": scope.created_from,
        "creation_time_to": scope.created_to,
    }
