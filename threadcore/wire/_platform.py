"""The primary platform's shapes (seed 001 and its API reference): camelCase, times as
``2026-02-17T17:12:39.676Z``, fields that do not apply omitted (never ``null``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from threadcore.domain import errors as _errors
from threadcore.domain.errors import ThreadcoreError, WireFormatError
from threadcore.domain.model import (
    DeliveryStatus,
    Direction,
    Entry,
    Message,
    Note,
    OwnerResource,
    Party,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import Page, Paging, SyncResult
from threadcore.wire._base import Id, Shape, check, ensure, ensure_sequence
from threadcore.wire._mirror import Mirrors

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
T = TypeVar("T")


class MessageStatus(enum.StrEnum):
    """The platform's ``messageStatus``: DeliveryStatus without Draft and Read."""

    QUEUED = "Queued"
    SENT = "Sent"
    DELIVERED = "Delivered"
    DELIVERY_FAILED = "DeliveryFailed"
    SENDING_FAILED = "SendingFailed"
    RECEIVED = "Received"


# --- the shapes (attribute order is key order; a default marks a field that may be left out) -----
# The documents that carry a domain record are generated from it (wire/_mirror.py): the keys are
# listed in the platform's order, the types are the record's, the platform's way.
_MIRRORS: Final = Mirrors(__name__, types={DeliveryStatus: MessageStatus})
_PARTY: Final = _MIRRORS.mirror("_Party", Party, "phone_number")
#: A thread's owner and a handler on a record are both the platform's ThreadUser.
_USER: Final = _MIRRORS.mirror(
    "_User", (OwnerResource, ThreadUser), "extension_id name extension_type"
)
_THREAD: Final = _MIRRORS.mirror(
    "_Thread",
    Thread,
    "id status availability owner_party guest_party owner assignee label status_reason "
    "creation_time last_modified_time",
)
_PAGING: Final = _MIRRORS.mirror(
    "_Paging", Paging, "page per_page page_start page_end total_pages total_elements"
)
_SYNC_INFO: Final = _MIRRORS.mirror("_SyncInfo", SyncResult, "sync_type sync_token sync_time")
_MESSAGE: Final = _MIRRORS.mirror(
    "_Message",
    Message,
    "id thread_id availability creation_time last_modified_time direction message_status text "
    "attachments author",
    sources={
        "creation_time": "created_at",
        "last_modified_time": "last_modified_at",
        "message_status": "status",
        "text": "body",
    },
    types={"text": str | None},  # an empty body (a deleted message's) is left out
)
_NOTE: Final = _MIRRORS.mirror(
    "_Note",
    Note,
    "id thread_id availability creation_time last_modified_time text author",
    types={"text": str | None},  # a deleted note's empty text is left out
)
#: Every field of an entry but ``status_reason`` (the platform's entry has none).
_ENTRY: Final = _MIRRORS.mirror(
    "_Entry",
    Entry,
    " ".join(f.name for f in attrs.fields(Entry) if f.name != "status_reason"),
)

_Party = _PARTY.shape
_User = _USER.shape
_Thread = _THREAD.shape
_Paging = _PAGING.shape
_SyncInfo = _SYNC_INFO.shape
_Message = _MESSAGE.shape
_Note = _NOTE.shape
_Entry = _ENTRY.shape
_ThreadList = _MIRRORS.records("_ThreadList", _THREAD, paging=_PAGING)
_MessageList = _MIRRORS.records("_MessageList", _MESSAGE, paging=_PAGING)
_NoteList = _MIRRORS.records("_NoteList", _NOTE, paging=_PAGING)
_ThreadSync = _MIRRORS.records("_ThreadSync", _THREAD, sync_info=_SYNC_INFO)
_EntriesSync = _MIRRORS.records("_EntriesSync", _ENTRY, sync_info=_SYNC_INFO)


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


# --- paging, sync ---------------------------------------------------------------------------------
def _paging(page: Page[Any], parameter: str) -> Any:
    ensure(page, Page, parameter)
    paging = page.paging
    if paging is None:
        raise WireFormatError(
            f"Parameter [{parameter}] has no page-number paging (ask for page=N): the platform's "
            "list shape carries no page token",
            parameter=parameter,
        )
    if not page.records:  # page fields are omitted on an empty result
        return _Paging(per_page=paging.per_page)
    return _PAGING.dump(paging)


def _sync_info(result: SyncResult[Any], parameter: str) -> Any:
    ensure(result, SyncResult, parameter)
    return _SYNC_INFO.dump(result)


def _dump_list(shape: Any, page: Page[Any], one: Callable[[Any], Any]) -> dict[str, Any]:
    """A list document of ``shape``: ``page``'s records written by ``one``, and its paging."""
    paging = _paging(page, "page")
    return SHAPE.dump(shape(records=tuple(one(r) for r in page.records), paging=paging))


def _records(shape: Any, one: Callable[[Any, str], T]) -> tuple[T, ...]:
    """The domain records of a loaded list or sync document, each read by ``one`` (which
    names a bad field by its place: ``records[2].``)."""
    return tuple(one(r, f"records[{i}].") for i, r in enumerate(shape.records))


def _load_list(data: Mapping[str, Any], shape: Any, one: Callable[[Any, str], T]) -> Page[T]:
    loaded: Any = SHAPE.load(data, shape)
    paging: Paging = _PAGING.load(loaded.paging, Paging)
    return Page(_records(loaded, one), None, paging)


