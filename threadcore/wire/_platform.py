"""The primary platform's shapes (seed 001 and its API reference): camelCase, times as
``2026-02-17T17:12:39.676Z``, fields that do not apply omitted (never ``null``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from threadcore.domain import errors as _errors
from threadcore.domain.errors import ThreadcoreError, WireFormatError
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Entry,
    EntryType,
    Message,
    Note,
    OwnerResource,
    Party,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import Page, Paging, SyncResult, SyncType
from threadcore.wire._base import Id, Phone, Shape, check, ensure_sequence

__all__ = [
    "dump_api_error",
    "dump_entries_sync",
    "dump_message",
    "dump_message_list",
    "dump_note",
    "dump_note_list",
    "dump_thread",
    "dump_thread_list",
    "dump_thread_sync",
    "load_api_error",
    "load_entries_sync",
    "load_message",
    "load_message_list",
    "load_note",
    "load_note_list",
    "load_thread",
    "load_thread_list",
    "load_thread_sync",
]

SHAPE: Final = Shape(camel=True, omit_none=True)


class MessageStatus(enum.StrEnum):
    """The platform's ``messageStatus``: DeliveryStatus without Draft and Read."""

    QUEUED = "Queued"
    SENT = "Sent"
    DELIVERED = "Delivered"
    DELIVERY_FAILED = "DeliveryFailed"
    SENDING_FAILED = "SendingFailed"
    RECEIVED = "Received"


# --- the shapes (attribute order is key order; a default marks a field that may be left out) -----
@attrs.frozen(kw_only=True)
class _Party:
    phone_number: Phone


@attrs.frozen(kw_only=True)
class _User:
    extension_id: Id
    name: str | None = None
    extension_type: str | None = None


@attrs.frozen(kw_only=True)
class _Thread:
    id: Id
    status: ThreadStatus
    availability: Availability
    owner_party: _Party
    guest_party: _Party
    owner: _User
    assignee: _User | None = None
    label: str | None = None
    status_reason: StatusReason | None = None
    creation_time: datetime
    last_modified_time: datetime


@attrs.frozen(kw_only=True)
class _Paging:
    page: int | None = None
    per_page: int
    page_start: int | None = None
    page_end: int | None = None
    total_pages: int | None = None
    total_elements: int | None = None


@attrs.frozen(kw_only=True)
class _ThreadList:
    records: tuple[_Thread, ...]
    paging: _Paging


@attrs.frozen(kw_only=True)
class _SyncInfo:
    sync_type: SyncType
    sync_token: Id
    sync_time: datetime


@attrs.frozen(kw_only=True)
class _ThreadSync:
    records: tuple[_Thread, ...]
    sync_info: _SyncInfo


@attrs.frozen(kw_only=True)
class _Message:
    id: Id
    thread_id: Id
    availability: Availability
    creation_time: datetime
    last_modified_time: datetime
    direction: Direction
    message_status: MessageStatus
    text: str | None = None
    attachments: tuple[str, ...] = ()
    author: _User | None = None


@attrs.frozen(kw_only=True)
class _MessageList:
    records: tuple[_Message, ...]
    paging: _Paging


@attrs.frozen(kw_only=True)
class _Note:
    id: Id
    thread_id: Id
    availability: Availability
    creation_time: datetime
    last_modified_time: datetime
    text: str | None = None
    author: _User


@attrs.frozen(kw_only=True)
class _NoteList:
    records: tuple[_Note, ...]
    paging: _Paging


@attrs.frozen(kw_only=True)
class _Entry:
    record_type: EntryType
    id: Id
    thread_id: Id
    availability: Availability
    creation_time: datetime
    last_modified_time: datetime
    direction: Direction | None = None
    message_status: MessageStatus | None = None
    text: str | None = None
    attachments: tuple[str, ...] = ()
    author: _User | None = None
    initiator: _User | None = None
    assignee: _User | None = None
    previous_assignee: _User | None = None


@attrs.frozen(kw_only=True)
class _EntriesSync:
    records: tuple[_Entry, ...]
    sync_info: _SyncInfo


@attrs.frozen(kw_only=True)
class _ErrorDetail:
    error_code: Id
    message: str
    parameter_name: str | None = None


@attrs.frozen(kw_only=True)
class _ApiError:
    error_code: Id
    message: str
    errors: tuple[_ErrorDetail, ...] = ()


