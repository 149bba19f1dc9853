"""One error root for everything threadcore refuses.

Every class has a stable string ``code`` and an HTTP-like ``status`` so an embedding service can map
an error to a response without a lookup table. Messages use the platform's words where it has them.
"""

from __future__ import annotations

import re
from typing import ClassVar

__all__ = [
    "AssigneeNotHandler",
    "ClockMismatch",
    "ConcurrencyConflict",
    "Conflict",
    "DraftNotFound",
    "IdempotencyConflict",
    "ImpossibleStatusChange",
    "InvalidInput",
    "InvalidPageToken",
    "InvalidSyncToken",
    "MessageNotFound",
    "MethodNotAllowed",
    "NestedUnitOfWork",
    "NotAssignee",
    "NotAuthor",
    "NotFound",
    "NotPermitted",
    "NoteDeletedError",
    "NoteNotFound",
    "OutcomeUnknown",
    "PhoneNumberInUse",
    "RecipientOptedOut",
    "RequestTooLarge",
    "ResourceExists",
    "ResourceNotFound",
    "SchemaVersionError",
    "StorageError",
    "ThreadDeletedError",
    "ThreadNotFound",
    "ThreadNotOpen",
    "ThreadUnassigned",
    "ThreadcoreError",
    "Unauthenticated",
    "UnknownPhoneNumber",
    "UnsupportedMediaType",
    "Unsupported",
    "WireFormatError",
]


#: A snake_case parameter name as messages name one: ``Parameter [per_page]`` (only after the word
#: "Parameter": other brackets hold the caller's own values, such as ids, which stay as given).
_PARAMETER_IN_TEXT = re.compile(r"(?<=[Pp]arameter \[)([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?=\])")


def platform_name(name: str) -> str:
    """``name`` as the platform spells parameters: ``creation_time_from`` is
    ``creationTimeFrom``; a name with no underscore is unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class ThreadcoreError(Exception):
    """**Root** of every error threadcore raises on purpose.

    ``code`` is a stable machine-readable string (the class's name, unless the class sets
    another), ``status`` an HTTP-like status, ``message`` a sentence for people and
    ``parameter`` the offending input's name when there is one.
    """

    #: The class's name unless the class says otherwise, for the errors of this module (set by
    #: ``__init_subclass__``, so the list is written once); any other subclass that names no
    #: ``code`` answers its parent's, as before 1.0 (an embedder's ``MyNotFound(ThreadNotFound)``
    #: is still ``ThreadNotFound`` on the wire).
    code: ClassVar[str] = "ThreadcoreError"
    status: ClassVar[int] = 500
    #: Whether the same call may be made again unchanged: it changed nothing and may succeed
    #: later, or (an :class:`OutcomeUnknown` of a call that cannot be done twice) a repeat is
    #: safe. Set by the class, or by an instance where it depends on the call.
    retryable: bool = False
    #: Whether ``parameter`` (and a ``[name]`` in the message) is spelled as the platform spells
    #: parameters; a wire error names a field of a document as that document spells it.
    platform_names: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__ and cls.__module__ == __name__:
            cls.code = cls.__name__

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        # One convention for the names callers see: the platform's (camelCase), wherever the
        # error was raised (``per_page`` is ``perPage``, ``thread_id`` is ``threadId``).
        if self.platform_names:
            if "arameter [" in message:  # most messages name no parameter: skip the regex
                message = _PARAMETER_IN_TEXT.sub(lambda m: platform_name(m[1]), message)
            parameter = None if parameter is None else platform_name(parameter)
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


# --- 422: the input itself is wrong -------------------------------------------------------------
class InvalidInput(ThreadcoreError, ValueError):
    """An argument is malformed: a bad phone number, an empty body, a naive datetime, a wrong
    type."""

    status = 422


class InvalidSyncToken(InvalidInput):
    """A sync token was tampered with, issued to someone else, malformed or too old, or more
    changed since it was issued than one answer may carry: do a full sync (FSync)."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Parameter [syncToken] is invalid: {reason}; do a full sync (FSync) and use the "
            "token it returns",
            parameter="syncToken",
        )
        self.reason = reason


