"""Messages: receive and send (a new thread or an open one), delivery reports, classifications,
message deletion, opt-out."""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from threadcore.domain import events as ev
from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    MessageNotFound,
    OutcomeUnknown,
    RecipientOptedOut,
    UnknownPhoneNumber,
)
from threadcore.domain.events import Event
from threadcore.domain.model import (
    Classification,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    MessageSource,
    Resource,
    Thread,
    ThreadUser,
    make_message,
)
from threadcore.domain.validation import (
    check_extension_id,
    check_text,
    check_utc,
    e164,
)
from threadcore.inbox._files import uploads_of, with_files
from threadcore.inbox._spine import (
    _ALIVE,
    _DRAFT,
    _INBOUND,
    _OUTBOUND,
    _PLAIN,
    _QUEUED,
    _RECEIVED,
    _TEXT,
    _TICK,
    Spine,
    _existing_message,
    _Extra,
    _extra,
    _id_list,
    _spelling_reader,
)
from threadcore.ports import (
    CreationClaims,
    UnitOfWork,
    offers,
)

R = TypeVar("R")


def _run_repeatable(
    self: Spine,
    work: Callable[[UnitOfWork, list[Event], datetime], R],
    repeatable: bool,
    *,
    pair: tuple[str, str] | None = None,
    thread_id: str | None = None,
) -> R:
    """``self._run(work, ...)``, for a call that cannot be done twice when ``repeatable`` (a
    provider message id, R15; a delivery report; a carrier id attached): a commit lost in
    flight is then a retryable :class:`OutcomeUnknown`, since repeating the call is safe."""
    try:
        return self._run(work, pair=pair, thread_id=thread_id)
    except OutcomeUnknown as error:
        if not repeatable:
            raise
        raise OutcomeUnknown(retryable=True) from error


def _current_for_pair(
    self: Spine, uow: UnitOfWork, owner: str, guest: str, now: datetime, events: list[Event]
) -> Thread | None:
    """The pair's open thread at ``now``; a stored one that is due gets its expiry written."""
    thread = uow.open_thread_for_pair(owner, guest)
    if thread is None:
        return None
    self._rely_on(thread)
    current, expired = tx.catch_up(thread, now, self._policy.ttl)
    if expired is not None:
        uow.save_thread(current, thread.version)
        events.append(expired)
        return None
    return thread


def _replay(
    self: Spine,
    uow: UnitOfWork,
    provider_message_id: str | None,
    direction: Direction,
    body: str,
    author: str | None,
    owner: str | None,
    guest: str | None,
    thread_id: str | None,
) -> Message | None:
    """The message first stored with ``provider_message_id``, if this call repeats it (same
    direction, pair or thread, author and body); ``None`` for an unused id."""
    if provider_message_id is None:
        return None
    original = uow.message_by_provider_id(provider_message_id)
    if original is None:
        return None
    inbound = original.direction is _INBOUND
    same = (
        original.direction is direction
        and (original.author.extension_id if original.author else None) == author
        and (original.body == body or original.availability is not _ALIVE)
        and (thread_id is None or original.thread_id == thread_id)
        and (owner is None or owner == (original.to_number if inbound else original.from_number))
        and (guest is None or guest == (original.from_number if inbound else original.to_number))
    )
    if not same:
        raise IdempotencyConflict(
            f"Provider message id [{provider_message_id}] was already used for another message",
            parameter="provider_message_id",
        )
    return original


def _handled_number(self: Spine, number: str, actor: str) -> Resource:
    """The resource of ``number`` if ``actor`` handles it. A number of a resource the actor
    does not handle answers exactly as an unknown number, so numbers cannot be probed
    (rules R4, R14)."""
    resource = self._dir().resource_for_number(number)
    if resource is None or not resource.is_handler(actor):
        raise UnknownPhoneNumber(
            f"Phone number [{number}] is not a number of any resource extension [{actor}] handles"
        )
    return resource


def _owner_of(self: Spine, number: str) -> Resource:
    resource = self._dir().resource_for_number(number)
    if resource is None:
        raise UnknownPhoneNumber(f"Phone number [{number}] belongs to no resource")
    return resource