# --- users, parties, paging -----------------------------------------------------------------------
def _user(user: ThreadUser | None) -> _User | None:
    if user is None:
        return None
    return _User(
        extension_id=Id(user.extension_id), name=user.name, extension_type=user.extension_type
    )


def _thread_user(user: _User | None) -> ThreadUser | None:
    if user is None:
        return None
    kind = "User" if user.extension_type is None else user.extension_type
    return ThreadUser(user.extension_id, user.name, kind)


def _paging(page: Page[Any], parameter: str) -> _Paging:
    if not isinstance(page, Page):
        raise WireFormatError(f"Parameter [{parameter}] must be a Page", parameter=parameter)
    paging = page.paging
    if paging is None:
        raise WireFormatError(
            f"Parameter [{parameter}] has no page-number paging (ask for page=N): the platform's "
            "list shape carries no page token",
            parameter=parameter,
        )
    if not page.records:  # page fields are omitted on an empty result
        return _Paging(per_page=paging.per_page)
    return _Paging(
        page=paging.page,
        total_pages=paging.total_pages,
        per_page=paging.per_page,
        total_elements=paging.total_elements,
        page_start=paging.page_start,
        page_end=paging.page_end,
    )


def _domain_paging(paging: _Paging) -> Paging:
    return Paging(
        per_page=paging.per_page,
        page=paging.page,
        page_start=paging.page_start,
        page_end=paging.page_end,
        total_pages=paging.total_pages,
        total_elements=paging.total_elements,
    )


def _sync_info(result: SyncResult[Any], parameter: str) -> _SyncInfo:
    if not isinstance(result, SyncResult):
        raise WireFormatError(f"Parameter [{parameter}] must be a SyncResult", parameter=parameter)
    return _SyncInfo(
        sync_type=result.sync_type, sync_token=Id(result.sync_token), sync_time=result.sync_time
    )


# --- threads --------------------------------------------------------------------------------------
def _thread(thread: Thread) -> _Thread:
    if not isinstance(thread, Thread):
        raise WireFormatError("Parameter [thread] must be a Thread", parameter="thread")
    is_open = thread.status is ThreadStatus.OPEN
    owner = thread.owner
    return _Thread(
        id=Id(thread.id),
        status=thread.status,
        availability=thread.availability,
        owner_party=_Party(phone_number=Phone(thread.owner_party.phone_number)),
        guest_party=_Party(phone_number=Phone(thread.guest_party.phone_number)),
        owner=_User(
            extension_id=Id(owner.extension_id),
            name=owner.name,
            extension_type=owner.extension_type,
        ),
        assignee=_user(thread.assignee) if is_open else None,
        label=thread.label,
        status_reason=None if is_open else thread.status_reason,
        creation_time=thread.creation_time,
        last_modified_time=thread.last_modified_time,
    )


def _domain_thread(shape: _Thread, path: str) -> Thread:
    is_open = shape.status is ThreadStatus.OPEN
    check(
        not (is_open and shape.status_reason), f"{path}statusReason", "is only for resolved threads"
    )
    check(not (shape.assignee and not is_open), f"{path}assignee", "is only for open threads")
    return Thread(
        id=shape.id,
        owner_party=Party(shape.owner_party.phone_number),
        guest_party=Party(shape.guest_party.phone_number),
        owner=OwnerResource(shape.owner.extension_id, shape.owner.name, shape.owner.extension_type),
        creation_time=shape.creation_time,
        status=shape.status,
        availability=shape.availability,
        assignee=_thread_user(shape.assignee),
        status_reason=shape.status_reason,
        label=shape.label,
        last_modified_time=shape.last_modified_time,
        last_inbound_at=None,
        last_outbound_at=None,
        latest_message_at=shape.last_modified_time,
    )


def dump_thread(thread: Thread) -> dict[str, Any]:
    """The platform's MessageThread for ``thread``.

    ``statusReason`` appears only on a resolved thread, ``assignee`` only on an open one that has
    one, ``label`` only when the thread has one. The activity fields threadcore keeps beyond the
    platform (``last_inbound_at`` …) are not written.
    """
    return SHAPE.dump(_thread(thread))


def load_thread(data: Mapping[str, Any]) -> Thread:
    """A :class:`~threadcore.Thread` from the platform's MessageThread.

    The shape does not carry the activity times: ``latest_message_at`` reads as
    ``last_modified_time`` and ``last_inbound_at`` / ``last_outbound_at`` as ``None``; ``version``
    is 1. A malformed document raises :class:`~threadcore.domain.errors.WireFormatError`.
    """
    return _domain_thread(SHAPE.load(data, _Thread), "")


