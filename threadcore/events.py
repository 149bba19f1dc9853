"""The typed events threadcore stores with every change (rule R16), as ``Inbox.events()`` and
``Inbox.subscribe()`` hand them out: ``Event`` is their union, ``StoredEvent`` an event with its
position in the feed. The list is kept once, in :mod:`threadcore.domain.events`.

    from threadcore.events import MessageAdded, ThreadDeleted
"""

from threadcore.domain.events import *  # noqa: F403 (the list is kept once, in the domain)
from threadcore.domain.events import __all__ as _domain_events
from threadcore.ports import StoredEvent

__all__ = [*_domain_events, "StoredEvent"]
