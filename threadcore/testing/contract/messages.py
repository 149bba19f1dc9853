"""Part of the contract of the ``Queries`` capability: finds of messages across threads."""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Message,
    Resource,
    StatusReason,
    ThreadStatus,
)
from threadcore.ports import MessageQuery, NoteQuery, Repository
from threadcore.testing.contract._base import (
    _IDS,
    _SHARED_EXAMPLES,
    HOSTILE,
    Q1,
    Q2,
    T0,
    TTL,
    ContractBase,
    _message,
    _messages_query,
    _note,
    _thread,
    found_ids,
    queries,
)


class MessageQueriesContract(ContractBase):
    """:class:`~threadcore.ports.Queries` of messages: finds that filter, order and page (also
    with thousands of ids), hostile filters."""

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
            with repo.unit_of_work() as uow:
                return found_ids(
                    queries(uow).find_messages,
                    queries(uow).count_messages,
                    _messages_query(due_cutoff=now_cutoff, **overrides),
                    limit,
                )

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
            assert [m.id for m in queries(uow).find_messages(early, 50)] == [
                "a-m1",
                "a1-tie",
                "a2",
                "b-m1",
            ]
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
                chunk = queries(uow).find_messages(query, page)
                assert len(chunk) <= page
                found += chunk
                if len(chunk) < page:
                    break
                query = attrs.evolve(query, after=(chunk[-1].created_at, chunk[-1].id))
        assert found == expected

    def test_filters_may_name_thousands_of_ids(self, repo: Repository) -> None:
        """An id filter longer than any SQL parameter limit (SQLite's: 999 on old builds, 32,766
        on newer ones) is answered, the same on every adapter (issue 12, item 17)."""
        self.store(repo, *(_thread(f"big-{n}", f"+1650224{n:04d}", T0) for n in range(3)))
        many = frozenset({f"x-{n}" for n in range(40_000)} | {"big-1"})
        with repo.unit_of_work() as uow:
            found = queries(uow).find_messages(_messages_query(thread_ids=many), 10)
            assert [m.thread_id for m in found] == ["big-1"]
            assert queries(uow).find_messages(_messages_query(message_ids=many), 10) == []
            notes = NoteQuery(owner_extension_ids=frozenset({Q1, Q2}), note_ids=many)
            assert queries(uow).find_notes(notes, 10) == []

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
                    for query in (
                        _messages_query(owner_extension_ids=frozenset({text})),
                        _messages_query(thread_ids=frozenset({text})),
                        _messages_query(message_ids=frozenset({text})),
                        _messages_query(after=(T0 + timedelta(days=1), text)),
                    ):
                        assert queries(uow).find_messages(query, 9) == []
                    for note_query in (
                        NoteQuery(frozenset({text})),
                        NoteQuery(frozenset({Q1}), thread_ids=frozenset({text})),
                        NoteQuery(frozenset({Q1}), note_ids=frozenset({text})),
                        NoteQuery(frozenset({Q1}), after=(T0 + timedelta(days=1), text)),
                    ):
                        assert queries(uow).find_notes(note_query, 9) == []
                    # a hostile keyset id only moves the page start
                    early = _messages_query(after=(T0 - timedelta(days=1), text))
                    assert [m.id for m in queries(uow).find_messages(early, 9)] == ["a-m1"]
            except ThreadcoreError:
                pass  # refusing is fine; leaking or changing is not
        with repo.unit_of_work() as uow:
            assert (uow.messages("a"), uow.note("n1")) == before
        assert repo.events() == events
