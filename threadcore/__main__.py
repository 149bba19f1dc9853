"""``python -m threadcore`` (or ``threadcore``): a short, readable demo of the thread lifecycle."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from threadcore import (
    Directory,
    Handler,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    Resource,
    Thread,
    ThreadcoreError,
)

OWNER = "+12092480001"


def _show(label: str, thread: Thread) -> None:
    assignee = thread.assignee.name or thread.assignee.extension_id if thread.assignee else "-"
    reason = thread.status_reason or "-"
    print(
        f"  {label:<34} {thread.status:<8} {thread.availability:<7} reason={reason:<14} "
        f"assignee={assignee:<8} label={thread.label!r}"
    )


def demo() -> int:
    """Walk one shared inbox through the rules of the seed guide and print what happens."""
    clock = ManualClock(datetime(2026, 2, 17, 17, 0, tzinfo=UTC))
    directory = Directory(
        [
            Resource(
                extension_id="6249888001",
                name="Billing Queue",
                extension_type="Department",
                phone_numbers=[OWNER],
                handlers=["101", Handler("102", name="Ann Lee"), "103"],
            )
        ]
    )
    inbox = Inbox(
        repository=InMemoryRepository(),
        directory=directory,
        clock=clock,
        policy=Policy(ttl=timedelta(hours=72)),
    )
    print("threadcore demo: Billing Queue (+12092480001), handlers 101, Ann Lee (102), 103\n")

    m = inbox.receive(owner_number=OWNER, guest_number="+16502240001", body="Hi, my bill?")
    _show("customer texts in (new thread)", inbox.get(m.thread_id, actor="101"))
    _show("101 assigns it to Ann", inbox.assign(m.thread_id, actor="101", assignee="102"))
    try:
        inbox.send(actor="103", thread_id=m.thread_id, body="I can help")
    except ThreadcoreError as error:
        print(f"  {'103 tries to reply':<34} refused: {error.code}: {error.message}")
    clock.advance(timedelta(minutes=5))
    inbox.send(actor="102", thread_id=m.thread_id, body="You can close this case.")
    _show("Ann replies", inbox.get(m.thread_id, actor="101"))
    _show("103 resolves it", inbox.resolve(m.thread_id, actor="103"))
    again = inbox.receive(owner_number=OWNER, guest_number="+16502240001", body="One more thing")
    _show("customer texts again (new thread)", inbox.get(again.thread_id, actor="101"))

    out = inbox.send(actor="101", owner_number=OWNER, guest_number="+14083210001", body="Thank you")
    _show("101 texts another customer", inbox.get(out.thread_id, actor="101"))
    clock.advance(timedelta(hours=72))
    _show("72 h of silence later", inbox.get(out.thread_id, actor="101"))
    swept = inbox.expire()
    print(f"  {'the sweep writes the expiries':<34} {len(swept)} thread(s)")
    _show("101 deletes the first thread", inbox.delete(m.thread_id, actor="101"))
    print(
        f"\n{len(inbox.events())} events in the outbox; messages left on the deleted thread: "
        f"{len(inbox.messages(m.thread_id, actor='101'))}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line entry point."""
    parser = argparse.ArgumentParser(prog="threadcore", description=__doc__)
    parser.add_argument("command", nargs="?", default="demo", choices=["demo"])
    parser.parse_args(argv)
    return demo()


if __name__ == "__main__":
    sys.exit(main())
