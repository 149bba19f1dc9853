"""The commands: one frozen record per command, built by :class:`~threadcore.Inbox` from arguments
it has already checked, and handled by the function of the same name in
:mod:`threadcore.inbox.handlers` (through the runner, :mod:`threadcore.inbox._runner`).

The commands of the hot paths (receive, send, assign, resolve) are built with their
:func:`~threadcore.domain.records.record_maker` (``make_receive`` ...): the same record, without
the 0.1 µs a field that attrs' frozen constructor costs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from threadcore.domain.attachments import Upload
from threadcore.domain.content import Content
from threadcore.domain.model import DeliveryStatus, Handler, Keyword, MessageSource, Resource
from threadcore.domain.records import record_maker
from threadcore.ports import StoredDirectoryPort

__all__ = [
    "AddHandler",
    "AddNote",
    "AddPhoneNumber",
    "AddResource",
    "Assign",
    "AttachProviderId",
    "ChangeDirectory",
    "Classify",
    "Delete",
    "DeleteMessages",
    "DeleteNotes",
    "DirectoryChange",
    "DiscardDraft",
    "EditNote",
    "ExpireDue",
    "FollowDirectory",
    "HandlerRemoved",
    "LoadDirectory",
    "Receive",
    "RecordDelivery",
    "RemoveHandler",
    "RemovePhoneNumber",
    "RemoveResource",
    "Resolve",
    "SaveDraft",
    "Send",
    "SendDraft",
    "SendOnThread",
    "make_assign",
    "make_receive",
    "make_resolve",
    "make_send",
    "make_send_on_thread",
]


# --- messages -----------------------------------------------------------------------------------
@attrs.frozen(weakref_slot=False)
class Receive:
    """An inbound message from ``guest`` to the resource number ``owner``."""

    owner: str
    guest: str
    body: str
    provider_message_id: str | None
    content: Content
    keyword: Keyword | None


@attrs.frozen(weakref_slot=False)
class Send:
    """An outbound message from handler ``actor`` to the pair (``owner``, ``guest``)."""

    actor: str
    owner: str
    guest: str
    body: str
    provider_message_id: str | None
    content: Content
    uploads: tuple[Upload, ...]


@attrs.frozen(weakref_slot=False)
class SendOnThread:
    """An outbound message from handler ``actor`` on the thread ``thread_id``."""

    actor: str
    thread_id: str
    body: str
    provider_message_id: str | None
    content: Content
    uploads: tuple[Upload, ...]


@attrs.frozen(weakref_slot=False)
class RecordDelivery:
    """A carrier's delivery report, for the message named by exactly one of the two ids."""

    message_id: str | None
    provider_message_id: str | None
    status: DeliveryStatus
    at: datetime | None
    error_code: str | None


@attrs.frozen(weakref_slot=False)
class AttachProviderId:
    """The carrier's id for an outbound message it accepted."""

    message_id: str
    provider_message_id: str


@attrs.frozen(weakref_slot=False)
class Classify:
    """An automation's classification of a message (``actor=None``: the system)."""

    message_id: str
    actor: str | None
    label: str
    confidence: float | None
    reason: str | None
    is_action_required: bool | None
    is_reply_required: bool | None
    language: str | None
    action_recommendation: str | None
    details: dict[str, Any]


@attrs.frozen(weakref_slot=False)
class DeleteMessages:
    """Single messages deleted by handler ``actor``."""

    actor: str
    message_ids: tuple[str, ...]


# --- threads ------------------------------------------------------------------------------------
@attrs.frozen(weakref_slot=False)
class Assign:
    """``thread_id`` assigned to ``assignee`` (``None``: unassigned) by ``actor``."""

    thread_id: str
    actor: str
    assignee: str | None


@attrs.frozen(weakref_slot=False)
class Resolve:
    """``thread_id`` resolved by ``actor``."""

    thread_id: str
    actor: str


@attrs.frozen(weakref_slot=False)
class Delete:
    """``thread_id`` deleted by ``actor``."""

    thread_id: str
    actor: str


