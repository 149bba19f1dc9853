"""The SQLite repository hands out one unit-of-work object (as the memory repository does): each
unit of work must leave nothing of its own for the next, neither what its claim read nor what it
buffered and did not write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from threadcore import Directory, Inbox, ManualClock, Resource, SQLiteRepository
from threadcore.domain import transitions as tx

OWNER, GUEST = "+12092480001", "+16502240001"
START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
RESOURCE = Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])


def _inbox(repo: SQLiteRepository) -> Inbox:
    return Inbox(repository=repo, directory=Directory([RESOURCE]), clock=ManualClock(START))


def test_a_claim_does_not_answer_the_next_unit_of_works_reads(tmp_path: Path) -> None:
    """A unit of work that claimed a pair with no open thread, then another connection opens
    one: the next unit of work's read of the pair finds it (the claim's answer was its own)."""
    repo = SQLiteRepository(tmp_path / "a.db")
    other = SQLiteRepository(tmp_path / "a.db")
    with repo.unit_of_work() as uow:
        assert uow.claim(pair=(OWNER, GUEST)).thread is None
    message = _inbox(other).receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    with repo.unit_of_work() as uow:
        found = uow.open_thread_for_pair(OWNER, GUEST)
        assert found is not None
        assert found.id == message.thread_id
    repo.close()
    other.close()


def test_a_failed_unit_of_work_leaves_no_write_for_the_next(tmp_path: Path) -> None:
    """Writes buffered by a unit of work that ends in an exception are not made by the next one."""
    repo = SQLiteRepository(tmp_path / "a.db")
    thread, _ = tx.open_thread("t-1", RESOURCE, OWNER, GUEST, None, None, START)

    def refused() -> None:
        with repo.unit_of_work() as uow:
            uow.save_thread(thread, 0)
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        refused()
    with repo.unit_of_work():
        pass
    with repo.unit_of_work() as uow:
        assert uow.thread("t-1") is None
    repo.close()
