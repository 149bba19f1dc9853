"""Every bundled repository passes the shared contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadcore import InMemoryRepository, SQLiteRepository
from threadcore.ports import Repository
from threadcore.testing.contract import (
    ClockStoreContract,
    ConsumerStoreContract,
    ReadinessCheckContract,
    RepositoryContract,
)


class TestInMemoryContract(
    RepositoryContract, ConsumerStoreContract, ClockStoreContract, ReadinessCheckContract
):
    def make_repository(self) -> Repository:
        return InMemoryRepository()


class TestSQLiteContract(
    RepositoryContract, ConsumerStoreContract, ClockStoreContract, ReadinessCheckContract
):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "threads.db"

    def make_repository(self) -> Repository:
        return SQLiteRepository(self.path)