def dump_thread_list(page: Page[Thread]) -> dict[str, Any]:
    """The platform's MessageThreadList: ``records`` and ``paging``.

    ``page`` must come from ``Inbox.list(..., page=N)`` (the platform pages by number; a token
    walk's page has no ``paging`` and raises :class:`WireFormatError`). On an empty page only
    ``perPage`` is written.
    """
    paging = _paging(page, "page")
    return SHAPE.dump(_ThreadList(records=tuple(_thread(t) for t in page.records), paging=paging))


def load_thread_list(data: Mapping[str, Any]) -> Page[Thread]:
    """A :class:`~threadcore.Page` of threads (with ``paging``, no page token) from a
    MessageThreadList."""
    shape = SHAPE.load(data, _ThreadList)
    records = tuple(_domain_thread(t, f"records[{i}].") for i, t in enumerate(shape.records))
    return Page(records, None, _domain_paging(shape.paging))


def dump_thread_sync(result: SyncResult[Thread]) -> dict[str, Any]:
    """The platform's ThreadSyncList: ``records`` and ``syncInfo`` {syncType, syncToken,
    syncTime}."""
    info = _sync_info(result, "result")
    records = tuple(_thread(t) for t in ensure_sequence(result.records, "records"))
    return SHAPE.dump(_ThreadSync(records=records, sync_info=info))


def load_thread_sync(data: Mapping[str, Any]) -> SyncResult[Thread]:
    """A :class:`~threadcore.SyncResult` of threads from a ThreadSyncList."""
    shape = SHAPE.load(data, _ThreadSync)
    records = tuple(_domain_thread(t, f"records[{i}].") for i, t in enumerate(shape.records))
    info = shape.sync_info
    return SyncResult(records, info.sync_type, info.sync_token, info.sync_time)


# --- messages -------------------------------------------------------------------------------------
#: DeliveryStatus -> messageStatus. Read is reported as Delivered (the platform has no Read); a
#: Draft has no platform shape (it is not a message yet) and is refused.
TO_MESSAGE_STATUS: Final[Mapping[DeliveryStatus, MessageStatus]] = {
    DeliveryStatus.QUEUED: MessageStatus.QUEUED,
    DeliveryStatus.SENT: MessageStatus.SENT,
    DeliveryStatus.DELIVERED: MessageStatus.DELIVERED,
    DeliveryStatus.READ: MessageStatus.DELIVERED,
    DeliveryStatus.SENDING_FAILED: MessageStatus.SENDING_FAILED,
    DeliveryStatus.DELIVERY_FAILED: MessageStatus.DELIVERY_FAILED,
    DeliveryStatus.RECEIVED: MessageStatus.RECEIVED,
}


def _message_status(status: DeliveryStatus, parameter: str) -> MessageStatus:
    found = TO_MESSAGE_STATUS.get(status)
    if found is None:
        raise WireFormatError(
            f"Parameter [{parameter}] {status!s} has no platform messageStatus (a draft is not a "
            "message on the platform)",
            parameter=parameter,
        )
    return found


def _message(message: Message) -> _Message:
    if not isinstance(message, Message):
        raise WireFormatError("Parameter [message] must be a Message", parameter="message")
    outbound = message.direction is Direction.OUTBOUND
    return _Message(
        id=Id(message.id),
        thread_id=Id(message.thread_id),
        availability=message.availability,
        creation_time=message.created_at,
        last_modified_time=message.last_modified_at,
        direction=message.direction,
        message_status=_message_status(message.status, "status"),
        text=message.body or None,
        attachments=tuple(message.attachments),
        author=_user(message.author) if outbound else None,
    )


def _domain_message(shape: _Message, path: str) -> Message:
    inbound = shape.direction is Direction.INBOUND
    check(not (inbound and shape.author), f"{path}author", "is only for outbound messages")
    return Message(
        id=shape.id,
        thread_id=shape.thread_id,
        direction=shape.direction,
        body=shape.text or "",
        from_number="",
        to_number="",
        author=_thread_user(shape.author),
        created_at=shape.creation_time,
        last_modified_at=shape.last_modified_time,
        availability=shape.availability,
        status=DeliveryStatus(shape.message_status.value),
        attachments=shape.attachments,
    )


def dump_message(message: Message) -> dict[str, Any]:
    """The platform's thread message: ``text`` only when there is one (a deleted message has
    none), ``attachments`` only when there are some, ``author`` only on an outbound message.

    ``messageStatus`` is the delivery status, with Read written as Delivered; a draft raises
    :class:`WireFormatError`.
    """
    return SHAPE.dump(_message(message))


