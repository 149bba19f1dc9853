"""Pure transitions of the records around a thread: delivery status, classifications, message
deletion, internal notes and drafts.

Like :mod:`threadcore.domain.transitions`, every function takes values and returns new values and
the event that records the change (``None`` when nothing changed); the thread's lifecycle is
checked against the one transition table there. :data:`DELIVERY` is the delivery status machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from threadcore.domain.errors import (
    IdempotencyConflict,
    ImpossibleStatusChange,
    InvalidInput,
    NotAuthor,
    NoteDeletedError,
)
from threadcore.domain.events import (
    CarrierIdAttached,
    DeliveryStatusChanged,
    DraftDiscarded,
    DraftSaved,
    GuestOptedIn,
    GuestOptedOut,
    MessageClassified,
    MessageDeleted,
    NoteAdded,
    NoteDeleted,
    NoteEdited,
)
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    MessageSource,
    Note,
    Policy,
    Thread,
    ThreadUser,
    changed,
)
from threadcore.domain.transitions import Command, check

__all__ = [
    "DELIVERY",
    "REPORTABLE",
    "classify",
    "delete_message",
    "delete_note",
    "discard_draft",
    "edit_draft",
    "edit_note",
    "keyword_of",
    "opt_change",
    "new_draft",
    "new_note",
    "record_delivery",
    "replayed",
    "relabel",
    "tombstone",
]

_Q, _S, _D, _R = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
)
_SF, _DF = DeliveryStatus.SENDING_FAILED, DeliveryStatus.DELIVERY_FAILED
_DELETED = Availability.DELETED

#: The statuses a carrier may report for an outbound message.
REPORTABLE: Final = (_Q, _S, _D, _R, _SF, _DF)

_X = ImpossibleStatusChange
#: (current status, reported status) -> the new status, ``None`` when the report changes nothing
#: (it repeats the current status or lies behind it), or the error for an impossible move.
DELIVERY: Final[
    Mapping[tuple[DeliveryStatus, DeliveryStatus], DeliveryStatus | type[_X] | None]
] = MappingProxyType(
    {
        # Queued: anything reported moves it on.
        (_Q, _Q): None, (_Q, _S): _S, (_Q, _D): _D, (_Q, _R): _R, (_Q, _SF): _SF, (_Q, _DF): _DF,
        # Sent: a late Queued or Sent is old news; it cannot fail to be sent any more.
        (_S, _Q): None, (_S, _S): None, (_S, _D): _D, (_S, _R): _R, (_S, _SF): _X, (_S, _DF): _DF,
        # Delivered: only Read moves it on; a failure after delivery is impossible.
        (_D, _Q): None, (_D, _S): None, (_D, _D): None, (_D, _R): _R, (_D, _SF): _X, (_D, _DF): _X,
        # Read: final.
        (_R, _Q): None, (_R, _S): None, (_R, _D): None, (_R, _R): None, (_R, _SF): _X,
        (_R, _DF): _X,
        # SendingFailed: final; it was never sent, so it cannot be sent, delivered or read.
        (_SF, _Q): None, (_SF, _S): _X, (_SF, _D): _X, (_SF, _R): _X, (_SF, _SF): None,
        (_SF, _DF): _X,
        # DeliveryFailed: final; it was sent (a late Sent is old news) but never delivered.
        (_DF, _Q): None, (_DF, _S): None, (_DF, _D): _X, (_DF, _R): _X, (_DF, _SF): _X,
        (_DF, _DF): None,
    }
)  # fmt: skip


def record_delivery(
    message: Message,
    status: DeliveryStatus,
    at: datetime,
    error_code: str | None,
    now: datetime,
) -> tuple[Message, DeliveryStatusChanged | None]:
    """The message after a carrier reported ``status`` (as of ``at``).

    Never moves backwards: a report that repeats the current status or lies behind it changes
    nothing (and returns no event). An impossible move raises :class:`ImpossibleStatusChange`.
    ``sent_at``, ``delivered_at`` and ``read_at`` are filled in once, by the first report that
    implies them; ``error_code`` is kept with a failure.
    """
    if message.direction is not Direction.OUTBOUND or message.status not in REPORTABLE:
        raise ImpossibleStatusChange(
            f"Message [{message.id}] is {message.direction.value.lower()} "
            f"({message.status.value}); only sent messages get delivery reports"
        )
    if message.availability is _DELETED:
        return message, None  # a deleted message keeps nothing worth updating
    outcome = DELIVERY[message.status, status]
    if outcome is None:
        return message, None
    if not isinstance(outcome, DeliveryStatus):
        raise outcome(
            f"Message [{message.id}] is {message.status.value}; it cannot become {status.value}"
        )
    sent_at, delivered_at, read_at = message.sent_at, message.delivered_at, message.read_at
    if outcome in (_S, _D, _R, _DF) and sent_at is None:
        sent_at = at
    if outcome in (_D, _R) and delivered_at is None:
        delivered_at = at
    if outcome is _R:
        read_at = at
    new = changed(
        message,
        now,
        status=outcome,
        sent_at=sent_at,
        delivered_at=delivered_at,
        read_at=read_at,
        error_code=error_code if outcome in (_SF, _DF) else message.error_code,
    )
    event = DeliveryStatusChanged(message.thread_id, now, message.id, outcome, message.status)
    return new, event


def classify(
    message: Message, classification: Classification, initiator: str | None, now: datetime
) -> tuple[Message, MessageClassified]:
    """The message with one more classification attached."""
    if message.availability is _DELETED:
        raise InvalidInput(
            f"Message [{message.id}] was deleted; it cannot be classified", parameter="message_id"
        )
    new = changed(
        message,
        now,
        classifications=(*message.classifications, classification),
    )
    event = MessageClassified(
        message.thread_id, now, message.id, classification.classification, initiator
    )
    return new, event


def delete_message(
    message: Message, thread: Thread, initiator: str, now: datetime
) -> tuple[Message, MessageDeleted | None]:
    """The message as a tombstone: availability Deleted; body, attachments and classifications
    gone. Deleting a tombstone again changes nothing."""
    check(thread, Command.DELETE_MESSAGE)
    if message.availability is _DELETED:
        return message, None
    return tombstone(message, now), MessageDeleted(thread.id, now, message.id, initiator)


#: What a deleted message keeps of its content (rule M5): nothing. The one statement of the rule:
#: :func:`tombstone` applies it, and the SQL adapters write it from this table.
MESSAGE_TOMBSTONE: dict[str, Any] = {
    "body": "",
    "attachments": (),
    "classifications": (),
    "availability": _DELETED,
}
#: What a deleted note keeps of its text (rule N1): nothing.
NOTE_TOMBSTONE: dict[str, Any] = {"text": "", "availability": _DELETED}


def attach_carrier_id(
    message: Message, provider_message_id: str, now: datetime
) -> tuple[Message, CarrierIdAttached | None]:
    """The outbound ``message`` with the carrier's id for it (rule M2a): recorded once; the same
    id again changes nothing; another id is :class:`IdempotencyConflict`."""
    if message.direction is not Direction.OUTBOUND or message.status not in REPORTABLE:
        raise ImpossibleStatusChange(
            f"Message [{message.id}] is {message.direction.value.lower()} "
            f"({message.status.value}); only a sent message gets the carrier's id this way"
        )
    if message.provider_message_id == provider_message_id:
        return message, None
    if message.provider_message_id is not None:
        raise IdempotencyConflict(
            f"Message [{message.id}] already has the carrier's id "
            f"[{message.provider_message_id}]; it cannot take [{provider_message_id}]"
        )
    new = changed(
        message,
        now,
        provider_message_id=provider_message_id,
    )
    return new, CarrierIdAttached(message.thread_id, now, message.id, provider_message_id)


def tombstone(message: Message, now: datetime) -> Message:
    """The message (or draft) deleted at ``now``: its content gone, its version one more."""
    return changed(message, now, **MESSAGE_TOMBSTONE)


def tombstone_note(note: Note, now: datetime) -> Note:
    """The note deleted at ``now``: its text gone, its version one more."""
    return changed(note, now, **NOTE_TOMBSTONE)


def relabel(thread: Thread, alive: Sequence[Message], now: datetime) -> Thread:
    """The thread whose label (its latest text) is the body of the newest of ``alive`` (its alive
    messages, oldest first) that has text, or ``None`` when none is left. Activity times are not
    touched: deleting a message does not move the thread's expiry."""
    label = next((m.body for m in reversed(alive) if m.body), None)
    if label == thread.label:
        return thread
    return changed(thread, now, label=label)


