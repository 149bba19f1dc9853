"""Thread commands: assign, resolve, delete, and the sweep that writes expiries."""

from __future__ import annotations

from datetime import datetime

from threadcore.domain import transitions as tx
from threadcore.domain.events import Event
from threadcore.domain.model import (
    StatusReason,
    Thread,
)
from threadcore.domain.validation import (
    check_extension_id,
)
from threadcore.inbox._spine import Spine
from threadcore.ports import (
    Queries,
    UnitOfWork,
    require,
)


def assign(self: Spine, thread_id: str, *, actor: str, assignee: str | None) -> Thread:
    """Assign, reassign or (``assignee=None``) unassign an open thread.

    Anyone handling the resource may assign an unassigned thread to any of its handlers; the
    current assignee may hand it to anyone or unassign it; others may only take it for
    themselves. Assigning the current assignee again changes nothing.
    """
    actor = check_extension_id(actor, "actor")
    if assignee is not None:
        assignee = check_extension_id(assignee, "assignee")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
        stored, resource = self._visible(uow, thread_id, actor)
        thread = tx.effective(stored, now, self._policy.ttl)
        new, event = tx.assign(thread, resource, actor, assignee, now)
        if event is not None:
            uow.save_thread(new, stored.version)
            events.append(event)
        return new

    return self._run(work, thread_id=thread_id)


def resolve(self: Spine, thread_id: str, *, actor: str) -> Thread:
    """Resolve an open thread (reason Manual; the assignee is removed). Any handler of the
    thread's resource may; resolved is final."""
    actor = check_extension_id(actor, "actor")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
        stored, _ = self._visible(uow, thread_id, actor)
        thread = tx.effective(stored, now, self._policy.ttl)
        new, event = tx.resolve(thread, StatusReason.MANUAL, actor, now)
        uow.save_thread(new, stored.version)
        events.append(event)
        return new

    return self._run(work, thread_id=thread_id)


def delete(self: Spine, thread_id: str, *, actor: str) -> Thread:
    """Delete a thread, open or resolved: its record stays as a tombstone (availability
    Deleted, assignee removed, status and reason kept) and its messages are gone."""
    actor = check_extension_id(actor, "actor")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
        stored, _ = self._visible(uow, thread_id, actor)
        thread, expired = tx.catch_up(stored, now, self._policy.ttl)
        if expired is not None:
            events.append(expired)
        new, event = tx.delete(thread, actor, now)
        uow.save_thread(new, stored.version)
        uow.tombstone_messages(new.id, now)
        events.append(event)
        return new

    return self._run(work, thread_id=thread_id)


def expire(self: Spine) -> list[Thread]:
    """Write every expiry that is due (the sweep) and return the threads it resolved.

    Reads and commands already see due threads as resolved; the sweep only makes the
    stored records and the event feed catch up.
    """
    ttl = self._policy.ttl
    resolved: list[Thread] = []
    while True:

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> list[Thread]:
            batch = []
            for thread in require(uow, Queries).due_threads(now - ttl, _SWEEP_BATCH):
                new, event = tx.expire(thread, ttl)
                uow.save_thread(new, thread.version)
                events.append(event)
                batch.append(new)
            return batch

        batch = self._run(work)
        resolved.extend(batch)
        if len(batch) < _SWEEP_BATCH:
            return resolved


_SWEEP_BATCH = 500