def _post(
    self: Spine,
    uow: UnitOfWork,
    events: list[Event],
    thread: Thread,
    loaded_version: int,
    direction: Direction,
    body: str,
    author: ThreadUser | None,
    now: datetime,
    provider_message_id: str | None,
    extra: _Extra = _PLAIN,
    keyword: Keyword | None = None,
) -> Message:
    """Add a message to the open ``thread`` (loaded at ``loaded_version``; 0 when new)."""
    owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
    inbound = direction is _INBOUND
    attachments, content_type, is_automated, source = extra
    # Positional, in Message's field order (mypy checks each against Message's own signature):
    # a 23-field call by keyword costs 1.2 µs more on every receive.
    message = make_message(
        self._ids.new_id(),  # id
        thread.id,  # thread_id
        direction,  # direction
        body,  # body
        guest if inbound else owner,  # from_number
        owner if inbound else guest,  # to_number
        author,  # author
        now,  # created_at
        now,  # last_modified_at
        _ALIVE,  # availability
        provider_message_id,  # provider_message_id
        _RECEIVED if inbound else _QUEUED,  # status
        None,  # sent_at
        None,  # delivered_at
        None,  # read_at
        None,  # error_code
        is_automated,  # is_automated
        source,  # source
        content_type,  # content_type
        attachments,  # attachments
        (),  # classifications
        keyword,  # keyword
        1,  # version
    )
    thread, added = tx.add_message(thread, message)
    uow.save_thread(thread, loaded_version)
    uow.add_message(message)
    events.append(added)
    return message


def _open_or_current(
    self: Spine,
    uow: UnitOfWork,
    events: list[Event],
    resource: Resource,
    owner: str,
    guest: str,
    author: ThreadUser | None,
    now: datetime,
) -> tuple[Thread, int, datetime]:
    """The pair's open thread and the version it was loaded at, or a new thread (version 0)
    assigned to ``author`` when none is open at ``now``; and the command's time from then on
    (a new thread may move it later)."""
    thread = _current_for_pair(self, uow, owner, guest, now, events)
    if thread is not None:
        return thread, thread.version, now
    # A new thread is dated after every thread already committed (rule Q2).
    # Where writers run one at a time (no CreationClaims), the claim's floor was the latest
    # instant of every committed write, and ``now`` is already after it.
    floor = uow.claim_creation() if offers(uow, CreationClaims) else None
    if floor is not None and floor > now:
        now = self._not_before(floor + _TICK)
    initiator = author.extension_id if author is not None else None
    thread, opened = tx.open_thread(
        self._ids.new_id(), resource, owner, guest, author, initiator, now
    )
    events.append(opened)
    return thread, 0, now


def receive(
    self: Spine,
    *,
    owner_number: str,
    guest_number: str,
    body: str,
    provider_message_id: str | None = None,
    attachments: Sequence[str] = (),
    content_type: str = _TEXT,
) -> Message:
    """Store an inbound message from ``guest_number`` to the resource number ``owner_number``.

    It goes on the pair's open thread; with none open, a new open thread without an assignee
    is created. A repeated ``provider_message_id`` returns the original message unchanged.
    A body that is exactly an opt-out keyword opts the guest out of ``owner_number`` (an
    opt-in keyword opts them back in); see ``Policy``.
    """
    owner = e164(owner_number, "owner_number")
    guest = e164(guest_number, "guest_number")
    if owner == guest:
        raise InvalidInput("A number cannot message itself", parameter="guest_number")
    extra = _extra(body, attachments, content_type, False, None, self._policy)
    pid = _check_provider_id(provider_message_id)
    word = body.strip()
    keyword = self._policy.keyword(word) if len(word) <= _MAX_KEYWORD_BODY else None

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        if pid is not None:
            original = _replay(self, uow, pid, _INBOUND, body, None, owner, guest, None)
            if original is not None:
                return original
        resource = _owner_of(self, owner)
        thread, loaded, now = _open_or_current(self, uow, events, resource, owner, guest, None, now)
        message = _post(
            self, uow, events, thread, loaded, _INBOUND, body, None, now, pid, extra, keyword
        )
        if keyword is not None and keyword is not Keyword.HELP:
            opting_out = keyword is Keyword.OPT_OUT
            if uow.opted_out(owner, guest) is not opting_out:
                uow.set_opted_out(owner, guest, opting_out)
                change = ev.GuestOptedOut if opting_out else ev.GuestOptedIn
                events.append(change(thread.id, now, owner, guest, message.id))
        return message

    return _run_repeatable(self, work, pid is not None, pair=(owner, guest))


