"""Properties of threadcore.wire: every shape round-trips, and hostile JSON is refused with a
WireFormatError that names the field (never a KeyError, TypeError or cattrs exception)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadcore import wire
from threadcore.domain.errors import ThreadcoreError, WireFormatError
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Entry,
    EntryType,
    Message,
    MessageSource,
    Note,
    OwnerResource,
    Party,
    StatusReason,
    Thread,
    ThreadStatus,
    ThreadUser,
)
from threadcore.domain.queries import Page, Paging, SyncResult, SyncType
from threadcore.wire._platform import error_classes, rebuild_error
from threadcore.wire._sms import CLASSIFICATION_KEYS

#: A third of the profile's examples per shape (dev: 50, ci: 333): twelve shapes share the budget.
PER_SHAPE = settings(max_examples=max(20, settings().max_examples // 3))

# --- generated domain records ---------------------------------------------------------------------
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
ids = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=12)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
phones = st.integers(0, 9999).map(lambda n: f"+1209248{n:04d}") | st.integers(0, 999).map(
    lambda n: f"+447700900{n:03d}"
)
users = st.builds(ThreadUser, ids, st.none() | texts, texts)
urls = st.integers(0, 99).map(lambda n: f"https://files.example.com/{n}.png")


@st.composite
def threads(draw: st.DrawFn) -> Thread:
    return Thread(
        id=draw(ids),
        owner_party=Party(draw(phones)),
        guest_party=Party(draw(phones)),
        owner=OwnerResource(draw(ids), draw(st.none() | texts), draw(st.none() | texts)),
        creation_time=draw(times),
        status=draw(st.sampled_from(ThreadStatus)),
        availability=draw(st.sampled_from(Availability)),
        assignee=draw(st.none() | users),
        status_reason=draw(st.none() | st.sampled_from(StatusReason)),
        label=draw(st.none() | texts),
        last_modified_time=draw(times),
        last_inbound_at=draw(st.none() | times),
        last_outbound_at=draw(st.none() | times),
        latest_message_at=draw(times),
        version=draw(st.integers(1, 50)),
    )


#: Keys the tests' path notation (``a.b[0]``) can address: not empty, no "." or "[".
keys = texts.filter(lambda k: bool(k) and "." not in k and "[" not in k)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=4,
)
classifications = st.builds(
    Classification,
    id=ids,
    classification=texts,
    created_at=times,
    confidence=st.none() | st.floats(0, 1),
    reason=st.none() | texts,
    is_action_required=st.none() | st.booleans(),
    is_reply_required=st.none() | st.booleans(),
    language=st.none() | texts,
    action_recommendation=st.none() | texts,
    details=st.dictionaries(
        keys.filter(lambda k: k not in CLASSIFICATION_KEYS), json_values, max_size=3
    ),
)


@st.composite
def messages(draw: st.DrawFn, statuses: list[DeliveryStatus] | None = None) -> Message:
    direction = draw(st.sampled_from(Direction))
    if direction is Direction.INBOUND:
        status = DeliveryStatus.RECEIVED
    else:
        allowed = [
            s for s in (statuses or list(DeliveryStatus)) if s is not DeliveryStatus.RECEIVED
        ]
        status = draw(st.sampled_from(allowed))
    return Message(
        id=draw(ids),
        thread_id=draw(ids),
        direction=direction,
        body=draw(texts),
        from_number=draw(phones),
        to_number=draw(phones),
        author=draw(st.none() | users),
        created_at=draw(times),
        last_modified_at=draw(times),
        availability=draw(st.sampled_from(Availability)),
        status=status,
        sent_at=draw(st.none() | times),
        delivered_at=draw(st.none() | times),
        is_automated=draw(st.booleans()),
        source=draw(st.none() | st.sampled_from(MessageSource)),
        content_type=draw(st.sampled_from(["text/plain", "image/png"])),
        attachments=tuple(draw(st.lists(urls, max_size=2))),
        classifications=tuple(draw(st.lists(classifications, max_size=1))),
    )


SENDABLE: list[DeliveryStatus] = [s for s in DeliveryStatus if s is not DeliveryStatus.DRAFT]
notes = st.builds(
    Note,
    id=ids,
    thread_id=ids,
    author=users,
    text=texts,
    creation_time=times,
    last_modified_time=times,
    availability=st.sampled_from(Availability),
)
entries = st.builds(
    Entry,
    record_type=st.sampled_from(EntryType),
    id=ids,
    thread_id=ids,
    availability=st.sampled_from(Availability),
    creation_time=times,
    last_modified_time=times,
    direction=st.none() | st.sampled_from(Direction),
    message_status=st.none() | st.sampled_from(SENDABLE),
    text=st.none() | texts.filter(bool),
    attachments=st.lists(urls, max_size=2).map(tuple),
    author=st.none() | users,
    initiator=st.none() | users,
    assignee=st.none() | users,
    previous_assignee=st.none() | users,
    status_reason=st.none() | st.sampled_from(StatusReason),
)


@st.composite
def pages(draw: st.DrawFn, records: st.SearchStrategy[Any]) -> Page[Any]:
    found = tuple(draw(st.lists(records, max_size=2)))
    per_page = draw(st.integers(1, 1000))
    page = draw(st.integers(1, 1000))
    start = (page - 1) * per_page
    total = start + len(found) + draw(st.integers(0, 5000))
    paging = Paging(per_page, page, start, start + len(found) - 1, -(-total // per_page), total)
    return Page(found, draw(st.none() | ids), paging)


def syncs(records: st.SearchStrategy[Any]) -> st.SearchStrategy[SyncResult[Any]]:
    return st.builds(
        SyncResult,
        st.lists(records, max_size=2).map(tuple),
        st.sampled_from(SyncType),
        ids,
        times,
    )


@st.composite
def errors(draw: st.DrawFn) -> ThreadcoreError:
    cls = draw(st.sampled_from(sorted(error_classes().values(), key=lambda c: c.code)))
    return rebuild_error(cls, draw(texts), draw(st.none() | ids))


def sms_threads() -> st.SearchStrategy[tuple[Thread, list[Message]]]:
    return st.tuples(threads(), st.lists(messages(), max_size=2))


# (name, strategy of what dump_X takes, dump_X, load_X)
SHAPES: list[
    tuple[str, st.SearchStrategy[Any], Callable[[Any], dict[str, Any]], Callable[[Any], Any]]
] = [
    ("thread", threads(), wire.dump_thread, wire.load_thread),
    ("thread_list", pages(threads()), wire.dump_thread_list, wire.load_thread_list),
    ("thread_sync", syncs(threads()), wire.dump_thread_sync, wire.load_thread_sync),
    ("message", messages(SENDABLE), wire.dump_message, wire.load_message),
    ("message_list", pages(messages(SENDABLE)), wire.dump_message_list, wire.load_message_list),
    ("note", notes, wire.dump_note, wire.load_note),
    ("note_list", pages(notes), wire.dump_note_list, wire.load_note_list),
    ("entries_sync", syncs(entries), wire.dump_entries_sync, wire.load_entries_sync),
    ("api_error", errors(), wire.dump_api_error, wire.load_api_error),
    (
        "sms_thread",
        sms_threads(),
        lambda pair: wire.dump_sms_thread(*pair),
        wire.load_sms_thread,
    ),
    (
        "conversation_message",
        messages(SENDABLE),
        wire.dump_conversation_message,
        wire.load_conversation_message,
    ),
    ("error", errors(), wire.dump_error, wire.load_error),
]
SHAPE_IDS = [name for name, *_ in SHAPES]


# --- hostile JSON ---------------------------------------------------------------------------------
hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=10),
    st.just("x" * 100_000),
    st.just("2026-02-30T10:00:00.000Z"),
    st.just("2026-02-17T17:12:39.676"),
    st.just("Unknown"),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
DELETE = object()


def _paths(value: Any, prefix: str = "") -> list[str]:
    """Every path in a JSON document, in threadcore.wire's notation (``a.b[0].c``)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.append(path)
            found.extend(_paths(item, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            path = f"{prefix}[{index}]"
            found.append(path)
            found.extend(_paths(item, path))
    return found


def _replace(document: Any, path: str, new: Any) -> Any:
    """A deep copy of ``document`` with the value at ``path`` replaced (or deleted)."""
    copy = json.loads(json.dumps(document))
    steps = path.replace("[", ".[").split(".")
    parent, last = copy, steps[-1]
    for step in steps[:-1]:
        parent = parent[int(step[1:-1])] if step.startswith("[") else parent[step]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if new is DELETE:
        del parent[key]
    else:
        parent[key] = new
    return copy


def _refusal(load: Callable[[Any], Any], document: Any) -> WireFormatError | None:
    """The WireFormatError loading ``document`` raises (any other exception fails the test)."""
    try:
        load(document)
    except WireFormatError as error:
        return error
    return None


#: Mutating these changes which other fields apply (a status that forbids a reason, an inbound
#: message with an author), so the error may name the other field.
CROSS_FIELD = {"status", "direction", "messageStatus", "errorCode", "statusCode"}


@pytest.mark.parametrize(("name", "records", "dump", "load"), SHAPES, ids=SHAPE_IDS)
def test_every_shape_round_trips_and_refuses_hostile_json_naming_the_field(
    name: str,
    records: st.SearchStrategy[Any],
    dump: Callable[[Any], dict[str, Any]],
    load: Callable[[Any], Any],
) -> None:
    """dump(load(dump(x))) == dump(x) for generated domain records; then one field of the
    document is deleted or replaced by hostile JSON, and loading it either succeeds or raises a
    WireFormatError (422) naming that field."""

    @PER_SHAPE
    @given(records, st.data())
    def check(value: Any, data: st.DataObject) -> None:
        document = dump(value)
        assert json.loads(json.dumps(document, allow_nan=False)) == document  # plain JSON
        assert dump(load(document)) == document

        path = data.draw(st.sampled_from(_paths(document)), label="path")
        new = data.draw(st.just(DELETE) | hostile, label="new value")
        broken = _replace(document, path, new)
        error = _refusal(load, broken)
        if error is not None:
            named = error.parameter
            assert named
            assert (
                named.startswith(path)
                or path.startswith(f"{named}[")  # an element of a list of sentences
                or path.rsplit(".", 1)[-1] in CROSS_FIELD
            ), (named, path)
            assert error.status == 422

    check()


@pytest.mark.parametrize(("name", "records", "dump", "load"), SHAPES, ids=SHAPE_IDS)
@PER_SHAPE
@given(document=json_values)
def test_arbitrary_json_is_refused_or_loaded_never_crashes(
    name: str,
    records: st.SearchStrategy[Any],
    dump: Callable[[Any], dict[str, Any]],
    load: Callable[[Any], Any],
    document: Any,
) -> None:
    error = _refusal(load, document)
    assert error is None or error.parameter


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    @given(times)
    def check(at: datetime) -> None:
        text = wire._base.format_time(at)
        assert len(text) == 24
        assert text.endswith("Z")
        assert text[19] == "."
        assert wire._base.parse_time(text) == at.replace(microsecond=at.microsecond // 1000 * 1000)

    check()
