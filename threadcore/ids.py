"""Id adapters: random UUID-shaped ids (the default), and sequential ids for readable tests."""

from __future__ import annotations

import itertools
import os
import threading

__all__ = ["RandomIds", "SequentialIds"]

#: Bumped in every forked child, so a generator made before a fork draws a new prefix after it.
_fork_generation = [0]


def _after_fork() -> None:
    _fork_generation[0] += 1


os.register_at_fork(after_in_child=_after_fork)


class RandomIds:
    """UUID-shaped ids (``8-4-4-4-12`` hex): a random 80-bit prefix per process and a counter.

    Drawing the prefix once per generator and process (again in a forked child) keeps ids unique
    across the many processes that share one database, at a fraction of ``uuid4``'s cost per id.
    """

    __slots__ = ("_counter", "_generation", "_prefix")

    def __init__(self) -> None:
        self._reseed()

    def _reseed(self) -> None:
        raw = os.urandom(10).hex()
        self._generation = _fork_generation[0]
        self._prefix = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-"
        # Between 2**44 and 2**48 a counter is exactly 12 hex digits, so ``hex`` (cheaper than a
        # padded format) needs no padding. Starting below 2**45 leaves room for 2**47 ids.
        self._counter = itertools.count((1 << 44) + (int.from_bytes(os.urandom(5), "big") << 4))

    def new_id(self) -> str:
        """A fresh id."""
        if self._generation != _fork_generation[0]:
            self._reseed()
        return self._prefix + hex(next(self._counter))[2:]


class SequentialIds:
    """``prefix-1``, ``prefix-2`` …: deterministic ids for tests and examples."""

    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """The next id."""
        with self._lock:
            return f"{self._prefix}-{next(self._counter)}"