def load_message(data: Mapping[str, Any]) -> Message:
    """A :class:`~threadcore.Message` from the platform's thread message.

    The shape carries neither phone number (``from_number`` and ``to_number`` read as ``""``)
    nor the delivery details beyond ``messageStatus`` (``sent_at`` … read as ``None``).
    """
    return _domain_message(SHAPE.load(data, _Message), "")


def dump_message_list(page: Page[Message]) -> dict[str, Any]:
    """The platform's ThreadMessageList: ``records`` and ``paging`` (see
    :func:`dump_thread_list`)."""
    paging = _paging(page, "page")
    return SHAPE.dump(_MessageList(records=tuple(_message(m) for m in page.records), paging=paging))


def load_message_list(data: Mapping[str, Any]) -> Page[Message]:
    """A :class:`~threadcore.Page` of messages from a ThreadMessageList."""
    shape = SHAPE.load(data, _MessageList)
    records = tuple(_domain_message(m, f"records[{i}].") for i, m in enumerate(shape.records))
    return Page(records, None, _domain_paging(shape.paging))


# --- notes ----------------------------------------------------------------------------------------
def _note(note: Note) -> _Note:
    if not isinstance(note, Note):
        raise WireFormatError("Parameter [note] must be a Note", parameter="note")
    author = _user(note.author)
    assert author is not None
    return _Note(
        id=Id(note.id),
        thread_id=Id(note.thread_id),
        availability=note.availability,
        creation_time=note.creation_time,
        last_modified_time=note.last_modified_time,
        text=note.text or None,
        author=author,
    )


def _domain_note(shape: _Note) -> Note:
    author = _thread_user(shape.author)
    assert author is not None
    return Note(
        id=shape.id,
        thread_id=shape.thread_id,
        author=author,
        text=shape.text or "",
        creation_time=shape.creation_time,
        last_modified_time=shape.last_modified_time,
        availability=shape.availability,
    )


def dump_note(note: Note) -> dict[str, Any]:
    """The platform's thread note (``text`` left out once a deleted note has lost it)."""
    return SHAPE.dump(_note(note))


def load_note(data: Mapping[str, Any]) -> Note:
    """A :class:`~threadcore.domain.model.Note` from the platform's thread note."""
    return _domain_note(SHAPE.load(data, _Note))


def dump_note_list(page: Page[Note]) -> dict[str, Any]:
    """The platform's note list: ``records`` and ``paging`` (see :func:`dump_thread_list`)."""
    paging = _paging(page, "page")
    return SHAPE.dump(_NoteList(records=tuple(_note(n) for n in page.records), paging=paging))


def load_note_list(data: Mapping[str, Any]) -> Page[Note]:
    """A :class:`~threadcore.Page` of notes from the platform's note list."""
    shape = SHAPE.load(data, _NoteList)
    return Page(tuple(_domain_note(n) for n in shape.records), None, _domain_paging(shape.paging))


# --- the entries timeline -------------------------------------------------------------------------
def _entry(entry: Entry, index: int) -> _Entry:
    if not isinstance(entry, Entry):
        raise WireFormatError("Parameter [records] must hold Entry values", parameter="records")
    status = entry.message_status
    return _Entry(
        record_type=entry.record_type,
        id=Id(entry.id),
        thread_id=Id(entry.thread_id),
        availability=entry.availability,
        creation_time=entry.creation_time,
        last_modified_time=entry.last_modified_time,
        direction=entry.direction,
        message_status=None
        if status is None
        else _message_status(status, f"records[{index}].message_status"),
        text=entry.text or None,
        attachments=tuple(entry.attachments),
        author=_user(entry.author),
        initiator=_user(entry.initiator),
        assignee=_user(entry.assignee),
        previous_assignee=_user(entry.previous_assignee),
    )


def _domain_entry(shape: _Entry) -> Entry:
    status = shape.message_status
    return Entry(
        record_type=shape.record_type,
        id=shape.id,
        thread_id=shape.thread_id,
        availability=shape.availability,
        creation_time=shape.creation_time,
        last_modified_time=shape.last_modified_time,
        direction=shape.direction,
        message_status=None if status is None else DeliveryStatus(status.value),
        text=shape.text,
        attachments=shape.attachments,
        author=_thread_user(shape.author),
        initiator=_thread_user(shape.initiator),
        assignee=_thread_user(shape.assignee),
        previous_assignee=_thread_user(shape.previous_assignee),
    )


