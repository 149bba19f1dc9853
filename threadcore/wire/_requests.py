"""The request side of the primary platform's wire: query strings and request bodies as the
platform's clients send them, loaded into the arguments of the :class:`~threadcore.Inbox` calls.

A service that serves the platform's API (``threadcore.http``, or a FastAPI or Django view of its
own) reads a request with one of these and makes the call; every fault is an
:class:`~threadcore.errors.InvalidInput` (a :class:`WireFormatError` for a body) that names the
parameter as the platform spells it (``creationTimeFrom``, ``threadId``, ``to[0].phoneNumber``).

Query parameters come as the request's pairs (``[("availability", "Alive"), ...]``) or a mapping
of names to one value or a list of values. Array parameters may repeat (``a=1&a=2``) or hold
comma-separated values (``a=1,2``); any other parameter given twice, or a parameter the operation
does not take, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import attrs

from threadcore.domain.errors import InvalidInput, ThreadcoreError, WireFormatError
from threadcore.domain.model import EntryScope
from threadcore.domain.queries import MessageFilter, NoteFilter, SyncType, ThreadFilter
from threadcore.inbox import commands as c
from threadcore.wire._base import Bad, Id, Phone, Shape, parse_time
from threadcore.wire._mirror import Mirrors
from threadcore.wire._platform import rebuild_error

__all__ = [
    "MAX_PER_PAGE",
    "EntriesSyncQuery",
    "ListQuery",
    "SendRequest",
    "SyncQuery",
    "load_assign_request",
    "load_entries_sync_query",
    "load_ids_request",
    "load_message_query",
    "load_note_create_request",
    "load_note_query",
    "load_note_update_request",
    "load_no_query",
    "load_send_request",
    "load_sync_query",
    "load_thread_query",
    "rename_parameter",
    "renaming",
]

F = TypeVar("F", ThreadFilter, MessageFilter, NoteFilter)
E = TypeVar("E", bound=ThreadcoreError)

#: The largest page the platform serves: a larger ``perPage`` is served as this (it clamps).
MAX_PER_PAGE: Final = 1000
#: The page size when the request names none.
DEFAULT_PER_PAGE: Final = 100

SHAPE: Final = Shape(camel=True, omit_none=True)

Params = Iterable[tuple[str, str]] | Mapping[str, str | Sequence[str]]


@attrs.frozen
class ListQuery(Generic[F]):
    """A list request: the filter, the page size (clamped to 1000) and the page number, as
    ``Inbox.numbered_page`` takes them (the platform pages by number)."""

    filter: F
    per_page: int = DEFAULT_PER_PAGE
    page: int = 1

    def arguments(self) -> dict[str, Any]:
        """The numbered read's keyword arguments:
        ``inbox.numbered_page(actor=actor, **query.arguments())``."""
        return {"filter": self.filter, "per_page": self.per_page, "page": self.page}


@attrs.frozen
class SyncQuery:
    """A thread sync request, as ``Inbox.sync`` takes it."""

    sync_type: SyncType = SyncType.FULL
    sync_token: str | None = None

    def arguments(self) -> dict[str, Any]:
        """The sync's keyword arguments: ``inbox.sync(actor=actor, **query.arguments())``."""
        return {"sync_type": self.sync_type, "sync_token": self.sync_token}


@attrs.frozen
class EntriesSyncQuery:
    """An entries sync request, as ``Inbox.sync_entries`` takes it."""

    sync_type: SyncType = SyncType.FULL
    sync_token: str | None = None
    scope: EntryScope = EntryScope.ASSIGNED_TO_ME
    thread_ids: tuple[str, ...] | None = None


@attrs.frozen
class SendRequest:
    """A send request (``NewThreadMessageRequest``): ``thread_id`` when the message goes to a
    named thread, the business number (``from``), the customer's number (``to``, exactly one)
    and the text, as ``Inbox.send`` takes them (``owner_number``, ``guest_number``, ``body``)."""

    thread_id: str | None
    owner_number: str
    guest_number: str
    text: str


# --- query strings --------------------------------------------------------------------------------
def _multi(params: Params) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    pairs: Iterable[tuple[str, object]]
    if isinstance(params, Mapping):
        pairs = (
            (name, value)
            for name, values in params.items()
            for value in ([values] if isinstance(values, str) else values)
        )
    else:
        pairs = params
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInput("Query parameters must be strings", parameter=None)
        found.setdefault(name, []).append(value)
    return found


class _Query:
    """A query string being read: each parameter taken once; what is left over is refused."""

    def __init__(self, params: Params) -> None:
        self._values = _multi(params)

    def one(self, name: str) -> str | None:
        values = self._values.pop(name, None)
        if values is None:
            return None
        if len(values) > 1:
            raise InvalidInput(f"Parameter [{name}] must be given once", parameter=name)
        return values[0]

    def many(self, name: str) -> tuple[str, ...] | None:
        values = self._values.pop(name, None)
        if values is None:
            return None
        found = tuple(part.strip() for value in values for part in value.split(","))
        if not all(found):
            raise InvalidInput(f"Parameter [{name}] holds an empty value", parameter=name)
        return found

    def done(self) -> None:
        for name in self._values:
            raise InvalidInput(
                f"Parameter [{name[:40]}] is not a parameter of this operation",
                parameter=name[:40],
            )


