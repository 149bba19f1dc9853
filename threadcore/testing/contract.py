"""The repository contract suite: what every :class:`~threadcore.ports.Repository` must do.

Subclass :class:`RepositoryContract` in a test module and implement ``make_repository``; pytest
collects the ``test_*`` methods (the base class's name does not start with ``Test``, so it is
not collected itself)::

    class TestMyRepository(RepositoryContract):
        def make_repository(self) -> Repository:
            return MyRepository(...)

Needs pytest (the ``test`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ConcurrencyConflict, ThreadcoreError
from threadcore.domain.events import MessageAdded, ThreadOpened
from threadcore.domain.model import (
    Availability,
    Direction,
    Handler,
    Message,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
)
from threadcore.ports import Repository, ThreadQuery

__all__ = ["RepositoryContract"]

T0 = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
TTL = timedelta(hours=72)
Q1, Q2 = "6249888001", "6249888002"
RESOURCES = {
    Q1: Resource(Q1, name="Billing", phone_numbers=["+12092480001"], handlers=["101", "102"]),
    Q2: Resource(Q2, name="Support", phone_numbers=["+12092480002"], handlers=[Handler("103")]),
}
HOSTILE = [
    "' OR '1'='1",
    '"; DROP TABLE threads; --',
    "x" * 10_000,
    "\u202e\U0001f4a9\u00e9",
    "%",
    "_",
    "\\",
    "a\x00b",
]


def _thread(
    tid: str, guest: str, at: datetime, owner: str = Q1, body: str = "Hi"
) -> tuple[Thread, Message]:
    resource = RESOURCES[owner]
    thread, _ = tx.open_thread(tid, resource, resource.phone_numbers[0], guest, None, None, at)
    message = Message(f"{tid}-m1", tid, Direction.INBOUND, body, guest,
                      resource.phone_numbers[0], None, at, at)  # fmt: skip
    thread, _ = tx.add_message(thread, message)
    return thread, message


def _query(**overrides: object) -> ThreadQuery:
    base: dict[str, object] = {
        "owner_extension_ids": frozenset({Q1, Q2}),
        "due_cutoff": T0 - TTL,
    }
    base.update(overrides)
    return ThreadQuery(**base)  # type: ignore[arg-type]


class RepositoryContract:
    """The shared behaviour of every repository adapter (pytest, reusable by subclassing)."""

    def make_repository(self) -> Repository:
        """A new, empty repository of the adapter under test."""
        raise NotImplementedError

    @pytest.fixture
    def repo(self) -> Iterator[Repository]:
        repository = self.make_repository()
        yield repository
        close = getattr(repository, "close", None)
        if callable(close):
            close()

    def store(self, repo: Repository, *items: tuple[Thread, Message]) -> None:
        for thread, message in items:
            with repo.unit_of_work() as uow:
                uow.save_thread(thread, 0)
                uow.add_message(message)
                uow.append_events(
                    [
                        ThreadOpened(thread.id, thread.creation_time, thread.owner.extension_id,
                                     thread.owner_party.phone_number,
                                     thread.guest_party.phone_number, None, None),
                        MessageAdded(thread.id, message.created_at, message.id,
                                     message.direction, None),
                    ]
                )  # fmt: skip

    # --- threads and messages -------------------------------------------------------------------
    def test_a_new_thread_and_its_message_round_trip(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") == thread
            assert uow.thread("missing") is None
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") == thread
            assert uow.open_thread_for_pair("+12092480001", "+16502240009") is None
            assert uow.messages("t1") == [message]
            assert uow.messages("missing") == []

    def test_messages_keep_their_order_and_provider_ids(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        later = []
        for i in range(2, 6):
            at = T0 + timedelta(seconds=i)
            m = Message(f"m{i}", "t1", Direction.OUTBOUND, f"body {i}", "+12092480001",
                        "+16502240001", None, at, at, Availability.ALIVE, f"p{i}")  # fmt: skip
            later.append(m)
            with repo.unit_of_work() as uow:
                current = uow.thread("t1")
                assert current is not None
                new, _ = tx.add_message(current, m)
                uow.save_thread(new, current.version)
                uow.add_message(m)
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [first, *later]
            assert uow.message_by_provider_id("p3") == later[1]
            assert uow.message_by_provider_id("nope") is None
            stored = uow.thread("t1")
            assert stored is not None
            assert stored.label == "body 5"
            assert stored.version == thread.version + 4

    def test_a_stale_version_conflicts_and_changes_nothing(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        resolved, _ = tx.resolve(thread, StatusReason.MANUAL, "101", T0)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_thread(resolved, thread.version - 1)
            uow.add_message(Message("m2", "t1", Direction.INBOUND, "x", "+16502240001",
                                    "+12092480001", None, T0, T0))  # fmt: skip
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") == thread
            assert [m.id for m in uow.messages("t1")] == [message.id]

    def test_the_storage_keeps_one_open_thread_per_pair(self, repo: Repository) -> None:
        self.store(repo, _thread("t1", "+16502240001", T0))
        second, message = _thread("t2", "+16502240001", T0 + timedelta(seconds=1))
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_thread(second, 0)
            uow.add_message(message)
        with repo.unit_of_work() as uow:
            assert uow.thread("t2") is None
        # once the first is resolved, the pair may open again
        with repo.unit_of_work() as uow:
            first = uow.thread("t1")
            assert first is not None
            uow.save_thread(tx.resolve(first, StatusReason.MANUAL, None, T0)[0], first.version)
        self.store(repo, (second, message))
        with repo.unit_of_work() as uow:
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") == second

    def test_an_exception_discards_every_buffered_write(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            uow.save_thread(thread, 0)
            uow.add_message(message)
            uow.append_events([ThreadOpened("t1", T0, Q1, "+12092480001", "+16502240001",
                                            None, None)])  # fmt: skip
            raise RuntimeError("the command failed halfway")
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") is None
            assert uow.messages("t1") == []
            assert uow.message_by_provider_id("p1") is None
        assert repo.events() == []

    def test_tombstones_keep_messages_without_bodies(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        later = T0 + timedelta(minutes=1)
        with repo.unit_of_work() as uow:
            deleted, _ = tx.delete(thread, "101", later)
            uow.save_thread(deleted, thread.version)
            uow.tombstone_messages("t1", later)
        with repo.unit_of_work() as uow:
            (gone,) = uow.messages("t1")
            assert (gone.id, gone.body, gone.availability) == (message.id, "", Availability.DELETED)
            assert gone.last_modified_at == later
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") is None

    # --- queries --------------------------------------------------------------------------------
    def test_open_threads_filter_by_owner_number_and_assignee(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)
        b, mb = _thread("b", "+16502240002", T0, owner=Q2)
        self.store(repo, (a, ma), (b, mb))
        with repo.unit_of_work() as uow:
            assigned, _ = tx.assign(a, RESOURCES[Q1], None, "101", T0)
            uow.save_thread(assigned, a.version)
        with repo.unit_of_work() as uow:
            assert {t.id for t in uow.open_threads()} == {"a", "b"}
            assert [t.id for t in uow.open_threads(owner_extension_id=Q2)] == ["b"]
            assert [t.id for t in uow.open_threads(owner_number="+12092480001")] == ["a"]
            assert [t.id for t in uow.open_threads(assignee_id="101")] == ["a"]
            assert uow.open_threads(assignee_id="102") == []

    def test_due_threads_and_due_windows(self, repo: Repository) -> None:
        items = [_thread(f"t{i}", f"+1650224000{i}", T0 + timedelta(hours=i)) for i in range(5)]
        self.store(repo, *items)
        with repo.unit_of_work() as uow:
            due = uow.due_threads(T0 + timedelta(hours=2), 10)
            assert [t.id for t in due] == ["t0", "t1", "t2"]
            assert [t.id for t in uow.due_threads(T0 + timedelta(hours=2), 2)] == ["t0", "t1"]
            window = uow.due_between(T0 + timedelta(hours=1), T0 + timedelta(hours=3),
                                     frozenset({Q1}))  # fmt: skip
            assert sorted(t.id for t in window) == ["t2", "t3"]
            assert uow.due_between(T0, T0 + timedelta(hours=9), frozenset({Q2})) == []

    def test_find_threads_orders_filters_and_pages(self, repo: Repository) -> None:
        items = [
            _thread("t3", "+16502240001", T0),
            _thread("t1", "+16502240002", T0),  # same instant: id breaks the tie
            _thread("t2", "+16502240003", T0 + timedelta(hours=1), owner=Q2),
            _thread("t0", "+16502240004", T0 + timedelta(hours=80)),
        ]
        self.store(repo, *items)
        now_cutoff = T0 + timedelta(hours=100) - TTL  # t1, t3 and t2 are due
        with repo.unit_of_work() as uow:
            every = uow.find_threads(_query(due_cutoff=now_cutoff), 10)
            assert [t.id for t in every] == ["t1", "t3", "t2", "t0"]
            first = uow.find_threads(_query(due_cutoff=now_cutoff), 2)
            assert [t.id for t in first] == ["t1", "t3"]
            after = (first[-1].creation_time, first[-1].id)
            rest = uow.find_threads(_query(due_cutoff=now_cutoff, after=after), 10)
            assert [t.id for t in rest] == ["t2", "t0"]
            assert [t.id for t in uow.find_threads(_query(due_cutoff=now_cutoff), 2, 2)] == [
                "t2",
                "t0",
            ]
            assert uow.count_threads(_query(due_cutoff=now_cutoff, after=after)) == 4
            opened = uow.find_threads(_query(due_cutoff=now_cutoff, status=ThreadStatus.OPEN), 9)
            assert [t.id for t in opened] == ["t0"]
            closed = _query(due_cutoff=now_cutoff, status=ThreadStatus.RESOLVED)
            assert [t.id for t in uow.find_threads(closed, 9)] == ["t1", "t3", "t2"]
            assert [t.id for t in uow.find_threads(_query(owner_extension_ids=frozenset({Q2})),
                                                   9)] == ["t2"]  # fmt: skip
            assert [t.id for t in uow.find_threads(_query(guest_number="+16502240003"), 9)] == [
                "t2"
            ]
            assert [t.id for t in uow.find_threads(_query(owner_number="+12092480002"), 9)] == [
                "t2"
            ]
            ranged = _query(creation_time_from=T0, creation_time_to=T0 + timedelta(hours=1))
            assert [t.id for t in uow.find_threads(ranged, 9)] == ["t1", "t3"]
            deleted = _query(availability=frozenset({Availability.DELETED}))
            assert uow.find_threads(deleted, 9) == []
            assert uow.find_threads(_query(owner_extension_ids=frozenset()), 9) == []

    def test_changed_since_reports_every_later_change(self, repo: Repository) -> None:
        self.store(repo, _thread("a", "+16502240001", T0), _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            mark = uow.change_position()
        with repo.unit_of_work() as uow:
            b = uow.thread("b")
            assert b is not None
            uow.save_thread(tx.resolve(b, StatusReason.MANUAL, None, T0)[0], b.version)
        self.store(repo, _thread("c", "+16502240003", T0, owner=Q2))
        with repo.unit_of_work() as uow:
            changed = uow.changed_since(mark, frozenset({Q1, Q2}), 10)
            assert sorted(t.id for t in changed) == ["b", "c"]
            assert [t.id for t in uow.changed_since(mark, frozenset({Q1}), 10)] == ["b"]
            assert len(uow.changed_since(mark, frozenset({Q1, Q2}), 1)) == 2  # limit + 1
            assert uow.changed_since(uow.change_position(), frozenset({Q1, Q2}), 10) == []

    def test_the_event_feed_hands_out_each_event_once_in_order(self, repo: Repository) -> None:
        self.store(repo, _thread("a", "+16502240001", T0), _thread("b", "+16502240002", T0))
        events = repo.events()
        assert [(type(e).__name__, e.thread_id) for _, e in events] == [
            ("ThreadOpened", "a"),
            ("MessageAdded", "a"),
            ("ThreadOpened", "b"),
            ("MessageAdded", "b"),
        ]
        positions = [p for p, _ in events]
        assert positions == sorted(set(positions))
        assert repo.events(after=positions[1]) == events[2:]
        assert repo.events(after=positions[0], limit=2) == events[1:3]
        assert repo.events(after=positions[-1]) == []
        assert events[0][1] == ThreadOpened("a", T0, Q1, "+12092480001", "+16502240001", None,
                                            None)  # fmt: skip

    def test_a_batch_undoes_only_the_refused_unit(self, repo: Repository) -> None:
        with repo.batch():
            self.store(repo, _thread("a", "+16502240001", T0))
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_thread(_thread("a2", "+16502240001", T0)[0], 0)  # same pair: refused
            self.store(repo, _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            assert uow.thread("a") is not None
            assert uow.thread("a2") is None
            assert uow.thread("b") is not None

    def test_hostile_strings_in_filters_change_nothing(self, repo: Repository) -> None:
        self.store(repo, _thread("a", "+16502240001", T0))
        with repo.unit_of_work() as uow:
            before = (uow.thread("a"), uow.messages("a"))
        for text in HOSTILE:
            for query in (
                _query(owner_extension_ids=frozenset({text})),
                _query(guest_number=text),
                _query(owner_number=text),
                _query(after=(T0 + timedelta(days=1), text)),
            ):
                try:
                    with repo.unit_of_work() as uow:
                        assert uow.find_threads(query, 10) == []
                        assert query.after is not None or uow.count_threads(query) == 0
                except ThreadcoreError:
                    pass  # refusing is fine; leaking or changing is not
            try:
                with repo.unit_of_work() as uow:
                    assert uow.thread(text) is None
                    assert uow.messages(text) == []
                    assert uow.message_by_provider_id(text) is None
                    assert uow.open_thread_for_pair(text, text) is None
                    assert uow.changed_since(0, frozenset({text}), 10) == []
            except ThreadcoreError:
                pass
        with repo.unit_of_work() as uow:
            assert (uow.thread("a"), uow.messages("a")) == before
            assert [t.id for t in uow.find_threads(_query(), 10)] == ["a"]
