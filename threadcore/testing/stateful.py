"""The stateful property test: the real ``Inbox`` and the reference model, side by side.

:class:`InboxMachine` drives both with random receive / send / assign / resolve / delete / expire /
clock / directory steps over a few resources, handlers and numbers, and (issue 5) delivery
callbacks, classifications, message deletion, drafts, notes, opt-out keywords, message and note
lists and entries syncs; it compares every result, every error code and every emitted event, and
checks every invariant after every step. It is shipped in
the package so that every repository adapter (and an integrator's own) runs the same machine::

    class SQLiteMachine(InboxMachine):
        def make_repository(self) -> Repository:
            return SQLiteRepository(path)

    TestSQLite = SQLiteMachine.TestCase
"""

from __future__ import annotations

import copy
import enum
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

import attrs
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from threadcore.adapters.directory import Directory
from threadcore.adapters.memory import InMemoryRepository
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Entry,
    EntryScope,
    EntryType,
    Handler,
    Message,
    Note,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import MessageFilter, NoteFilter, SyncType, ThreadFilter
from threadcore.ids import SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import NoteQuery, Repository
from threadcore.testing.model import (
    Err,
    MDraft,
    MEvent,
    MHint,
    MMessage,
    MNote,
    Model,
    MResource,
    MThread,
    Ok,
    keyword_of,
)

__all__ = ["InboxMachine"]

START = datetime(2026, 2, 17, 17, 0, tzinfo=timezone.utc)
TTL = timedelta(hours=72)

Q1, Q2 = "6249888001", "6249888002"
N1, N2, N3, N4 = "+12092480001", "+12092480002", "+12092480003", "+12092480004"
OWNER_NUMBERS = [N1, N2, N3, N4]  # N4 belongs to nobody until a step adds it
GUESTS = ["+16502240001", "+16502240002", "+14083210001"]
ACTORS = ["101", "102", "103", "104", "999"]  # 999 handles nothing
NAMES = {"102": "Ann Lee", "104": "Bo"}
RESOURCES: dict[str, tuple[str, list[str], list[str]]] = {
    Q1: ("Billing Queue", [N1, N2], ["101", "102", "103"]),
    Q2: ("Support Queue", [N3], ["103", "104"]),
}

bodies = st.sampled_from(["Hi", "Thanks", "You can close this case.", "ok?"])
#: What guests text: plain bodies, carrier keywords in odd case and whitespace, and near misses.
inbound_bodies = st.one_of(
    bodies,
    st.sampled_from(
        [
            "STOP",
            "stop",
            " Stop\n",
            "\tquit ",
            "UNSUBSCRIBE",
            "StopAll",
            "optout",
            "START",
            " yes",
            "Unstop",
            "help",
            "INFO ",
            "STOP PLEASE",
            "stop.",
            "S TOP",
            "please stop",
            "HELP ME",
            "started",
            "\u017ftop",  # look-alikes that str.upper() folds onto keywords (long s, ligature)
            "\ufb06art",
        ]
    ),
)
attachment_lists = st.sampled_from(
    [
        (),
        (),
        (),
        ("https://img.example/a.png",),
        ("https://img.example/a.png", "http://img.example/b.jpg"),
    ]
)
sources = st.sampled_from([None, None, "app", "api", "workflow", "campaign", "bulk_actions"])
note_texts = st.sampled_from(["Called back", "VIP", "Refund pending", "Called back"])
#: The true paths a sent message may take (the carrier reports each step, late or twice).
DELIVERY_PATHS = [
    ("Sent", "Delivered", "Read"),
    ("Sent", "Delivered"),
    ("Sent",),
    ("SendingFailed",),
    ("Sent", "DeliveryFailed"),
    ("Delivered", "Read"),
    ("DeliveryFailed",),
    ("Read",),
    (),
]
ALL_STATUSES = [s.value for s in DeliveryStatus]
ENTRY_ACTORS = ["101", "103", "104"]
# Mostly no provider id; when there is one, repeats (retried webhooks) and reuse happen.
provider_ids = st.sampled_from([None, None, None, "p1", "p2", "p3", "p4", "p5", "p6"])
owner_numbers = st.sampled_from([N1, N1, N2, N3, N4])
#: The filters' optional resource lists and availability choices (thread, message, note lists).
owner_id_lists = st.none() | st.lists(st.sampled_from([Q1, Q2]), min_size=1)
availability_choices = st.sampled_from([("Alive",), ("Deleted",), ("Alive", "Deleted")])
actors = st.sampled_from(ACTORS)
steps = st.sampled_from(
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=5),
        timedelta(hours=71),
        timedelta(hours=73),
    ]
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


def _ext(user: ThreadUser | None) -> str | None:
    return None if user is None else user.extension_id


M = TypeVar("M")


def _same_record(
    record_id: str,
    model: M | None,
    real: tuple[object, ...],
    as_record: Callable[[M], tuple[object, ...]],
) -> None:
    """A record the inbox handed out is one the model knows, field for field."""
    assert model is not None, f"the inbox returned an unknown record {record_id}"
    expected = as_record(model)
    assert real == expected, (real, expected)


def message_record(m: Message) -> tuple[object, ...]:
    """Everything a reader sees of a message (or draft), as one comparable value."""
    return (
        m.id,
        m.thread_id,
        m.direction.value,
        m.body,
        _ext(m.author),
        m.availability.value,
        m.created_at,
        m.last_modified_at,
        m.status.value,
        m.sent_at,
        m.delivered_at,
        m.read_at,
        m.error_code,
        None if m.keyword is None else m.keyword.value,
        tuple(m.attachments),
        m.is_automated,
        None if m.source is None else m.source.value,
        [c.classification for c in m.classifications],
        m.version,
    )


def model_message_record(m: MMessage) -> tuple[object, ...]:
    return (
        m.id,
        m.thread_id,
        m.direction,
        m.body,
        m.author,
        "Alive" if m.alive else "Deleted",
        m.created,
        m.modified,
        m.status,
        m.sent_at,
        m.delivered_at,
        m.read_at,
        m.error_code,
        m.keyword,
        m.attachments,
        m.is_automated,
        m.source,
        list(m.classifications),
        m.version,
    )


def model_draft_record(d: MDraft) -> tuple[object, ...]:
    return (
        d.id,
        d.thread_id,
        "Outbound",
        d.body,
        d.author,
        "Alive",
        d.created,
        d.modified,
        "Draft",
        None,
        None,
        None,
        None,
        None,
        d.attachments,
        d.is_automated,
        d.source,
        [],
        d.version,
    )


def note_record(n: Note) -> tuple[object, ...]:
    return (
        n.id,
        n.thread_id,
        n.author.extension_id,
        n.text,
        n.availability.value,
        n.creation_time,
        n.last_modified_time,
        n.version,
    )