def send(
    self: Spine,
    *,
    actor: str,
    body: str,
    owner_number: str | None = None,
    guest_number: str | None = None,
    thread_id: str | None = None,
    provider_message_id: str | None = None,
    attachments: Sequence[str | Upload] = (),
    content_type: str = _TEXT,
    is_automated: bool = False,
    source: MessageSource | str | None = None,
) -> Message:
    """Send an outbound message as handler ``actor``, naming either the pair of numbers or
    ``thread_id=``.

    By pair: with no open thread for it, a new thread is created and assigned to the sender.
    On an open thread only its assignee may send (an unassigned thread is refused unless
    ``Policy(claim_on_send=True)``). A thread named by id must exist for the actor, be alive
    and open. A guest who opted out of the owner number gets nothing
    (:class:`~threadcore.errors.RecipientOptedOut`).

    ``attachments`` are URLs, or files (:class:`~threadcore.Upload`): a file's bytes are stored
    with the message, or not at all when the send is refused (rule M8), and the message keeps
    the URL that names them (read back with :meth:`attachment_content`).
    """
    actor = check_extension_id(actor, "actor")
    listed, uploads = uploads_of(attachments)
    extra = _extra(body, listed, content_type, is_automated, source, self._policy)
    pid = _check_provider_id(provider_message_id)
    if thread_id is not None:
        if owner_number is not None or guest_number is not None:
            raise InvalidInput(
                "Name either thread_id or owner_number and guest_number, not both",
                parameter="thread_id",
            )
        return _send_on_thread(self, actor, body, thread_id, pid, extra, uploads)
    if owner_number is None or guest_number is None:
        raise InvalidInput(
            "Name either thread_id or both owner_number and guest_number",
            parameter="owner_number" if owner_number is None else "guest_number",
        )
    owner = e164(owner_number, "owner_number")
    guest = e164(guest_number, "guest_number")
    if owner == guest:
        raise InvalidInput("A number cannot message itself", parameter="guest_number")

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        original = _replay(self, uow, pid, _OUTBOUND, body, actor, owner, guest, None)
        if original is not None:
            return original
        resource = _handled_number(self, owner, actor)
        author = resource.user(actor)
        thread, loaded, now = _open_or_current(
            self, uow, events, resource, owner, guest, author, now
        )
        if loaded:
            thread, claimed = tx.sender_may_send(
                thread, resource, actor, self._policy.claim_on_send, now
            )
            if claimed is not None:
                events.append(claimed)
        _check_not_opted_out(uow, thread)
        return _post(self, uow, events, thread, loaded, _OUTBOUND, body, author, now, pid, extra)

    return _run_repeatable(
        self, with_files(self, work, uploads), pid is not None, pair=(owner, guest)
    )


def _send_on_thread(
    self: Spine,
    actor: str,
    body: str,
    thread_id: str,
    pid: str | None,
    extra: _Extra,
    uploads: tuple[Upload, ...],
) -> Message:

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        original = _replay(self, uow, pid, _OUTBOUND, body, actor, None, None, thread_id)
        if original is not None:
            return original
        stored, resource = self._visible(uow, thread_id, actor)
        return _send_as(self, uow, events, stored, resource, actor, body, now, pid, extra)

    return _run_repeatable(
        self, with_files(self, work, uploads), pid is not None, thread_id=thread_id
    )


def _send_as(
    self: Spine,
    uow: UnitOfWork,
    events: list[Event],
    stored: Thread,
    resource: Resource,
    actor: str,
    body: str,
    now: datetime,
    pid: str | None,
    extra: _Extra,
) -> Message:
    """Send on the stored thread as ``actor``: the thread must be open (now), the actor its
    assignee (or claiming it), the guest not opted out."""
    thread = tx.effective(stored, now, self._policy.ttl)
    thread, claimed = tx.sender_may_send(thread, resource, actor, self._policy.claim_on_send, now)
    if claimed is not None:
        events.append(claimed)
    _check_not_opted_out(uow, thread)
    author = resource.user(actor)
    return _post(
        self, uow, events, thread, stored.version, _OUTBOUND, body, author, now, pid, extra
    )


def record_delivery(
    self: Spine,
    message_id: str | None = None,
    status: DeliveryStatus | str | None = None,
    at: datetime | None = None,
    error_code: str | None = None,
    *,
    provider_message_id: str | None = None,
) -> Message:
    """Record a carrier's delivery report for an outbound message (no actor: the carrier),
    named by threadcore's ``message_id`` or by the carrier's ``provider_message_id`` (one of
    the two; see :meth:`attach_provider_id`).

    Never moves a message backwards: a report that repeats the status or lies behind it
    changes nothing; an impossible move raises :class:`~threadcore.errors.ImpossibleStatusChange`.
    ``at`` is when the carrier says it happened (default now). Returns the message.
    """
    find = _named_message(message_id, provider_message_id)
    if status is None:
        raise InvalidInput("Parameter [status] is required", parameter="status")
    reported = _delivery_status(status)
    when = None if at is None else check_utc(at, "at")
    code = _optional_text(error_code, "error_code", 64)

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        stored = find(uow)
        new, event = messaging.record_delivery(stored, reported, when or now, code, now)
        if event is not None:
            uow.save_message(new, stored.version)
            events.append(event)
        return new

    return _run_repeatable(self, work, True)  # a report again changes nothing


