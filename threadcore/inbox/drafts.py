"""Drafts: save, send, discard, list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from threadcore.domain import events as ev
from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import (
    DraftNotFound,
    InvalidInput,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Message,
    MessageSource,
)
from threadcore.domain.queries import Page
from threadcore.domain.validation import (
    check_extension_id,
)
from threadcore.inbox._files import uploads_of, with_files
from threadcore.inbox._paging import UNSET, Unset, legacy
from threadcore.inbox._spine import _ALIVE, _DRAFT, _TEXT, Spine, _extra
from threadcore.inbox.messages import _send_as
from threadcore.inbox.queries import thread_page
from threadcore.ports import (
    UnitOfWork,
)

__all__ = ["discard_draft", "drafts", "save_draft", "send_draft"]


def save_draft(
    self: Spine,
    thread_id: str,
    *,
    actor: str | None,
    body: str,
    attachments: Sequence[str | Upload] = (),
    is_automated: bool = False,
    source: MessageSource | str | None = None,
    draft_id: str | None = None,
) -> Message:
    """Save a new draft on an open thread (or, with ``draft_id=``, change one). A draft is a
    message with status Draft: not sent, not activity, not in the message lists.

    ``actor=None`` is an automation: its drafts have no author and are ``is_automated``.
    Files (:class:`~threadcore.Upload`) among ``attachments`` are stored with the draft, as
    :meth:`send` stores them (rule M8).
    """
    if actor is not None:
        actor = check_extension_id(actor, "actor")
    if not isinstance(thread_id, str):
        raise InvalidInput(
            f"Parameter [thread_id] must be a string, not {type(thread_id).__name__}",
            parameter="thread_id",
        )
    listed, uploads = uploads_of(attachments)
    atts, _, automated, origin = _extra(
        body, listed, _TEXT, is_automated or actor is None, source, self._policy
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
        old = _draft(self, uow, draft_id, actor)
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

    return self._run(with_files(self, work, uploads), thread_id=thread_id)


def send_draft(self: Spine, draft_id: str, *, actor: str) -> Message:
    """Send a draft as ``actor`` under the rules of :meth:`send` on its thread; the draft is
    gone and the new message (a new id, authored by the sender) is returned."""
    actor = check_extension_id(actor, "actor")
    draft_id = check_extension_id(draft_id, "draft_id")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        draft = _draft(self, uow, draft_id, actor)
        stored, resource = self._visible(uow, draft.thread_id, actor)
        extra = (draft.attachments, draft.content_type, draft.is_automated, draft.source)
        message = _send_as(self, uow, events, stored, resource, actor, draft.body, now, None, extra)
        uow.save_message(messaging.tombstone(draft, now), draft.version)
        sent = ev.DraftSent(draft.thread_id, now, draft.id, message.id, actor)
        events.insert(len(events) - 1, sent)  # before the MessageAdded it became
        return message

    return self._run(work)


def discard_draft(self: Spine, draft_id: str, *, actor: str) -> Message:
    """Throw a draft away unsent (also on a resolved thread). Returns it as a tombstone."""
    actor = check_extension_id(actor, "actor")
    draft_id = check_extension_id(draft_id, "draft_id")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        draft = _draft(self, uow, draft_id, actor)
        stored, _ = self._visible(uow, draft.thread_id, actor)
        gone, event = messaging.discard_draft(draft, stored, actor, now)
        uow.save_message(gone, draft.version)
        events.append(event)
        return gone

    return self._run(work)


def drafts(
    self: Spine,
    thread_id: str,
    *,
    actor: str,
    limit: int | None = None,
    cursor: str | None = None,
    per_page: int | Unset | None = UNSET,
    page_token: str | Unset | None = UNSET,
    page: int | Unset | None = UNSET,
) -> Page[Message]:
    """The thread's drafts, oldest first, paged as :meth:`~threadcore.Inbox.messages` (all of
    them without ``limit``; ``per_page``, ``page_token`` and ``page`` deprecated)."""
    paging = legacy(
        "drafts", limit, cursor, default=None, per_page=per_page, page_token=page_token, page=page
    )
    return thread_page(self, "drafts", thread_id, actor, lambda m: m.status is _DRAFT, paging)


def _draft(self: Spine, uow: UnitOfWork, draft_id: str, actor: str | None) -> Message:
    draft = uow.message(draft_id)
    if draft is None or draft.status is not _DRAFT or draft.availability is not _ALIVE:
        raise DraftNotFound(f"Draft [{draft_id}] not found")
    if actor is not None:
        self._visible_as(uow, draft.thread_id, actor, DraftNotFound, draft_id)
    return draft
