"""Short ids for the command line: each id shown by the shortest tail that no other id of the
same set ends with, and a given short id read back to the one id it stands for (docs/cli.md).

The tail, not the head: ids made by one process (:class:`threadcore.ids.RandomIds`) increase from a
random start by random steps, so their first twelve hex digits are shared and their last ones
are random, as ``git log --oneline`` counts on for the head of a hash.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MIN_LENGTH", "ShortIds"]

#: The fewest characters a short id has (an id shorter than that is shown whole): 32 random
#: bits of a UUID's tail, so a short id seldom grows as the store grows.
MIN_LENGTH = 8


class ShortIds:
    """The short forms of a set of ids (the records a handler may see, of one kind).

    :meth:`short` is an id's shortest tail, at least :data:`MIN_LENGTH` characters, that no other
    id of the set ends with (the whole id when it is itself the tail of another); :meth:`matches`
    reads a given text back: the id it equals, else every id it is the tail of.
    """

    __slots__ = ("_ids", "_length")

    def __init__(self, ids: Iterable[str], minimum: int = MIN_LENGTH) -> None:
        self._ids = sorted(set(ids), key=lambda i: i[::-1])
        self._length: dict[str, int] = {}
        # Sorted by their reversed text, the id sharing the longest tail with an id is a neighbour.
        for index, id_ in enumerate(self._ids):
            shared = max(
                (
                    _common_tail(id_, self._ids[other])
                    for other in (index - 1, index + 1)
                    if 0 <= other < len(self._ids)
                ),
                default=0,
            )
            self._length[id_] = min(len(id_), max(minimum, shared + 1))

    def short(self, id_: str) -> str:
        """The short form of ``id_`` (the whole id when it is not one of the set)."""
        length = self._length.get(id_)
        return id_ if length is None else id_[-length:]

    def matches(self, given: str) -> list[str]:
        """The ids ``given`` stands for: ``[given]`` when it is one of them (a whole id wins),
        else every id ending with it, in the set's order (empty: none)."""
        if given in self._length:
            return [given]
        if not given:
            return []
        return sorted(i for i in self._ids if i.endswith(given))


def _common_tail(a: str, b: str) -> int:
    count = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        count += 1
    return count
