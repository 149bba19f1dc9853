"""The runner every command goes through, and the context a command's handler is given.

A handler is a function ``handler(command, ctx) -> result`` (:mod:`threadcore.inbox.handlers`):
it loads through ``ctx.uow``, asks the domain to decide, saves what was decided and appends the
events to ``ctx.events``. :meth:`Runner._run` is all that surrounds it, for every command:

1. open a unit of work and claim what the command works on (a pair of numbers, a thread, the
   directory), which serialises it with the other commands on it;
2. read the clock, never earlier than the store's latest instant (rule R18a); at exactly that
   instant, its new records must sort after those already created then, or it runs again a
   microsecond later with the same ids (rule Q2);
3. refresh a stored directory as this transaction sees it, build the :class:`Context`, call the
   handler;
4. before the commit, re-check each open thread the handler relied on (:func:`rely_on`): one that
   fell due meanwhile makes the command decide again (rule R10), one that was due and was not
   closed has its expiry written first and the command runs again (rule R10b);
5. append the events and commit; on a conflict back off and retry, on a lost connection retry
   once; a refusal for a closed thread first writes the expiries it showed;
6. publish the events to the listeners (after the batch, inside :meth:`Runner.batch`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import attrs

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ConcurrencyConflict, ConnectionLost, ThreadNotOpen
from threadcore.domain.events import CREATING, Event, ThreadDeleted, ThreadResolved
from threadcore.domain.model import Availability, Message, Note, Policy, Thread, ThreadStatus
from threadcore.domain.transitions import is_due
from threadcore.domain.validation import MAX_INSTANT, MIN_INSTANT, check_utc
from threadcore.ports import (
    ClaimLookups,
    Clock,
    CreationTies,
    DirectoryAccess,
    DirectoryPort,
    IdGenerator,
    Repository,
    StoredDirectoryPort,
    UnitOfWork,
    offers,
)

__all__ = ["ONE_ACCOUNT", "Context", "Runner", "rely_on"]

C = TypeVar("C")
R = TypeVar("R")

Listener = Callable[[Event], None]

#: The account every command runs for today: the platform's ``~`` (the caller's own account).
#: Serving several accounts from one store changes the context, the keys and the directory.
ONE_ACCOUNT = "~"

#: Reruns for a tie at one instant that count as no attempt (rule Q2), and the commands' events
#: an inbox keeps unfolded for its own ties at one instant.
_TIES, _UNFOLDED = 3, 64

#: How far after the store's latest instant a command runs when its clock is behind the store:
#: strictly after, so its records sort after what it builds on (rule R18a).
TICK = timedelta(microseconds=1)

_EPOCH = datetime.min.replace(tzinfo=UTC)
_OPEN, _ALIVE = ThreadStatus.OPEN, Availability.ALIVE
_MIN_INSTANT, _MAX_INSTANT = MIN_INSTANT, MAX_INSTANT

_events_log = logging.getLogger("threadcore.events")


@attrs.define(slots=True, weakref_slot=False, eq=False)
class Context:
    """What a command's handler works with, for one attempt of the command.

    ``uow`` is its unit of work, ``now`` the instant it runs at, ``directory`` the directory as
    seen in that transaction, ``account`` the account it runs for. The handler appends the
    events it makes to ``events`` (with what it saves: :meth:`save_thread` ...)
    and, through :func:`rely_on`, the open threads its decisions rest on to ``relied``;
    ``runner`` is the runner running it (for :meth:`after`)."""

    uow: UnitOfWork
    now: datetime
    directory: DirectoryPort
    policy: Policy
    ids: IdGenerator
    account: str
    events: list[Event]
    relied: list[Thread]
    runner: Runner

    def after(self, floor: datetime | None) -> datetime:
        """The command's time once it builds on a record dated ``floor`` (rule R18a): ``now``,
        or just after ``floor`` when the clock is behind it."""
        return self.runner._after(floor, self.now)

    def save_thread(self, new: Thread, version: int, event: Event | None) -> None:
        """Save the thread the domain decided (``new``, over the record read at ``version``) and
        its event; nothing where it decided no change (``event`` is ``None``)."""
        if event is not None:
            self.uow.save_thread(new, version)
            self.events.append(event)

    def save_message(self, new: Message, version: int, event: Event | None) -> None:
        """Save the message the domain decided and its event, as :meth:`save_thread`."""
        if event is not None:
            self.uow.save_message(new, version)
            self.events.append(event)

    def save_note(self, new: Note, version: int, event: Event | None) -> None:
        """Save the note the domain decided (``version`` 0: a new one) and its event, as
        :meth:`save_thread`."""
        if event is not None:
            self.uow.save_note(new, version)
            self.events.append(event)


def rely_on(ctx: Context, thread: Thread) -> None:
    """Note that the command decides on ``thread`` as stored: if it is open, the command's
    decisions hold only before its due instant, and if it is due when the command runs, the
    command shows it expired (its expiry is written, rule R10b)."""
    if thread.status is _OPEN and thread.availability is _ALIVE:
        ctx.relied.append(thread)


class _Overtaken(Exception):
    """A command's decisions no longer hold: a thread it relied on fell due while it ran."""


