"""One error root for everything threadcore refuses.

Every class has a stable string ``code`` and an HTTP-like ``status`` so an embedding service can map
an error to a response without a lookup table. Messages use the platform's words where it has them.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AssigneeNotHandler",
    "ConcurrencyConflict",
    "Conflict",
    "IdempotencyConflict",
    "InvalidInput",
    "InvalidPageToken",
    "InvalidSyncToken",
    "NotAssignee",
    "NotFound",
    "NotPermitted",
    "PhoneNumberInUse",
    "ResourceExists",
    "ResourceNotFound",
    "SchemaVersionError",
    "StorageError",
    "ThreadDeleted",
    "ThreadNotFound",
    "ThreadNotOpen",
    "ThreadUnassigned",
    "ThreadcoreError",
    "UnknownPhoneNumber",
]


class ThreadcoreError(Exception):
    """**Root** of every error threadcore raises on purpose.

    ``code`` is a stable machine-readable string, ``status`` an HTTP-like status, ``message`` a
    sentence for people and ``parameter`` the offending input's name when there is one.
    """

    code: ClassVar[str] = "ThreadcoreError"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


# --- 422: the input itself is wrong -------------------------------------------------------------
class InvalidInput(ThreadcoreError, ValueError):
    """An argument is malformed: a bad phone number, an empty body, a naive datetime, a wrong
    type."""

    code = "InvalidInput"
    status = 422


class InvalidSyncToken(InvalidInput):
    """A sync token was tampered with, issued to someone else, malformed or too old, or more
    changed since it was issued than one answer may carry: do a full sync (FSync)."""

    code = "InvalidSyncToken"
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

    code = "InvalidPageToken"
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Parameter [pageToken] is invalid: {reason}; start again from the first page",
            parameter="pageToken",
        )
        self.reason = reason


class AssigneeNotHandler(InvalidInput):
    """The proposed assignee is not an SMS handler of the thread's resource."""

    code = "AssigneeNotHandler"


# --- 404: it does not exist (or the caller may not know it does) --------------------------------
class NotFound(ThreadcoreError, LookupError):
    """Something named by id or number does not exist, or is not the caller's to see."""

    code = "NotFound"
    status = 404


class ThreadNotFound(NotFound):
    """No thread with this id exists among the threads the actor may see."""

    code = "ThreadNotFound"


class UnknownPhoneNumber(NotFound):
    """The owner phone number belongs to no resource in the directory."""

    code = "UnknownPhoneNumber"


class ResourceNotFound(NotFound):
    """No resource (common resource such as a call queue) has this extension id."""

    code = "ResourceNotFound"


# --- 403: it exists, but the actor may not do this ----------------------------------------------
class NotPermitted(ThreadcoreError):
    """The actor may not perform this action."""

    code = "NotPermitted"
    status = 403


class NotAssignee(NotPermitted):
    """Only the assignee of an open thread may send on it."""

    code = "NotAssignee"

    def __init__(self, actor: str) -> None:
        super().__init__(f"The thread is not assigned to extension [{actor}] at the moment.")
        self.actor = actor


# --- 409 / 410: the state does not allow it -----------------------------------------------------
class Conflict(ThreadcoreError):
    """The current state does not allow the command."""

    code = "Conflict"
    status = 409


class ThreadNotOpen(Conflict):
    """The thread is resolved (by a handler, by expiry or by a directory change); it is final."""

    code = "ThreadNotOpen"


class ThreadUnassigned(Conflict):
    """The open thread has no assignee; someone must take it before sending on it."""

    code = "ThreadUnassigned"


class ThreadDeleted(Conflict):
    """The thread was deleted; only its tombstone remains."""

    code = "ThreadDeleted"
    status = 410


class IdempotencyConflict(Conflict):
    """A provider message id was used before for a different message."""

    code = "IdempotencyConflict"


class ResourceExists(Conflict):
    """A resource with this extension id is already in the directory."""

    code = "ResourceExists"


class PhoneNumberInUse(Conflict):
    """The phone number already belongs to another resource."""

    code = "PhoneNumberInUse"


class ConcurrencyConflict(Conflict):
    """Concurrent writers kept changing the same threads; the library's bounded retries ran out."""

    code = "ConcurrencyConflict"


# --- 503: storage ---------------------------------------------------------------------------------
class StorageError(ThreadcoreError):
    """The storage failed or refused (a driver error, translated: none escapes threadcore)."""

    code = "StorageError"
    status = 503


class SchemaVersionError(StorageError):
    """The database was written by a newer threadcore (its schema version is higher than this
    library knows); upgrade threadcore to open it."""

    code = "SchemaVersionError"
