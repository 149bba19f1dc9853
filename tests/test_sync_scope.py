"""A full sync reads only what the actor may see (issue 12, item 6; rule C1): storage is asked
for the open threads of the actor's resources, not for every open thread of the database."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GUEST, GUEST2, OWNER, QUEUE, SUPPORT, SUPPORT_NUMBER, two_queue_directory

from threadcore import EntryScope, Inbox, InMemoryRepository, ManualClock, Policy
from threadcore.domain.model import Thread


class Spy:
    """A unit of work that passes everything through and records the threads its thread reads
    handed out."""

    def __init__(self, inner: Any, seen: list[Thread]) -> None:
        self._inner, self._seen = inner, seen

    def __enter__(self) -> Spy:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in ("open_threads", "find_threads", "changed_since", "due_between"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            found = attribute(*args, **kwargs)
            self._seen.extend(found)
            return found

        return call


@pytest.mark.parametrize("kind", ["threads", "entries"])
def test_a_full_sync_reads_only_the_actors_resources(clock: ManualClock, kind: str) -> None:
    repo = InMemoryRepository()
    seen: list[Thread] = []
    inbox = Inbox(
        repository=repo,
        directory=two_queue_directory(support_handlers=("201",)),
        clock=clock,
        policy=Policy(),
    )
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="billing")
    for guest in (GUEST, GUEST2):  # the other resource's threads
        inbox.receive(owner_number=SUPPORT_NUMBER, guest_number=guest, body="support")
    real = repo.unit_of_work
    repo.unit_of_work = lambda: Spy(real(), seen)  # type: ignore[method-assign,assignment,return-value]
    if kind == "threads":
        records = inbox.sync(actor="101").records
    else:
        records = inbox.sync_entries(actor="101", scope=EntryScope.ACCESSIBLE).records
    assert len(records) == 1
    assert seen, "the spy saw no read"
    assert {t.owner.extension_id for t in seen} == {QUEUE}, "read another resource's threads"
    assert SUPPORT not in {t.owner.extension_id for t in seen}
