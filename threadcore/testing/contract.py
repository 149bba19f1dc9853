"""The repository contract suite: what every :class:`~threadcore.ports.Repository` must do.

Subclass :class:`RepositoryContract` in a test module and implement ``make_repository``; pytest
collects the ``test_*`` methods (the base class's name does not start with ``Test``, so it is
not collected itself)::

    class TestMyRepository(RepositoryContract):
        def make_repository(self) -> Repository:
            return MyRepository(...)

Needs pytest and hypothesis (the ``test`` extra).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ConcurrencyConflict, NestedUnitOfWork, ThreadcoreError
from threadcore.domain.events import (
    DeliveryStatusChanged,
    GuestOptedOut,
    MessageAdded,
    NoteAdded,
    ThreadOpened,
)
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Handler,
    Keyword,
    Message,
    MessageSource,
    Note,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.ports import MessageQuery, NoteQuery, Repository, ThreadQuery

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


def _message(mid: str, thread: Thread, at: datetime, body: str = "Hello", **fields: Any) -> Message:
    """An outbound message (or, with ``status=DeliveryStatus.DRAFT``, a draft) on ``thread``."""
    return Message(mid, thread.id, Direction.OUTBOUND, body, thread.owner_party.phone_number,
                   thread.guest_party.phone_number, AUTHOR, at, at, **fields)  # fmt: skip


def _note(nid: str, thread: Thread, at: datetime, text: str = "a note") -> Note:
    return Note(nid, thread.id, AUTHOR, text, at, at)


AUTHOR = ThreadUser("101", "Ann", "User")
CLASSIFIED = Classification(
    "c1",
    "payment_inquiry",
    T0,
    confidence=0.875,
    reason="mentions an invoice",
    is_action_required=True,
    is_reply_required=False,
    language="en",
    action_recommendation="send the invoice",
    details={"invoice": "INV-7", "amounts": [1, 2.5, None], "nested": {"ok": True}},
)
#: A message with every field set to something other than its default.
FULL = attrs.evolve(
    _message("full", _thread("t1", "+16502240001", T0)[0], T0 + timedelta(seconds=1),
             "Your invoice \u00e9\U0001f4a9"),
    provider_message_id="prov-full",
    status=DeliveryStatus.DELIVERY_FAILED,
    sent_at=T0 + timedelta(seconds=2),
    delivered_at=T0 + timedelta(seconds=3),
    read_at=T0 + timedelta(seconds=4),
    error_code="SMS-CAR-413",
    is_automated=True,
    source=MessageSource.API,
    content_type="text/x-custom",
    attachments=("https://files.example/a.png", "https://files.example/b.pdf"),
    classifications=(CLASSIFIED, attrs.evolve(CLASSIFIED, id="c2", details={})),
    last_modified_at=T0 + timedelta(seconds=5),
    version=7,
)  # fmt: skip

_IDS = itertools.count()
# The property tests share one repository per test (each example writes under fresh ids), and
# every adapter's subclass runs the same test function: examples found failing on one adapter
# are replayed on the others, which is what a contract wants.
_SHARED_EXAMPLES = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.differing_executors,
]
_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                max_size=20)  # fmt: skip
_TIMES = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_CLASSIFICATIONS = st.builds(
    Classification,
    id=_TEXT,
    classification=_TEXT,
    created_at=_TIMES,
    confidence=st.none() | st.floats(0, 1),
    reason=st.none() | _TEXT,
    is_action_required=st.none() | st.booleans(),
    is_reply_required=st.none() | st.booleans(),
    language=st.none() | _TEXT,
    action_recommendation=st.none() | _TEXT,
    details=st.dictionaries(_TEXT, _JSON, max_size=3),
)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_MESSAGE_FIELDS = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(Direction),
        "body": _TEXT,
        "author": _optional(st.builds(ThreadUser, _TEXT, _optional(_TEXT), _TEXT)),
        "created_at": _TIMES,
        "last_modified_at": _TIMES,
        "availability": st.sampled_from(Availability),
        "status": st.sampled_from(DeliveryStatus),
        "sent_at": _optional(_TIMES),
        "delivered_at": _optional(_TIMES),
        "read_at": _optional(_TIMES),
        "error_code": _optional(_TEXT),
        "is_automated": st.booleans(),
        "source": _optional(st.sampled_from(MessageSource)),
        "content_type": _TEXT,
        "attachments": st.lists(_TEXT, max_size=3).map(tuple),
        "classifications": st.lists(_CLASSIFICATIONS, max_size=2).map(tuple),
        "keyword": _optional(st.sampled_from(Keyword)),
        "version": st.integers(1, 2**31 - 1),
        "with_provider_id": st.booleans(),
    }
)


def _messages_query(**overrides: object) -> MessageQuery:
    base: dict[str, object] = {
        "owner_extension_ids": frozenset({Q1, Q2}),
        "due_cutoff": T0 - TTL,
    }
    base.update(overrides)
    return MessageQuery(**base)  # type: ignore[arg-type]


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

    def test_a_unit_of_work_inside_another_is_refused_alike(self, repo: Repository) -> None:
        """Nesting is pinned: every adapter refuses a unit of work begun while another is open
        in the same thread (NestedUnitOfWork), stores nothing of either, and works on after."""
        thread, _ = _thread("t-nested", "+16502240098", T0)
        with pytest.raises(NestedUnitOfWork), repo.unit_of_work() as outer:
            outer.save_thread(thread, 0)
            with repo.unit_of_work() as inner:
                inner.set_opted_out(thread.owner_party.phone_number, "+16502240099", True)
        with repo.unit_of_work() as uow:
            assert uow.thread("t-nested") is None
            assert not uow.opted_out(thread.owner_party.phone_number, "+16502240099")
            uow.save_thread(thread, 0)
        with repo.unit_of_work() as uow:
            assert uow.thread("t-nested") == thread

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
            # the same instants written in another zone select the same threads
            east = timezone(timedelta(hours=5, minutes=30))
            cutoff = (T0 + timedelta(hours=2)).astimezone(east)
            assert [t.id for t in uow.due_threads(cutoff, 10)] == ["t0", "t1", "t2"]
            window = uow.due_between((T0 + timedelta(hours=1)).astimezone(east),
                                     (T0 + timedelta(hours=3)).astimezone(east),
                                     frozenset({Q1}))  # fmt: skip
            assert sorted(t.id for t in window) == ["t2", "t3"]

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

    def test_a_batch_undoes_the_earlier_writes_of_a_refused_unit(self, repo: Repository) -> None:
        # The refusal comes from the unit's second write, after a first one the storage took:
        # the first must go too, while the batch's other units stay.
        a, _ = _thread("a", "+16502240001", T0)
        self.store(repo, (a, _thread("a", "+16502240001", T0)[1]))
        with repo.batch():
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_thread(_thread("t2", "+16502240002", T0)[0], 0)  # a new pair: fine
                uow.save_thread(attrs.evolve(a, version=a.version + 5), a.version + 4)  # stale
            self.store(repo, _thread("b", "+16502240003", T0))
        with repo.unit_of_work() as uow:
            assert uow.thread("t2") is None
            assert uow.thread("a") == a
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

    # --- messages: every field, drafts, versioned updates --------------------------------------
    def add(self, repo: Repository, *records: Message | Note) -> None:
        """Store new messages, drafts and notes, one unit of work."""
        with repo.unit_of_work() as uow:
            for record in records:
                if isinstance(record, Note):
                    uow.save_note(record, 0)
                else:
                    uow.add_message(record)

    def test_every_message_field_round_trips(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        draft = _message("d1", thread, T0 + timedelta(seconds=2), "draft", attachments=("a",),
                         status=DeliveryStatus.DRAFT, source=MessageSource.APP)  # fmt: skip
        stop = Message("stop", "t1", Direction.INBOUND, "STOP", "+16502240001", "+12092480001",
                       None, T0, T0, keyword=Keyword.OPT_OUT)  # fmt: skip
        self.add(repo, FULL, draft)
        self.add(repo, stop)
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [first, FULL, draft, stop]  # insertion order
            for message in (first, FULL, draft, stop):
                assert uow.message(message.id) == message
            assert uow.message("missing") is None
            assert uow.message_by_provider_id("prov-full") == FULL
        assert (first.status, stop.status) == (DeliveryStatus.RECEIVED, DeliveryStatus.RECEIVED)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=_SHARED_EXAMPLES,
    )
    @given(fields=_MESSAGE_FIELDS)
    def test_any_message_round_trips(self, repo: Repository, fields: dict[str, Any]) -> None:
        n = next(_IDS)
        thread, first = _thread(f"any-{n}", f"+1650{n:07d}", T0)
        self.store(repo, (thread, first))
        mid = f"any-{n}-m2"
        with_provider_id = fields.pop("with_provider_id")
        message = Message(id=mid, thread_id=thread.id, from_number="+16502240001",
                          to_number="+12092480001",
                          provider_message_id=f"p-{mid}" if with_provider_id else None,
                          **fields)  # fmt: skip
        self.add(repo, message)
        with repo.unit_of_work() as uow:
            assert uow.message(mid) == message
            assert uow.messages(thread.id) == [first, message]
            if with_provider_id:
                assert uow.message_by_provider_id(f"p-{mid}") == message
        # and as an update of a stored message, every field again
        changed = attrs.evolve(first, **{k: v for k, v in fields.items() if k != "version"},
                               version=first.version + 1)  # fmt: skip
        with repo.unit_of_work() as uow:
            uow.save_message(changed, first.version)
        with repo.unit_of_work() as uow:
            assert uow.message(first.id) == changed

    def test_a_message_update_is_versioned(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        sent = _message("m2", thread, T0, provider_message_id="p2")
        self.add(repo, sent)
        later = T0 + timedelta(minutes=1)
        delivered = attrs.evolve(sent, status=DeliveryStatus.DELIVERED, sent_at=later,
                                 delivered_at=later, last_modified_at=later,
                                 classifications=(CLASSIFIED,), version=2)  # fmt: skip
        with repo.unit_of_work() as uow:
            uow.save_message(delivered, 1)
            uow.append_events([DeliveryStatusChanged("t1", later, "m2", DeliveryStatus.DELIVERED,
                                                     DeliveryStatus.QUEUED)])  # fmt: skip
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == delivered
            assert uow.message_by_provider_id("p2") == delivered
            assert uow.messages("t1") == [first, delivered]
        # saved twice in one unit of work: the last state, checked against the first version
        read = attrs.evolve(delivered, status=DeliveryStatus.READ, read_at=later, version=3)
        with repo.unit_of_work() as uow:
            uow.save_message(attrs.evolve(read, version=99), 2)
            uow.save_message(read, 99)
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == read
        stale = attrs.evolve(read, error_code="late", version=4)
        for expected in (2, 4, 0):
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_message(stale, expected)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_message(_message("never-stored", thread, T0), 1)
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == read
            assert uow.message("never-stored") is None

    def test_a_message_added_and_saved_in_one_unit_is_stored_as_saved(
        self, repo: Repository
    ) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        draft = _message("d1", thread, T0, "v1", status=DeliveryStatus.DRAFT)
        edited = attrs.evolve(draft, body="v2", version=2)
        with repo.unit_of_work() as uow:
            uow.add_message(draft)
            uow.save_message(edited, 1)
        with repo.unit_of_work() as uow:
            assert uow.message("d1") == edited
            assert uow.messages("t1") == [first, edited]

    # --- notes ----------------------------------------------------------------------------------
    def test_notes_round_trip_and_updates_are_versioned(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        note = _note("n1", thread, T0, "call back \u00e9\U0001f4a9")
        with repo.unit_of_work() as uow:
            uow.save_note(note, 0)
            uow.append_events([NoteAdded("t1", T0, "n1", "101")])
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == note
            assert uow.note("missing") is None
            assert uow.messages("t1") == [first]  # notes are not messages
        later = T0 + timedelta(minutes=1)
        edited = attrs.evolve(note, text="called", last_modified_time=later, version=2)
        with repo.unit_of_work() as uow:
            uow.save_note(edited, 1)
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == edited
        for expected in (1, 3):
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_note(attrs.evolve(edited, text="stale", version=expected + 1), expected)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_note(_note("n1", thread, T0, "a second n1"), 0)  # the id is taken
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_note(_note("n9", thread, T0), 1)  # never stored
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == edited
            assert uow.note("n9") is None

    # --- finding messages and notes -------------------------------------------------------------
    def test_find_messages_filters_orders_and_pages(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)  # Q1, open and due at T0 + 100h
        b, mb = _thread("b", "+16502240002", T0 + timedelta(hours=90))  # Q1, open, not due
        c, mc = _thread("c", "+16502240003", T0, owner=Q2)  # Q2, resolved below
        self.store(repo, (a, ma), (b, mb), (c, mc))
        with repo.unit_of_work() as uow:
            uow.save_thread(tx.resolve(c, StatusReason.MANUAL, None, T0)[0], c.version)
        at = T0 + timedelta(minutes=5)
        a2 = _message("a2", a, at)
        a3 = _message("a1-tie", a, at)  # same instant as a2: the id breaks the tie
        gone = _message("a4", a, at + timedelta(minutes=1), availability=Availability.DELETED)
        draft = _message("a0-draft", a, at, status=DeliveryStatus.DRAFT)
        self.add(repo, a2, a3, gone, draft)
        now_cutoff = T0 + timedelta(hours=100) - TTL

        def ids(limit: int = 50, **overrides: object) -> list[str]:
            query = _messages_query(due_cutoff=now_cutoff, **overrides)
            with repo.unit_of_work() as uow:
                return [m.id for m in uow.find_messages(query, limit)]

        every = ["a-m1", "c-m1", "a1-tie", "a2", "b-m1"]
        assert ids() == every
        assert ids(availability=frozenset({Availability.DELETED})) == ["a4"]
        assert ids(availability=frozenset(Availability)) == [*every[:4], "a4", "b-m1"]
        assert ids(owner_extension_ids=frozenset({Q2})) == ["c-m1"]
        assert ids(owner_extension_ids=frozenset({"someone else"})) == []
        assert ids(owner_extension_ids=frozenset()) == []
        assert ids(thread_ids=frozenset({"a", "c"})) == ["a-m1", "c-m1", "a1-tie", "a2"]
        assert ids(thread_ids=frozenset()) == []
        assert ids(message_ids=frozenset({"a2", "b-m1", "a0-draft", "nope"})) == ["a2", "b-m1"]
        assert ids(message_ids=frozenset()) == []
        assert ids(creation_time_from=at) == ["a1-tie", "a2", "b-m1"]
        assert ids(creation_time_to=at) == ["a-m1", "c-m1"]
        assert ids(creation_time_from=T0, creation_time_to=at + timedelta(seconds=1)) == every[:4]
        # the thread's status now: a is due (Resolved), c was resolved, b is open
        assert ids(thread_status=ThreadStatus.OPEN) == ["b-m1"]
        assert ids(thread_status=ThreadStatus.RESOLVED) == every[:4]
        with repo.unit_of_work() as uow:
            early = _messages_query(thread_status=ThreadStatus.OPEN)  # cutoff before everything
            assert [m.id for m in uow.find_messages(early, 50)] == ["a-m1", "a1-tie", "a2", "b-m1"]
        # keyset paging
        assert ids(limit=2) == every[:2]
        assert ids(limit=0) == []
        assert ids(after=(T0, "c-m1")) == every[2:]
        assert ids(after=(at, "a1-tie"), limit=1) == ["a2"]
        assert ids(after=(at, "a2")) == ["b-m1"]
        with repo.unit_of_work() as uow:  # drafts are listed with their thread, never found
            assert "a0-draft" in [m.id for m in uow.messages("a")]

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=_SHARED_EXAMPLES,
    )
    @given(
        layout=st.lists(
            st.tuples(
                st.integers(0, 2),  # thread
                st.integers(0, 3),  # minute
                st.sampled_from(["x", "y", "z", "xx"]),  # id (made unique below)
                st.sampled_from(Availability),
                st.sampled_from(
                    [DeliveryStatus.RECEIVED, DeliveryStatus.SENT, DeliveryStatus.DRAFT]
                ),
            ),
            max_size=12,
        ),
        page=st.integers(1, 4),
        owners=st.sets(st.integers(0, 1), min_size=1),
        status=st.sampled_from([None, ThreadStatus.OPEN, ThreadStatus.RESOLVED]),
        availability=st.sets(st.sampled_from(Availability), min_size=1),
        some_threads=st.none() | st.sets(st.integers(0, 2)),
    )
    def test_paging_through_found_messages_yields_each_match_once_in_order(
        self,
        repo: Repository,
        layout: list[tuple[int, int, str, Availability, DeliveryStatus]],
        page: int,
        owners: set[int],
        status: ThreadStatus | None,
        availability: set[Availability],
        some_threads: set[int] | None,
    ) -> None:
        n = next(_IDS)
        resources = [Resource(f"owner-{n}-{k}", phone_numbers=[f"+1209{n * 10 + k:07d}"])
                     for k in range(2)]  # fmt: skip
        threads = []
        for k in range(3):  # thread 0 is due at T0, 1 is resolved, 2 is open (owner 1)
            resource = resources[k // 2]
            opened_at = T0 - 2 * TTL if k == 0 else T0
            thread, _ = tx.open_thread(f"p{n}-t{k}", resource, resource.phone_numbers[0],
                                       f"+1650{n * 10 + k:07d}", None, None, opened_at)  # fmt: skip
            if k == 1:
                thread = tx.resolve(thread, StatusReason.MANUAL, None, T0)[0]
            threads.append(thread)
        with repo.unit_of_work() as uow:
            for thread in threads:
                uow.save_thread(thread, 0)
        stored = [
            _message(f"p{n}-{name}-{i}", threads[k], T0 + timedelta(minutes=minute),
                     availability=alive, status=delivery)
            for i, (k, minute, name, alive, delivery) in enumerate(layout)
        ]  # fmt: skip
        self.add(repo, *stored)
        query = MessageQuery(
            owner_extension_ids=frozenset(resources[o].extension_id for o in owners),
            due_cutoff=T0 - TTL,
            thread_status=status,
            availability=frozenset(availability),
            thread_ids=None if some_threads is None else frozenset(f"p{n}-t{k}"
                                                                   for k in some_threads),
        )  # fmt: skip
        now = {0: ThreadStatus.RESOLVED, 1: ThreadStatus.RESOLVED, 2: ThreadStatus.OPEN}
        expected = sorted(
            (m for m in stored
             if m.status is not DeliveryStatus.DRAFT
             and int(m.thread_id[-1]) // 2 in owners
             and (status is None or now[int(m.thread_id[-1])] is status)
             and m.availability in availability
             and (some_threads is None or int(m.thread_id[-1]) in some_threads)),
            key=lambda m: (m.created_at, m.id),
        )  # fmt: skip
        found: list[Message] = []
        with repo.unit_of_work() as uow:
            while True:
                chunk = uow.find_messages(query, page)
                assert len(chunk) <= page
                found += chunk
                if len(chunk) < page:
                    break
                query = attrs.evolve(query, after=(chunk[-1].created_at, chunk[-1].id))
        assert found == expected

    def test_find_notes_filters_orders_and_pages(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)
        c, mc = _thread("c", "+16502240003", T0, owner=Q2)
        self.store(repo, (a, ma), (c, mc))
        at = T0 + timedelta(minutes=1)
        notes = [
            _note("n2", a, at),
            _note("n1", c, at),  # same instant: the id breaks the tie
            _note("n0", a, at + timedelta(minutes=1)),
            attrs.evolve(_note("n3", a, T0), text="", availability=Availability.DELETED),
        ]
        self.add(repo, *notes)

        def ids(limit: int = 50, **overrides: Any) -> list[str]:
            query = NoteQuery(**{"owner_extension_ids": frozenset({Q1, Q2}), **overrides})
            with repo.unit_of_work() as uow:
                return [n.id for n in uow.find_notes(query, limit)]

        assert ids() == ["n1", "n2", "n0"]
        assert ids(availability=frozenset({Availability.DELETED})) == ["n3"]
        assert ids(availability=frozenset(Availability)) == ["n3", "n1", "n2", "n0"]
        assert ids(owner_extension_ids=frozenset({Q1})) == ["n2", "n0"]
        assert ids(owner_extension_ids=frozenset({Q2})) == ["n1"]
        assert ids(owner_extension_ids=frozenset()) == []
        assert ids(thread_ids=frozenset({"c", "nope"})) == ["n1"]
        assert ids(thread_ids=frozenset()) == []
        assert ids(note_ids=frozenset({"n0", "n1"})) == ["n1", "n0"]
        assert ids(note_ids=frozenset()) == []
        assert ids(limit=2) == ["n1", "n2"]
        assert ids(limit=0) == []
        assert ids(after=(at, "n1")) == ["n2", "n0"]
        assert ids(after=(at, "n2"), limit=1) == ["n0"]
        with repo.unit_of_work() as uow:
            assert uow.note("n3") == notes[3]
            assert uow.find_messages(_messages_query(message_ids=frozenset({"n1"})), 9) == []

    def test_filters_may_name_thousands_of_ids(self, repo: Repository) -> None:
        """An id filter longer than any SQL parameter limit (SQLite's: 999 on old builds, 32,766
        on newer ones) is answered, the same on every adapter (issue 12, item 17)."""
        self.store(repo, *(_thread(f"big-{n}", f"+1650224{n:04d}", T0) for n in range(3)))
        many = frozenset({f"x-{n}" for n in range(40_000)} | {"big-1"})
        with repo.unit_of_work() as uow:
            found = uow.find_messages(_messages_query(thread_ids=many), 10)
            assert [m.thread_id for m in found] == ["big-1"]
            assert uow.find_messages(_messages_query(message_ids=many), 10) == []
            notes = NoteQuery(owner_extension_ids=frozenset({Q1, Q2}), note_ids=many)
            assert uow.find_notes(notes, 10) == []
            owners = frozenset({f"q-{n}" for n in range(40_000)} | {Q1})
            changed = {t.id for t in uow.changed_since(0, owners, 10)}
            assert changed == {"big-0", "big-1", "big-2"}

    # --- opt-outs -------------------------------------------------------------------------------
    def test_opt_outs_are_upserted_per_pair(self, repo: Repository) -> None:
        owner, guest, other = "+12092480001", "+16502240001", "+16502240002"
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False
            uow.set_opted_out(owner, guest, True)
            uow.append_events([GuestOptedOut("t1", T0, owner, guest, "m1")])
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is True
            assert uow.opted_out(owner, other) is False
            assert uow.opted_out(guest, owner) is False  # the pair is ordered
            uow.set_opted_out(owner, guest, True)  # again: still one record
            uow.set_opted_out(owner, other, True)
        with repo.unit_of_work() as uow:
            uow.set_opted_out(owner, guest, False)
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False
            assert uow.opted_out(owner, other) is True
            uow.set_opted_out(owner, guest, True)  # the last word in a unit of work wins
            uow.set_opted_out(owner, guest, False)
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False

    # --- tombstones -----------------------------------------------------------------------------
    def test_tombstones_cover_messages_drafts_and_notes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        other, other_first = _thread("t2", "+16502240002", T0)
        self.store(repo, (thread, first), (other, other_first))
        at = T0 + timedelta(seconds=1)
        full = attrs.evolve(FULL, availability=Availability.ALIVE)
        draft = _message("d1", thread, at, "draft", attachments=("a",),
                         status=DeliveryStatus.DRAFT)  # fmt: skip
        deleted = _message("m-gone", thread, at, "", availability=Availability.DELETED,
                           version=4)  # fmt: skip
        note, old_note = _note("n1", thread, at), _note("n0", thread, at)
        gone_note = attrs.evolve(old_note, text="", availability=Availability.DELETED, version=2)
        other_note = _note("n2", other, at)
        self.add(repo, full, draft, deleted, note, gone_note, other_note)
        later = T0 + timedelta(hours=1)
        with repo.unit_of_work() as uow:
            uow.save_thread(tx.delete(thread, "101", later)[0], thread.version)
            uow.tombstone_messages("t1", later)

        def buried(message: Message) -> Message:
            return attrs.evolve(message, body="", attachments=(), classifications=(),
                                availability=Availability.DELETED, last_modified_at=later,
                                version=message.version + 1)  # fmt: skip

        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [buried(first), buried(full), buried(draft), deleted]
            assert uow.message(full.id) == buried(full)
            assert uow.message_by_provider_id("prov-full") == buried(full)
            assert uow.note("n1") == attrs.evolve(note, text="", availability=Availability.DELETED,
                                                  last_modified_time=later, version=2)  # fmt: skip
            assert uow.note("n0") == gone_note  # a tombstone already: untouched
            assert uow.messages("t2") == [other_first]
            assert uow.note("n2") == other_note

    def test_tombstones_cover_what_the_same_unit_writes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        at = T0 + timedelta(seconds=1)
        kept, old_note = _message("m2", thread, at), _note("n0", thread, at)
        self.add(repo, kept, old_note)
        later = T0 + timedelta(hours=1)
        updated = attrs.evolve(kept, status=DeliveryStatus.SENT, sent_at=later, version=2)
        new = _message("m3", thread, later, attachments=("x",))
        edited = attrs.evolve(old_note, text="edited", version=2)
        new_note = _note("n1", thread, later)
        with repo.unit_of_work() as uow:
            uow.save_message(updated, 1)
            uow.add_message(new)
            uow.save_note(edited, 1)
            uow.save_note(new_note, 0)
            uow.save_thread(tx.delete(thread, "101", later)[0], thread.version)
            uow.tombstone_messages("t1", later)
            uow.tombstone_messages("t1", later + timedelta(seconds=1))  # finds nothing alive
        gone = Availability.DELETED
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [
                attrs.evolve(m, body="", attachments=(), availability=gone,
                             last_modified_at=later, version=m.version + 1)
                for m in (first, updated, new)
            ]  # fmt: skip
            for stored in (edited, new_note):
                assert uow.note(stored.id) == attrs.evolve(
                    stored, text="", availability=gone, last_modified_time=later,
                    version=stored.version + 1,
                )  # fmt: skip

    # --- the event feed by owner ----------------------------------------------------------------
    def test_events_since_selects_by_owner_and_bounds(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            empty = uow.event_position()
            assert uow.events_since(empty, empty, frozenset({Q1, Q2}), 10) == []
        self.store(repo, _thread("a", "+16502240001", T0), _thread("c", "+16502240003", T0, Q2))
        with repo.unit_of_work() as uow:
            mark = uow.event_position()
        self.store(repo, _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            end = uow.event_position()
        every = repo.events()
        positions = [p for p, _ in every]
        assert empty < positions[0] and positions[3] <= mark < positions[4] and positions[-1] <= end
        assert [e.thread_id for _, e in every] == ["a", "a", "c", "c", "b", "b"]
        q1 = [item for item in every if item[1].thread_id in ("a", "b")]
        with repo.unit_of_work() as uow:
            assert uow.events_since(empty, end, frozenset({Q1}), 10) == q1
            assert uow.events_since(empty, end, frozenset({Q1, Q2}), 10) == every
            assert uow.events_since(empty, end, frozenset({Q2}), 10) == every[2:4]
            assert uow.events_since(empty, end, frozenset({"nobody"}), 10) == []
            assert uow.events_since(empty, end, frozenset(), 10) == []
            assert uow.events_since(empty, mark, frozenset({Q1}), 10) == q1[:2]
            assert uow.events_since(mark, end, frozenset({Q1}), 10) == q1[2:]
            # after is exclusive, until inclusive
            assert uow.events_since(positions[0], positions[4], frozenset({Q1}), 10) == [
                every[1],
                every[4],
            ]
            assert uow.events_since(end, end, frozenset({Q1}), 10) == []
            assert uow.events_since(end, mark, frozenset({Q1}), 10) == []
            # at most limit + 1, so the caller can tell there were more
            assert uow.events_since(empty, end, frozenset({Q1, Q2}), 2) == every[:3]
            assert uow.events_since(empty, end, frozenset({Q1, Q2}), 0) == every[:1]
        assert repo.events(after=mark) == every[4:]
        assert repo.events(after=end) == []

    def test_event_position_covers_every_visible_event_and_only_grows(
        self, repo: Repository
    ) -> None:
        seen = []
        for i in range(3):
            self.store(repo, _thread(f"t{i}", f"+1650224000{i}", T0))
            with repo.unit_of_work() as uow:
                position = uow.event_position()
            stored = repo.events()
            assert stored and stored[-1][0] <= position
            assert repo.events(after=position) == []
            seen.append(position)
        assert seen == sorted(seen) and len(set(seen)) == 3

    # --- atomicity ------------------------------------------------------------------------------
    def test_a_failing_unit_stores_none_of_its_new_writes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        sent, note = _message("m2", thread, T0), _note("n1", thread, T0)
        self.add(repo, sent, note)
        with repo.unit_of_work() as uow:
            before = (uow.thread("t1"), uow.messages("t1"), uow.note("n1"), uow.event_position())
        events = repo.events()
        later = T0 + timedelta(hours=1)

        def writes(uow: Any, thread_version: int) -> None:
            uow.save_message(attrs.evolve(sent, status=DeliveryStatus.SENT, version=2), 1)
            uow.add_message(_message("m3", thread, later))
            uow.add_message(_message("d1", thread, later, status=DeliveryStatus.DRAFT))
            uow.save_note(attrs.evolve(note, text="edited", version=2), 1)
            uow.save_note(_note("n2", thread, later), 0)
            uow.set_opted_out("+12092480001", "+16502240001", True)
            uow.save_thread(tx.delete(thread, "101", later)[0], thread_version)
            uow.tombstone_messages("t1", later)
            uow.append_events([NoteAdded("t1", later, "n2", "101")])

        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            writes(uow, thread.version)
            raise RuntimeError("the command failed halfway")
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            writes(uow, thread.version + 5)  # a stale thread: the commit fails
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            writes(uow, thread.version)
            uow.save_note(_note("n9", thread, later), 1)  # never stored: the commit fails
        with repo.unit_of_work() as uow:
            assert (uow.thread("t1"), uow.messages("t1"), uow.note("n1")) == before[:3]
            assert uow.events_since(before[3], uow.event_position(), frozenset({Q1}), 9) == []
            assert uow.message("m3") is None and uow.message("d1") is None
            assert uow.note("n2") is None
            assert uow.opted_out("+12092480001", "+16502240001") is False
        assert repo.events() == events

    def test_hostile_strings_in_the_new_filters_change_nothing(self, repo: Repository) -> None:
        thread, first = _thread("a", "+16502240001", T0)
        self.store(repo, (thread, first))
        self.add(repo, _note("n1", thread, T0))
        with repo.unit_of_work() as uow:
            before = (uow.messages("a"), uow.note("n1"))
        events = repo.events()
        for text in HOSTILE:
            try:
                with repo.unit_of_work() as uow:
                    assert uow.message(text) is None
                    assert uow.note(text) is None
                    assert uow.opted_out(text, text) is False
                    position = uow.event_position()
                    assert uow.events_since(0, position, frozenset({text}), 9) == []
                    for query in (
                        _messages_query(owner_extension_ids=frozenset({text})),
                        _messages_query(thread_ids=frozenset({text})),
                        _messages_query(message_ids=frozenset({text})),
                        _messages_query(after=(T0 + timedelta(days=1), text)),
                    ):
                        assert uow.find_messages(query, 9) == []
                    for note_query in (
                        NoteQuery(frozenset({text})),
                        NoteQuery(frozenset({Q1}), thread_ids=frozenset({text})),
                        NoteQuery(frozenset({Q1}), note_ids=frozenset({text})),
                        NoteQuery(frozenset({Q1}), after=(T0 + timedelta(days=1), text)),
                    ):
                        assert uow.find_notes(note_query, 9) == []
                    # a hostile keyset id only moves the page start
                    early = _messages_query(after=(T0 - timedelta(days=1), text))
                    assert [m.id for m in uow.find_messages(early, 9)] == ["a-m1"]
            except ThreadcoreError:
                pass  # refusing is fine; leaking or changing is not
        with repo.unit_of_work() as uow:
            assert (uow.messages("a"), uow.note("n1")) == before
        assert repo.events() == events