class InvalidPageToken(InvalidInput):
    """A page token was tampered with, malformed, or used with another filter or actor."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Parameter [pageToken] is invalid: {reason}; start again from the first page",
            parameter="pageToken",
        )
        self.reason = reason


class AssigneeNotHandler(InvalidInput):
    """The proposed assignee is not an SMS handler of the thread's resource."""


class RequestTooLarge(InvalidInput):
    """A request (a body, an upload, a list of attachments) is larger than the service takes:
    send less, or several requests."""

    status = 413


class UnsupportedMediaType(InvalidInput):
    """A request body is in a media type the operation does not take (the message says which
    it takes)."""

    status = 415


class MethodNotAllowed(InvalidInput):
    """The path exists, but not with this HTTP method (the message names the ones it takes)."""

    status = 405


class Unauthenticated(ThreadcoreError):
    """The request carries no bearer token, or one the service does not know: sign in again
    (``Authorization: Bearer <token>``)."""

    status = 401


# --- 404: it does not exist (or the caller may not know it does) --------------------------------
class NotFound(ThreadcoreError, LookupError):
    """Something named by id or number does not exist, or is not the caller's to see."""

    status = 404


class ThreadNotFound(NotFound):
    """No thread with this id exists among the threads the actor may see."""


class UnknownPhoneNumber(NotFound):
    """The owner phone number belongs to no resource in the directory."""


class MessageNotFound(NotFound):
    """No such message, or it belongs to a thread the actor does not handle (a draft is not a
    message)."""


class NoteNotFound(NotFound):
    """No such note, or it belongs to a thread the actor does not handle."""


class DraftNotFound(NotFound):
    """No such draft: never saved, already sent or discarded, or not the actor's to see."""


class ResourceNotFound(NotFound):
    """No resource (common resource such as a call queue) has this extension id."""


# --- 403: it exists, but the actor may not do this ----------------------------------------------
class NotPermitted(ThreadcoreError):
    """The actor may not perform this action."""

    status = 403


class NotAssignee(NotPermitted):
    """Only the assignee of an open thread may send on it."""

    def __init__(self, actor: str) -> None:
        super().__init__(f"The thread is not assigned to extension [{actor}] at the moment.")
        self.actor = actor


class NotAuthor(NotPermitted):
    """Only a note's author may edit or delete it."""


# --- 409 / 410: the state does not allow it -----------------------------------------------------
class Conflict(ThreadcoreError):
    """The current state does not allow the command."""

    status = 409


class ThreadNotOpen(Conflict):
    """The thread is resolved (by a handler, by expiry or by a directory change); it is final."""


class ThreadUnassigned(Conflict):
    """The open thread has no assignee; someone must take it before sending on it."""


class ThreadDeletedError(Conflict):
    """The thread was deleted; only its tombstone remains (``code`` ``ThreadDeleted``; the
    event of the deletion is :class:`threadcore.events.ThreadDeleted`)."""

    code = "ThreadDeleted"
    status = 410


class NoteDeletedError(Conflict):
    """The note was deleted; a deleted note cannot be edited (``code`` ``NoteDeleted``; the
    event of the deletion is :class:`threadcore.events.NoteDeleted`)."""

    code = "NoteDeleted"
    status = 410


class RecipientOptedOut(Conflict):
    """The guest texted an opt-out keyword to this owner number: nothing may be sent to them
    from it until they opt back in."""


class ImpossibleStatusChange(Conflict):
    """A delivery status that cannot follow the message's current one (a failed send reported
    delivered, a delivered message reported failed, a status for an inbound message)."""


class IdempotencyConflict(Conflict):
    """A provider message id was used before for a different message."""


class ResourceExists(Conflict):
    """A resource with this extension id is already in the directory."""