class _Tied(Exception):
    """A command dated at the store's latest instant would have created a record sorting before
    one already created then: it runs again a microsecond later, with the same ids (rule Q2)."""

    def __init__(self, at: datetime, drawn: list[str]) -> None:
        super().__init__()
        self.at = at
        self.drawn = drawn


class _Drawn:
    """Ids from ``ids``, after ``replay`` (what an earlier attempt drew, given again in order);
    keeps what it gave in ``drawn``."""

    __slots__ = ("_ids", "_replay", "drawn")

    def __init__(self, ids: IdGenerator, replay: Sequence[str]) -> None:
        self._ids = ids
        self._replay = list(reversed(replay))
        self.drawn: list[str] = []

    def new_id(self) -> str:
        new = self._replay.pop() if self._replay else self._ids.new_id()
        self.drawn.append(new)
        return new


def _past(floor: datetime | None, now: datetime) -> datetime:
    """``now``, or one tick after ``floor`` when the clock is behind the store (rule R18a)."""
    return floor + TICK if floor is not None and floor > now else now


def _created_at(events: Iterable[Event], at: datetime) -> Iterator[str]:
    """The ids of the walked records (threads, messages, notes) ``events`` create at ``at``."""
    for event in events:
        field = CREATING.get(type(event))
        if field is not None and event.at == at:
            yield getattr(event, field)


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


