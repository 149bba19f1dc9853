"""The PostgreSQL a benchmark runs on: the URL it was given, or a throwaway server started with
``tests/pg_server.py`` for the duration (fsync off: the benchmarks measure CPU and round trips,
not the disk)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The environment variable a benchmark's ``--url`` defaults to.
URL_VARIABLE = "THREADCORE_TEST_POSTGRES_URL"


def default_url() -> str | None:
    return os.environ.get(URL_VARIABLE)


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """``url``, or the URL of a throwaway server that is stopped when the block ends."""
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    server = importlib.import_module("pg_server").start()  # tests/pg_server.py
    try:
        yield server.url
    finally:
        server.stop()
