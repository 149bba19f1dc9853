"""The facade: load through the ports, call the pure domain, save, publish.

All rules live in :mod:`threadcore.domain`; this module only orchestrates the repository, the
directory, the clock and the id generator, one unit of work per command.
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from threadcore.adapters.memory import InMemoryRepository
from threadcore.clock import SystemClock
from threadcore.domain import events as ev
from threadcore.domain import messaging, timeline
from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
    ConcurrencyConflict,
    DraftNotFound,
    IdempotencyConflict,
    InvalidInput,
    InvalidPageToken,
    InvalidSyncToken,
    MessageNotFound,
    NoteNotFound,
    NotFound,
    NotPermitted,
    RecipientOptedOut,
    ThreadNotFound,
    UnknownPhoneNumber,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Entry,
    EntryScope,
    EntryType,
    Handler,
    Keyword,
    Message,
    MessageSource,
    Note,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
    make_message,
)
from threadcore.domain.queries import (
    MessageFilter,
    NoteFilter,
    Page,
    Paging,
    SyncResult,
    SyncType,
    ThreadFilter,
)
from threadcore.domain.validation import (
    MAX_INSTANT,
    MIN_INSTANT,
    check_body,
    check_extension_id,
    check_text,
    check_utc,
    e164,
)
from threadcore.ids import RandomIds
from threadcore.ports import (
    Clock,
    DirectoryPort,
    IdGenerator,
    MessageQuery,
    MutableDirectoryPort,
    NoteQuery,
    Repository,
    StoredEvent,
    ThreadQuery,
    UnitOfWork,
)
from threadcore.tokens import TokenCodec

__all__ = ["Inbox"]

R = TypeVar("R")
Listener = Callable[[Event], None]

_SWEEP_BATCH = 500
_MAX_PER_PAGE = 1000
_MAX_PAGE = 1000
_INBOUND, _OUTBOUND, _ALIVE = Direction.INBOUND, Direction.OUTBOUND, Availability.ALIVE
_MAX_PROVIDER_ID = 256
#: A message's content beyond its body: attachments, content type, is_automated, source.
_Extra = tuple[tuple[str, ...], str, bool, MessageSource | None]
_TEXT = "text/plain"
_PLAIN: _Extra = ((), _TEXT, False, None)


class Inbox:
    """A shared SMS inbox: the thread rules over a repository, a directory and a clock.

    Every command and query takes the acting handler's extension id as ``actor=`` (except
    :meth:`receive`, which the carrier calls, :meth:`expire` and the directory changes). Commands
    are atomic: all their effects and events are stored together, or none; a refused command
    raises a :class:`~threadcore.ThreadcoreError` subclass and changes nothing.

    ``token_secret`` signs page and sync tokens; give every instance of a service the same secret
    (by default each inbox draws its own, so its tokens die with it).
    """

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

    # --- plumbing -------------------------------------------------------------------------------
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

    def events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """The event outbox: ``(position, event)`` pairs after position ``after``, in order."""
        for name, value in (("after", after), ("limit", limit)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(
                    f"Parameter [{name}] must be a non-negative integer", parameter=name
                )
        return self._repo.events(after, limit)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the commands inside the block in one storage transaction (bulk import, replay).

        A refused command inside the block raises as usual and is undone alone; an exception
        escaping the block undoes the whole batch on durable storage; a clean exit commits it.
        Subscribers hear the batch's events once it has committed (on memory, which has no
        transaction to undo, as each command ends).
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
    ) -> R:
        """Run ``work`` in a unit of work, retrying on conflicts; ``work`` writes through the
        unit of work and appends the events it makes to the list it is given.

        Each attempt first claims the pair (or the thread ``thread_id``) it works on, which
        serialises it with the other commands on that pair, and only then reads the clock, never
        earlier than what the store has recorded (rule R18a). A command that relied on a thread
        being open commits only if the thread is still not due when the command is done;
        otherwise it runs again and finds the thread expired (rule R10)."""
        local = self._local
        claim_id = thread_id if isinstance(thread_id, str) and _claimable(thread_id) else None
        try:
            for attempt in range(self._retries):
                events: list[Event] = []
                dues: list[datetime] = []
                local.dues = dues
                try:
                    with self._repo.unit_of_work() as uow:
                        floor = uow.claim(pair=pair, thread_id=claim_id)
                        now = self.now()
                        if floor is not None and floor > now:  # this clock is behind the store
                            now = self._not_before(floor + _TICK)
                        result = work(uow, events, now)
                        if events:
                            uow.append_events(events)
                        if dues:
                            done = self._clock.now()
                            for due in dues:
                                if now < due <= done:
                                    raise _Overtaken
                except _Overtaken:
                    continue  # a thread it relied on fell due meanwhile: decide again
                except ConcurrencyConflict:
                    # another writer got there first: back off a little, at random, and retry
                    time.sleep(random.uniform(0, 0.002 * 2**attempt))
                    continue
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
            local.dues = None
        raise ConcurrencyConflict(
            f"The command was retried {self._retries} times and kept conflicting with other "
            "writers; it changed nothing and can be retried"
        )

    def _read(self, work: Callable[[UnitOfWork], R]) -> R:
        with self._repo.unit_of_work() as uow:
            return work(uow)

    def _visible(self, uow: UnitOfWork, thread_id: object, actor: str) -> tuple[Thread, Resource]:
        """The stored thread and its resource, if ``actor`` handles SMS for that resource;
        otherwise the thread does not exist for them."""
        if not isinstance(thread_id, str):
            raise InvalidInput(
                f"Parameter [thread_id] must be a string, not {type(thread_id).__name__}",
                parameter="thread_id",
            )
        thread = uow.thread(thread_id)
        resource = None if thread is None else self._directory.resource(thread.owner.extension_id)
        if thread is None or resource is None or not resource.is_handler(actor):
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        self._rely_on(thread)
        return thread, resource

    def _rely_on(self, thread: Thread) -> None:
        """Note that the running command (if any) decides on ``thread`` as stored: if it is
        open, the command's decisions hold only before its due instant."""
        dues: list[datetime] | None = getattr(self._local, "dues", None)
        if dues is not None and thread.status is _OPEN and thread.availability is _ALIVE:
            dues.append(thread.latest_message_at + self._policy.ttl)

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

    def _current_for_pair(
        self, uow: UnitOfWork, owner: str, guest: str, now: datetime, events: list[Event]
    ) -> Thread | None:
        """The pair's open thread at ``now``; a stored one that is due gets its expiry written."""
        thread = uow.open_thread_for_pair(owner, guest)
        if thread is None:
            return None
        self._rely_on(thread)
        current, expired = tx.catch_up(thread, now, self._policy.ttl)
        if expired is not None:
            uow.save_thread(current, thread.version)
            events.append(expired)
            return None
        return thread

    def _replay(
        self,
        uow: UnitOfWork,
        provider_message_id: str | None,
        direction: Direction,
        body: str,
        author: str | None,
        owner: str | None,
        guest: str | None,
        thread_id: str | None,
    ) -> Message | None:
        """The message first stored with ``provider_message_id``, if this call repeats it (same
        direction, pair or thread, author and body); ``None`` for an unused id."""
        if provider_message_id is None:
            return None
        original = uow.message_by_provider_id(provider_message_id)
        if original is None:
            return None
        inbound = original.direction is _INBOUND
        same = (
            original.direction is direction
            and (original.author.extension_id if original.author else None) == author
            and (original.body == body or original.availability is not _ALIVE)
            and (thread_id is None or original.thread_id == thread_id)
            and (
                owner is None or owner == (original.to_number if inbound else original.from_number)
            )
            and (
                guest is None or guest == (original.from_number if inbound else original.to_number)
            )
        )
        if not same:
            raise IdempotencyConflict(
                f"Provider message id [{provider_message_id}] was already used for another message",
                parameter="provider_message_id",
            )
        return original

    def _handled_number(self, number: str, actor: str) -> Resource:
        """The resource of ``number`` if ``actor`` handles it. A number of a resource the actor
        does not handle answers exactly as an unknown number, so numbers cannot be probed
        (rules R4, R14)."""
        resource = self._directory.resource_for_number(number)
        if resource is None or not resource.is_handler(actor):
            raise UnknownPhoneNumber(
                f"Phone number [{number}] is not a number of any resource extension [{actor}] "
                "handles"
            )
        return resource

    def _owner_of(self, number: str) -> Resource:
        resource = self._directory.resource_for_number(number)
        if resource is None:
            raise UnknownPhoneNumber(f"Phone number [{number}] belongs to no resource")
        return resource

    def _post(
        self,
        uow: UnitOfWork,
        events: list[Event],
        thread: Thread,
        loaded_version: int,
        direction: Direction,
        body: str,
        author: ThreadUser | None,
        now: datetime,
        provider_message_id: str | None,
        extra: _Extra = _PLAIN,
        keyword: Keyword | None = None,
    ) -> Message:
        """Add a message to the open ``thread`` (loaded at ``loaded_version``; 0 when new)."""
        owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
        inbound = direction is _INBOUND
        attachments, content_type, is_automated, source = extra
        message = make_message(
            self._ids.new_id(),
            thread.id,
            direction,
            body,
            guest if inbound else owner,
            owner if inbound else guest,
            author,
            now,
            now,
            _ALIVE,
            provider_message_id,
            _RECEIVED if inbound else _QUEUED,
            None,
            None,
            None,
            None,
            is_automated,
            source,
            content_type,
            attachments,
            (),
            keyword,
            1,
        )
        thread, added = tx.add_message(thread, message)
        uow.save_thread(thread, loaded_version)
        uow.add_message(message)
        events.append(added)
        return message

    def _open_or_current(
        self,
        uow: UnitOfWork,
        events: list[Event],
        resource: Resource,
        owner: str,
        guest: str,
        author: ThreadUser | None,
        now: datetime,
    ) -> tuple[Thread, int, datetime]:
        """The pair's open thread and the version it was loaded at, or a new thread (version 0)
        assigned to ``author`` when none is open at ``now``; and the command's time from then on
        (a new thread may move it later)."""
        thread = self._current_for_pair(uow, owner, guest, now, events)
        if thread is not None:
            return thread, thread.version, now
        # A new thread is dated after every thread already committed (rule Q2).
        floor = uow.claim_creation()
        if floor is not None and floor > now:
            now = self._not_before(floor + _TICK)
        initiator = author.extension_id if author is not None else None
        thread, opened = tx.open_thread(
            self._ids.new_id(), resource, owner, guest, author, initiator, now
        )
        events.append(opened)
        return thread, 0, now

    # --- messages -------------------------------------------------------------------------------
    def receive(
        self,
        *,
        owner_number: str,
        guest_number: str,
        body: str,
        provider_message_id: str | None = None,
        attachments: Sequence[str] = (),
        content_type: str = _TEXT,
    ) -> Message:
        """Store an inbound message from ``guest_number`` to the resource number ``owner_number``.

        It goes on the pair's open thread; with none open, a new open thread without an assignee
        is created. A repeated ``provider_message_id`` returns the original message unchanged.
        A body that is exactly an opt-out keyword opts the guest out of ``owner_number`` (an
        opt-in keyword opts them back in); see ``Policy``.
        """
        owner = e164(owner_number, "owner_number")
        guest = e164(guest_number, "guest_number")
        if owner == guest:
            raise InvalidInput("A number cannot message itself", parameter="guest_number")
        extra = _extra(body, attachments, content_type, False, None, self._policy)
        pid = _check_provider_id(provider_message_id)
        word = body.strip()
        keyword = self._policy.keyword(word) if len(word) <= _MAX_KEYWORD_BODY else None

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            if pid is not None:
                original = self._replay(uow, pid, _INBOUND, body, None, owner, guest, None)
                if original is not None:
                    return original
            resource = self._owner_of(owner)
            thread, loaded, now = self._open_or_current(
                uow, events, resource, owner, guest, None, now
            )
            message = self._post(
                uow, events, thread, loaded, _INBOUND, body, None, now, pid, extra, keyword
            )
            if keyword is not None and keyword is not Keyword.HELP:
                opting_out = keyword is Keyword.OPT_OUT
                if uow.opted_out(owner, guest) is not opting_out:
                    uow.set_opted_out(owner, guest, opting_out)
                    change = ev.GuestOptedOut if opting_out else ev.GuestOptedIn
                    events.append(change(thread.id, now, owner, guest, message.id))
            return message

        return self._run(work, pair=(owner, guest))

    def send(
        self,
        *,
        actor: str,
        body: str,
        owner_number: str | None = None,
        guest_number: str | None = None,
        thread_id: str | None = None,
        provider_message_id: str | None = None,
        attachments: Sequence[str] = (),
        content_type: str = _TEXT,
        is_automated: bool = False,
        source: MessageSource | str | None = None,
    ) -> Message:
        """Send an outbound message as handler ``actor``, naming either the pair of numbers or
        ``thread_id=``.

        By pair: with no open thread for it, a new thread is created and assigned to the sender.
        On an open thread only its assignee may send (an unassigned thread is refused unless
        ``Policy(claim_on_send=True)``). A thread named by id must exist for the actor, be alive
        and open. A guest who opted out of the owner number gets nothing
        (:class:`~threadcore.RecipientOptedOut`).
        """
        actor = check_extension_id(actor, "actor")
        extra = _extra(body, attachments, content_type, is_automated, source, self._policy)
        pid = _check_provider_id(provider_message_id)
        if thread_id is not None:
            if owner_number is not None or guest_number is not None:
                raise InvalidInput(
                    "Name either thread_id or owner_number and guest_number, not both",
                    parameter="thread_id",
                )
            return self._send_on_thread(actor, body, thread_id, pid, extra)
        if owner_number is None or guest_number is None:
            raise InvalidInput(
                "Name either thread_id or both owner_number and guest_number",
                parameter="owner_number" if owner_number is None else "guest_number",
            )
        owner = e164(owner_number, "owner_number")
        guest = e164(guest_number, "guest_number")
        if owner == guest:
            raise InvalidInput("A number cannot message itself", parameter="guest_number")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            original = self._replay(uow, pid, _OUTBOUND, body, actor, owner, guest, None)
            if original is not None:
                return original
            resource = self._handled_number(owner, actor)
            author = resource.user(actor)
            thread, loaded, now = self._open_or_current(
                uow, events, resource, owner, guest, author, now
            )
            if loaded:
                thread, claimed = tx.sender_may_send(
                    thread, resource, actor, self._policy.claim_on_send, now
                )
                if claimed is not None:
                    events.append(claimed)
            _check_not_opted_out(uow, thread)
            return self._post(uow, events, thread, loaded, _OUTBOUND, body, author, now, pid, extra)

        return self._run(work, pair=(owner, guest))

    def _send_on_thread(
        self, actor: str, body: str, thread_id: str, pid: str | None, extra: _Extra
    ) -> Message:

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            original = self._replay(uow, pid, _OUTBOUND, body, actor, None, None, thread_id)
            if original is not None:
                return original
            stored, resource = self._visible(uow, thread_id, actor)
            return self._send_as(uow, events, stored, resource, actor, body, now, pid, extra)

        return self._run(work, thread_id=thread_id)

    def _send_as(
        self,
        uow: UnitOfWork,
        events: list[Event],
        stored: Thread,
        resource: Resource,
        actor: str,
        body: str,
        now: datetime,
        pid: str | None,
        extra: _Extra,
    ) -> Message:
        """Send on the stored thread as ``actor``: the thread must be open (now), the actor its
        assignee (or claiming it), the guest not opted out."""
        thread = tx.effective(stored, now, self._policy.ttl)
        thread, claimed = tx.sender_may_send(
            thread, resource, actor, self._policy.claim_on_send, now
        )
        if claimed is not None:
            events.append(claimed)
        _check_not_opted_out(uow, thread)
        author = resource.user(actor)
        return self._post(
            uow, events, thread, stored.version, _OUTBOUND, body, author, now, pid, extra
        )

    # --- thread commands ------------------------------------------------------------------------
    def assign(self, thread_id: str, *, actor: str, assignee: str | None) -> Thread:
        """Assign, reassign or (``assignee=None``) unassign an open thread.

        Anyone handling the resource may assign an unassigned thread to any of its handlers; the
        current assignee may hand it to anyone or unassign it; others may only take it for
        themselves. Assigning the current assignee again changes nothing.
        """
        actor = check_extension_id(actor, "actor")
        if assignee is not None:
            assignee = check_extension_id(assignee, "assignee")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
            stored, resource = self._visible(uow, thread_id, actor)
            thread = tx.effective(stored, now, self._policy.ttl)
            new, event = tx.assign(thread, resource, actor, assignee, now)
            if event is not None:
                uow.save_thread(new, stored.version)
                events.append(event)
            return new

        return self._run(work, thread_id=thread_id)

    def resolve(self, thread_id: str, *, actor: str) -> Thread:
        """Resolve an open thread (reason Manual; the assignee is removed). Any handler of the
        thread's resource may; resolved is final."""
        actor = check_extension_id(actor, "actor")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
            stored, _ = self._visible(uow, thread_id, actor)
            thread = tx.effective(stored, now, self._policy.ttl)
            new, event = tx.resolve(thread, StatusReason.MANUAL, actor, now)
            uow.save_thread(new, stored.version)
            events.append(event)
            return new

        return self._run(work, thread_id=thread_id)

    def delete(self, thread_id: str, *, actor: str) -> Thread:
        """Delete a thread, open or resolved: its record stays as a tombstone (availability
        Deleted, assignee removed, status and reason kept) and its messages are gone."""
        actor = check_extension_id(actor, "actor")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Thread:
            stored, _ = self._visible(uow, thread_id, actor)
            thread, expired = tx.catch_up(stored, now, self._policy.ttl)
            if expired is not None:
                events.append(expired)
            new, event = tx.delete(thread, actor, now)
            uow.save_thread(new, stored.version)
            uow.tombstone_messages(new.id, now)
            events.append(event)
            return new

        return self._run(work, thread_id=thread_id)

    # --- delivery status and classifications ---------------------------------------------------
    def record_delivery(
        self,
        message_id: str,
        status: DeliveryStatus | str,
        at: datetime | None = None,
        error_code: str | None = None,
    ) -> Message:
        """Record a carrier's delivery report for an outbound message (no actor: the carrier).

        Never moves a message backwards: a report that repeats the status or lies behind it
        changes nothing; an impossible move raises :class:`~threadcore.ImpossibleStatusChange`.
        ``at`` is when the carrier says it happened (default now). Returns the message.
        """
        message_id = check_extension_id(message_id, "message_id")
        reported = _delivery_status(status)
        when = None if at is None else check_utc(at, "at")
        code = _optional_text(error_code, "error_code", 64)

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            stored = uow.message(message_id)
            if stored is None:
                raise MessageNotFound(f"Message [{message_id}] not found")
            new, event = messaging.record_delivery(stored, reported, when or now, code, now)
            if event is not None:
                uow.save_message(new, stored.version)
                events.append(event)
            return new

        return self._run(work)

    def classify(
        self,
        message_id: str,
        classification: str,
        *,
        confidence: float | None = None,
        reason: str | None = None,
        is_action_required: bool | None = None,
        is_reply_required: bool | None = None,
        language: str | None = None,
        action_recommendation: str | None = None,
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Message:
        """Attach an automation's classification to a message (``actor=None``: the automation
        acts as the system). Returns the message with the classification appended."""
        message_id = check_extension_id(message_id, "message_id")
        if actor is not None:
            actor = check_extension_id(actor, "actor")
        label = _optional_text(classification, "classification", 128)
        if label is None:
            raise InvalidInput("Parameter [classification] is required", parameter="classification")
        if confidence is not None and (
            not isinstance(confidence, int | float)
            or isinstance(confidence, bool)
            or not -(2.0**53) <= confidence <= 2.0**53
            or not math.isfinite(confidence)
        ):
            raise InvalidInput(
                "Parameter [confidence] must be a finite number", parameter="confidence"
            )
        for name, flag in (
            ("is_action_required", is_action_required),
            ("is_reply_required", is_reply_required),
        ):
            if flag is not None and not isinstance(flag, bool):
                raise InvalidInput(f"Parameter [{name}] must be a bool or None", parameter=name)
        texts = (
            _optional_text(reason, "reason", 4000),
            _optional_text(language, "language", 35),
            _optional_text(action_recommendation, "action_recommendation", 4000),
        )
        extra = _json_details(details)

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            stored = _existing_message(uow, message_id)
            if actor is not None:
                self._visible_as(uow, stored.thread_id, actor, MessageNotFound, message_id)
            record = Classification(
                self._ids.new_id(),
                label,
                now,
                None if confidence is None else float(confidence),
                texts[0],
                is_action_required,
                is_reply_required,
                texts[1],
                texts[2],
                extra,
            )
            new, event = messaging.classify(stored, record, actor, now)
            uow.save_message(new, stored.version)
            events.append(event)
            return new

        return self._run(work)

    def delete_messages(self, message_ids: Sequence[str], *, actor: str) -> builtins.list[Message]:
        """Delete single messages: each becomes a tombstone (body and attachments gone). Any
        handler of a message's resource may, on open or resolved threads. Every id is checked
        before anything changes. The thread's label follows its newest alive message."""
        actor = check_extension_id(actor, "actor")
        ids = _id_list(message_ids, "message_ids")
        ttl = self._policy.ttl

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Message]:
            found = [_existing_message(uow, i) for i in ids]
            threads: dict[str, Thread] = {}
            for message in found:  # every id visible before any thread state is told (R14)
                if message.thread_id not in threads:
                    threads[message.thread_id] = self._visible_as(
                        uow, message.thread_id, actor, MessageNotFound, message.id
                    )[0]
            for stored in threads.values():
                tx.check(stored, tx.Command.DELETE_MESSAGE)
            current: dict[str, Thread] = {}
            for thread_id, stored in threads.items():  # a due thread's expiry comes first
                current[thread_id], expired = tx.catch_up(stored, now, ttl)
                if expired is not None:
                    events.append(expired)
            result = []
            for message in found:
                new, event = messaging.delete_message(
                    message, threads[message.thread_id], actor, now
                )
                if event is not None:
                    uow.save_message(new, message.version)
                    events.append(event)
                result.append(new)
            gone = {m.id for m in result}
            for thread_id, stored in threads.items():
                thread = current[thread_id]
                alive = [
                    m
                    for m in uow.messages(thread_id)
                    if m.availability is _ALIVE and m.status is not _DRAFT and m.id not in gone
                ]
                relabelled = messaging.relabel(thread, alive, now)
                if relabelled is not thread:  # the record changed: say so on its deletions
                    events[:] = [
                        attrs.evolve(e, relabelled=True)
                        if isinstance(e, ev.MessageDeleted) and e.thread_id == thread_id
                        else e
                        for e in events
                    ]
                if relabelled is not stored:
                    uow.save_thread(relabelled, stored.version)
            return result

        return self._run(work)

    # --- drafts ---------------------------------------------------------------------------------
    def save_draft(
        self,
        thread_id: str,
        *,
        actor: str | None,
        body: str,
        attachments: Sequence[str] = (),
        is_automated: bool = False,
        source: MessageSource | str | None = None,
        draft_id: str | None = None,
    ) -> Message:
        """Save a new draft on an open thread (or, with ``draft_id=``, change one). A draft is a
        message with status Draft: not sent, not activity, not in the message lists.

        ``actor=None`` is an automation: its drafts have no author and are ``is_automated``.
        """
        if actor is not None:
            actor = check_extension_id(actor, "actor")
        if not isinstance(thread_id, str):
            raise InvalidInput(
                f"Parameter [thread_id] must be a string, not {type(thread_id).__name__}",
                parameter="thread_id",
            )
        atts, _, automated, origin = _extra(
            body, attachments, _TEXT, is_automated or actor is None, source, self._policy
        )
        if draft_id is not None:
            draft_id = check_extension_id(draft_id, "draft_id")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            if draft_id is None:
                stored, resource = self._reachable(uow, thread_id, actor)
                thread = tx.effective(stored, now, self._policy.ttl)
                draft, saved = messaging.new_draft(
                    self._ids.new_id(),
                    thread,
                    None if actor is None else resource.user(actor),
                    body,
                    atts,
                    automated,
                    origin,
                    now,
                )
                uow.add_message(draft)
                events.append(saved)
                return draft
            old = self._draft(uow, draft_id, actor)
            if old.thread_id != thread_id:
                raise DraftNotFound(f"Draft [{draft_id}] not found on thread [{thread_id[:64]}]")
            stored, _ = self._reachable(uow, old.thread_id, actor)
            thread = tx.effective(stored, now, self._policy.ttl)
            draft, changed = messaging.edit_draft(
                old, thread, actor, body, atts, automated, origin, now
            )
            if changed is not None:
                uow.save_message(draft, old.version)
                events.append(changed)
            return draft

        return self._run(work, thread_id=thread_id)

    def send_draft(self, draft_id: str, *, actor: str) -> Message:
        """Send a draft as ``actor`` under the rules of :meth:`send` on its thread; the draft is
        gone and the new message (a new id, authored by the sender) is returned."""
        actor = check_extension_id(actor, "actor")
        draft_id = check_extension_id(draft_id, "draft_id")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            draft = self._draft(uow, draft_id, actor)
            stored, resource = self._visible(uow, draft.thread_id, actor)
            extra = (draft.attachments, draft.content_type, draft.is_automated, draft.source)
            message = self._send_as(
                uow, events, stored, resource, actor, draft.body, now, None, extra
            )
            uow.save_message(messaging.tombstone(draft, now), draft.version)
            sent = ev.DraftSent(draft.thread_id, now, draft.id, message.id, actor)
            events.insert(len(events) - 1, sent)  # before the MessageAdded it became
            return message

        return self._run(work)

    def discard_draft(self, draft_id: str, *, actor: str) -> Message:
        """Throw a draft away unsent (also on a resolved thread). Returns it as a tombstone."""
        actor = check_extension_id(actor, "actor")
        draft_id = check_extension_id(draft_id, "draft_id")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            draft = self._draft(uow, draft_id, actor)
            stored, _ = self._visible(uow, draft.thread_id, actor)
            gone, event = messaging.discard_draft(draft, stored, actor, now)
            uow.save_message(gone, draft.version)
            events.append(event)
            return gone

        return self._run(work)

    def drafts(self, thread_id: str, *, actor: str) -> builtins.list[Message]:
        """The thread's drafts, oldest first."""
        actor = check_extension_id(actor, "actor")

        def read(uow: UnitOfWork) -> builtins.list[Message]:
            self._visible(uow, thread_id, actor)
            return [
                m
                for m in uow.messages(thread_id)
                if m.status is _DRAFT and m.availability is _ALIVE
            ]

        return self._read(read)

    def _draft(self, uow: UnitOfWork, draft_id: str, actor: str | None) -> Message:
        draft = uow.message(draft_id)
        if draft is None or draft.status is not _DRAFT or draft.availability is not _ALIVE:
            raise DraftNotFound(f"Draft [{draft_id}] not found")
        if actor is not None:
            self._visible_as(uow, draft.thread_id, actor, DraftNotFound, draft_id)
        return draft

    def _reachable(
        self, uow: UnitOfWork, thread_id: str, actor: str | None
    ) -> tuple[Thread, Resource]:
        """The thread as :meth:`_visible` finds it for ``actor``; ``None`` (the system, an
        automation) reaches every thread whose resource exists."""
        if actor is not None:
            return self._visible(uow, thread_id, actor)
        thread = uow.thread(thread_id)
        resource = None if thread is None else self._directory.resource(thread.owner.extension_id)
        if thread is None or resource is None:
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        return thread, resource

    # --- opt-out --------------------------------------------------------------------------------
    def opted_out(self, *, actor: str, owner_number: str, guest_number: str) -> bool:
        """Whether the guest has opted out of messages from the owner number (the actor must
        handle that number's resource)."""
        actor = check_extension_id(actor, "actor")
        owner = e164(owner_number, "owner_number")
        guest = e164(guest_number, "guest_number")
        self._handled_number(owner, actor)
        return self._read(lambda uow: uow.opted_out(owner, guest))

    # --- internal notes -------------------------------------------------------------------------
    def add_note(self, thread_id: str, *, actor: str, text: str) -> Note:
        """Add an internal note (never sent to the guest) to an open thread; any handler of the
        thread's resource may."""
        actor = check_extension_id(actor, "actor")
        text = check_body(text, self._policy.max_note_length, "text")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Note:
            stored, resource = self._visible(uow, thread_id, actor)
            thread = tx.effective(stored, now, self._policy.ttl)
            note, added = messaging.new_note(
                self._ids.new_id(), thread, resource.user(actor), text, now
            )
            uow.save_note(note, 0)
            events.append(added)
            return note

        return self._run(work, thread_id=thread_id)

    def edit_note(self, note_id: str, *, actor: str, text: str) -> Note:
        """Change a note's text: only its author, only while its thread is open."""
        actor = check_extension_id(actor, "actor")
        note_id = check_extension_id(note_id, "note_id")
        text = check_body(text, self._policy.max_note_length, "text")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Note:
            note, thread = self._note(uow, note_id, actor, now)
            new, edited = messaging.edit_note(note, thread, actor, text, now)
            if edited is not None:
                uow.save_note(new, note.version)
                events.append(edited)
            return new

        return self._run(work)

    def delete_notes(self, note_ids: Sequence[str], *, actor: str) -> builtins.list[Note]:
        """Delete notes (they become tombstones): only their author, only while their threads
        are open. Every id is checked before anything changes."""
        actor = check_extension_id(actor, "actor")
        ids = _id_list(note_ids, "note_ids")

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Note]:
            changes = []
            for note_id in ids:
                note, thread = self._note(uow, note_id, actor, now)
                changes.append((note, messaging.delete_note(note, thread, actor, now)))
            result = []
            for note, (new, deleted) in changes:
                if deleted is not None:
                    uow.save_note(new, note.version)
                    events.append(deleted)
                result.append(new)
            return result

        return self._run(work)

    def _note(
        self, uow: UnitOfWork, note_id: str, actor: str, now: datetime
    ) -> tuple[Note, Thread]:
        note = uow.note(note_id)
        if note is None:
            raise NoteNotFound(f"Note [{note_id}] not found")
        stored, _ = self._visible_as(uow, note.thread_id, actor, NoteNotFound, note_id)
        return note, tx.effective(stored, now, self._policy.ttl)

    def expire(self) -> list[Thread]:
        """Write every expiry that is due (the sweep) and return the threads it resolved.

        Reads and commands already see due threads as resolved; the sweep only makes the
        stored records and the event feed catch up.
        """
        ttl = self._policy.ttl
        resolved: list[Thread] = []
        while True:

            def work(uow: UnitOfWork, events: list[Event], now: datetime) -> list[Thread]:
                batch = []
                for thread in uow.due_threads(now - ttl, _SWEEP_BATCH):
                    new, event = tx.expire(thread, ttl)
                    uow.save_thread(new, thread.version)
                    events.append(event)
                    batch.append(new)
                return batch

            batch = self._run(work)
            resolved.extend(batch)
            if len(batch) < _SWEEP_BATCH:
                return resolved

    # --- queries --------------------------------------------------------------------------------
    def get(self, thread_id: str, *, actor: str) -> Thread:
        """The thread as it is now (expiry applied), if ``actor`` handles its resource."""
        actor = check_extension_id(actor, "actor")
        now = self.now()
        stored, _ = self._read(lambda uow: self._visible(uow, thread_id, actor))
        return tx.effective(stored, now, self._policy.ttl)

    def messages(
        self,
        thread_id: str,
        *,
        actor: str,
        per_page: int | None = None,
        page_token: str | None = None,
    ) -> Page[Message]:
        """The thread's alive messages, oldest first (none once the thread is deleted).

        Without ``per_page`` every message comes in one page; with it, pages of that size and a
        ``next_page_token`` for the next one.
        """
        actor = check_extension_id(actor, "actor")
        size = _MAX_PER_PAGE * 1000 if per_page is None else _check_per_page(per_page)
        start = 0
        if page_token is not None:
            payload = self._tokens.decode(page_token, "messages", actor, InvalidPageToken)
            if payload.get("t") != thread_id or not isinstance(payload.get("i"), int):
                raise InvalidPageToken("issued for another thread")
            start = payload["i"]

        def read(uow: UnitOfWork) -> Page[Message]:
            self._visible(uow, thread_id, actor)
            stored = [m for m in uow.messages(thread_id) if m.status is not _DRAFT]
            found: list[Message] = []
            position = start
            while position < len(stored) and len(found) < size:
                if stored[position].availability is _ALIVE:
                    found.append(stored[position])
                position += 1
            more = any(m.availability is _ALIVE for m in stored[position:])
            token = (
                self._tokens.encode("messages", actor, {"t": thread_id, "i": position})
                if more
                else None
            )
            if per_page is not None:
                return Page(tuple(found), token, Paging(per_page))
            return _numbered_page(found, 1, max(len(found), 1))  # all of them: one page

        return self._read(read)

    def message(self, message_id: str, *, actor: str) -> Message:
        """One message (alive or a tombstone), if ``actor`` handles its thread's resource."""
        actor = check_extension_id(actor, "actor")
        message_id = check_extension_id(message_id, "message_id")

        def read(uow: UnitOfWork) -> Message:
            message = _existing_message(uow, message_id)
            self._visible_as(uow, message.thread_id, actor, MessageNotFound, message_id)
            return message

        return self._read(read)

    def list_messages(
        self,
        *,
        actor: str,
        filter: MessageFilter | None = None,
        per_page: int = 100,
        page_token: str | None = None,
        page: int | None = None,
    ) -> Page[Message]:
        """Messages across the threads ``actor`` may see that pass ``filter``, by creation time
        then id. Walk the pages with ``next_page_token``, or ask for ``page=N`` (a snapshot with
        ``paging``, as :meth:`list`). Drafts are never listed."""
        actor = check_extension_id(actor, "actor")
        wanted = _filter(filter, MessageFilter)
        owners = self._owners(actor, wanted.owner_extension_ids)
        cutoff = self.now() - self._policy.ttl

        def find(uow: UnitOfWork, after: tuple[datetime, str] | None, limit: int) -> list[Message]:
            query = MessageQuery(
                owners,
                cutoff,
                thread_status=wanted.thread_status,
                thread_ids=_maybe_set(wanted.thread_ids),
                message_ids=_maybe_set(wanted.message_ids),
                availability=frozenset(wanted.availability),
                creation_time_from=wanted.creation_time_from,
                creation_time_to=wanted.creation_time_to,
                after=after,
            )
            return uow.find_messages(query, limit)

        return self._keyset_list(
            "message-list", actor, wanted, per_page, page_token, page, find, _message_key
        )

    def list_notes(
        self,
        *,
        actor: str,
        filter: NoteFilter | None = None,
        per_page: int = 100,
        page_token: str | None = None,
        page: int | None = None,
    ) -> Page[Note]:
        """Notes of the threads ``actor`` may see that pass ``filter``, by creation time then
        id. Walk the pages with ``next_page_token``, or ask for ``page=N`` (a snapshot with
        ``paging``, as :meth:`list`)."""
        actor = check_extension_id(actor, "actor")
        wanted = _filter(filter, NoteFilter)
        owners = self._owners(actor, wanted.owner_extension_ids)

        def find(uow: UnitOfWork, after: tuple[datetime, str] | None, limit: int) -> list[Note]:
            query = NoteQuery(
                owners,
                thread_ids=_maybe_set(wanted.thread_ids),
                note_ids=_maybe_set(wanted.note_ids),
                availability=frozenset(wanted.availability),
                after=after,
            )
            return uow.find_notes(query, limit)

        return self._keyset_list(
            "note-list", actor, wanted, per_page, page_token, page, find, _note_key
        )

    def _keyset_list(
        self,
        kind: str,
        actor: str,
        wanted: object,
        per_page: int,
        page_token: str | None,
        page: int | None,
        find: Callable[[UnitOfWork, tuple[datetime, str] | None, int], builtins.list[F]],
        key: Callable[[F], tuple[datetime, str]],
    ) -> Page[F]:
        """A page of records ordered by (creation time, id): by token (keyset, stable under
        change) or by number (a snapshot with the platform's paging block)."""
        per_page = _check_per_page(per_page)
        _check_page(page, page_token)
        fingerprint = _fingerprint(wanted)
        after = self._page_after(kind, actor, fingerprint, page_token)
        if page is not None:
            everything = self._read(lambda uow: find(uow, after, _UNLIMITED))
            return _numbered_page(everything, page, per_page)
        found = self._read(lambda uow: find(uow, after, per_page + 1))
        token = None
        if len(found) > per_page:
            token = self._page_token(kind, actor, fingerprint, *key(found[per_page - 1]))
        return Page(tuple(found[:per_page]), token, Paging(per_page))

    def _page_after(
        self, kind: str, actor: str, fingerprint: str, page_token: str | None
    ) -> tuple[datetime, str] | None:
        """The keyset position a page token continues after (``None`` without a token)."""
        if page_token is None:
            return None
        payload = self._tokens.decode(page_token, kind, actor, InvalidPageToken)
        if payload.get("f") != fingerprint:
            raise InvalidPageToken("issued for another filter")
        try:
            return datetime.fromisoformat(payload["c"]), str(payload["i"])
        except (KeyError, TypeError, ValueError):
            raise InvalidPageToken("malformed") from None

    def _page_token(
        self, kind: str, actor: str, fingerprint: str, created: datetime, record_id: str
    ) -> str:
        return self._tokens.encode(
            kind, actor, {"f": fingerprint, "c": created.isoformat(), "i": record_id}
        )

    def list(
        self,
        *,
        actor: str,
        filter: ThreadFilter | None = None,
        per_page: int = 100,
        page_token: str | None = None,
        page: int | None = None,
    ) -> Page[Thread]:
        """The threads ``actor`` may see that pass ``filter``, by creation time then id.

        Walk the pages with ``next_page_token`` (stable while threads change: never skips or
        repeats a thread), or ask for ``page=N`` (1..1000) as the platform's clients do; that
        result also carries ``paging`` (page, perPage, pageStart, pageEnd, totalPages,
        totalElements) but is only a snapshot: threads created or changed between calls move
        the numbered pages.
        """
        actor = check_extension_id(actor, "actor")
        filter = _filter(filter, ThreadFilter)
        per_page = _check_per_page(per_page)
        _check_page(page, page_token)
        owners = self._owners(actor, filter.owner_extension_ids)
        fingerprint = _fingerprint(filter)
        after = self._page_after("threads", actor, fingerprint, page_token)
        now = self.now()
        query = ThreadQuery(
            owner_extension_ids=owners,
            due_cutoff=now - self._policy.ttl,
            status=filter.status,
            creation_time_from=filter.creation_time_from,
            creation_time_to=filter.creation_time_to,
            owner_number=filter.owner_phone_number,
            guest_number=filter.guest_phone_number,
            availability=frozenset(filter.availability),
            after=after,
        )

        def read(uow: UnitOfWork) -> tuple[list[Thread], bool, Paging | None]:
            if page is None:
                found = uow.find_threads(query, per_page + 1)
                return found[:per_page], len(found) > per_page, Paging(per_page)
            offset = (page - 1) * per_page
            found = uow.find_threads(query, per_page, offset)
            total = uow.count_threads(query)
            if not found:
                return found, False, Paging(per_page)
            paging = Paging(
                per_page=per_page,
                page=page,
                page_start=offset,
                page_end=offset + len(found) - 1,
                total_pages=-(-total // per_page),
                total_elements=total,
            )
            return found, offset + len(found) < total, paging

        found, more, paging = self._read(read)
        token = None
        if more:
            last = found[-1]
            token = self._page_token("threads", actor, fingerprint, last.creation_time, last.id)
        ttl = self._policy.ttl
        return Page(tuple(tx.effective(t, now, ttl) for t in found), token, paging)

    def sync(
        self,
        *,
        actor: str,
        sync_type: SyncType | str = SyncType.FULL,
        sync_token: str | None = None,
    ) -> SyncResult[Thread]:
        """Full sync (FSync): every open, alive thread ``actor`` may see, newest modification
        first. Incremental sync (ISync, with the ``sync_token`` of the previous answer): every
        thread the actor may see whose record changed since that token was issued, including
        expiries no sweep has written yet and deletions (as tombstones).

        A tampered, foreign, malformed or too old token, a change in the resources the actor
        handles, or more changes than ``Policy.sync_max_changes`` raise
        :class:`~threadcore.InvalidSyncToken`: the client must do a full sync.
        """
        actor = check_extension_id(actor, "actor")
        kind = _sync_kind(sync_type)
        owners = self._owners(actor, None)
        fingerprint = hashlib.sha256(repr(sorted(owners)).encode()).hexdigest()[:16]
        now = self.now()
        ttl = self._policy.ttl
        if kind is SyncType.FULL:
            if sync_token is not None:
                raise InvalidInput("Parameter [syncToken] is only for ISync", parameter="syncToken")

            def full(uow: UnitOfWork) -> tuple[int, int, list[Thread]]:
                position, at_event = uow.change_position(), uow.event_position()
                found = [
                    view
                    for t in _open_threads_of(uow, owners)
                    if (view := tx.effective(t, now, ttl)).status is ThreadStatus.OPEN
                ]
                return position, at_event, found

            position, event_position, records = self._read(full)
        else:
            since, position_then, event_then = self._sync_since(
                sync_token, "sync", actor, fingerprint, now
            )
            now = self._not_before(since)  # issued by an instance whose clock is ahead
            limit = self._policy.sync_max_changes

            def incremental(uow: UnitOfWork) -> tuple[int, int, list[Thread]]:
                position, at_event = uow.change_position(), uow.event_position()
                if position_then > position or event_then > at_event:
                    raise InvalidSyncToken(_RESTORED)
                changed = {t.id: t for t in uow.changed_since(position_then, owners, limit)}
                if len(changed) > limit:
                    raise InvalidSyncToken(f"more than {limit} threads changed")
                for t in uow.due_between(since - ttl, now - ttl, owners):
                    changed[t.id] = t
                found, seen = [], []
                for t in changed.values():
                    view = tx.effective(t, now, ttl)
                    if (
                        view.status_reason is StatusReason.THREAD_EXPIRED
                        and view.availability is _ALIVE
                        and view.last_modified_time <= since
                    ):
                        seen.append(view)  # an expiry the client was told of, written since?
                    else:
                        found.append(view)
                if seen:
                    # A sweep's expiry is not news; a relabel (a message deleted) after the
                    # expiry is, even in the same instant.
                    later = uow.events_since(event_then, at_event, owners, limit)
                    relabelled = (
                        {
                            e.thread_id
                            for _, e in later
                            if isinstance(e, ev.MessageDeleted) and e.relabelled
                        }
                        if len(later) <= limit
                        else {t.id for t in seen}  # too many to tell: report them again
                    )
                    found += [t for t in seen if t.id in relabelled]
                if len(found) > limit:
                    raise InvalidSyncToken(f"more than {limit} threads changed")
                return position, at_event, found

            position, event_position, records = self._read(incremental)
        records.sort(key=lambda t: (t.last_modified_time, t.id), reverse=True)
        token = self._tokens.encode(
            "sync",
            actor,
            {"p": position, "e": event_position, "t": now.isoformat(), "f": fingerprint},
        )
        return SyncResult(tuple(records), kind, token, now)

    def _sync_since(
        self, token: str | None, kind: str, actor: str, fingerprint: str, now: datetime
    ) -> tuple[datetime, int, int]:
        """The instant, change position and event position an incremental sync token was issued
        at, once the token is checked (signature, actor, kind, the resources handled, age)."""
        if token is None:
            raise InvalidSyncToken("missing")
        payload = self._tokens.decode(token, kind, actor, InvalidSyncToken)
        since, position, event_position = _sync_state(payload)
        if payload.get("f") != fingerprint:
            raise InvalidSyncToken("the resources this extension handles have changed")
        max_age = self._policy.sync_token_max_age
        if now - since > max_age:
            raise InvalidSyncToken("too old")
        if since - now > max_age:  # signed here, yet that far ahead: a clock was set wrong
            raise InvalidSyncToken("issued in the future; check the clocks")
        return since, position, event_position

    def sync_entries(
        self,
        *,
        actor: str,
        sync_type: SyncType | str = SyncType.FULL,
        scope: EntryScope | str = EntryScope.ASSIGNED_TO_ME,
        thread_ids: Sequence[str] | None = None,
        sync_token: str | None = None,
    ) -> SyncResult[Entry]:
        """The threads' timelines as entries (messages, notes, hints), newest change first.

        Full (FSync): the alive messages and notes of the open threads in ``scope``
        (``Explicit``: the given ``thread_ids``, open or not). Incremental (ISync, with the
        previous answer's ``sync_token``): every entry added or changed since, in every thread
        the actor may see, with the hints of what happened (expiries included). Token errors
        raise :class:`~threadcore.InvalidSyncToken`: do a full sync.
        """
        actor = check_extension_id(actor, "actor")
        kind = _sync_kind(sync_type)
        resources = self._directory.resources_of_handler(actor)
        owners = frozenset(r.extension_id for r in resources)
        fingerprint = hashlib.sha256(repr(sorted(owners)).encode()).hexdigest()[:16]
        now = self.now()
        ttl = self._policy.ttl
        cutoff = now - ttl
        wanted = _entry_scope(scope)  # (an incremental sync covers every thread, whatever scope)
        if kind is SyncType.FULL:
            if sync_token is not None:
                raise InvalidInput("Parameter [syncToken] is only for ISync", parameter="syncToken")
            if wanted is EntryScope.EXPLICIT:
                explicit = _id_list(thread_ids, "thread_ids")
            elif thread_ids is not None:
                raise InvalidInput(
                    "Parameter [thread_ids] is only for the Explicit scope", parameter="thread_ids"
                )

            def full(uow: UnitOfWork) -> tuple[int, builtins.list[Entry]]:
                position = uow.event_position()
                if wanted is EntryScope.EXPLICIT:
                    chosen = frozenset(self._visible(uow, t, actor)[0].id for t in explicit)
                else:
                    mine = actor if wanted is EntryScope.ASSIGNED_TO_ME else None
                    chosen = frozenset(
                        t.id
                        for t in _open_threads_of(uow, owners, mine)
                        if t.latest_message_at > cutoff and _in_scope(t, wanted, actor)
                    )
                if not chosen:
                    return position, []
                messages = uow.find_messages(
                    MessageQuery(owners, cutoff, thread_ids=chosen), _UNLIMITED
                )
                notes = uow.find_notes(NoteQuery(owners, thread_ids=chosen), _UNLIMITED)
                return position, [
                    *map(timeline.message_entry, messages),
                    *map(timeline.note_entry, notes),
                ]

            position, records = self._read(full)
        else:
            if thread_ids is not None:
                raise InvalidInput(
                    "Parameter [thread_ids] is only for a full sync", parameter="thread_ids"
                )
            since, position_then, _ = self._sync_since(
                sync_token, "entries", actor, fingerprint, now
            )
            now = self._not_before(since)  # issued by an instance whose clock is ahead
            limit = self._policy.sync_max_changes
            users = {h.extension_id: h.as_user() for r in resources for h in r.handlers}

            def user_of(extension_id: str | None) -> ThreadUser | None:
                if extension_id is None:
                    return None
                return users.get(extension_id) or ThreadUser(extension_id)

            def incremental(uow: UnitOfWork) -> tuple[int, builtins.list[Entry]]:
                position = uow.event_position()
                if position_then > position:
                    raise InvalidSyncToken(_RESTORED)
                changes = uow.events_since(position_then, position, owners, limit)
                if len(changes) > limit:
                    raise InvalidSyncToken(f"more than {limit} changes happened")
                hints: dict[str, Entry] = {}
                message_ids: set[str] = set()
                note_ids: set[str] = set()
                for at, event in changes:
                    hint = timeline.hint_entry(at, event, user_of)
                    if hint is not None:
                        # (a swept expiry dated at or before the token: the client saw it then)
                        if not (hint.status_reason is _EXPIRED and hint.creation_time <= since):
                            hints[hint.id] = hint
                    elif isinstance(event, _MESSAGE_EVENTS):
                        message_ids.add(event.message_id)
                    elif isinstance(event, _NOTE_EVENTS):
                        note_ids.add(event.note_id)
                for t in uow.due_between(since - ttl, cutoff, owners):
                    hint = timeline.expiry_hint(t, ttl)
                    hints.setdefault(hint.id, hint)
                # Message and note entries are for threads the client holds: open now, or open
                # when the token was issued (closed since, with their closing hint here).
                resolved = timeline.threads_with(hints.values(), EntryType.THREAD_RESOLVED_HINT)
                deleted = timeline.threads_with(hints.values(), EntryType.THREAD_DELETED_HINT)
                held: dict[str, bool] = {}

                def reported(thread_id: str) -> bool:
                    if thread_id in resolved:
                        return True
                    if thread_id not in held:
                        thread = uow.thread(thread_id)
                        held[thread_id] = thread is not None and (
                            (thread_id in deleted and thread.status is ThreadStatus.OPEN)
                            or (
                                thread.availability is _ALIVE
                                and tx.effective(thread, now, ttl).status is ThreadStatus.OPEN
                            )
                        )
                    return held[thread_id]

                records = list(hints.values())
                both = frozenset(Availability)
                if message_ids:
                    query = MessageQuery(
                        owners, cutoff, message_ids=frozenset(message_ids), availability=both
                    )
                    records += [
                        timeline.message_entry(m)
                        for m in uow.find_messages(query, _UNLIMITED)
                        if reported(m.thread_id)
                    ]
                if note_ids:
                    notes = NoteQuery(owners, note_ids=frozenset(note_ids), availability=both)
                    records += [
                        timeline.note_entry(n)
                        for n in uow.find_notes(notes, _UNLIMITED)
                        if reported(n.thread_id)
                    ]
                return position, records

            position, records = self._read(incremental)
        token = self._tokens.encode(
            "entries",
            actor,
            {"p": position, "e": position, "t": now.isoformat(), "f": fingerprint},
        )
        return SyncResult(tuple(timeline.order(records)), kind, token, now)

    def _owners(self, actor: str, wanted: Sequence[str] | None) -> frozenset[str]:
        """The resources ``actor`` handles, narrowed to ``wanted``; naming one they do not
        handle is a permission error."""
        handled = frozenset(r.extension_id for r in self._directory.resources_of_handler(actor))
        if wanted is None:
            return handled
        for extension_id in wanted:
            if extension_id not in handled:
                raise NotPermitted(
                    f"Extension [{actor}] is not an SMS handler of resource [{extension_id}]"
                )
        return frozenset(wanted)

    # --- directory changes ----------------------------------------------------------------------
    def _mutable_directory(self) -> MutableDirectoryPort:
        directory = self._directory
        if not isinstance(directory, MutableDirectoryPort):
            raise NotPermitted("This inbox's directory cannot be changed through the inbox")
        return directory

    def add_resource(self, resource: Resource) -> None:
        """Add a resource (its extension id and numbers must be unused)."""
        self._mutable_directory().add_resource(resource)

    def add_phone_number(self, extension_id: str, phone_number: str) -> None:
        """Give a resource another phone number."""
        self._mutable_directory().add_phone_number(extension_id, phone_number)

    def add_handler(self, extension_id: str, handler: Handler | str) -> None:
        """Make a handler (an extension id or a :class:`Handler`) an SMS handler of a resource."""
        directory = self._mutable_directory()
        if not isinstance(handler, Handler):
            handler = Handler(check_extension_id(handler, "handler"))
        directory.add_handler(extension_id, handler)

    def remove_resource(self, extension_id: str) -> builtins.list[Thread]:
        """Remove a resource; its open threads are resolved with reason OwnerDeleted (returned)."""
        directory = self._mutable_directory()
        removed = directory.remove_resource(extension_id)
        return self._follow_directory(
            lambda uow: uow.open_threads(owner_extension_id=removed.extension_id),
            lambda thread, now: tx.resolve(thread, StatusReason.OWNER_DELETED, None, now),
            undo=lambda: directory.add_resource(removed),
        )

    def remove_phone_number(self, extension_id: str, phone_number: str) -> builtins.list[Thread]:
        """Take a number from a resource; its open threads on that number are resolved with
        reason OwnerPhoneNumberDeleted (returned)."""
        directory = self._mutable_directory()
        number = e164(phone_number, "phone_number")
        directory.remove_phone_number(extension_id, number)
        return self._follow_directory(
            lambda uow: uow.open_threads(owner_extension_id=extension_id, owner_number=number),
            lambda thread, now: tx.resolve(
                thread, StatusReason.OWNER_PHONE_NUMBER_DELETED, None, now
            ),
            undo=lambda: directory.add_phone_number(extension_id, number),
        )

    def remove_handler(self, extension_id: str, handler_id: str) -> builtins.list[Thread]:
        """Remove an SMS handler from a resource; the resource's open threads assigned to them
        become unassigned (returned)."""
        directory = self._mutable_directory()
        resource = directory.resource(extension_id) if isinstance(extension_id, str) else None
        handler = resource.handler(handler_id) if resource and isinstance(handler_id, str) else None
        directory.remove_handler(extension_id, handler_id)
        after = directory.resource(extension_id)
        assert after is not None  # remove_handler raised otherwise
        assert handler is not None
        return self._follow_directory(
            lambda uow: uow.open_threads(owner_extension_id=extension_id, assignee_id=handler_id),
            lambda thread, now: _unassign(thread, after, now),
            undo=lambda: directory.add_handler(extension_id, handler),
        )

    def _follow_directory(
        self,
        select: Callable[[UnitOfWork], Sequence[Thread]],
        change: Callable[[Thread, datetime], tuple[Thread, Event]],
        undo: Callable[[], None],
    ) -> builtins.list[Thread]:
        ttl = self._policy.ttl

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Thread]:
            changed = []
            for stored in select(uow):
                thread, expired = tx.catch_up(stored, now, ttl)
                if expired is not None:
                    uow.save_thread(thread, stored.version)
                    events.append(expired)
                    continue
                new, event = change(thread, now)
                uow.save_thread(new, stored.version)
                events.append(event)
                changed.append(new)
            return changed

        try:
            return self._run(work)
        except BaseException:
            undo()
            raise

    def __repr__(self) -> str:
        return f"Inbox(repository={self._repo!r}, policy={self._policy!r})"