def load_no_query(params: Params) -> None:
    """The query of an operation that takes no parameters: any parameter is refused
    (``InvalidInput`` naming it), as every list and sync operation refuses one it does not
    take."""
    _Query(params).done()


def _integer(query: _Query, name: str, default: int, low: int, high: int | None) -> int:
    text = query.one(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or not int(text) >= low:
        raise InvalidInput(
            f"Parameter [{name}] must be an integer of at least {low}", parameter=name
        )
    value = int(text)
    if high is not None and value > high:
        raise InvalidInput(f"Parameter [{name}] must be at most {high}", parameter=name)
    return value


_NO_ZONE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?", re.ASCII)


def _time(query: _Query, name: str) -> datetime | None:
    text = query.one(name)
    if text is None:
        return None
    # A time without a zone (as in the seed's sample code) is read as UTC (docs/rules.md, H2).
    zoned = text + "Z" if _NO_ZONE.fullmatch(text) else text
    try:
        return parse_time(zoned)
    except Bad as bad:
        raise InvalidInput(f"Parameter [{name}] {bad.reason}", parameter=name) from None


def rename_parameter(error: E, names: Mapping[str, str]) -> E:
    """``error`` naming its parameter as ``names`` maps it (a keyword argument's platform
    spelling to the request's own: ``status`` is ``threadStatus`` in a list query, ``body`` is
    ``text`` in a send, ``providerMessageId`` is ``id`` in the carrier's inbound message), or
    ``error`` itself when its parameter is not in ``names``. Any refusal that names a parameter
    is renamed (an invalid input, a conflict over a reused id ...), keeping its class."""
    name = names.get(error.parameter or "")
    if name is None:
        return error
    message = error.message.replace(f"[{error.parameter}]", f"[{name}]")
    renamed = rebuild_error(type(error), message, None)
    renamed.parameter = name
    assert isinstance(renamed, type(error))
    return renamed


@contextmanager
def renaming(names: Mapping[str, str]) -> Iterator[None]:
    """Within the block, a refusal that names a parameter in ``names`` names it as the request
    does (:func:`rename_parameter`): ``with renaming({"body": "text"}): inbox.send(...)``."""
    try:
        yield
    except ThreadcoreError as error:
        raise rename_parameter(error, names) from None


_LIST_NAMES: Final = {"status": "threadStatus"}


def _list(query: _Query, build: Callable[[], F]) -> ListQuery[F]:
    per_page = min(_integer(query, "perPage", DEFAULT_PER_PAGE, 1, None), MAX_PER_PAGE)
    page = _integer(query, "page", 1, 1, 1000)
    query.done()
    with renaming(_LIST_NAMES):
        return ListQuery(build(), per_page, page)


def _availability(query: _Query) -> tuple[str, ...]:
    return query.many("availability") or ("Alive",)


def load_thread_query(params: Params) -> ListQuery[ThreadFilter]:
    """The list-threads query (``threadStatus``, ``ownerExtensionIds``, ``creationTimeFrom``,
    ``creationTimeTo``, ``ownerPhoneNumber``, ``guestPhoneNumber``, ``availability``,
    ``perPage``, ``page``) as a :class:`ListQuery` of a :class:`~threadcore.ThreadFilter`."""
    q = _Query(params)
    status, owners = q.one("threadStatus"), q.many("ownerExtensionIds")
    start, end = _time(q, "creationTimeFrom"), _time(q, "creationTimeTo")
    owner, guest, availability = (
        q.one("ownerPhoneNumber"),
        q.one("guestPhoneNumber"),
        _availability(q),
    )
    return _list(q, lambda: ThreadFilter(status, owners, start, end, owner, guest, availability))


def load_message_query(params: Params) -> ListQuery[MessageFilter]:
    """The list-messages query (``threadStatus``, ``ownerExtensionIds``, ``availability``,
    ``messageIds``, ``threadIds``, ``creationTimeFrom``, ``creationTimeTo``, ``perPage``,
    ``page``) as a :class:`ListQuery` of a :class:`~threadcore.MessageFilter`."""
    q = _Query(params)
    status, owners = q.one("threadStatus"), q.many("ownerExtensionIds")
    availability, messages, threads = _availability(q), q.many("messageIds"), q.many("threadIds")
    start, end = _time(q, "creationTimeFrom"), _time(q, "creationTimeTo")
    return _list(
        q,
        lambda: MessageFilter(
            thread_ids=threads,
            message_ids=messages,
            thread_status=status,
            owner_extension_ids=owners,
            availability=availability,
            creation_time_from=start,
            creation_time_to=end,
        ),
    )


def load_note_query(params: Params) -> ListQuery[NoteFilter]:
    """The list-notes query (``ownerExtensionIds``, ``availability``, ``threadIds``,
    ``noteIds``, ``perPage``, ``page``) as a :class:`ListQuery` of a
    :class:`~threadcore.NoteFilter`."""
    q = _Query(params)
    owners, availability = q.many("ownerExtensionIds"), _availability(q)
    threads, notes = q.many("threadIds"), q.many("noteIds")
    return _list(
        q,
        lambda: NoteFilter(
            thread_ids=threads,
            note_ids=notes,
            owner_extension_ids=owners,
            availability=availability,
        ),
    )


def _sync_type(query: _Query) -> tuple[SyncType, str | None]:
    text = query.one("syncType")
    try:
        sync_type = SyncType(text or SyncType.FULL)
    except ValueError:
        raise InvalidInput(
            f"Parameter [syncType] must be FSync or ISync, not {text!r:.40}", parameter="syncType"
        ) from None
    return sync_type, query.one("syncToken")


def load_sync_query(params: Params) -> SyncQuery:
    """The sync-threads query (``syncType``: FSync by default or ISync; ``syncToken``)."""
    q = _Query(params)
    sync_type, token = _sync_type(q)
    q.done()
    return SyncQuery(sync_type, token)


def load_entries_sync_query(params: Params) -> EntriesSyncQuery:
    """The sync-entries query (``syncType``, ``syncToken``, ``scope``: AssignedToMe by default,
    ``threadIds``)."""
    q = _Query(params)
    sync_type, token = _sync_type(q)
    text, threads = q.one("scope"), q.many("threadIds")
    q.done()
    try:
        scope = EntryScope(text or EntryScope.ASSIGNED_TO_ME)
    except ValueError:
        raise InvalidInput(
            f"Parameter [scope] must be one of {', '.join(EntryScope)}, not {text!r:.40}",
            parameter="scope",
        ) from None
    return EntriesSyncQuery(sync_type, token, scope, threads)


# --- bodies ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class _Assignee:
    extension_id: Id


@attrs.frozen(kw_only=True)
class _Assign:
    assignee: _Assignee | None


@attrs.frozen(kw_only=True)
class _PhoneParty:
    phone_number: Phone


@attrs.frozen(kw_only=True)
class _NewMessage:
    thread_id: Id | None = None
    from_: _PhoneParty  # "from" on the wire
    to: tuple[_PhoneParty, ...]
    text: str


# The bodies that carry a command's fields, generated from the command (wire/_mirror.py).
_COMMANDS: Final = Mirrors(__name__)
_NoteCreate = _COMMANDS.mirror("_NoteCreate", c.AddNote, "thread_id text").shape
_NoteUpdate = _COMMANDS.mirror("_NoteUpdate", c.EditNote, "text").shape
#: The ids of the messages or notes to delete (a DeleteMessages's or a DeleteNotes's).
_Ids = _COMMANDS.mirror(
    "_Ids",
    c.DeleteNotes,
    "ids",
    sources={"ids": "note_ids"},
    types={"ids": tuple[Id, ...]},
    defaults={"ids": attrs.NOTHING},
).shape


def _object(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise WireFormatError("The request body must be a JSON object", parameter="$")
    return body


def load_assign_request(body: object) -> str | None:
    """The assignee's extension id from ``{"assignee": {"extensionId": "..."}}``, or ``None``
    for ``{"assignee": null}`` (unassign)."""
    shape = SHAPE.load(_object(body), _Assign)
    return None if shape.assignee is None else shape.assignee.extension_id


def load_send_request(body: object) -> SendRequest:
    """A send request from ``NewThreadMessageRequest`` (``threadId``, ``from``
    ``{"phoneNumber"}``, ``to`` ``[{"phoneNumber"}]``, ``text``), given as it is or wrapped as
    ``{"metadata": {...}}`` (the multipart form's JSON part). ``to`` must hold one number: a
    thread is one conversation between two numbers."""
    data = _object(body)
    if set(data) == {"metadata"}:
        data = _object(data["metadata"])
    shape = SHAPE.load(data, _NewMessage)
    if len(shape.to) != 1:
        raise WireFormatError(
            "Field [to] must hold exactly one recipient (a thread is one conversation)",
            parameter="to",
        )
    return SendRequest(
        shape.thread_id, shape.from_.phone_number, shape.to[0].phone_number, shape.text
    )


def load_note_create_request(body: object) -> tuple[str, str]:
    """``(thread_id, text)`` from ``ThreadNoteCreateRequest`` ``{"threadId", "text"}``."""
    shape: Any = SHAPE.load(_object(body), _NoteCreate)
    return shape.thread_id, shape.text


def load_note_update_request(body: object) -> str:
    """The new text from ``ThreadNoteUpdateRequest`` ``{"text"}``."""
    text: str = SHAPE.load(_object(body), _NoteUpdate).text
    return text


def load_ids_request(body: object) -> tuple[str, ...]:
    """The ids from ``ThreadMessagesDeleteRequest`` / ``ThreadNotesDeleteRequest``
    ``{"ids": [...]}`` (at least one)."""
    ids: tuple[str, ...] = SHAPE.load(_object(body), _Ids).ids
    if not ids:
        raise WireFormatError("Field [ids] must hold at least one id", parameter="ids")
    return ids
