"""R17: clear, typed errors and no partial state, for every public entry point."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import GUEST, OWNER, QUEUE, START, billing_directory
from hypothesis import given
from hypothesis import strategies as st

import threadcore
from threadcore import Inbox, InMemoryRepository, ManualClock, Policy, Resource, ThreadcoreError
from threadcore.domain.errors import ConnectionLost, platform_name
from threadcore.errors import (
    AssigneeNotHandler,
    ClockMismatch,
    ConcurrencyConflict,
    Conflict,
    DraftNotFound,
    IdempotencyConflict,
    ImpossibleStatusChange,
    InvalidInput,
    InvalidPageToken,
    InvalidSyncToken,
    MessageNotFound,
    MethodNotAllowed,
    NestedUnitOfWork,
    NotAssignee,
    NotAuthor,
    NoteDeletedError,
    NoteNotFound,
    NotFound,
    NotPermitted,
    OutcomeUnknown,
    PhoneNumberInUse,
    RecipientOptedOut,
    RequestTooLarge,
    ResourceExists,
    ResourceNotFound,
    SchemaVersionError,
    StorageError,
    ThreadDeletedError,
    ThreadNotFound,
    ThreadNotOpen,
    ThreadUnassigned,
    Unauthenticated,
    UnknownPhoneNumber,
    Unsupported,
    UnsupportedMediaType,
    WireFormatError,
)
from threadcore.ids import SequentialIds

#: error class -> (its stable code, its status), as docs/rules.md R17 documents them.
DOCUMENTED: dict[type[ThreadcoreError], tuple[str, int]] = {
    InvalidInput: ("InvalidInput", 422),
    AssigneeNotHandler: ("AssigneeNotHandler", 422),
    NotFound: ("NotFound", 404),
    ThreadNotFound: ("ThreadNotFound", 404),
    UnknownPhoneNumber: ("UnknownPhoneNumber", 404),
    ResourceNotFound: ("ResourceNotFound", 404),
    NotPermitted: ("NotPermitted", 403),
    NotAssignee: ("NotAssignee", 403),
    Conflict: ("Conflict", 409),
    ThreadNotOpen: ("ThreadNotOpen", 409),
    ThreadUnassigned: ("ThreadUnassigned", 409),
    IdempotencyConflict: ("IdempotencyConflict", 409),
    ResourceExists: ("ResourceExists", 409),
    PhoneNumberInUse: ("PhoneNumberInUse", 409),
    ConcurrencyConflict: ("ConcurrencyConflict", 503),
    ClockMismatch: ("ClockMismatch", 409),
    MethodNotAllowed: ("MethodNotAllowed", 405),
    RequestTooLarge: ("RequestTooLarge", 413),
    UnsupportedMediaType: ("UnsupportedMediaType", 415),
    Unauthenticated: ("Unauthenticated", 401),
    ThreadDeletedError: ("ThreadDeleted", 410),
    MessageNotFound: ("MessageNotFound", 404),
    NoteNotFound: ("NoteNotFound", 404),
    DraftNotFound: ("DraftNotFound", 404),
    NotAuthor: ("NotAuthor", 403),
    RecipientOptedOut: ("RecipientOptedOut", 409),
    ImpossibleStatusChange: ("ImpossibleStatusChange", 409),
    NoteDeletedError: ("NoteDeleted", 410),
    WireFormatError: ("WireFormatError", 422),
    InvalidSyncToken: ("InvalidSyncToken", 400),
    InvalidPageToken: ("InvalidPageToken", 400),
    StorageError: ("StorageError", 503),
    SchemaVersionError: ("SchemaVersionError", 503),
    OutcomeUnknown: ("OutcomeUnknown", 503),
    NestedUnitOfWork: ("NestedUnitOfWork", 500),
    Unsupported: ("Unsupported", 501),
}

#: The families of R17: each documented error belongs to its family's root.
FAMILY = {
    AssigneeNotHandler: InvalidInput,
    WireFormatError: InvalidInput,
    SchemaVersionError: StorageError,
    OutcomeUnknown: StorageError,
    ThreadNotFound: NotFound,
    UnknownPhoneNumber: NotFound,
    ResourceNotFound: NotFound,
    NotAssignee: NotPermitted,
    MessageNotFound: NotFound,
    NoteNotFound: NotFound,
    DraftNotFound: NotFound,
    NotAuthor: NotPermitted,
    RecipientOptedOut: Conflict,
    ImpossibleStatusChange: Conflict,
    ThreadNotOpen: Conflict,
    ThreadUnassigned: Conflict,
    IdempotencyConflict: Conflict,
    ResourceExists: Conflict,
    PhoneNumberInUse: Conflict,
    ConcurrencyConflict: Conflict,
    ClockMismatch: Conflict,
}
#: The HTTP refusals are InvalidInput with their own status (the family's is 422).
HTTP_REFUSALS = {MethodNotAllowed, RequestTooLarge, UnsupportedMediaType}

BAD_NUMBERS: list[Any] = [
    "2092480001",
    "+1",
    "abc",
    "+1 209 248 0001",
    "+1-209-248-0001",
    "+12092480001 ",
    "+0012092480001",
    "",
    123,
    12092480001,
    None,
    b"+12092480001",
    ["+12092480001"],
]
BAD_BODIES: list[Any] = ["", "   ", "\n\t", "x" * 1601, "a\x00b", None, 5, b"hi", ["hi"], object()]
BAD_IDS: list[Any] = [None, 101, "", " 101", "101 ", "1\n01", "x" * 65, ["101"], b"101"]
BAD_THREAD_IDS: list[Any] = [None, 1, 1.5, b"t-1", ["t-1"], object()]
BAD_PROVIDER_IDS: list[Any] = ["", "x" * 257, 5, b"SM1", ["SM1"]]


def fresh_inbox(**kwargs: Any) -> Inbox:
    return Inbox(
        repository=InMemoryRepository(),
        directory=kwargs.pop("directory", billing_directory()),
        clock=kwargs.pop("clock", ManualClock(START)),
        policy=kwargs.pop("policy", Policy()),
        ids=SequentialIds("t"),
        **kwargs,
    )


def refused(call: Callable[[], object]) -> Exception:
    """The exception ``call`` raises (any kind); fails the test if it returns."""
    try:
        result = call()
    except Exception as exc:
        return exc
    pytest.fail(f"the call was accepted and returned {result!r}")


def assert_invalid(
    call: Callable[[], object], parameter: str, error: type[InvalidInput] = InvalidInput
) -> InvalidInput:
    exc = refused(call)
    assert isinstance(exc, error), f"{type(exc).__name__}: {exc}"
    # the platform's spelling of the parameter, whichever way the test names it
    assert exc.parameter == platform_name(parameter), f"named {exc.parameter!r}: {exc}"
    assert exc.status == 422
    return exc


def assert_nothing_stored(inbox: Inbox) -> None:
    """No event, and no thread: the pair's next message opens a new thread."""
    assert inbox.events() == []
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="probe")
    assert [type(e).__name__ for _, e in inbox.events()] == ["ThreadOpened", "MessageAdded"]
    assert [m.id for m in inbox.messages(message.thread_id, actor="101")] == [message.id]


