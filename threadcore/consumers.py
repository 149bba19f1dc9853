"""Durable event consumers: the outbox made usable (issue 14).

``c = inbox.consumer("carrier-relay")`` names a cursor stored in the database. ``c.poll()`` reads
the events after it, ``c.commit(position)`` moves it on (never back), and ``c.run(handler)`` does
both in a loop: it holds the name (one process at a time, whichever process asks), calls the
handler with each event in order, commits after each, and waits for new events. Delivery is at
least once, in order, with no gaps: a handler that crashed is called again, from the event after
the last commit, so make it idempotent (the position is the event's unique key).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from threadcore.domain.errors import InvalidInput
from threadcore.domain.events import Event
from threadcore.ports import ConsumerStore, Repository, StoredEvent, require

__all__ = ["Consumer"]

#: A handler: ``handler(event)`` or ``handler(position, event)``.
Handler = Callable[[Event], Any] | Callable[[int, Event], Any]
#: When ``run`` stops: an event that is set, or a function that says so.
Stop = threading.Event | Callable[[], bool]


class Consumer:
    """A named, durable reader of the event outbox (see the module). Get one from
    :meth:`threadcore.Inbox.consumer`."""

    def __init__(self, repository: Repository, name: str) -> None:
        self._store: ConsumerStore = require(repository, ConsumerStore)
        self._repository = repository
        self._name = name

    @property
    def name(self) -> str:
        """The consumer's name: its cursor and its hold."""
        return self._name

    def position(self) -> int:
        """The position of the last event committed as handled (0 before the first)."""
        return self._store.consumer_position(self._name)

    def poll(self, limit: int = 100) -> list[StoredEvent]:
        """Up to ``limit`` ``(position, event)`` pairs after the stored cursor, in order. Polling
        holds nothing: where several processes share the name, use :meth:`run`."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise InvalidInput("Parameter [limit] must be 1..10000", parameter="limit")
        return list(self._repository.events(self.position(), limit))

    def commit(self, position: int) -> None:
        """Record that every event up to ``position`` was handled. The cursor never moves back:
        committing an older position changes nothing. A position the feed has not reached
        (past the last event :meth:`poll` can answer) is refused with
        :class:`~threadcore.errors.InvalidInput` naming ``position``: a cursor there would skip
        the events still to come."""
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise InvalidInput(
                "Parameter [position] must be a non-negative integer", parameter="position"
            )
        self._store.commit_consumer(self._name, position)

    def run(
        self,
        handler: Handler,
        *,
        stop: Stop | None = None,
        limit: int = 100,
        idle: float = 0.2,
    ) -> None:
        """Handle every event after the cursor, in order, until ``stop``: hold the name (waiting,
        ``idle`` seconds at a time, while another process holds it), call ``handler`` with each
        event (``handler(event)``, or ``handler(position, event)`` if it takes two arguments),
        commit after each, and wait up to ``idle`` seconds when there is nothing new (on
        PostgreSQL it listens, and wakes as soon as a writer opened with ``notify`` commits
        events: rule D7). An exception
        from the handler stops the run (the cursor stays at the last commit) and propagates."""
        if not callable(handler):
            raise InvalidInput("Parameter [handler] must be callable", parameter="handler")
        if not isinstance(idle, int | float) or not 0 < idle <= 60:
            raise InvalidInput("Parameter [idle] must be 0..60 seconds", parameter="idle")
        call = _caller(handler)
        stopped = _stopper(stop)
        while not stopped():
            hold = self._store.try_hold_consumer(self._name)
            if hold is None:  # another process holds the name: stand by
                time.sleep(idle)
                continue
            try:
                # until stopped, or until the hold is lost (its connection went away), when
                # another process may take the name: then stand by again
                while not stopped() and hold.held():
                    batch = self.poll(limit)
                    for position, event in batch:
                        call(position, event)
                        self.commit(position)
                        if stopped():
                            return
                    if not batch:
                        hold.wait(idle)  # woken early by a commit where the store says so
            finally:
                hold.release()

    def __repr__(self) -> str:
        return f"Consumer({self._name!r})"


def _caller(handler: Handler) -> Callable[[int, Event], object]:
    """``handler`` as a function of (position, event), whichever of the two forms it has."""
    try:
        parameters = inspect.signature(handler).parameters.values()
        required = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        takes_two = len(required) >= 2 or (
            not required and any(p.kind is p.VAR_POSITIONAL for p in parameters)
        )
    except (TypeError, ValueError):  # a builtin without a signature: give it the event
        takes_two = False
    if takes_two:
        return handler  # type: ignore[return-value]
    one: Callable[[Event], object] = handler  # type: ignore[assignment]
    return lambda position, event: one(event)


def _stopper(stop: Stop | None) -> Callable[[], bool]:
    if stop is None:
        return lambda: False
    if isinstance(stop, threading.Event):
        return stop.is_set
    if callable(stop):
        return lambda: bool(stop())
    raise InvalidInput("Parameter [stop] must be a threading.Event or a function", parameter="stop")
