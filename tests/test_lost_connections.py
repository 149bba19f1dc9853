"""What the facade does when storage loses its connection (issue 22, item 3; rule D3), on a
repository that loses it on demand: before a commit, the command runs again, once, invisibly;
while it commits, the outcome is unknown, retryable only where a repeat cannot do it twice; and
the HTTP layer answers that 503 with the platform's error body. (The real thing, a PostgreSQL
server restarted and stopped mid-commit: ``test_pg_restart.py``.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest
from conftest import GUEST, OWNER, START, billing_directory
from starlette.testclient import TestClient

from threadcore import DeliveryStatus, Inbox, InMemoryRepository, ManualClock
from threadcore.domain.errors import ConnectionLost
from threadcore.errors import OutcomeUnknown, StorageError
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.ports import UnitOfWork
from threadcore.wire import load_api_error

Loss = Literal["before", "committing"]


class LosingRepository(InMemoryRepository):
    """In memory; each loss in :attr:`losses` is taken by the next unit of work: ``before`` its
    commit (it stores nothing, as the server rolls it back), or ``committing`` (it stores
    everything, as a commit that landed, and its caller cannot tell)."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[Loss] = []

    def unit_of_work(self) -> Any:
        return self._losing(self.losses.pop(0) if self.losses else None)

    @contextmanager
    def _losing(self, loss: Loss | None) -> Iterator[UnitOfWork]:
        with super().unit_of_work() as uow:
            yield uow
            if loss == "before":
                raise ConnectionLost("The database is unavailable: nothing was changed")
        if loss == "committing":
            raise OutcomeUnknown()


@pytest.fixture
def repo() -> LosingRepository:
    return LosingRepository()


@pytest.fixture
def inbox(repo: LosingRepository) -> Inbox:
    return Inbox(
        repository=repo, directory=billing_directory(), clock=ManualClock(START),
        ids=SequentialIds("m"),
    )  # fmt: skip


def _receive(inbox: Inbox, body: str = "Hi", carrier_id: str | None = None) -> Any:
    return inbox.receive(
        owner_number=OWNER, guest_number=GUEST, body=body, provider_message_id=carrier_id
    )


def test_a_command_that_lost_its_connection_before_its_commit_runs_again_once(
    inbox: Inbox, repo: LosingRepository
) -> None:
    repo.losses = ["before"]
    message = _receive(inbox)
    assert repo.losses == []  # the attempt lost, then the one again
    assert [m.id for m in inbox.messages(message.thread_id, actor="101")] == [message.id]
    assert [type(e).__name__ for _, e in inbox.events()] == ["ThreadOpened", "MessageAdded"]


def test_a_second_loss_is_a_storage_error_and_stores_nothing(
    inbox: Inbox, repo: LosingRepository
) -> None:
    repo.losses = ["before", "before", "before"]
    with pytest.raises(StorageError) as caught:
        _receive(inbox)
    assert repo.losses == ["before"]  # run again once, not more
    assert (caught.value.code, caught.value.retryable) == ("StorageError", True)
    assert list(inbox.events()) == []


@pytest.mark.parametrize(
    ("command", "repeatable"),
    [
        (lambda inbox, _: _receive(inbox, "Hi again"), False),
        (lambda inbox, _: _receive(inbox, "Hi again", carrier_id="SM-2"), True),
        (
            lambda inbox, thread_id: inbox.send(
                actor="101", thread_id=thread_id, body="Hello", provider_message_id="SM-3"
            ),
            True,
        ),
        (lambda inbox, thread_id: inbox.send(actor="101", thread_id=thread_id, body="Hi"), False),
        (lambda inbox, thread_id: inbox.resolve(thread_id, actor="101"), False),
    ],
    ids=["receive", "receive-carrier-id", "send-carrier-id", "send", "resolve"],
)
def test_a_commit_lost_on_its_way_is_not_run_again_and_retryable_only_where_safe(
    inbox: Inbox,
    repo: LosingRepository,
    command: Callable[[Inbox, str], object],
    repeatable: bool,
) -> None:
    thread_id = _receive(inbox).thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    before = len(inbox.events())
    repo.losses = ["committing"]
    with pytest.raises(OutcomeUnknown) as caught:
        command(inbox, thread_id)
    assert caught.value.retryable is repeatable
    assert repo.losses == []
    assert len(inbox.events()) > before  # it had committed: once, not run again
    stored = len(inbox.events())
    if repeatable:  # the same call again answers what the lost commit stored
        command(inbox, thread_id)
        assert len(inbox.events()) == stored


def test_delivery_reports_and_carrier_ids_lost_on_their_way_may_be_repeated(
    inbox: Inbox, repo: LosingRepository
) -> None:
    thread_id = _receive(inbox).thread_id
    inbox.assign(thread_id, actor="101", assignee="101")
    sent = inbox.send(actor="101", thread_id=thread_id, body="Hello")
    for call in (
        lambda: inbox.attach_provider_id(sent.id, "SM-7"),
        lambda: inbox.record_delivery(sent.id, DeliveryStatus.DELIVERED),
    ):
        repo.losses = ["committing"]
        with pytest.raises(OutcomeUnknown) as caught:
            call()
        assert caught.value.retryable is True
        stored = len(inbox.events())
        call()  # changes nothing
        assert len(inbox.events()) == stored


def test_the_http_layer_answers_an_unknown_outcome_503_with_the_platform_body(
    inbox: Inbox, repo: LosingRepository
) -> None:
    control = {"Authorization": "Bearer ctl"}
    with TestClient(create_app(inbox, tokens={"t101": "101"}, control_token="ctl")) as client:
        repo.losses = ["committing"]
        body = {"from": GUEST, "to": OWNER, "text": "hi", "id": "SM-1"}
        response = client.post("/threadcore/v1/carrier/inbound", json=body, headers=control)
        assert response.status_code == 503, response.text
        assert response.json()["errorCode"] == "OutcomeUnknown"
        error = load_api_error(response.json())
        assert isinstance(error, OutcomeUnknown)
        assert error.retryable is True  # a carrier's retry is safe: it has the carrier's id
        again = client.post("/threadcore/v1/carrier/inbound", json=body, headers=control)
        assert again.status_code == 200
        repo.losses = ["before"]  # and a loss before the commit costs the caller nothing
        fresh = {"from": GUEST, "to": OWNER, "text": "more", "id": "SM-2"}
        assert (
            client.post("/threadcore/v1/carrier/inbound", json=fresh, headers=control).status_code
            == 200
        )
    assert len(inbox.messages(inbox.list(actor="101")[0].id, actor="101")) == 2
