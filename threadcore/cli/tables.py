"""Tables of one line a row, as ``kubectl get`` prints them: no borders, fixed columns at their
widest value, and the free-text columns (names, labels, bodies) cut with an ellipsis to fit the
console's width (80 columns when it is not a terminal; ``COLUMNS`` says otherwise)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import attrs
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from threadcore import DeliveryStatus, StatusReason, Thread, ThreadStatus
from threadcore.model import Availability

__all__ = ["Column", "age", "delivery", "one_line", "printable", "short_time", "state", "table"]

_GAP = 2  # spaces between columns
_NARROWEST = 4  # a cut column keeps at least this many cells ("Sa…"), before rich cuts the rest


@attrs.frozen
class Column:
    """A column: its header, and whether it may be cut (free text: names, labels, bodies) or
    keeps its widest value. A cut column is cut down to ``keep`` cells before any other cut
    column is cut below its own ``keep``, so a label keeps more of itself than a name."""

    header: str
    cut: bool = False
    keep: int = 8


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> Table:
    """The rows as a borderless table at most ``width`` cells wide, one line a row.

    Columns that may not be cut are as wide as their widest value; the others share what is
    left: first each is cut down to its ``keep``, the widest first, then all of them alike,
    each keeping a few cells; a cut value ends with "…". Every value is made one line first
    (:func:`one_line`).
    """
    cells = [[one_line(value) for value in row] for row in rows]
    widths = [
        max([cell_len(c.header), *(cell_len(row[i]) for row in cells)])
        for i, c in enumerate(columns)
    ]
    excess = sum(widths) + _GAP * (len(columns) - 1) - width
    for floors in ([c.keep for c in columns], [_NARROWEST] * len(columns)):
        while excess > 0:
            cuttable = [i for i, c in enumerate(columns) if c.cut and widths[i] > floors[i]]
            if not cuttable:
                break  # narrower than the fixed columns: rich cuts what it must
            widest = max(cuttable, key=widths.__getitem__)
            below = max([floors[widest], *(widths[i] for i in cuttable if i != widest)])
            step = min(excess, max(widths[widest] - below, 1))
            widths[widest] -= step
            excess -= step
    out = Table(box=None, padding=(0, _GAP // 2), pad_edge=False, header_style="bold")
    for column, column_width in zip(columns, widths, strict=True):
        out.add_column(column.header, width=column_width, no_wrap=True, overflow="ellipsis")
    for row in cells:
        out.add_row(*(Text(value) for value in row))
    return out


_BLANKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def one_line(text: str | None) -> str:
    """``text`` on one line: every run of blanks and control characters becomes one space."""
    return _BLANKS.sub(" ", text or "").strip()


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str | None) -> str:
    """``text`` whole, its lines kept, and every other control character (an escape sequence a
    guest's text may carry) shown as ``\\x1b`` instead of reaching the terminal."""
    return _CONTROLS.sub(lambda found: f"\\x{ord(found.group()):02x}", text or "")


_REASONS = {
    StatusReason.MANUAL: "resolved/manual",
    StatusReason.THREAD_EXPIRED: "expired",
    StatusReason.OWNER_DELETED: "resolved/owner",
    StatusReason.OWNER_PHONE_NUMBER_DELETED: "resolved/number",
}


def state(thread: Thread) -> str:
    """A thread's status and reason in one short word: ``open``, ``resolved/manual``,
    ``expired``, ``resolved/owner`` (its resource was removed), ``resolved/number`` (its number
    was), ``deleted``."""
    if thread.availability is Availability.DELETED:
        return "deleted"
    if thread.status is ThreadStatus.OPEN:
        return "open"
    return _REASONS[thread.status_reason] if thread.status_reason else "resolved"


_DELIVERY = {
    DeliveryStatus.SENDING_FAILED: "not sent",
    DeliveryStatus.DELIVERY_FAILED: "undelivered",
}


def delivery(status: DeliveryStatus) -> str:
    """A message's delivery status in one short word (``received``, ``queued``, ``sent``,
    ``delivered``, ``read``, ``not sent``, ``undelivered``, ``draft``)."""
    return _DELIVERY.get(status, status.value.lower())


def age(then: datetime, now: datetime) -> str:
    """How long before ``now`` ``then`` was, as ``kubectl`` shows ages: ``45s``, ``12m``,
    ``5h``, ``3d`` (``-`` for an instant after ``now``, as ``--at`` may look back)."""
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size * (2 if unit == "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def short_time(at: datetime) -> str:
    """An instant in UTC to the minute, without its year: ``02-17 17:03``."""
    return at.strftime("%m-%d %H:%M")
