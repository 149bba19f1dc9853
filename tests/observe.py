"""What the issue-5 example tests observe: everything an actor can see, and refusals that must
leave all of it as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from threadcore import Inbox, ThreadcoreError, ThreadFilter
from threadcore.domain.queries import MessageFilter, NoteFilter
from threadcore.model import Availability

BOTH = (Availability.ALIVE, Availability.DELETED)


def snapshot(
    inbox: Inbox, actor: str = "103", pairs: Sequence[tuple[str, str]] = ()
) -> tuple[Any, ...]:
    """Everything ``actor`` can observe: events, threads, messages and notes (tombstones too),
    each thread's drafts, and the opt-out state of ``pairs`` (owner, guest)."""
    threads = inbox.list(actor=actor, filter=ThreadFilter(availability=BOTH), limit=1000)
    messages = inbox.list_messages(
        actor=actor,
        filter=MessageFilter(availability=BOTH),
        limit=1000,
    )
    notes = inbox.list_notes(actor=actor, filter=NoteFilter(availability=BOTH), limit=1000)
    drafts: dict[str, object] = {}
    for thread in threads:
        try:
            drafts[thread.id] = tuple(inbox.drafts(thread.id, actor=actor))
        except ThreadcoreError as error:
            drafts[thread.id] = error.code
    opted = {
        pair: inbox.opted_out(actor=actor, owner_number=pair[0], guest_number=pair[1])
        for pair in pairs
    }
    return inbox.events(), tuple(threads), tuple(messages), tuple(notes), drafts, opted


def refused(
    inbox: Inbox,
    error: type[ThreadcoreError],
    code: str,
    status: int,
    command: Callable[[], object],
    *,
    actor: str = "103",
    pairs: Sequence[tuple[str, str]] = (),
) -> ThreadcoreError:
    """``command`` raises exactly ``error`` (with the documented code and status) and changes
    nothing ``actor`` can observe."""
    before = snapshot(inbox, actor, pairs)
    with pytest.raises(error) as caught:
        command()
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.status) == (code, status)
    assert snapshot(inbox, actor, pairs) == before
    return caught.value


def new_events(inbox: Inbox, after: int) -> list[Any]:
    """The events stored after position ``after``."""
    return [event for _, event in inbox.events(cursor=inbox.feed_cursor(after))]
