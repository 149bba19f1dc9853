"""Every error threadcore raises on purpose: one root, :class:`ThreadcoreError`, and its
subclasses, each with a stable ``code``, an HTTP-like ``status``, whether it is ``retryable``, and
the ``parameter`` (spelled as the platform spells it) when one input is at fault.

    from threadcore.errors import ThreadNotFound, ThreadNotOpen

The list is kept once, in :mod:`threadcore.domain.errors`. ``ThreadDeleted`` and ``NoteDeleted``
are events' names (:mod:`threadcore.events`): the errors are :class:`ThreadDeletedError` and
:class:`NoteDeletedError` (their ``code`` is still ``ThreadDeleted`` and ``NoteDeleted``); the
old names work here for one release, with a ``DeprecationWarning``.
"""

from threadcore._moved import deprecated_names
from threadcore.domain.errors import *  # noqa: F403 (the list is kept once, in the domain)
from threadcore.domain.errors import __all__ as __all__

__getattr__ = deprecated_names(
    "threadcore.errors",
    {
        "NoteDeleted": ("threadcore.errors", "NoteDeletedError"),
        "ThreadDeleted": ("threadcore.errors", "ThreadDeletedError"),
    },
)
