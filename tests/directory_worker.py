"""A service process for tests/test_stored_directory.py over the directory stored at URL.

``serve URL``: reads one command per line on stdin and answers one line on stdout (``ok ...`` or
the error's code), so a test can act in another process at a moment of its choosing:
``assign THREAD ACTOR ASSIGNEE``, ``get THREAD ACTOR``, ``handlers RESOURCE``.

``churn URL THREAD HANDLER SECONDS``: the handler takes the thread and hands it back, over and
over (as fast as the database lets it), printing ``started`` after the first round and, SECONDS
later, how many times it took it; a refusal (the handler was removed meanwhile) is counted.
"""

from __future__ import annotations

import sys
import time

from threadcore import ThreadcoreError, open_inbox


def serve(url: str) -> None:
    inbox = open_inbox(url)
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        try:
            if command == "assign":
                thread = inbox.assign(args[0], actor=args[1], assignee=args[2])
                answer = f"ok {thread.assignee.extension_id if thread.assignee else '-'}"
            elif command == "get":
                answer = f"ok {inbox.get(args[0], actor=args[1]).id}"
            elif command == "handlers":
                inbox.list(actor="nobody")  # any command refreshes the directory
                resource = inbox.directory.resource(args[0])
                names = sorted(h.extension_id for h in resource.handlers) if resource else []
                answer = "ok " + ",".join(names)
            else:
                answer = f"unknown {command}"
        except ThreadcoreError as error:
            answer = error.code
        print(answer, flush=True)
    inbox.close()


def churn(url: str, thread_id: str, handler: str, seconds: float) -> None:
    inbox = open_inbox(url)
    took = refused = 0
    until = None
    while until is None or time.monotonic() < until:
        try:
            inbox.assign(thread_id, actor=handler, assignee=handler)
            took += 1
            inbox.assign(thread_id, actor=handler, assignee=None)
            if until is None:  # the first round is done: the test may go on
                print("started", flush=True)
                until = time.monotonic() + seconds
        except ThreadcoreError:
            refused += 1
    print(f"took {took} refused {refused}", flush=True)
    inbox.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        churn(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
