"""Files a message or draft carries (issue 25, rule M8): an :class:`Upload` given among the
attachments becomes the URL that names its bytes, and the bytes go into the command's own unit of
work, so they are stored with the message that carries them or not at all; and a stored file's
bytes read back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from threadcore.domain.attachments import Upload, parse_stored
from threadcore.domain.errors import InvalidInput, NotFound
from threadcore.domain.events import Event
from threadcore.inbox._spine import R, Spine
from threadcore.inbox.queries import message
from threadcore.ports import AttachmentStore, AttachmentWrites, UnitOfWork, offers

__all__ = ["attachment_content", "uploads_of", "with_files"]

Work = Callable[[UnitOfWork, list[Event], datetime], R]


def _no_files(capability: type) -> InvalidInput:
    # (InvalidInput, not Unsupported: the caller can send without files; docs/rules.md M8)
    return InvalidInput(
        f"This inbox's repository stores no attachments (it does not offer "
        f"{capability.__name__}): send the message without files",
        parameter="attachments",
    )


def uploads_of(attachments: object) -> tuple[object, tuple[Upload, ...]]:
    """``attachments`` with each :class:`Upload` in it replaced by its URL (checked), and the
    uploads; anything else is left for the URL checks."""
    if isinstance(attachments, str | bytes) or not isinstance(attachments, Iterable):
        return attachments, ()
    items = tuple(attachments)
    if not any(isinstance(item, Upload) for item in items):
        return items, ()
    uploads = tuple(
        item.checked(index) for index, item in enumerate(items) if isinstance(item, Upload)
    )
    files = iter(uploads)
    return tuple(next(files).url if isinstance(i, Upload) else i for i in items), uploads


def with_files(self: Spine, work: Work[R], uploads: tuple[Upload, ...]) -> Work[R]:
    """``work``, storing ``uploads`` in its unit of work once it has written what carries them
    (a refused command stores nothing); a repository that keeps no files refuses them."""
    if not uploads:
        return work
    if not offers(self._repo, AttachmentStore):
        raise _no_files(AttachmentStore)

    def run(uow: UnitOfWork, events: list[Event], now: datetime) -> R:
        files: object = uow
        if not offers(files, AttachmentWrites):
            raise _no_files(AttachmentWrites)
        result = work(uow, events, now)
        for upload in uploads:
            files.add_attachment(upload.content)
        return result

    return run


def attachment_content(self: Spine, message_id: str, index: int, *, actor: str) -> bytes:
    """The bytes of the stored file the attachment at ``index`` (0 for the first) of message
    ``message_id`` names, if ``actor`` handles its thread's resource
    (:class:`~threadcore.errors.MessageNotFound` otherwise). A message without that attachment,
    an attachment that is no stored file (a carrier's media URL: fetch it from there) or one
    whose message was deleted is :class:`~threadcore.errors.NotFound`."""
    found = message(self, message_id, actor=actor)
    if not isinstance(index, int) or isinstance(index, bool):
        raise InvalidInput("Parameter [index] must be an integer", parameter="index")
    stored = parse_stored(found.attachments[index]) if 0 <= index < len(found.attachments) else None
    repository = self._repo
    content = (
        repository.attachment(stored.key)
        if stored is not None and offers(repository, AttachmentStore)
        else None
    )
    if content is None:
        raise NotFound(f"Attachment [{index}] of message [{message_id[:64]}] not found")
    return content
