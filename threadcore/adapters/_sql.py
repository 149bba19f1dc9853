"""Row mapping shared by the SQL adapters: columns, rows <-> domain values, events <-> JSON.

Times are stored as fixed-width UTC text (``YYYY-MM-DDTHH:MM:SS.ffffff``) in SQLite, so text order
is time order; PostgreSQL stores ``timestamptz``. Each adapter passes its own ``time_out`` /
``time_in`` pair.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import cattrs

from threadcore.domain import events as ev
from threadcore.domain import model
from threadcore.domain.errors import SchemaVersionError
from threadcore.domain.messaging import MESSAGE_TOMBSTONE, NOTE_TOMBSTONE

__all__ = [
    "MESSAGE_COLUMNS",
    "NOTE_COLUMNS",
    "OPEN",
    "THREAD_COLUMNS",
    "THREAD_STATE_COLUMNS",
    "TOMBSTONE_MESSAGE_SET",
    "TOMBSTONE_NOTE_SET",
    "directory_sql",
    "event_from_json",
    "event_to_json",
    "message_from_row",
    "message_to_row",
    "note_from_row",
    "note_to_row",
    "thread_from_row",
    "thread_state_row",
    "thread_to_row",
    "time_from_text",
    "tombstone_message_row",
    "tombstone_note_row",
    "time_to_text",
]

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

#: The columns a thread's life changes (``status`` to ``version``, the tail of
#: :data:`THREAD_COLUMNS`); the others are fixed when the thread is created.
THREAD_STATE_COLUMNS = THREAD_COLUMNS[THREAD_COLUMNS.index("status") :]

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
    "status",
    "sent_at",
    "delivered_at",
    "read_at",
    "error_code",
    "is_automated",
    "source",
    "content_type",
    "attachments",
    "classifications",
    "keyword",
    "version",
)

NOTE_COLUMNS = (
    "id",
    "thread_id",
    "author_id",
    "author_name",
    "author_type",
    "text",
    "creation_time",
    "last_modified_time",
    "availability",
    "version",
)

#: A stored thread that is Open and Alive (expiry not applied).
OPEN = "status = 'Open' AND availability = 'Alive'"

TimeOut = Callable[[datetime], Any]
TimeIn = Callable[[Any], datetime]


# UTC datetimes already written as text: ``isoformat`` costs 1.5 µs, and a command writes its
# clock reading several times over (a message's times, its thread's, its events'). Only UTC values
# are kept: two datetimes of one other zone compare equal across a DST fold.
_TEXT_OF: dict[datetime, str] = {}
_TEXT_OF_LIMIT = 1024


def time_to_text(value: datetime) -> str:
    """Fixed-width UTC text (``2026-02-17T17:00:00.000000+00:00``): sorts as time sorts."""
    if value.tzinfo is not UTC:
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    text = _TEXT_OF.get(value)
    if text is None:
        if len(_TEXT_OF) >= _TEXT_OF_LIMIT:
            _TEXT_OF.clear()
        text = _TEXT_OF[value] = value.isoformat(timespec="microseconds")
    return text


def directory_sql(prefix: str) -> str:
    """The stored directory's tables (issue 14), in the schema ``prefix`` names: each resource as
    a JSON document, in the order it was added, and the change stamp every change replaces
    (what each process's cached copy is checked against)."""
    return f"""
CREATE TABLE IF NOT EXISTS {prefix}threadcore_resources (
    extension_id text PRIMARY KEY,
    seq bigint NOT NULL,
    resource text NOT NULL
);
CREATE TABLE IF NOT EXISTS {prefix}threadcore_directory (version bigint NOT NULL);
INSERT INTO {prefix}threadcore_directory
    SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {prefix}threadcore_directory);
"""


def store_id(conn: Any, prefix: str, *, create: bool = True) -> str:
    """This store's random id (made once, when first asked for): what tokens are bound to, so a
    token of another database is refused (rule S4). ``prefix`` names the SQL schema; without
    ``create`` (a role without DDL rights) its table must exist already."""
    if create:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {prefix}threadcore_store (id text NOT NULL)")
    row = conn.execute(f"SELECT id FROM {prefix}threadcore_store").fetchone()
    if row is None:
        made = uuid.uuid4().hex
        conn.execute(f"INSERT INTO {prefix}threadcore_store VALUES ('{made}')")
        return made
    return str(row[0])


def check_version(found: int | None, known: int, where: str) -> None:
    """Refuse a store whose threadcore schema is missing, older or newer than ``known`` (for a
    repository opened with ``create_schema=False``: it never changes the schema itself)."""
    upgrade = "run `threadcore db upgrade --db URL` with a role that may change the schema"
    if found is None:
        raise SchemaVersionError(f"{where} has no threadcore schema: {upgrade}")
    if found < known:
        raise SchemaVersionError(
            f"{where} has threadcore schema version {found}, older than this threadcore's "
            f"{known}: {upgrade}"
        )
    if found > known:
        raise SchemaVersionError(
            f"{where} has threadcore schema version {found}; this threadcore knows {known}: "
            "upgrade threadcore"
        )


def unstorable(*values: str | None) -> bool:
    """Whether any of ``values`` is text no adapter stores (NUL, or a lone surrogate: not
    UTF-8), so that no stored record can have it as its id: a read by such an id finds nothing,
    on every adapter, instead of failing in the driver."""
    for value in values:
        if value is None or (value.isascii() and "\x00" not in value):
            continue
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


# And the other way: a command reads the same few instants several times over (its claim's, its
# thread's four times), and ``fromisoformat`` costs 0.3-0.5 µs against a lookup's 0.05.
_TIME_OF: dict[str, datetime] = {}


def time_from_text(value: str) -> datetime:
    """The inverse of :func:`time_to_text`."""
    found = _TIME_OF.get(value)
    if found is not None:
        return found
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not UTC:
        parsed = parsed.astimezone(UTC)
    if len(_TIME_OF) >= _TEXT_OF_LIMIT:
        _TIME_OF.clear()
    _TIME_OF[value] = parsed
    return parsed


def _opt(value: Any, convert: Callable[[Any], Any]) -> Any:
    return None if value is None else convert(value)


# Enum members by their stored text, and back: ``Enum(text)`` costs 0.45 µs and ``member.value``
# (a property) 0.16 µs; a dict lookup and the ``_value_`` attribute cost 0.03 µs.
def _by_text(kind: type[enum.Enum]) -> dict[Any, Any]:
    return {member.value: member for member in kind}


_THREAD_STATUS = _by_text(model.ThreadStatus)
_AVAILABILITY = _by_text(model.Availability)
_STATUS_REASON = _by_text(model.StatusReason)
_DIRECTION = _by_text(model.Direction)
_DELIVERY_STATUS = _by_text(model.DeliveryStatus)
_SOURCE = _by_text(model.MessageSource)
_KEYWORD = _by_text(model.Keyword)


def _text(member: enum.Enum | None) -> Any:
    return None if member is None else member._value_


def thread_to_row(thread: model.Thread, time_out: TimeOut) -> tuple[Any, ...]:
    """A thread as a row of :data:`THREAD_COLUMNS`."""
    owner = thread.owner
    return (
        thread.id,
        thread.owner_party.phone_number,
        thread.guest_party.phone_number,
        owner.extension_id,
        owner.name,
        owner.extension_type,
        time_out(thread.creation_time),
        *thread_state_row(thread, time_out),
    )


def thread_state_row(thread: model.Thread, time_out: TimeOut) -> tuple[Any, ...]:
    """The columns of :data:`THREAD_STATE_COLUMNS`: what a thread's life changes."""
    assignee = thread.assignee
    last_in, last_out = thread.last_inbound_at, thread.last_outbound_at
    return (
        thread.status._value_,
        thread.availability._value_,
        *_user_row(assignee),
        _text(thread.status_reason),
        thread.label,
        time_out(thread.last_modified_time),
        None if last_in is None else time_out(last_in),
        None if last_out is None else time_out(last_out),
        time_out(thread.latest_message_at),
        thread.version,
    )


def _user_row(user: model.ThreadUser | None) -> tuple[Any, Any, Any]:
    if user is None:
        return None, None, None
    return user.extension_id, user.name, user.extension_type


def _user(extension_id: str | None, name: Any, extension_type: Any) -> model.ThreadUser | None:
    """The inverse of :func:`_user_row`."""
    return None if extension_id is None else model.ThreadUser(extension_id, name, extension_type)


def thread_from_row(row: Sequence[Any], time_in: TimeIn) -> model.Thread:
    """The inverse of :func:`thread_to_row`."""
    (tid, owner_number, guest_number, owner_id, owner_name, owner_type, created, status,
     availability, assignee_id, assignee_name, assignee_type, reason, label, modified,
     last_in, last_out, latest, version) = row  # fmt: skip
    return model.make_thread(
        tid,
        model.Party(owner_number),
        model.Party(guest_number),
        model.OwnerResource(owner_id, owner_name, owner_type),
        time_in(created),
        _THREAD_STATUS[status],
        _AVAILABILITY[availability],
        _user(assignee_id, assignee_name, assignee_type),
        None if reason is None else _STATUS_REASON[reason],
        # a thread deleted by a threadcore before issue 12 kept its label: never serve it
        label if availability != "Deleted" else None,
        time_in(modified),
        None if last_in is None else time_in(last_in),
        None if last_out is None else time_in(last_out),
        time_in(latest),
        version,
    )


def message_to_row(message: model.Message, time_out: TimeOut) -> tuple[Any, ...]:
    """A message as a row of :data:`MESSAGE_COLUMNS`."""
    return (
        message.id,
        message.thread_id,
        message.direction._value_,
        message.body,
        message.from_number,
        message.to_number,
        *_user_row(message.author),
        time_out(message.created_at),
        time_out(message.last_modified_at),
        message.availability._value_,
        message.provider_message_id,
        message.status._value_,
        _opt(message.sent_at, time_out),
        _opt(message.delivered_at, time_out),
        _opt(message.read_at, time_out),
        message.error_code,
        message.is_automated,
        _text(message.source),
        message.content_type,
        json.dumps(list(message.attachments)) if message.attachments else None,
        _classifications_to_json(message.classifications),
        _text(message.keyword),
        message.version,
    )


def message_from_row(row: Sequence[Any], time_in: TimeIn) -> model.Message:
    """The inverse of :func:`message_to_row`."""
    (mid, thread_id, direction, body, from_number, to_number, author_id, author_name,
     author_type, created, modified, availability, pid, status, sent_at, delivered_at, read_at,
     error_code, is_automated, source, content_type, attachments, classifications, keyword,
     version) = row  # fmt: skip
    return model.make_message(
        mid,
        thread_id,
        _DIRECTION[direction],
        body,
        from_number,
        to_number,
        _user(author_id, author_name, author_type),
        time_in(created),
        time_in(modified),
        _AVAILABILITY[availability],
        pid,
        _DELIVERY_STATUS[status],
        _opt(sent_at, time_in),
        _opt(delivered_at, time_in),
        _opt(read_at, time_in),
        error_code,
        bool(is_automated),
        None if source is None else _SOURCE[source],
        content_type,
        tuple(json.loads(attachments)) if attachments else (),
        _classifications_from_json(classifications),
        None if keyword is None else _KEYWORD[keyword],
        version,
    )


def note_to_row(note: model.Note, time_out: TimeOut) -> tuple[Any, ...]:
    """A note as a row of :data:`NOTE_COLUMNS`."""
    author = note.author
    return (
        note.id,
        note.thread_id,
        author.extension_id,
        author.name,
        author.extension_type,
        note.text,
        time_out(note.creation_time),
        time_out(note.last_modified_time),
        note.availability._value_,
        note.version,
    )


def note_from_row(row: Sequence[Any], time_in: TimeIn) -> model.Note:
    """The inverse of :func:`note_to_row`."""
    (nid, thread_id, author_id, author_name, author_type, text, created, modified, availability,
     version) = row  # fmt: skip
    return model.Note(
        id=nid,
        thread_id=thread_id,
        author=model.ThreadUser(author_id, author_name, author_type),
        text=text,
        creation_time=time_in(created),
        last_modified_time=time_in(modified),
        availability=_AVAILABILITY[availability],
        version=version,
    )


def _classifications_to_json(values: tuple[model.Classification, ...]) -> str | None:
    if not values:
        return None
    return json.dumps(_events.unstructure(values, tuple[model.Classification, ...]))


def _classifications_from_json(text: str | None) -> tuple[model.Classification, ...]:
    if not text:
        return ()
    found: tuple[model.Classification, ...] = _events.structure(
        json.loads(text), tuple[model.Classification, ...]
    )
    return found


_EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in ev.EVENT_TYPES}

