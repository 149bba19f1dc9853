"""A consumer process for tests/test_consumers.py: runs the consumer NAME on URL, writes each
position it handles to OUT (flushed), and kills itself with SIGKILL inside the handler of its
KILL_AFTER-th event, before that event is committed (0: never; it stops when it runs dry)."""

from __future__ import annotations

import os
import signal
import sys

from threadcore import Directory, Inbox, connect


def main(url: str, name: str, out: str, kill_after: int) -> None:
    inbox = Inbox(repository=connect(url), directory=Directory([]))
    handled = 0
    dry = [0]

    def handle(position: int, event: object) -> None:
        nonlocal handled
        with open(out, "a") as f:
            f.write(f"{position}\n")
            f.flush()
            os.fsync(f.fileno())
        handled += 1
        dry[0] = 0
        if kill_after and handled == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def stop() -> bool:
        dry[0] += 1  # called after each event and after each empty poll
        return dry[0] > 3

    inbox.consumer(name).run(handle, stop=stop, limit=7, idle=0.05)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
