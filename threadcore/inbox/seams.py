"""The inbox's public seams for the layers around it (issue 23): what ``threadcore.http``,
``threadcore.cli``, ``threadcore.aio`` and ``threadcore replay`` need of an :class:`Inbox`, so
that none of them reads its private state (``tests/test_architecture.py`` keeps it so).

Each function takes the inbox as ``self`` and is bound in :class:`threadcore.Inbox` under its
``# seams`` block: :attr:`~threadcore.Inbox.clock`, :attr:`~threadcore.Inbox.repository`,
:attr:`~threadcore.Inbox.concurrency`, :meth:`~threadcore.Inbox.observe`,
:meth:`~threadcore.Inbox.thread_exists`, :meth:`~threadcore.Inbox.message_by_provider_id` and
:meth:`~threadcore.Inbox.prefetch`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from threadcore.domain.errors import InvalidInput
from threadcore.domain.events import Event
from threadcore.domain.model import Message
from threadcore.inbox._spine import Spine
from threadcore.ports import Clock, Prefetch, Repository, offers

__all__ = [
    "Observer",
    "clock",
    "concurrency",
    "message_by_provider_id",
    "observe",
    "prefetch",
    "repository",
    "thread_exists",
]

#: Told the events of one command as it succeeds (see :func:`observe`).
Observer = Callable[[Sequence[Event]], None]

_events_log = logging.getLogger("threadcore.events")


def clock(self: Spine) -> Clock:
    """The clock port this inbox reads (:meth:`~threadcore.Inbox.now` is never earlier than an
    instant the inbox already used; the port may be: it is the clock as given)."""
    return self._clock


def repository(self: Spine) -> Repository:
    """The repository this inbox stores in (for what belongs to the store rather than to the
    rules: a readiness check, closing it)."""
    return self._repo


def concurrency(self: Spine) -> int:
    """How many units of work the repository lets run at once: a pooled repository's
    ``max_size`` (PostgreSQL's pool), else 1 (SQLite and memory let one in at a time).
    :class:`~threadcore.aio.AsyncInbox` sizes its workers with it."""
    size = getattr(self._repo, "max_size", None)
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return size
    return 1


def observe(self: Spine, observer: Observer) -> Callable[[], None]:
    """Call ``observer`` with the events of every command as the command succeeds, even inside
    a :meth:`~threadcore.Inbox.batch` (before the batch commits: the batch may still roll back);
    a command that changed nothing tells an empty sequence.

    This is how a caller tells what each command did (``threadcore replay`` counts the lines
    that changed nothing); to react to what is committed, use
    :meth:`~threadcore.Inbox.subscribe`. Observers run in the calling thread in the order they
    were added; one that raises is logged (logger ``threadcore.events``) and changes nothing
    else: the command keeps its result and the other observers are still told. Answers a
    function that stops telling ``observer`` (observers may be added and stopped from any
    thread)."""
    if not callable(observer):
        raise InvalidInput("Parameter [observer] must be callable", parameter="observer")

    def told(events: Sequence[Event]) -> None:
        try:
            observer(tuple(events))
        except Exception:
            _events_log.exception("Observer %r failed; the command keeps its result", observer)

    def change(observers: tuple[Callable[[Sequence[Event]], None], ...]) -> None:
        self._observers = observers
        self._observer = None if not observers else _fan_out(observers)

    with _observing:
        change((*self._observers, told))

    def stop() -> None:
        with _observing:
            change(tuple(o for o in self._observers if o is not told))

    return stop


#: Serialises changes to an inbox's observers (the runner reads them without a lock: each
#: change replaces the tuple and the one callable it calls).
_observing = threading.Lock()


def _fan_out(
    observers: tuple[Callable[[Sequence[Event]], None], ...],
) -> Callable[[list[Event]], None]:
    if len(observers) == 1:
        return observers[0]

    def every(events: list[Event]) -> None:
        for observer in observers:
            observer(events)

    return every


def thread_exists(self: Spine, thread_id: object) -> bool:
    """Whether a thread with this id is stored, whatever its status and whoever may see it
    (``threadcore.http`` tells a thread the caller may not see from one that is not there)."""
    if not isinstance(thread_id, str):
        return False
    return self._read(lambda uow: uow.thread(thread_id) is not None)


def message_by_provider_id(self: Spine, provider_message_id: str) -> Message | None:
    """The stored message carrying the carrier's ``provider_message_id``, or ``None``; an
    operator's read, without an actor (rule O1)."""
    if not isinstance(provider_message_id, str) or not provider_message_id:
        raise InvalidInput(
            "Parameter [providerMessageId] must be a non-empty string",
            parameter="providerMessageId",
        )
    with self._repo.unit_of_work() as uow:  # (no directory needed: read it as stored)
        return uow.message_by_provider_id(provider_message_id)


def prefetch(
    self: Spine,
    *,
    provider_message_ids: Sequence[str] = (),
    pairs: Sequence[tuple[str, str]] = (),
) -> bool:
    """Look ahead for the commands a :meth:`~threadcore.Inbox.batch` is about to run: read in
    one go every message these carrier ids name, and the open thread and the opt-out of each
    (owner number, guest number) pair, so that the batch knows them without a read each
    (rule D1). Answers whether the storage offered it (the optional
    :class:`~threadcore.storage.Prefetch` capability): without it nothing is read here and the
    batch reads pair by pair. Outside a batch it changes nothing either.
    """
    if not provider_message_ids and not pairs:
        return False
    with self._repo.unit_of_work() as uow:
        if not offers(uow, Prefetch):
            return False
        uow.messages_by_provider_ids(list(provider_message_ids))
        uow.open_threads_for_pairs(list(pairs))
        uow.opted_out_pairs(list(pairs))
    return True