class Runner:
    """Runs handlers: claims, time, retries, the re-check before commit, publication."""

    _repo: Repository
    _directory: DirectoryPort
    _stored: StoredDirectoryPort | None
    _clock: Clock
    _policy: Policy
    _ids: IdGenerator
    _retries: int
    _account: str

    def __init__(self) -> None:
        self._account = ONE_ACCOUNT
        self._listeners: list[Listener] = []
        self._time_lock = threading.Lock()
        self._latest = _EPOCH  # the latest instant this inbox has used: time never goes back
        # the latest instant this inbox committed a command at, and the events of its
        # commands then (folded into the greatest id it created then when a tie asks: rule
        # Q2; kept as they come, at no cost, since a real clock seldom asks)
        self._made: tuple[datetime, list[Sequence[Event]], list[str]] = (_EPOCH, [], [""])
        # per calling thread: the events of a batch, heard only once the batch has committed,
        # and what a read (with ``at``) rests on (threadcore.inbox._spine)
        self._local = threading.local()
        # told of the events of every command as it succeeds, even inside a batch (how
        # ``threadcore replay`` tells whether a line changed anything); not public
        self._observer: Callable[[list[Event]], None] | None = None
        self._observers: tuple[Callable[[Sequence[Event]], None], ...] = ()  # (seams.observe)

    # --- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The current instant: the clock port's (validated timezone-aware UTC), but never
        before an instant this inbox has already used (a clock that steps back does not take
        the inbox back in time; see rule R18)."""
        return self._now_after(None)

    def _now_after(self, floor: datetime | None) -> datetime:
        """:meth:`now`, or just after ``floor`` (the store's latest instant) if that is later:
        ``self._after(floor, self.now())`` in one step (every command asks it)."""
        now = self._clock.now()
        if now.tzinfo is not UTC or not _MIN_INSTANT <= now <= _MAX_INSTANT:
            now = check_utc(now, "clock.now()")
        latest = self._latest
        if now < latest:  # the clock stands still or stepped back
            now = latest
        return self._not_before(_past(floor, now))

    def _not_before(self, instant: datetime | None) -> datetime:
        """``instant``, or the latest instant already used if that is later; remembers it."""
        if instant is None or instant <= self._latest:  # the clock stands still or stepped back
            return self._latest
        with self._time_lock:
            if instant > self._latest:
                self._latest = instant
            return self._latest

    def _after(self, floor: datetime | None, now: datetime) -> datetime:
        """``now``, or just after ``floor`` (the store's latest instant) if that is later."""
        later = _past(floor, now)
        return now if later is now else self._not_before(later)

    # --- publication ----------------------------------------------------------------------------
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
        batched = self._batched()
        local.batched = True
        try:
            with self._repo.batch():
                yield
        finally:
            local.pending = outer
            local.batched = batched
        if pending:
            self._publish(pending)

    def _batched(self) -> bool:
        """Whether the calling thread is inside :meth:`batch` (which takes no walks' gate, and
        leaves ties at one instant as they come: rule Q2)."""
        return bool(getattr(self._local, "batched", False))

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

    # --- the runner -----------------------------------------------------------------------------
    def _run(
        self,
        handler: Callable[[C, Context], R],
        command: C,
        *,
        pair: tuple[str, str] | None = None,
        thread_id: object = None,
        directory: DirectoryAccess = "read",
        carrier_id: str | None = None,
    ) -> R:
        """Run ``handler(command, ctx)`` in a unit of work, retrying on conflicts (see the
        module's docstring for the steps).

        Each attempt first claims the pair (or the thread ``thread_id``) it works on, and only
        then reads the clock. With a stored directory, the claim also reads the directory's
        change stamp (and ``directory="change"`` makes the command run alone): the command
        decides on the directory as committed when it began, which no change can move until it
        ends. ``carrier_id``: the carrier's id the command looks a message up by, read with the
        claim where the unit of work offers it (:class:`~threadcore.ports.ClaimLookups`)."""
        claim_id = thread_id if isinstance(thread_id, str) and _claimable(thread_id) else None
        stored = self._stored
        access = directory if stored is not None else None
        seen = self._directory
        lost = False
        expired_first = False  # the one rerun after writing what it found due is free
        tied: datetime | None = None  # an instant a tie moved the command past (rule Q2)
        replay: Sequence[str] = ()  # the ids drawn before it moved: drawn again, in order
        ties = 0  # reruns for a tie: free, as many as _TIES
        for attempt in range(self._retries + 1 + _TIES):
            attempt -= ties
            if (attempt == self._retries and not expired_first) or attempt > self._retries:
                break
            events: list[Event] = []
            relied: list[Thread] = []
            now = _EPOCH
            try:
                with self._repo.unit_of_work() as uow:
                    if carrier_id is not None and offers(uow, ClaimLookups):
                        uow.look_for(carrier_id)  # in the claim's round trip (issue 24)
                    floor = uow.claim(pair=pair, thread_id=claim_id, directory=access).floor
                    if stored is not None:
                        seen = stored.refresh(uow)
                    now = self._now_after(floor)
                    if tied is not None and now <= tied:
                        now = self._not_before(tied + TICK)
                    last = None  # at exactly the floor: what its new records must sort after
                    if now == floor and offers(uow, CreationTies) and not self._batched():
                        last = uow.last_id_at(now)
                        # not when it is this inbox's own (its ids increase), unless the ids
                        # are an earlier attempt's (drawn before others it has committed)
                        if last is not None and not replay and self._own(now, last):
                            last = None
                    drawing = _Drawn(self._ids, replay) if last is not None or replay else None
                    ids = self._ids if drawing is None else drawing
                    ctx = Context(
                        uow, now, seen, self._policy, ids, self._account, events, relied, self
                    )
                    result = handler(command, ctx)
                    if last is not None and any(i <= last for i in _created_at(events, now)):
                        raise _Tied(now, [] if drawing is None else drawing.drawn)
                    if relied:
                        self._check_relied(relied, events, now)
                    if events:
                        uow.append_events(events)
            except _Overtaken:
                continue  # a thread it relied on fell due meanwhile: decide again
            except _Tied as tie:
                # a new record would sort before one created at the same instant, behind a
                # walk's cursor: a microsecond later, with the same ids (rule Q2)
                tied, replay = tie.at, tie.drawn
                ties += ties < _TIES  # (beyond that, each counts as an attempt)
                continue
            except _ExpireFirst as first:
                # it acted on a due thread without closing it: the expiry comes first in the
                # store and the feed (rule R10b), then the command runs again
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
                # refused, perhaps because a thread it relied on turned out expired: what it
                # has shown expired is written before the refusal is answered (R10b)
                due = self._due(relied, now) if now is not _EPOCH else []
                if due:
                    self._write_expiries(due)
                raise
            if events:  # (what _own folds)
                made = self._made
                if made[0] != now:
                    self._made = (now, [events], [""])
                elif len(made[1]) < _UNFOLDED:
                    made[1].append(events)
                else:  # (a frozen clock and no tie asked, as in a batch: fold them now)
                    self._own(now, "")
                    made[1].append(events)
            if self._observer is not None:
                self._observer(events)
            if self._listeners and events:
                pending = getattr(self._local, "pending", None)
                if pending is not None:
                    pending.extend(events)
                else:
                    self._publish(events)
            return result
        raise ConcurrencyConflict(
            f"The command was retried {self._retries} times and kept conflicting with other "
            "writers; it changed nothing and can be retried"
        )

    def _own(self, at: datetime, last: str) -> bool:
        """Whether ``last``, the greatest id created at ``at``, is this inbox's own: the
        greatest id it created at that instant."""
        made_at, pending, greatest = self._made
        if made_at != at:
            return False
        if pending:  # folded once asked
            greatest[0] = max([greatest[0], *(i for e in pending for i in _created_at(e, at))])
            pending.clear()
        return greatest[0] == last

    def _due(self, threads: Iterable[Thread], now: datetime) -> list[Thread]:
        """Those of ``threads`` (as stored) that are due at ``now`` but stored open (R10)."""
        cutoff = now - self._policy.ttl
        return [t for t in threads if is_due(t, cutoff)]

    def _check_relied(
        self, relied: Sequence[Thread], events: Sequence[Event], now: datetime
    ) -> None:
        """Before a command commits: each thread it relied on open must still not be due (else
        :class:`_Overtaken`: it decides again), and one that was due when it ran must have been
        closed by it (else :class:`_ExpireFirst`: rule R10b)."""
        ttl = self._policy.ttl
        cutoff = now - ttl
        for thread in relied:
            if is_due(thread, cutoff):  # rare: the events say whether the command closed it
                closed = {
                    e.thread_id for e in events if isinstance(e, ThreadResolved | ThreadDeleted)
                }
                unwritten = [t for t in self._due(relied, now) if t.id not in closed]
                if unwritten:
                    raise _ExpireFirst(unwritten)
                break
        done = self._clock.now()
        for thread in relied:
            if now < thread.due_at(ttl) <= done:  # (the due rule, stated once in the domain)
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
        attempts = [0]
        self._run(_write_expiries, (threads, attempts))
        return attempts[0] == 1


def _write_expiries(command: tuple[Sequence[Thread], list[int]], ctx: Context) -> None:
    """The handler of :meth:`Runner._write_expiries`: the threads as read on its first attempt,
    read again on a retry."""
    threads, attempts = command
    attempts[0] += 1
    for read in {t.id: t for t in threads}.values():
        thread = read if attempts[0] == 1 else ctx.uow.thread(read.id)
        if thread is None:
            continue
        new, expired = tx.catch_up(thread, ctx.now, ctx.policy.ttl)
        ctx.save_thread(new, thread.version, expired)
