"""Id adapters: random UUIDs (the default), and sequential ids for readable tests."""

from __future__ import annotations

import itertools
import os
import struct
import threading
from collections import deque

__all__ = ["RandomIds", "SequentialIds"]

#: Bumped in every forked child, so a generator made before a fork draws a new prefix after it.
_fork_generation = [0]


def _after_fork() -> None:
    _fork_generation[0] += 1


os.register_at_fork(after_in_child=_after_fork)


_RANDOM_BITS = 122  # a version 4 UUID's: all but the version (4 bits) and the variant (2)
_BATCH = 64  # ids made at a time, from as many random steps (8 bytes each of the OS's randomness)
_UNPACK_STEPS = struct.Struct(f">{_BATCH}Q").unpack
_PLUS_ONE = (1).__add__
_HEAD = "%08x-%04x-4"  # the first 48 bits, and the version (4)
_TAIL = "%s%03x-%04x-%012x"  # the head, 12 bits, the variant (10) and 14 bits, 48 bits
_LOW = 0xFFFFFFFFFFFF


class RandomIds:
    """Random UUIDs (RFC 9562 version 4) that cannot be guessed from one another, in increasing
    order within a generator.

    Each id's 122 random bits are the previous id's plus a random 64-bit step (the "monotonic
    random" method of RFC 9562 section 6.2), starting from a random value: knowing an id tells
    nothing usable of the next, and ids made in one process sort in the order they were made
    (records created in the same instant are then listed in creation order). Randomness comes
    from ``os.urandom``. Ids are made 64 at a time and handed out in order (one formatting pass
    costs less than a lock and the arithmetic per id). Safe to share between threads; drawn anew
    in a forked child, so processes forked from one another never share ids.
    """

    __slots__ = ("_generation", "_lock", "_ready", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: deque[str] = deque()  # made and not handed out yet, in order
        self._reset()

    def _reset(self) -> None:
        self._generation = _fork_generation[0]
        # below 2**121: room for 2**57 steps of at most 2**64 before the 122 bits run out
        self._value = int.from_bytes(os.urandom(16), "big") >> 7
        self._ready.clear()

    def new_id(self) -> str:
        """A fresh id."""
        if self._generation == _fork_generation[0]:
            try:
                return self._ready.popleft()  # atomic: threads sharing the generator take turns
            except IndexError:
                pass
        return self._make()

    def _make(self) -> str:
        """Make the next batch of ids and hand out the first (a forked child first starts again
        from a new random value)."""
        with self._lock:
            if self._generation != _fork_generation[0]:
                self._reset()
            elif self._ready:  # another thread made a batch meanwhile
                return self._ready.popleft()
            values = self._steps_from(self._value)
            if values[-1] >> _RANDOM_BITS:  # 2**57 ids later: start again from a random value
                self._reset()
                values = self._steps_from(self._value)
            self._value = values[-1]
            ids = _formatted(values)
            self._ready.extend(ids[1:])
            return ids[0]

    @staticmethod
    def _steps_from(value: int) -> list[int]:
        """The ``_BATCH`` values after ``value``, each the previous plus 1 and a random step."""
        steps = map(_PLUS_ONE, _UNPACK_STEPS(os.urandom(8 * _BATCH)))
        return list(itertools.accumulate(steps, initial=value))[1:]


def _formatted(values: list[int]) -> list[str]:
    """The UUIDs of the 122 random bits of each of ``values``, in order: the bits around the
    version (4) and the variant (10): 48 bits, "4" and 12 bits, the variant and 14 bits, 48
    bits. The first 48 bits change once in about two thousand steps: their text is made once for
    the ids that share it."""
    ids: list[str] = []
    seen, head = -1, ""
    for value in values:
        top = value >> 74
        if top != seen:
            seen, head = top, _HEAD % (top >> 16, top & 0xFFFF)
        ids.append(
            _TAIL % (head, (value >> 62) & 0xFFF, 0x8000 | ((value >> 48) & 0x3FFF), value & _LOW)
        )
    return ids


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
