"""The spine every area of the inbox shares: ports, time, the unit-of-work runner with its
retries and claims, event publication, visibility, argument parsing."""

from __future__ import annotations

import enum
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.clock import SystemClock
from threadcore.consumers import Consumer
from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
    ConcurrencyConflict,
    ConnectionLost,
    InvalidInput,
    MessageNotFound,
    NotFound,
    NotPermitted,
    ThreadNotFound,
    ThreadNotOpen,
)
from threadcore.domain.events import Event, ThreadDeleted, ThreadResolved
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Message,
    MessageSource,
    Policy,
    Resource,
    Thread,
    ThreadStatus,
)
from threadcore.domain.queries import Page
from threadcore.domain.transitions import is_due
from threadcore.domain.validation import (
    MAX_INSTANT,
    MIN_INSTANT,
    check_body,
    check_extension_id,
    check_text,
    check_utc,
)
from threadcore.ids import RandomIds
from threadcore.ports import (
    Clock,
    DirectoryAccess,
    DirectoryPort,
    IdGenerator,
    Queries,
    Repository,
    StoredEvent,
    UnitOfWork,
    require,
)
from threadcore.tokens import TokenCodec

R = TypeVar("R")
S = TypeVar("S", bound="Spine")


Listener = Callable[[Event], None]


_INBOUND, _OUTBOUND, _ALIVE = Direction.INBOUND, Direction.OUTBOUND, Availability.ALIVE


#: A message's content beyond its body: attachments, content type, is_automated, source.
_Extra = tuple[tuple[str, ...], str, bool, MessageSource | None]


_TEXT = "text/plain"


_PLAIN: _Extra = ((), _TEXT, False, None)


_MAX_ATTACHMENTS = 10


_MAX_URL = 2048


_UNLIMITED = 2**62


_RECEIVED, _QUEUED, _DRAFT = DeliveryStatus.RECEIVED, DeliveryStatus.QUEUED, DeliveryStatus.DRAFT


_OPEN = ThreadStatus.OPEN


_EPOCH = datetime.min.replace(tzinfo=UTC)


#: Before every instant a thread can hold (rule R18b): ``due_between`` from here is every due one.
BEFORE_ALL = MIN_INSTANT - timedelta(microseconds=1)


#: How far after the store's latest instant a command runs when its clock is behind the store:
#: strictly after, so its records sort after what it builds on (rule R18a).
_TICK = timedelta(microseconds=1)


_MIN_INSTANT, _MAX_INSTANT = MIN_INSTANT, MAX_INSTANT


_events_log = logging.getLogger("threadcore.events")


class _Overtaken(Exception):
    """A command's decisions no longer hold: a thread it relied on fell due while it ran."""


class _ExpireFirst(Exception):
    """A command acted on threads that were due without closing them: their expiries are
    written first (rule R10b), then the command runs again."""

    def __init__(self, threads: Sequence[Thread]) -> None:
        super().__init__()
        self.threads = threads


def _claimable(thread_id: object) -> bool:
    """Whether ``thread_id`` can name a stored thread (anything else is refused as not found
    later, by the command itself)."""
    return isinstance(thread_id, str) and 0 < len(thread_id) <= 256 and thread_id.isascii()


