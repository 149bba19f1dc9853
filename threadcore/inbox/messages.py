"""Messages: receive and send (a new thread or an open one), delivery reports, classifications,
message deletion, opt-out."""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from threadcore.domain import messaging
from threadcore.domain.attachments import Upload
from threadcore.domain.content import TEXT, check_content
from threadcore.domain.errors import InvalidInput, OutcomeUnknown
from threadcore.domain.model import DeliveryStatus, Message, MessageSource
from threadcore.domain.validation import check_extension_id, check_pair, check_text, check_utc, e164
from threadcore.inbox import commands as c
from threadcore.inbox._files import stores_files, uploads_of
from threadcore.inbox._runner import Context
from threadcore.inbox._spine import Spine, _id_list, _spelling_reader
from threadcore.inbox.handlers import messages as h
from threadcore.inbox.handlers._load import handled_number

__all__ = [
    "attach_provider_id",
    "classify",
    "delete_messages",
    "opted_out",
    "receive",
    "record_delivery",
    "send",
]

C = TypeVar("C")
R = TypeVar("R")


def _run_repeatable(
    self: Spine,
    handler: Callable[[C, Context], R],
    command: C,
    carrier_id: str | None,
    *,
    repeatable: bool = False,
    pair: tuple[str, str] | None = None,
    thread_id: str | None = None,
) -> R:
    """``self._run(handler, command, ...)`` for a command that names the carrier's id
    ``carrier_id`` (read with the claim where the storage can). A call that cannot be done twice
    (one with a carrier id, R15; or ``repeatable``: a delivery report, a carrier id attached)
    makes a commit lost in flight a retryable :class:`OutcomeUnknown`, since repeating the call
    is safe."""
    try:
        return self._run(handler, command, pair=pair, thread_id=thread_id, carrier_id=carrier_id)
    except OutcomeUnknown as error:
        if not repeatable and carrier_id is None:
            raise
        raise OutcomeUnknown(retryable=True) from error


def receive(
    self: Spine,
    *,
    owner_number: str,
    guest_number: str,
    body: str,
    provider_message_id: str | None = None,
    attachments: Sequence[str] = (),
    content_type: str = TEXT,
) -> Message:
    """Store an inbound message from ``guest_number`` to the resource number ``owner_number``.

    It goes on the pair's open thread; with none open, a new open thread without an assignee
    is created. A repeated ``provider_message_id`` returns the original message unchanged.
    A body that is exactly an opt-out keyword opts the guest out of ``owner_number`` (an
    opt-in keyword opts them back in); see ``Policy``.
    """
    owner, guest = check_pair(owner_number, guest_number)
    content = check_content(body, attachments, content_type, False, None, self._policy)
    pid = None if provider_message_id is None else _check_provider_id(provider_message_id)
    keyword = messaging.keyword_of(body, self._policy)
    command = c.make_receive(owner, guest, body, pid, content, keyword)
    if pid is None:  # nothing to make retryable (_run_repeatable): run it without the layer
        return self._run(h.receive, command, pair=(owner, guest))
    return _run_repeatable(self, h.receive, command, pid, pair=(owner, guest))


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
    content_type: str = TEXT,
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
    content = check_content(body, listed, content_type, is_automated, source, self._policy)
    pid = _check_provider_id(provider_message_id)
    if thread_id is not None:
        if owner_number is not None or guest_number is not None:
            raise InvalidInput(
                "Name either thread_id or owner_number and guest_number, not both",
                parameter="thread_id",
            )
        files = stores_files(self, uploads)
        on_thread = c.make_send_on_thread(actor, thread_id, body, pid, content, files)
        return _run_repeatable(self, h.send_on_thread, on_thread, pid, thread_id=thread_id)
    if owner_number is None or guest_number is None:
        raise InvalidInput(
            "Name either thread_id or both owner_number and guest_number",
            parameter="owner_number" if owner_number is None else "guest_number",
        )
    owner, guest = check_pair(owner_number, guest_number)
    command = c.make_send(actor, owner, guest, body, pid, content, stores_files(self, uploads))
    return _run_repeatable(self, h.send, command, pid, pair=(owner, guest))


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
    if (message_id is None) == (provider_message_id is None):
        raise InvalidInput(
            "Name the message by message_id or by provider_message_id (exactly one)",
            parameter="message_id",
        )
    if message_id is not None:
        message_id = check_extension_id(message_id, "message_id")
    carrier_id = _check_provider_id(provider_message_id)
    if status is None:
        raise InvalidInput("Parameter [status] is required", parameter="status")
    reported = _delivery_status(status)
    when = None if at is None else check_utc(at, "at")
    code = _optional_text(error_code, "error_code", 64)
    command = c.RecordDelivery(message_id, carrier_id, reported, when, code)
    # a report again changes nothing: the call may be repeated
    return _run_repeatable(self, h.record_delivery, command, carrier_id, repeatable=True)


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
    command = c.AttachProviderId(message_id, carrier_id)
    # the same id again changes nothing: the call may be repeated
    return _run_repeatable(self, h.attach_provider_id, command, carrier_id, repeatable=True)


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
    command = c.Classify(
        message_id,
        actor,
        label,
        None if confidence is None else float(confidence),
        _optional_text(reason, "reason", 4000),
        is_action_required,
        is_reply_required,
        _optional_text(language, "language", 35),
        _optional_text(action_recommendation, "action_recommendation", 4000),
        _json_details(details),
    )
    return self._run(h.classify, command)


def delete_messages(
    self: Spine, message_ids: Sequence[str], *, actor: str
) -> builtins.list[Message]:
    """Delete single messages: each becomes a tombstone (body and attachments gone). Any
    handler of a message's resource may, on open or resolved threads. Every id is checked
    before anything changes. The thread's label follows its newest alive message."""
    actor = check_extension_id(actor, "actor")
    command = c.DeleteMessages(actor, _id_list(message_ids, "message_ids"))
    return self._run(h.delete_messages, command)


def opted_out(self: Spine, *, actor: str, owner_number: str, guest_number: str) -> bool:
    """Whether the guest has opted out of messages from the owner number (the actor must
    handle that number's resource)."""
    actor = check_extension_id(actor, "actor")
    owner = e164(owner_number, "owner_number")
    guest = e164(guest_number, "guest_number")
    handled_number(self._dir(), owner, actor)
    return self._read(lambda uow: uow.opted_out(owner, guest))


_MAX_PROVIDER_ID = 256


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
