"""The repository contract suite: what every :class:`~threadcore.storage.Repository` must do, one
shared test case per capability of the storage port (the eventsourcing pattern).

Subclass :class:`RepositoryContract` (every capability) in a test module and implement
``make_repository``; pytest collects the ``test_*`` methods (no class here starts with ``Test``,
so none is collected itself)::

    class TestMyRepository(RepositoryContract):
        def make_repository(self) -> Repository:
            return MyRepository(...)

An adapter that offers only some capabilities subclasses those contracts alone:
:class:`WritesContract`, :class:`ThreadReadsContract`, :class:`MessageReadsContract`,
:class:`NoteReadsContract`, :class:`ChangeFeedContract`, :class:`DirectoryRecordsContract`,
:class:`AttachmentStoreContract`.
Needs pytest and hypothesis (the ``testing`` extra).
"""

from threadcore.testing.contract._base import ContractBase
from threadcore.testing.contract.attachments import AttachmentStoreContract
from threadcore.testing.contract.directory import DirectoryRecordsContract
from threadcore.testing.contract.feed import ChangeFeedContract
from threadcore.testing.contract.messages import MessageReadsContract
from threadcore.testing.contract.notes import NoteReadsContract
from threadcore.testing.contract.threads import ThreadReadsContract
from threadcore.testing.contract.writes import WritesContract

__all__ = [
    "AttachmentStoreContract",
    "ChangeFeedContract",
    "ContractBase",
    "DirectoryRecordsContract",
    "MessageReadsContract",
    "NoteReadsContract",
    "RepositoryContract",
    "ThreadReadsContract",
    "WritesContract",
]


class RepositoryContract(
    WritesContract,
    ThreadReadsContract,
    MessageReadsContract,
    NoteReadsContract,
    ChangeFeedContract,
    DirectoryRecordsContract,
    AttachmentStoreContract,
):
    """The whole contract: every capability of the storage port."""
