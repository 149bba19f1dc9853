"""Thread commands: assign, resolve, delete, and the sweep that writes expiries."""

from __future__ import annotations

from threadcore.domain.model import Thread
from threadcore.domain.validation import check_extension_id
from threadcore.inbox import commands as c
from threadcore.inbox._spine import Spine
from threadcore.inbox.handlers import threads as h

__all__ = ["assign", "delete", "expire", "resolve"]


def assign(self: Spine, thread_id: str, *, actor: str, assignee: str | None) -> Thread:
    """Assign, reassign or (``assignee=None``) unassign an open thread.

    Anyone handling the resource may assign an unassigned thread to any of its handlers; the
    current assignee may hand it to anyone or unassign it; others may only take it for
    themselves. Assigning the current assignee again changes nothing.
    """
    actor = check_extension_id(actor, "actor")
    if assignee is not None:
        assignee = check_extension_id(assignee, "assignee")
    return self._run(h.assign, c.make_assign(thread_id, actor, assignee), thread_id=thread_id)


def resolve(self: Spine, thread_id: str, *, actor: str) -> Thread:
    """Resolve an open thread (reason Manual; the assignee is removed). Any handler of the
    thread's resource may; resolved is final."""
    actor = check_extension_id(actor, "actor")
    return self._run(h.resolve, c.make_resolve(thread_id, actor), thread_id=thread_id)


def delete(self: Spine, thread_id: str, *, actor: str) -> Thread:
    """Delete a thread, open or resolved: its record stays as a tombstone (availability
    Deleted, assignee removed, status and reason kept) and its messages are gone."""
    actor = check_extension_id(actor, "actor")
    return self._run(h.delete, c.Delete(thread_id, actor), thread_id=thread_id)


def expire(self: Spine) -> list[Thread]:
    """Write every expiry that is due (the sweep) and return the threads it resolved.

    Reads and commands already see due threads as resolved; the sweep only makes the
    stored records and the event feed catch up.
    """
    resolved: list[Thread] = []
    step = c.ExpireDue(_SWEEP_BATCH)
    while True:
        batch = self._run(h.expire_due, step)
        resolved.extend(batch)
        if len(batch) < _SWEEP_BATCH:
            return resolved


_SWEEP_BATCH = 500
