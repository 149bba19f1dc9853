"""Shared fixtures and the hypothesis profiles (``HYPOTHESIS_PROFILE=ci`` in CI)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings

from threadcore import Directory, Handler, Inbox, InMemoryRepository, ManualClock, Policy, Resource
from threadcore.ids import SequentialIds
from threadcore.model import Availability
from threadcore.storage import StoredDirectory

settings.register_profile(
    "ci",
    max_examples=1000,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

START = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)
QUEUE = "6249888001"
OWNER = "+12092480001"
GUEST = "+16502240001"
OWNER2 = "+12092480002"
SUPPORT = "6249888002"
SUPPORT_NUMBER = "+12092480003"
GUEST2 = "+14083210001"
TTL = timedelta(hours=72)
BOTH = (Availability.ALIVE, Availability.DELETED)
#: The ``make_inbox`` fixture's type.
MakeInbox = Callable[..., Inbox]


def billing_directory() -> Directory:
    """The issue's example directory: one queue, one number, three handlers."""
    return Directory(
        [
            Resource(
                extension_id=QUEUE,
                name="Billing Queue",
                extension_type="Department",
                phone_numbers=[OWNER],
                handlers=["101", Handler("102", name="Ann Lee"), "103"],
            )
        ]
    )


def two_queue_directory(support_handlers: tuple[str, ...] = ("103", "201")) -> Directory:
    """Billing (OWNER and OWNER2; handlers 101, Ann Lee 102, 103) and Support (SUPPORT_NUMBER;
    ``support_handlers``, by default 103 and 201: 103 then handles both resources)."""
    return Directory(
        [
            Resource(
                extension_id=QUEUE,
                name="Billing Queue",
                extension_type="Department",
                phone_numbers=[OWNER, OWNER2],
                handlers=["101", Handler("102", name="Ann Lee"), "103"],
            ),
            Resource(
                extension_id=SUPPORT,
                name="Support",
                phone_numbers=[SUPPORT_NUMBER],
                handlers=list(support_handlers),
            ),
        ]
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["directory", "stored-directory"])
def make_inbox(request: pytest.FixtureRequest, clock: ManualClock) -> Callable[..., Inbox]:
    """Inboxes on memory, over the in-memory ``Directory`` given or over a directory stored with
    the threads (``StoredDirectory``) loaded with the same resources: every rule test runs on
    both."""

    def make(policy: Policy | None = None, directory: Directory | None = None) -> Inbox:
        resources = directory if directory is not None else billing_directory()
        repository = InMemoryRepository()
        stored = request.param == "stored-directory"
        inbox = Inbox(
            repository=repository,
            directory=StoredDirectory(repository) if stored else resources,
            clock=clock,
            policy=policy if policy is not None else Policy(ttl=timedelta(hours=72)),
            ids=SequentialIds("t"),
        )
        if stored:
            inbox.load_directory(resources.resources())
        return inbox

    return make


@pytest.fixture
def inbox(make_inbox: Callable[..., Inbox]) -> Inbox:
    return make_inbox()
