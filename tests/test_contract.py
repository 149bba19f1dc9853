"""Every bundled repository passes the shared contract suite."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from threadcore import InMemoryRepository, SQLiteRepository
from threadcore.adapters.memory import _MemoryUnitOfWork
from threadcore.ports import Repository
from threadcore.testing.contract import (
    ClockStoreContract,
    ConsumerStoreContract,
    CreationClaimsContract,
    CreationTiesContract,
    ReadinessCheckContract,
    RepositoryContract,
)


class TestInMemoryContract(
    RepositoryContract,
    ConsumerStoreContract,
    ClockStoreContract,
    ReadinessCheckContract,
    CreationTiesContract,
):
    def make_repository(self) -> Repository:
        return InMemoryRepository()


class TestSQLiteContract(
    RepositoryContract,
    ConsumerStoreContract,
    ClockStoreContract,
    ReadinessCheckContract,
    CreationTiesContract,
):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "threads.db"

    def make_repository(self) -> Repository:
        return SQLiteRepository(self.path)


class _SerialisedCreation(InMemoryRepository):
    """The in-memory store offering ``CreationClaims`` as an adapter that keeps rule Q2 by
    serialising thread creation would: memory already runs one writer at a time, so the claim's
    latest instant is the answer. (No bundled adapter offers it since issue 24; the contract is
    for third-party adapters that choose it.)"""

    def __init__(self) -> None:
        super().__init__()
        self._uow = _CreationUnitOfWork(self)


class _CreationUnitOfWork(_MemoryUnitOfWork):
    def claim_creation(self) -> datetime | None:
        return self.claim().floor


class TestCreationClaimsContract(CreationClaimsContract):
    def make_repository(self) -> Repository:
        return _SerialisedCreation()
