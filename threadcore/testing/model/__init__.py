"""A deliberately simple reference model of the thread rules, for the stateful property test.

It shares no code with :mod:`threadcore.domain`: plain dataclasses, plain strings and the rules of
``docs/rules.md`` written as directly as possible. Every operation returns either ``Ok(value,
events)`` or ``Err(code)``; the machine compares that with what the real ``Inbox`` did.

Ids of new threads, messages, drafts and notes come from the real inbox (the model cannot guess
them): the machine passes them in, after checking that the real inbox made something new exactly
when the model says it should.

The entries timeline is kept as directly: every message, note and hint carries the ``tick`` of
its last change (a counter the model bumps on every change), and an incremental entries sync since
a token is "every entry whose tick is later than the token's". A thread's expiry happens when the
clock reaches its due instant (:meth:`Model.set_now`), whether or not anything writes it.

The model by area: its records and spine in ``_base``, then messages (and drafts), threads,
notes, queries and the directory, composed here into :class:`Model`.
"""

from threadcore.testing.model._base import (
    Err,
    MContent,
    MDraft,
    MEvent,
    MHint,
    MMessage,
    MNote,
    MResource,
    MThread,
    Ok,
    ev,
    keyword_of,
)
from threadcore.testing.model.directory import DirectoryModel
from threadcore.testing.model.messages import MessageModel, MSend
from threadcore.testing.model.notes import NoteModel
from threadcore.testing.model.queries import MScope, QueryModel
from threadcore.testing.model.threads import ThreadModel

__all__ = [
    "Err",
    "MContent",
    "MDraft",
    "MEvent",
    "MHint",
    "MMessage",
    "MNote",
    "MResource",
    "MScope",
    "MSend",
    "MThread",
    "Model",
    "Ok",
    "ev",
    "keyword_of",
]


class Model(MessageModel, ThreadModel, NoteModel, QueryModel, DirectoryModel):
    """The reference model: a directory, threads in a dict, and the current time."""