def _extra(
    body: object,
    attachments: object,
    content_type: object,
    is_automated: object,
    source: object,
    policy: Policy,
) -> _Extra:
    """Check a message's content; the common case (text only) costs one body check."""
    if attachments == () and content_type == _TEXT and is_automated is False and source is None:
        check_body(body, policy.max_body_length)
        return _PLAIN
    if isinstance(attachments, str | bytes) or not isinstance(attachments, Iterable):
        raise InvalidInput(
            "Parameter [attachments] must be a list of URLs", parameter="attachments"
        )
    urls = tuple(attachments)
    if len(urls) > _MAX_ATTACHMENTS:
        raise InvalidInput(
            f"Parameter [attachments] may hold at most {_MAX_ATTACHMENTS} URLs",
            parameter="attachments",
        )
    for url in urls:
        if (
            not isinstance(url, str)
            or len(url) > _MAX_URL
            or urlsplit(url).scheme not in ("http", "https")
            or not urlsplit(url).netloc
            or any(c.isspace() or not c.isprintable() for c in url)
        ):
            raise InvalidInput(
                f"Parameter [attachments] must hold http(s) URLs of at most {_MAX_URL} "
                f"characters, not {url!r:.60}",
                parameter="attachments",
            )
    if urls and body == "":
        pass  # a picture without words
    else:
        check_body(body, policy.max_body_length)
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidInput(
            f"Parameter [content_type] must be a MIME type like text/plain, not "
            f"{content_type!r:.40}",
            parameter="content_type",
        )
    if not isinstance(is_automated, bool):
        raise InvalidInput("Parameter [is_automated] must be a bool", parameter="is_automated")
    origin = None
    if source is not None:
        try:
            origin = MessageSource(source)  # type: ignore[arg-type]
        except ValueError:
            raise InvalidInput(
                "Parameter [source] must be one of "
                f"{', '.join(s.value for s in MessageSource)}, not {source!r:.40}",
                parameter="source",
            ) from None
    return urls, content_type, is_automated, origin


_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]{0,63}/[A-Za-z0-9][\w.+-]{0,63}(;[ -~]{1,128})?")


def _existing_message(uow: UnitOfWork, message_id: str) -> Message:
    """The stored message (not a draft) with this id, or ``MessageNotFound``."""
    message = uow.message(message_id)
    if message is None or message.status is _DRAFT:
        raise MessageNotFound(f"Message [{message_id}] not found")
    return message


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


