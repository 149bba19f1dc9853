"""Public API usage that mypy --strict type-checks (it is not run by pytest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import assert_type

from threadcore import (
    Directory,
    Handler,
    Inbox,
    InMemoryRepository,
    ManualClock,
    Message,
    MessageFilter,
    Note,
    NoteFilter,
    NumberedPage,
    Page,
    Policy,
    Resource,
    StatusReason,
    Thread,
    ThreadcoreError,
    ThreadFilter,
    ThreadStatus,
)
from threadcore.events import Event
from threadcore.storage import StoredClock

directory = Directory(
    [
        Resource(
            extension_id="1",
            name="Q",
            phone_numbers=["+12092480001"],
            handlers=["101", Handler("102", name="Ann")],
        )
    ]
)
clock = ManualClock(datetime(2026, 2, 17, tzinfo=UTC))
shared = InMemoryRepository()
stored = StoredClock(shared, start=datetime(2026, 2, 17, tzinfo=UTC))  # every process's clock
moved: datetime = stored.advance(timedelta(days=1))
shown: datetime = stored.reading()
left: datetime | None = StoredClock.return_to_system_clock(shared)
inbox = Inbox(
    repository=InMemoryRepository(),
    directory=directory,
    clock=clock,
    policy=Policy(ttl=timedelta(hours=1)),
)
message: Message = inbox.receive(
    owner_number="+12092480001", guest_number="+16502240001", body="Hi"
)
thread: Thread = inbox.get(message.thread_id, actor="101")
status: ThreadStatus = thread.status
reason: StatusReason | None = thread.status_reason
resolved: list[Thread] = inbox.expire()
events: Page[tuple[int, Event]] = inbox.events(cursor=inbox.feed_cursor(0))
onward: str | None = events.next_cursor
drafts: Page[Message] = inbox.drafts(message.thread_id, actor="101", limit=10)
messages: Page[Message] = inbox.messages(message.thread_id, actor="101", limit=2, cursor=onward)
threads: Page[Thread] = inbox.list(actor="101", limit=10)
numbered: NumberedPage[Thread] = inbox.numbered_page(ThreadFilter(), actor="101", page=2)
numbered_messages: NumberedPage[Message] = inbox.numbered_page(MessageFilter(), actor="101")
numbered_notes: NumberedPage[Note] = inbox.numbered_page(NoteFilter(), actor="101", per_page=5)
old_style: Page[Message] = inbox.messages(message.thread_id, actor="101", per_page=2, page=1)
# The seams (issue 23): what services and tools use of an inbox besides its commands.
observed: list[int] = []
inbox.observe(lambda made: observed.append(len(made)))
workers: int = inbox.concurrency
exists: bool = inbox.thread_exists(thread.id)
by_carrier: Message | None = inbox.message_by_provider_id("SM1")
with inbox.batch():
    looked_ahead: bool = inbox.prefetch(pairs=[("+12092480001", "+16502240001")])
same_clock: bool = inbox.clock is clock and inbox.repository is not None
try:
    inbox.assign(thread.id, actor="101", assignee=None)
except ThreadcoreError as error:
    code: str = error.code
    http: int = error.status

# The homes of 1.0 (issue 23): records and enums, errors and events, each under its own name.
from threadcore.errors import ThreadDeletedError  # noqa: E402
from threadcore.events import ThreadDeleted  # noqa: E402
from threadcore.ids import SequentialIds  # noqa: E402
from threadcore.model import Availability, ThreadUser  # noqa: E402
from threadcore.storage import StoredDirectory  # noqa: E402

assignee: ThreadUser | None = thread.assignee
alive: bool = thread.availability is Availability.ALIVE
gone: type[ThreadcoreError] = ThreadDeletedError
deleted: list[ThreadDeleted] = [e for _, e in events if isinstance(e, ThreadDeleted)]
stored_inbox = Inbox(
    repository=shared, directory=StoredDirectory(shared), ids=SequentialIds("t"), clock=clock
)

# Embedding the platform's API (docs/embedding.md): the wire's framework-free pieces, and
# threadcore.http's for a Starlette or FastAPI request.
from starlette.requests import Request  # noqa: E402

from threadcore import AsyncInbox, wire  # noqa: E402
from threadcore import http as served  # noqa: E402

answer: tuple[int, dict[str, object]] = wire.error_answer(ThreadcoreError("x"), wire.SEND_NAMES)
with wire.renaming(wire.ASSIGN_NAMES):
    inbox.assign(thread.id, actor="101", assignee=None)
sms: wire.CarrierInbound = wire.load_carrier_inbound(
    {"from": "+16502240001", "to": "+12092480001", "text": "Hi"}
)
received: Message = inbox.receive(**sms.arguments())
wire.load_no_query([("perPage", "1")])
document: object = wire.load_json_body("application/json", b"{}")
caller: served.Caller = served.Caller({"token": "101"}, reads_query=True)


async def numbered_async(ainbox: AsyncInbox) -> None:
    """The numbered read through the asyncio inbox keeps its record type."""
    found: NumberedPage[Thread] = await ainbox.numbered_page(ThreadFilter(), actor="101")
    assert found.paging is not None


def at_once(ainbox: AsyncInbox) -> None:
    """What the asyncio inbox answers at once has the inbox's own types (not ``Any``)."""
    assert_type(ainbox.now(), datetime)
    assert_type(ainbox.policy, Policy)
    assert_type(ainbox.concurrency, int)
    ainbox.subscribe(lambda event: None)


async def send(request: Request, ainbox: AsyncInbox) -> dict[str, object]:
    actor: str = caller(request)
    sent = await served.send_message(ainbox, actor, *await served.read_send(request))
    return served.with_attachment_entries(wire.dump_message(sent), request)
