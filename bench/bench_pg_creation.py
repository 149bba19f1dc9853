"""The creation lock under a creation-heavy load: its wait time, and whether it is the limit.

    python bench/bench_pg_creation.py [--url postgresql://...] [--messages 300]
                                      [--workers 1 4 8] [--rounds 3] [--interval 0.004]

threadcore takes one advisory lock for the whole schema on thread creation (``claim_creation``,
so that a keyset walk by creation time never skips a thread, rule Q2), held from the claim to the
commit. This runs, at each process count, interleaved rounds of:

* ``creation``: every receive opens a new pair's thread (a campaign's replies);
* ``open``: every receive lands on an open thread (each worker's 200 pairs opened before the
  timing);

for threadcore and for the fair raw (``bench/pg_baselines.py``, which takes no creation lock:
what creating a thread costs the database by itself). While threadcore's creation rounds run, a
thread of this process samples ``pg_locks`` every ``--interval`` seconds for the creation lock's
key: how many backends hold it (0 or 1) and how many wait for it. From the samples:

* **held**: the share of the time some receive holds the lock (1.00: it never rests; then it is
  the limit: creations run one at a time);
* **waiting**: the mean number of receives waiting for it, and that as a share of the workers'
  time (the share of a receive spent waiting for the lock);
* **wait per receive**: the mean waiters over the rate (Little's law), in ms.

The lock is the limit when it is held nearly all the time and receives queue for it; it is not
when the creation rate falls with the process count no more than the fair raw's does (the
machine's 2 cores are the limit then). The sampler costs a little CPU (one small query per
interval), in the sampled rounds only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
from bench_postgres import finish, run, said, server_line, spread
from pgserver import default_url, postgres

#: What a schema's creation lock is keyed by (``PostgresRepository``: the schema's lock prefix,
#: then U+001F and ``create``).
CREATION_KEY = "threadcore\x1f{schema}\x1f\x1fcreate"


class Sampler:
    """Samples the creation lock of one schema from a thread, on its own connection (made when
    it is built), while it is entered."""

    def __init__(self, url: str, schema: str, interval: float) -> None:
        self.interval = interval
        self.held: list[int] = []
        self.waiting: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._conn = psycopg.connect(url, autocommit=True)
        # an advisory lock on a bigint key shows in pg_locks as classid (its high 32 bits), objid
        # (its low 32 bits) and objsubid 1
        row = self._conn.execute(
            "SELECT ((k >> 32) & 4294967295)::oid, (k & 4294967295)::oid "
            "FROM (SELECT hashtextextended(%s, 0) AS k) AS h",
            (CREATION_KEY.format(schema=schema),),
        ).fetchone()
        assert row is not None
        self._key = row

    def _sample(self) -> None:
        query = (
            "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) "
            "FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND objsubid = 1"
        )
        while not self._stop.wait(self.interval):
            got = self._conn.execute(query, self._key, prepare=True).fetchone()
            if got is not None:
                self.held.append(int(got[0]))
                self.waiting.append(int(got[1]))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


def measure(url: str, workers: int, messages: int, rounds: int, interval: float) -> dict[str, Any]:
    """Interleaved rounds of each (kind, shape): rates; and the samples of threadcore's creation
    rounds."""
    rates: dict[tuple[str, str], list[float]] = {}
    held: list[float] = []
    waiting: list[float] = []
    per_receive: list[float] = []
    for _ in range(rounds):
        for kind in ("raw", "threadcore"):
            for shape in ("creation", "open"):
                samplers: list[Sampler] = []

                def during(schema: str, samplers: list[Sampler] = samplers) -> Sampler:
                    samplers.append(Sampler(url, schema, interval))
                    return samplers[0]

                sampled = kind == "threadcore" and shape == "creation"
                rate, _ = run(kind, url, workers, messages, 200, shape=shape,
                              during=during if sampled else None)  # fmt: skip
                rates.setdefault((kind, shape), []).append(rate)
                if sampled and samplers[0].held:
                    s = samplers[0]
                    held.append(statistics.fmean(min(1, h) for h in s.held))
                    mean_waiting = statistics.fmean(s.waiting)
                    waiting.append(mean_waiting)
                    per_receive.append(mean_waiting / rate * 1000)
    return {"rates": rates, "held": held, "waiting": waiting, "per_receive": per_receive}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--messages", type=int, default=300, help="per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.004, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args()
    command = " ".join(["python bench/bench_pg_creation.py", *sys.argv[1:]])
    with postgres(args.url) as url:
        lines = [
            f"`{command}`: {server_line(url)}; {args.messages:,} receives per worker; median "
            f"(min-max) of {args.rounds} interleaved rounds.",
            "",
            "| processes | threadcore creation msg/s | threadcore open msg/s | creation / open "
            "| fair raw creation msg/s | fair raw open msg/s | creation / open | lock held "
            "| receives waiting (share) | wait per receive ms |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        print("\n".join(lines), flush=True)
        for workers in args.workers:
            got = measure(url, workers, args.messages, args.rounds, args.interval)
            rates = got["rates"]
            cells = [str(workers)]
            for kind in ("threadcore", "raw"):
                creation, opened = rates[(kind, "creation")], rates[(kind, "open")]
                share = [c / o for c, o in zip(creation, opened, strict=True)]
                cells += [spread(creation), spread(opened), spread(share, ".2f")]
            waiting = statistics.median(got["waiting"])
            cells += [
                spread(got["held"], ".2f"),
                f"{spread(got['waiting'], '.2f')} ({waiting / workers:.0%})",
                spread(got["per_receive"], ".3f"),
            ]
            said(lines, "| " + " | ".join(cells) + " |")
        finish(lines, args.out)


if __name__ == "__main__":
    main()
