"""A service whose directory lives in its own user store (a read-only ``DirectoryPort``) tells
the inbox what changed, and the thread effects are applied atomically (issue 14, rule R11a)."""

from __future__ import annotations

import pytest
import stores
from conftest import GUEST, OWNER, QUEUE, START

from threadcore import Handler, ManualClock, Resource, StatusReason, ThreadStatus
from threadcore.errors import NotPermitted, ResourceNotFound
from threadcore.events import ThreadAssigned, ThreadResolved

pytest_plugins = ["conftest_pg"]
store = stores.store


class UserStore:
    """A service's own directory: the inbox may read it, never change it."""

    def __init__(self) -> None:
        self.resources = {
            QUEUE: Resource(QUEUE, name="Billing", phone_numbers=[OWNER, "+12092480009"],
                            handlers=["101", Handler("102", name="Ann"), "103"]),
        }  # fmt: skip

    def resource(self, extension_id: str) -> Resource | None:
        return self.resources.get(extension_id)

    def resource_for_number(self, phone_number: str) -> Resource | None:
        return next((r for r in self.resources.values() if phone_number in r.phone_numbers), None)

    def resources_of_handler(self, extension_id: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.handler(extension_id) is not None]

    def without(self, *, handler: str | None = None, number: str | None = None) -> None:
        old = self.resources[QUEUE]
        self.resources[QUEUE] = Resource(
            QUEUE,
            name=old.name,
            phone_numbers=[n for n in old.phone_numbers if n != number],
            handlers=[h for h in old.handlers if h.extension_id != handler],
        )


def test_a_service_tells_the_inbox_what_changed_in_its_own_directory(
    store: stores.Store,
) -> None:
    users = UserStore()
    inbox = stores.inbox_on(store(), ManualClock(START), directory=users)  # type: ignore[arg-type]
    with pytest.raises(NotPermitted):
        inbox.remove_handler(QUEUE, "102")  # the inbox cannot change this directory
    taken = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    inbox.assign(taken.thread_id, actor="101", assignee="102")
    other = inbox.receive(owner_number="+12092480009", guest_number=GUEST, body="Hello")
    mark = inbox.events()[-1][0]

    users.without(handler="102")  # the handler left, in the service's own store
    [unassigned] = inbox.handler_removed(QUEUE, "102")
    assert unassigned.id == taken.thread_id
    assert unassigned.assignee is None
    users.without(number="+12092480009")  # the number was released
    [resolved] = inbox.phone_number_removed(QUEUE, "+12092480009")
    assert resolved.id == other.thread_id
    assert resolved.status_reason is StatusReason.OWNER_PHONE_NUMBER_DELETED
    del users.resources[QUEUE]  # the resource was removed
    [gone] = inbox.resource_removed(QUEUE)
    assert (gone.id, gone.status) == (taken.thread_id, ThreadStatus.RESOLVED)
    assert gone.status_reason is StatusReason.OWNER_DELETED
    kinds = [type(event) for _, event in inbox.events(cursor=inbox.feed_cursor(mark))]
    assert kinds == [ThreadAssigned, ThreadResolved, ThreadResolved]
    with pytest.raises(ResourceNotFound):
        inbox.handler_removed(QUEUE, "101")  # the resource itself is gone: resource_removed
