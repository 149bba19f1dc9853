"""A service process for the PostgreSQL concurrency test (started with the ``spawn`` context).

Each worker opens its own ``PostgresRepository`` on the shared schema and, for a while, receives,
sends, assigns and resolves on a small set of pairs, reporting every acknowledged message to the
parent as soon as the command returns. Then, after every worker has stopped resolving, each
receives once more on every pair (so the pairs end with exactly one open thread, all of them
raced for by every worker). Errors are reported by code; anything that is not a
``ThreadcoreError`` is reported as undocumented.
"""

from __future__ import annotations

import random
import time
import traceback
from datetime import timedelta
from typing import Any

from threadcore import Directory, Inbox, Policy, Resource, SystemClock, ThreadcoreError
from threadcore.adapters.postgres import PostgresRepository

QUEUE_ID = "6249888001"
OWNERS = ["+12092480001", "+12092480002"]
GUESTS = ["+16502240001", "+16502240002"]
PAIRS = [(o, g) for o in OWNERS for g in GUESTS]
HANDLERS = ["101", "102", "103"]


def directory() -> Directory:
    """The one resource every worker serves."""
    return Directory([Resource(QUEUE_ID, name="Billing", phone_numbers=OWNERS, handlers=HANDLERS)])


def run(
    number: int,
    url: str,
    schema: str,
    seconds: float,
    start: Any,
    stop_resolving: Any,
    report: Any,
) -> None:
    """The worker's whole life; ``start`` and ``stop_resolving`` are barriers, ``report`` a
    queue of ``("ack", worker, message_id, provider_id, thread_id)``, ``("error", worker, code,
    detail)``
    and finally ``("done", worker, commands)``."""
    rng = random.Random(number)
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=2)
    inbox = Inbox(
        repository=repo,
        directory=directory(),
        clock=SystemClock(),
        policy=Policy(ttl=timedelta(hours=72), claim_on_send=True),
    )
    threads: list[str] = []
    commands = 0

    def attempt(index: int, action: str) -> None:
        owner, guest = rng.choice(PAIRS)
        actor = rng.choice(HANDLERS)
        try:
            if action == "receive":
                pid = f"in-{number}-{index}"
                message = inbox.receive(owner_number=owner, guest_number=guest,
                                        body=f"hello {index}", provider_message_id=pid)  # fmt: skip
                if rng.random() < 0.2:  # a retried webhook: the same message, not a new one
                    again = inbox.receive(
                        owner_number=owner,
                        guest_number=guest,
                        body=f"hello {index}",
                        provider_message_id=pid,
                    )
                    if again.id != message.id:
                        report.put(("error", number, "replay made a new message", pid))
                report.put(("ack", number, message.id, pid, message.thread_id))
                threads.append(message.thread_id)
            elif action == "send":
                pid = f"out-{number}-{index}"
                message = inbox.send(actor=actor, owner_number=owner, guest_number=guest,
                                     body=f"reply {index}", provider_message_id=pid)  # fmt: skip
                report.put(("ack", number, message.id, pid, message.thread_id))
                threads.append(message.thread_id)
            elif action == "assign" and threads:
                inbox.assign(rng.choice(threads[-8:]), actor=actor, assignee=rng.choice(HANDLERS))
            elif action == "resolve" and threads:
                inbox.resolve(rng.choice(threads[-8:]), actor=actor)
        except ThreadcoreError as error:
            report.put(("error", number, error.code, str(error)[:300]))
        except Exception:
            report.put(("error", number, "undocumented", traceback.format_exc(limit=3)))

    actions = ["receive"] * 5 + ["send"] * 3 + ["assign"] + ["resolve"]
    try:
        start.wait(timeout=120)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            commands += 1
            attempt(commands, rng.choice(actions))
        stop_resolving.wait(timeout=120)
        for owner, guest in PAIRS:
            commands += 1
            pid = f"last-{number}-{owner}-{guest}"
            message = _reported(report, number, lambda o=owner, g=guest, p=pid: inbox.receive(
                owner_number=o, guest_number=g, body="last", provider_message_id=p))  # fmt: skip
            if message is not None:
                report.put(("ack", number, message.id, pid, message.thread_id))
    finally:
        repo.close()
        report.put(("done", number, commands))


def hot_pair(number: int, url: str, schema: str, count: int, start: Any, report: Any) -> None:
    """Receive ``count`` messages on one pair that every worker writes to, with no retry at all
    (``retries=1``): any conflict would reach the caller. Reports ``("ack", worker, message id,
    thread id)`` or ``("error", worker, code, detail)``, then ``("done", worker, count)``."""
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=2)
    inbox = Inbox(repository=repo, directory=directory(), clock=SystemClock(), retries=1)
    owner, guest = PAIRS[0]
    try:
        start.wait(timeout=120)
        for index in range(count):
            message = _reported(report, number, lambda i=index: inbox.receive(
                owner_number=owner, guest_number=guest, body=f"hot {number}-{i}"))  # fmt: skip
            if message is not None:
                report.put(("ack", number, message.id, message.thread_id))
    finally:
        repo.close()
        report.put(("done", number, count))


def _reported(report: Any, number: int, call: Any) -> Any:
    """``call()``, or ``None`` once its error is reported (by code; anything that is not a
    ``ThreadcoreError`` as undocumented)."""
    try:
        return call()
    except ThreadcoreError as error:
        report.put(("error", number, error.code, str(error)[:300]))
    except Exception:
        report.put(("error", number, "undocumented", traceback.format_exc(limit=3)))
    return None