def _load_sync(data: Mapping[str, Any], shape: Any, one: Callable[[Any, str], T]) -> SyncResult[T]:
    loaded: Any = SHAPE.load(data, shape)
    records = _records(loaded, one)
    result: SyncResult[T] = _SYNC_INFO.load(loaded.sync_info, SyncResult, records=records)
    return result


# --- threads --------------------------------------------------------------------------------------
def _thread(thread: Thread) -> Any:
    ensure(thread, Thread, "thread")
    if thread.status is ThreadStatus.OPEN:  # its assignee, and no reason
        return _THREAD.dump(thread, assignee=_MIRRORS.out(thread.assignee), status_reason=None)
    return _THREAD.dump(thread, assignee=None)  # its reason, and no assignee


def _domain_thread(shape: Any, path: str) -> Thread:
    is_open = shape.status is ThreadStatus.OPEN
    check(
        not (is_open and shape.status_reason), f"{path}statusReason", "is only for resolved threads"
    )
    check(not (shape.assignee and not is_open), f"{path}assignee", "is only for open threads")
    thread: Thread = _THREAD.load(
        shape,
        Thread,
        last_inbound_at=None,
        last_outbound_at=None,
        latest_message_at=shape.last_modified_time,
    )
    return thread


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
    return _dump_list(_ThreadList, page, _thread)


def load_thread_list(data: Mapping[str, Any]) -> Page[Thread]:
    """A :class:`~threadcore.Page` of threads (with ``paging``, no page token) from a
    MessageThreadList."""
    return _load_list(data, _ThreadList, _domain_thread)


def dump_thread_sync(result: SyncResult[Thread]) -> dict[str, Any]:
    """The platform's ThreadSyncList: ``records`` and ``syncInfo`` {syncType, syncToken,
    syncTime}."""
    info = _sync_info(result, "result")
    records = tuple(_thread(t) for t in ensure_sequence(result.records, "records"))
    return SHAPE.dump(_ThreadSync(records=records, sync_info=info))


def load_thread_sync(data: Mapping[str, Any]) -> SyncResult[Thread]:
    """A :class:`~threadcore.SyncResult` of threads from a ThreadSyncList."""
    return _load_sync(data, _ThreadSync, _domain_thread)


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


def _message(message: Message) -> Any:
    ensure(message, Message, "message")
    outbound = message.direction is Direction.OUTBOUND
    return _MESSAGE.dump(
        message,
        message_status=_message_status(message.status, "status"),
        text=message.body or None,
        author=_MIRRORS.out(message.author) if outbound else None,
    )


def _domain_message(shape: Any, path: str) -> Message:
    inbound = shape.direction is Direction.INBOUND
    check(not (inbound and shape.author), f"{path}author", "is only for outbound messages")
    message: Message = _MESSAGE.load(
        shape, Message, body=shape.text or "", from_number="", to_number=""
    )
    return message


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
    return _dump_list(_MessageList, page, _message)


def load_message_list(data: Mapping[str, Any]) -> Page[Message]:
    """A :class:`~threadcore.Page` of messages from a ThreadMessageList."""
    return _load_list(data, _MessageList, _domain_message)


# --- notes ----------------------------------------------------------------------------------------
def _note(note: Note) -> Any:
    ensure(note, Note, "note")
    return _NOTE.dump(note, text=note.text or None)


def _domain_note(shape: Any, path: str = "") -> Note:
    note: Note = _NOTE.load(shape, Note, text=shape.text or "")
    return note


def dump_note(note: Note) -> dict[str, Any]:
    """The platform's thread note (``text`` left out once a deleted note has lost it)."""
    return SHAPE.dump(_note(note))


def load_note(data: Mapping[str, Any]) -> Note:
    """A :class:`~threadcore.domain.model.Note` from the platform's thread note."""
    return _domain_note(SHAPE.load(data, _Note))


def dump_note_list(page: Page[Note]) -> dict[str, Any]:
    """The platform's note list: ``records`` and ``paging`` (see :func:`dump_thread_list`)."""
    return _dump_list(_NoteList, page, _note)


def load_note_list(data: Mapping[str, Any]) -> Page[Note]:
    """A :class:`~threadcore.Page` of notes from the platform's note list."""
    return _load_list(data, _NoteList, _domain_note)


# --- the entries timeline -------------------------------------------------------------------------
def _entry(entry: Entry, index: int) -> Any:
    if not isinstance(entry, Entry):
        raise WireFormatError("Parameter [records] must hold Entry values", parameter="records")
    status = entry.message_status
    return _ENTRY.dump(
        entry,
        message_status=None
        if status is None
        else _message_status(status, f"records[{index}].message_status"),
        text=entry.text or None,
    )


def _domain_entry(shape: Any, path: str = "") -> Entry:
    entry: Entry = _ENTRY.load(shape, Entry)
    return entry


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
    return _load_sync(data, _EntriesSync, _domain_entry)


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
    ensure(error, ThreadcoreError, "error")
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
    shape: Any = SHAPE.load(data, _ApiError)
    cls = error_classes().get(shape.error_code)
    check(
        cls is not None, "errorCode", f"is not a threadcore error code: {shape.error_code[:40]!r}"
    )
    assert cls is not None
    parameter = shape.errors[0].parameter_name if shape.errors else None
    return rebuild_error(cls, shape.message, parameter)