_MAX_ATTACHMENTS = 10
_MAX_URL = 2048
_MAX_KEYWORD_BODY = 64
_UNLIMITED = 2**62
_RECEIVED, _QUEUED, _DRAFT = DeliveryStatus.RECEIVED, DeliveryStatus.QUEUED, DeliveryStatus.DRAFT
_OPEN = ThreadStatus.OPEN
#: A token from further on than the store has come: the store was restored from a backup (or
#: replaced), and the client holds changes it no longer has.
_RESTORED = "the database is behind this token (restored from a backup?)"
_EPOCH = datetime.min.replace(tzinfo=UTC)
#: How far after the store's latest instant a command runs when its clock is behind the store:
#: strictly after, so its records sort after what it builds on (rule R18a).
_TICK = timedelta(microseconds=1)
_MIN_INSTANT, _MAX_INSTANT = MIN_INSTANT, MAX_INSTANT
_events_log = logging.getLogger("threadcore.events")


class _Overtaken(Exception):
    """A command's decisions no longer hold: a thread it relied on fell due while it ran."""


def _claimable(thread_id: object) -> bool:
    """Whether ``thread_id`` can name a stored thread (anything else is refused as not found
    later, by the command itself)."""
    return isinstance(thread_id, str) and 0 < len(thread_id) <= 256 and thread_id.isascii()


