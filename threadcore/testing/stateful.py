"""The stateful property test: the real ``Inbox`` and the reference model, side by side.

:class:`InboxMachine` drives both with random receive / send / assign / resolve / delete / expire /
clock / directory steps over a few resources, handlers and numbers, compares every result, every
error code and every emitted event, and checks every invariant after every step. It is shipped in
the package so that every repository adapter (and an integrator's own) runs the same machine::

    class SQLiteMachine(InboxMachine):
        def make_repository(self) -> Repository:
            return SQLiteRepository(path)

    TestSQLite = SQLiteMachine.TestCase
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

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
from threadcore.clock import ManualClock
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.model import Availability, Handler, Policy, Resource, Thread, ThreadStatus
from threadcore.domain.queries import SyncType, ThreadFilter
from threadcore.domain.transitions import effective
from threadcore.ids import SequentialIds
from threadcore.inbox import Inbox
from threadcore.ports import Repository
from threadcore.testing.model import Err, Model, MResource, MThread, Ok

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
# Mostly no provider id; when there is one, repeats (retried webhooks) and reuse happen.
provider_ids = st.sampled_from([None, None, None, "p1", "p2", "p3", "p4", "p5", "p6"])
owner_numbers = st.sampled_from([N1, N1, N2, N3, N4])
actors = st.sampled_from(ACTORS)
steps = st.sampled_from(
    [timedelta(0), timedelta(seconds=1), timedelta(minutes=10), timedelta(hours=1),
     timedelta(hours=5), timedelta(hours=71), timedelta(hours=73)]
)  # fmt: skip


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


def _has_threads(machine: InboxMachine) -> bool:
    return machine.model is not None and bool(machine.model.threads)


class InboxMachine(RuleBasedStateMachine):
    """Random commands on the real inbox and on the reference model, compared step by step.

    Override :meth:`make_repository` to run the machine against another adapter, and
    :meth:`reopen` to close and reopen durable storage between steps.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
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
        """The inbox under test over :attr:`repository`."""
        return Inbox(
            repository=self.repository,
            directory=self.directory,
            clock=self.clock,
            policy=policy,
            ids=self.ids,
            token_secret=b"the stateful machine's secret",
        )

    # --- plumbing -------------------------------------------------------------------------------
    @property
    def real(self) -> Inbox:
        assert self.inbox is not None
        return self.inbox

    @property
    def ref(self) -> Model:
        assert self.model is not None
        return self.model

    def check_events(self, expected: tuple[tuple[str, str], ...]) -> None:
        """The events the step stored are exactly the ones the model expects."""
        new = self.real.events(after=self.events_seen, limit=10_000)
        deadline = time.monotonic() + self.feed_patience
        while len(new) < len(expected) and time.monotonic() < deadline:
            # a feed may deliver late (PostgreSQL waits for older transactions), never lose
            time.sleep(0.01)
            new = self.real.events(after=self.events_seen, limit=10_000)
        if new:  # follow the positions handed out: they need not be 1, 2, 3 ...
            self.events_seen = new[-1][0]
        got = sorted((type(event).__name__, event.thread_id) for _, event in new)
        assert got == sorted(expected), f"events: inbox {got}, model {sorted(expected)}"

    def compare(self, real: Outcome, expected: Ok | Err) -> Any:
        note(f"  inbox -> {real[0]} {real[1]!r:.120}; model -> {expected!r:.120}")
        if isinstance(expected, Err):
            assert real == ("err", expected.code), f"inbox {real}, model {expected}"
            self.check_events(())
            return None
        assert real[0] == "ok", f"inbox refused with {real[1]}, model accepted"
        return real[1]

    def pick_thread(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from([*self.ref.threads, "no-such-thread"]))

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
    ) -> None:
        plan = self.ref.plan_message(direction, actor, body, pid, owner, guest, thread_id)
        message = self.compare(_call(run), plan)
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
        )
        self.check_events(done.events)

    # --- setup ----------------------------------------------------------------------------------
    @initialize(claim_on_send=st.booleans())
    def setup(self, claim_on_send: bool) -> None:
        note(f"claim_on_send={claim_on_send}")
        self.inbox = self.make_inbox(Policy(ttl=TTL, claim_on_send=claim_on_send))
        self.model = Model([_model_resource(Q1), _model_resource(Q2)], TTL, claim_on_send)
        self.model.now = self.clock.now()

    # --- messages -------------------------------------------------------------------------------
    @rule(owner=owner_numbers, guest=st.sampled_from(GUESTS), body=bodies,
          pid=provider_ids)  # fmt: skip
    def receive(self, owner: str, guest: str, body: str, pid: str | None) -> None:
        self.message_step(
            "Inbound",
            None,
            body,
            pid,
            lambda: self.real.receive(
                owner_number=owner, guest_number=guest, body=body, provider_message_id=pid
            ),
            owner=owner,
            guest=guest,
        )

    @rule(data=st.data(), owner=owner_numbers, guest=st.sampled_from(GUESTS),
          body=bodies, pid=provider_ids)  # fmt: skip
    def send_to_pair(
        self, data: st.DataObject, owner: str, guest: str, body: str, pid: str | None
    ) -> None:
        actor = self.pick_actor(data, owner=owner)
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
            ),
            owner=owner,
            guest=guest,
        )

    @precondition(_has_threads)
    @rule(data=st.data(), body=bodies, pid=provider_ids)
    def send_on_thread(self, data: st.DataObject, body: str, pid: str | None) -> None:
        thread_id = self.pick_thread(data)
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
            assert thread.last_modified_time == thread.latest_message_at + TTL
        self.check_events(expected.events)

    # --- time -----------------------------------------------------------------------------------
    @rule(delta=steps)
    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.ref.now = self.clock.now()

    @precondition(_has_threads)
    @rule(data=st.data(), offset=st.sampled_from([timedelta(0), timedelta(microseconds=-1)]))
    def advance_to_due(self, data: st.DataObject, offset: timedelta) -> None:
        """Move the clock to exactly a thread's due instant (or just before it)."""
        thread = self.ref.threads[data.draw(st.sampled_from(list(self.ref.threads)))]
        assert thread.latest is not None
        target = thread.latest + TTL + offset
        if target > self.clock.now():
            self.clock.set(target)
            self.ref.now = target

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
        real = _call(lambda: self.real.messages(thread_id, actor=actor))
        expected = self.ref.messages(thread_id, actor)
        found = self.compare(real, expected)
        if found is not None:
            assert [m.id for m in found] == expected.value  # type: ignore[union-attr]

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
        owner_ids = data.draw(st.none() | st.lists(st.sampled_from([Q1, Q2]), min_size=1))
        availability = data.draw(st.sampled_from([("Alive",), ("Deleted",), ("Alive", "Deleted")]))
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
                assert isinstance(expected, Ok) and isinstance(expected.value, list)
                want = expected.value[(page - 1) * per_page : page * per_page]
                assert [t.id for t in found] == want
                paging = found.paging
                assert paging.per_page == per_page
                if want:
                    assert paging.total_elements == len(expected.value)
                    assert paging.page_start == (page - 1) * per_page
                    assert paging.page_end == paging.page_start + len(want) - 1
                    assert paging.total_pages == -(-len(expected.value) // per_page)
                else:
                    assert paging.total_elements is None
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
        now = self.clock.now()
        if full or client.token is None:
            result = self.real.sync(actor=actor, sync_type=SyncType.FULL)
            assert [t.id for t in result.records] == self.ref.full_sync(actor)
            client.store = {t.id: t for t in result.records}
        else:
            assert client.issued is not None
            invalid = (
                client.handled != self.ref.handled(actor)
                or now - client.issued > Policy().sync_token_max_age
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

    # --- directory ------------------------------------------------------------------------------
    @rule(
        data=st.data(),
        change=st.sampled_from(["remove_handler", "add_handler", "add_handler",
                                "remove_phone_number", "add_phone_number", "add_phone_number",
                                "remove_resource", "add_resource", "add_resource"]),
        resource=st.sampled_from([Q1, Q2]),
    )  # fmt: skip
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

    @invariant()
    def threads_match_the_model(self) -> None:
        """Stored and effective state of every thread equal the model's, field by field."""
        if self.model is None:
            return
        now = self.clock.now()
        for thread_id, real in self.stored().items():
            model = self.ref.threads[thread_id]
            assert real.status == model.status, "a different expiry was written"
            self.assert_same(effective(real, now, TTL), self.ref.view(model))

    @invariant()
    def messages_match_the_model(self) -> None:
        if self.model is None:
            return
        with self.repository.unit_of_work() as uow:
            for thread_id, model in self.ref.threads.items():
                real = [(m.id, m.direction.value, m.body, m.availability.value)
                        for m in uow.messages(thread_id)]  # fmt: skip
                expected = [(m.id, m.direction, m.body, "Alive" if m.alive else "Deleted")
                            for m in model.messages]  # fmt: skip
                assert real == expected

    @invariant()
    def one_open_thread_per_pair(self) -> None:
        if self.model is None:
            return
        now = self.clock.now()
        pairs: dict[tuple[str, str], str] = {}
        for thread in self.stored().values():
            view = effective(thread, now, TTL)
            if view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE:
                pair = (view.owner_party.phone_number, view.guest_party.phone_number)
                assert pair not in pairs, f"two open threads for {pair}"
                pairs[pair] = view.id

    @invariant()
    def assignee_only_on_open_threads_and_always_a_handler(self) -> None:
        if self.model is None:
            return
        now = self.clock.now()
        for thread in self.stored().values():
            view = effective(thread, now, TTL)
            if view.assignee is None:
                continue
            assert view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE
            resource = self.directory.resource(view.owner.extension_id)
            assert resource is not None and resource.is_handler(view.assignee.extension_id)

    @invariant()
    def resolved_is_final(self) -> None:
        if self.model is None:
            return
        now = self.clock.now()
        for thread in self.stored().values():
            view = effective(thread, now, TTL)
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
