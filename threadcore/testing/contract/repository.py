"""The contracts of the capabilities a repository itself may add: ``ConsumerStore`` (durable
consumers' cursors and holds), ``ClockStore`` (the stored manual clock) and ``ReadinessCheck``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from threadcore.domain.errors import InvalidInput
from threadcore.ports import ClockStore, ConsumerStore, ReadinessCheck, Repository, require
from threadcore.testing.contract._base import T0, ContractBase, _thread


class ConsumerStoreContract(ContractBase):
    """:class:`~threadcore.ports.ConsumerStore`: a cursor per name that never moves back nor past
    the feed's visible end, and a hold on a name that one holder has at a time."""

    def test_a_cursor_only_moves_forward_within_the_feed(self, repo: Repository) -> None:
        store = require(repo, ConsumerStore)
        self.store(repo, _thread("a", "+16502240001", T0), _thread("b", "+16502240002", T0))
        end = repo.events()[-1][0]
        assert store.consumer_position("mailer") == 0
        assert store.commit_consumer("mailer", end) == end
        assert store.commit_consumer("mailer", 0) == end  # never back
        assert store.consumer_position("mailer") == end
        assert store.consumer_position("other") == 0  # one cursor per name
        with pytest.raises(InvalidInput):
            store.commit_consumer("mailer", end + 2**40)  # past the visible end
        assert store.consumer_position("mailer") == end

    def test_one_holder_at_a_time(self, repo: Repository) -> None:
        store = require(repo, ConsumerStore)
        hold = store.try_hold_consumer("mailer")
        assert hold is not None
        assert hold.held()
        assert store.try_hold_consumer("mailer") is None
        other = store.try_hold_consumer("other")  # another name: its own hold
        assert other is not None
        hold.release()
        hold.release()  # again: nothing
        again = store.try_hold_consumer("mailer")
        assert again is not None
        again.release()
        other.release()


class ClockStoreContract(ContractBase):
    """:class:`~threadcore.ports.ClockStore`: the stored manual clock (rule R18c), moved in one
    step that sees the latest instant recorded; a move that raises changes nothing."""

    def test_the_stored_clock_moves_as_asked_and_only_then(self, repo: Repository) -> None:
        clock = require(repo, ClockStore)
        assert clock.stored_clock() is None  # the system clock
        self.store(repo, _thread("a", "+16502240001", T0))
        seen: list[tuple[datetime | None, datetime | None]] = []

        def move(stored: datetime | None, latest: datetime | None) -> datetime | None:
            seen.append((stored, latest))
            return T0 + timedelta(hours=1)

        assert clock.move_stored_clock(move) == T0 + timedelta(hours=1)
        stored, latest = seen[0]
        assert stored is None
        assert latest is not None
        assert latest >= T0
        assert clock.stored_clock() == T0 + timedelta(hours=1)

        def refused(stored: datetime | None, latest: datetime | None) -> datetime | None:
            raise RuntimeError("the caller's move failed")

        with pytest.raises(RuntimeError):
            clock.move_stored_clock(refused)
        assert clock.stored_clock() == T0 + timedelta(hours=1)
        assert clock.move_stored_clock(lambda stored, latest: None) is None
        assert clock.stored_clock() is None  # back to the system clock


class ReadinessCheckContract(ContractBase):
    """:class:`~threadcore.ports.ReadinessCheck`: a repository that answers says so, and changes
    nothing by saying it."""

    def test_a_repository_that_answers_is_ready(self, repo: Repository) -> None:
        events = repo.events()
        require(repo, ReadinessCheck).check_ready()  # (returns: ready; raises: not)
        assert repo.events() == events
