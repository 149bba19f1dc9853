"""How the machine compares records: a stored message, draft, note or entry, and the model's
record of it, each as a tuple of the fields the rules fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from threadcore.domain.model import Entry, EntryType, Message, Note, ThreadUser
from threadcore.testing.model import MDraft, MHint, MMessage, MNote

M = TypeVar("M")


def _ext(user: ThreadUser | None) -> str | None:
    return None if user is None else user.extension_id


def _same_record(
    record_id: str,
    model: M | None,
    real: tuple[object, ...],
    as_record: Callable[[M], tuple[object, ...]],
) -> None:
    """A record the inbox handed out is one the model knows, field for field."""
    assert model is not None, f"the inbox returned an unknown record {record_id}"
    expected = as_record(model)
    assert real == expected, (real, expected)


def message_record(m: Message) -> tuple[object, ...]:
    """Everything a reader sees of a message (or draft), as one comparable value."""
    return (
        m.id,
        m.thread_id,
        m.direction.value,
        m.body,
        _ext(m.author),
        m.availability.value,
        m.created_at,
        m.last_modified_at,
        m.status.value,
        m.sent_at,
        m.delivered_at,
        m.read_at,
        m.error_code,
        None if m.keyword is None else m.keyword.value,
        tuple(m.attachments),
        m.is_automated,
        None if m.source is None else m.source.value,
        [c.classification for c in m.classifications],
        m.version,
    )


def model_message_record(m: MMessage) -> tuple[object, ...]:
    return (
        m.id,
        m.thread_id,
        m.direction,
        m.body,
        m.author,
        "Alive" if m.alive else "Deleted",
        m.created,
        m.modified,
        m.status,
        m.sent_at,
        m.delivered_at,
        m.read_at,
        m.error_code,
        m.keyword,
        m.attachments,
        m.is_automated,
        m.source,
        list(m.classifications),
        m.version,
    )


def model_draft_record(d: MDraft) -> tuple[object, ...]:
    c = d.content
    return (
        d.id,
        d.thread_id,
        "Outbound",
        c.body,
        d.author,
        "Alive",
        d.created,
        d.modified,
        "Draft",
        None,
        None,
        None,
        None,
        None,
        c.attachments,
        c.is_automated,
        c.source,
        [],
        d.version,
    )


def note_record(n: Note) -> tuple[object, ...]:
    return (
        n.id,
        n.thread_id,
        n.author.extension_id,
        n.text,
        n.availability.value,
        n.creation_time,
        n.last_modified_time,
        n.version,
    )


def model_note_record(n: MNote) -> tuple[object, ...]:
    return (
        n.id,
        n.thread_id,
        n.author,
        n.text,
        "Alive" if n.alive else "Deleted",
        n.created,
        n.modified,
        n.version,
    )


def entry_record(e: Entry) -> tuple[object, ...]:
    """What an entry says, by kind (a deleted entry carries only its identifying fields)."""
    head = (e.record_type.value, e.id, e.thread_id, e.availability.value, e.last_modified_time)
    kind = e.record_type
    if kind is EntryType.ALIVE_MESSAGE:
        return (
            *head,
            e.creation_time,
            None if e.direction is None else e.direction.value,
            None if e.message_status is None else e.message_status.value,
            e.text,
            tuple(e.attachments),
            _ext(e.author),
        )
    if kind is EntryType.ALIVE_NOTE:
        return (*head, e.creation_time, e.text, _ext(e.author))
    if kind in (EntryType.DELETED_MESSAGE, EntryType.DELETED_NOTE):
        return (*head, e.text or None, tuple(e.attachments))
    return (
        *head,
        e.creation_time,
        _ext(e.initiator),
        _ext(e.assignee),
        _ext(e.previous_assignee),
        None if e.status_reason is None else e.status_reason.value,
    )


def model_entry_record(e: MMessage | MNote | MHint) -> tuple[object, ...]:
    if isinstance(e, MMessage):
        if not e.alive:
            return ("DeletedMessage", e.id, e.thread_id, "Deleted", e.modified, None, ())
        return (
            "AliveMessage",
            e.id,
            e.thread_id,
            "Alive",
            e.modified,
            e.created,
            e.direction,
            e.status,
            e.body,
            e.attachments,
            e.author,
        )
    if isinstance(e, MNote):
        if not e.alive:
            return ("DeletedNote", e.id, e.thread_id, "Deleted", e.modified, None, ())
        return ("AliveNote", e.id, e.thread_id, "Alive", e.modified, e.created, e.text, e.author)
    kind = {
        "created": "ThreadCreatedHint",
        "assigned": "ThreadAssignedHint",
        "resolved": "ThreadResolvedHint",
        "deleted": "ThreadDeletedHint",
    }[e.kind]
    return (
        kind,
        e.id,
        e.thread_id,
        "Alive",
        e.at,
        e.at,
        e.initiator,
        e.assignee,
        e.previous,
        e.reason,
    )