_EXPIRED = StatusReason.THREAD_EXPIRED
_MESSAGE_EVENTS = (
    ev.MessageAdded,
    ev.DeliveryStatusChanged,
    ev.MessageClassified,
    ev.MessageDeleted,
)
_NOTE_EVENTS = (ev.NoteAdded, ev.NoteEdited, ev.NoteDeleted)
F = TypeVar("F")


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


def _open_threads_of(
    uow: UnitOfWork, owners: frozenset[str], assignee: str | None = None
) -> Iterator[Thread]:
    """The stored open threads of these resources (assigned to ``assignee`` if given), asked of
    storage one resource at a time: a full sync costs what the actor may see, not what the
    database holds (issue 12, item 6)."""
    for owner in sorted(owners):
        yield from uow.open_threads(owner_extension_id=owner, assignee_id=assignee)


def _check_not_opted_out(uow: UnitOfWork, thread: Thread) -> None:
    owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
    if uow.opted_out(owner, guest):
        raise RecipientOptedOut(
            f"Phone number [{guest}] opted out of messages from [{owner}]; nothing was sent"
        )


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


_delivery_status = _spelling_reader(messaging.REPORTABLE, "status")


def _optional_text(value: object, parameter: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInput(
            f"Parameter [{parameter}] must be a non-blank string of at most {max_length} "
            "characters",
            parameter=parameter,
        )
    check_text(value, parameter)
    return value


def _json_details(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(
            "Parameter [details] must be a mapping with string keys", parameter="details"
        )
    try:
        text = json.dumps(dict(value), allow_nan=False)
        loaded: dict[str, Any] = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(
            "Parameter [details] must hold JSON values only", parameter="details"
        ) from None
    if len(text) > 65_536:
        raise InvalidInput("Parameter [details] is larger than 64 KiB", parameter="details")
    if loaded != value:  # e.g. a nested non-string key or a tuple: JSON would change it
        raise InvalidInput(
            "Parameter [details] must hold JSON values only (string keys, lists)",
            parameter="details",
        )
    return loaded


def _id_list(value: object, parameter: str) -> tuple[str, ...]:
    """A non-empty list of ids, each once, in the order given."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(f"Parameter [{parameter}] must be a list of ids", parameter=parameter)
    ids = tuple(dict.fromkeys(check_extension_id(v, parameter) for v in value))
    if not ids:
        raise InvalidInput(f"Parameter [{parameter}] must not be empty", parameter=parameter)
    return ids


def _maybe_set(values: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _filter(value: F | None, kind: type[F]) -> F:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise InvalidInput(f"Parameter [filter] must be a {kind.__name__}", parameter="filter")
    return value


def _fingerprint(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def _sync_kind(value: object) -> SyncType:
    try:
        return SyncType(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput(
            f"Parameter [syncType] must be FSync or ISync, not {value!r:.20}",
            parameter="syncType",
        ) from None


_entry_scope = _spelling_reader(tuple(EntryScope), "scope")


def _in_scope(thread: Thread, scope: EntryScope, actor: str) -> bool:
    assignee = thread.assignee.extension_id if thread.assignee is not None else None
    if scope is EntryScope.ACCESSIBLE:
        return True
    if scope is EntryScope.UNASSIGNED:
        return assignee is None
    if scope is EntryScope.ASSIGNED_TO_ME:
        return assignee == actor
    return assignee is None or assignee == actor


def _unassign(thread: Thread, resource: Resource, now: datetime) -> tuple[Thread, Event]:
    new, event = tx.assign(thread, resource, None, None, now)
    assert event is not None
    return new, event


def _message_key(message: Message) -> tuple[datetime, str]:
    return message.created_at, message.id


def _note_key(note: Note) -> tuple[datetime, str]:
    return note.creation_time, note.id


def _check_page(page: object, page_token: object) -> None:
    if page is not None and page_token is not None:
        raise InvalidInput("Give either page or page_token, not both", parameter="page")
    if page is not None and (
        not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= _MAX_PAGE
    ):
        raise InvalidInput(f"Parameter [page] must be 1..{_MAX_PAGE}", parameter="page")


def _numbered_page(everything: Sequence[F], page: int, per_page: int) -> Page[F]:
    """Page ``page`` of ``everything`` with the platform's paging block (no token)."""
    offset = (page - 1) * per_page
    found = tuple(everything[offset : offset + per_page])
    if not found:
        return Page(found, None, Paging(per_page))
    total = len(everything)
    paging = Paging(
        per_page=per_page,
        page=page,
        page_start=offset,
        page_end=offset + len(found) - 1,
        total_pages=-(-total // per_page),
        total_elements=total,
    )
    return Page(found, None, paging)


def _check_per_page(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_PER_PAGE:
        raise InvalidInput(
            f"Parameter [perPage] must be an integer 1..{_MAX_PER_PAGE}", parameter="perPage"
        )
    return value


def _sync_state(payload: dict[str, Any]) -> tuple[datetime, int, int]:
    try:
        since = datetime.fromisoformat(payload["t"])
        position = payload["p"]
        event_position = payload["e"]
    except (KeyError, TypeError, ValueError):
        raise InvalidSyncToken("malformed") from None
    if not isinstance(position, int) or not isinstance(event_position, int) or since.tzinfo is None:
        raise InvalidSyncToken("malformed")
    return since, position, event_position


def _check_provider_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_PROVIDER_ID:
        raise InvalidInput(
            "Parameter [provider_message_id] must be a non-empty string of at most "
            f"{_MAX_PROVIDER_ID} characters, without NUL",
            parameter="provider_message_id",
        )
    check_text(value, "provider_message_id")  # NUL and lone surrogates: no adapter stores them
    return value
