"""``python -m threadcore`` (or the ``threadcore`` console script): the command line.

``python -m threadcore demo`` is the quick start; see docs/cli.md for every command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The console script's entry point: run the command line and return its exit code."""
    from threadcore.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