def attach_provider_id(self: Spine, message_id: str, provider_message_id: str) -> Message:
    """Record the carrier's id of an outbound message once the carrier accepted it (rule M2a),
    so that its delivery reports can name it (``record_delivery(provider_message_id=...)``).

    The same id again changes nothing (a retry is safe); another id for the message, or an id
    another message already has, is :class:`~threadcore.errors.IdempotencyConflict`. An unknown
    message (or a draft) is :class:`~threadcore.errors.MessageNotFound`; an inbound message is
    :class:`~threadcore.errors.ImpossibleStatusChange`. Returns the message.
    """
    message_id = check_extension_id(message_id, "message_id")
    carrier_id = _check_provider_id(provider_message_id)
    if carrier_id is None:
        raise InvalidInput(
            "Parameter [provider_message_id] is required", parameter="provider_message_id"
        )

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        stored = uow.message(message_id)
        if stored is None or stored.status is _DRAFT:
            raise MessageNotFound(f"Message [{message_id}] not found")
        owner = uow.message_by_provider_id(carrier_id)
        if owner is not None and owner.id != message_id:
            raise IdempotencyConflict(
                f"The carrier's id [{carrier_id}] belongs to message [{owner.id}]"
            )
        new, event = messaging.attach_carrier_id(stored, carrier_id, now)
        if event is not None:
            uow.save_message(new, stored.version)
            events.append(event)
        return new

    return _run_repeatable(self, work, True)  # the same id again changes nothing


def _named_message(
    message_id: str | None, provider_message_id: str | None
) -> Callable[[UnitOfWork], Message]:
    """How a delivery report finds its message: by threadcore's id or by the carrier's, exactly
    one of them; drafts are not messages."""
    if (message_id is None) == (provider_message_id is None):
        raise InvalidInput(
            "Name the message by message_id or by provider_message_id (exactly one)",
            parameter="message_id",
        )
    if message_id is not None:
        wanted = check_extension_id(message_id, "message_id")

        def by_id(uow: UnitOfWork) -> Message:
            stored = uow.message(wanted)
            if stored is None:
                raise MessageNotFound(f"Message [{wanted}] not found")
            return stored

        return by_id
    carrier_id = _check_provider_id(provider_message_id)
    assert carrier_id is not None

    def by_carrier_id(uow: UnitOfWork) -> Message:
        stored = uow.message_by_provider_id(carrier_id)
        if stored is None or stored.status is _DRAFT:
            raise MessageNotFound(f"No message has the carrier's id [{carrier_id}]")
        return stored

    return by_carrier_id


