"""The model's thread commands: assign, resolve, delete, the sweep, a read."""

from __future__ import annotations

from threadcore.testing.model._base import Err, MEvent, MHint, ModelBase, Ok, ev


class ThreadModel(ModelBase):
    """Thread commands and a thread as a reader sees it."""

    def assign(self, thread_id: str, actor: str, assignee: str | None) -> Ok | Err:
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        resource = self.resources[t.owner_ext]
        if assignee is not None and assignee not in resource.handlers:
            return Err("AssigneeNotHandler")
        if assignee == t.assignee:
            return Ok(t.id)
        if t.assignee is not None and actor != t.assignee and assignee != actor:
            return Err("NotPermitted")
        return Ok(t.id, (self._assigned(t, assignee, actor),))

    def resolve(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        return Ok(t.id, (self._resolved(t, "Manual", actor),))

    def delete(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.alive_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        events = self.materialise(t)
        t = self.threads[thread_id]
        assert self.now is not None
        # a deleted thread carries no message text (issue 12, item 5)
        t.alive, t.assignee, t.label, t.modified = False, None, None, self.now
        t.changes += 1
        t.version += 1
        tick = self.bump()
        if t.closed_tick is None:
            t.closed_tick = tick
        t.hints.append(MHint("deleted", t.id, self.now, actor, tick, id=f"{t.id}-deleted"))
        # Its messages and notes become tombstones; that is not a change of theirs an entries
        # sync reports (the deleted hint is), so their ticks stay.
        for m in t.messages:
            if m.alive:
                m.alive, m.body, m.attachments, m.classifications = False, "", (), []
                m.modified, m.version = self.now, m.version + 1
        for n in t.notes:
            if n.alive:
                n.alive, n.text = False, ""
                n.modified, n.version = self.now, n.version + 1
        t.drafts.clear()  # deleting the thread deletes its drafts: they are gone (DraftNotFound)
        events.append(ev("ThreadDeleted", t.id, initiator=actor, at=self.now))
        return Ok(t.id, tuple(events))

    def expire(self) -> Ok:
        due = sorted(t.id for t in self.threads.values() if self.due(t))
        events: list[MEvent] = []
        for thread_id in due:
            events += self.materialise(self.threads[thread_id])
        return Ok(due, tuple(events))

    def get(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        return Err("ThreadNotFound") if t is None else Ok(self.view(t))
