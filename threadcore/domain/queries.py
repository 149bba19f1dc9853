"""The query side: list filters, pages and sync results (values only, no storage)."""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Generic, TypeVar, overload

import attrs

from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import Availability, Thread, ThreadStatus
from threadcore.domain.validation import check_extension_id, check_utc, e164

__all__ = [
    "MessageFilter",
    "NoteFilter",
    "NumberedPage",
    "Page",
    "Paging",
    "SyncResult",
    "SyncType",
    "ThreadFilter",
]

T = TypeVar("T")


class SyncType(enum.StrEnum):
    """FSync (a full snapshot) or ISync (what changed since a token)."""

    FULL = "FSync"
    INCREMENTAL = "ISync"


def _time_from(value: object) -> datetime | None:
    return None if value is None else check_utc(value, "creation_time_from")


def _time_to(value: object) -> datetime | None:
    return None if value is None else check_utc(value, "creation_time_to")


def _owner_number(value: object) -> str | None:
    return None if value is None else e164(value, "owner_phone_number")


def _guest_number(value: object) -> str | None:
    return None if value is None else e164(value, "guest_phone_number")


def _to_status(value: object) -> ThreadStatus | None:
    if value is None:
        return None
    try:
        return ThreadStatus(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput(
            f"Parameter [status] must be Open or Resolved, not {value!r:.40}", parameter="status"
        ) from None


def _id_list(parameter: str) -> Callable[[object], tuple[str, ...] | None]:
    """A converter to a tuple of distinct ids (``None`` stays ``None``: no criterion)."""

    def convert(value: object) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise InvalidInput(
                f"Parameter [{parameter}] must be a list of ids", parameter=parameter
            )
        ids = tuple(dict.fromkeys(check_extension_id(v, parameter) for v in value))
        if not ids:
            raise InvalidInput(
                f"Parameter [{parameter}] must not be empty (omit it for no criterion)",
                parameter=parameter,
            )
        return ids

    return convert


def _to_ids(value: object) -> tuple[str, ...] | None:
    return _id_list("owner_extension_ids")(value)


def _to_thread_ids(value: object) -> tuple[str, ...] | None:
    return _id_list("thread_ids")(value)


def _to_message_ids(value: object) -> tuple[str, ...] | None:
    return _id_list("message_ids")(value)


def _to_note_ids(value: object) -> tuple[str, ...] | None:
    return _id_list("note_ids")(value)


def _to_availability(value: object) -> tuple[Availability, ...]:
    values = (value,) if isinstance(value, str | Availability) else value
    if not isinstance(values, Iterable):
        raise InvalidInput("Parameter [availability] must be a list", parameter="availability")
    try:
        found = tuple(dict.fromkeys(Availability(v) for v in values))
    except ValueError:
        raise InvalidInput(
            "Parameter [availability] values must be Alive or Deleted", parameter="availability"
        ) from None
    if not found:
        raise InvalidInput("Parameter [availability] must not be empty", parameter="availability")
    return found


@attrs.frozen
class ThreadFilter:
    """What ``Inbox.list`` returns; every field is optional and the fields combine with AND.

    ``status``: Open or Resolved (None: both), as the thread is now (a due thread is Resolved).
    ``owner_extension_ids``: resources (None: every resource the actor handles).
    ``creation_time_from`` (inclusive) and ``creation_time_to`` (exclusive).
    ``owner_phone_number``, ``guest_phone_number``: E.164. ``availability``: Alive, Deleted or
    both (default Alive only).
    """

    status: ThreadStatus | None = attrs.field(default=None, converter=_to_status)
    owner_extension_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_ids)
    creation_time_from: datetime | None = attrs.field(default=None, converter=_time_from)
    creation_time_to: datetime | None = attrs.field(default=None, converter=_time_to)
    owner_phone_number: str | None = attrs.field(default=None, converter=_owner_number)
    guest_phone_number: str | None = attrs.field(default=None, converter=_guest_number)
    availability: tuple[Availability, ...] = attrs.field(
        default=(Availability.ALIVE,), converter=_to_availability
    )

    def __attrs_post_init__(self) -> None:
        _check_window(self.creation_time_from, self.creation_time_to)

    def matches(self, thread: Thread) -> bool:
        """Whether ``thread`` (as it is now, expiry applied) passes every criterion except the
        resource visibility, which the inbox applies."""
        return (
            (self.status is None or thread.status is self.status)
            and (
                self.owner_extension_ids is None
                or thread.owner.extension_id in self.owner_extension_ids
            )
            and (self.creation_time_from is None or thread.creation_time >= self.creation_time_from)
            and (self.creation_time_to is None or thread.creation_time < self.creation_time_to)
            and (
                self.owner_phone_number is None
                or thread.owner_party.phone_number == self.owner_phone_number
            )
            and (
                self.guest_phone_number is None
                or thread.guest_party.phone_number == self.guest_phone_number
            )
            and thread.availability in self.availability
        )


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidInput(
            "Parameter [creation_time_from] is later than [creation_time_to]",
            parameter="creation_time_from",
        )


