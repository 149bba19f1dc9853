"""``threadcore replay``: thread a JSON Lines history through the rules (see docs/replay.md).

Each line is one JSON object with a ``type`` and an ``at`` instant; the clock is set from ``at``
before the line is applied, so the rules (expiry above all) see the history's own time. Lines
are applied in bulk units of work (``Inbox.batch()``), never splitting lines of the same instant
across two of them. A refused line is reported (line number, error code, message) and the run
goes on unless ``strict``.

Re-running a file changes nothing: messages carry the provider's message id (a repeat returns
the stored message), and the run skips every line not later than the newest instant the
database already holds (the *watermark*: the time of the last event that is not an expiry,
since expiries are dated at their due instant, in the past). So an interrupted replay resumes
where its last committed unit of work ended.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from threadcore import (
    Inbox,
    ManualClock,
    Message,
    Page,
    StatusReason,
    ThreadcoreError,
    ThreadFilter,
)
from threadcore.domain.errors import InvalidInput, MessageNotFound
from threadcore.domain.validation import e164
from threadcore.errors import StorageError, ThreadNotFound
from threadcore.events import Event, ThreadResolved
from threadcore.model import Availability
from threadcore.storage import Repository

__all__ = [
    "LINE_TYPES",
    "LineError",
    "ReplayLine",
    "ReplaySummary",
    "Replayer",
    "json_schema",
    "parse_line",
    "watermark",
]

_DELIVERY_STATUSES: Final = (
    "Queued",
    "Sent",
    "Delivered",
    "Read",
    "SendingFailed",
    "DeliveryFailed",
)

# field kind -> (JSON Schema fragment, what the error message calls it)
_KINDS: Final[Mapping[str, tuple[dict[str, Any], str]]] = {
    "time": (
        {"type": "string", "format": "date-time"},
        "an RFC 3339 date-time with a zone, e.g. 2026-02-17T17:12:39.676Z",
    ),
    "e164": (
        {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"},
        "a phone number in E.164, e.g. +16502240001",
    ),
    "text": ({"type": "string", "minLength": 1}, "a non-empty string"),
    "id": ({"type": "string", "minLength": 1, "maxLength": 256}, "a non-empty string"),
    "actor": ({"type": "string", "minLength": 1, "maxLength": 64}, "an extension id (a string)"),
    "assignee": (
        {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
        "an extension id, or null to unassign",
    ),
    "status": ({"enum": list(_DELIVERY_STATUSES)}, "one of " + ", ".join(_DELIVERY_STATUSES)),
    "thread": (
        {"$ref": "#/$defs/thread"},
        'a thread: {"message": PROVIDER_MESSAGE_ID} or {"owner": E164, "guest": E164}',
    ),
}

#: type -> (required fields, optional fields), each field -> its kind. ``type`` and ``at`` are
#: required on every line.
LINE_TYPES: Final[Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]]] = {
    "inbound": ({"from": "e164", "to": "e164", "text": "text", "id": "id"}, {}),
    "outbound": (
        {"actor": "actor", "from": "e164", "to": "e164", "text": "text", "id": "id"},
        {},
    ),
    "assign": ({"actor": "actor", "thread": "thread", "assignee": "assignee"}, {}),
    "resolve": ({"actor": "actor", "thread": "thread"}, {}),
    "delete": ({"actor": "actor", "thread": "thread"}, {}),
    "delivery": ({"message": "id", "status": "status"}, {"errorCode": "id"}),
    "note": ({"actor": "actor", "thread": "thread", "text": "text"}, {}),
    "sweep": ({}, {}),
}

_MESSAGE_TYPES: Final = frozenset({"inbound", "outbound"})


class LineError(Exception):
    """A line that is not a valid replay line. ``code`` is ``MalformedLine`` (not a JSON
    object) or ``InvalidLine`` (a field missing, unknown or of the wrong kind)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class ReplayLine:
    """One valid line: its number in the file, its type, its instant and its fields."""

    number: int
    type: str
    at: datetime
    fields: Mapping[str, Any]


