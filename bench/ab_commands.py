"""Command throughput of one whole process, the same script for two trees (issue 23's A/B).

Each pair of numbers takes five commands: a receive (a new thread), an assign, a send on the
thread, a resolve, and a receive again (another new thread). Only the public API that every
version since 0.1 offers is used, so the script runs unchanged under an older tree's venv: time
it under each tree's interpreter in turn, alternating, and compare the two (whole-process CPU
and wall time, e.g. with ``/usr/bin/time -v``), as issue 23's closing note did against cc7cf52::

    git worktree add /tmp/base cc7cf52 && python3 -m venv /tmp/base/.venv
    /tmp/base/.venv/bin/pip install -e '/tmp/base[postgres]'
    /tmp/base/.venv/bin/python bench/ab_commands.py memory --pairs 15000   # B
    .venv/bin/python bench/ab_commands.py memory --pairs 15000             # A

``postgres`` needs ``--url`` (each run makes a schema of its own, so runs do not grow one).
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
import warnings
from datetime import UTC, datetime

warnings.simplefilter("ignore")  # an older or newer tree's deprecations are not the measure

from ticking import TickingClock  # noqa: E402

from threadcore import Directory, Handler, Inbox, Resource, connect  # noqa: E402

OWNER = "+12092480001"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", choices=("memory", "sqlite", "postgres"))
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--url", help="a PostgreSQL URL (postgres only)")
    args = parser.parse_args()
    if args.store == "memory":
        repository = connect("memory://")
    elif args.store == "sqlite":
        repository = connect(f"sqlite:///{tempfile.mkdtemp()}/ab.db")
    else:
        if not args.url:
            parser.error("postgres needs --url")
        repository = connect(f"{args.url}?schema=ab_{uuid.uuid4().hex[:10]}")
    directory = Directory(
        [
            Resource(
                extension_id="100",
                name="Queue",
                extension_type="Department",
                phone_numbers=[OWNER],
                handlers=["101", Handler("102")],
            )
        ]
    )
    clock = TickingClock(datetime(2026, 1, 1, tzinfo=UTC))
    inbox = Inbox(repository=repository, directory=directory, clock=clock)
    for i in range(args.pairs):
        guest = f"+1650{2240000 + i:07d}"
        message = inbox.receive(owner_number=OWNER, guest_number=guest, body="hi")
        inbox.assign(message.thread_id, actor="101", assignee="101")
        inbox.send(actor="101", thread_id=message.thread_id, body="hello")
        inbox.resolve(message.thread_id, actor="101")
        inbox.receive(owner_number=OWNER, guest_number=guest, body="again")
    inbox.close()


if __name__ == "__main__":
    main()
