"""The manual clock stored in the database (issue 25, rule R18c).

``threadcore serve --manual-clock START`` puts a database in manual time: the instant is stored in
it, and every process on it (each worker, ``threadcore sweep``, a consumer, ``open_inbox(...,
manual_clock=True)``) runs at that instant, which a move by any of them changes for all from
their next command on. A :class:`StoredClock` is the :class:`~threadcore.ports.Clock` port of
such a process: it reads the stored instant through the repository (:class:`~threadcore.ports.
ClockStore`), which answers it from the command's claim where it can, so a command costs no
more round trips. The in-process :class:`~threadcore.ManualClock` is another clock: one process's
own time, for tests and replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from threadcore.domain.errors import ClockMismatch, InvalidInput
from threadcore.domain.validation import MAX_INSTANT, check_instant, check_utc
from threadcore.ports import Clock, ClockStore

__all__ = ["StoredClock", "refuse_stored_clock", "run_at"]

#: How far after the store's latest instant a command runs when the clock is behind it (R18a).
_TICK = timedelta(microseconds=1)


def run_at(stored: datetime, latest: datetime | None) -> datetime:
    """The instant a command begun now runs at when the clock reads ``stored`` and the store's
    latest instant is ``latest``: the clock's, or just after the store's if the clock is behind
    it (rule R18a)."""
    return latest + _TICK if latest is not None and latest > stored else stored


def _begin(start: datetime, stored: datetime | None, latest: datetime | None) -> datetime:
    """Where a clock begun at ``start`` stands: ``start``, unless the stored clock or the store's
    latest instant is later; then there, rounded up to a whole millisecond (the precision the
    API shows) so that the instant shown is the instant commands run at."""
    at = run_at(start, latest) if stored is None else max(start, run_at(stored, latest))
    if at == start or at.microsecond % 1000 == 0:
        return at
    return check_instant(at + timedelta(microseconds=1000 - at.microsecond % 1000), "start")


def _not_manual(instant: datetime | None) -> datetime:
    if instant is None:
        raise ClockMismatch(
            "The database runs on the system clock, not on a stored manual clock: start one "
            "with --manual-clock START (open_inbox(manual_clock=START))"
        )
    return instant


class StoredClock:
    """A :class:`~threadcore.ports.Clock`: the manual time stored in ``repository``'s database.

    With ``start``, the database is first put in manual time at ``start``, or, when its stored
    clock (or the latest instant the store has recorded) is already later, the clock stays
    where it is: it never goes back. Without, the database must already be in manual time
    (:class:`~threadcore.errors.ClockMismatch` otherwise).

    :meth:`now` answers the stored instant; :meth:`advance` and :meth:`set` move it for every
    process on the database, from the instant commands run at (:meth:`reading`), so two
    ``advance(timedelta(days=1))`` move it two days whatever the store recorded before.
    """

    __slots__ = ("_repo", "_seen")

    def __init__(self, repository: ClockStore, *, start: datetime | None = None) -> None:
        if not isinstance(repository, ClockStore):
            raise InvalidInput(
                "Parameter [repository] must satisfy ClockStore", parameter="repository"
            )
        self._repo = repository
        if start is not None:
            start = check_utc(start, "start")
            begun = start
            repository.move_stored_clock(lambda stored, latest: _begin(begun, stored, latest))
        self._seen = _not_manual(repository.stored_clock())

    @property
    def repository(self) -> ClockStore:
        """The repository whose database stores this clock."""
        return self._repo

    def now(self) -> datetime:
        """The stored instant (never before one this clock already answered).

        Raises :class:`~threadcore.errors.ClockMismatch` once the database was returned to
        the system clock: restart the process without ``--manual-clock``."""
        instant = self._repo.stored_clock()
        if instant is None:
            raise ClockMismatch(
                "The database was returned to the system clock while this process ran on its "
                "stored manual clock: restart it without --manual-clock"
            )
        if instant > self._seen:
            self._seen = instant
        return self._seen

    def reading(self) -> datetime:
        """The instant a command begun now runs at: the stored instant, or just after the
        latest instant the store has recorded when that is later (rule R18a). What
        ``GET /threadcore/v1/clock`` answers. Stores nothing."""
        seen: list[datetime] = []

        def read(stored: datetime | None, latest: datetime | None) -> datetime | None:
            seen.append(run_at(_not_manual(stored), latest))
            return stored

        self._repo.move_stored_clock(read)
        return seen[0]

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` (zero or more) from :meth:`reading`, for every
        process on the database; the instant it stands at now."""
        if not isinstance(delta, timedelta) or delta < timedelta(0):
            raise InvalidInput(
                f"StoredClock.advance needs a non-negative timedelta, got {delta!r}",
                parameter="delta",
            )

        def forward(base: datetime) -> datetime:
            try:
                moved = base + delta
            except OverflowError:
                moved = MAX_INSTANT + timedelta(days=1)  # past the range: refused just below
            return check_instant(moved, "delta")

        return self._move(forward)

    def set(self, instant: datetime) -> datetime:
        """Move the clock to ``instant``, which must not be before :meth:`reading` (the error
        names the instant it must be at or after); the instant it stands at now."""
        instant = check_utc(instant, "instant")

        def to(base: datetime) -> datetime:
            if instant < base:
                raise InvalidInput(
                    f"Parameter [instant] must be at or after {base.isoformat()}: the stored "
                    "clock never goes back",
                    parameter="instant",
                )
            return instant

        return self._move(to)

    def _move(self, to: Callable[[datetime], datetime]) -> datetime:
        def move(stored: datetime | None, latest: datetime | None) -> datetime:
            return to(run_at(_not_manual(stored), latest))

        moved = _not_manual(self._repo.move_stored_clock(move))
        if moved > self._seen:
            self._seen = moved
        return moved

    @staticmethod
    def return_to_system_clock(repository: ClockStore) -> datetime | None:
        """Return ``repository``'s database to the system clock (``threadcore clock system``);
        the manual instant it left, or ``None`` if it ran on the system clock already. Stop the
        processes that run on the stored clock first: their next command is refused."""
        if not isinstance(repository, ClockStore):
            raise InvalidInput(
                "Parameter [repository] must satisfy ClockStore", parameter="repository"
            )
        left: list[datetime | None] = []

        def leave(stored: datetime | None, latest: datetime | None) -> None:
            left.append(stored)
            return None

        repository.move_stored_clock(leave)
        return left[0]

    def __repr__(self) -> str:
        return f"StoredClock({self._repo!r})"


def refuse_stored_clock(repository: object, clock: Clock | None) -> None:
    """Refuse (:class:`~threadcore.errors.ClockMismatch`) a process about to run on ``clock``
    (``None``: the system clock) over a database in manual time, unless ``clock`` is its
    :class:`StoredClock`."""
    if isinstance(clock, StoredClock) or not isinstance(repository, ClockStore):
        return
    instant = repository.stored_clock()
    if instant is not None:
        raise ClockMismatch(
            f"The database runs on its stored manual clock (at {instant.isoformat()}): run "
            "with --manual-clock, or return it to the system clock with `threadcore clock "
            "system --db URL`"
        )
