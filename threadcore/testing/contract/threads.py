"""Part of the contract of the ``Queries`` capability: open threads, due threads, keyset-paged
finds of threads."""

from __future__ import annotations

from datetime import timedelta, timezone

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.model import Availability, ThreadStatus
from threadcore.ports import Repository
from threadcore.testing.contract._base import (
    HOSTILE,
    Q1,
    Q2,
    RESOURCES,
    T0,
    TTL,
    ContractBase,
    _query,
    _thread,
    queries,
)


class ThreadQueriesContract(ContractBase):
    """:class:`~threadcore.ports.Queries` of threads: open and due threads, finds that filter,
    order and page, hostile filters."""

    def test_open_threads_filter_by_owner_number_and_assignee(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)
        b, mb = _thread("b", "+16502240002", T0, owner=Q2)
        self.store(repo, (a, ma), (b, mb))
        with repo.unit_of_work() as uow:
            assigned, _ = tx.assign(a, RESOURCES[Q1], None, "101", T0)
            uow.save_thread(assigned, a.version)
        with repo.unit_of_work() as uow:
            assert {t.id for t in queries(uow).open_threads()} == {"a", "b"}
            assert [t.id for t in queries(uow).open_threads(owner_extension_id=Q2)] == ["b"]
            assert [t.id for t in queries(uow).open_threads(owner_number="+12092480001")] == ["a"]
            assert [t.id for t in queries(uow).open_threads(assignee_id="101")] == ["a"]
            assert queries(uow).open_threads(assignee_id="102") == []

    def test_due_threads_and_due_windows(self, repo: Repository) -> None:
        items = [_thread(f"t{i}", f"+1650224000{i}", T0 + timedelta(hours=i)) for i in range(5)]
        self.store(repo, *items)
        with repo.unit_of_work() as uow:
            due = queries(uow).due_threads(T0 + timedelta(hours=2), 10)
            assert [t.id for t in due] == ["t0", "t1", "t2"]
            assert [t.id for t in queries(uow).due_threads(T0 + timedelta(hours=2), 2)] == [
                "t0",
                "t1",
            ]
            window = queries(uow).due_between(T0 + timedelta(hours=1), T0 + timedelta(hours=3),
                                     frozenset({Q1}))  # fmt: skip
            assert sorted(t.id for t in window) == ["t2", "t3"]
            assert queries(uow).due_between(T0, T0 + timedelta(hours=9), frozenset({Q2})) == []
            # the same instants written in another zone select the same threads
            east = timezone(timedelta(hours=5, minutes=30))
            cutoff = (T0 + timedelta(hours=2)).astimezone(east)
            assert [t.id for t in queries(uow).due_threads(cutoff, 10)] == ["t0", "t1", "t2"]
            window = queries(uow).due_between((T0 + timedelta(hours=1)).astimezone(east),
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
            every = queries(uow).find_threads(_query(due_cutoff=now_cutoff), 10)
            assert [t.id for t in every] == ["t1", "t3", "t2", "t0"]
            first = queries(uow).find_threads(_query(due_cutoff=now_cutoff), 2)
            assert [t.id for t in first] == ["t1", "t3"]
            after = (first[-1].creation_time, first[-1].id)
            rest = queries(uow).find_threads(_query(due_cutoff=now_cutoff, after=after), 10)
            assert [t.id for t in rest] == ["t2", "t0"]
            assert [
                t.id for t in queries(uow).find_threads(_query(due_cutoff=now_cutoff), 2, 2)
            ] == [
                "t2",
                "t0",
            ]
            assert queries(uow).count_threads(_query(due_cutoff=now_cutoff, after=after)) == 4
            opened = queries(uow).find_threads(
                _query(due_cutoff=now_cutoff, status=ThreadStatus.OPEN), 9
            )
            assert [t.id for t in opened] == ["t0"]
            closed = _query(due_cutoff=now_cutoff, status=ThreadStatus.RESOLVED)
            assert [t.id for t in queries(uow).find_threads(closed, 9)] == ["t1", "t3", "t2"]
            only_q2 = _query(owner_extension_ids=frozenset({Q2}))
            assert [t.id for t in queries(uow).find_threads(only_q2, 9)] == ["t2"]
            assert [
                t.id for t in queries(uow).find_threads(_query(guest_number="+16502240003"), 9)
            ] == ["t2"]
            assert [
                t.id for t in queries(uow).find_threads(_query(owner_number="+12092480002"), 9)
            ] == ["t2"]
            ranged = _query(creation_time_from=T0, creation_time_to=T0 + timedelta(hours=1))
            assert [t.id for t in queries(uow).find_threads(ranged, 9)] == ["t1", "t3"]
            deleted = _query(availability=frozenset({Availability.DELETED}))
            assert queries(uow).find_threads(deleted, 9) == []
            assert queries(uow).find_threads(_query(owner_extension_ids=frozenset()), 9) == []

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
                        assert queries(uow).find_threads(query, 10) == []
                        assert query.after is not None or queries(uow).count_threads(query) == 0
                except ThreadcoreError:
                    pass  # refusing is fine; leaking or changing is not
            try:
                with repo.unit_of_work() as uow:
                    assert uow.thread(text) is None
                    assert uow.messages(text) == []
                    assert uow.message_by_provider_id(text) is None
                    assert uow.open_thread_for_pair(text, text) is None
            except ThreadcoreError:
                pass
        with repo.unit_of_work() as uow:
            assert (uow.thread("a"), uow.messages("a")) == before
            assert [t.id for t in queries(uow).find_threads(_query(), 10)] == ["a"]