def dump_entries_sync(result: SyncResult[Entry]) -> dict[str, Any]:
    """The platform's ThreadEntriesSyncList: ``records`` (each with its ``recordType`` and the
    fields its type carries) and ``syncInfo``.

    A resolved hint's ``status_reason`` is not written (the platform's entry has no such field);
    a message status of Read is written as Delivered.
    """
    info = _sync_info(result, "result")
    entries = ensure_sequence(result.records, "records")
    records = tuple(_entry(e, i) for i, e in enumerate(entries))
    return SHAPE.dump(_EntriesSync(records=records, sync_info=info))


def load_entries_sync(data: Mapping[str, Any]) -> SyncResult[Entry]:
    """A :class:`~threadcore.SyncResult` of timeline entries from a ThreadEntriesSyncList (an
    empty ``text`` reads as ``None``; ``status_reason`` as ``None``)."""
    shape = SHAPE.load(data, _EntriesSync)
    info = shape.sync_info
    records = tuple(_domain_entry(e) for e in shape.records)
    return SyncResult(records, info.sync_type, info.sync_token, info.sync_time)


# --- errors ---------------------------------------------------------------------------------------
def error_classes() -> dict[str, type[ThreadcoreError]]:
    """Every ``ThreadcoreError`` class by its ``code`` (the root and all subclasses loaded)."""
    found: dict[str, type[ThreadcoreError]] = {}
    pending: list[type[ThreadcoreError]] = [ThreadcoreError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


_ACTOR = re.compile(r"The thread is not assigned to extension \[(.*)\] at the moment\.", re.DOTALL)
_TOKEN = re.compile(
    r"Parameter \[\w+\] is invalid: (.*); (?:do a full sync|start again).*", re.DOTALL
)


def rebuild_error(
    cls: type[ThreadcoreError], message: str, parameter: str | None
) -> ThreadcoreError:
    """An instance of ``cls`` with exactly this message (bypassing constructors that compose
    their own), with the attributes its class documents restored where the message holds them."""
    error = cls.__new__(cls)
    ThreadcoreError.__init__(error, message, parameter=parameter)
    if issubclass(cls, _errors.NotAssignee):
        match = _ACTOR.fullmatch(message)
        error.actor = match.group(1) if match else ""  # type: ignore[attr-defined]
    if issubclass(cls, _errors.InvalidSyncToken | _errors.InvalidPageToken):
        match = _TOKEN.fullmatch(message)
        error.reason = match.group(1) if match else message  # type: ignore[attr-defined]
    if issubclass(cls, _errors.OutcomeUnknown):  # its message says whether a repeat is safe
        error.retryable = _errors.OutcomeUnknown(retryable=True).message == message
    return error


def dump_api_error(error: ThreadcoreError) -> dict[str, Any]:
    """The platform's error body: ``errorCode`` (threadcore's stable ``code``), ``message`` and
    ``errors`` [{errorCode, message, parameterName}] (``parameterName`` when the error names
    one). Messages are threadcore's, in the platform's words where it has them ("The thread is
    not assigned to extension [X] at the moment.", "Parameter [syncToken] is invalid …")."""
    if not isinstance(error, ThreadcoreError):
        raise WireFormatError("Parameter [error] must be a ThreadcoreError", parameter="error")
    code = Id(error.code)
    message = _printable(error.message)
    name = None if error.parameter is None else _printable(error.parameter)
    detail = _ErrorDetail(error_code=code, message=message, parameter_name=name)
    return SHAPE.dump(_ApiError(error_code=code, message=message, errors=(detail,)))


def _printable(text: str) -> str:
    """``text`` with what a JSON document may not show well (NUL, control characters) escaped:
    an error about a hostile value must not itself be refused."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def load_api_error(data: Mapping[str, Any]) -> ThreadcoreError:
    """The :class:`~threadcore.ThreadcoreError` subclass an error body names by ``errorCode``,
    with its message and (from the first of ``errors``) its parameter. An ``errorCode``
    threadcore does not know raises :class:`WireFormatError`."""
    shape = SHAPE.load(data, _ApiError)
    cls = error_classes().get(shape.error_code)
    check(
        cls is not None, "errorCode", f"is not a threadcore error code: {shape.error_code[:40]!r}"
    )
    assert cls is not None
    parameter = shape.errors[0].parameter_name if shape.errors else None
    return rebuild_error(cls, shape.message, parameter)
