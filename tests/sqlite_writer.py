"""A writer process for the crash test: streams receives into a SQLite file and prints the
provider message id of each one after it returned (was acknowledged)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from threadcore import Directory, Inbox, ManualClock, Resource, SQLiteRepository

OWNER = "+12092480001"


def guest(i: int) -> str:
    return f"+1650224{i % 50:04d}"


def main(path: str, count: int) -> None:
    directory = Directory([Resource("6249888001", phone_numbers=[OWNER], handlers=["101"])])
    clock = ManualClock(datetime(2026, 2, 17, 17, 0, tzinfo=UTC))
    inbox = Inbox(repository=SQLiteRepository(path), directory=directory, clock=clock)
    for i in range(count):
        clock.advance(timedelta(minutes=7))  # some pairs expire and reopen along the way
        inbox.receive(owner_number=OWNER, guest_number=guest(i), body=f"message {i}",
                      provider_message_id=f"p{i}")  # fmt: skip
        print(f"p{i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
