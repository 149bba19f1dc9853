"""The ``threadcore`` command line: demo, replay, sweep, threads, directory, db, diagram
(docs/cli.md).

It needs the ``cli`` extra (click and rich); :func:`main` says so in one line when they are
missing instead of failing with a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

HINT = "threadcore: the command line needs the 'cli' extra: pip install 'threadcore[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        print(HINT, file=sys.stderr)
        return 1
    from threadcore.cli.app import run

    return run(argv)
