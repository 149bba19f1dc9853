"""A worker process of the history checker (``test_history.py``; started with ``spawn``).

It runs random commands and reads on a real PostgreSQL with real delays (a directory whose
lookups sometimes take tens of milliseconds, a clock that sometimes steps back) and reports every
call with its real start and end (``time.time_ns``) and what it saw.
"""

from __future__ import annotations

import random
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from threadcore import Directory, Inbox, Policy, Resource, ThreadcoreError
from threadcore.adapters.postgres import PostgresRepository

QUEUE_ID = "6249888001"
OWNER = "+12092480001"
GUESTS = [f"+165022400{n:02d}" for n in range(16)]
TTL = timedelta(milliseconds=150)


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
    """The real time, stepping back by a few milliseconds now and then (NTP)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def now(self) -> datetime:
        now = datetime.fromtimestamp(time.time(), UTC)
        if self.rng.random() < 0.05:
            now -= timedelta(milliseconds=self.rng.uniform(1, 30))
        return now


def run(number: int, url: str, schema: str, seconds: float, start: Any, report: Any) -> None:
    """Report ``("call", worker, kind, start_ns, end_ns, seen)`` for every call, where ``seen``
    is a list of ``(thread id, status)`` (a receive: its thread, open) or, for a list walk, a
    list of pages ``(start_ns, [(thread id, status), ...])``; then ``("done", worker)``."""
    rng = random.Random(number)
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=2)
    inbox = Inbox(
        repository=repo,
        directory=SlowDirectory(rng),  # type: ignore[arg-type]
        clock=SteppingClock(rng),
        policy=Policy(ttl=TTL),
        token_secret=b"history-checker-secret",
    )
    known: list[str] = []
    try:
        start.wait(timeout=120)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            kind = rng.choice(["receive", "receive", "get", "get", "get", "walk"])
            began = time.time_ns()
            try:
                if kind == "receive":
                    message = inbox.receive(
                        owner_number=OWNER, guest_number=rng.choice(GUESTS), body="hi"
                    )
                    known.append(message.thread_id)
                    seen: Any = [(message.thread_id, "Open")]
                elif kind == "get" and known:
                    thread = inbox.get(rng.choice(known[-4:]), actor="101")
                    seen = [(thread.id, thread.status.value)]
                elif kind == "walk":
                    pages, token = [], None
                    while True:
                        page_start = time.time_ns()
                        page = inbox.list(actor="101", per_page=2, page_token=token)
                        pages.append((page_start, [(t.id, t.status.value) for t in page]))
                        token = page.next_page_token
                        if token is None:
                            break
                        time.sleep(rng.uniform(0, 0.03))
                    seen = pages
                else:
                    continue
            except ThreadcoreError as error:
                report.put(("error", number, error.code, str(error)[:200]))
                continue
            except Exception:
                report.put(("error", number, "undocumented", traceback.format_exc(limit=3)))
                continue
            report.put(("call", number, kind, began, time.time_ns(), seen))
    finally:
        repo.close()
        report.put(("done", number))
