"""The repository contract suite: what a :class:`~threadcore.storage.Repository` must do, one
shared test case per capability of the storage port (the eventsourcing pattern).

Subclass :class:`RepositoryContract` (every capability) in a test module and implement
``make_repository``; pytest collects the ``test_*`` methods (no class here starts with ``Test``,
so none is collected itself)::

    class TestMyRepository(RepositoryContract):
        def make_repository(self) -> Repository:
            return MyRepository(...)

An adapter that offers only some capabilities subclasses those contracts alone.
:class:`CoreContract` (the :class:`~threadcore.ports.UnitOfWork`: claims, a command's reads,
writes) is required of every adapter; :class:`QueriesContract` of every adapter that serves reads
besides commands; the rest are optional, and ``threadcore.ports.require`` raises
``Unsupported`` naming one where a call needs it: :class:`ChangeFeedContract`,
:class:`DirectoryRecordsContract`, :class:`PrefetchContract` (without it a batch reads pair by
pair), :class:`CreationClaimsContract` (required where writers run at once: rule Q2),
:class:`AttachmentStoreContract`, and on the repository itself
:class:`ConsumerStoreContract`, :class:`ClockStoreContract`, :class:`ReadinessCheckContract`.
docs/architecture.md lists what the facade does without each.
Needs pytest and hypothesis (the ``testing`` extra).
"""

from threadcore.testing.contract._base import ContractBase
from threadcore.testing.contract.attachments import AttachmentStoreContract
from threadcore.testing.contract.creation import CreationClaimsContract
from threadcore.testing.contract.directory import DirectoryRecordsContract
from threadcore.testing.contract.feed import ChangeFeedContract
from threadcore.testing.contract.prefetch import PrefetchContract
from threadcore.testing.contract.queries import QueriesContract
from threadcore.testing.contract.repository import (
    ClockStoreContract,
    ConsumerStoreContract,
    ReadinessCheckContract,
)
from threadcore.testing.contract.writes import CoreContract

__all__ = [
    "AttachmentStoreContract",
    "ChangeFeedContract",
    "ClockStoreContract",
    "ConsumerStoreContract",
    "ContractBase",
    "CoreContract",
    "CreationClaimsContract",
    "DirectoryRecordsContract",
    "PrefetchContract",
    "QueriesContract",
    "ReadinessCheckContract",
    "RepositoryContract",
]


class RepositoryContract(
    CoreContract,
    QueriesContract,
    ChangeFeedContract,
    DirectoryRecordsContract,
    PrefetchContract,
    AttachmentStoreContract,
    ConsumerStoreContract,
    ClockStoreContract,
    ReadinessCheckContract,
):
    """Every capability the bundled adapters all offer (:class:`CreationClaimsContract` aside:
    only PostgreSQL needs it, its writers running at once)."""
