"""Instructions per in-memory ``receive``, counted (not timed): threadcore, the bare loop and the
floors, each run under valgrind's instruction counter.

    python bench/bench_instructions.py [--pairs 10000] [--messages 100000]

On a shared, noisy machine two timed runs of the same tree differ by 10-30% (the bare loop most
of all), so a same-run ratio of a few percent cannot be told from noise. The count of machine
instructions a run executes is the same from run to run within about 1%: this bench runs each
contender in a child process under ``valgrind --tool=cachegrind --cache-sim=no``, once with the
workload and once without it, and divides the difference by the messages. It counts work, not
time: cache misses and memory stalls are not in it, so it ranks changes to the Python that runs
(calls, allocations, formatting) and leaves the timed benches (``bench_receive``,
``bench_floor``) the judges of speed. With ``PYTHONHASHSEED`` fixed (done here), the counts
repeat within about 1%. Needs ``valgrind`` on the PATH; takes minutes (valgrind runs Python about
50 times slower).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENDERS = (
    "bare",
    "floor_records",
    "floor_attrs",
    "floor_checked",
    "floor_rules",
    "layers",
    "threadcore",
)


def child(name: str, pairs: int, messages: int) -> None:
    """Run ``name`` once over ``messages`` messages (none: only the setup, to subtract)."""
    sys.path.insert(0, str(HERE))
    import bench_floor
    import bench_receive

    work = bench_receive.workload(pairs, messages)
    bench_receive.threadcore_loop(bench_receive.workload(pairs, pairs))  # numbers parsed once
    run = {
        "bare": bench_receive.bare_loop,
        "floor_records": bench_floor.floor_records,
        "floor_attrs": bench_floor.floor_attrs,
        "floor_checked": bench_floor.floor_checked,
        "floor_rules": bench_floor.floor_rules,
        "layers": bench_floor.threadcore_layers,
        "threadcore": bench_receive.threadcore_loop,
    }[name]
    if work:
        run(work)


def count(name: str, pairs: int, messages: int) -> int:
    """Instructions executed by a child running ``name`` over ``messages`` messages."""
    return instructions(
        [__file__, "--child", name, "--pairs", str(pairs), "--messages", str(messages)]
    )


def instructions(argv: list[str]) -> int:
    """Instructions executed by a child Python running ``argv`` (a script and its arguments)
    under valgrind's counter, with ``PYTHONHASHSEED`` fixed (also ``bench_sqlite --count``)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, *argv],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pairs, args.messages)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on the PATH (apt-get install valgrind)")
    per_message = {
        name: (count(name, args.pairs, args.messages) - count(name, args.pairs, 0)) / args.messages
        for name in CONTENDERS
    }
    bare = per_message["bare"]
    print(f"receive, {args.pairs:,} pairs, {args.messages:,} messages (instructions, valgrind)")
    for name in CONTENDERS:
        n = per_message[name]
        print(f"  {name:15s} {n:10,.0f} instructions/message  1/{n / bare:5.2f} of bare")
    core = per_message["threadcore"]
    print(f"  threadcore / plain attrs floor: {core / per_message['floor_attrs']:.2f}x")


if __name__ == "__main__":
    main()
