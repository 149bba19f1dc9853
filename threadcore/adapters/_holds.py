"""A consumer's hold on its name (see ``ConsumerStore.try_hold_consumer``), released once, and
the refusal of a commit past the end of the feed (``ConsumerStore.commit_consumer``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from threadcore.domain.errors import InvalidInput

__all__ = ["Hold", "LocalHolds", "unreached"]


def unreached(position: int, end: int) -> InvalidInput:
    """The refusal of a consumer's commit of ``position``, past ``end``, the feed's last position
    so far: a cursor there would skip the events still to come at the positions between."""
    return InvalidInput(
        f"Parameter [position] {position} is past the end of the event feed ({end}): commit "
        "a position poll() answered",
        parameter="position",
    )


class Hold:
    """Held until :meth:`release` (which is safe to call again); :meth:`held` says whether it
    still is (``check`` asks the database where the hold can be lost with a connection);
    :meth:`wait` waits for new events (``wait`` is told when one may have come: a notification;
    without it, the whole timeout passes)."""

    __slots__ = ("_check", "_release", "_released", "_wait")

    def __init__(
        self,
        release: Callable[[], None],
        check: Callable[[], bool] | None = None,
        wait: Callable[[float], None] | None = None,
    ) -> None:
        self._release, self._check, self._released = release, check, False
        self._wait = wait if wait is not None else time.sleep

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, less when the store says new events may be there."""
        self._wait(timeout)

    def held(self) -> bool:
        """Whether this process still holds the name."""
        return not self._released and (self._check is None or self._check())

    def release(self) -> None:
        """Let the name go (once; later calls do nothing)."""
        if not self._released:
            self._released = True
            self._release()


class LocalHolds:
    """Holds on consumer names within one process (a store that lives in this process only)."""

    __slots__ = ("_guard", "_locks")

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def try_hold(self, name: str) -> Hold | None:
        """A hold on ``name``, or ``None`` when this process holds it already."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        return Hold(lock.release) if lock.acquire(blocking=False) else None