def with_thread() -> tuple[Inbox, str]:
    inbox = fresh_inbox()
    thread_id = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi").thread_id
    inbox.assign(thread_id, actor="101", assignee="102")
    return inbox, thread_id


def assert_thread_unchanged(inbox: Inbox, thread_id: str, call: Callable[[], object]) -> Exception:
    events = inbox.events()
    thread = inbox.get(thread_id, actor="101")
    messages = inbox.messages(thread_id, actor="101")
    exc = refused(call)
    assert inbox.events() == events
    assert inbox.get(thread_id, actor="101") == thread
    assert inbox.messages(thread_id, actor="101") == messages
    return exc


# === the error classes ==========================================================================
@pytest.mark.parametrize(("cls", "expected"), DOCUMENTED.items(), ids=lambda v: str(v))
def test_every_error_has_a_stable_code_and_status(
    cls: type[ThreadcoreError], expected: tuple[str, int]
) -> None:
    assert issubclass(cls, ThreadcoreError)
    assert isinstance(cls.code, str)
    assert type(cls.status) is int
    assert (cls.code, cls.status) == expected


def test_threadcores_errors_name_their_own_code_an_embedders_inherits() -> None:
    """R17, decision (issue 23): threadcore's own errors take their class's name as their
    ``code`` unless they set another (the list is written once); an embedder's subclass that
    names none answers its parent's code, as before 1.0, and one that names its own keeps it."""

    class LateReply(Conflict):
        """An embedder's refusal that names no code."""

    class Spelled(Conflict):
        """One that names its own."""

        code = "SpelledOtherwise"

    try:
        assert (LateReply.code, LateReply.status) == ("Conflict", 409)
        assert LateReply("late").code == "Conflict"
        assert (Spelled.code, Conflict.code) == ("SpelledOtherwise", "Conflict")
        # the internal lost connection answers as the storage error it stands for
        assert (ConnectionLost.code, ThreadDeletedError.code) == ("StorageError", "ThreadDeleted")
    finally:
        del LateReply, Spelled
        gc.collect()  # no test class left among ThreadcoreError.__subclasses__()