def _check(kind: str, name: str, value: Any, line_type: str) -> Any:
    what = _KINDS[kind][1]
    wrong = LineError("InvalidLine", f"field {name!r} of a {line_type} line must be {what}")
    if kind == "time":
        if not isinstance(value, str):
            raise wrong
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise wrong from None
        if at.tzinfo is None:
            raise LineError("InvalidLine", f"field {name!r} has no time zone: {value!r}")
        return at
    if kind == "assignee":
        if value is None:
            return None
        kind = "actor"
    if kind == "status":
        if value not in _DELIVERY_STATUSES:
            raise wrong
        return value
    if kind == "thread":
        if not isinstance(value, dict):
            raise wrong
        if set(value) == {"message"} and isinstance(value["message"], str) and value["message"]:
            return value
        if set(value) == {"owner", "guest"} and all(isinstance(v, str) for v in value.values()):
            return value
        raise wrong
    if not isinstance(value, str) or not value:
        raise wrong
    if kind == "e164":
        try:  # the library's own rule (threadcore.domain.validation), so replay agrees with it
            e164(value, name)
        except InvalidInput:
            raise wrong from None
    if kind in ("id", "actor") and len(value) > (256 if kind == "id" else 64):
        raise wrong
    return value


def parse_line(number: int, text: str) -> ReplayLine:
    """Parse and validate one line of a replay file; raise :class:`LineError` if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LineError("MalformedLine", f"not JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(data, dict):
        raise LineError("MalformedLine", f"a line must be a JSON object, not {type(data).__name__}")
    line_type = data.get("type")
    if not isinstance(line_type, str) or line_type not in LINE_TYPES:
        raise LineError(
            "InvalidLine", f"field 'type' must be one of {', '.join(LINE_TYPES)}, not {line_type!r}"
        )
    if "at" not in data:
        raise LineError("InvalidLine", f"field 'at' is required on every line ({line_type})")
    at = _check("time", "at", data["at"], line_type)
    required, optional = LINE_TYPES[line_type]
    unknown = set(data) - {"type", "at", *required, *optional}
    if unknown:
        raise LineError(
            "InvalidLine", f"unknown field(s) for a {line_type} line: {', '.join(sorted(unknown))}"
        )
    fields: dict[str, Any] = {}
    for name, kind in required.items():
        if name not in data:
            raise LineError("InvalidLine", f"field {name!r} is required for a {line_type} line")
        fields[name] = _check(kind, name, data[name], line_type)
    for name, kind in optional.items():
        if data.get(name) is not None:
            fields[name] = _check(kind, name, data[name], line_type)
    return ReplayLine(number, line_type, at, fields)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one replay line, generated from :data:`LINE_TYPES`
    (``docs/replay.schema.json`` holds a copy; a test keeps the two equal)."""
    variants = []
    for line_type, (required, optional) in LINE_TYPES.items():
        properties: dict[str, Any] = {
            "type": {"const": line_type},
            "at": _KINDS["time"][0],
        }
        for name, kind in {**required, **optional}.items():
            properties[name] = _KINDS[kind][0]
        variants.append(
            {
                "title": line_type,
                "type": "object",
                "properties": properties,
                "required": ["type", "at", *required],
                "additionalProperties": False,
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://threadcore.invalid/replay-line.schema.json",
        "title": "One line of a threadcore replay file (JSON Lines)",
        "oneOf": variants,
        "$defs": {
            "thread": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"message": _KINDS["id"][0]},
                        "required": ["message"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"owner": _KINDS["e164"][0], "guest": _KINDS["e164"][0]},
                        "required": ["owner", "guest"],
                        "additionalProperties": False,
                    },
                ]
            }
        },
    }


@attrs.define
class ReplaySummary:
    """What a replay did. ``refused`` counts refused lines by error code; ``events`` counts the
    events the run made by type name; ``unchanged`` counts applied lines that changed nothing
    (a repeated provider message id, a repeated delivery report, an assignment to the current
    assignee); ``skipped`` counts lines not later than the database's watermark."""

    lines: int = 0
    applied: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused: Counter[str] = attrs.field(factory=Counter)
    events: Counter[str] = attrs.field(factory=Counter)
    resolved: Counter[str] = attrs.field(factory=Counter)
    seconds: float = 0.0
    stopped_at: int | None = None
    watermark: datetime | None = None

    @property
    def messages(self) -> int:
        """Messages stored by the run."""
        return self.events["MessageAdded"]


RefusalHook = Callable[[int, str, str], None]


def _events_after(inbox: Inbox, position: int, limit: int) -> Page[tuple[int, Event]]:
    """Up to ``limit`` events of the feed after ``position``."""
    return inbox.events(cursor=inbox.feed_cursor(position), limit=limit)


