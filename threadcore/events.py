"""The typed events threadcore stores with every change (rule R16), as ``Inbox.events()`` and
``Inbox.subscribe()`` hand them out: ``Event`` is their union, ``StoredEvent`` an event with its
position in the feed.

    from threadcore.events import MessageAdded, ThreadDeleted
"""

from threadcore.domain.events import (
    EVENT_TYPES,
    CarrierIdAttached,
    DeliveryStatusChanged,
    DraftDiscarded,
    DraftSaved,
    DraftSent,
    Event,
    GuestOptedIn,
    GuestOptedOut,
    MessageAdded,
    MessageClassified,
    MessageDeleted,
    NoteAdded,
    NoteDeleted,
    NoteEdited,
    ThreadAssigned,
    ThreadDeleted,
    ThreadOpened,
    ThreadResolved,
)
from threadcore.ports import StoredEvent

__all__ = [
    "CarrierIdAttached",
    "EVENT_TYPES",
    "DeliveryStatusChanged",
    "DraftDiscarded",
    "DraftSaved",
    "DraftSent",
    "Event",
    "GuestOptedIn",
    "GuestOptedOut",
    "MessageAdded",
    "MessageClassified",
    "MessageDeleted",
    "NoteAdded",
    "NoteDeleted",
    "NoteEdited",
    "StoredEvent",
    "ThreadAssigned",
    "ThreadDeleted",
    "ThreadOpened",
    "ThreadResolved",
]