def model_note_record(n: MNote) -> tuple[object, ...]:
    return (
        n.id,
        n.thread_id,
        n.author,
        n.text,
        "Alive" if n.alive else "Deleted",
        n.created,
        n.modified,
        n.version,
    )


def entry_record(e: Entry) -> tuple[object, ...]:
    """What an entry says, by kind (a deleted entry carries only its identifying fields)."""
    head = (e.record_type.value, e.id, e.thread_id, e.availability.value, e.last_modified_time)
    kind = e.record_type
    if kind is EntryType.ALIVE_MESSAGE:
        return (
            *head,
            e.creation_time,
            None if e.direction is None else e.direction.value,
            None if e.message_status is None else e.message_status.value,
            e.text,
            tuple(e.attachments),
            _ext(e.author),
        )
    if kind is EntryType.ALIVE_NOTE:
        return (*head, e.creation_time, e.text, _ext(e.author))
    if kind in (EntryType.DELETED_MESSAGE, EntryType.DELETED_NOTE):
        return (*head, e.text or None, tuple(e.attachments))
    return (
        *head,
        e.creation_time,
        _ext(e.initiator),
        _ext(e.assignee),
        _ext(e.previous_assignee),
        None if e.status_reason is None else e.status_reason.value,
    )


def model_entry_record(e: MMessage | MNote | MHint) -> tuple[object, ...]:
    if isinstance(e, MMessage):
        if not e.alive:
            return ("DeletedMessage", e.id, e.thread_id, "Deleted", e.modified, None, ())
        return (
            "AliveMessage",
            e.id,
            e.thread_id,
            "Alive",
            e.modified,
            e.created,
            e.direction,
            e.status,
            e.body,
            e.attachments,
            e.author,
        )
    if isinstance(e, MNote):
        if not e.alive:
            return ("DeletedNote", e.id, e.thread_id, "Deleted", e.modified, None, ())
        return ("AliveNote", e.id, e.thread_id, "Alive", e.modified, e.created, e.text, e.author)
    kind = {
        "created": "ThreadCreatedHint",
        "assigned": "ThreadAssignedHint",
        "resolved": "ThreadResolvedHint",
        "deleted": "ThreadDeletedHint",
    }[e.kind]
    return (
        kind,
        e.id,
        e.thread_id,
        "Alive",
        e.at,
        e.at,
        e.initiator,
        e.assignee,
        e.previous,
        e.reason,
    )


def _has_threads(machine: InboxMachine) -> bool:
    return machine.model is not None and bool(machine.model.threads)


def as_seen_at(thread: Thread, now: datetime, ttl: timedelta) -> Thread:
    """The stored ``thread`` as a reader must see it at ``now``, by rule R10 as written (the
    machine's own due rule, not the implementation's): an open, alive thread whose latest message
    is ``ttl`` old is Resolved (ThreadExpired) as of its due instant, without an assignee."""
    due = thread.latest_message_at + ttl
    if thread.status is not ThreadStatus.OPEN or thread.availability is not Availability.ALIVE:
        return thread
    if now < due:
        return thread
    seen: Thread = attrs.evolve(
        thread,
        status=ThreadStatus.RESOLVED,
        status_reason=StatusReason.THREAD_EXPIRED,
        assignee=None,
        last_modified_time=due,
        version=thread.version + 1,
    )
    return seen


