"""The stateful property test: the real ``Inbox`` and the reference model, side by side.

:class:`InboxMachine` drives both with random receive / send / assign / resolve / delete / expire /
clock / directory steps over a few resources, handlers and numbers, and delivery callbacks,
classifications, message deletion, drafts, notes, opt-out keywords, batches, listeners, message
and note lists and entries syncs; it compares every result, every error code and every emitted
event (in order, with its payload), and checks every invariant after every step. It is shipped in
the package so that every repository adapter (and an integrator's own) runs the same machine::

    class SQLiteMachine(InboxMachine):
        def make_repository(self) -> Repository:
            return SQLiteRepository(path)

    TestSQLite = SQLiteMachine.TestCase

Its parts live by area in :mod:`threadcore.testing.machine` (the spine in ``_base``, then one
module of rules per area, and the invariants); the world it draws from is in
:mod:`threadcore.testing.strategies`, the model in :mod:`threadcore.testing.model`.
"""

from __future__ import annotations

from threadcore.testing.machine.drafts_notes import DraftAndNoteRules
from threadcore.testing.machine.invariants import Invariants
from threadcore.testing.machine.messages import MessageRules
from threadcore.testing.machine.queries import QueryRules
from threadcore.testing.machine.sync import SyncRules
from threadcore.testing.machine.threads import ThreadRules

__all__ = ["InboxMachine"]


class InboxMachine(MessageRules, ThreadRules, QueryRules, SyncRules, DraftAndNoteRules, Invariants):
    """Random commands on the real inbox and on the reference model, compared step by step.

    Override :meth:`make_repository` to run the machine against another adapter, and
    :meth:`reopen` to close and reopen durable storage between steps.
    """
