"""The records the storage port passes: the queries a repository answers, what a claim read,
an event with its position. Re-exported by :mod:`threadcore.ports` and :mod:`threadcore.storage`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

import attrs

from threadcore.domain.errors import InvalidInput
from threadcore.domain.events import Event
from threadcore.domain.model import Availability, Thread, ThreadStatus
from threadcore.domain.queries import ThreadFilter
from threadcore.domain.records import record_maker

__all__ = [
    "Claim",
    "ClaimArgs",
    "DirectoryAccess",
    "MessageQuery",
    "NoteQuery",
    "OpenThreadsArgs",
    "StoredEvent",
    "ThreadQuery",
    "check_attachment",
]

#: An event as the outbox hands it out: its position in the feed, and the event.
StoredEvent = tuple[int, Event]

#: How a command uses a stored directory (see :meth:`~threadcore.ports.Claims.claim`): ``"read"``
#: (it decides on the directory as it is), ``"change"`` (it changes it), or ``None`` (no stored
#: directory).
DirectoryAccess = Literal["read", "change"] | None


class ClaimArgs(TypedDict, total=False):
    """The keyword arguments of :meth:`~threadcore.ports.Claims.claim`, declared once for the port
    and the adapters (``def claim(self, **on: Unpack[ClaimArgs])``); each may be left out."""

    pair: tuple[str, str] | None  # the (owner number, guest number) the command is on
    thread_id: str | None  # or the stored thread it is on
    directory: DirectoryAccess  # how it uses a stored directory


class OpenThreadsArgs(TypedDict, total=False):
    """The keyword arguments of :meth:`~threadcore.ports.Queries.open_threads`, declared once for
    the port and the adapters: criteria that must all hold (``None`` or left out: none)."""

    owner_extension_id: str | None
    owner_number: str | None
    assignee_id: str | None


@attrs.frozen
class ThreadQuery:
    """What a repository's :meth:`~threadcore.ports.Queries.find_threads` selects, in its terms.

    ``status`` is the status as it is now: a stored Open, Alive thread whose latest message is at
    or before ``due_cutoff`` (now - ttl) counts as Resolved. ``after`` is the keyset position
    (creation time, id) the page starts after. ``creation_time_from`` is inclusive,
    ``creation_time_to`` exclusive.
    """

    owner_extension_ids: frozenset[str]
    due_cutoff: datetime
    status: ThreadStatus | None = None
    creation_time_from: datetime | None = None
    creation_time_to: datetime | None = None
    owner_number: str | None = None
    guest_number: str | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    after: tuple[datetime, str] | None = None

    @classmethod
    def of(cls, wanted: ThreadFilter, owners: frozenset[str], due_cutoff: datetime) -> ThreadQuery:
        """The query of a list's filter ``wanted`` over the resources ``owners``."""
        return cls(
            owner_extension_ids=owners,
            due_cutoff=due_cutoff,
            status=wanted.status,
            creation_time_from=wanted.creation_time_from,
            creation_time_to=wanted.creation_time_to,
            owner_number=wanted.owner_phone_number,
            guest_number=wanted.guest_phone_number,
            availability=frozenset(wanted.availability),
        )


@attrs.frozen
class MessageQuery:
    """What :meth:`~threadcore.ports.Queries.find_messages` selects: messages (never drafts) of
    threads owned by ``owner_extension_ids``, narrowed by every criterion that is not ``None``.

    ``thread_status`` is the thread's status now (``due_cutoff`` as in :class:`ThreadQuery`).
    ``after`` is the keyset position (creation time, id) the page starts after;
    ``creation_time_from`` is inclusive, ``creation_time_to`` exclusive.
    """

    owner_extension_ids: frozenset[str]
    due_cutoff: datetime
    thread_status: ThreadStatus | None = None
    thread_ids: frozenset[str] | None = None
    message_ids: frozenset[str] | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    creation_time_from: datetime | None = None
    creation_time_to: datetime | None = None
    after: tuple[datetime, str] | None = None


@attrs.frozen
class NoteQuery:
    """What :meth:`~threadcore.ports.Queries.find_notes` selects: notes of threads owned by
    ``owner_extension_ids``, narrowed by every criterion that is not ``None``; ``after`` is the
    keyset position (creation time, id) the page starts after."""

    owner_extension_ids: frozenset[str]
    thread_ids: frozenset[str] | None = None
    note_ids: frozenset[str] | None = None
    availability: frozenset[Availability] = frozenset({Availability.ALIVE})
    after: tuple[datetime, str] | None = None


@attrs.frozen(weakref_slot=False)
class Claim:
    """What :meth:`~threadcore.ports.Claims.claim` read, under the claim's locks.

    ``floor`` is the latest instant the store has recorded (``None`` when it is empty): the
    facade never dates the command before it. ``directory_version`` is the stored directory's
    change stamp where the claim read it with its locks (``None``: not read; ask
    :meth:`~threadcore.ports.DirectoryRecords.directory_version`). ``subject`` is the pair or
    thread id whose stored thread the claim read with it, and ``thread`` that thread (``None``:
    there is none); an adapter that reads no thread with its claim leaves ``subject`` ``None``.
    """

    floor: datetime | None
    directory_version: int | None = None
    subject: tuple[str, str] | str | None = None
    thread: Thread | None = None


#: A :class:`Claim` built without attrs' frozen ``__init__`` (every command makes one).
make_claim = record_maker(Claim)


def check_attachment(key: object, content: object = b"") -> None:
    """Refuse, alike on every adapter, a key that is not 1 to 128 ASCII letters, digits, ``-``
    or ``_``, and content that is not bytes."""
    bare = key.replace("-", "").replace("_", "") if isinstance(key, str) else ""
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= 128
        or not (bare.isascii() and bare.isalnum())
    ):
        raise InvalidInput(
            "Parameter [key] must be 1 to 128 ASCII letters, digits, - or _", parameter="key"
        )
    if not isinstance(content, bytes):
        raise InvalidInput("Parameter [content] must be bytes", parameter="content")