class PhoneNumberInUse(Conflict):
    """The phone number already belongs to another resource."""


class ClockMismatch(Conflict):
    """The process's clock and the database's time disagree: a process on the system clock (or
    its own in-process clock) opened a database whose manual clock is stored in it, or a
    process on the stored clock found the database returned to the system clock (issue 25,
    rule R18c). Run with ``--manual-clock`` (``open_inbox(manual_clock=True)``), or return the
    database to the system clock with ``threadcore clock system --db URL``."""


class ConcurrencyConflict(Conflict):
    """Concurrent writers kept changing the same threads; the library's bounded retries ran out.
    Nothing changed and the same call may succeed later: it is retryable, and its status is
    503 (carriers retry a 503, not a 409)."""

    status = 503
    retryable = True


# --- 503: storage ---------------------------------------------------------------------------------
class StorageError(ThreadcoreError):
    """The storage failed or refused (a driver error, translated: none escapes threadcore)."""

    status = 503
    retryable = True


class ConnectionLost(StorageError):
    """Internal: a unit of work lost its database connection before anything of it was sent for
    commit, so the server rolled it back and nothing of it was stored. The facade runs the
    command again, once, on a fresh connection (rule D3); a caller that sees it anyway (a read,
    or a second loss) sees a :class:`StorageError`, as its ``code`` says."""

    code = StorageError.code


class OutcomeUnknown(StorageError):
    """The connection to the database was lost while the command's commit was on its way: the
    command may or may not have been stored, and threadcore cannot tell which.

    ``retryable`` only where making the same call again cannot do it twice (a ``receive`` or
    ``send`` with a provider message id, rule R15; a delivery report; a carrier id attached):
    the repeat then answers what the first call stored, or stores it now. Elsewhere look before
    repeating (read the thread, or the event feed from your last position)."""

    retryable = False

    def __init__(self, message: str | None = None, *, retryable: bool = False) -> None:
        if message is None:
            message = (
                "The connection to the database was lost while the command was committed: it "
                "may or may not have been stored. "
                + (
                    "Repeat the same call unchanged: a repeat cannot store it twice"
                    if retryable
                    else "Look before repeating it (read the thread, or the event feed from "
                    "your last position): a blind repeat may do it twice"
                )
            )
        super().__init__(message)
        self.retryable = retryable


class Unsupported(ThreadcoreError):
    """The repository lacks a capability the call needs (issue 23: the storage port is layered
    by capability, and an adapter may offer only the core and some of them). ``capability``
    names the missing one (``"Queries"``, ``"ChangeFeed"``, ...); nothing was changed."""

    status = 501
    #: The missing capability's name (empty on one rebuilt from a wire error body: the message
    #: names it there).
    capability: str = ""

    def __init__(self, message: str, *, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


class SchemaVersionError(StorageError):
    """The database's schema is not this threadcore's version: written by a newer threadcore
    (upgrade threadcore to open it), or, opened without migrating (``create_schema=False``, a
    URL's ``migrate=off``), missing or older (run ``threadcore db upgrade`` first)."""

    retryable = False


# --- 422: a JSON document does not have the shape threadcore.wire expects ------------------------
class NestedUnitOfWork(ThreadcoreError):
    """A unit of work was begun while another was open in the same thread. Every adapter
    refuses it alike (one transaction per thread): group commands with ``batch()`` instead, or
    run them one after the other. A mistake in the calling code, not in the data."""

    status = 500

    def __init__(
        self,
        message: str = (
            "A unit of work is already open in this thread: group commands with batch(), or run "
            "them one after the other"
        ),
    ) -> None:
        super().__init__(message)


class WireFormatError(InvalidInput):
    """A JSON document given to a ``threadcore.wire.load_*`` function (or a record given to a
    ``dump_*`` function) does not fit the shape: a wrong type, an unknown enum value, a bad time,
    a missing required field, a string too long. ``parameter`` is the offending field's path in
    the document's own names, e.g. ``records[0].creationTime``."""

    platform_names = False
