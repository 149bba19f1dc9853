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
pair), :class:`CreationClaimsContract` (for an adapter whose writers run at once
and that keeps rule Q2 by serialising creation), :class:`CreationTiesContract` (without it a
walk may skip a record created at the very instant of one it passed),
:class:`AttachmentStoreContract`, and on the repository itself
:class:`ConsumerStoreContract`, :class:`ClockStoreContract`, :class:`ReadinessCheckContract`.
docs/architecture.md lists what the facade does without each.
Needs pytest and hypothesis (the ``testing`` extra).
"""

from threadcore._moved import deprecated_names
from threadcore.testing.contract._base import ContractBase
from threadcore.testing.contract.attachments import AttachmentStoreContract
from threadcore.testing.contract.creation import CreationClaimsContract, CreationTiesContract
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
    "CreationTiesContract",
    "DirectoryRecordsContract",
    "PrefetchContract",
    "QueriesContract",
    "ReadinessCheckContract",
    "ReadsContract",
    "RepositoryContract",
]


class RepositoryContract(
    CoreContract,
    QueriesContract,
    ChangeFeedContract,
    DirectoryRecordsContract,
    PrefetchContract,
    AttachmentStoreContract,
):
    """The storage port's contract as it was before 1.0 split it (the core, the queries, the
    change feed, the directory records, the look-ahead, the files): what an adapter that passed
    it then still passes. The repository-level capabilities added since
    (:class:`ConsumerStoreContract`, :class:`ClockStoreContract`,
    :class:`ReadinessCheckContract`), :class:`CreationTiesContract` and
    :class:`CreationClaimsContract` are subclassed beside it where an adapter offers them (the
    bundled ones offer the first four; none the last since issue 24)."""


class ReadsContract(CoreContract, QueriesContract, PrefetchContract):
    """What the pre-1.0 ``ThreadReadsContract``, ``MessageReadsContract`` and
    ``NoteReadsContract`` checked: the reads of a command and of a list, and the bulk reads."""


# The pre-1.0 names of the contract's parts: one release more, each with a DeprecationWarning
# naming what checks it now.
__getattr__ = deprecated_names(
    "threadcore.testing.contract",
    {
        "WritesContract": ("threadcore.testing.contract", "CoreContract"),
        "ThreadReadsContract": ("threadcore.testing.contract", "ReadsContract"),
        "MessageReadsContract": ("threadcore.testing.contract", "ReadsContract"),
        "NoteReadsContract": ("threadcore.testing.contract", "ReadsContract"),
    },
)