@pytest.mark.parametrize(("cls", "expected"), DOCUMENTED.items(), ids=lambda v: str(v))
def test_only_errors_that_changed_nothing_and_may_pass_later_are_retryable(
    cls: type[ThreadcoreError], expected: tuple[str, int]
) -> None:
    """A caller (a carrier's webhook) may repeat the call unchanged exactly when it is retryable:
    a conflict whose retries ran out, a storage outage (issue 12, item 11)."""
    assert cls.retryable is (cls in (ConcurrencyConflict, StorageError))


def test_an_unknown_outcome_is_retryable_only_where_a_repeat_cannot_do_it_twice() -> None:
    """Issue 22, item 3: a commit lost on its way may have been stored; the error says so, and
    whether the same call may be made again (an instance's ``retryable``; the class's is
    False). Its platform error body keeps both (the message says which)."""
    from threadcore.wire import dump_api_error, load_api_error

    blind, safe = OutcomeUnknown(), OutcomeUnknown(retryable=True)
    assert (blind.retryable, safe.retryable, OutcomeUnknown.retryable) == (False, True, False)
    for error in (blind, safe):
        assert "may or may not have been stored" in error.message
        assert (error.code, error.status) == ("OutcomeUnknown", 503)
        again = load_api_error(dump_api_error(error))
        assert (type(again), again.message, again.retryable) == (
            OutcomeUnknown, error.message, error.retryable,
        )  # fmt: skip
    assert "Look before repeating" in blind.message
    assert "Repeat the same call unchanged" in safe.message


@pytest.mark.parametrize(("cls", "family"), FAMILY.items(), ids=lambda v: str(v))
def test_errors_belong_to_their_family(
    cls: type[ThreadcoreError], family: type[ThreadcoreError]
) -> None:
    assert issubclass(cls, family)
    # a conflict that outlasted the retries is retryable: 503, which carriers retry (item 11)
    assert cls.status == (503 if cls is ConcurrencyConflict else family.status)


def test_http_refusals_are_invalid_input_with_their_own_status() -> None:
    for cls in HTTP_REFUSALS:
        assert issubclass(cls, InvalidInput)
        assert cls.status != InvalidInput.status
        assert not cls.retryable
    assert not issubclass(Unauthenticated, InvalidInput | NotFound | NotPermitted)


def test_token_errors_are_invalid_input_answered_400_as_the_platform_does() -> None:
    for cls in (InvalidSyncToken, InvalidPageToken):
        assert issubclass(cls, InvalidInput)
        assert cls.status == 400
    assert InvalidSyncToken("x").message.startswith("Parameter [syncToken] is invalid")


def test_every_exported_error_is_documented() -> None:
    exported = {
        getattr(threadcore.errors, name)
        for name in threadcore.errors.__all__
        if isinstance(getattr(threadcore.errors, name), type)
        and issubclass(getattr(threadcore.errors, name), BaseException)
    }
    assert exported - {ThreadcoreError} == set(DOCUMENTED)
    assert len({cls.code for cls in DOCUMENTED}) == len(DOCUMENTED)


