"""The benchmarks' clock: one microsecond later at each reading, as a real clock's readings
differ between commands.

A frozen ``ManualClock`` puts every command at the store's latest instant, where rule Q2 makes
it read the ids created then (``CreationTies``: one statement more on SQL, only there); a real
clock almost never reads that very instant. Benchmarks measure the path a real clock takes,
deterministically (``bench_stored_clock.py`` measures a frozen shared clock on purpose).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from threadcore import ManualClock

__all__ = ["TickingClock"]

_TICK = timedelta(microseconds=1)


class TickingClock(ManualClock):
    """A :class:`~threadcore.ManualClock` that moves a microsecond forward at each reading
    (``set`` and ``advance`` still move it further)."""

    __slots__ = ()

    def now(self) -> datetime:
        self._now = at = self._now + _TICK
        return at