def new_note(
    note_id: str, thread: Thread, author: ThreadUser, text: str, now: datetime
) -> tuple[Note, NoteAdded]:
    """A new internal note on the open ``thread``."""
    check(thread, Command.ANNOTATE)
    note = Note(note_id, thread.id, author, text, now, now)
    return note, NoteAdded(thread.id, now, note_id, author.extension_id)


def _may_change(note: Note, thread: Thread, actor: str) -> None:
    check(thread, Command.ANNOTATE)
    if note.author.extension_id != actor:
        raise NotAuthor(f"Only the author of note [{note.id}] may change it")


def edit_note(
    note: Note, thread: Thread, actor: str, text: str, now: datetime
) -> tuple[Note, NoteEdited | None]:
    """The note with new text: only its author may, only while the thread is open, and not
    once it is deleted. The same text again changes nothing."""
    _may_change(note, thread, actor)
    if note.availability is _DELETED:
        raise NoteDeletedError(f"Note [{note.id}] was deleted")
    if text == note.text:
        return note, None
    new = changed(note, now, text=text)
    return new, NoteEdited(thread.id, now, note.id, actor)


def delete_note(
    note: Note, thread: Thread, actor: str, now: datetime
) -> tuple[Note, NoteDeleted | None]:
    """The note as a tombstone (text gone): only its author may, only while the thread is open.
    Deleting a tombstone again changes nothing."""
    _may_change(note, thread, actor)
    if note.availability is _DELETED:
        return note, None
    return tombstone_note(note, now), NoteDeleted(thread.id, now, note.id, actor)


