"""The model's lists and syncs: which records a reader gets, in which order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MScope:
    """What every list narrows by: the resources (``owner_ids``; None: every one the reader
    handles), ``availability`` ("Alive", "Deleted" or both) and the creation window
    (``created_from`` included, ``created_to`` not)."""

    owner_ids: list[str] | None = None
    availability: tuple[str, ...] = ("Alive",)
    created_from: datetime | None = None
    created_to: datetime | None = None

    def keeps(self, alive: bool, created: datetime) -> bool:
        """Whether a record (alive or not, created then) is within the scope."""
        return (
            ("Alive" if alive else "Deleted") in self.availability
            and (self.created_from is None or created >= self.created_from)
            and (self.created_to is None or created < self.created_to)
        )


#: The records a list takes from one thread, as ``(created, id)`` to order them by.
Rows = Callable[[MThread], Iterable[tuple[datetime, str]]]


class QueryModel(ModelBase):
    """Lists, syncs and entries, as the rules define them."""

    def _listed(
        self,
        actor: str,
        scope: MScope,
        thread_ids: list[str] | None,
        status: str | None,
        rows: Rows,
    ) -> Ok | Err:
        """``Ok(ids)`` of the ``rows`` of the threads (as seen now) a list reads, oldest first:
        the scope's resources (naming one ``actor`` does not handle is NotPermitted), among
        ``thread_ids`` and with ``status`` where given."""
        handled = self.handled(actor)
        owners = handled if scope.owner_ids is None else frozenset(scope.owner_ids)
        if not owners <= handled:
            return Err("NotPermitted")
        found: list[tuple[datetime, str]] = []
        for t in self.threads.values():
            v = self.view(t)
            if (
                v.owner_ext in owners
                and (thread_ids is None or v.id in thread_ids)
                and (status is None or v.status == status)
            ):
                found += rows(v)
        return Ok([record_id for _, record_id in sorted(found)])

    def list_ids(
        self,
        actor: str,
        scope: MScope,
        status: str | None = None,
        owner: str | None = None,
        guest: str | None = None,
    ) -> Ok | Err:
        """The ids a list with these filters returns, in order."""

        def rows(v: MThread) -> Iterator[tuple[datetime, str]]:
            if (
                (owner is None or v.owner == owner)
                and (guest is None or v.guest == guest)
                and scope.keeps(v.alive, v.created)
            ):
                yield v.created, v.id

        return self._listed(actor, scope, None, status, rows)

    def list_record_ids(
        self,
        kind: str,
        actor: str,
        scope: MScope,
        thread_ids: list[str] | None = None,
        record_ids: list[str] | None = None,
        thread_status: str | None = None,
    ) -> Ok | Err:
        """M4 and N1: the ids ``list_messages`` (``kind`` "messages") or ``list_notes``
        ("notes") returns with these filters, in order."""

        def rows(v: MThread) -> Iterator[tuple[datetime, str]]:
            for r in v.messages if kind == "messages" else v.notes:
                assert r.created is not None
                if (record_ids is None or r.id in record_ids) and scope.keeps(r.alive, r.created):
                    yield r.created, r.id

        return self._listed(actor, scope, thread_ids, thread_status, rows)

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
