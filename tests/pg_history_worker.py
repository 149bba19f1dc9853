"""A worker process of the history checker (``test_history.py``; started with ``spawn``).

It runs random commands and reads on a real PostgreSQL with real delays (a directory whose
lookups sometimes take tens of milliseconds, a clock that sometimes steps back, a clock of its own
that is ahead of or behind the others', a pause now and then between a command's last check and
its commit) and reports every call with its real start and end (``time.time_ns``) and what it saw.
"""

from __future__ import annotations

import contextlib
import random
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from threadcore import Directory, Inbox, ManualClock, Policy, Resource, ThreadcoreError
from threadcore.adapters.postgres import PostgresRepository
from threadcore.errors import ThreadNotOpen

QUEUE_ID = "6249888001"
OWNER = "+12092480001"
GUESTS = [f"+165022400{n:02d}" for n in range(16)]
TTL = timedelta(milliseconds=150)
#: Each worker's clock is this far off the real time: hosts up to 120 ms apart (TTL 150 ms).
SKEW_MS = [-60.0, -20.0, 20.0, 60.0]


def directory() -> Directory:
    return Directory([Resource(QUEUE_ID, name="Billing", phone_numbers=[OWNER], handlers=["101"])])


class SlowDirectory:
    """Lookups of a number sometimes take a while (a slow user store)."""

    def __init__(self, rng: random.Random) -> None:
        self.inner, self.rng = directory(), rng

    def resource(self, extension_id: str) -> Resource | None:
        return self.inner.resource(extension_id)

    def resource_for_number(self, phone_number: str) -> Resource | None:
        if self.rng.random() < 0.6:
            time.sleep(self.rng.uniform(0.02, 0.15))
        return self.inner.resource_for_number(phone_number)

    def resources_of_handler(self, extension_id: str) -> Any:
        return self.inner.resources_of_handler(extension_id)


class SteppingClock:
    """The real time, ``skew`` off, stepping back by a few milliseconds now and then (NTP)."""

    def __init__(self, rng: random.Random, skew: timedelta = timedelta(0)) -> None:
        self.rng, self.skew = rng, skew

    def now(self) -> datetime:
        now = datetime.fromtimestamp(time.time(), UTC) + self.skew
        if self.rng.random() < 0.05:
            now -= timedelta(milliseconds=self.rng.uniform(1, 30))
        return now


class PausingCommits:
    """The repository, pausing now and then between a command's last check and its commit (a
    slow network, a stop-the-world pause): what another process reads meanwhile must not be
    contradicted by the commit."""

    def __init__(self, inner: PostgresRepository, rng: random.Random) -> None:
        self.inner, self.rng = inner, rng

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def unit_of_work(self) -> Iterator[Any]:
        with self.inner.unit_of_work() as uow:
            yield uow
            if self.rng.random() < 0.2:
                time.sleep(self.rng.uniform(0.01, 0.08))


#: Where every worker's clock stands in a run at one instant (``frozen``): as a stored manual clock
#: puts every process (rule R18c), so that records of different processes tie (rule Q2).
FROZEN_AT = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)


def run(
    number: int,
    url: str,
    schema: str,
    seconds: float,
    start: Any,
    report: Any,
    frozen: bool = False,
) -> None:
    """Report ``("call", worker, kind, start_ns, end_ns, seen)`` for every call, where ``seen``
    is a list of ``(thread id, status)`` (a receive: its thread, open) or, for a list walk, a
    list of pages ``(start_ns, [(thread id, status), ...])`` (a walk of messages: pages of
    message ids); after a receive's, ``("message", message id, end_ns)``; then ``("done",
    worker)``. ``frozen``: every worker's clock stands at :data:`FROZEN_AT`."""
    rng = random.Random(number)
    skew = timedelta(milliseconds=SKEW_MS[number % len(SKEW_MS)])
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=2)
    inbox = Inbox(
        repository=PausingCommits(repo, rng),  # type: ignore[arg-type]
        directory=SlowDirectory(rng),  # type: ignore[arg-type]
        clock=ManualClock(FROZEN_AT) if frozen else SteppingClock(rng, skew),
        policy=Policy(ttl=TTL),
        token_secret=b"history-checker-secret",
    )
    known: list[str] = []
    try:
        start.wait(timeout=120)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            kind = rng.choice(
                ["receive", "receive", "get", "get", "get", "walk", "message-walk", "resolve"]
            )
            began = time.time_ns()
            try:
                if kind == "receive":
                    message = inbox.receive(
                        owner_number=OWNER, guest_number=rng.choice(GUESTS), body="hi"
                    )
                    known.append(message.thread_id)
                    seen: Any = [(message.thread_id, "Open")]
                    acked = message.id
                elif kind == "get" and known:
                    thread = inbox.get(rng.choice(known[-4:]), actor="101")
                    seen = [(thread.id, thread.status.value)]
                elif kind == "resolve" and known:
                    thread_id = rng.choice(known[-4:])
                    with contextlib.suppress(ThreadNotOpen):  # resolved already (or expired)
                        inbox.resolve(thread_id, actor="101")
                    seen = [(thread_id, "Resolved")]
                elif kind == "walk":
                    pages, token = [], None
                    while True:
                        page_start = time.time_ns()
                        page = inbox.list(actor="101", limit=2, cursor=token)
                        pages.append((page_start, [(t.id, t.status.value) for t in page]))
                        token = page.next_cursor
                        if token is None:
                            break
                        time.sleep(rng.uniform(0, 0.03))
                    seen = pages
                elif kind == "message-walk":  # every message, across threads (rule M4, Q2)
                    pages, token = [], None
                    while True:
                        page_start = time.time_ns()
                        listed = inbox.list_messages(actor="101", limit=3, cursor=token)
                        pages.append((page_start, [m.id for m in listed]))
                        token = listed.next_cursor
                        if token is None:
                            break
                        time.sleep(rng.uniform(0, 0.03))
                    seen = pages
                else:
                    continue
            except ThreadcoreError as error:
                cause = f" (cause: {error.__cause__!r:.300})" if error.__cause__ else ""
                report.put(("error", number, error.code, f"{str(error)[:200]}{cause}"))
                continue
            except Exception:
                report.put(("error", number, "undocumented", traceback.format_exc(limit=3)))
                continue
            ended = time.time_ns()
            report.put(("call", number, kind, began, ended, seen))
            if kind == "receive":
                report.put(("message", acked, ended))
    finally:
        repo.close()
        report.put(("done", number))