def test_errors_carry_message_and_parameter() -> None:
    error = InvalidInput("Parameter [body] must not be empty", parameter="body")
    assert (error.message, error.parameter, str(error)) == (
        "Parameter [body] must not be empty",
        "body",
        "Parameter [body] must not be empty",
    )
    assert ThreadNotOpen("closed").parameter is None
    assert NotAssignee("103").actor == "103"
    assert isinstance(InvalidInput("x"), ValueError)
    assert isinstance(ThreadNotFound("x"), LookupError)


# === receive ====================================================================================
@pytest.mark.parametrize("number", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize("parameter", ["owner_number", "guest_number"])
def test_receive_refuses_bad_numbers(number: Any, parameter: str) -> None:
    inbox = fresh_inbox()
    args = {"owner_number": OWNER, "guest_number": GUEST, "body": "Hi", parameter: number}
    assert_invalid(lambda: inbox.receive(**args), parameter)
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("body", BAD_BODIES, ids=repr)
def test_receive_refuses_bad_bodies(body: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(lambda: inbox.receive(owner_number=OWNER, guest_number=GUEST, body=body), "body")
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("pid", BAD_PROVIDER_IDS, ids=repr)
def test_receive_refuses_bad_provider_message_ids(pid: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(
        lambda: inbox.receive(
            owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id=pid
        ),
        "provider_message_id",
    )
    assert_nothing_stored(inbox)


def test_receive_on_an_open_thread_with_bad_input_changes_nothing() -> None:
    inbox, thread_id = with_thread()
    exc = assert_thread_unchanged(
        inbox, thread_id, lambda: inbox.receive(owner_number=OWNER, guest_number=GUEST, body=" ")
    )
    assert isinstance(exc, InvalidInput)


# === send =======================================================================================
@pytest.mark.parametrize("number", BAD_NUMBERS[:-3], ids=repr)
@pytest.mark.parametrize("parameter", ["owner_number", "guest_number"])
def test_send_refuses_bad_numbers(number: Any, parameter: str) -> None:
    inbox = fresh_inbox()
    args = {"owner_number": OWNER, "guest_number": GUEST, parameter: number}
    assert_invalid(lambda: inbox.send(actor="101", body="Hi", **args), parameter)
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("body", BAD_BODIES, ids=repr)
def test_send_refuses_bad_bodies(body: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(
        lambda: inbox.send(actor="101", owner_number=OWNER, guest_number=GUEST, body=body), "body"
    )
    assert_nothing_stored(inbox)
    inbox, thread_id = with_thread()
    exc = assert_thread_unchanged(
        inbox, thread_id, lambda: inbox.send(actor="102", thread_id=thread_id, body=body)
    )
    assert isinstance(exc, InvalidInput)
    assert exc.parameter == "body"


@pytest.mark.parametrize("actor", BAD_IDS, ids=repr)
def test_send_refuses_bad_actors(actor: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(
        lambda: inbox.send(actor=actor, owner_number=OWNER, guest_number=GUEST, body="Hi"),
        "actor",
    )
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("thread_id", BAD_THREAD_IDS, ids=repr)
def test_send_refuses_thread_ids_that_are_not_strings(thread_id: Any) -> None:
    inbox, real = with_thread()
    exc = assert_thread_unchanged(
        inbox, real, lambda: inbox.send(actor="102", thread_id=thread_id, body="Hi")
    )
    if thread_id is None:  # None means "not given": then the pair is missing
        assert isinstance(exc, InvalidInput)
    else:
        assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
        assert exc.parameter == "threadId"


@pytest.mark.parametrize("pid", BAD_PROVIDER_IDS, ids=repr)
def test_send_refuses_bad_provider_message_ids(pid: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(
        lambda: inbox.send(
            actor="101", owner_number=OWNER, guest_number=GUEST, body="Hi", provider_message_id=pid
        ),
        "provider_message_id",
    )
    assert_nothing_stored(inbox)


# === thread commands and queries ================================================================
def _thread_calls(inbox: Inbox) -> dict[str, Callable[..., object]]:
    return {
        "assign": lambda tid, actor: inbox.assign(tid, actor=actor, assignee="102"),
        "resolve": lambda tid, actor: inbox.resolve(tid, actor=actor),
        "delete": lambda tid, actor: inbox.delete(tid, actor=actor),
        "get": lambda tid, actor: inbox.get(tid, actor=actor),
        "messages": lambda tid, actor: inbox.messages(tid, actor=actor),
    }


@pytest.mark.parametrize("method", ["assign", "resolve", "delete", "get", "messages"])
@pytest.mark.parametrize("thread_id", BAD_THREAD_IDS, ids=repr)
def test_thread_methods_refuse_thread_ids_that_are_not_strings(method: str, thread_id: Any) -> None:
    inbox, real = with_thread()
    call = _thread_calls(inbox)[method]
    exc = assert_thread_unchanged(inbox, real, lambda: call(thread_id, "101"))
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert exc.parameter == "threadId"


@pytest.mark.parametrize("method", ["assign", "resolve", "delete", "get", "messages"])
@pytest.mark.parametrize("actor", BAD_IDS, ids=repr)
def test_thread_methods_refuse_bad_actors(method: str, actor: Any) -> None:
    inbox, real = with_thread()
    call = _thread_calls(inbox)[method]
    exc = assert_thread_unchanged(inbox, real, lambda: call(real, actor))
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert exc.parameter == "actor"


@pytest.mark.parametrize("assignee", [a for a in BAD_IDS if a is not None], ids=repr)
def test_assign_refuses_bad_assignees(assignee: Any) -> None:
    inbox, real = with_thread()
    exc = assert_thread_unchanged(
        inbox, real, lambda: inbox.assign(real, actor="102", assignee=assignee)
    )
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert exc.parameter == "assignee"


@pytest.mark.parametrize(
    ("after", "limit"), [("1", 10), (None, 10), (1.5, 10), (0, "10"), (0, None)]
)
def test_events_refuses_bad_cursors(after: Any, limit: Any) -> None:
    inbox, _ = with_thread()
    with pytest.warns(
        DeprecationWarning, match="after="
    ):  # after= is the old name of the feed's cursor
        exc = refused(lambda: inbox.events(after=after, limit=limit))
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert exc.parameter == ("after" if after != 0 else "limit")


@pytest.mark.parametrize(
    ("cursor", "limit", "parameter"),
    [("1", 10, "pageToken"), (1, 10, "pageToken"), (None, "10", "limit"), (None, -1, "limit")],
)
def test_events_refuses_bad_feed_cursors(cursor: Any, limit: Any, parameter: str) -> None:
    inbox, _ = with_thread()
    exc = refused(lambda: inbox.events(cursor=cursor, limit=limit))
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert exc.parameter == parameter
    elsewhere = fresh_inbox().feed_cursor(0)  # another store's feed
    assert isinstance(refused(lambda: inbox.events(cursor=elsewhere)), InvalidPageToken)


@pytest.mark.parametrize("listener", [123, "print", None])
def test_subscribe_refuses_what_cannot_be_called(listener: Any) -> None:
    inbox = fresh_inbox()
    assert_invalid(lambda: inbox.subscribe(listener), "listener")
    # Whatever happened, later commands must not fail because of it.
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    assert len(inbox.events()) == 2


# === directory changes ==========================================================================
def _directory_state(inbox: Inbox) -> list[Resource]:
    return list(inbox.directory.resources())  # type: ignore[attr-defined]


BAD_EXTENSION_IDS: list[Any] = [123, None, ""]


@pytest.mark.parametrize("extension_id", BAD_EXTENSION_IDS, ids=repr)
@pytest.mark.parametrize(
    "change",
    ["remove_resource", "add_phone_number", "remove_phone_number", "add_handler", "remove_handler"],
)
def test_directory_changes_refuse_bad_extension_ids(change: str, extension_id: Any) -> None:
    inbox = fresh_inbox()
    before = _directory_state(inbox)
    calls: dict[str, Callable[[], object]] = {
        "remove_resource": lambda: inbox.remove_resource(extension_id),
        "add_phone_number": lambda: inbox.add_phone_number(extension_id, "+12092480009"),
        "remove_phone_number": lambda: inbox.remove_phone_number(extension_id, OWNER),
        "add_handler": lambda: inbox.add_handler(extension_id, "109"),
        "remove_handler": lambda: inbox.remove_handler(extension_id, "101"),
    }
    assert_invalid(calls[change], "extension_id")
    assert _directory_state(inbox) == before
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("number", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize("change", ["add_phone_number", "remove_phone_number"])
def test_directory_changes_refuse_bad_numbers(change: str, number: Any) -> None:
    inbox = fresh_inbox()
    before = _directory_state(inbox)
    assert_invalid(lambda: getattr(inbox, change)(QUEUE, number), "phone_number")
    assert _directory_state(inbox) == before
    assert_nothing_stored(inbox)


@pytest.mark.parametrize("handler", [123, None, "", " 109", "x" * 65, ["109"]], ids=repr)
def test_add_handler_refuses_bad_handlers(handler: Any) -> None:
    inbox = fresh_inbox()
    before = _directory_state(inbox)
    assert_invalid(lambda: inbox.add_handler(QUEUE, handler), "handler")
    assert _directory_state(inbox) == before


@pytest.mark.parametrize("handler_id", [123, None, "", " 101", "x" * 65], ids=repr)
def test_remove_handler_refuses_bad_handler_ids(handler_id: Any) -> None:
    inbox = fresh_inbox()
    before = _directory_state(inbox)
    assert_invalid(lambda: inbox.remove_handler(QUEUE, handler_id), "handler_id")
    assert _directory_state(inbox) == before


@pytest.mark.parametrize("resource", [None, "6249888001", {"extension_id": "1"}], ids=repr)
def test_add_resource_refuses_what_is_not_a_resource(resource: Any) -> None:
    inbox = fresh_inbox()
    before = _directory_state(inbox)
    assert_invalid(lambda: inbox.add_resource(resource), "resource")
    assert _directory_state(inbox) == before


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"extension_id": 5}, "extension_id"),
        ({"extension_id": ""}, "extension_id"),
        ({"extension_id": "1", "name": 5}, "name"),
        ({"extension_id": "1", "phone_numbers": ["abc"]}, "phone_numbers"),
        ({"extension_id": "1", "phone_numbers": "+12092480001"}, "phone_numbers"),
        ({"extension_id": "1", "phone_numbers": 5}, "phone_numbers"),
        ({"extension_id": "1", "handlers": "101"}, "handlers"),
        ({"extension_id": "1", "handlers": None}, "handlers"),
    ],
)
def test_resource_refuses_bad_fields(kwargs: dict[str, Any], parameter: str) -> None:
    assert_invalid(lambda: Resource(**kwargs), parameter)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"ttl": timedelta(0)}, "ttl"),
        ({"ttl": timedelta(hours=-1)}, "ttl"),
        ({"ttl": 72}, "ttl"),
        ({"claim_on_send": "yes"}, "claim_on_send"),
        ({"max_body_length": 0}, "max_body_length"),
        ({"max_body_length": "1600"}, "max_body_length"),
        ({"max_body_length": True}, "max_body_length"),
    ],
)
def test_policy_refuses_bad_fields(kwargs: dict[str, Any], parameter: str) -> None:
    assert_invalid(lambda: Policy(**kwargs), parameter)


