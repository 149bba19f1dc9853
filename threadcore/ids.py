"""Id adapters: random UUIDs (the default), and sequential ids for readable tests."""

from __future__ import annotations

import itertools
import os
import struct
import threading

__all__ = ["RandomIds", "SequentialIds"]

#: Bumped in every forked child, so a generator made before a fork draws a new prefix after it.
_fork_generation = [0]


def _after_fork() -> None:
    _fork_generation[0] += 1


os.register_at_fork(after_in_child=_after_fork)


_RANDOM_BITS = 122  # a version 4 UUID's: all but the version (4 bits) and the variant (2)
_FORMAT = "%08x-%04x-4%03x-%04x-%012x"  # version 4; the variant 10 (RFC 9562) in new_id
_STEPS = 512  # random increments drawn from the operating system at a time (8 bytes each)
_UNPACK_STEPS = struct.Struct(f">{_STEPS}Q").unpack


class RandomIds:
    """Random UUIDs (RFC 9562 version 4) that cannot be guessed from one another, in increasing
    order within a generator.

    Each id's 122 random bits are the previous id's plus a random 64-bit step (the "monotonic
    random" method of RFC 9562 section 6.2), starting from a random value: knowing an id tells
    nothing usable of the next, and ids made in one process sort in the order they were made
    (records created in the same instant are then listed in creation order). Randomness comes
    from ``os.urandom``, 4 KiB at a time. Safe to share between threads; drawn anew in a forked
    child, so processes forked from one another never share ids.
    """

    __slots__ = ("_at", "_generation", "_lock", "_steps", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._generation = _fork_generation[0]
        # below 2**121: room for 2**57 steps of at most 2**64 before the 122 bits run out
        self._value = int.from_bytes(os.urandom(16), "big") >> 7
        self._steps: tuple[int, ...] = ()
        self._at = 0

    def new_id(self) -> str:
        """A fresh id."""
        with self._lock:
            if self._generation != _fork_generation[0]:
                self._reset()
            at = self._at
            if at >= len(self._steps):  # 512 big-endian 64-bit steps, unpacked once
                self._steps, at = _UNPACK_STEPS(os.urandom(8 * _STEPS)), 0
            self._at = at + 1
            value = self._value + 1 + self._steps[at]
            if value >> _RANDOM_BITS:  # 2**57 ids later: start again from a random value
                self._reset()
                value = self._value
            self._value = value
        # The 122 bits around the version (4) and the variant (10): 48 bits, "4" and 12 bits,
        # the variant and 14 bits, 48 bits; formatted at once (no 128-bit int, no slicing).
        return _FORMAT % (
            value >> 90,
            (value >> 74) & 0xFFFF,
            (value >> 62) & 0xFFF,
            0x8000 | ((value >> 48) & 0x3FFF),
            value & 0xFFFFFFFFFFFF,
        )


class SequentialIds:
    """``prefix-1``, ``prefix-2`` …: deterministic ids for tests and examples.

    They sort as text, so ``prefix-10`` comes before ``prefix-9``: records created at one
    instant are listed in that order (ties by id, rule Q2). ``width`` pads the number with
    zeros (``width=4``: ``prefix-0001``), so that ids sort in the order they were made, as
    :class:`RandomIds` do.
    """

    def __init__(self, prefix: str = "id", *, width: int = 0) -> None:
        self._prefix = prefix
        self._width = max(width, 0)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """The next id."""
        with self._lock:
            return f"{self._prefix}-{next(self._counter):0{self._width}d}"
