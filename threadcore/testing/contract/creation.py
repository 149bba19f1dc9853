"""The contracts of the ``CreationClaims`` capability (rule Q2: thread creation serialised, and
never dated before a thread already committed) and of ``CreationTies`` (what a command dated at
the store's latest instant must sort after)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from threadcore.domain.model import DeliveryStatus
from threadcore.ports import CreationClaims, CreationTies, Repository, require
from threadcore.testing.contract._base import T0, ContractBase, _message, _note, _thread


class CreationClaimsContract(ContractBase):
    """:class:`~threadcore.ports.CreationClaims`: for an adapter whose writers run at once and
    that keeps rule Q2 by serialising creation (the bundled PostgreSQL one makes a walk's pages
    wait instead, since issue 24); one that serialises every writer need not offer it."""

    def test_claim_creation_reads_the_latest_instant_recorded(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            assert require(uow, CreationClaims).claim_creation() is None  # nothing stored yet
        later = T0 + timedelta(hours=1)
        self.store(repo, _thread("a", "+16502240001", T0), _thread("b", "+16502240002", later))
        with repo.unit_of_work() as uow:
            uow.claim(pair=("+12092480001", "+16502240003"))
            found = require(uow, CreationClaims).claim_creation()
            assert found is not None and found >= later
            assert require(uow, CreationClaims).claim_creation() == found  # taken once, kept


class CreationTiesContract(ContractBase):
    """:class:`~threadcore.ports.CreationTies`: the greatest id of a walked record created at an
    instant, which a command dated at it must sort after (rule Q2). Every bundled adapter
    offers it."""

    def test_last_id_at_reads_the_greatest_id_created_at_the_instant(
        self, repo: Repository
    ) -> None:
        with repo.unit_of_work() as uow:
            assert require(uow, CreationTies).last_id_at(T0) is None  # nothing stored yet
        later = T0 + timedelta(seconds=1)
        b, b_first = _thread("b", "+16502240002", T0)
        self.store(repo, (b, b_first), _thread("a", "+16502240001", T0))
        self.store(repo, _thread("c", "+16502240003", later))
        with repo.unit_of_work() as uow:
            uow.save_note(_note("c-n", b, later), 0)
            uow.add_message(_message("z-draft", b, later, status=DeliveryStatus.DRAFT))
        with repo.unit_of_work() as uow:
            ties = require(uow, CreationTies)
            # at T0: threads a and b, messages a-m1 and b-m1, though later ones are stored
            assert ties.last_id_at(T0) == "b-m1"
            # above the thread c at that instant; a draft is not walked, and does not count
            assert ties.last_id_at(later) == "c-n"
            assert ties.last_id_at(T0 + timedelta(microseconds=1)) is None
            assert ties.last_id_at(T0 - timedelta(microseconds=1)) is None
        last = later + timedelta(seconds=1)
        x, first = _thread("x", "+16502240004", last)
        self.store(repo, (x, attrs.evolve(first, id="m")))  # a thread whose id sorts last
        with repo.unit_of_work() as uow:
            assert require(uow, CreationTies).last_id_at(last) == "x"
        with repo.unit_of_work() as uow:  # a change of an older record creates nothing
            stored = uow.thread("b")
            assert stored is not None
            uow.save_thread(attrs.evolve(stored, label="changed", version=stored.version + 1),
                            stored.version)  # fmt: skip
        with repo.unit_of_work() as uow:
            assert require(uow, CreationTies).last_id_at(last) == "x"
            assert require(uow, CreationTies).last_id_at(later) == "c-n"
