"""The write half of a unit of work, shared by the adapters: writes are buffered here and the
adapter applies them all when the unit of work commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from threadcore.domain.events import Event
from threadcore.domain.model import Message, Thread

__all__ = ["BufferedWrites"]


class BufferedWrites:
    """Buffers ``save_thread``, ``add_message``, ``tombstone_messages`` and ``append_events``.

    A thread saved twice keeps its last state and the version it was first loaded at, so the
    adapter checks one expected version per thread.
    """

    __slots__ = ("_events", "_messages", "_threads", "_tombstones")

    def __init__(self) -> None:
        self._threads: dict[str, tuple[Thread, int]] = {}
        self._messages: list[Message] = []
        self._tombstones: list[tuple[str, datetime]] = []
        self._events: list[Event] = []

    def save_thread(self, thread: Thread, expected_version: int) -> None:
        previous = self._threads.get(thread.id)
        if previous is not None:  # saved twice in one unit of work: the last state wins
            expected_version = previous[1]
        self._threads[thread.id] = (thread, expected_version)

    def add_message(self, message: Message) -> None:
        self._messages.append(message)

    def tombstone_messages(self, thread_id: str, at: datetime) -> None:
        self._tombstones.append((thread_id, at))

    def append_events(self, events: Iterable[Event]) -> None:
        self._events.extend(events)

    def _clear(self) -> None:
        self._threads.clear()
        self._messages.clear()
        self._tombstones.clear()
        self._events.clear()
