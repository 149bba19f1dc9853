"""Clock adapters: the real time, and a manual clock for tests and replay."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from threadcore.domain.errors import InvalidInput
from threadcore.domain.validation import MAX_INSTANT, check_instant, check_utc

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC (``datetime.now``, so freezegun can freeze it in tests)."""

    __slots__ = ()

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to: for tests and for replaying a history.

    It never goes backwards: :meth:`set` to an earlier instant and :meth:`advance` by a negative
    amount are refused with :class:`~threadcore.errors.InvalidInput`, because a thread that has
    expired must never look open again.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: datetime) -> None:
        self._now = check_utc(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Move the clock to ``instant`` (timezone-aware, not earlier than now)."""
        instant = check_utc(instant, "instant")
        with self._lock:
            if instant < self._now:
                raise InvalidInput(
                    f"ManualClock cannot go back from {self._now.isoformat()} to "
                    f"{instant.isoformat()}",
                    parameter="instant",
                )
            self._now = instant

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta`` (zero or more)."""
        if not isinstance(delta, timedelta) or delta < timedelta(0):
            raise InvalidInput(
                f"ManualClock.advance needs a non-negative timedelta, got {delta!r}",
                parameter="delta",
            )
        with self._lock:
            try:
                moved = self._now + delta
            except OverflowError:
                moved = MAX_INSTANT + timedelta(days=1)  # past the range: refused just below
            self._now = check_instant(moved, "delta")

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
