"""The write half of a unit of work, shared by the adapters: writes are buffered here and the
adapter applies them all when the unit of work commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from threadcore.domain.events import Event
from threadcore.domain.model import Availability, DeliveryStatus, Message, Note, Resource, Thread
from threadcore.ports import check_attachment

__all__ = ["BufferedWrites"]

_ALIVE, _DRAFT = Availability.ALIVE, DeliveryStatus.DRAFT


class BufferedWrites:
    """Buffers ``save_thread``, ``add_message``, ``save_message``, ``save_note``,
    ``set_opted_out``, ``tombstone_messages``, ``append_events``, the directory's
    ``save_resource`` and ``delete_resource``, and ``add_attachment`` (the adapter writes the
    bytes before the messages that carry them, and sweeps what no live message names after).

    A record saved twice keeps its last state and the version it was first loaded at, so the
    adapter checks one expected version per record. A message added and then saved in the same
    unit of work stays an insert (of its last state).
    """

    __slots__ = (
        "_attachments",
        "_events",
        "_message_updates",
        "_messages",
        "_notes",
        "_opt_outs",
        "_resources",
        "_threads",
        "_tombstones",
    )

    def __init__(self) -> None:
        self._threads: dict[str, tuple[Thread, int]] = {}
        self._messages: list[Message] = []
        self._message_updates: dict[str, tuple[Message, int]] = {}
        self._notes: dict[str, tuple[Note, int]] = {}
        self._opt_outs: dict[tuple[str, str], bool] = {}
        self._tombstones: list[tuple[str, datetime]] = []
        self._events: list[Event] = []
        self._resources: dict[str, Resource | None] = {}  # None: deleted
        self._attachments: dict[str, bytes] = {}  # files' bytes by key (SHA-256)

    def save_thread(self, thread: Thread, expected_version: int) -> None:
        previous = self._threads.get(thread.id)
        if previous is not None:  # saved twice in one unit of work: the last state wins
            expected_version = previous[1]
        self._threads[thread.id] = (thread, expected_version)

    def add_message(self, message: Message) -> None:
        self._messages.append(message)

    def save_message(self, message: Message, expected_version: int) -> None:
        for i, added in enumerate(self._messages):
            if added.id == message.id:  # added in this unit of work: insert the last state
                self._messages[i] = message
                return
        previous = self._message_updates.get(message.id)
        if previous is not None:
            expected_version = previous[1]
        self._message_updates[message.id] = (message, expected_version)

    def save_note(self, note: Note, expected_version: int) -> None:
        previous = self._notes.get(note.id)
        if previous is not None:
            expected_version = previous[1]
        self._notes[note.id] = (note, expected_version)

    def set_opted_out(self, owner_number: str, guest_number: str, opted_out: bool) -> None:
        self._opt_outs[owner_number, guest_number] = opted_out

    def tombstone_messages(self, thread_id: str, at: datetime) -> None:
        self._tombstones.append((thread_id, at))

    def append_events(self, events: Iterable[Event]) -> None:
        self._events.extend(events)

    def save_resource(self, resource: Resource) -> None:
        self._resources[resource.extension_id] = resource

    def delete_resource(self, extension_id: str) -> None:
        self._resources[extension_id] = None

    def add_attachment(self, content: bytes) -> str:
        check_attachment("key", content)
        key = hashlib.sha256(content).hexdigest()
        self._attachments[key] = content
        return key

    def _touches_attachments(self) -> bool:
        """Whether this unit of work may change which files live messages carry: it stores
        files, deletes messages (or a thread's), or changes a message's attachments (only a
        draft's are changed; a tombstone's are gone). The adapter then sweeps unnamed bytes."""
        return bool(self._attachments or self._tombstones) or (
            bool(self._message_updates)  # (most units of work change none: no generator)
            and any(
                message.availability is not _ALIVE or message.status is _DRAFT
                for message, _ in self._message_updates.values()
            )
        )

    def _has_writes(self) -> bool:
        """Whether anything was written in this unit of work. (Each buffer by name, the ones a
        command fills first first: asked of every command, it stops at the first one filled.)"""
        return bool(
            self._threads
            or self._messages
            or self._events
            or self._message_updates
            or self._notes
            or self._opt_outs
            or self._tombstones
            or self._resources
            or self._attachments
        )

    def _clear(self) -> None:
        # Each buffer by name: this runs after every command, and most commands fill two or
        # three buffers (the others cost a test each).
        if self._threads:
            self._threads.clear()
        if self._messages:
            self._messages.clear()
        if self._message_updates:
            self._message_updates.clear()
        if self._notes:
            self._notes.clear()
        if self._opt_outs:
            self._opt_outs.clear()
        if self._tombstones:
            self._tombstones.clear()
        if self._events:
            self._events.clear()
        if self._resources:
            self._resources.clear()
        if self._attachments:
            self._attachments.clear()