@attrs.frozen
class MessageFilter:
    """What ``Inbox.list_messages`` returns; every field is optional and they combine with AND.

    ``thread_ids``, ``message_ids``: only these. ``thread_status``: Open or Resolved, as the
    thread is now. ``owner_extension_ids``: resources (None: every resource the actor handles).
    ``availability``: Alive, Deleted or both (default Alive). ``creation_time_from`` (inclusive)
    and ``creation_time_to`` (exclusive). Drafts are never listed.
    """

    thread_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_thread_ids)
    message_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_message_ids)
    thread_status: ThreadStatus | None = attrs.field(default=None, converter=_to_status)
    owner_extension_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_ids)
    availability: tuple[Availability, ...] = attrs.field(
        default=(Availability.ALIVE,), converter=_to_availability
    )
    creation_time_from: datetime | None = attrs.field(default=None, converter=_time_from)
    creation_time_to: datetime | None = attrs.field(default=None, converter=_time_to)

    def __attrs_post_init__(self) -> None:
        _check_window(self.creation_time_from, self.creation_time_to)


@attrs.frozen
class NoteFilter:
    """What ``Inbox.list_notes`` returns; every field is optional and they combine with AND.

    ``thread_ids``, ``note_ids``: only these. ``owner_extension_ids``: resources (None: every
    resource the actor handles). ``availability``: Alive, Deleted or both (default Alive).
    """

    thread_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_thread_ids)
    note_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_note_ids)
    owner_extension_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_to_ids)
    availability: tuple[Availability, ...] = attrs.field(
        default=(Availability.ALIVE,), converter=_to_availability
    )


@attrs.frozen
class Paging:
    """The platform's page-number paging block. Page fields are ``None`` on an empty result.

    ``page_start`` and ``page_end`` are the zero-based indexes of the first and last record of the
    page within the whole result.
    """

    per_page: int
    page: int | None = None
    page_start: int | None = None
    page_end: int | None = None
    total_pages: int | None = None
    total_elements: int | None = None


@attrs.frozen(eq=False)
class Page(Sequence[T], Generic[T]):
    """One page of a forward read, in order; a sequence of its records.

    ``next_cursor`` reads on (``cursor=page.next_cursor``): ``None`` on the last page of a list;
    a feed (the event outbox, the outbound messages) always answers one to poll with. A cursor is
    opaque: signed, and bound to the actor (or the feed) and the store that issued it.

    ``paging`` (deprecated, kept for one release) is what a page of a list carried before issue
    23: only ``per_page`` on a cursor page. Numbered pages are :class:`NumberedPage`.
    """

    records: tuple[T, ...]
    next_cursor: str | None = None
    paging: Paging | None = None

    @property
    def next_page_token(self) -> str | None:
        """Deprecated (issue 23): ``next_cursor``."""
        warnings.warn(
            "Page.next_page_token is deprecated: use Page.next_cursor",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.next_cursor

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[T]:
        return iter(self.records)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.records[index]

    def __eq__(self, other: object) -> bool:
        """Equal to another page with the same fields, or to a list or tuple of the records."""
        if isinstance(other, Page):
            return (self.records, self.next_cursor, self.paging) == (
                other.records,
                other.next_cursor,
                other.paging,
            )
        if isinstance(other, list | tuple):
            return list(self.records) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen(eq=False)
class NumberedPage(Page[T]):
    """Page ``paging.page`` of a whole result, as the platform's wire pages (``page``,
    ``perPage``, ``totalElements``): what :meth:`~threadcore.Inbox.numbered_page` answers.

    ``paging`` is the platform's paging block (only ``per_page`` on an empty page, rule Q2): the
    store computes the page by an offset and counts the whole result, so it is a snapshot.
    ``next_cursor`` continues it as a stable forward read (``None`` on the last page).
    """

    def __attrs_post_init__(self) -> None:
        if self.paging is None:
            raise InvalidInput("A numbered page needs its paging block", parameter="paging")


@attrs.frozen
class SyncResult(Generic[T]):
    """The answer to a sync: the records (threads, or timeline entries), the kind of sync, the
    token for the next incremental sync and the instant the answer describes."""

    records: tuple[T, ...]
    sync_type: SyncType
    sync_token: str
    sync_time: datetime
