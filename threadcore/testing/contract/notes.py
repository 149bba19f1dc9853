"""Part of the contract of the ``Queries`` capability: finds of notes (and their round trips)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from threadcore.domain.errors import ConcurrencyConflict
from threadcore.domain.events import NoteAdded
from threadcore.domain.model import Availability
from threadcore.ports import NoteQuery, Repository
from threadcore.testing.contract._base import (
    Q1,
    Q2,
    T0,
    ContractBase,
    _messages_query,
    _note,
    _thread,
    found_ids,
    queries,
)


class NoteQueriesContract(ContractBase):
    """:class:`~threadcore.ports.Queries` of notes, and notes' round trips, versioned updates,
    finds that filter, order and page."""

    def test_notes_round_trip_and_updates_are_versioned(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        note = _note("n1", thread, T0, "call back \u00e9\U0001f4a9")
        with repo.unit_of_work() as uow:
            uow.save_note(note, 0)
            uow.append_events([NoteAdded("t1", T0, "n1", "101")])
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == note
            assert uow.note("missing") is None
            assert uow.messages("t1") == [first]  # notes are not messages
        later = T0 + timedelta(minutes=1)
        edited = attrs.evolve(note, text="called", last_modified_time=later, version=2)
        with repo.unit_of_work() as uow:
            uow.save_note(edited, 1)
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == edited
        for expected in (1, 3):
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_note(attrs.evolve(edited, text="stale", version=expected + 1), expected)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_note(_note("n1", thread, T0, "a second n1"), 0)  # the id is taken
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_note(_note("n9", thread, T0), 1)  # never stored
        with repo.unit_of_work() as uow:
            assert uow.note("n1") == edited
            assert uow.note("n9") is None

    def test_find_notes_filters_orders_and_pages(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)
        c, mc = _thread("c", "+16502240003", T0, owner=Q2)
        self.store(repo, (a, ma), (c, mc))
        at = T0 + timedelta(minutes=1)
        notes = [
            _note("n2", a, at),
            _note("n1", c, at),  # same instant: the id breaks the tie
            _note("n0", a, at + timedelta(minutes=1)),
            attrs.evolve(_note("n3", a, T0), text="", availability=Availability.DELETED),
        ]
        self.add(repo, *notes)

        def ids(limit: int = 50, **overrides: Any) -> list[str]:
            with repo.unit_of_work() as uow:
                return found_ids(
                    queries(uow).find_notes,
                    queries(uow).count_notes,
                    NoteQuery(**{"owner_extension_ids": frozenset({Q1, Q2}), **overrides}),
                    limit,
                )

        assert ids() == ["n1", "n2", "n0"]
        assert ids(availability=frozenset({Availability.DELETED})) == ["n3"]
        assert ids(availability=frozenset(Availability)) == ["n3", "n1", "n2", "n0"]
        assert ids(owner_extension_ids=frozenset({Q1})) == ["n2", "n0"]
        assert ids(owner_extension_ids=frozenset({Q2})) == ["n1"]
        assert ids(owner_extension_ids=frozenset()) == []
        assert ids(thread_ids=frozenset({"c", "nope"})) == ["n1"]
        assert ids(thread_ids=frozenset()) == []
        assert ids(note_ids=frozenset({"n0", "n1"})) == ["n1", "n0"]
        assert ids(note_ids=frozenset()) == []
        assert ids(limit=2) == ["n1", "n2"]
        assert ids(limit=0) == []
        assert ids(after=(at, "n1")) == ["n2", "n0"]
        assert ids(after=(at, "n2"), limit=1) == ["n0"]
        with repo.unit_of_work() as uow:
            assert uow.note("n3") == notes[3]
            assert (
                queries(uow).find_messages(_messages_query(message_ids=frozenset({"n1"})), 9) == []
            )
