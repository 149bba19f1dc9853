"""Thread creation under a creation-heavy load (a campaign's replies), and the walks' gate.

    python bench/bench_pg_creation.py [--url postgresql://...] [--messages 300]
                                      [--workers 1 4 8] [--rounds 3] [--interval 0.004]
                                      [--walkers 0]

Until issue 24 threadcore took one advisory lock for the whole schema on thread creation, held
from the claim to the commit, so creations of different pairs waited for each other. Now every
command's claim takes the walks' gate (a table lock in ROW EXCLUSIVE mode, which commands share)
and a page of a list walk takes it in SHARE mode (rule R18a, Q2). This runs, at each process
count, interleaved rounds of:

* ``creation``: every receive opens a new pair's thread (a campaign's replies);
* ``open``: every receive lands on an open thread (each worker's 200 pairs opened before the
  timing);

for threadcore and for the fair raw (``bench/pg_baselines.py``: what creating a thread costs the
database by itself). While threadcore's creation rounds run, a thread of this process samples
``pg_locks`` every ``--interval`` seconds for the gate: how many receives hold it (commands
under way at once: more than 1 means creations do not wait for each other) and how many wait
for it. From the samples:

* **under way**: the mean number of receives holding the gate at once;
* **waiting**: the mean number of receives (or pages) waiting for it, and that as a share of the
  workers (0 without walkers: commands never wait for each other there);
* **wait per receive**: the mean waiters over the rate (Little's law), in ms.

With ``--walkers N``, N threads of this process walk the thread list (pages of 50, from the
start again at its end) during threadcore's creation rounds: what the pages cost the receives
(the creation rate beside the rounds without walkers) and what the receives cost the pages (each
page's time, p50 and p99). The sampler costs a little CPU (one small query per interval).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

import psycopg
from bench_postgres import EXTENSION, OWNER, finish, options, run, said, server_line, spread
from pgserver import postgres

from threadcore import Directory, Inbox, Resource
from threadcore.adapters.postgres import PostgresRepository


class Sampler:
    """Samples the walks' gate of one schema from a thread, on its own connection (made when it
    is built), while it is entered; and runs ``walkers`` list walks beside it."""

    def __init__(self, url: str, schema: str, interval: float, walkers: int = 0) -> None:
        self.interval = interval
        self.held: list[int] = []
        self.waiting: list[int] = []
        self.pages: list[float] = []  # each walked page's time, seconds
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample, daemon=True)]
        self._conn = psycopg.connect(url, autocommit=True)
        self._gate = (f'"{schema}".threadcore_walks',)
        self._walkers = [_walker(url, schema) for _ in range(walkers)]
        self._threads += [
            threading.Thread(target=self._walk, args=(inbox,), daemon=True)
            for inbox, _ in self._walkers
        ]

    def _sample(self) -> None:
        query = (
            "SELECT count(*) FILTER (WHERE granted AND mode = 'RowExclusiveLock'), "
            "count(*) FILTER (WHERE NOT granted) FROM pg_locks WHERE relation = to_regclass(%s)"
        )
        while not self._stop.wait(self.interval):
            got = self._conn.execute(query, self._gate, prepare=True).fetchone()
            if got is not None:
                self.held.append(int(got[0]))
                self.waiting.append(int(got[1]))

    def _walk(self, inbox: Inbox) -> None:
        cursor: str | None = None
        clock = time.perf_counter
        while not self._stop.is_set():
            began = clock()
            cursor = inbox.list(actor="101", limit=50, cursor=cursor).next_cursor
            self.pages.append(clock() - began)

    def __enter__(self) -> Sampler:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._conn.close()
        for _, close in self._walkers:
            close()


def _walker(url: str, schema: str) -> tuple[Inbox, Any]:
    """An inbox on its own connection that lists threads, and how to close it."""
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=1)
    resource = Resource(EXTENSION, phone_numbers=[OWNER], handlers=["101"])
    return Inbox(repository=repo, directory=Directory([resource])), repo.close


def measure(
    url: str, workers: int, messages: int, rounds: int, interval: float, walkers: int
) -> dict[str, Any]:
    """Interleaved rounds of each (kind, shape): rates; and the samples of threadcore's creation
    rounds (with ``walkers`` walking beside them, as a round of their own)."""
    rates: dict[tuple[str, str], list[float]] = {}
    got: dict[str, list[float]] = {"held": [], "waiting": [], "per_receive": [], "pages": []}
    shapes = [("raw", "creation"), ("raw", "open"), ("threadcore", "creation")]
    shapes += [("threadcore", "open")] + ([("threadcore", "walked")] if walkers else [])
    for _ in range(rounds):
        for kind, shape in shapes:
            samplers: list[Sampler] = []

            def during(schema: str, samplers: list[Sampler] = samplers, shape: str = shape) -> Any:
                samplers.append(Sampler(url, schema, interval, walkers if shape == "walked" else 0))
                return samplers[0]

            sampled = kind == "threadcore" and shape != "open"
            rate, _ = run(kind, url, workers, messages, 200,
                          shape="creation" if shape == "walked" else shape,
                          during=during if sampled else None)  # fmt: skip
            rates.setdefault((kind, shape), []).append(rate)
            if sampled and samplers[0].held:
                sampler = samplers[0]
                if shape == "walked":
                    got["pages"] += sampler.pages
                    continue
                got["held"].append(statistics.fmean(sampler.held))
                mean_waiting = statistics.fmean(sampler.waiting)
                got["waiting"].append(mean_waiting)
                got["per_receive"].append(mean_waiting / rate * 1000)
    return {"rates": rates, **got}


def main() -> None:
    parser = options(__doc__, messages=300, rounds=3)
    parser.add_argument("--interval", type=float, default=0.004, help="seconds between samples")
    parser.add_argument("--walkers", type=int, default=0, help="list walks beside a round")
    args = parser.parse_args()
    command = " ".join(["python bench/bench_pg_creation.py", *sys.argv[1:]])
    with postgres(args.url) as url:
        lines = [
            f"`{command}`: {server_line(url)}; {args.messages:,} receives per worker; median "
            f"(min-max) of {args.rounds} interleaved rounds.",
            "",
            "| processes | threadcore creation msg/s | threadcore open msg/s | creation / open "
            "| fair raw creation msg/s | fair raw open msg/s | creation / open "
            "| threadcore / fair raw, creation | receives under way at once "
            "| waiting for the gate (share) | wait per receive ms |"
            + (" creation msg/s with walkers | page ms p50 / p99 |" if args.walkers else ""),
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            + (" ---: | ---: |" if args.walkers else ""),
        ]
        print("\n".join(lines), flush=True)
        for workers in args.workers:
            got = measure(url, workers, args.messages, args.rounds, args.interval, args.walkers)
            rates = got["rates"]
            cells = [str(workers)]
            for kind in ("threadcore", "raw"):
                creation, opened = rates[(kind, "creation")], rates[(kind, "open")]
                share = [c / o for c, o in zip(creation, opened, strict=True)]
                cells += [spread(creation), spread(opened), spread(share, ".2f")]
            fair = zip(rates[("threadcore", "creation")], rates[("raw", "creation")], strict=True)
            cells.append(spread([t / r for t, r in fair], ".2f"))
            waiting = statistics.median(got["waiting"])
            cells += [
                spread(got["held"], ".2f"),
                f"{spread(got['waiting'], '.2f')} ({waiting / workers:.0%})",
                spread(got["per_receive"], ".3f"),
            ]
            if args.walkers:
                pages = sorted(got["pages"]) or [0.0]
                p99 = pages[min(len(pages) - 1, int(len(pages) * 0.99))]
                cells += [
                    spread(rates[("threadcore", "walked")]),
                    f"{statistics.median(pages) * 1000:.1f} / {p99 * 1000:.1f}",
                ]
            said(lines, "| " + " | ".join(cells) + " |")
        finish(lines, args.out)


if __name__ == "__main__":
    main()
