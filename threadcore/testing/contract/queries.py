"""The contract of the ``Queries`` capability: the selections of stored threads, messages and
notes that lists, counts, the sweep and the directory's checks read."""

from threadcore.testing.contract.messages import MessageQueriesContract
from threadcore.testing.contract.notes import NoteQueriesContract
from threadcore.testing.contract.threads import ThreadQueriesContract

__all__ = ["QueriesContract"]


class QueriesContract(ThreadQueriesContract, MessageQueriesContract, NoteQueriesContract):
    """:class:`~threadcore.ports.Queries`: finds and counts of threads, messages and notes that
    filter, order and page; open and due threads; hostile filters."""