# === the inbox's collaborators and the clock ====================================================
def test_inbox_refuses_a_policy_that_is_not_a_policy() -> None:
    assert_invalid(lambda: Inbox(directory=billing_directory(), policy="strict"), "policy")


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("directory", None), ("directory", object()), ("clock", object()), ("ids", object())],
)
def test_inbox_refuses_collaborators_without_their_port(parameter: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"directory": billing_directory(), parameter: value}
    assert_invalid(lambda: Inbox(**kwargs), parameter)


def test_inbox_refuses_retries_that_are_not_an_int() -> None:
    assert_invalid(lambda: Inbox(directory=billing_directory(), retries="5"), "retries")


def test_naive_datetimes_are_refused_by_the_manual_clock() -> None:
    naive = datetime(2026, 2, 17, 17, 0)
    assert_invalid(lambda: ManualClock(naive), "start")
    clock = ManualClock(START)
    assert_invalid(lambda: clock.set(naive), "instant")
    assert_invalid(lambda: clock.set("2026-02-18T00:00:00Z"), "instant")
    assert_invalid(lambda: clock.advance(3600), "delta")
    assert clock.now() == START


def test_a_clock_that_reads_naive_time_is_refused_with_nothing_stored() -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2026, 2, 17, 17, 0)

    inbox = fresh_inbox(clock=NaiveClock())
    exc = refused(lambda: inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi"))
    assert isinstance(exc, InvalidInput), f"{type(exc).__name__}: {exc}"
    assert inbox.events() == []


def test_aware_non_utc_clock_readings_are_converted() -> None:
    class OffsetClock:
        def now(self) -> datetime:
            return datetime(2026, 2, 17, 18, 0, tzinfo=timezone(timedelta(hours=1)))

    inbox = fresh_inbox(clock=OffsetClock())
    message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    thread = inbox.get(message.thread_id, actor="101")
    assert thread.creation_time == START
    assert thread.creation_time.tzinfo is UTC


# === properties =================================================================================
E164_SHAPE = re.compile(r"\+[1-9][0-9]{1,14}")

phone_texts = st.one_of(
    st.text(),
    st.text(alphabet="+0123456789 -().", max_size=20),
    st.from_regex(r"\+[0-9]{0,17}", fullmatch=True),
    st.builds(
        lambda digits: "+" + digits,
        st.text(alphabet=st.characters(categories=("Nd", "No")), max_size=16),
    ),
)


def outcome(call: Callable[[], object]) -> tuple[object, Exception | None]:
    """What ``call`` returned, or the exception it raised (any kind propagates through the test
    only if it is not a ThreadcoreError)."""
    try:
        return call(), None
    except ThreadcoreError as exc:
        return None, exc


@given(phone_texts)
def test_any_text_as_guest_number_is_accepted_or_invalid_input(text: str) -> None:
    inbox = fresh_inbox()
    message, error = outcome(
        lambda: inbox.receive(owner_number=OWNER, guest_number=text, body="Hi")
    )
    if error is None:
        assert E164_SHAPE.fullmatch(text)
        assert text != OWNER
        assert getattr(message, "from_number", None) == text
    else:
        assert type(error) is InvalidInput, f"{type(error).__name__}: {error}"
        assert error.parameter == "guestNumber"
        assert inbox.events() == []


@given(phone_texts)
def test_any_text_as_owner_number_is_refused_cleanly(text: str) -> None:
    inbox = fresh_inbox()
    _, error = outcome(
        lambda: inbox.send(actor="101", owner_number=text, guest_number=GUEST, body="Hi")
    )
    if error is None:
        assert text == OWNER
    elif isinstance(error, UnknownPhoneNumber):
        assert E164_SHAPE.fullmatch(text)
        assert inbox.events() == []
    else:
        assert type(error) is InvalidInput, f"{type(error).__name__}: {error}"
        # the guest's own number as owner number: "a number cannot message itself"
        assert error.parameter == ("guestNumber" if text == GUEST else "ownerNumber")


any_object = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    st.text(),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(1595, 1605)),
    st.lists(st.text(max_size=5), max_size=3),
    st.tuples(st.text(max_size=5)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)


@given(any_object)
def test_any_object_as_body_is_accepted_or_invalid_input(body: Any) -> None:
    inbox = fresh_inbox()
    valid = isinstance(body, str) and bool(body.strip()) and len(body) <= 1600
    valid = valid and "\x00" not in body
    message, error = outcome(
        lambda: inbox.receive(owner_number=OWNER, guest_number=GUEST, body=body)
    )
    if error is None:
        assert valid
        assert getattr(message, "body", None) == body
    else:
        assert type(error) is InvalidInput, f"{type(error).__name__}: {error}"
        assert error.parameter == "body"
        assert not valid
        assert inbox.events() == []


@given(any_object)
def test_any_object_as_actor_is_refused_cleanly(actor: Any) -> None:
    inbox = fresh_inbox()
    thread_id = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi").thread_id
    thread, error = outcome(lambda: inbox.get(thread_id, actor=actor))
    if error is None:
        assert actor in {"101", "102", "103"}
        assert getattr(thread, "id", None) == thread_id
    elif isinstance(error, ThreadNotFound):
        assert isinstance(actor, str)
        assert actor not in {"101", "102", "103"}
    else:
        assert type(error) is InvalidInput, f"{type(error).__name__}: {error}"
        assert error.parameter == "actor"
