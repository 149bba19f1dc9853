"""What handlers load before the domain decides: a thread as an actor sees it, a message, a
draft, a note, a number's resource, the message a carrier's id names; and the files a command
stores with what carries them."""

from __future__ import annotations

from threadcore.domain import messaging
from threadcore.domain import transitions as tx
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import (
    DraftNotFound,
    InvalidInput,
    MessageNotFound,
    NoteNotFound,
    NotFound,
    ThreadNotFound,
    UnknownPhoneNumber,
)
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Message,
    Note,
    Resource,
    Thread,
)
from threadcore.inbox._runner import Context, rely_on
from threadcore.ports import AttachmentWrites, DirectoryPort, UnitOfWork, offers

__all__ = [
    "as_record",
    "check_files",
    "draft",
    "existing_message",
    "handled_number",
    "no_files",
    "note",
    "owner_of",
    "replay",
    "store_files",
    "thread_for",
    "visible",
    "visible_as",
]

_DRAFT, _ALIVE = DeliveryStatus.DRAFT, Availability.ALIVE


def thread_for(
    uow: UnitOfWork, directory: DirectoryPort, thread_id: object, actor: str | None
) -> tuple[Thread, Resource]:
    """The stored thread and its resource, if ``actor`` handles SMS for that resource (else
    the thread does not exist for them: ``ThreadNotFound``, so ids cannot be probed, R14);
    ``None`` (the system, an automation) reaches every thread whose resource exists. The one
    visibility rule of commands and reads."""
    if not isinstance(thread_id, str):
        raise InvalidInput(
            f"Parameter [thread_id] must be a string, not {type(thread_id).__name__}",
            parameter="thread_id",
        )
    thread = uow.thread(thread_id)
    resource = None if thread is None else directory.resource(thread.owner.extension_id)
    if thread is None or resource is None or (actor is not None and not resource.is_handler(actor)):
        raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
    return thread, resource


def as_record(error: type[NotFound], record_id: str) -> NotFound:
    """The refusal of a record (a message, a draft, a note) on a thread its caller cannot see."""
    return error(f"{error.__name__[:-8]} [{record_id[:64]}] not found")


def visible(ctx: Context, thread_id: object, actor: str | None) -> tuple[Thread, Resource]:
    """:func:`thread_for` in a command, which relies on the thread (:func:`rely_on`); ``None``
    (the system, an automation) reaches every thread whose resource exists."""
    thread, resource = thread_for(ctx.uow, ctx.directory, thread_id, actor)
    rely_on(ctx, thread)
    return thread, resource


def visible_as(
    ctx: Context, thread_id: str, actor: str, error: type[NotFound], record_id: str
) -> tuple[Thread, Resource]:
    """Like :func:`visible` for a record on the thread: invisible is ``error``."""
    try:
        return visible(ctx, thread_id, actor)
    except ThreadNotFound:
        raise as_record(error, record_id) from None


def existing_message(uow: UnitOfWork, message_id: str) -> Message:
    """The stored message (not a draft) with this id, or ``MessageNotFound``."""
    message = uow.message(message_id)
    if message is None or message.status is _DRAFT:
        raise MessageNotFound(f"Message [{message_id}] not found")
    return message


def draft(
    ctx: Context, draft_id: str, actor: str | None
) -> tuple[Message, tuple[Thread, Resource] | None]:
    """The alive draft ``draft_id``, on a thread ``actor`` handles (``None``: any), and that
    thread with its resource as the check read them (``None`` when ``actor`` is: the caller
    reads it with :func:`visible` once its own checks are made)."""
    found = ctx.uow.message(draft_id)
    if found is None or found.status is not _DRAFT or found.availability is not _ALIVE:
        raise DraftNotFound(f"Draft [{draft_id}] not found")
    if actor is None:
        return found, None
    return found, visible_as(ctx, found.thread_id, actor, DraftNotFound, draft_id)


def note(ctx: Context, note_id: str, actor: str) -> tuple[Note, Thread]:
    """The note ``note_id`` on a thread ``actor`` handles, and its thread as it is now."""
    found = ctx.uow.note(note_id)
    if found is None:
        raise NoteNotFound(f"Note [{note_id}] not found")
    stored, _ = visible_as(ctx, found.thread_id, actor, NoteNotFound, note_id)
    return found, tx.effective(stored, ctx.now, ctx.policy.ttl)


def handled_number(directory: DirectoryPort, number: str, actor: str) -> Resource:
    """The resource of ``number`` if ``actor`` handles it. A number of a resource the actor
    does not handle answers exactly as an unknown number, so numbers cannot be probed
    (rules R4, R14)."""
    resource = directory.resource_for_number(number)
    if resource is None or not resource.is_handler(actor):
        raise UnknownPhoneNumber(
            f"Phone number [{number}] is not a number of any resource extension [{actor}] handles"
        )
    return resource


def owner_of(directory: DirectoryPort, number: str) -> Resource:
    """The resource that owns ``number``."""
    resource = directory.resource_for_number(number)
    if resource is None:
        raise UnknownPhoneNumber(f"Phone number [{number}] belongs to no resource")
    return resource


def replay(
    ctx: Context,
    provider_message_id: str | None,
    direction: Direction,
    body: str,
    author: str | None,
    owner: str | None,
    guest: str | None,
    thread_id: str | None,
) -> Message | None:
    """The message first stored with ``provider_message_id`` if this call repeats it (rule
    R15, :func:`threadcore.domain.messaging.replayed`); ``None`` for an unused id."""
    if provider_message_id is None:
        return None
    original = ctx.uow.message_by_provider_id(provider_message_id)
    if original is None:
        return None
    return messaging.replayed(original, direction, body, author, owner, guest, thread_id)


def no_files(capability: type) -> InvalidInput:
    """The refusal of files by a repository that stores none (``InvalidInput``, not
    ``Unsupported``: the caller can send without files; docs/rules.md M8)."""
    return InvalidInput(
        f"This inbox's repository stores no attachments (it does not offer "
        f"{capability.__name__}): send the message without files",
        parameter="attachments",
    )


def check_files(uow: UnitOfWork, uploads: tuple[Upload, ...]) -> None:
    """Refuse ``uploads`` before anything runs if ``uow`` cannot store files."""
    if uploads and not offers(uow, AttachmentWrites):
        raise no_files(AttachmentWrites)


def store_files(uow: UnitOfWork, uploads: tuple[Upload, ...]) -> None:
    """Store ``uploads`` in ``uow``, once the command has written what carries them (rule M8:
    a refused command stores nothing)."""
    if not uploads:
        return
    if not offers(uow, AttachmentWrites):
        raise no_files(AttachmentWrites)
    for upload in uploads:
        uow.add_attachment(upload.content)
