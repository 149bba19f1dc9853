"""The contract of the ``CreationClaims`` capability (rule Q2): thread creation serialised, and
never dated before a thread already committed."""

from __future__ import annotations

from datetime import timedelta

from threadcore.ports import CreationClaims, Repository, require
from threadcore.testing.contract._base import T0, ContractBase, _thread


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
