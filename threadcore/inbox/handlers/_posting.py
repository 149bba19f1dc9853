"""Putting a message on a thread: the pair's open thread (or a new one), the message itself, a
send on a stored thread. Shared by the handlers of receive, send and send_draft."""

from __future__ import annotations

from datetime import datetime

from threadcore.domain import transitions as tx
from threadcore.domain.content import PLAIN, Content
from threadcore.domain.errors import RecipientOptedOut
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    Resource,
    Thread,
    ThreadUser,
    make_message,
)
from threadcore.inbox._runner import Context, rely_on
from threadcore.ports import CreationClaims, UnitOfWork, offers

__all__ = ["check_not_opted_out", "open_or_current", "post", "send_as"]

_INBOUND, _ALIVE = Direction.INBOUND, Availability.ALIVE
_RECEIVED, _QUEUED = DeliveryStatus.RECEIVED, DeliveryStatus.QUEUED


def open_or_current(
    ctx: Context, resource: Resource, owner: str, guest: str, author: ThreadUser | None
) -> tuple[Thread, int, datetime]:
    """The pair's open thread at ``ctx.now`` and the version it was loaded at, or a new thread
    (version 0) assigned to ``author`` when none is open (a stored one that is due gets its
    expiry written first); and the command's time from then on (a new thread may move it
    later)."""
    uow = ctx.uow
    stored = uow.open_thread_for_pair(owner, guest)
    if stored is not None:
        rely_on(ctx, stored)
        current, expired = tx.catch_up(stored, ctx.now, ctx.policy.ttl)
        if expired is None:
            return stored, stored.version, ctx.now
        uow.save_thread(current, stored.version)
        ctx.events.append(expired)
    # A new thread is dated after every thread already committed (rule Q2): where writers run
    # at once, creations are serialised; where they run one at a time the claim's floor does it.
    now = ctx.after(uow.claim_creation() if offers(uow, CreationClaims) else None)
    initiator = author.extension_id if author is not None else None
    thread, opened = tx.open_thread(
        ctx.ids.new_id(), resource, owner, guest, author, initiator, now
    )
    ctx.events.append(opened)
    return thread, 0, now


def post(
    ctx: Context,
    thread: Thread,
    loaded_version: int,
    direction: Direction,
    body: str,
    author: ThreadUser | None,
    now: datetime,
    provider_message_id: str | None,
    content: Content = PLAIN,
    keyword: Keyword | None = None,
) -> Message:
    """Add a message to the open ``thread`` (loaded at ``loaded_version``; 0 when new)."""
    owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
    inbound = direction is _INBOUND
    attachments, content_type, is_automated, source = content
    # Positional, in Message's field order (mypy checks each against Message's own signature):
    # a 23-field call by keyword costs 1.2 µs more on every receive.
    message = make_message(
        ctx.ids.new_id(),  # id
        thread.id,  # thread_id
        direction,  # direction
        body,  # body
        guest if inbound else owner,  # from_number
        owner if inbound else guest,  # to_number
        author,  # author
        now,  # created_at
        now,  # last_modified_at
        _ALIVE,  # availability
        provider_message_id,  # provider_message_id
        _RECEIVED if inbound else _QUEUED,  # status
        None,  # sent_at
        None,  # delivered_at
        None,  # read_at
        None,  # error_code
        is_automated,  # is_automated
        source,  # source
        content_type,  # content_type
        attachments,  # attachments
        (),  # classifications
        keyword,  # keyword
        1,  # version
    )
    thread, added = tx.add_message(thread, message)
    ctx.uow.save_thread(thread, loaded_version)
    ctx.uow.add_message(message)
    ctx.events.append(added)
    return message


def send_as(
    ctx: Context,
    stored: Thread,
    resource: Resource,
    actor: str,
    body: str,
    provider_message_id: str | None,
    content: Content,
) -> Message:
    """Send on the stored thread as ``actor``: the thread must be open (now), the actor its
    assignee (or claiming it), the guest not opted out."""
    now = ctx.now
    thread = tx.effective(stored, now, ctx.policy.ttl)
    thread, claimed = tx.sender_may_send(thread, resource, actor, ctx.policy.claim_on_send, now)
    if claimed is not None:
        ctx.events.append(claimed)
    check_not_opted_out(ctx.uow, thread)
    author = resource.user(actor)
    return post(
        ctx,
        thread,
        stored.version,
        Direction.OUTBOUND,
        body,
        author,
        now,
        provider_message_id,
        content,
    )


def check_not_opted_out(uow: UnitOfWork, thread: Thread) -> None:
    """Refuse to send on ``thread`` if its guest opted out of its owner number (rule M7)."""
    owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
    if uow.opted_out(owner, guest):
        raise RecipientOptedOut(
            f"Phone number [{guest}] opted out of messages from [{owner}]; nothing was sent"
        )
