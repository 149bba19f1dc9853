"""The peer: threadcore's inbound-threading rule written on the ``eventsourcing`` library.

What a Python integrator would otherwise pick: a ``Thread`` aggregate (opened, messages added,
expired) plus a ``PairIndex`` aggregate per (owner, guest) pair naming the pair's current
thread, in an ``Application`` with its default settings (no snapshots, no aggregate cache), on
POPO (memory), SQLite or PostgreSQL persistence chosen by the library's own environment
variables. The rule is the bare loop's (``bench_receive.bare_loop``): find the pair's open
thread, expire it when due, open a new one, append the message, update label and times; the
changed aggregates are saved together, atomically.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

TTL = timedelta(hours=72)


class PeerThread(Aggregate):
    """A conversation thread, rebuilt from its events on every load."""

    @event("Opened")
    def __init__(self, owner: str, guest: str, at: datetime) -> None:
        self.owner = owner
        self.guest = guest
        self.status = "Open"
        self.label: str | None = None
        self.latest = at
        self.last_inbound: datetime | None = None
        self.messages: list[tuple[str, str, datetime]] = []

    @event("MessageAdded")
    def add_message(self, message_id: str, body: str, at: datetime) -> None:
        self.messages.append((message_id, body, at))
        self.label = body
        self.latest = self.last_inbound = at

    @event("Expired")
    def expire(self, at: datetime) -> None:
        self.status = "Resolved"


class PairIndex(Aggregate):
    """The current thread of one (owner, guest) pair; its id derives from the pair."""

    @staticmethod
    def create_id(owner: str, guest: str, thread_id: UUID) -> UUID:
        return pair_id(owner, guest)

    @event("Created")
    def __init__(self, owner: str, guest: str, thread_id: UUID) -> None:
        self.thread_id = thread_id

    @event("Pointed")
    def point(self, thread_id: UUID) -> None:
        self.thread_id = thread_id


def pair_id(owner: str, guest: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"pair:{owner}:{guest}")


class PeerInbox(Application[UUID]):
    """The inbound rule as an event-sourced application."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        self._next = 0

    def receive(self, owner: str, guest: str, body: str, now: datetime) -> None:
        index: Any = None
        with contextlib.suppress(AggregateNotFoundError):
            index = self.repository.get(pair_id(owner, guest))
        changed: list[Aggregate] = []
        thread: Any = None
        if index is not None:
            thread = self.repository.get(index.thread_id)
            if thread.status != "Open":
                thread = None
            elif now >= thread.latest + TTL:
                thread.expire(at=thread.latest + TTL)
                changed.append(thread)
                thread = None
        if thread is None:
            thread = PeerThread(owner, guest, now)
            if index is None:
                index = PairIndex(owner, guest, thread.id)
            else:
                index.point(thread.id)
            changed.append(index)
        self._next += 1
        thread.add_message(message_id=f"m{self._next}", body=body, at=now)
        changed.append(thread)
        self.save(*changed)

    def store(self, owner: str, guests: list[str], now: datetime, messages: int = 1) -> None:
        """Store one open thread of ``messages`` messages per guest, in one save (for building
        large stores fast: the aggregates are made in memory and their events saved together)."""
        batch: list[Aggregate] = []
        for guest in guests:
            thread = PeerThread(owner, guest, now)
            for _ in range(messages):
                self._next += 1
                thread.add_message(message_id=f"m{self._next}", body="Hi", at=now)
            batch.append(thread)
            batch.append(PairIndex(owner, guest, thread.id))
        self.save(*batch)
