"""The contract of the ``ChangeFeed`` capability: change and event positions (incremental sync)."""

from __future__ import annotations

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ThreadcoreError
from threadcore.domain.events import ThreadOpened
from threadcore.domain.model import StatusReason
from threadcore.ports import Repository
from threadcore.testing.contract._base import HOSTILE, Q1, Q2, T0, ContractBase, _thread, feed


class ChangeFeedContract(ContractBase):
    """The change feed: changed threads, the event outbox, events by owner and bounds, positions."""

    def test_changed_since_reports_every_later_change(self, repo: Repository) -> None:
        self.store(repo, _thread("a", "+16502240001", T0), _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            mark = feed(uow).change_position()
        with repo.unit_of_work() as uow:
            b = uow.thread("b")
            assert b is not None
            uow.save_thread(tx.resolve(b, StatusReason.MANUAL, None, T0)[0], b.version)
        self.store(repo, _thread("c", "+16502240003", T0, owner=Q2))
        with repo.unit_of_work() as uow:
            changed = feed(uow).changed_since(mark, frozenset({Q1, Q2}), 10)
            assert sorted(t.id for t in changed) == ["b", "c"]
            assert [t.id for t in feed(uow).changed_since(mark, frozenset({Q1}), 10)] == ["b"]
            assert len(feed(uow).changed_since(mark, frozenset({Q1, Q2}), 1)) == 2  # limit + 1
            assert (
                feed(uow).changed_since(feed(uow).change_position(), frozenset({Q1, Q2}), 10) == []
            )

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

    def test_events_since_selects_by_owner_and_bounds(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            empty = feed(uow).event_position()
            assert feed(uow).events_since(empty, empty, frozenset({Q1, Q2}), 10) == []
        self.store(repo, _thread("a", "+16502240001", T0), _thread("c", "+16502240003", T0, Q2))
        with repo.unit_of_work() as uow:
            mark = feed(uow).event_position()
        self.store(repo, _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            end = feed(uow).event_position()
        every = repo.events()
        positions = [p for p, _ in every]
        assert empty < positions[0] and positions[3] <= mark < positions[4] and positions[-1] <= end
        assert [e.thread_id for _, e in every] == ["a", "a", "c", "c", "b", "b"]
        q1 = [item for item in every if item[1].thread_id in ("a", "b")]
        with repo.unit_of_work() as uow:
            assert feed(uow).events_since(empty, end, frozenset({Q1}), 10) == q1
            assert feed(uow).events_since(empty, end, frozenset({Q1, Q2}), 10) == every
            assert feed(uow).events_since(empty, end, frozenset({Q2}), 10) == every[2:4]
            assert feed(uow).events_since(empty, end, frozenset({"nobody"}), 10) == []
            assert feed(uow).events_since(empty, end, frozenset(), 10) == []
            assert feed(uow).events_since(empty, mark, frozenset({Q1}), 10) == q1[:2]
            assert feed(uow).events_since(mark, end, frozenset({Q1}), 10) == q1[2:]
            # after is exclusive, until inclusive
            assert feed(uow).events_since(positions[0], positions[4], frozenset({Q1}), 10) == [
                every[1],
                every[4],
            ]
            assert feed(uow).events_since(end, end, frozenset({Q1}), 10) == []
            assert feed(uow).events_since(end, mark, frozenset({Q1}), 10) == []
            # at most limit + 1, so the caller can tell there were more
            assert feed(uow).events_since(empty, end, frozenset({Q1, Q2}), 2) == every[:3]
            assert feed(uow).events_since(empty, end, frozenset({Q1, Q2}), 0) == every[:1]
        assert repo.events(after=mark) == every[4:]
        assert repo.events(after=end) == []

    def test_event_position_covers_every_visible_event_and_only_grows(
        self, repo: Repository
    ) -> None:
        seen = []
        for i in range(3):
            self.store(repo, _thread(f"t{i}", f"+1650224000{i}", T0))
            with repo.unit_of_work() as uow:
                position = feed(uow).event_position()
            stored = repo.events()
            assert stored and stored[-1][0] <= position
            assert repo.events(after=position) == []
            seen.append(position)
        assert seen == sorted(seen) and len(set(seen)) == 3

    def test_owner_filters_may_name_thousands_and_hostile_ones_change_nothing(
        self, repo: Repository
    ) -> None:
        """An owner filter longer than any SQL parameter limit is answered (issue 12, item 17);
        a hostile owner finds nothing and changes nothing."""
        self.store(repo, *(_thread(f"big-{n}", f"+1650224{n:04d}", T0) for n in range(3)))
        events = repo.events()
        with repo.unit_of_work() as uow:
            owners = frozenset({f"q-{n}" for n in range(40_000)} | {Q1})
            changed = {t.id for t in feed(uow).changed_since(0, owners, 10)}
            assert changed == {"big-0", "big-1", "big-2"}
        for text in HOSTILE:
            try:
                with repo.unit_of_work() as uow:
                    assert feed(uow).changed_since(0, frozenset({text}), 10) == []
                    position = feed(uow).event_position()
                    assert feed(uow).events_since(0, position, frozenset({text}), 9) == []
            except ThreadcoreError:
                pass  # refusing is fine; leaking or changing is not
        assert repo.events() == events
