"""What the capability contracts share: the repository fixture, helpers that store records, and the
sample records and queries they use."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st

from threadcore.domain import transitions as tx
from threadcore.domain.events import MessageAdded, ThreadOpened
from threadcore.domain.model import (
    Availability,
    Classification,
    DeliveryStatus,
    Direction,
    Handler,
    Keyword,
    Message,
    MessageSource,
    Note,
    Resource,
    Thread,
    ThreadUser,
)
from threadcore.ports import (
    ChangeFeed,
    DirectoryRecords,
    MessageQuery,
    Prefetch,
    Queries,
    Repository,
    ThreadQuery,
    UnitOfWork,
    require,
)

T0 = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)


TTL = timedelta(hours=72)


Q1, Q2 = "6249888001", "6249888002"


RESOURCES = {
    Q1: Resource(Q1, name="Billing", phone_numbers=["+12092480001"], handlers=["101", "102"]),
    Q2: Resource(Q2, name="Support", phone_numbers=["+12092480002"], handlers=[Handler("103")]),
}


HOSTILE = [
    "' OR '1'='1",
    '"; DROP TABLE threads; --',
    "x" * 10_000,
    "\u202e\U0001f4a9\u00e9",
    "%",
    "_",
    "\\",
    "a\x00b",
]


def _thread(
    tid: str, guest: str, at: datetime, owner: str = Q1, body: str = "Hi"
) -> tuple[Thread, Message]:
    resource = RESOURCES[owner]
    thread, _ = tx.open_thread(tid, resource, resource.phone_numbers[0], guest, None, None, at)
    message = Message(f"{tid}-m1", tid, Direction.INBOUND, body, guest,
                      resource.phone_numbers[0], None, at, at)  # fmt: skip
    thread, _ = tx.add_message(thread, message)
    return thread, message


def _message(mid: str, thread: Thread, at: datetime, body: str = "Hello", **fields: Any) -> Message:
    """An outbound message (or, with ``status=DeliveryStatus.DRAFT``, a draft) on ``thread``."""
    return Message(mid, thread.id, Direction.OUTBOUND, body, thread.owner_party.phone_number,
                   thread.guest_party.phone_number, AUTHOR, at, at, **fields)  # fmt: skip


def _note(nid: str, thread: Thread, at: datetime, text: str = "a note") -> Note:
    return Note(nid, thread.id, AUTHOR, text, at, at)


AUTHOR = ThreadUser("101", "Ann", "User")


CLASSIFIED = Classification(
    "c1",
    "payment_inquiry",
    T0,
    confidence=0.875,
    reason="mentions an invoice",
    is_action_required=True,
    is_reply_required=False,
    language="en",
    action_recommendation="send the invoice",
    details={"invoice": "INV-7", "amounts": [1, 2.5, None], "nested": {"ok": True}},
)


#: A message with every field set to something other than its default.
FULL = attrs.evolve(
    _message("full", _thread("t1", "+16502240001", T0)[0], T0 + timedelta(seconds=1),
             "Your invoice \u00e9\U0001f4a9"),
    provider_message_id="prov-full",
    status=DeliveryStatus.DELIVERY_FAILED,
    sent_at=T0 + timedelta(seconds=2),
    delivered_at=T0 + timedelta(seconds=3),
    read_at=T0 + timedelta(seconds=4),
    error_code="SMS-CAR-413",
    is_automated=True,
    source=MessageSource.API,
    content_type="text/x-custom",
    attachments=("https://files.example/a.png", "https://files.example/b.pdf"),
    classifications=(CLASSIFIED, attrs.evolve(CLASSIFIED, id="c2", details={})),
    last_modified_at=T0 + timedelta(seconds=5),
    version=7,
)  # fmt: skip


_IDS = itertools.count()


# The property tests share one repository per test (each example writes under fresh ids), and
# every adapter's subclass runs the same test function: examples found failing on one adapter
# are replayed on the others, which is what a contract wants.
_SHARED_EXAMPLES = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.differing_executors,
]


_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                max_size=20)  # fmt: skip


_TIMES = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


_CLASSIFICATIONS = st.builds(
    Classification,
    id=_TEXT,
    classification=_TEXT,
    created_at=_TIMES,
    confidence=st.none() | st.floats(0, 1),
    reason=st.none() | _TEXT,
    is_action_required=st.none() | st.booleans(),
    is_reply_required=st.none() | st.booleans(),
    language=st.none() | _TEXT,
    action_recommendation=st.none() | _TEXT,
    details=st.dictionaries(_TEXT, _JSON, max_size=3),
)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_MESSAGE_FIELDS = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(Direction),
        "body": _TEXT,
        "author": _optional(st.builds(ThreadUser, _TEXT, _optional(_TEXT), _TEXT)),
        "created_at": _TIMES,
        "last_modified_at": _TIMES,
        "availability": st.sampled_from(Availability),
        "status": st.sampled_from(DeliveryStatus),
        "sent_at": _optional(_TIMES),
        "delivered_at": _optional(_TIMES),
        "read_at": _optional(_TIMES),
        "error_code": _optional(_TEXT),
        "is_automated": st.booleans(),
        "source": _optional(st.sampled_from(MessageSource)),
        "content_type": _TEXT,
        "attachments": st.lists(_TEXT, max_size=3).map(tuple),
        "classifications": st.lists(_CLASSIFICATIONS, max_size=2).map(tuple),
        "keyword": _optional(st.sampled_from(Keyword)),
        "version": st.integers(1, 2**31 - 1),
        "with_provider_id": st.booleans(),
    }
)


_Q = TypeVar("_Q", ThreadQuery, MessageQuery)


def _scoped(kind: type[_Q], **overrides: object) -> _Q:
    """A ``kind`` query of both resources' threads, due a ttl before T0, with ``overrides``."""
    base: dict[str, object] = {"owner_extension_ids": frozenset({Q1, Q2}), "due_cutoff": T0 - TTL}
    return kind(**{**base, **overrides})  # type: ignore[arg-type]


