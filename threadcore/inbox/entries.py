"""Entries sync (rules E1-E4): the facade's ``sync_entries``, then the full and the incremental
sync of timelines as functions of a unit of work, to read top to bottom."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from threadcore.domain import events as ev
from threadcore.domain import timeline
from threadcore.domain import transitions as tx
from threadcore.domain.errors import InvalidInput, InvalidSyncToken
from threadcore.domain.model import (
    Availability,
    Entry,
    EntryScope,
    EntryType,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import SyncResult, SyncType
from threadcore.domain.validation import check_extension_id
from threadcore.inbox._spine import _ALIVE, _UNLIMITED, Spine, _id_list, _spelling_reader
from threadcore.inbox.sync import (
    RESTORED,
    open_threads_of,
    owners_fingerprint,
    sync_kind,
    sync_since,
)
from threadcore.ports import ChangeFeed, MessageQuery, NoteQuery, Queries, UnitOfWork, require

__all__ = ["full_entries", "incremental_entries", "sync_entries"]


def sync_entries(
    self: Spine,
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
    raise :class:`~threadcore.errors.InvalidSyncToken`: do a full sync.
    """
    actor = check_extension_id(actor, "actor")
    kind = sync_kind(sync_type)
    resources = self._dir().resources_of_handler(actor)
    owners = frozenset(r.extension_id for r in resources)
    fingerprint = owners_fingerprint(owners)
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

        explicit_ids = explicit if wanted is EntryScope.EXPLICIT else ()
        position, records = self._read(
            lambda uow: full_entries(self, uow, actor, owners, wanted, explicit_ids, cutoff),
            at=now,
        )
    else:
        if thread_ids is not None:
            raise InvalidInput(
                "Parameter [thread_ids] is only for a full sync", parameter="thread_ids"
            )
        since, position_then, _ = sync_since(self, sync_token, "entries", actor, fingerprint, now)
        now = self._not_before(since)  # issued by an instance whose clock is ahead
        limit = self._policy.sync_max_changes
        users = {h.extension_id: h.as_user() for r in resources for h in r.handlers}
        position, records = self._read(
            lambda uow: incremental_entries(
                uow, owners, users, since, position_then, now, ttl, cutoff, limit, self._saw
            ),
            at=now,
        )
    token = self._tokens.encode(
        "entries",
        actor,
        {"p": position, "e": position, "t": now.isoformat(), "f": fingerprint},
    )
    return SyncResult(tuple(timeline.order(records)), kind, token, now)


def full_entries(
    self: Spine,
    uow: UnitOfWork,
    actor: str,
    owners: frozenset[str],
    wanted: EntryScope,
    explicit_ids: tuple[str, ...],
    cutoff: datetime,
) -> tuple[int, builtins.list[Entry]]:
    """The event position now, and the alive messages and notes of the open threads in scope
    (``Explicit``: the threads named, open or not, each checked as ``actor`` sees it)."""
    feed, queries = require(uow, ChangeFeed), require(uow, Queries)
    position = feed.event_position()
    if wanted is EntryScope.EXPLICIT:
        chosen = frozenset(self._visible(uow, t, actor)[0].id for t in explicit_ids)
    else:
        mine = actor if wanted is EntryScope.ASSIGNED_TO_ME else None
        stored = list(open_threads_of(uow, owners, mine))
        self._saw(stored)  # the due ones are left out as expired (rule R10b)
        chosen = frozenset(
            t.id for t in stored if t.latest_message_at > cutoff and _in_scope(t, wanted, actor)
        )
    if not chosen:
        return position, []
    messages = queries.find_messages(MessageQuery(owners, cutoff, thread_ids=chosen), _UNLIMITED)
    notes = queries.find_notes(NoteQuery(owners, thread_ids=chosen), _UNLIMITED)
    return position, [
        *map(timeline.message_entry, messages),
        *map(timeline.note_entry, notes),
    ]


def incremental_entries(
    uow: UnitOfWork,
    owners: frozenset[str],
    users: dict[str, ThreadUser],
    since: datetime,
    position_then: int,
    now: datetime,
    ttl: timedelta,
    cutoff: datetime,
    limit: int,
    saw: Callable[[Iterable[Thread]], None],
) -> tuple[int, builtins.list[Entry]]:
    """The event position now, and every entry of ``owners``' threads added or changed since
    a token issued at ``since`` (event position ``position_then``): the hints of what happened
    (expiries that fell due meanwhile included), then the messages and notes of the threads
    the client holds (``cutoff``: a thread whose newest message is older has expired)."""

    def user_of(extension_id: str | None) -> ThreadUser | None:
        if extension_id is None:
            return None
        return users.get(extension_id) or ThreadUser(extension_id)

    feed, queries = require(uow, ChangeFeed), require(uow, Queries)
    position = feed.event_position()
    if position_then > position:
        raise InvalidSyncToken(RESTORED)
    changes = feed.events_since(position_then, position, owners, limit)
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
    due = queries.due_between(since - ttl, cutoff, owners)
    saw(due)  # (their expiries are written before the answer: rule R10b)
    for t in due:
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
        query = MessageQuery(owners, cutoff, message_ids=frozenset(message_ids), availability=both)
        records += [
            timeline.message_entry(m)
            for m in queries.find_messages(query, _UNLIMITED)
            if reported(m.thread_id)
        ]
    if note_ids:
        notes = NoteQuery(owners, note_ids=frozenset(note_ids), availability=both)
        records += [
            timeline.note_entry(n)
            for n in queries.find_notes(notes, _UNLIMITED)
            if reported(n.thread_id)
        ]
    return position, records


_EXPIRED = StatusReason.THREAD_EXPIRED


_MESSAGE_EVENTS = (
    ev.CarrierIdAttached,
    ev.MessageAdded,
    ev.DeliveryStatusChanged,
    ev.MessageClassified,
    ev.MessageDeleted,
)


_NOTE_EVENTS = (ev.NoteAdded, ev.NoteEdited, ev.NoteDeleted)


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
