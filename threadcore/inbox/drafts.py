"""Drafts: save, send, discard (their read, :func:`threadcore.inbox.queries.drafts`, is with the
other reads of a thread)."""

from __future__ import annotations

from collections.abc import Sequence

from threadcore.domain.attachments import Upload
from threadcore.domain.content import TEXT, check_content
from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import Message, MessageSource
from threadcore.domain.validation import check_extension_id
from threadcore.inbox import commands as c
from threadcore.inbox._files import stores_files, uploads_of
from threadcore.inbox._spine import Spine
from threadcore.inbox.handlers import drafts as h

__all__ = ["discard_draft", "save_draft", "send_draft"]


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
    atts, _, automated, origin = check_content(
        body, listed, TEXT, is_automated or actor is None, source, self._policy
    )
    if draft_id is not None:
        draft_id = check_extension_id(draft_id, "draft_id")
    files = stores_files(self, uploads)
    command = c.SaveDraft(thread_id, actor, body, atts, automated, origin, draft_id, files)
    return self._run(h.save_draft, command, thread_id=thread_id)


def send_draft(self: Spine, draft_id: str, *, actor: str) -> Message:
    """Send a draft as ``actor`` under the rules of :meth:`send` on its thread; the draft is
    gone and the new message (a new id, authored by the sender) is returned."""
    actor = check_extension_id(actor, "actor")
    draft_id = check_extension_id(draft_id, "draft_id")
    return self._run(h.send_draft, c.SendDraft(draft_id, actor))


def discard_draft(self: Spine, draft_id: str, *, actor: str) -> Message:
    """Throw a draft away unsent (also on a resolved thread). Returns it as a tombstone."""
    actor = check_extension_id(actor, "actor")
    draft_id = check_extension_id(draft_id, "draft_id")
    return self._run(h.discard_draft, c.DiscardDraft(draft_id, actor))