_query = functools.partial(_scoped, ThreadQuery)
_messages_query = functools.partial(_scoped, MessageQuery)


class ContractBase:
    """The fixture and helpers every capability contract uses; implement ``make_repository``."""

    def make_repository(self) -> Repository:
        """A new, empty repository of the adapter under test."""
        raise NotImplementedError

    @pytest.fixture
    def repo(self) -> Iterator[Repository]:
        repository = self.make_repository()
        yield repository
        close = getattr(repository, "close", None)
        if callable(close):
            close()

    def store(self, repo: Repository, *items: tuple[Thread, Message]) -> None:
        for thread, message in items:
            with repo.unit_of_work() as uow:
                uow.save_thread(thread, 0)
                uow.add_message(message)
                uow.append_events(
                    [
                        ThreadOpened(thread.id, thread.creation_time, thread.owner.extension_id,
                                     thread.owner_party.phone_number,
                                     thread.guest_party.phone_number, None, None),
                        MessageAdded(thread.id, message.created_at, message.id,
                                     message.direction, None),
                    ]
                )  # fmt: skip

    def send_later(self, repo: Repository, thread: Thread, count: int) -> list[Message]:
        """Store ``count`` outbound messages on ``thread`` (``m2``, ``m3``, ... a second apart,
        with carrier ids ``p2``, ``p3``, ...), one unit of work each; the messages."""
        later = []
        for i in range(2, 2 + count):
            at = T0 + timedelta(seconds=i)
            m = Message(f"m{i}", thread.id, Direction.OUTBOUND, f"body {i}",
                        thread.owner_party.phone_number, thread.guest_party.phone_number, None,
                        at, at, Availability.ALIVE, f"p{i}")  # fmt: skip
            later.append(m)
            with repo.unit_of_work() as uow:
                current = uow.thread(thread.id)
                assert current is not None
                uow.save_thread(tx.add_message(current, m)[0], current.version)
                uow.add_message(m)
        return later

    def add(self, repo: Repository, *records: Message | Note) -> None:
        """Store new messages, drafts and notes, one unit of work."""
        with repo.unit_of_work() as uow:
            for record in records:
                if isinstance(record, Note):
                    uow.save_note(record, 0)
                else:
                    uow.add_message(record)


def found_ids(
    find: Callable[..., Sequence[Any]], count: Callable[[Any], int], query: Any, limit: int
) -> list[str]:
    """The ids ``find(query, limit)`` returns, checked against numbered paging on the way:
    ``find(query, limit, offset)`` is a slice of the whole at every offset, and ``count``
    is the whole's length with ``query.after`` ignored."""
    found = [record.id for record in find(query, limit)]
    whole = [record.id for record in find(query, 50)]
    for offset in range(len(whole) + 1):
        page = [record.id for record in find(query, limit, offset)]
        assert page == whole[offset : offset + limit], offset
    assert count(query) == len(find(attrs.evolve(query, after=None), 50))
    return found


def queries(uow: UnitOfWork) -> Queries:
    """``uow``'s :class:`~threadcore.ports.Queries` (``Unsupported`` without them)."""
    return require(uow, Queries)


def feed(uow: UnitOfWork) -> ChangeFeed:
    """``uow``'s :class:`~threadcore.ports.ChangeFeed` (``Unsupported`` without it)."""
    return require(uow, ChangeFeed)


def prefetch(uow: UnitOfWork) -> Prefetch:
    """``uow``'s :class:`~threadcore.ports.Prefetch` (``Unsupported`` without it)."""
    return require(uow, Prefetch)


def records(uow: UnitOfWork) -> DirectoryRecords:
    """``uow``'s :class:`~threadcore.ports.DirectoryRecords` (``Unsupported`` without them)."""
    return require(uow, DirectoryRecords)
