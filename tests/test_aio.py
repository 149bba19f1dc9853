"""``AsyncInbox``: the inbox for asyncio services (issue 15). Every command and read is a
coroutine run in a bounded pool of worker threads, so the event loop never waits on the
database."""

from __future__ import annotations

import asyncio
import inspect
import threading

import psycopg
import pytest
from conftest import GUEST, OWNER, START, billing_directory

from threadcore import AsyncInbox, Inbox, ManualClock
from threadcore.adapters.postgres import PostgresRepository
from threadcore.errors import InvalidInput, ThreadNotFound
from threadcore.storage import StoredDirectory

pytest_plugins = ["conftest_pg"]

#: What answers at once (no I/O), or takes another shape (a batch is a function run whole).
_NOT_COROUTINES = {"now", "subscribe", "consumer", "policy", "directory"}
_NOT_COROUTINES |= {"observe", "clock", "repository", "concurrency"}  # the seams (issue 23)


def _inbox(**kwargs: object) -> Inbox:
    return Inbox(directory=billing_directory(), clock=ManualClock(START), **kwargs)  # type: ignore[arg-type]


def test_every_public_method_of_the_inbox_is_offered_and_io_is_a_coroutine() -> None:
    ainbox = AsyncInbox(_inbox())
    for name in (n for n in dir(Inbox) if not n.startswith("_")):
        assert hasattr(ainbox, name), f"AsyncInbox has no {name}"
        if name not in _NOT_COROUTINES:
            assert inspect.iscoroutinefunction(getattr(ainbox, name)), name
    assert inspect.signature(ainbox.receive) == inspect.signature(_inbox().receive)


def test_commands_reads_batches_and_errors_as_on_the_inbox() -> None:
    async def scenario() -> None:
        async with AsyncInbox(_inbox()) as ainbox:
            message = await ainbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
            thread = await ainbox.assign(message.thread_id, actor="101", assignee="102")
            assert thread.assignee is not None
            assert [t.id for t in await ainbox.list(actor="102")] == [message.thread_id]
            with pytest.raises(ThreadNotFound):  # typed errors come through as they are
                await ainbox.get(message.thread_id, actor="999")
            both = await ainbox.batch(
                lambda inbox: [
                    inbox.receive(owner_number=OWNER, guest_number=GUEST, body=text).thread_id
                    for text in ("one", "two")
                ]
            )
            assert both == [message.thread_id] * 2
            assert len(await ainbox.messages(message.thread_id, actor="101")) == 3
            assert ainbox.now() == START

    asyncio.run(scenario())
    with pytest.raises(InvalidInput):
        AsyncInbox(_inbox(), max_workers=0)
    with pytest.raises(InvalidInput):
        AsyncInbox("an inbox")  # type: ignore[arg-type]


def test_the_loop_stays_responsive_while_commands_wait_on_the_database(
    postgres_url: str, pg_schema: str
) -> None:
    """Another session holds the threads table for a second and a half: the commands wait on
    the database, in the workers, while the loop goes on ticking (a command run on the loop
    itself would stop every tick until the lock went)."""
    repo = PostgresRepository(postgres_url, schema=pg_schema, max_size=3)
    inbox = Inbox(repository=repo, directory=StoredDirectory(repo), clock=ManualClock(START))
    inbox.load_directory(billing_directory().resources())
    ainbox = AsyncInbox(inbox)
    assert ainbox.max_workers == 3  # sized with the storage pool
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another process's session, on a thread of its own
        with psycopg.connect(postgres_url) as holder:
            holder.execute(f'LOCK TABLE "{pg_schema}".threads IN ACCESS EXCLUSIVE MODE')
            locked.set()
            release.wait(1.5)
            holder.rollback()

    async def scenario() -> tuple[int, bool, int]:
        ticks = 0
        stop = asyncio.Event()

        async def tick() -> None:
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        waiting = [
            asyncio.create_task(
                ainbox.receive(owner_number=OWNER, guest_number=f"+1650224000{n}", body="Hi")
            )
            for n in range(3)
        ]
        await asyncio.sleep(0.7)  # the commands wait on the lock; the loop should not
        blocked_ticks, none_done = ticks, not any(task.done() for task in waiting)
        messages = await asyncio.gather(*waiting)
        stop.set()
        await ticker
        return blocked_ticks, none_done, len(messages)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    try:
        blocked_ticks, none_done, done = asyncio.run(scenario())
    finally:
        release.set()
        holder.join()
    assert done == 3
    assert none_done  # they did wait on the database
    assert blocked_ticks >= 20, f"the loop ticked {blocked_ticks} times in 0.7 s of waiting"
    asyncio.run(ainbox.close())