@attrs.frozen(weakref_slot=False)
class ExpireDue:
    """Write the expiries of at most ``limit`` due threads (one step of the sweep)."""

    limit: int


# --- drafts -------------------------------------------------------------------------------------
@attrs.frozen(weakref_slot=False)
class SaveDraft:
    """A new draft on ``thread_id`` (or, with ``draft_id``, a change to one)."""

    thread_id: str
    actor: str | None
    body: str
    attachments: tuple[str, ...]
    is_automated: bool
    source: MessageSource | None
    draft_id: str | None
    uploads: tuple[Upload, ...]


@attrs.frozen(weakref_slot=False)
class SendDraft:
    """Draft ``draft_id`` sent by ``actor``."""

    draft_id: str
    actor: str


@attrs.frozen(weakref_slot=False)
class DiscardDraft:
    """Draft ``draft_id`` thrown away by ``actor``."""

    draft_id: str
    actor: str


# --- notes --------------------------------------------------------------------------------------
@attrs.frozen(weakref_slot=False)
class AddNote:
    """A note by ``actor`` on ``thread_id``."""

    thread_id: str
    actor: str
    text: str


@attrs.frozen(weakref_slot=False)
class EditNote:
    """Note ``note_id``'s new text, by its author ``actor``."""

    note_id: str
    actor: str
    text: str


@attrs.frozen(weakref_slot=False)
class DeleteNotes:
    """Notes deleted by their author ``actor``."""

    note_ids: tuple[str, ...]
    actor: str


# --- the directory ------------------------------------------------------------------------------
@attrs.frozen(weakref_slot=False)
class AddResource:
    """A resource added to the directory."""

    resource: Resource


@attrs.frozen(weakref_slot=False)
class AddPhoneNumber:
    """Another phone number for resource ``extension_id``."""

    extension_id: str
    phone_number: str


@attrs.frozen(weakref_slot=False)
class AddHandler:
    """Another SMS handler for resource ``extension_id``."""

    extension_id: str
    handler: Handler


@attrs.frozen(weakref_slot=False)
class RemoveResource:
    """Resource ``extension_id`` removed."""

    extension_id: str


@attrs.frozen(weakref_slot=False)
class RemovePhoneNumber:
    """A phone number taken from resource ``extension_id``."""

    extension_id: str
    phone_number: str


@attrs.frozen(weakref_slot=False)
class RemoveHandler:
    """An SMS handler removed from resource ``extension_id``."""

    extension_id: str
    handler_id: str


@attrs.frozen(weakref_slot=False)
class LoadDirectory:
    """The directory brought to ``resources`` (merged, or ``replace``: exactly those)."""

    resources: tuple[Resource, ...]
    replace: bool


#: A change to a directory, as a record (applied by
#: :func:`threadcore.inbox.handlers.directory.apply`).
DirectoryChange = (
    AddResource
    | AddPhoneNumber
    | AddHandler
    | RemoveResource
    | RemovePhoneNumber
    | RemoveHandler
    | LoadDirectory
)


@attrs.frozen(weakref_slot=False)
class ChangeDirectory:
    """``change`` made to the directory stored with the threads, with its effect on them."""

    directory: StoredDirectoryPort
    change: DirectoryChange


@attrs.frozen(weakref_slot=False)
class FollowDirectory:
    """A resource that was ``before`` and is now ``after`` (``None``: removed) in a directory
    kept elsewhere: its effect on the threads (rule R11)."""

    before: Resource
    after: Resource | None


@attrs.frozen(weakref_slot=False)
class HandlerRemoved:
    """Handler ``handler_id`` left resource ``extension_id`` in a directory kept elsewhere."""

    extension_id: str
    handler_id: str


make_receive = record_maker(Receive)
make_send = record_maker(Send)
make_send_on_thread = record_maker(SendOnThread)
make_assign = record_maker(Assign)
make_resolve = record_maker(Resolve)
