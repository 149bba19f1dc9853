"""Files a message or draft carries (issue 25, rule M8): an :class:`Upload` given among the
attachments becomes the URL that names its bytes, and the bytes go into the command's own unit of
work, so they are stored with the message that carries them or not at all; and a stored file's
bytes read back."""

from __future__ import annotations

from collections.abc import Iterable

from threadcore.domain.attachments import Upload, parse_stored
from threadcore.domain.errors import InvalidInput, NotFound
from threadcore.inbox._spine import Spine
from threadcore.inbox.handlers._load import no_files
from threadcore.inbox.queries import message
from threadcore.ports import AttachmentStore, offers

__all__ = ["attachment_content", "stores_files", "uploads_of"]


def uploads_of(attachments: object) -> tuple[object, tuple[Upload, ...]]:
    """``attachments`` with each :class:`Upload` in it replaced by its URL (checked), and the
    uploads; anything else is left for the URL checks (the files are stored by the handler,
    :func:`threadcore.inbox.handlers._load.store_files`)."""
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


def stores_files(self: Spine, uploads: tuple[Upload, ...]) -> tuple[Upload, ...]:
    """``uploads``, if this inbox's repository keeps files (the attachments capability); a
    repository that keeps none refuses them."""
    if uploads and not offers(self._repo, AttachmentStore):
        raise no_files(AttachmentStore)
    return uploads


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
    content = None
    if stored is not None and offers(repository, AttachmentStore):
        content = repository.attachment(stored.key)
    if content is None:
        raise NotFound(f"Attachment [{index}] of message [{message_id[:64]}] not found")
    return content
