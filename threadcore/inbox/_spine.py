"""The spine every area of the inbox shares: the ports, the runner of commands (its own module,
:mod:`threadcore.inbox._runner`), the reads' unit of work and visibility, argument parsing."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from threadcore.clock import SystemClock
from threadcore.consumers import Consumer
from threadcore.domain.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    ThreadNotFound,
)
from threadcore.domain.model import Availability, DeliveryStatus, Policy, Resource, Thread
from threadcore.domain.queries import Page
from threadcore.domain.validation import MIN_INSTANT, check_extension_id, check_text
from threadcore.ids import RandomIds
from threadcore.inbox import _paging
from threadcore.inbox._runner import Listener, Runner
from threadcore.inbox.handlers._load import as_record, thread_for
from threadcore.ports import (
    Clock,
    DirectoryPort,
    IdGenerator,
    Queries,
    Repository,
    StoredDirectoryPort,
    StoredEvent,
    UnitOfWork,
    require,
)
from threadcore.tokens import TokenCodec

R = TypeVar("R")
S = TypeVar("S", bound="Spine")


_ALIVE = Availability.ALIVE


_UNLIMITED = 2**62


_DRAFT = DeliveryStatus.DRAFT


#: Before every instant a thread can hold (rule R18b): ``due_between`` from here is every due one.
BEFORE_ALL = MIN_INSTANT - timedelta(microseconds=1)


#: Makes the repository of an inbox given none. The composition root (``threadcore/__init__.py``)
#: sets it to the in-memory adapter: the facade names no adapter and imports no composer.
default_repository: Callable[[], Repository] | None = None


def _memory_repository() -> Repository:
    if default_repository is None:  # only when threadcore.inbox is loaded without the package
        raise InvalidInput("Parameter [repository] is required", parameter="repository")
    return default_repository()


E = TypeVar("E", bound=enum.Enum)


def _spelling_reader(members: Sequence[E], parameter: str) -> Callable[[object], E]:
    """A reader of enum members given by value or by name, in any case ("Sent", "sent",
    "sending_failed" ...); anything else is ``InvalidInput`` naming the allowed values."""
    table = {
        spelling: member
        for member in members
        for spelling in (str(member.value).lower(), member.name.lower())
    }
    allowed = ", ".join(str(m.value) for m in members)

    def read(value: object) -> E:
        member = table.get(value.lower()) if isinstance(value, str) else None
        if member is None:
            raise InvalidInput(
                f"Parameter [{parameter}] must be one of {allowed}, not {value!r:.40}",
                parameter=parameter,
            )
        return member

    return read


def _id_list(value: object, parameter: str) -> tuple[str, ...]:
    """A non-empty list of ids, each once, in the order given."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(f"Parameter [{parameter}] must be a list of ids", parameter=parameter)
    ids = tuple(dict.fromkeys(check_extension_id(v, parameter) for v in value))
    if not ids:
        raise InvalidInput(f"Parameter [{parameter}] must not be empty", parameter=parameter)
    return ids


