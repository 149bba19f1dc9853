"""Thread sync (FSync and ISync, rules S1-S3): the facade's ``sync``, then the full and the
incremental sync as functions of a unit of work, to read top to bottom."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from threadcore.domain import events as ev
from threadcore.domain import transitions as tx
from threadcore.domain.errors import InvalidInput, InvalidSyncToken
from threadcore.domain.model import StatusReason, Thread, ThreadStatus
from threadcore.domain.queries import SyncResult, SyncType
from threadcore.domain.validation import check_extension_id
from threadcore.inbox._spine import _ALIVE, Spine
from threadcore.ports import ChangeFeed, Queries, UnitOfWork, require

__all__ = [
    "RESTORED",
    "full_thread_sync",
    "incremental_thread_sync",
    "open_threads_of",
    "owners_fingerprint",
    "sync",
    "sync_kind",
    "sync_since",
]


def sync(
    self: Spine,
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
    :class:`~threadcore.errors.InvalidSyncToken`: the client must do a full sync.
    """
    actor = check_extension_id(actor, "actor")
    kind = sync_kind(sync_type)
    owners = self._owners(actor, None)
    fingerprint = owners_fingerprint(owners)
    now = self.now()
    ttl = self._policy.ttl
    if kind is SyncType.FULL:
        if sync_token is not None:
            raise InvalidInput("Parameter [syncToken] is only for ISync", parameter="syncToken")
        position, event_position, records = self._read(
            lambda uow: full_thread_sync(uow, owners, now, ttl, self._saw), at=now
        )
    else:
        since, position_then, event_then = sync_since(
            self, sync_token, "sync", actor, fingerprint, now
        )
        now = self._not_before(since)  # issued by an instance whose clock is ahead
        limit = self._policy.sync_max_changes
        position, event_position, records = self._read(
            lambda uow: incremental_thread_sync(
                uow, owners, since, position_then, event_then, now, ttl, limit, self._saw
            ),
            at=now,
        )
    records.sort(key=lambda t: (t.last_modified_time, t.id), reverse=True)
    token = self._tokens.encode(
        "sync",
        actor,
        {"p": position, "e": event_position, "t": now.isoformat(), "f": fingerprint},
    )
    return SyncResult(tuple(records), kind, token, now)


def full_thread_sync(
    uow: UnitOfWork,
    owners: frozenset[str],
    now: datetime,
    ttl: timedelta,
    saw: Callable[[Iterable[Thread]], None],
) -> tuple[int, int, list[Thread]]:
    """The positions now, and every open thread of ``owners`` as readers see it at ``now``
    (``saw`` is told of the stored open threads it read, due ones included: rule R10b)."""
    feed = require(uow, ChangeFeed)
    position, at_event = feed.change_position(), feed.event_position()
    stored = list(open_threads_of(uow, owners))
    saw(stored)
    found = [
        view for t in stored if (view := tx.effective(t, now, ttl)).status is ThreadStatus.OPEN
    ]
    return position, at_event, found


def incremental_thread_sync(
    uow: UnitOfWork,
    owners: frozenset[str],
    since: datetime,
    position_then: int,
    event_then: int,
    now: datetime,
    ttl: timedelta,
    limit: int,
    saw: Callable[[Iterable[Thread]], None],
) -> tuple[int, int, list[Thread]]:
    """The positions now, and every thread of ``owners`` whose record changed since a token
    issued at ``since`` (change position ``position_then``, event position ``event_then``),
    as readers see it at ``now``: stored changes, expiries that fell due meanwhile, and no
    expiry the client was already told of (rule S2). ``saw`` is told of the stored threads
    it answers (rule R10b)."""
    feed, queries = require(uow, ChangeFeed), require(uow, Queries)
    position, at_event = feed.change_position(), feed.event_position()
    if position_then > position or event_then > at_event:
        raise InvalidSyncToken(RESTORED)
    changed = {t.id: t for t in feed.changed_since(position_then, owners, limit)}
    if len(changed) > limit:
        raise InvalidSyncToken(f"more than {limit} threads changed")
    for t in queries.due_between(since - ttl, now - ttl, owners):
        changed[t.id] = t
    saw(changed.values())
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
        # A sweep's expiry is not news; a relabel (a message deleted) after the expiry is,
        # even in the same instant.
        later = feed.events_since(event_then, at_event, owners, limit)
        relabelled = (
            {e.thread_id for _, e in later if isinstance(e, ev.MessageDeleted) and e.relabelled}
            if len(later) <= limit
            else {t.id for t in seen}  # too many to tell: report them again
        )
        found += [t for t in seen if t.id in relabelled]
    if len(found) > limit:
        raise InvalidSyncToken(f"more than {limit} threads changed")
    return position, at_event, found


def owners_fingerprint(owners: frozenset[str]) -> str:
    """What a sync token remembers of the resources its actor handled."""
    return hashlib.sha256(repr(sorted(owners)).encode()).hexdigest()[:16]


def sync_since(
    self: Spine, token: str | None, kind: str, actor: str, fingerprint: str, now: datetime
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


#: A token from further on than the store has come: the store was restored from a backup (or
#: replaced), and the client holds changes it no longer has.
RESTORED = "the database is behind this token (restored from a backup?)"


def open_threads_of(
    uow: UnitOfWork, owners: frozenset[str], assignee: str | None = None
) -> Iterator[Thread]:
    """The stored open threads of these resources (assigned to ``assignee`` if given), asked of
    storage one resource at a time: a full sync costs what the actor may see, not what the
    database holds (issue 12, item 6)."""
    queries = require(uow, Queries)
    for owner in sorted(owners):
        yield from queries.open_threads(owner_extension_id=owner, assignee_id=assignee)


def sync_kind(value: object) -> SyncType:
    try:
        return SyncType(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput(
            f"Parameter [syncType] must be FSync or ISync, not {value!r:.20}",
            parameter="syncType",
        ) from None


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
