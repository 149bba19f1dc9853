"""The model's lists and syncs: which records a reader gets, in which order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from threadcore.testing.model._base import (
    OPEN,
    Err,
    MHint,
    MMessage,
    MNote,
    ModelBase,
    MThread,
    Ok,
    sort_entries,
)


def _kept(
    alive: bool,
    created: datetime,
    availability: tuple[bool, ...],
    created_from: datetime | None,
    created_to: datetime | None,
) -> bool:
    """Whether a record a list filters is kept: alive or deleted as asked, created within the
    window (``created_from`` included, ``created_to`` not)."""
    return (
        alive in availability
        and (created_from is None or created >= created_from)
        and (created_to is None or created < created_to)
    )


class QueryModel(ModelBase):
    """Lists, syncs and entries, as the rules define them."""

    def _owners(self, actor: str, owner_ids: list[str] | None) -> frozenset[str] | Err:
        """The resources a list reads: the ones named, or every one ``actor`` handles; naming one
        it does not handle is NotPermitted."""
        handled = self.handled(actor)
        if owner_ids is None:
            return handled
        if not set(owner_ids) <= handled:
            return Err("NotPermitted")
        return frozenset(owner_ids)

    def _views(
        self, owners: frozenset[str], thread_ids: list[str] | None, status: str | None
    ) -> Iterator[MThread]:
        """The threads (as seen now) of ``owners``, among ``thread_ids`` and with ``status``
        where given."""
        for t in self.threads.values():
            v = self.view(t)
            if (
                v.owner_ext in owners
                and (thread_ids is None or v.id in thread_ids)
                and (status is None or v.status == status)
            ):
                yield v

    def list_ids(
        self,
        actor: str,
        status: str | None = None,
        owner_ids: list[str] | None = None,
        owner: str | None = None,
        guest: str | None = None,
        availability: tuple[bool, ...] = (True,),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Ok | Err:
        """The ids a list with these filters returns, in order."""
        owners = self._owners(actor, owner_ids)
        if isinstance(owners, Err):
            return owners
        found = []
        for v in self._views(owners, None, status):
            if (
                (owner is None or v.owner == owner)
                and (guest is None or v.guest == guest)
                and _kept(v.alive, v.created, availability, created_from, created_to)
            ):
                found.append(v)
        found.sort(key=lambda v: (v.created, v.id))
        return Ok([v.id for v in found])

    def list_message_ids(
        self,
        actor: str,
        thread_ids: list[str] | None = None,
        message_ids: list[str] | None = None,
        thread_status: str | None = None,
        owner_ids: list[str] | None = None,
        availability: tuple[bool, ...] = (True,),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Ok | Err:
        """M4: the ids ``list_messages`` returns with these filters, in order."""
        owners = self._owners(actor, owner_ids)
        if isinstance(owners, Err):
            return owners
        found = []
        for v in self._views(owners, thread_ids, thread_status):
            for m in v.messages:
                assert m.created is not None
                if (message_ids is None or m.id in message_ids) and _kept(
                    m.alive, m.created, availability, created_from, created_to
                ):
                    found.append((m.created, m.id))
        found.sort()
        return Ok([message_id for _, message_id in found])

    def list_note_ids(
        self,
        actor: str,
        thread_ids: list[str] | None = None,
        note_ids: list[str] | None = None,
        owner_ids: list[str] | None = None,
        availability: tuple[bool, ...] = (True,),
    ) -> Ok | Err:
        """N1: the ids ``list_notes`` returns with these filters, in order."""
        owners = self._owners(actor, owner_ids)
        if isinstance(owners, Err):
            return owners
        found = []
        for v in self._views(owners, thread_ids, None):
            for n in v.notes:
                if (note_ids is None or n.id in note_ids) and n.alive in availability:
                    found.append((n.created, n.id))
        found.sort()
        return Ok([note_id for _, note_id in found])

    def full_sync(self, actor: str) -> list[str]:
        """The ids a full sync returns, newest modification first."""
        handled = self.handled(actor)
        found = [self.view(t) for t in self.threads.values() if t.owner_ext in handled]
        found = [v for v in found if v.status == OPEN and v.alive]
        found.sort(key=lambda v: (v.modified, v.id), reverse=True)
        return [v.id for v in found]

    def snapshot(self, actor: str) -> dict[str, tuple[object, ...]]:
        """What ``actor`` could see of every thread now (to tell later what changed)."""
        handled = self.handled(actor)
        return {t.id: self.record(t) for t in self.threads.values() if t.owner_ext in handled}

    def entries_full(self, actor: str, scope: str, thread_ids: list[str] | None) -> Ok | Err:
        """E2: ``Ok(entries)`` (messages and notes), newest modification first, or the error."""
        if (scope == "Explicit") != (thread_ids is not None):
            return Err("InvalidInput")
        handled = self.handled(actor)
        if thread_ids is not None:
            if any(self.visible(tid, actor) is None for tid in thread_ids):
                return Err("ThreadNotFound")
            threads = [self.threads[tid] for tid in dict.fromkeys(thread_ids)]
        else:
            threads = []
            for t in self.threads.values():
                v = self.view(t)
                if t.owner_ext not in handled or v.status != OPEN or not v.alive:
                    continue
                if (
                    scope == "Accessible"
                    or (scope == "Unassigned" and v.assignee is None)
                    or (scope == "AssignedToMe" and v.assignee == actor)
                    or (scope == "AssignedToMeAndUnassigned" and v.assignee in (None, actor))
                ):
                    threads.append(t)
        entries: list[MMessage | MNote | MHint] = []
        for t in threads:
            entries += [m for m in t.messages if m.alive]
            entries += [n for n in t.notes if n.alive]
        return Ok(sort_entries(entries))

    def entries_since(self, actor: str, since: int) -> list[MMessage | MNote | MHint]:
        """E3: what an incremental entries sync returns for a token issued at tick ``since``."""
        handled = self.handled(actor)
        entries: list[MMessage | MNote | MHint] = []
        for t in self.threads.values():
            if t.owner_ext not in handled:
                continue
            entries += [h for h in t.hints if h.tick > since]
            if t.closed_tick is not None and t.closed_tick <= since:
                continue  # gone from the client before the token: late changes do not matter
            # A thread deleted since: its deleted hint, and (as tombstones) only the messages
            # and notes that changed since the token for another reason.
            entries += [m for m in t.messages if m.tick > since]
            entries += [n for n in t.notes if n.tick > since]
        return sort_entries(entries)

    def open_timelines(self, actor: str) -> list[MMessage | MNote | MHint]:
        """Every open thread's alive timeline the actor may see (what a client converges to)."""
        result = self.entries_full(actor, "Accessible", None)
        assert isinstance(result, Ok) and isinstance(result.value, list)
        return result.value