class InboxMachine(RuleBasedStateMachine):
    """Random commands on the real inbox and on the reference model, compared step by step.

    Override :meth:`make_repository` to run the machine against another adapter, and
    :meth:`reopen` to close and reopen durable storage between steps.
    """

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
        self.ids = SequentialIds("t")  # deterministic, so hypothesis can replay and shrink
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

    # --- hooks for adapters ---------------------------------------------------------------------
    #: How long to wait for a step's events to reach the feed (seconds): a feed may deliver
    #: late, but never lose an event.
    feed_patience = 5.0

    def make_repository(self) -> Repository:
        """The repository under test (a fresh, empty one per run)."""
        return InMemoryRepository()

    def reopen(self) -> None:
        """Close and reopen durable storage (a no-op for memory)."""

    def make_inbox(self, policy: Policy) -> Inbox:
        """The inbox under test over :attr:`repository` (a process started now, its clock
        synchronised), with two listeners: one that fails now and then, and one that records
        what it hears."""
        self.clock.instant = max(self.clock.instant, self.at)
        inbox = Inbox(
            repository=self.repository,
            directory=self.directory,
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

    # --- plumbing -------------------------------------------------------------------------------
    @property
    def real(self) -> Inbox:
        assert self.inbox is not None
        return self.inbox

    @property
    def ref(self) -> Model:
        assert self.model is not None
        return self.model

    def check_events(self, expected: tuple[MEvent, ...], may_expire: tuple[str, ...] = ()) -> None:
        """The events the step stored are exactly the ones the model expects, each thread's in
        the order the model made them, with the payloads the model knows.

        ``may_expire`` names threads the step touched without changing their record (a delivery
        report, a classification, a draft discarded): R10 lets such a command write a due thread's
        expiry or leave it to the sweep (readers see the same either way), so a
        ``ThreadResolved`` for one of them is accepted, and the model writes the expiry too.
        """
        new = self.real.events(after=self.events_seen, limit=10_000)
        deadline = time.monotonic() + self.feed_patience
        while len(new) < len(expected) and time.monotonic() < deadline:
            # a feed may deliver late (PostgreSQL waits for older transactions), never lose
            time.sleep(0.01)
            new = self.real.events(after=self.events_seen, limit=10_000)
        if new:  # follow the positions handed out: they need not be 1, 2, 3 ...
            self.events_seen = new[-1][0]
        self.check_heard([event for _, event in new])
        in_order = [(type(event).__name__, event.thread_id) for _, event in new]
        got = sorted(in_order)
        extra = sorted(set(got) - {e[:2] for e in expected})
        first: list[MEvent] = []
        if extra and all(
            kind == "ThreadResolved" and tid in may_expire and self.ref.due(self.ref.threads[tid])
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

    def compare(self, real: Outcome, expected: Ok | Err) -> Any:
        note(f"  inbox -> {real[0]} {real[1]!r:.120}; model -> {expected!r:.120}")
        if isinstance(expected, Err):
            assert real == ("err", expected.code), f"inbox {real}, model {expected}"
            self.check_events(())
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

    def message_step(
        self,
        direction: str,
        actor: str | None,
        body: str,
        pid: str | None,
        run: Callable[[], Any],
        owner: str | None = None,
        guest: str | None = None,
        thread_id: str | None = None,
        attachments: tuple[str, ...] = (),
        is_automated: bool = False,
        source: str | None = None,
        batched: list[MEvent] | None = None,
    ) -> None:
        """One receive or send (``run``), planned and then done by the model with the real
        inbox's ids; in a batch (``batched``) the step's events are collected for the end of
        the batch instead of checked now."""
        plan = self.ref.plan_message(direction, actor, body, pid, owner, guest, thread_id)
        real = _call(run)
        if batched is not None and isinstance(plan, Err):  # the feed is read after the batch
            assert real == ("err", plan.code), f"inbox {real}, model {plan}"
            return
        message = self.compare(real, plan)
        if message is None:
            return
        assert isinstance(plan, Ok)
        assert isinstance(plan.value, tuple)
        kind: str = plan.value[0]
        ref: str | None = plan.value[1]
        if kind == "replay":
            assert message.id == ref, "a repeated provider message id made a new message"
        elif kind == "existing":
            assert message.thread_id == ref, "the message went to another thread"
        else:
            assert message.thread_id not in self.ref.threads, "expected a new thread"
        done = self.ref.apply_message(
            (kind, ref),
            direction,
            actor,
            body,
            pid,
            message.id,
            message.thread_id,
            owner,
            guest,
            attachments,
            is_automated,
            source,
        )
        if batched is None:
            self.check_events(done.events)
        else:
            batched += done.events
        self.assert_message(message)

    @rule(data=st.data(), count=st.integers(1, 3), abandon=st.booleans())
    def batch(self, data: st.DataObject, count: int, abandon: bool) -> None:
        """Inbound messages in one ``batch()``. A clean exit commits them all; an exception
        escaping the block undoes the batch on durable storage (memory, which has no
        transaction, keeps what each command did). Listeners hear only what committed (R16)."""
        undone = abandon and getattr(self.repository, "atomic_batches", True)
        before = copy.deepcopy(self.model) if undone else None
        batched: list[MEvent] = []
        try:
            with self.real.batch():
                for _ in range(count):
                    owner, guest = data.draw(owner_numbers), data.draw(st.sampled_from(GUESTS))
                    body, pid = data.draw(inbound_bodies), data.draw(provider_ids)
                    receive = partial(self.real.receive, owner_number=owner, guest_number=guest,
                                      body=body, provider_message_id=pid)  # fmt: skip
                    self.message_step("Inbound", None, body, pid, receive, owner=owner,
                                      guest=guest, batched=batched)  # fmt: skip
                assert not self.heard or not getattr(self.repository, "atomic_batches", True), (
                    "a listener heard a batch before it committed"
                )
                if abandon:
                    raise _Abandoned
        except _Abandoned:
            pass
        if before is not None:
            self.model = before
            batched = []
        self.check_events(tuple(batched))

    # --- setup ----------------------------------------------------------------------------------
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
        self.model = Model([_model_resource(Q1), _model_resource(Q2)], ttl, claim_on_send)
        self.model.set_now(self.at)

    # --- messages -------------------------------------------------------------------------------
    @rule(
        owner=owner_numbers,
        guest=st.sampled_from(GUESTS),
        body=inbound_bodies,
        pid=provider_ids,
        attachments=attachment_lists,
    )
    def receive(
        self, owner: str, guest: str, body: str, pid: str | None, attachments: tuple[str, ...]
    ) -> None:
        note(f"keyword: {keyword_of(body)}")
        self.message_step(
            "Inbound",
            None,
            body,
            pid,
            lambda: self.real.receive(
                owner_number=owner,
                guest_number=guest,
                body=body,
                provider_message_id=pid,
                attachments=attachments,
            ),
            owner=owner,
            guest=guest,
            attachments=attachments,
        )

    @rule(
        data=st.data(),
        body=bodies,
        pid=provider_ids,
        attachments=attachment_lists,
        automated=st.booleans(),
        source=sources,
    )
    def send_to_pair(
        self,
        data: st.DataObject,
        body: str,
        pid: str | None,
        attachments: tuple[str, ...],
        automated: bool,
        source: str | None,
    ) -> None:
        owner, guest = self.pick_pair(data)
        current = self.ref.open_for_pair(owner, guest)
        actor = self.pick_actor(data, current.id if current else None, owner=owner)
        note(f"{owner} -> {guest}; opted out: {self.ref.is_opted_out(owner, guest)}")
        self.message_step(
            "Outbound",
            actor,
            body,
            pid,
            lambda: self.real.send(
                actor=actor,
                owner_number=owner,
                guest_number=guest,
                body=body,
                provider_message_id=pid,
                attachments=attachments,
                is_automated=automated,
                source=source,
            ),
            owner=owner,
            guest=guest,
            attachments=attachments,
            is_automated=automated,
            source=source,
        )

    @precondition(_has_threads)
    @rule(data=st.data(), body=bodies, pid=provider_ids)
    def send_on_thread(self, data: st.DataObject, body: str, pid: str | None) -> None:
        thread_id = self.pick_thread(data, open_mostly=True)
        actor = self.pick_actor(data, thread_id)
        self.message_step(
            "Outbound",
            actor,
            body,
            pid,
            lambda: self.real.send(
                actor=actor, thread_id=thread_id, body=body, provider_message_id=pid
            ),
            thread_id=thread_id,
        )

    # --- thread commands ------------------------------------------------------------------------
    @precondition(_has_threads)
    @rule(data=st.data())
    def assign(self, data: st.DataObject) -> None:
        thread_id = self.pick_thread(data)
        actor = self.pick_actor(data, thread_id)
        assignee = data.draw(st.none() | st.just(self.pick_actor(data, thread_id)))
        real = _call(lambda: self.real.assign(thread_id, actor=actor, assignee=assignee))
        expected = self.ref.assign(thread_id, actor, assignee)
        if self.compare(real, expected) is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events)

    @precondition(_has_threads)
    @rule(data=st.data(), command=st.sampled_from(["resolve", "resolve", "delete"]))
    def resolve_or_delete(self, data: st.DataObject, command: str) -> None:
        thread_id = self.pick_thread(data)
        actor = self.pick_actor(data, thread_id)
        if command == "resolve":
            real = _call(lambda: self.real.resolve(thread_id, actor=actor))
            expected = self.ref.resolve(thread_id, actor)
        else:
            real = _call(lambda: self.real.delete(thread_id, actor=actor))
            expected = self.ref.delete(thread_id, actor)
        if self.compare(real, expected) is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events)

    @rule()
    def expire(self) -> None:
        real = _call(self.real.expire)
        expected = self.ref.expire()
        threads = self.compare(real, expected)
        assert sorted(t.id for t in threads) == expected.value
        for thread in threads:
            assert thread.status_reason == "ThreadExpired"
            assert thread.last_modified_time == thread.latest_message_at + self.ttl
        self.check_events(expected.events)

    # --- time -----------------------------------------------------------------------------------
    def move_clock(self, instant: datetime) -> None:
        """Set the host's clock; the machine's time follows it forward only."""
        self.clock.instant = instant
        if instant > self.at:
            self.at = instant
            self.ref.set_now(instant)

    @rule(delta=steps)
    def advance(self, delta: timedelta) -> None:
        self.move_clock(self.clock.instant + delta)

    @rule(
        delta=st.sampled_from([timedelta(microseconds=1), timedelta(hours=1), timedelta(hours=80)])
    )
    def clock_steps_back(self, delta: timedelta) -> None:
        """NTP steps the host's clock back: the inbox's time stays where it was (R18a), and
        the steps that follow are judged at the machine's time, not the clock's."""
        assert self.real.now() == self.at, "the inbox's time is not the latest clock reading"
        self.clock.instant -= delta
        assert self.real.now() == self.at, "a clock that stepped back took the inbox back"

    @precondition(_has_threads)
    @rule(data=st.data(), offset=st.sampled_from([timedelta(0), timedelta(microseconds=-1)]))
    def advance_to_due(self, data: st.DataObject, offset: timedelta) -> None:
        """Move the clock to exactly a thread's due instant (or just before it)."""
        thread = self.ref.threads[data.draw(st.sampled_from(list(self.ref.threads)))]
        assert thread.latest is not None
        target = thread.latest + self.ttl + offset
        if target > self.at:
            self.move_clock(target)

    # --- queries --------------------------------------------------------------------------------
    @precondition(_has_threads)
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """``get`` and ``messages`` as someone (mostly a handler) sees them."""
        thread_id = self.pick_thread(data)
        actor = self.pick_actor(data, thread_id)
        real = _call(lambda: self.real.get(thread_id, actor=actor))
        expected = self.ref.get(thread_id, actor)
        thread = self.compare(real, expected)
        if thread is not None:
            assert isinstance(expected, Ok) and isinstance(expected.value, MThread)
            self.assert_same(thread, expected.value)
        per_page = data.draw(st.none() | st.integers(1, 3))
        expected = self.ref.messages(thread_id, actor)
        if per_page is None:  # all of them at once
            found = self.compare(
                _call(lambda: self.real.messages(thread_id, actor=actor)), expected
            )
            if found is not None:
                assert [m.id for m in found] == expected.value  # type: ignore[union-attr]
        else:  # walked by token, or one numbered page: walk() compares it with the model
            call = partial(self.real.messages, thread_id, actor=actor)
            found = self.walk(data, call, expected, per_page)
        if found:
            drafts = {d.id for d in self.ref.all_drafts()}
            assert not drafts & {m.id for m in found}, "a draft is listed with the messages"
            for m in found:
                self.assert_message(m)
        if self.ref.all_messages() or self.ref.all_drafts():
            message_id = self.pick_message(data)
            real = _call(lambda: self.real.message(message_id, actor=actor))
            message = self.compare(real, self.ref.message(message_id, actor))
            if message is not None:
                self.assert_message(message)
        thread = self.ref.threads.get(thread_id)
        if thread is not None and actor in self.ref.handled(actor) | {actor}:
            resource = self.ref.owner_of(thread.owner)
            if resource is not None and actor in resource.handlers:
                opted = self.real.opted_out(
                    actor=actor, owner_number=thread.owner, guest_number=thread.guest
                )
                assert opted == self.ref.is_opted_out(thread.owner, thread.guest)

    @rule(
        data=st.data(),
        status=st.sampled_from([None, "Open", "Resolved"]),
        per_page=st.integers(1, 4),
        by_number=st.booleans(),
    )
    def list_threads(
        self, data: st.DataObject, status: str | None, per_page: int, by_number: bool
    ) -> None:
        """A list walk (by token, or one numbered page) with random filters, against the model."""
        actor = self.pick_actor(data)
        owner = data.draw(st.none() | owner_numbers)
        guest = data.draw(st.none() | st.sampled_from(GUESTS))
        owner_ids = data.draw(owner_id_lists)
        availability = data.draw(availability_choices)
        created_from = data.draw(st.none() | st.sampled_from(self.creation_times()))
        flt = ThreadFilter(
            status=status,
            owner_extension_ids=owner_ids,
            owner_phone_number=owner,
            guest_phone_number=guest,
            availability=availability,
            creation_time_from=created_from,
        )
        expected = self.ref.list_ids(
            actor,
            status,
            owner_ids,
            owner,
            guest,
            tuple(a == "Alive" for a in availability),
            created_from,
        )
        if by_number:
            page = data.draw(st.integers(1, 4))
            real = _call(lambda: self.real.list(actor=actor, filter=flt, per_page=per_page,
                                                page=page))  # fmt: skip
            found = self.compare(real, expected)
            if found is not None:
                self.check_numbered(found, expected, page, per_page)
            return
        walked: list[Thread] = []
        token: str | None = None
        while True:
            real = self.list_page(actor, flt, per_page, token)
            found = self.compare(real, expected)
            if found is None:
                return
            assert len(found) <= per_page
            walked.extend(found)
            token = found.next_page_token
            if token is None:
                break
            assert len(found) == per_page
        assert isinstance(expected, Ok)
        assert [t.id for t in walked] == expected.value
        for thread in walked:
            self.assert_same(thread, self.ref.view(self.ref.threads[thread.id]))

    def check_numbered(self, found: Any, expected: Ok | Err, page: int, per_page: int) -> None:
        """Numbered page ``page`` holds the model's ids of that page, and says where it is."""
        assert isinstance(expected, Ok) and isinstance(expected.value, list)
        want = expected.value[(page - 1) * per_page : page * per_page]
        assert [r.id for r in found] == want, ([r.id for r in found], want)
        paging = found.paging
        assert paging.per_page == per_page
        # a numbered page carries the token that continues it, when more follow
        assert (found.next_page_token is not None) == (page * per_page < len(expected.value))
        if want:  # Q2: an empty page carries only per_page
            assert paging.page == page
            assert paging.total_elements == len(expected.value)
            assert paging.page_start == (page - 1) * per_page
            assert paging.page_end == paging.page_start + len(want) - 1
            assert paging.total_pages == -(-len(expected.value) // per_page)
        else:
            assert paging.total_elements is None

    def list_page(self, actor: str, flt: ThreadFilter, per_page: int, token: str | None) -> Outcome:
        return _call(
            lambda: self.real.list(actor=actor, filter=flt, per_page=per_page, page_token=token)
        )

    def creation_times(self) -> list[datetime]:
        return sorted({t.created for t in self.ref.threads.values()}) or [START]

    @rule(data=st.data(), full=st.booleans())
    def sync(self, data: st.DataObject, full: bool) -> None:
        """A sync client: a full sync or an incremental one; its copy then equals a fresh FSync."""
        actor = data.draw(st.sampled_from(["101", "103", "104"]))
        client = self.clients.setdefault(actor, _Client())
        now = self.at
        if full or client.token is None:
            result = self.real.sync(actor=actor, sync_type=SyncType.FULL)
            assert [t.id for t in result.records] == self.ref.full_sync(actor)
            client.store = {t.id: t for t in result.records}
        else:
            assert client.issued is not None
            invalid = (
                client.handled != self.ref.handled(actor)
                or now - client.issued > self.real.policy.sync_token_max_age
            )
            real = _call(lambda: self.real.sync(actor=actor, sync_type=SyncType.INCREMENTAL,
                                                sync_token=client.token))  # fmt: skip
            if invalid:
                assert real == ("err", "InvalidSyncToken"), real
                client.token = None
                return
            assert real[0] == "ok", real
            result = real[1]
            now_seen = self.ref.snapshot(actor)
            changed = sorted(tid for tid, rec in now_seen.items() if client.seen.get(tid) != rec)
            assert sorted(t.id for t in result.records) == changed, "ISync reported other changes"
            order = [(t.last_modified_time, t.id) for t in result.records]
            assert order == sorted(order, reverse=True)
            for thread in result.records:
                if thread.status is ThreadStatus.OPEN and thread.availability is Availability.ALIVE:
                    client.store[thread.id] = thread
                else:
                    client.store.pop(thread.id, None)
        assert result.sync_time == now
        for thread in result.records:
            self.assert_same(thread, self.ref.view(self.ref.threads[thread.id]))
        client.token, client.issued = result.sync_token, now
        client.handled, client.seen = self.ref.handled(actor), self.ref.snapshot(actor)
        fresh = self.real.sync(actor=actor, sync_type=SyncType.FULL)
        assert client.store == {t.id: t for t in fresh.records}, "the sync client diverged"

    # --- issue 5: delivery reports, classification, message deletion ---------------------------
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

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """A carrier's delivery callbacks for one message: its true path's reports, shuffled
        and duplicated, arrive one to three at a time; now and then an impossible, invalid or
        misdirected report (an inbound message, a draft, an unknown id)."""
        message_id = self.pick_message(data, outbound=True)
        model = self.ref.find_message(message_id)
        if model is not None and model.direction == "Outbound" and message_id not in self.reports:
            path = data.draw(st.sampled_from(DELIVERY_PATHS))
            extra = data.draw(st.lists(st.sampled_from(["Queued", *path]), max_size=3))
            self.paths[message_id] = path
            self.reports[message_id] = data.draw(st.permutations([*path, *extra]))
            note(f"  {message_id} goes {path}; reports {self.reports[message_id]}")
        pending = self.reports.get(message_id, [])
        for _ in range(data.draw(st.integers(1, 3))):
            if pending and data.draw(st.integers(0, 5)) > 0:
                status = pending.pop(0)
            else:
                status = data.draw(st.sampled_from(ALL_STATUSES))
                self.paths.pop(message_id, None)  # off its path: no claim on where it ends
            at = data.draw(st.sampled_from([None, None, self.at - timedelta(seconds=30)]))
            error = data.draw(st.sampled_from([None, "30007"]))
            note(f"record_delivery({message_id}, {status}, at={at}, error_code={error})")
            real = _call(partial(self.real.record_delivery, message_id, status, at, error))
            expected = self.ref.record_delivery(message_id, status, at, error)
            found = self.compare(real, expected)
            if found is None:
                continue
            assert isinstance(expected, Ok)
            self.check_events(expected.events, may_expire=(found.thread_id,))
            self.assert_message(found)
        if model is not None and message_id in self.paths and not pending and model.alive:
            path = self.paths[message_id]
            if path:  # every report arrived: the message is as far as its path went
                assert model.status == path[-1], (model.status, path)

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(
        data=st.data(),
        label=st.sampled_from(["billing", "spam", "urgent"]),
        automated=st.booleans(),
    )
    def classify(self, data: st.DataObject, label: str, automated: bool) -> None:
        message_id = self.pick_message(data)
        thread = self.ref.thread_of(message_id) if self.ref.find_message(message_id) else None
        actor = None if automated else self.pick_actor(data, thread.id if thread else None)
        real = _call(
            lambda: self.real.classify(
                message_id, classification=label, confidence=0.9, reason="model", actor=actor
            )
        )
        expected = self.ref.classify(message_id, label, actor)
        found = self.compare(real, expected)
        if found is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events, may_expire=(found.thread_id,))
            self.assert_message(found)
            newest = found.classifications[-1]
            assert (newest.classification, newest.confidence, newest.reason) == (
                label,
                0.9,
                "model",
            )
            assert newest.created_at == self.at
            ids = [c.id for c in found.classifications]
            assert len(set(ids)) == len(ids), "classification ids repeat"

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(data=st.data())
    def delete_messages(self, data: st.DataObject) -> None:
        """Delete one message or several (repeats, tombstones, drafts and unknown ids included:
        one bad id refuses the whole call)."""
        known = [m.id for m in self.ref.all_messages()]
        drafts = [d.id for d in self.ref.all_drafts()]
        one = st.sampled_from(known) | st.sampled_from([*drafts, "no-such-message"])
        ids = data.draw(
            st.lists(st.sampled_from(known), min_size=1, max_size=3)
            | st.lists(one, min_size=0, max_size=3)
        )
        first = self.ref.find_message(ids[0]) if ids else None
        actor = self.pick_actor(data, first.thread_id if first else None)
        real = _call(lambda: self.real.delete_messages(ids, actor=actor))
        expected = self.ref.delete_messages(ids, actor)
        found = self.compare(real, expected)
        if found is None:
            return
        assert isinstance(expected, Ok) and isinstance(expected.value, list)
        assert [m.id for m in found] == [m.id for m in expected.value]
        self.check_events(expected.events, may_expire=tuple({m.thread_id for m in found}))
        for message in found:
            self.assert_message(message)

    # --- issue 5: drafts ------------------------------------------------------------------------
    def assert_draft(self, real: Message) -> None:
        model = self.ref.find_draft(real.id)
        _same_record(real.id, model, message_record(real), model_draft_record)

    @precondition(_has_threads)
    @rule(
        data=st.data(),
        command=st.sampled_from(["save", "save", "change", "send", "send", "discard", "list"]),
        body=bodies,
        attachments=attachment_lists,
        automated=st.booleans(),
        source=sources,
    )
    def draft(
        self,
        data: st.DataObject,
        command: str,
        body: str,
        attachments: tuple[str, ...],
        automated: bool,
        source: str | None,
    ) -> None:
        """Save, change, send or discard a draft, or list a thread's drafts (on open, resolved
        and deleted threads, by the assignee, other handlers and outsiders)."""
        drafts = [d.id for d in self.ref.all_drafts()]
        if command in ("change", "send", "discard") and not drafts:
            command = "save"
        if command in ("change", "send", "discard"):
            draft_id = data.draw(st.sampled_from([*drafts, "no-such-draft"]))
            model = self.ref.find_draft(draft_id)
            thread_id = model.thread_id if model is not None else self.pick_thread(data)
        else:
            thread_id, draft_id = self.pick_thread(data, open_mostly=True), None
        actor = self.pick_actor(data, thread_id)
        if command in ("save", "change"):

            def run() -> Message:
                return self.real.save_draft(
                    thread_id,
                    actor=actor,
                    body=body,
                    attachments=attachments,
                    is_automated=automated,
                    source=source,
                    draft_id=draft_id,
                )

            expected = self.ref.save_draft(
                thread_id, actor, body, attachments, automated, source, draft_id
            )
            found = self.compare(_call(run), expected)
            if found is None:
                return
            assert isinstance(expected, Ok)
            if expected.value == ("new", None):
                assert found.id != draft_id
                expected = self.ref.add_draft(
                    found.id, thread_id, actor, body, attachments, automated, source
                )
            else:
                assert found.id == draft_id
            self.check_events(expected.events)
            self.assert_draft(found)
        elif command == "send":
            assert draft_id is not None
            sent_id = draft_id
            expected = self.ref.plan_send_draft(sent_id, actor)
            found = self.compare(
                _call(lambda: self.real.send_draft(sent_id, actor=actor)), expected
            )
            if found is None:
                return
            assert found.id != sent_id, "a sent draft kept its id"
            assert found.id not in {m.id for m in self.ref.all_messages()}
            done = self.ref.apply_send_draft(sent_id, actor, found.id)
            self.check_events(done.events)
            self.assert_message(found)
        elif command == "discard":
            assert draft_id is not None
            gone_id = draft_id
            expected = self.ref.discard_draft(gone_id, actor)
            found = self.compare(
                _call(lambda: self.real.discard_draft(gone_id, actor=actor)), expected
            )
            if found is None:
                return
            assert isinstance(expected, Ok)
            assert found.id == gone_id
            self.check_events(expected.events, may_expire=(found.thread_id,))
        else:
            expected = self.ref.drafts(thread_id, actor)
            per_page = data.draw(st.integers(1, 3))
            call = partial(self.real.drafts, thread_id, actor=actor)
            for d in self.walk(data, call, expected, per_page):
                self.assert_draft(d)

    # --- issue 5: notes -------------------------------------------------------------------------
    def assert_note(self, real: Note) -> None:
        model = self.ref.find_note(real.id)
        _same_record(real.id, model, note_record(real), model_note_record)

    @precondition(_has_threads)
    @rule(
        data=st.data(),
        command=st.sampled_from(["add", "add", "edit", "delete", "list"]),
        text=note_texts,
    )
    def notes(self, data: st.DataObject, command: str, text: str) -> None:
        """Add, edit or delete notes (by their author or someone else, on open, resolved and
        deleted threads), or walk a note list with random filters."""
        known = [n.id for n in self.ref.all_notes()]
        if command == "add":
            thread_id = self.pick_thread(data, open_mostly=True)
            actor = self.pick_actor(data, thread_id)
            expected: Ok | Err | None = self.ref.plan_note(thread_id, actor)
            real = _call(lambda: self.real.add_note(thread_id, actor=actor, text=text))
            found = self.compare(real, expected or Ok())
            if found is None:
                return
            done = self.ref.add_note(found.id, thread_id, actor, text)
            self.check_events(done.events)
            self.assert_note(found)
            return
        if command == "list":
            self.list_notes(data)
            return
        on_open = [n.id for n in self.ref.all_notes()
                   if self.ref.view(self.ref.threads[n.thread_id]).status == "Open"
                   and self.ref.threads[n.thread_id].alive]  # fmt: skip
        pool = st.sampled_from([*known, "no-such-note"])
        ids = data.draw(
            st.lists(
                st.sampled_from(on_open) | pool if on_open else pool,
                min_size=command == "edit",
                max_size=1 if command == "edit" else 3,
            )
        )
        first = self.ref.find_note(ids[0]) if ids else None
        actor = data.draw(
            st.just(first.author) | st.just(self.pick_actor(data, first.thread_id))
            if first is not None
            else actors
        )
        if command == "edit":
            real = _call(lambda: self.real.edit_note(ids[0], actor=actor, text=text))
            expected = self.ref.edit_note(ids[0], actor, text)
        else:
            real = _call(lambda: self.real.delete_notes(ids, actor=actor))
            expected = self.ref.delete_notes(ids, actor)
        found = self.compare(real, expected)
        if found is None:
            return
        assert isinstance(expected, Ok)
        self.check_events(expected.events)
        for n in found if isinstance(found, list) else [found]:
            self.assert_note(n)

    def list_notes(self, data: st.DataObject) -> None:
        actor = self.pick_actor(data)
        threads = [*self.ref.threads, "no-such-thread"]
        notes = [n.id for n in self.ref.all_notes()] or ["no-such-note"]
        thread_ids = data.draw(st.none() | st.lists(st.sampled_from(threads), min_size=1))
        note_ids = data.draw(st.none() | st.lists(st.sampled_from(notes), min_size=1))
        owner_ids = data.draw(owner_id_lists)
        availability = data.draw(availability_choices)
        per_page = data.draw(st.integers(1, 4))
        flt = NoteFilter(
            thread_ids=thread_ids,
            note_ids=note_ids,
            owner_extension_ids=owner_ids,
            availability=availability,
        )
        expected = self.ref.list_note_ids(
            actor, thread_ids, note_ids, owner_ids, tuple(a == "Alive" for a in availability)
        )
        walked = self.walk(
            data, partial(self.real.list_notes, actor=actor, filter=flt), expected, per_page
        )
        for n in walked:
            self.assert_note(n)

    def walk(
        self,
        data: st.DataObject,
        call: Callable[..., Any],
        expected: Ok | Err,
        per_page: int,
    ) -> list[Any]:
        """``call(per_page=..., page_token=...)`` walked to its end by token, or one numbered
        page of it (``page=N``, with its ``paging``), against the model's list of ids."""
        if data.draw(st.booleans()):
            number = data.draw(st.integers(1, 4))
            found = self.compare(_call(lambda: call(per_page=per_page, page=number)), expected)
            if found is None:
                return []
            self.check_numbered(found, expected, number, per_page)
            return list(found)

        def page(token: str | None) -> Outcome:
            return _call(lambda: call(per_page=per_page, page_token=token))

        walked: list[Any] = []
        token: str | None = None
        while True:
            found = self.compare(page(token), expected)
            if found is None:
                return []
            assert len(found) <= per_page
            walked.extend(found)
            token = found.next_page_token
            if token is None:
                break
            assert len(found) == per_page
        assert isinstance(expected, Ok)
        assert [r.id for r in walked] == expected.value, (
            [r.id for r in walked],
            expected.value,
        )
        return walked

    # --- issue 5: message lists and reads -------------------------------------------------------
    @rule(
        data=st.data(),
        status=st.sampled_from([None, "Open", "Resolved"]),
        per_page=st.integers(1, 5),
    )
    def list_messages(self, data: st.DataObject, status: str | None, per_page: int) -> None:
        """A token walk of ``list_messages`` with random filters, against the model."""
        actor = self.pick_actor(data)
        threads = [*self.ref.threads, "no-such-thread"]
        known = [m.id for m in self.ref.all_messages()] + [d.id for d in self.ref.all_drafts()]
        thread_ids = data.draw(st.none() | st.lists(st.sampled_from(threads), min_size=1))
        message_ids = data.draw(
            st.none() | st.lists(st.sampled_from(known or ["no-such-message"]), min_size=1)
        )
        owner_ids = data.draw(owner_id_lists)
        availability = data.draw(availability_choices)
        times = sorted({m.created for m in self.ref.all_messages() if m.created} | {START})
        created_from = data.draw(st.none() | st.sampled_from(times))
        created_to = data.draw(st.none() | st.sampled_from(times))
        if created_from is not None and created_to is not None and created_from > created_to:
            created_from, created_to = created_to, created_from
        flt = MessageFilter(
            thread_ids=thread_ids,
            message_ids=message_ids,
            thread_status=status,
            owner_extension_ids=owner_ids,
            availability=availability,
            creation_time_from=created_from,
            creation_time_to=created_to,
        )
        expected = self.ref.list_message_ids(
            actor,
            thread_ids,
            message_ids,
            status,
            owner_ids,
            tuple(a == "Alive" for a in availability),
            created_from,
            created_to,
        )
        walked = self.walk(
            data, partial(self.real.list_messages, actor=actor, filter=flt), expected, per_page
        )
        for m in walked:
            self.assert_message(m)

    # --- issue 5: entries -----------------------------------------------------------------------
    def assert_entries(self, real: Any, expected: list[MMessage | MNote | MHint]) -> None:
        got = [entry_record(e) for e in real]
        want = [model_entry_record(e) for e in expected]
        assert got == want, f"entries: inbox {got}, model {want}"

    @rule(data=st.data(), scope=st.sampled_from(list(EntryScope)))
    def sync_entries_full(self, data: st.DataObject, scope: EntryScope) -> None:
        """FSync of the entries timeline with each scope (Explicit with random thread ids)."""
        actor = self.pick_actor(data)
        thread_ids: list[str] | None = None
        if scope is EntryScope.EXPLICIT or data.draw(st.integers(0, 9)) == 0:
            thread_ids = data.draw(
                st.lists(
                    st.sampled_from([*self.ref.threads, "no-such-thread"]), min_size=1, max_size=3
                )
            )
        real = _call(
            lambda: self.real.sync_entries(actor=actor, scope=scope, thread_ids=thread_ids)
        )
        expected = self.ref.entries_full(actor, scope.value, thread_ids)
        found = self.compare(real, expected)
        if found is not None:
            assert isinstance(expected, Ok) and isinstance(expected.value, list)
            assert found.sync_type is SyncType.FULL
            assert found.sync_time == self.at
            self.assert_entries(found.records, expected.value)

    @rule(data=st.data(), full=st.booleans())
    def entries_client(self, data: st.DataObject, full: bool) -> None:
        """E4: a client per actor applies FSync(Accessible), then ISyncs (each compared with the
        model's changes since its token); it then holds what a fresh FSync returns, which is the
        model's open timelines."""
        actor = data.draw(st.sampled_from(ENTRY_ACTORS))
        client = self.entry_clients.setdefault(actor, _EntriesClient())
        now = self.at
        if full or client.token is None:
            result = self.real.sync_entries(actor=actor, scope=EntryScope.ACCESSIBLE)
            self.assert_entries(result.records, self.ref.open_timelines(actor))
            client.store = {e.id: e for e in result.records}
        else:
            wrong = data.draw(st.integers(0, 11))
            if wrong == 0 and actor in self.clients and self.clients[actor].token is not None:
                thread_token = self.clients[actor].token
                real = _call(
                    lambda: self.real.sync_entries(
                        actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=thread_token
                    )
                )
                assert real == ("err", "InvalidSyncToken"), "a thread-sync token was accepted"
                return
            other = [c.token for a, c in self.entry_clients.items() if a != actor and c.token]
            if wrong == 1 and other:
                real = _call(
                    lambda: self.real.sync_entries(
                        actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=other[0]
                    )
                )
                assert real == ("err", "InvalidSyncToken"), "another actor's token was accepted"
                return
            assert client.issued is not None
            invalid = (
                client.handled != self.ref.handled(actor)
                or now - client.issued > self.real.policy.sync_token_max_age
            )
            real = _call(
                lambda: self.real.sync_entries(
                    actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=client.token
                )
            )
            if invalid:
                assert real == ("err", "InvalidSyncToken"), real
                client.token = None
                return
            assert real[0] == "ok", real
            result = real[1]
            assert result.sync_type is SyncType.INCREMENTAL
            self.assert_entries(result.records, self.ref.entries_since(actor, client.tick))
            dropped = set()
            for e in result.records:
                if e.record_type in (EntryType.ALIVE_MESSAGE, EntryType.ALIVE_NOTE):
                    client.store[e.id] = e
                elif e.record_type in (EntryType.DELETED_MESSAGE, EntryType.DELETED_NOTE):
                    client.store.pop(e.id, None)
                elif e.record_type in (
                    EntryType.THREAD_RESOLVED_HINT,
                    EntryType.THREAD_DELETED_HINT,
                ):
                    dropped.add(e.thread_id)
            client.store = {k: e for k, e in client.store.items() if e.thread_id not in dropped}
        assert result.sync_time == now
        client.token, client.issued, client.tick = result.sync_token, now, self.ref.tick
        client.handled = self.ref.handled(actor)
        fresh = self.real.sync_entries(actor=actor, scope=EntryScope.ACCESSIBLE)
        assert client.store == {e.id: e for e in fresh.records}, "the entries client diverged"
        self.assert_entries(
            sorted(client.store.values(), key=lambda e: (e.last_modified_time, e.id), reverse=True),
            self.ref.open_timelines(actor),
        )

    # --- directory ------------------------------------------------------------------------------
    @rule(
        data=st.data(),
        change=st.sampled_from(
            [
                "remove_handler",
                "add_handler",
                "add_handler",
                "remove_phone_number",
                "add_phone_number",
                "add_phone_number",
                "remove_resource",
                "add_resource",
                "add_resource",
            ]
        ),
        resource=st.sampled_from([Q1, Q2]),
    )
    def change_directory(self, data: st.DataObject, change: str, resource: str) -> None:
        """One directory change, and the threads that follow it."""
        expected: Ok | Err
        if change in ("remove_handler", "add_handler"):
            handler = data.draw(actors)
            if change == "remove_handler":
                real = _call(lambda: self.real.remove_handler(resource, handler))
                expected = self.ref.remove_handler(resource, handler)
            else:
                name = NAMES.get(handler)
                real = _call(lambda: self.real.add_handler(resource, Handler(handler, name=name)))
                expected = self.ref.add_handler(resource, handler, name)
        elif change in ("remove_phone_number", "add_phone_number"):
            number = data.draw(st.sampled_from(OWNER_NUMBERS))
            if change == "remove_phone_number":
                real = _call(lambda: self.real.remove_phone_number(resource, number))
                expected = self.ref.remove_phone_number(resource, number)
            else:
                real = _call(lambda: self.real.add_phone_number(resource, number))
                expected = self.ref.add_phone_number(resource, number)
        elif change == "remove_resource":
            real = _call(lambda: self.real.remove_resource(resource))
            expected = self.ref.remove_resource(resource)
        else:
            real = _call(lambda: self.real.add_resource(_resource(resource)))
            expected = self.ref.add_resource(_model_resource(resource))
        changed = self.compare(real, expected)
        if isinstance(expected, Ok):
            if change.startswith("remove"):
                assert sorted(t.id for t in changed) == expected.value
            self.check_events(expected.events)

    # --- invariants -----------------------------------------------------------------------------
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

    @invariant()
    def threads_match_the_model(self) -> None:
        """Stored and effective state of every thread equal the model's, field by field."""
        if self.model is None:
            return
        now = self.at
        for thread_id, real in self.stored().items():
            model = self.ref.threads[thread_id]
            assert real.status == model.status, "a different expiry was written"
            self.assert_same(as_seen_at(real, now, self.ttl), self.ref.view(model))

    @invariant()
    def messages_match_the_model(self) -> None:
        """Every stored message and draft equals the model's, field by field; every alive
        thread's label follows its newest alive message (M5); no draft is a message."""
        if self.model is None:
            return
        stored = self.stored()
        with self.repository.unit_of_work() as uow:
            for thread_id, model in self.ref.threads.items():
                rows = uow.messages(thread_id)
                real = [message_record(m) for m in rows if m.status is not DeliveryStatus.DRAFT]
                expected = [model_message_record(m) for m in model.messages]
                assert real == expected, (real, expected)
                drafts = [
                    message_record(m)
                    for m in rows
                    if m.status is DeliveryStatus.DRAFT and m.availability is Availability.ALIVE
                ]
                assert drafts == [model_draft_record(d) for d in model.drafts], (
                    drafts,
                    model.drafts,
                )
                if stored[thread_id].availability is Availability.ALIVE:
                    texts = [
                        m.body
                        for m in rows
                        if m.availability is Availability.ALIVE
                        and m.status is not DeliveryStatus.DRAFT
                        and m.body
                    ]
                    label = texts[-1] if texts else None
                    assert stored[thread_id].label == label, "the label is not the newest text"

    @invariant()
    def notes_match_the_model(self) -> None:
        """Every stored note equals the model's, field by field."""
        if self.model is None:
            return
        query = NoteQuery(
            owner_extension_ids=frozenset(RESOURCES), availability=frozenset(Availability)
        )
        with self.repository.unit_of_work() as uow:
            real = sorted(note_record(n) for n in uow.find_notes(query, 100_000))
        expected = sorted(model_note_record(n) for n in self.ref.all_notes())
        assert real == expected, (real, expected)

    @invariant()
    def opt_out_is_stored_and_obeyed(self) -> None:
        """The stored opt-out state of every pair is the model's (M7), and no outbound message
        of a pair was stored while the pair was opted out."""
        if self.model is None:
            return
        with self.repository.unit_of_work() as uow:
            for owner in OWNER_NUMBERS:
                for guest in GUESTS:
                    assert uow.opted_out(owner, guest) == self.ref.is_opted_out(owner, guest), (
                        owner,
                        guest,
                    )
        for m in self.ref.all_messages():
            if m.direction != "Outbound":
                continue
            state = False
            for seq, owner, guest, opted in self.ref.opt_log:
                if seq < m.seq and (owner, guest) == (m.owner, m.guest):
                    state = opted
            assert not state, f"{m.id} was sent to {m.guest} from {m.owner} after an opt-out"

    @invariant()
    def entries_match_the_model(self) -> None:
        """FSync(Accessible) of the entries timeline is the model's open timelines (for the
        handler of both resources)."""
        if self.model is None:
            return
        found = self.real.sync_entries(actor="103", scope=EntryScope.ACCESSIBLE)
        self.assert_entries(found.records, self.ref.open_timelines("103"))

    @invariant()
    def one_open_thread_per_pair(self) -> None:
        if self.model is None:
            return
        now = self.at
        pairs: dict[tuple[str, str], str] = {}
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE:
                pair = (view.owner_party.phone_number, view.guest_party.phone_number)
                assert pair not in pairs, f"two open threads for {pair}"
                pairs[pair] = view.id

    @invariant()
    def assignee_only_on_open_threads_and_always_a_handler(self) -> None:
        if self.model is None:
            return
        now = self.at
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.assignee is None:
                continue
            assert view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE
            resource = self.directory.resource(view.owner.extension_id)
            assert resource is not None and resource.is_handler(view.assignee.extension_id)

    @invariant()
    def resolved_is_final(self) -> None:
        if self.model is None:
            return
        now = self.at
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.status is ThreadStatus.RESOLVED:
                self.ever_resolved.add(view.id)
            else:
                assert view.id not in self.ever_resolved, f"thread {view.id} reopened"

    @invariant()
    def deleted_threads_hold_no_messages(self) -> None:
        if self.model is None:
            return
        stored = self.stored()
        with self.repository.unit_of_work() as uow:
            for thread_id, thread in stored.items():
                if thread.availability is Availability.DELETED:
                    assert all(
                        m.availability is Availability.DELETED and m.body == ""
                        for m in uow.messages(thread_id)
                    )