def watermark(inbox: Inbox) -> datetime | None:
    """The newest instant the database holds, as replay sees it: the time of the last stored
    event that is not an expiry (expiries are dated at their due instant, which lies in the past
    of the command or sweep that wrote them). ``None`` for an empty event feed."""
    # find the last position: grow a bound until nothing lies after it, then bisect
    if not _events_after(inbox, 0, 1):
        return None
    low, high = 0, 1024  # low: something lies after it; high: candidate bound
    while _events_after(inbox, high, 1):
        low, high = high, high * 2
    while high - low > 1:  # invariant: events after low, none after high
        middle = (low + high) // 2
        if _events_after(inbox, middle, 1):
            low = middle
        else:
            high = middle
    last = high
    window = 1000
    while last > 0:
        start = max(0, last - window)
        for _, event in reversed(_events_after(inbox, start, window)):
            expiry = (
                isinstance(event, ThreadResolved)
                and event.reason is StatusReason.THREAD_EXPIRED
                and event.initiator is None
            )
            if not expiry:
                at: datetime = event.at
                return at
        last = start
    return None


def _parsed(lines: Iterable[str]) -> Iterator[tuple[int, ReplayLine | LineError]]:
    """Each non-blank line's number and the line it holds (or why it is not one)."""
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue  # blank lines are allowed (and not counted)
        try:
            yield number, parse_line(number, text)
        except LineError as error:
            yield number, error


def _carrier_ids(line: ReplayLine) -> list[str]:
    """The carrier message ids a line names: its own, the reported message, its thread's."""
    fields = line.fields
    found = [fields[name] for name in ("id", "message") if isinstance(fields.get(name), str)]
    thread = fields.get("thread")
    if isinstance(thread, Mapping) and isinstance(thread.get("message"), str):
        found.append(thread["message"])
    return found


def _pair(line: ReplayLine) -> tuple[str, str] | None:
    """The (owner number, guest number) a message line receives or sends on."""
    fields = line.fields
    if line.type == "inbound":
        return fields["to"], fields["from"]
    if line.type == "outbound":
        return fields["from"], fields["to"]
    return None