def classify(
    self: Spine,
    message_id: str,
    classification: str,
    *,
    confidence: float | None = None,
    reason: str | None = None,
    is_action_required: bool | None = None,
    is_reply_required: bool | None = None,
    language: str | None = None,
    action_recommendation: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> Message:
    """Attach an automation's classification to a message (``actor=None``: the automation
    acts as the system). Returns the message with the classification appended."""
    message_id = check_extension_id(message_id, "message_id")
    if actor is not None:
        actor = check_extension_id(actor, "actor")
    label = _optional_text(classification, "classification", 128)
    if label is None:
        raise InvalidInput("Parameter [classification] is required", parameter="classification")
    if confidence is not None and (
        not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not -(2.0**53) <= confidence <= 2.0**53
        or not math.isfinite(confidence)
    ):
        raise InvalidInput("Parameter [confidence] must be a finite number", parameter="confidence")
    for name, flag in (
        ("is_action_required", is_action_required),
        ("is_reply_required", is_reply_required),
    ):
        if flag is not None and not isinstance(flag, bool):
            raise InvalidInput(f"Parameter [{name}] must be a bool or None", parameter=name)
    texts = (
        _optional_text(reason, "reason", 4000),
        _optional_text(language, "language", 35),
        _optional_text(action_recommendation, "action_recommendation", 4000),
    )
    extra = _json_details(details)

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> Message:
        stored = _existing_message(uow, message_id)
        if actor is not None:
            self._visible_as(uow, stored.thread_id, actor, MessageNotFound, message_id)
        record = Classification(
            self._ids.new_id(),
            label,
            now,
            None if confidence is None else float(confidence),
            texts[0],
            is_action_required,
            is_reply_required,
            texts[1],
            texts[2],
            extra,
        )
        new, event = messaging.classify(stored, record, actor, now)
        uow.save_message(new, stored.version)
        events.append(event)
        return new

    return self._run(work)


def delete_messages(
    self: Spine, message_ids: Sequence[str], *, actor: str
) -> builtins.list[Message]:
    """Delete single messages: each becomes a tombstone (body and attachments gone). Any
    handler of a message's resource may, on open or resolved threads. Every id is checked
    before anything changes. The thread's label follows its newest alive message."""
    actor = check_extension_id(actor, "actor")
    ids = _id_list(message_ids, "message_ids")
    ttl = self._policy.ttl

    def work(uow: UnitOfWork, events: list[Event], now: datetime) -> builtins.list[Message]:
        found = [_existing_message(uow, i) for i in ids]
        threads: dict[str, Thread] = {}
        for message in found:  # every id visible before any thread state is told (R14)
            if message.thread_id not in threads:
                threads[message.thread_id] = self._visible_as(
                    uow, message.thread_id, actor, MessageNotFound, message.id
                )[0]
        for stored in threads.values():
            tx.check(stored, tx.Command.DELETE_MESSAGE)
        current: dict[str, Thread] = {}
        for thread_id, stored in threads.items():  # a due thread's expiry comes first
            current[thread_id], expired = tx.catch_up(stored, now, ttl)
            if expired is not None:
                events.append(expired)
        result = []
        for message in found:
            new, event = messaging.delete_message(message, threads[message.thread_id], actor, now)
            if event is not None:
                uow.save_message(new, message.version)
                events.append(event)
            result.append(new)
        gone = {m.id for m in result}
        for thread_id, stored in threads.items():
            thread = current[thread_id]
            alive = [
                m
                for m in uow.messages(thread_id)
                if m.availability is _ALIVE and m.status is not _DRAFT and m.id not in gone
            ]
            relabelled = messaging.relabel(thread, alive, now)
            if relabelled is not thread:  # the record changed: say so on its deletions
                events[:] = [
                    attrs.evolve(e, relabelled=True)
                    if isinstance(e, ev.MessageDeleted) and e.thread_id == thread_id
                    else e
                    for e in events
                ]
            if relabelled is not stored:
                uow.save_thread(relabelled, stored.version)
        return result

    return self._run(work)


def opted_out(self: Spine, *, actor: str, owner_number: str, guest_number: str) -> bool:
    """Whether the guest has opted out of messages from the owner number (the actor must
    handle that number's resource)."""
    actor = check_extension_id(actor, "actor")
    owner = e164(owner_number, "owner_number")
    guest = e164(guest_number, "guest_number")
    _handled_number(self, owner, actor)
    return self._read(lambda uow: uow.opted_out(owner, guest))


_MAX_PROVIDER_ID = 256


_MAX_KEYWORD_BODY = 64


def _check_not_opted_out(uow: UnitOfWork, thread: Thread) -> None:
    owner, guest = thread.owner_party.phone_number, thread.guest_party.phone_number
    if uow.opted_out(owner, guest):
        raise RecipientOptedOut(
            f"Phone number [{guest}] opted out of messages from [{owner}]; nothing was sent"
        )


_delivery_status = _spelling_reader(messaging.REPORTABLE, "status")


def _optional_text(value: object, parameter: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInput(
            f"Parameter [{parameter}] must be a non-blank string of at most {max_length} "
            "characters",
            parameter=parameter,
        )
    check_text(value, parameter)
    return value


def _json_details(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(
            "Parameter [details] must be a mapping with string keys", parameter="details"
        )
    try:
        text = json.dumps(dict(value), allow_nan=False)
        loaded: dict[str, Any] = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(
            "Parameter [details] must hold JSON values only", parameter="details"
        ) from None
    if len(text) > 65_536:
        raise InvalidInput("Parameter [details] is larger than 64 KiB", parameter="details")
    if loaded != value:  # e.g. a nested non-string key or a tuple: JSON would change it
        raise InvalidInput(
            "Parameter [details] must hold JSON values only (string keys, lists)",
            parameter="details",
        )
    return loaded


def _check_provider_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_PROVIDER_ID:
        raise InvalidInput(
            "Parameter [provider_message_id] must be a non-empty string of at most "
            f"{_MAX_PROVIDER_ID} characters, without NUL",
            parameter="provider_message_id",
        )
    check_text(value, "provider_message_id")  # NUL and lone surrogates: no adapter stores them
    return value
