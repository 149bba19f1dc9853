"""The contract of the ``DirectoryRecords`` capability: the directory stored with the threads."""

from __future__ import annotations

import pytest

from threadcore.domain.model import Handler, Resource
from threadcore.ports import Repository
from threadcore.testing.contract._base import ContractBase, records

_BILLING = Resource(
    "6249888001",
    name="Billing Queue",
    phone_numbers=["+12092480001", "+12092480002"],
    handlers=["101", Handler("102", name="Ann Lee")],
)
_SUPPORT = Resource("6249888002", extension_type="IvrMenu", phone_numbers=["+12092480003"])


class DirectoryRecordsContract(ContractBase):
    """Resources stored whole and in the order they were first stored; a stamp that every
    committed change replaces and nothing else does; changes undone with their unit of work."""

    def stamp(self, repo: Repository) -> int:
        with repo.unit_of_work() as uow:
            return records(uow).directory_version()

    def stored(self, repo: Repository) -> list[Resource]:
        with repo.unit_of_work() as uow:
            return records(uow).directory_resources()

    def test_an_empty_directory_has_stamp_zero(self, repo: Repository) -> None:
        assert self.stamp(repo) == 0
        assert self.stored(repo) == []

    def test_resources_come_back_whole_in_the_order_first_stored(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            records(uow).save_resource(_SUPPORT)
            records(uow).save_resource(_BILLING)
        assert self.stored(repo) == [_SUPPORT, _BILLING]
        changed = Resource(_SUPPORT.extension_id, name="Support", handlers=["201"])
        with repo.unit_of_work() as uow:
            records(uow).save_resource(changed)  # a new state keeps its place
        assert self.stored(repo) == [changed, _BILLING]
        with repo.unit_of_work() as uow:
            records(uow).delete_resource(changed.extension_id)
        assert self.stored(repo) == [_BILLING]
        with repo.unit_of_work() as uow:
            records(uow).save_resource(changed)  # stored again after its removal: last
        assert self.stored(repo) == [_BILLING, changed]

    def test_every_committed_change_gives_a_new_stamp(self, repo: Repository) -> None:
        seen = {self.stamp(repo)}
        for removed in (False, False, True):  # the same state twice gets a new stamp too
            with repo.unit_of_work() as uow:
                if removed:
                    records(uow).delete_resource(_BILLING.extension_id)
                else:
                    records(uow).save_resource(_BILLING)
            stamp = self.stamp(repo)
            assert stamp not in seen
            seen.add(stamp)
        with repo.unit_of_work() as uow:
            uow.thread("nothing")  # a unit of work that changes nothing keeps the stamp
        assert self.stamp(repo) == stamp

    def test_a_change_is_undone_with_its_unit_of_work(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            records(uow).save_resource(_BILLING)
        stamp = self.stamp(repo)
        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            records(uow).save_resource(_SUPPORT)
            records(uow).delete_resource(_BILLING.extension_id)
            raise RuntimeError("the command failed")
        assert self.stored(repo) == [_BILLING]
        assert self.stamp(repo) == stamp

    def test_the_stamp_is_read_with_a_directory_claim(self, repo: Repository) -> None:
        with repo.unit_of_work() as uow:
            records(uow).save_resource(_BILLING)
        stamp = self.stamp(repo)
        for access in ("read", "change"):
            with repo.unit_of_work() as uow:
                uow.claim(directory=access)
                assert records(uow).directory_version() == stamp
                assert records(uow).directory_resources() == [_BILLING]
