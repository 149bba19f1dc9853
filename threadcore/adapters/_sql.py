"""Row mapping shared by the SQL adapters: columns, rows <-> domain values, events <-> JSON.

Times are stored as fixed-width UTC text (``YYYY-MM-DDTHH:MM:SS.ffffff``) in SQLite, so text order
is time order; PostgreSQL stores ``timestamptz``. Each adapter passes its own ``time_out`` /
``time_in`` pair.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from threadcore.domain import events as ev
from threadcore.domain.model import (
    Availability,
    Direction,
    Message,
    OwnerResource,
    Party,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.ports import ThreadQuery

__all__ = [
    "MESSAGE_COLUMNS",
    "OPEN",
    "SCHEMA_VERSION",
    "THREAD_COLUMNS",
    "event_from_json",
    "event_to_json",
    "message_from_row",
    "message_to_row",
    "thread_from_row",
    "open_threads_where",
    "thread_query_where",
    "thread_to_row",
    "time_from_text",
    "time_to_text",
]

#: The schema version this library writes; opening a newer one is refused.
SCHEMA_VERSION = 1

THREAD_COLUMNS = (
    "id",
    "owner_number",
    "guest_number",
    "owner_extension_id",
    "owner_name",
    "owner_type",
    "creation_time",
    "status",
    "availability",
    "assignee_id",
    "assignee_name",
    "assignee_type",
    "status_reason",
    "label",
    "last_modified_time",
    "last_inbound_at",
    "last_outbound_at",
    "latest_message_at",
    "version",
)

MESSAGE_COLUMNS = (
    "id",
    "thread_id",
    "direction",
    "body",
    "from_number",
    "to_number",
    "author_id",
    "author_name",
    "author_type",
    "created_at",
    "last_modified_at",
    "availability",
    "provider_message_id",
)

#: A stored thread that is Open and Alive (expiry not applied).
OPEN = "status = 'Open' AND availability = 'Alive'"

TimeOut = Callable[[datetime], Any]
TimeIn = Callable[[Any], datetime]


def time_to_text(value: datetime) -> str:
    """Fixed-width UTC text (``2026-02-17T17:00:00.000000+00:00``): sorts as time sorts."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def time_from_text(value: str) -> datetime:
    """The inverse of :func:`time_to_text`."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _opt(value: Any, convert: Callable[[Any], Any]) -> Any:
    return None if value is None else convert(value)


def thread_to_row(thread: Thread, time_out: TimeOut) -> tuple[Any, ...]:
    """A thread as a row of :data:`THREAD_COLUMNS`."""
    assignee = thread.assignee
    return (
        thread.id,
        thread.owner_party.phone_number,
        thread.guest_party.phone_number,
        thread.owner.extension_id,
        thread.owner.name,
        thread.owner.extension_type,
        time_out(thread.creation_time),
        thread.status.value,
        thread.availability.value,
        assignee.extension_id if assignee else None,
        assignee.name if assignee else None,
        assignee.extension_type if assignee else None,
        thread.status_reason.value if thread.status_reason else None,
        thread.label,
        time_out(thread.last_modified_time),
        _opt(thread.last_inbound_at, time_out),
        _opt(thread.last_outbound_at, time_out),
        time_out(thread.latest_message_at),
        thread.version,
    )


def thread_from_row(row: Sequence[Any], time_in: TimeIn) -> Thread:
    """The inverse of :func:`thread_to_row`."""
    (tid, owner_number, guest_number, owner_id, owner_name, owner_type, created, status,
     availability, assignee_id, assignee_name, assignee_type, reason, label, modified,
     last_in, last_out, latest, version) = row  # fmt: skip
    return Thread(
        id=tid,
        owner_party=Party(owner_number),
        guest_party=Party(guest_number),
        owner=OwnerResource(owner_id, owner_name, owner_type),
        creation_time=time_in(created),
        status=ThreadStatus(status),
        availability=Availability(availability),
        assignee=None
        if assignee_id is None
        else ThreadUser(assignee_id, assignee_name, assignee_type),
        status_reason=_opt(reason, StatusReason),
        label=label,
        last_modified_time=time_in(modified),
        last_inbound_at=_opt(last_in, time_in),
        last_outbound_at=_opt(last_out, time_in),
        latest_message_at=time_in(latest),
        version=version,
    )


def message_to_row(message: Message, time_out: TimeOut) -> tuple[Any, ...]:
    """A message as a row of :data:`MESSAGE_COLUMNS`."""
    author = message.author
    return (
        message.id,
        message.thread_id,
        message.direction.value,
        message.body,
        message.from_number,
        message.to_number,
        author.extension_id if author else None,
        author.name if author else None,
        author.extension_type if author else None,
        time_out(message.created_at),
        time_out(message.last_modified_at),
        message.availability.value,
        message.provider_message_id,
    )


def message_from_row(row: Sequence[Any], time_in: TimeIn) -> Message:
    """The inverse of :func:`message_to_row`."""
    (mid, thread_id, direction, body, from_number, to_number, author_id, author_name,
     author_type, created, modified, availability, pid) = row  # fmt: skip
    return Message(
        id=mid,
        thread_id=thread_id,
        direction=Direction(direction),
        body=body,
        from_number=from_number,
        to_number=to_number,
        author=None if author_id is None else ThreadUser(author_id, author_name, author_type),
        created_at=time_in(created),
        last_modified_at=time_in(modified),
        availability=Availability(availability),
        provider_message_id=pid,
    )


_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ev.ThreadOpened,
        ev.MessageAdded,
        ev.ThreadAssigned,
        ev.ThreadResolved,
        ev.ThreadDeleted,
    )
}
_USER_FIELDS = ("assignee", "previous_assignee")


_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls)) for cls in _EVENT_TYPES.values()
}


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return time_to_text(v)
    if isinstance(v, ThreadUser):
        return [v.extension_id, v.name, v.extension_type]
    if isinstance(v, Direction | StatusReason):
        return v.value
    return v


def event_to_json(event: ev.Event) -> tuple[str, str]:
    """``(kind, json)`` for an event."""
    cls = type(event)
    data = {name: _json_value(getattr(event, name)) for name in _FIELDS[cls]}
    return cls.__name__, json.dumps(data, separators=(",", ":"))


def event_from_json(kind: str, payload: str) -> ev.Event:
    """The inverse of :func:`event_to_json`."""
    cls = _EVENT_TYPES[kind]
    data: dict[str, Any] = json.loads(payload)
    data["at"] = time_from_text(data["at"])
    for name in _USER_FIELDS:
        if name in data and data[name] is not None:
            data[name] = ThreadUser(*data[name])
    if "direction" in data:
        data["direction"] = Direction(data["direction"])
    if "reason" in data:
        data["reason"] = StatusReason(data["reason"])
    event: ev.Event = cls(**data)
    return event


def thread_query_where(
    query: ThreadQuery,
    with_after: bool,
    mark: str,
    time_out: TimeOut,
    any_of: Callable[[str, list[str]], tuple[str, list[Any]]],
) -> tuple[str, list[Any]]:
    """The WHERE clause and its parameters for ``query`` in a dialect: ``mark`` is the
    placeholder, ``time_out`` converts times, ``any_of(column, values)`` writes a membership
    test. The status is the status now: a stored Open, Alive thread whose latest message is at
    or before the query's due cutoff counts as Resolved."""
    where: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("owner_extension_id", sorted(query.owner_extension_ids)),
        ("availability", sorted(a.value for a in query.availability)),
    ):
        clause, values_params = any_of(column, values)
        where.append(clause)
        params += values_params
    for column, value in (
        ("owner_number", query.owner_number),
        ("guest_number", query.guest_number),
    ):
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(value)
    if query.creation_time_from is not None:
        where.append(f"creation_time >= {mark}")
        params.append(time_out(query.creation_time_from))
    if query.creation_time_to is not None:
        where.append(f"creation_time < {mark}")
        params.append(time_out(query.creation_time_to))
    if query.status is not None:
        due = f"({OPEN} AND latest_message_at <= {mark})"
        if query.status is ThreadStatus.OPEN:
            where.append(f"status = 'Open' AND NOT {due}")
        else:
            where.append(f"(status = 'Resolved' OR {due})")
        params.append(time_out(query.due_cutoff))
    if with_after and query.after is not None:
        created, thread_id = query.after
        where.append(f"(creation_time, id) > ({mark}, {mark})")
        params += [time_out(created), thread_id]
    return " AND ".join(where), params


def open_threads_where(mark: str, **equal: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters selecting stored Open, Alive threads whose given columns
    equal the given values (``None`` values are not criteria); ``mark`` is the placeholder."""
    where, params = [OPEN], []
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(value)
    return " AND ".join(where), params