# Events as JSON: times as fixed-width UTC text, users as [extension id, name, type] lists.
_events = cattrs.Converter()
_events.register_unstructure_hook(datetime, time_to_text)
_events.register_structure_hook(datetime, lambda value, _: time_from_text(value))
_events.register_unstructure_hook(
    model.ThreadUser, lambda user: [user.extension_id, user.name, user.extension_type]
)
_events.register_structure_hook(model.ThreadUser, lambda value, _: model.ThreadUser(*value))


# One encoder for every event: ``json.dumps`` with any option builds a new one per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
# And ``encode`` itself builds the C encoder again on every call (1 of the 3 µs an event's
# payload takes): build it once, as ``encode`` would with these settings (ASCII, compact, no
# indent) but without the check for circular references, which an unstructured event (plain
# dicts, lists, text and numbers made fresh per call) cannot hold. Where the interpreter has no
# C encoder, ``encode`` is used as it is.
_make_c_encoder: Callable[..., Callable[[Any, int], Sequence[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_c_encoder = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(
        None,  # markers: no check for circular references
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
)


def _payload(document: dict[str, Any]) -> str:
    """The compact JSON of an unstructured event (what :data:`_compact_json` writes)."""
    if _c_encoder is None:
        return _compact_json(document)
    return "".join(_c_encoder(document, 0))


def event_to_json(event: ev.Event) -> tuple[str, str]:
    """``(kind, json)`` for an event."""
    return type(event).__name__, _payload(_events.unstructure(event))


def event_from_json(kind: str, payload: str) -> ev.Event:
    """The inverse of :func:`event_to_json`."""
    event: ev.Event = _events.structure(json.loads(payload), _EVENT_TYPES[kind])
    return event


def tombstone_message_row(row: tuple[Any, ...], at: Any) -> tuple[Any, ...]:
    """A row of :data:`MESSAGE_COLUMNS` as ``tombstone_messages`` leaves it when it is alive
    (``at`` already converted for the dialect), otherwise unchanged."""
    if row[_M_AVAILABILITY] != "Alive":
        return row
    changed = list(row)
    for index, value in _M_TOMBSTONE:
        changed[index] = value
    changed[_M_MODIFIED] = at
    changed[_M_VERSION] = row[_M_VERSION] + 1
    return tuple(changed)


def tombstone_note_row(row: tuple[Any, ...], at: Any) -> tuple[Any, ...]:
    """A row of :data:`NOTE_COLUMNS` as ``tombstone_messages`` leaves it when it is alive."""
    if row[_N_AVAILABILITY] != "Alive":
        return row
    changed = list(row)
    for index, value in _N_TOMBSTONE:
        changed[index] = value
    changed[NOTE_COLUMNS.index("last_modified_time")] = at
    changed[_N_VERSION] = row[_N_VERSION] + 1
    return tuple(changed)


_M_AVAILABILITY = MESSAGE_COLUMNS.index("availability")
_M_MODIFIED = MESSAGE_COLUMNS.index("last_modified_at")
_M_VERSION = MESSAGE_COLUMNS.index("version")


def _stored(value: object) -> Any:
    """A tombstone field's value as the SQL tables store it (no list is NULL, enums by value)."""
    if value == ():
        return None
    return value.value if isinstance(value, enum.Enum) else value


def _literal(value: object) -> str:
    stored = _stored(value)
    return "NULL" if stored is None else "'" + str(stored).replace("'", "''") + "'"


_M_TOMBSTONE = tuple(
    (MESSAGE_COLUMNS.index(column), _stored(value)) for column, value in MESSAGE_TOMBSTONE.items()
)
_N_TOMBSTONE = tuple(
    (NOTE_COLUMNS.index(column), _stored(value)) for column, value in NOTE_TOMBSTONE.items()
)
_N_AVAILABILITY = NOTE_COLUMNS.index("availability")
_N_VERSION = NOTE_COLUMNS.index("version")

#: What ``tombstone_messages`` sets on a thread's alive messages and drafts, and on its notes
#: (one ``?``/``%s`` placeholder each: the time).
#: (Both written from the domain's tombstone tables, :data:`MESSAGE_TOMBSTONE` and
#: :data:`NOTE_TOMBSTONE`: the rule is stated once.)
TOMBSTONE_MESSAGE_SET = (
    ", ".join(f"{column} = {_literal(value)}" for column, value in MESSAGE_TOMBSTONE.items())
    + ", last_modified_at = {at}, version = version + 1"
)
TOMBSTONE_NOTE_SET = (
    ", ".join(f"{column} = {_literal(value)}" for column, value in NOTE_TOMBSTONE.items())
    + ", last_modified_time = {at}, version = version + 1"
)