def new_draft(
    draft_id: str,
    thread: Thread,
    author: ThreadUser | None,
    body: str,
    attachments: tuple[str, ...],
    is_automated: bool,
    source: MessageSource | None,
    now: datetime,
) -> tuple[Message, DraftSaved]:
    """A new draft (a message with status Draft) on the open ``thread``; ``author`` is ``None``
    for an automation's draft."""
    check(thread, Command.DRAFT)
    draft = Message(
        draft_id,
        thread.id,
        Direction.OUTBOUND,
        body,
        thread.owner_party.phone_number,
        thread.guest_party.phone_number,
        author,
        now,
        now,
        status=DeliveryStatus.DRAFT,
        is_automated=is_automated,
        source=source,
        attachments=attachments,
    )
    initiator = author.extension_id if author is not None else None
    return draft, DraftSaved(thread.id, now, draft_id, initiator)


def edit_draft(
    draft: Message,
    thread: Thread,
    initiator: str | None,
    body: str,
    attachments: tuple[str, ...],
    is_automated: bool,
    source: MessageSource | None,
    now: datetime,
) -> tuple[Message, DraftSaved | None]:
    """The draft with new content (any handler of the thread may change it while the thread is
    open). The same content again changes nothing."""
    check(thread, Command.DRAFT)
    content = (body, attachments, is_automated, source)
    if content == (draft.body, draft.attachments, draft.is_automated, draft.source):
        return draft, None
    new = changed(
        draft,
        now,
        body=body,
        attachments=attachments,
        is_automated=is_automated,
        source=source,
    )
    return new, DraftSaved(thread.id, now, draft.id, initiator)


def discard_draft(
    draft: Message, thread: Thread, initiator: str, now: datetime
) -> tuple[Message, DraftDiscarded]:
    """The draft thrown away (kept as a tombstone so a retry finds it gone)."""
    check(thread, Command.DISCARD_DRAFT)
    return tombstone(draft, now), DraftDiscarded(thread.id, now, draft.id, initiator)


#: A body longer than this is never a keyword (and is not even compared with the lists).
MAX_KEYWORD_BODY: Final = 64


def keyword_of(body: str, policy: Policy) -> Keyword | None:
    """The keyword an inbound ``body`` is, under ``policy`` (rule M7): the whole body, once its
    surrounding whitespace is ignored; a long body is none."""
    if len(body) <= MAX_KEYWORD_BODY:  # (short: Policy.keyword ignores the whitespace itself)
        return policy.keyword(body)
    word = body.strip()
    return policy.keyword(word) if len(word) <= MAX_KEYWORD_BODY else None


def opt_change(
    keyword: Keyword,
    opted_out: bool,
    thread_id: str,
    now: datetime,
    owner_number: str,
    guest_number: str,
    message_id: str,
) -> GuestOptedOut | GuestOptedIn | None:
    """What an inbound keyword does to the pair's opt-out (rule M7), which is ``opted_out``: an
    opt-out keyword opts the guest out of the owner number, an opt-in keyword opts them back in,
    HELP (and a keyword that repeats the state) changes nothing. The event says the new state
    (``GuestOptedOut``: opted out)."""
    if keyword is Keyword.OPT_OUT and not opted_out:
        return GuestOptedOut(thread_id, now, owner_number, guest_number, message_id)
    if keyword is Keyword.OPT_IN and opted_out:
        return GuestOptedIn(thread_id, now, owner_number, guest_number, message_id)
    return None


def replayed(
    original: Message,
    direction: Direction,
    body: str,
    author: str | None,
    owner_number: str | None,
    guest_number: str | None,
    thread_id: str | None,
) -> Message:
    """``original`` (the message first stored with a carrier's id) if this call repeats it (rule
    R15): same direction, pair or thread, author and body (a deleted original's body is gone, so
    any body matches it); else :class:`IdempotencyConflict`."""
    inbound = original.direction is Direction.INBOUND
    same = (
        original.direction is direction
        and (original.author.extension_id if original.author else None) == author
        and (original.body == body or original.availability is not Availability.ALIVE)
        and (thread_id is None or original.thread_id == thread_id)
        and (
            owner_number is None
            or owner_number == (original.to_number if inbound else original.from_number)
        )
        and (
            guest_number is None
            or guest_number == (original.from_number if inbound else original.to_number)
        )
    )
    if not same:
        raise IdempotencyConflict(
            f"Provider message id [{original.provider_message_id}] was already used for "
            "another message",
            parameter="provider_message_id",
        )
    return original
