"""The inbox for asyncio services: :class:`AsyncInbox` (issue 15).

Every command and read of :class:`~threadcore.Inbox` is a coroutine here. Each runs in a worker
thread of a bounded pool sized with the storage's (a PostgreSQL pool's connections; one for
SQLite and memory, which let one unit of work in at a time), so the event loop never waits on the
database: while commands wait for their turn or for a lock, the loop serves everything else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from threadcore.domain.errors import InvalidInput
from threadcore.inbox import Inbox

__all__ = ["AsyncInbox"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _FromInbox:
    """An attribute of :class:`AsyncInbox` that is its inbox's attribute of the same name, with
    the inbox's docstring."""

    _name: str  # the attribute's name, the inbox's too (``list`` is ``list_threads`` inside)

    def __init__(self, attribute: object) -> None:
        self.__doc__ = attribute.__doc__

    def __set_name__(self, owner: type[AsyncInbox], name: str) -> None:
        self._name = name


class _Offloaded(_FromInbox, Generic[P, R]):
    """An :class:`Inbox` method, as a coroutine of :class:`AsyncInbox` run in its workers (one
    descriptor serves every method: the signature is the inbox's own, checked by type checkers)."""

    @overload
    def __get__(self, instance: None, owner: type[AsyncInbox]) -> _Offloaded[P, R]: ...

    @overload
    def __get__(
        self, instance: AsyncInbox, owner: type[AsyncInbox]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(
        self, instance: AsyncInbox | None, owner: type[AsyncInbox]
    ) -> _Offloaded[P, R] | Callable[P, Coroutine[Any, Any, R]]:
        if instance is None:
            return self
        method: Callable[P, R] = getattr(instance.inbox, self._name)

        @functools.wraps(method)
        async def offloaded(*args: P.args, **kwargs: P.kwargs) -> R:
            return await instance._offload(functools.partial(method, *args, **kwargs))

        return offloaded


def _offloaded(method: Callable[Concatenate[Any, P], R]) -> _Offloaded[P, R]:
    """``method`` of :class:`Inbox` (its ``self`` dropped) as a coroutine of ``AsyncInbox``."""
    return _Offloaded(method)


class _AtOnce(_FromInbox, Generic[T]):
    """An :class:`Inbox` attribute that answers at once, read on the inbox as it is (a method
    bound to it, a property's value)."""

    @overload
    def __get__(self, instance: None, owner: type[AsyncInbox]) -> _AtOnce[T]: ...

    @overload
    def __get__(self, instance: AsyncInbox, owner: type[AsyncInbox]) -> T: ...

    def __get__(self, instance: AsyncInbox | None, owner: type[AsyncInbox]) -> _AtOnce[T] | T:
        if instance is None:
            return self
        found: T = getattr(instance.inbox, self._name)
        return found


def _at_once(method: Callable[Concatenate[Any, P], R]) -> _AtOnce[Callable[P, R]]:
    """``method`` of :class:`Inbox`, called on the inbox at once (not in the workers)."""
    return _AtOnce(method)


def _inbox_property(getter: Callable[[Any], R]) -> _AtOnce[R]:
    """A property of :class:`Inbox` (which type checkers see as its getter), read on the inbox."""
    return _AtOnce(getter)


class AsyncInbox:
    """An :class:`~threadcore.Inbox` for asyncio: ``await ainbox.receive(...)`` and every other
    command and read, run in a bounded pool of worker threads (``max_workers``, by default the
    storage pool's size: a PostgreSQL repository's ``max_size``, else 1).

    ``now``, ``subscribe``, ``observe``, ``consumer``, ``policy``, ``directory``, ``clock``,
    ``repository`` and ``concurrency`` answer at once: they are the inbox's own (listeners and
    observers run in the worker that ran the command: use ``loop.call_soon_threadsafe`` to reach
    the loop; a consumer's ``run`` blocks: give it a thread). A batch is a function run whole in
    one worker, inside ``inbox.batch()``:
    ``await ainbox.batch(lambda inbox: [inbox.receive(...) for ...])``. Close with
    ``await ainbox.close()`` (it closes the inbox's repository) or ``async with``.
    """

    def __init__(self, inbox: Inbox, *, max_workers: int | None = None) -> None:
        if not isinstance(inbox, Inbox):
            raise InvalidInput("Parameter [inbox] must be an Inbox", parameter="inbox")
        if max_workers is None:
            max_workers = inbox.concurrency
        if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
            raise InvalidInput(
                "Parameter [max_workers] must be a positive integer", parameter="max_workers"
            )
        self.inbox = inbox
        self.max_workers = max_workers
        self._workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="threadcore"
        )

    async def _offload(self, call: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._workers, call)

    # --- commands and reads, as coroutines ------------------------------------------------------
    receive = _offloaded(Inbox.receive)
    send = _offloaded(Inbox.send)
    record_delivery = _offloaded(Inbox.record_delivery)
    attach_provider_id = _offloaded(Inbox.attach_provider_id)
    classify = _offloaded(Inbox.classify)
    delete_messages = _offloaded(Inbox.delete_messages)
    opted_out = _offloaded(Inbox.opted_out)
    assign = _offloaded(Inbox.assign)
    resolve = _offloaded(Inbox.resolve)
    delete = _offloaded(Inbox.delete)
    expire = _offloaded(Inbox.expire)
    save_draft = _offloaded(Inbox.save_draft)
    send_draft = _offloaded(Inbox.send_draft)
    discard_draft = _offloaded(Inbox.discard_draft)
    drafts = _offloaded(Inbox.drafts)
    add_note = _offloaded(Inbox.add_note)
    edit_note = _offloaded(Inbox.edit_note)
    delete_notes = _offloaded(Inbox.delete_notes)
    get = _offloaded(Inbox.get)
    messages = _offloaded(Inbox.messages)
    message = _offloaded(Inbox.message)
    list = _offloaded(Inbox.list)
    list_messages = _offloaded(Inbox.list_messages)
    list_notes = _offloaded(Inbox.list_notes)
    numbered_page = _offloaded(Inbox.numbered_page)
    attachment_content = _offloaded(Inbox.attachment_content)
    sync = _offloaded(Inbox.sync)
    sync_entries = _offloaded(Inbox.sync_entries)
    events = _offloaded(Inbox.events)
    add_resource = _offloaded(Inbox.add_resource)
    add_phone_number = _offloaded(Inbox.add_phone_number)
    add_handler = _offloaded(Inbox.add_handler)
    remove_resource = _offloaded(Inbox.remove_resource)
    remove_phone_number = _offloaded(Inbox.remove_phone_number)
    remove_handler = _offloaded(Inbox.remove_handler)
    resource_removed = _offloaded(Inbox.resource_removed)
    phone_number_removed = _offloaded(Inbox.phone_number_removed)
    handler_removed = _offloaded(Inbox.handler_removed)
    load_directory = _offloaded(Inbox.load_directory)
    resources = _offloaded(Inbox.resources)
    operator_threads = _offloaded(Inbox.operator_threads)
    operator_thread = _offloaded(Inbox.operator_thread)
    latest_messages = _offloaded(Inbox.latest_messages)
    outbound_messages = _offloaded(Inbox.outbound_messages)
    status_counts = _offloaded(Inbox.status_counts)
    feed_position = _offloaded(Inbox.feed_position)
    feed_cursor = _offloaded(Inbox.feed_cursor)
    operator_messages = _offloaded(Inbox.operator_messages)
    thread_exists = _offloaded(Inbox.thread_exists)
    message_by_provider_id = _offloaded(Inbox.message_by_provider_id)
    prefetch = _offloaded(Inbox.prefetch)

    async def batch(self, work: Callable[[Inbox], R]) -> R:
        """Run ``work(inbox)`` in one worker, inside ``inbox.batch()`` (one transaction): a
        batch belongs to the thread that runs it, so it is a function, not an ``async with``."""

        def run() -> R:
            with self.inbox.batch():
                return work(self.inbox)

        return await self._offload(run)

    async def run(self, work: Callable[[Inbox], R]) -> R:
        """Run ``work(inbox)`` in one worker, outside any batch: several calls, or a read and
        the rendering of its answer, without holding the event loop."""
        return await self._offload(functools.partial(work, self.inbox))

    async def close(self) -> None:
        """Let the workers finish, then close the inbox's repository."""
        await self._offload(lambda: None)
        self._workers.shutdown(wait=False)
        await asyncio.get_running_loop().run_in_executor(None, self.inbox.close)

    async def __aenter__(self) -> AsyncInbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- what answers at once, as the inbox's own (no I/O) ----------------------------------------
    now = _at_once(Inbox.now)
    subscribe = _at_once(Inbox.subscribe)
    observe = _at_once(Inbox.observe)
    consumer = _at_once(Inbox.consumer)
    policy = _inbox_property(Inbox.policy)
    directory = _inbox_property(Inbox.directory)
    clock = _inbox_property(Inbox.clock)
    repository = _inbox_property(Inbox.repository)
    concurrency = _inbox_property(Inbox.concurrency)

    def __repr__(self) -> str:
        return f"AsyncInbox({self.inbox!r}, max_workers={self.max_workers})"