class Spine:
    """What every area of the inbox works through (see :class:`threadcore.Inbox`)."""

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
        self._repo: Repository = repository if repository is not None else InMemoryRepository()
        self._directory = directory
        # a directory stored with the threads: refreshed at the start of every unit of work
        self._stored = directory if isinstance(directory, StoredDirectory) else None
        if self._stored is not None and self._stored.repository is not self._repo:
            raise InvalidInput(
                "Parameter [directory] is stored in another repository than this inbox's",
                parameter="directory",
            )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._policy = policy if policy is not None else Policy()
        self._ids: IdGenerator = ids if ids is not None else RandomIds()
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
        self._listeners: list[Listener] = []
        self._tokens = TokenCodec(token_secret, str(getattr(self._repo, "store_id", "")))
        self._time_lock = threading.Lock()
        self._latest = _EPOCH  # the latest instant this inbox has used: time never goes back
        # per calling thread: the due instants a running command relies on, and the events of
        # a batch that are heard only once the batch has committed
        self._local = threading.local()
        # told of the events of every command as it succeeds, even inside a batch (how
        # ``threadcore replay`` tells whether a line changed anything); not public
        self._observer: Callable[[list[Event]], None] | None = None

    @property
    def policy(self) -> Policy:
        """The rules this inbox applies."""
        return self._policy

    @property
    def directory(self) -> DirectoryPort:
        """The directory of resources, numbers and handlers."""
        return self._directory

    def now(self) -> datetime:
        """The current instant: the clock port's (validated timezone-aware UTC), but never
        before an instant this inbox has already used (a clock that steps back does not take
        the inbox back in time; see rule R18)."""
        now = self._clock.now()
        if now.tzinfo is not UTC or not _MIN_INSTANT <= now <= _MAX_INSTANT:
            now = check_utc(now, "clock.now()")
        return self._not_before(now)

    def _not_before(self, instant: datetime | None) -> datetime:
        """``instant``, or the latest instant already used if that is later; remembers it."""
        if instant is None or instant <= self._latest:  # the clock stands still or stepped back
            return self._latest
        with self._time_lock:
            if instant > self._latest:
                self._latest = instant
            return self._latest

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

    def events(self, after: int = 0, limit: int = 1000) -> Page[StoredEvent]:
        """The event outbox: up to ``limit`` ``(position, event)`` pairs after position
        ``after``, in order, as a :class:`~threadcore.Page` like every list-shaped read. The
        feed's cursor is the position: read on with ``after=page[-1][0]``."""
        for name, value in (("after", after), ("limit", limit)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(
                    f"Parameter [{name}] must be a non-negative integer", parameter=name
                )
        return Page(tuple(self._repo.events(after, limit)))

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

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the commands inside the block in one storage transaction (bulk import, replay).

        A refused command inside the block raises as usual and is undone alone; an exception
        escaping the block undoes the whole batch on durable storage; a clean exit commits it.
        Subscribers hear the batch's events once it has committed (on memory, which has no
        transaction to undo, as each command ends). On PostgreSQL the batch sends its writes in
        groups: if another process changed a thread the batch changes meanwhile, the group is
        refused when sent and the whole batch with it (``StorageError``; rule D1).
        """
        local = self._local
        outer = getattr(local, "pending", None)
        # Durable storage commits a batch at its end (or not at all): its events wait for it.
        pending: list[Event] | None = (
            [] if outer is None and getattr(self._repo, "atomic_batches", True) else None
        )
        local.pending = pending if outer is None else outer
        try:
            with self._repo.batch():
                yield
        finally:
            local.pending = outer
        if pending:
            self._publish(pending)

    def _publish(self, events: Sequence[Event]) -> None:
        """Hand committed events to every listener, each isolated from the others' failures."""
        for event in events:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    _events_log.exception(
                        "Listener %r failed on %s of thread [%s]; the command stays committed",
                        listener,
                        type(event).__name__,
                        event.thread_id,
                    )

    def _run(
        self,
        work: Callable[[UnitOfWork, list[Event], datetime], R],
        *,
        pair: tuple[str, str] | None = None,
        thread_id: object = None,
        directory: DirectoryAccess = "read",
    ) -> R:
        """Run ``work`` in a unit of work, retrying on conflicts; ``work`` writes through the
        unit of work and appends the events it makes to the list it is given.

        Each attempt first claims the pair (or the thread ``thread_id``) it works on, which
        serialises it with the other commands on that pair, and only then reads the clock, never
        earlier than what the store has recorded (rule R18a). A command that relied on a thread
        being open commits only if the thread is still not due when the command is done;
        otherwise it runs again and finds the thread expired (rule R10).

        With a stored directory, the claim also reads the directory's change stamp (and
        ``directory="change"`` makes the command run alone): the command decides on the
        directory as committed when it began, which no change can move until it ends."""
        local = self._local
        claim_id = thread_id if isinstance(thread_id, str) and _claimable(thread_id) else None
        stored = self._stored
        access = directory if stored is not None else None
        lost = False
        try:
            expired_first = False  # the one rerun after writing what it found due is free
            for attempt in range(self._retries + 1):
                if attempt == self._retries and not expired_first:
                    break
                events: list[Event] = []
                relied: list[Thread] = []
                local.relied = relied
                now = _EPOCH
                try:
                    with self._repo.unit_of_work() as uow:
                        floor = uow.claim(pair=pair, thread_id=claim_id, directory=access).floor
                        if stored is not None:
                            local.directory = stored.refresh(uow)
                        now = self.now()
                        if floor is not None and floor > now:  # this clock is behind the store
                            now = self._not_before(floor + _TICK)
                        result = work(uow, events, now)
                        if relied:
                            self._check_relied(relied, events, now)
                        if events:
                            uow.append_events(events)
                except _Overtaken:
                    continue  # a thread it relied on fell due meanwhile: decide again
                except _ExpireFirst as first:
                    # it acted on a due thread without closing it: the expiry comes first in
                    # the store and the feed (rule R10b), then the command runs again
                    local.relied = None
                    self._write_expiries(first.threads)
                    expired_first = True
                    continue
                except ConcurrencyConflict:
                    # another writer got there first: back off a little, at random, and retry
                    time.sleep(random.uniform(0, 0.002 * 2**attempt))
                    continue
                except ConnectionLost:  # before its commit: nothing stored (rule D3)
                    if lost or attempt + 1 == self._retries:
                        raise
                    lost = True  # run it again, once, on a fresh connection
                    continue
                except ThreadNotOpen:
                    # refused, perhaps because a thread it relied on turned out expired: what
                    # it has shown expired is written before the refusal is answered (R10b)
                    local.relied = None
                    due = self._due(relied, now) if now is not _EPOCH else []
                    if due:
                        self._write_expiries(due)
                    raise
                local.relied = None
                if self._observer is not None:
                    self._observer(events)
                if self._listeners and events:
                    pending = getattr(local, "pending", None)
                    if pending is not None:
                        pending.extend(events)
                    else:
                        self._publish(events)
                return result
        finally:
            local.relied = None
            local.directory = None
        raise ConcurrencyConflict(
            f"The command was retried {self._retries} times and kept conflicting with other "
            "writers; it changed nothing and can be retried"
        )

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

    def _due(self, threads: Iterable[Thread], now: datetime) -> list[Thread]:
        """Those of ``threads`` (as stored) that are due at ``now`` but stored open (R10)."""
        cutoff = now - self._policy.ttl
        return [t for t in threads if is_due(t, cutoff)]

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
        """The stored thread and its resource, if ``actor`` handles SMS for that resource;
        otherwise the thread does not exist for them."""
        if not isinstance(thread_id, str):
            raise InvalidInput(
                f"Parameter [thread_id] must be a string, not {type(thread_id).__name__}",
                parameter="thread_id",
            )
        thread = uow.thread(thread_id)
        resource = None if thread is None else self._dir().resource(thread.owner.extension_id)
        if thread is None or resource is None or not resource.is_handler(actor):
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        self._rely_on(thread)
        return thread, resource

    def _rely_on(self, thread: Thread) -> None:
        """Note that the running command (if any) decides on ``thread`` as stored: if it is
        open, the command's decisions hold only before its due instant, and if it is due when
        the command runs, the command shows it expired (its expiry is written, rule R10b)."""
        relied: list[Thread] | None = getattr(self._local, "relied", None)
        if relied is not None and thread.status is _OPEN and thread.availability is _ALIVE:
            relied.append(thread)

    def _check_relied(
        self, relied: Sequence[Thread], events: Sequence[Event], now: datetime
    ) -> None:
        """Before a command commits: each thread it relied on open must still not be due (else
        :class:`_Overtaken`: it decides again), and one that was due when it ran must have been
        closed by it (else :class:`_ExpireFirst`: rule R10b)."""
        closed = {e.thread_id for e in events if isinstance(e, ThreadResolved | ThreadDeleted)}
        unwritten = [t for t in self._due(relied, now) if t.id not in closed]
        if unwritten:
            raise _ExpireFirst(unwritten)
        ttl = self._policy.ttl
        done = self._clock.now()
        for thread in relied:
            if now < thread.due_at(ttl) <= done:
                raise _Overtaken

    def _write_expiries(self, threads: Sequence[Thread]) -> bool:
        """Write the expiry of each of ``threads`` (as read, and due when read) in one unit of
        work, and say whether each was written as read (rule R10b). If one changed meanwhile
        (the unit of work conflicts), every one is read again and expired if it is still due;
        then ``False``: the caller reads again rather than answer what it read before.

        On PostgreSQL the versioned writes wait for an in-flight writer of the same thread (its
        row lock) for at most the storage's lock timeout, then fail retryably
        (``StorageError``): a reader never answers "expired" while a write that keeps the
        thread open may still commit."""
        ttl = self._policy.ttl
        first = {t.id: t for t in threads}
        attempts = 0

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> None:
            nonlocal attempts
            attempts += 1
            for thread_id, read in first.items():
                thread = read if attempts == 1 else uow.thread(thread_id)
                if thread is None:
                    continue
                new, expired = tx.catch_up(thread, now, ttl)
                if expired is not None:
                    uow.save_thread(new, thread.version)
                    events.append(expired)

        self._run(work)
        return attempts == 1

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
            raise error(f"{error.__name__[:-8]} [{record_id[:64]}] not found") from None

    def _reachable(
        self, uow: UnitOfWork, thread_id: str, actor: str | None
    ) -> tuple[Thread, Resource]:
        """The thread as :meth:`_visible` finds it for ``actor``; ``None`` (the system, an
        automation) reaches every thread whose resource exists."""
        if actor is not None:
            return self._visible(uow, thread_id, actor)
        thread = uow.thread(thread_id)
        resource = None if thread is None else self._dir().resource(thread.owner.extension_id)
        if thread is None or resource is None:
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        self._rely_on(thread)
        return thread, resource

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
