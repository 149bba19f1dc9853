"""One paging style (issue 23): the arguments every forward read takes, and the old names.

Every forward read takes ``limit`` and an opaque ``cursor`` and answers
:class:`~threadcore.Page` ``(records, next_cursor)``; the numbered pages of the platform's wire are
one read of their own (:func:`threadcore.inbox.queries.numbered_page`). The names used before
(``per_page``, ``page_token``, ``page``, ``after``) keep working for one release, each with a
:class:`DeprecationWarning`, through :func:`legacy`.
"""

from __future__ import annotations

import enum
import warnings
from typing import Final, TypedDict

import attrs

from threadcore.domain.errors import InvalidInput, InvalidPageToken
from threadcore.tokens import TokenCodec

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "UNSET",
    "Deprecated",
    "Legacy",
    "Unset",
    "check_limit",
    "legacy",
]

#: The page size of every list read that names none (threads, messages, notes, outbound).
DEFAULT_LIMIT: Final = 100
#: The largest page a read serves.
MAX_LIMIT: Final = 1000


class Unset(enum.Enum):
    """The default of a deprecated keyword: not given."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


class Deprecated(TypedDict, total=False):
    """The paging keywords a read took before 1.0, which it still takes as ``**old`` for one
    release and hands to :func:`legacy` (each warns): declared once for every read."""

    per_page: int | None
    page_token: str | None
    page: int | None


def check_limit(value: object, name: str = "limit") -> int:
    """``value`` as a page size, 1..1000 (``InvalidInput`` naming ``name`` otherwise)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"Parameter [{name}] must be an integer 1..{MAX_LIMIT}", parameter=name)
    return value


@attrs.frozen
class Legacy:
    """A read's paging arguments once the old names are folded into the new ones."""

    limit: int | None
    cursor: str | None
    page: int | None = None
    #: the name a fault of ``limit`` is reported under (``per_page`` when the caller used it)
    limit_name: str = "limit"


def _warn(read: str, old: str, new: str) -> None:
    warnings.warn(
        f"{read}({old}=...) is deprecated since threadcore 1.0: use {new}",
        DeprecationWarning,
        stacklevel=4,
    )


def legacy(
    read: str,
    limit: int | None,
    cursor: str | None,
    *,
    default: int | None,
    old: Deprecated,
) -> Legacy:
    """The paging of ``read`` called with ``limit``/``cursor`` (``limit`` ``default`` when the
    caller left it) and perhaps the ``old`` names, each of which warns: ``per_page`` is
    ``limit``, ``page_token`` is ``cursor``, ``page`` asks for a numbered page (now
    :meth:`~threadcore.Inbox.numbered_page`). Giving an old name and its new one is
    ``InvalidInput``; a name that is neither is the ``TypeError`` Python gives a call."""
    if unknown := sorted(old.keys() - Deprecated.__optional_keys__):
        raise TypeError(f"{read}() got an unexpected keyword argument {unknown[0]!r}")
    per_page = old.get("per_page", UNSET)
    page_token = old.get("page_token", UNSET)
    page = old.get("page", UNSET)
    name = "limit"
    if per_page is not UNSET:
        _warn(read, "per_page", "limit=")
        if limit != default:
            raise InvalidInput("Give either limit or per_page, not both", parameter="limit")
        limit, name = per_page, "perPage"
    if page_token is not UNSET:
        _warn(read, "page_token", "cursor=")
        if cursor is not None:
            raise InvalidInput("Give either cursor or page_token, not both", parameter="cursor")
        cursor = page_token
    numbered = None
    if page is not UNSET:
        _warn(read, "page", _NUMBERED_INSTEAD.get(read, _NUMBERED))
        numbered = page
    return Legacy(limit, cursor, numbered, name)


_NUMBERED = "Inbox.numbered_page(filter, actor=..., page=..., per_page=...)"
#: What replaces ``page=`` on a thread's own reads, which ``numbered_page`` does not list alike.
_NUMBERED_INSTEAD = {
    "messages": "limit= and cursor=, or numbered_page(MessageFilter(thread_ids=[...]), ...), "
    "which answers an empty page, not ThreadNotFound, for a thread the actor cannot see",
    "drafts": "limit= and cursor= (drafts have no numbered read)",
}

#: The token kind of a feed's cursor (the event outbox and what is read through it).
_FEED = "feed"


def feed_cursor(tokens: TokenCodec, position: int) -> str:
    """The cursor that reads the feed on after ``position`` (signed, bound to the store)."""
    return tokens.encode(_FEED, "", {"p": position})


def feed_position(tokens: TokenCodec, cursor: str) -> int:
    """The position a feed's cursor reads on after (``InvalidPageToken`` if it is not one)."""
    position = tokens.decode(cursor, _FEED, "", InvalidPageToken).get("p")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise InvalidPageToken("malformed")
    return position


def feed_start(tokens: TokenCodec, read: str, cursor: str | None, after: int | Unset) -> int:
    """Where a feed read starts: after the cursor's position, after the deprecated ``after``
    (which warns), or at the feed's beginning."""
    if after is UNSET:
        return 0 if cursor is None else feed_position(tokens, cursor)
    _warn(read, "after", "cursor=")
    if cursor is not None:
        raise InvalidInput("Give either cursor or after, not both", parameter="cursor")
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput("Parameter [after] must be a non-negative integer", parameter="after")
    return after