class Spine(Runner):
    """What every area of the inbox works through (see :class:`threadcore.Inbox`): the ports, the
    runner of commands (:class:`~threadcore.inbox._runner.Runner`) and the reads' helpers."""

    def __init__(
        self,
        *,
        repository: Repository | None = None,
        directory: DirectoryPort,
        clock: Clock | None = None,
        policy: Policy | None = None,
        ids: IdGenerator | None = None,
        retries: int = 5,
        token_secret: bytes | None = None,
    ) -> None:
        super().__init__()
        self._repo = repository if repository is not None else _memory_repository()
        self._directory = directory
        # a directory stored with the threads: refreshed at the start of every unit of work
        self._stored = directory if isinstance(directory, StoredDirectoryPort) else None
        if self._stored is not None and self._stored.repository is not self._repo:
            raise InvalidInput(
                "Parameter [directory] is stored in another repository than this inbox's",
                parameter="directory",
            )
        self._clock = clock if clock is not None else SystemClock()
        self._policy = policy if policy is not None else Policy()
        self._ids = ids if ids is not None else RandomIds()
        for name, value, port in (
            ("repository", self._repo, Repository),
            ("directory", self._directory, DirectoryPort),
            ("clock", self._clock, Clock),
            ("policy", self._policy, Policy),
            ("ids", self._ids, IdGenerator),
        ):
            if not isinstance(value, port):
                raise InvalidInput(
                    f"Parameter [{name}] must satisfy {port.__name__}, not {type(value).__name__}",
                    parameter=name,
                )
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 1:
            raise InvalidInput(
                "Parameter [retries] must be a positive integer", parameter="retries"
            )
        self._retries = retries
        self._tokens = TokenCodec(token_secret, str(getattr(self._repo, "store_id", "")))

    @property
    def policy(self) -> Policy:
        """The rules this inbox applies."""
        return self._policy

    @property
    def directory(self) -> DirectoryPort:
        """The directory of resources, numbers and handlers."""
        return self._directory

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event after the command that made it has committed (in a
        :meth:`batch` on durable storage: once the whole batch has committed; never for a batch
        that is rolled back).

        Listeners run in the calling thread, in the order they subscribed. A listener that
        raises is logged (logger ``threadcore.events``) and the other listeners still hear the
        event; the command stays committed and its caller gets its result. Listeners are for
        in-process reactions: for a durable feed that survives a crash, read :meth:`events`
        with a cursor.
        """
        if not callable(listener):
            raise InvalidInput("Parameter [listener] must be callable", parameter="listener")
        self._listeners.append(listener)

    def events(
        self,
        after: int | _paging.Unset = _paging.UNSET,
        limit: int = 1000,
        *,
        cursor: str | None = None,
    ) -> Page[StoredEvent]:
        """The event outbox: up to ``limit`` ``(position, event)`` pairs in order, from the
        feed's beginning or after ``cursor``, as a :class:`~threadcore.Page` like every forward
        read. A feed's page always has a ``next_cursor`` (the position of its last event, or the
        cursor's own when nothing is new): poll with it. ``after=position`` is deprecated
        (issue 23): ``cursor=inbox.feed_cursor(position)``."""
        start = _paging.feed_start(self._tokens, "events", cursor, after)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise InvalidInput(
                "Parameter [limit] must be a non-negative integer", parameter="limit"
            )
        found = tuple(self._repo.events(start, limit))
        end = found[-1][0] if found else start
        return Page(found, _paging.feed_cursor(self._tokens, end))

    def consumer(self, name: str) -> Consumer:
        """A durable event consumer called ``name`` (a cursor stored in the database): see
        :class:`threadcore.consumers.Consumer`. Every process that asks for the same name gets
        the same cursor; :meth:`~threadcore.consumers.Consumer.run` lets one hold it at a time."""
        if not isinstance(name, str) or not 0 < len(name) <= 200 or name != name.strip():
            raise InvalidInput(
                "Parameter [name] must be a name of 1 to 200 characters without surrounding spaces",
                parameter="name",
            )
        check_text(name, "name")
        return Consumer(self._repo, name)

    def _read(self, work: Callable[[UnitOfWork], R], *, at: datetime | None = None) -> R:
        """Run the read ``work`` in a unit of work. With ``at``, the read answers the inbox as
        it is at that instant: every thread the read saw (:meth:`_saw`) that is due at ``at``
        but stored open gets its expiry written before the answer (rule R10b), and if one of
        them had changed meanwhile (an in-flight writer committed), or the answer holds them as
        stored (``_saw(..., as_stored=True)``), the read runs again."""
        if at is None:
            return self._read_once(work)
        local = self._local
        conflicts = 0
        while conflicts < self._retries:
            seen: list[Thread] = []
            local.seen, local.as_stored = seen, False
            try:
                result = self._read_once(work)
            finally:
                local.seen = None
            due = self._due(seen, at)
            if not due:
                return result
            if self._write_expiries(due):
                if not local.as_stored:
                    return result
            else:  # one changed meanwhile: read again (a read that held them as stored, too)
                conflicts += 1
        raise ConcurrencyConflict(
            "The threads this read found expired kept changing while their expiries were "
            "written; nothing was answered and the read can be retried"
        )

    def _saw_due(self, uow: UnitOfWork, cutoff: datetime, owners: frozenset[str]) -> None:
        """Note every due thread of ``owners`` (``cutoff``: now - ttl): the running read counts
        or filters by the status threads have now, so it rests on all of them (rule R10b)."""
        self._saw(require(uow, Queries).due_between(BEFORE_ALL, cutoff, owners))

    def _saw(self, threads: Iterable[Thread], *, as_stored: bool = False) -> None:
        """Note the stored threads the running read (with ``at``) bases its answer on, shown or
        left out because they are due (see :meth:`_read`); ``as_stored``: the answer holds them
        as stored, so once a due one's expiry is written the read runs again."""
        seen: list[Thread] | None = getattr(self._local, "seen", None)
        if seen is not None:
            seen.extend(threads)
            if as_stored:
                self._local.as_stored = True

    def _read_once(self, work: Callable[[UnitOfWork], R]) -> R:
        stored = self._stored
        with self._repo.unit_of_work() as uow:
            if stored is None:
                return work(uow)
            self._local.directory = stored.refresh(uow)
            try:
                return work(uow)
            finally:
                self._local.directory = None

    def _dir(self) -> DirectoryPort:
        """The directory the running call decides on: a stored directory as refreshed at the
        start of the unit of work that is running, or (outside one) as stored now."""
        stored = self._stored
        if stored is None:
            return self._directory
        current: DirectoryPort | None = getattr(self._local, "directory", None)
        if current is None:
            with self._repo.unit_of_work() as uow:
                current = stored.refresh(uow)
        return current

    def _visible(self, uow: UnitOfWork, thread_id: object, actor: str) -> tuple[Thread, Resource]:
        """For a read: the stored thread and its resource, if ``actor`` handles SMS for that
        resource; otherwise the thread does not exist for them (the rule:
        :func:`threadcore.inbox.handlers._load.thread_for`)."""
        return thread_for(uow, self._dir(), thread_id, actor)

    def _visible_as(
        self,
        uow: UnitOfWork,
        thread_id: str,
        actor: str,
        error: type[NotFound],
        record_id: str,
    ) -> tuple[Thread, Resource]:
        """Like :meth:`_visible` for a record on the thread: invisible is ``error``."""
        try:
            return self._visible(uow, thread_id, actor)
        except ThreadNotFound:
            raise as_record(error, record_id) from None

    def _owners(self, actor: str, wanted: Sequence[str] | None) -> frozenset[str]:
        """The resources ``actor`` handles, narrowed to ``wanted``; naming one they do not
        handle is a permission error."""
        handled = frozenset(r.extension_id for r in self._dir().resources_of_handler(actor))
        if wanted is None:
            return handled
        for extension_id in wanted:
            if extension_id not in handled:
                raise NotPermitted(
                    f"Extension [{actor}] is not an SMS handler of resource [{extension_id}]",
                    parameter="owner_extension_ids",
                )
        return frozenset(wanted)

    def close(self) -> None:
        """Close the repository (its connections); the inbox cannot be used afterwards."""
        close = getattr(self._repo, "close", None)
        if callable(close):
            close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Inbox(repository={self._repo!r}, policy={self._policy!r})"