class Replayer:
    """Applies replay lines to an inbox whose clock is ``clock`` (a :class:`ManualClock`).

    ``repository`` must be the inbox's repository (:attr:`Inbox.repository`); the replayer
    reads it only through the inbox's public seams (:meth:`Inbox.message_by_provider_id`,
    :meth:`Inbox.prefetch`, :meth:`Inbox.observe`).
    """

    def __init__(
        self,
        inbox: Inbox,
        repository: Repository,
        clock: ManualClock,
        *,
        batch_size: int = 500,
        strict: bool = False,
        on_refused: RefusalHook | None = None,
    ) -> None:
        if repository is not inbox.repository:
            raise InvalidInput(
                "Parameter [repository] must be the inbox's repository", parameter="repository"
            )
        self._inbox = inbox
        self._clock = clock
        self._batch_size = max(1, batch_size)
        self._strict = strict
        self._on_refused = on_refused
        self.summary = ReplaySummary()
        self._made = 0
        inbox.subscribe(self._hear)
        inbox.observe(self._count)

    def _count(self, events: Sequence[Event]) -> None:
        self._made += len(events)

    def _hear(self, event: Event) -> None:
        self.summary.events[type(event).__name__] += 1
        if isinstance(event, ThreadResolved):
            self.summary.resolved[event.reason.value] += 1

    def _refuse(self, number: int, code: str, message: str) -> bool:
        """Count a refused line; ``True`` when the run must stop (strict)."""
        self.summary.refused[code] += 1
        if self._on_refused is not None:
            self._on_refused(number, code, message)
        if self._strict:
            self.summary.stopped_at = number
            return True
        return False

    def run(self, lines: Iterable[str]) -> ReplaySummary:
        """Apply every line of ``lines`` (the file's lines, in order) and return the summary."""
        import time

        summary = self.summary
        summary.watermark = mark = watermark(self._inbox)
        started = time.perf_counter()
        in_batch = 0
        last_at: datetime | None = None
        window: deque[tuple[int, ReplayLine | LineError]] = deque()
        parsed = _parsed(lines)
        batch = self._inbox.batch()
        batch.__enter__()
        try:
            while True:
                if not window:  # the batch's lines (or more, those of its last instant)
                    self._look_ahead(window, parsed)
                    if not window:
                        break
                number, line_or_error = window.popleft()
                summary.lines += 1
                if isinstance(line_or_error, LineError):
                    error = line_or_error
                    if self._refuse(number, error.code, error.message):
                        break
                    continue
                line = line_or_error
                if mark is not None and line.at <= mark:
                    summary.skipped += 1
                    continue
                if line.at < self._clock.now():
                    stop = self._refuse(
                        number,
                        "OutOfOrder",
                        f"at {line.at.isoformat()} is earlier than the line before "
                        f"({self._clock.now().isoformat()}); lines must be in time order",
                    )
                    if stop:
                        break
                    continue
                if in_batch >= self._batch_size and line.at != last_at:
                    batch.__exit__(None, None, None)  # commit, then open the next unit of work
                    batch = self._inbox.batch()
                    batch.__enter__()
                    in_batch = 0
                    window.appendleft((number, line))
                    summary.lines -= 1
                    self._look_ahead(window, parsed)
                    continue
                self._clock.set(line.at)
                last_at = line.at
                in_batch += 1
                before = self._made
                try:
                    self._apply(line)
                except ThreadcoreError as error:
                    if isinstance(error, StorageError):  # (every one: lost, unknown ...)
                        raise
                    if self._refuse(number, error.code, error.message):
                        break
                    continue
                summary.applied += 1
                if self._made == before:
                    summary.unchanged += 1
        except BaseException as error:
            batch.__exit__(type(error), error, error.__traceback__)
            raise
        batch.__exit__(None, None, None)
        summary.seconds = time.perf_counter() - started
        return summary

    def _look_ahead(
        self,
        window: deque[tuple[int, ReplayLine | LineError]],
        parsed: Iterator[tuple[int, ReplayLine | LineError]],
    ) -> None:
        """Fill ``window`` with the lines of the batch just opened, and ask the storage in one
        read each for every message their carrier ids name, and for the open thread and the
        opt-out of every pair they receive or send on: a batch then knows which ids are new and
        what each pair has without a read each (rule D1)."""
        window.extend(itertools.islice(parsed, max(0, self._batch_size - len(window))))
        lines = [line for _, line in window if isinstance(line, ReplayLine)]
        ids = [carrier_id for line in lines for carrier_id in _carrier_ids(line)]
        pairs = [pair for line in lines if (pair := _pair(line)) is not None]
        if self._batch_size > 1:  # (one line a batch: its reads are as cheap)
            self._inbox.prefetch(provider_message_ids=ids, pairs=pairs)

    # --- one line -------------------------------------------------------------------------------
    def _message(self, provider_message_id: str) -> Message:
        message = self._inbox.message_by_provider_id(provider_message_id)
        if message is None:
            raise MessageNotFound(f"No message has provider id [{provider_message_id}]")
        return message

    def _thread_id(self, line: ReplayLine) -> str:
        selector: Mapping[str, str] = line.fields["thread"]
        if "message" in selector:
            return self._message(selector["message"]).thread_id
        # the pair's newest thread created at or before the line's instant
        query = ThreadFilter(
            owner_phone_number=selector["owner"],
            guest_phone_number=selector["guest"],
            creation_time_to=line.at + timedelta(microseconds=1),
            availability=(Availability.ALIVE, Availability.DELETED),
        )
        actor = line.fields["actor"]
        page = self._inbox.list(actor=actor, filter=query, limit=1000)
        while page.next_cursor is not None:
            page = self._inbox.list(actor=actor, filter=query, limit=1000, cursor=page.next_cursor)
        if not page:
            raise ThreadNotFound(
                f"No thread for {selector['owner']} and {selector['guest']} created by then"
            )
        return page[-1].id

    def _apply(self, line: ReplayLine) -> None:
        f, inbox = line.fields, self._inbox
        kind, pair = line.type, _pair(line)
        if pair is not None:  # a message, received or sent on its (owner, guest) pair
            owner, guest = pair
            if kind == "inbound":
                inbox.receive(
                    owner_number=owner,
                    guest_number=guest,
                    body=f["text"],
                    provider_message_id=f["id"],
                )
            else:
                inbox.send(
                    actor=f["actor"],
                    owner_number=owner,
                    guest_number=guest,
                    body=f["text"],
                    provider_message_id=f["id"],
                )
        elif kind == "assign":
            inbox.assign(self._thread_id(line), actor=f["actor"], assignee=f["assignee"])
        elif kind == "resolve":
            inbox.resolve(self._thread_id(line), actor=f["actor"])
        elif kind == "delete":
            inbox.delete(self._thread_id(line), actor=f["actor"])
        elif kind == "note":
            inbox.add_note(self._thread_id(line), actor=f["actor"], text=f["text"])
        elif kind == "delivery":
            message = self._message(f["message"])
            inbox.record_delivery(
                message.id, f["status"], at=line.at, error_code=f.get("errorCode")
            )
        elif kind == "sweep":
            inbox.expire()
        else:  # pragma: no cover - parse_line admits only the types above
            raise AssertionError(kind)
