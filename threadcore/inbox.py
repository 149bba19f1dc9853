"""The facade: load through the ports, call the pure domain, save, publish.

All rules live in :mod:`threadcore.domain`; this module only orchestrates the repository, the
directory, the clock and the id generator, one unit of work per command.
"""

from __future__ import annotations

import builtins
import hashlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from threadcore.adapters.memory import InMemoryRepository
from threadcore.clock import SystemClock
from threadcore.domain import transitions as tx
from threadcore.domain.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    InvalidPageToken,
    InvalidSyncToken,
    NotPermitted,
    ThreadNotFound,
    UnknownPhoneNumber,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Availability,
    Direction,
    Handler,
    Message,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import Page, Paging, SyncResult, SyncType, ThreadFilter
from threadcore.domain.validation import check_body, check_extension_id, check_utc, e164
from threadcore.ids import RandomIds
from threadcore.ports import (
    Clock,
    DirectoryPort,
    IdGenerator,
    MutableDirectoryPort,
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
        self._tokens = TokenCodec(token_secret)

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
        """The current instant from the clock port (validated timezone-aware UTC)."""
        now = self._clock.now()
        if now.tzinfo is not UTC:
            now = check_utc(now, "clock.now()")
        return now

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event after the command that made it has committed.

        A listener's exception reaches the caller of the command; the command stays committed.
        For a durable feed read :meth:`events` with a cursor instead.
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
        Subscribers hear each command's events as it ends.
        """
        with self._repo.batch():
            yield

    def _run(self, work: Callable[[UnitOfWork, list[Event], datetime], R]) -> R:
        """Run ``work`` in a unit of work, retrying on optimistic conflicts; ``work`` writes
        through the unit of work and appends the events it makes to the list it is given.

        The clock is read anew for each attempt, once the unit of work has begun, so a retried
        command is never dated before the change it lost to."""
        for attempt in range(self._retries):
            events: list[Event] = []
            try:
                with self._repo.unit_of_work() as uow:
                    result = work(uow, events, self.now())
                    if events:
                        uow.append_events(events)
            except ConcurrencyConflict:
                # another writer got there first: back off a little, at random, and retry
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
                continue
            if self._listeners:
                for event in events:
                    for listener in self._listeners:
                        listener(event)
            return result
        raise ConcurrencyConflict(
            f"The command was retried {self._retries} times and kept conflicting with other writers"
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
        return thread, resource

    def _current_for_pair(
        self, uow: UnitOfWork, owner: str, guest: str, now: datetime, events: list[Event]
    ) -> Thread | None:
        """The pair's open thread at ``now``; a stored one that is due gets its expiry written."""
        thread = uow.open_thread_for_pair(owner, guest)
        if thread is None:
            return None
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
    ) -> Message:
        """Add a message to the open ``thread`` (loaded at ``loaded_version``; 0 when new)."""
        owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
        inbound = direction is _INBOUND
        message = Message(
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
    ) -> tuple[Thread, int]:
        """The pair's open thread and the version it was loaded at, or a new thread (version 0)
        assigned to ``author`` when none is open at ``now``."""
        thread = self._current_for_pair(uow, owner, guest, now, events)
        if thread is not None:
            return thread, thread.version
        initiator = author.extension_id if author is not None else None
        thread, opened = tx.open_thread(
            self._ids.new_id(), resource, owner, guest, author, initiator, now
        )
        events.append(opened)
        return thread, 0

    # --- messages -------------------------------------------------------------------------------
    def receive(
        self,
        *,
        owner_number: str,
        guest_number: str,
        body: str,
        provider_message_id: str | None = None,
    ) -> Message:
        """Store an inbound message from ``guest_number`` to the resource number ``owner_number``.

        It goes on the pair's open thread; with none open, a new open thread without an assignee
        is created. A repeated ``provider_message_id`` returns the original message unchanged.
        """
        owner = e164(owner_number, "owner_number")
        guest = e164(guest_number, "guest_number")
        if owner == guest:
            raise InvalidInput("A number cannot message itself", parameter="guest_number")
        body = check_body(body, self._policy.max_body_length)
        pid = _check_provider_id(provider_message_id)

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            if pid is not None:
                original = self._replay(uow, pid, _INBOUND, body, None, owner, guest, None)
                if original is not None:
                    return original
            resource = self._owner_of(owner)
            thread, loaded = self._open_or_current(uow, events, resource, owner, guest, None, now)
            return self._post(uow, events, thread, loaded, _INBOUND, body, None, now, pid)

        return self._run(work)

    def send(
        self,
        *,
        actor: str,
        body: str,
        owner_number: str | None = None,
        guest_number: str | None = None,
        thread_id: str | None = None,
        provider_message_id: str | None = None,
    ) -> Message:
        """Send an outbound message as handler ``actor``, naming either the pair of numbers or
        ``thread_id=``.

        By pair: with no open thread for it, a new thread is created and assigned to the sender.
        On an open thread only its assignee may send (an unassigned thread is refused unless
        ``Policy(claim_on_send=True)``). A thread named by id must exist for the actor, be alive
        and open.
        """
        actor = check_extension_id(actor, "actor")
        body = check_body(body, self._policy.max_body_length)
        pid = _check_provider_id(provider_message_id)
        if thread_id is not None:
            if owner_number is not None or guest_number is not None:
                raise InvalidInput(
                    "Name either thread_id or owner_number and guest_number, not both",
                    parameter="thread_id",
                )
            return self._send_on_thread(actor, body, thread_id, pid)
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
            resource = self._owner_of(owner)
            if not resource.is_handler(actor):
                raise NotPermitted(f"Extension [{actor}] is not an SMS handler of number [{owner}]")
            author = resource.user(actor)
            thread, loaded = self._open_or_current(uow, events, resource, owner, guest, author, now)
            if loaded:
                thread, claimed = tx.sender_may_send(
                    thread, resource, actor, self._policy.claim_on_send, now
                )
                if claimed is not None:
                    events.append(claimed)
            return self._post(uow, events, thread, loaded, _OUTBOUND, body, author, now, pid)

        return self._run(work)

    def _send_on_thread(self, actor: str, body: str, thread_id: str, pid: str | None) -> Message:

        def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
            original = self._replay(uow, pid, _OUTBOUND, body, actor, None, None, thread_id)
            if original is not None:
                return original
            stored, resource = self._visible(uow, thread_id, actor)
            thread = tx.effective(stored, now, self._policy.ttl)
            thread, claimed = tx.sender_may_send(
                thread, resource, actor, self._policy.claim_on_send, now
            )
            if claimed is not None:
                events.append(claimed)
            author = resource.user(actor)
            return self._post(
                uow, events, thread, stored.version, _OUTBOUND, body, author, now, pid
            )

        return self._run(work)

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

        return self._run(work)

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

        return self._run(work)

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

        return self._run(work)

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
            stored = uow.messages(thread_id)
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
            return Page(tuple(found), token)

        return self._read(read)

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
        if filter is None:
            filter = ThreadFilter()
        if not isinstance(filter, ThreadFilter):
            raise InvalidInput("Parameter [filter] must be a ThreadFilter", parameter="filter")
        per_page = _check_per_page(per_page)
        if page is not None and page_token is not None:
            raise InvalidInput("Give either page or page_token, not both", parameter="page")
        if page is not None and (
            not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= _MAX_PAGE
        ):
            raise InvalidInput(f"Parameter [page] must be 1..{_MAX_PAGE}", parameter="page")
        owners = self._owners(actor, filter.owner_extension_ids)
        fingerprint = hashlib.sha256(repr(filter).encode()).hexdigest()[:16]
        after: tuple[datetime, str] | None = None
        if page_token is not None:
            payload = self._tokens.decode(page_token, "threads", actor, InvalidPageToken)
            if payload.get("f") != fingerprint:
                raise InvalidPageToken("issued for another filter")
            after = (datetime.fromisoformat(payload["c"]), payload["i"])
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
                return found[:per_page], len(found) > per_page, None
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
            token = self._tokens.encode(
                "threads",
                actor,
                {"f": fingerprint, "c": last.creation_time.isoformat(), "i": last.id},
            )
        ttl = self._policy.ttl
        return Page(tuple(tx.effective(t, now, ttl) for t in found), token, paging)

    def sync(
        self,
        *,
        actor: str,
        sync_type: SyncType | str = SyncType.FULL,
        sync_token: str | None = None,
    ) -> SyncResult:
        """Full sync (FSync): every open, alive thread ``actor`` may see, newest modification
        first. Incremental sync (ISync, with the ``sync_token`` of the previous answer): every
        thread the actor may see whose record changed since that token was issued, including
        expiries no sweep has written yet and deletions (as tombstones).

        A tampered, foreign, malformed or too old token, a change in the resources the actor
        handles, or more changes than ``Policy.sync_max_changes`` raise
        :class:`~threadcore.InvalidSyncToken`: the client must do a full sync.
        """
        actor = check_extension_id(actor, "actor")
        try:
            kind = SyncType(sync_type)
        except ValueError:
            raise InvalidInput(
                f"Parameter [syncType] must be FSync or ISync, not {sync_type!r:.20}",
                parameter="syncType",
            ) from None
        owners = self._owners(actor, None)
        fingerprint = hashlib.sha256(repr(sorted(owners)).encode()).hexdigest()[:16]
        now = self.now()
        ttl = self._policy.ttl
        if kind is SyncType.FULL:
            if sync_token is not None:
                raise InvalidInput("Parameter [syncToken] is only for ISync", parameter="syncToken")

            def full(uow: UnitOfWork) -> tuple[int, list[Thread]]:
                position = uow.change_position()
                found = [
                    view
                    for t in uow.open_threads()
                    if t.owner.extension_id in owners
                    and (view := tx.effective(t, now, ttl)).status is ThreadStatus.OPEN
                ]
                return position, found

            position, records = self._read(full)
        else:
            if sync_token is None:
                raise InvalidSyncToken("missing")
            payload = self._tokens.decode(sync_token, "sync", actor, InvalidSyncToken)
            since, position_then = _sync_state(payload)
            if payload.get("f") != fingerprint:
                raise InvalidSyncToken("the resources this extension handles have changed")
            if since > now or now - since > self._policy.sync_token_max_age:
                raise InvalidSyncToken("too old")
            limit = self._policy.sync_max_changes

            def incremental(uow: UnitOfWork) -> tuple[int, list[Thread]]:
                position = uow.change_position()
                changed = {t.id: t for t in uow.changed_since(position_then, owners, limit)}
                if len(changed) > limit:
                    raise InvalidSyncToken(f"more than {limit} threads changed")
                for t in uow.due_between(since - ttl, now - ttl, owners):
                    changed[t.id] = t
                found = []
                for t in changed.values():
                    view = tx.effective(t, now, ttl)
                    if (
                        view.status_reason is StatusReason.THREAD_EXPIRED
                        and view.availability is _ALIVE
                        and view.last_modified_time <= since
                    ):
                        continue  # an expiry the client already saw, written by a later sweep
                    found.append(view)
                if len(found) > limit:
                    raise InvalidSyncToken(f"more than {limit} threads changed")
                return position, found

            position, records = self._read(incremental)
        records.sort(key=lambda t: (t.last_modified_time, t.id), reverse=True)
        token = self._tokens.encode(
            "sync", actor, {"p": position, "t": now.isoformat(), "f": fingerprint}
        )
        return SyncResult(tuple(records), kind, token, now)

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


def _unassign(thread: Thread, resource: Resource, now: datetime) -> tuple[Thread, Event]:
    new, event = tx.assign(thread, resource, None, None, now)
    assert event is not None
    return new, event


def _check_per_page(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_PER_PAGE:
        raise InvalidInput(
            f"Parameter [perPage] must be an integer 1..{_MAX_PER_PAGE}", parameter="perPage"
        )
    return value


def _sync_state(payload: dict[str, Any]) -> tuple[datetime, int]:
    try:
        since = datetime.fromisoformat(payload["t"])
        position = payload["p"]
    except (KeyError, TypeError, ValueError):
        raise InvalidSyncToken("malformed") from None
    if not isinstance(position, int) or since.tzinfo is None:
        raise InvalidSyncToken("malformed")
    return since, position


def _check_provider_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_PROVIDER_ID or "\x00" in value:
        raise InvalidInput(
            "Parameter [provider_message_id] must be a non-empty string of at most "
            f"{_MAX_PROVIDER_ID} characters, without NUL",
            parameter="provider_message_id",
        )
    return value
