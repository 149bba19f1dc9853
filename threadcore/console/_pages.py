"""The console's pages (overview, threads, a thread, the outbound queue, the directory) and its
commands (a customer's SMS, a delivery status, the clock, a directory change), each through the
inbox's operator reads or the control plane's own functions."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from threadcore.console._app import Console, Notice
from threadcore.domain.errors import InvalidInput, ThreadcoreError, ThreadNotFound
from threadcore.domain.model import Availability, DeliveryStatus, Direction, Thread, ThreadStatus
from threadcore.domain.queries import ThreadFilter
from threadcore.http import _control

__all__ = ["COMMANDS", "PAGES"]

#: Threads a page of the list shows.
PER_PAGE: Final = 50
#: How many messages (of both directions) a page of the outbound queue looks through.
OUTBOUND_WINDOW: Final = 500
#: The statuses the outbound queue offers a button for (a carrier's callbacks).
CALLBACKS: Final = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.DELIVERY_FAILED,
    DeliveryStatus.SENDING_FAILED,
    DeliveryStatus.READ,
)
#: How many changed threads a notice lists by name (it travels in a cookie of at most 4 KB).
LISTED: Final = 20
#: The fields of each directory change, as the control plane's body names them.
DIRECTORY_FIELDS: Final = {
    "remove-handler": ("extensionId", "handlerId"),
    "add-handler": ("extensionId", "handlerId"),
    "remove-phone-number": ("extensionId", "phoneNumber"),
    "add-phone-number": ("extensionId", "phoneNumber"),
    "remove-resource": ("extensionId",),
    "add-resource": ("extensionId", "name", "phoneNumbers", "handlers"),
}


def _thread_line(thread: Thread) -> list[str]:
    reason = f" ({thread.status_reason})" if thread.status_reason else ""
    status = "Deleted" if thread.availability is Availability.DELETED else thread.status
    return [thread.id, thread.guest_party.phone_number, f"{status}{reason}"]


def _changed(text: str, threads: list[Thread], more: int = 0) -> Notice:
    shown = [_thread_line(t) for t in threads[:LISTED]]
    more += len(threads) - len(shown)
    return {"kind": "ok", "text": text, "threads": shown, "more": more}


def _page_number(request: Request) -> int:
    """The ``page`` query parameter, 1..1000 (anything else is page 1)."""
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and len(text) <= 4 and 1 <= int(text) <= 1000 else 1


async def overview(console: Console, request: Request) -> Response:
    inbox = console.ctx.inbox
    resources = await inbox.resources()
    counts = {r.extension_id: await inbox.status_counts(r.extension_id) for r in resources}
    return await console.render(
        request, "overview.html", title="Overview", resources=resources, counts=counts
    )


def _filter_of(resources: list[Any], query: Any) -> tuple[ThreadFilter | None, dict[str, str]]:
    """The list's filter from the query string (``None``: nothing can match)."""
    chosen = {k: query.get(k, "").strip() for k in ("resource", "status", "handler")}
    owners = {r.extension_id for r in resources}
    if chosen["resource"]:
        owners &= {chosen["resource"]}
    if chosen["handler"]:
        owners &= {r.extension_id for r in resources if r.is_handler(chosen["handler"])}
    status = chosen["status"]
    if status not in ("", "Open", "Resolved", "Deleted"):
        raise InvalidInput("Parameter [status] must be Open, Resolved or Deleted")
    if not owners:
        return None, chosen
    deleted = status == "Deleted"
    return ThreadFilter(
        status=None if deleted or not status else ThreadStatus(status),
        owner_extension_ids=sorted(owners),
        availability=[Availability.DELETED] if deleted else [Availability.ALIVE],
    ), chosen


async def threads(console: Console, request: Request) -> Response:
    inbox = console.ctx.inbox
    resources = await inbox.resources()
    page = _page_number(request)
    error = None
    records: tuple[Thread, ...] = ()
    total = 0
    chosen = {k: request.query_params.get(k, "") for k in ("resource", "status", "handler")}
    try:
        wanted, chosen = _filter_of(resources, request.query_params)
        if wanted is not None:
            found = await inbox.operator_threads(filter=wanted, page=page, per_page=PER_PAGE)
            records = found.records
            total = (found.paging.total_elements or 0) if found.paging is not None else 0
    except ThreadcoreError as refused:
        error = refused.message
    latest = await inbox.latest_messages([t.id for t in records])
    handlers = sorted({h.extension_id for r in resources for h in r.handlers})
    query = {k: v for k, v in chosen.items() if v}
    return await console.render(
        request,
        "threads.html",
        400 if error else 200,
        title="Threads",
        resources=resources,
        handlers=handlers,
        chosen=chosen,
        query=query,
        records=records,
        latest=latest,
        total=total,
        page=page,
        pages=max(-(-total // PER_PAGE), 1),
        ttl=inbox.policy.ttl,
        error=error,
    )


async def thread(console: Console, request: Request) -> Response:
    try:
        found = await console.ctx.inbox.operator_thread(request.path_params["thread_id"])
    except ThreadcoreError:
        return await not_found(console, request)
    resource = console.ctx.inbox.directory.resource(found.thread.owner.extension_id)
    return await console.render(
        request,
        "thread.html",
        title=f"Thread with {found.thread.guest_party.phone_number}",
        thread=found.thread,
        entries=found.entries,
        resource=resource,
        ttl=console.ctx.inbox.policy.ttl,
    )


async def outbound(console: Console, request: Request) -> Response:
    page = _page_number(request)
    found = await console.ctx.inbox.operator_messages(page=page, per_page=OUTBOUND_WINDOW)
    total = (found.paging.total_elements or 0) if found.paging is not None else 0
    return await console.render(
        request,
        "outbound.html",
        title="Outbound queue",
        records=[m for m in found if m.direction is Direction.OUTBOUND],
        page=page,
        pages=max(-(-total // OUTBOUND_WINDOW), 1),
        window=OUTBOUND_WINDOW,
        callbacks=CALLBACKS,
    )


async def directory(console: Console, request: Request) -> Response:
    resources = await console.ctx.inbox.resources()
    return await console.render(
        request,
        "directory.html",
        title="Directory",
        resources=resources,
        changes=list(DIRECTORY_FIELDS),
    )


async def not_found(console: Console, request: Request) -> Response:
    return await console.render(request, "not_found.html", 404, title="Not found")


# --- commands -------------------------------------------------------------------------------
async def inbound(
    console: Console, request: Request, form: dict[str, str], _: list[tuple[str, str]]
) -> Notice:
    body: dict[str, str] = {k: form.get(k, "") for k in ("from", "to", "text")}
    if form.get("id", "").strip():
        body["id"] = form["id"].strip()
    message = await _control.carrier_inbound(console.ctx, body)
    found = await console.ctx.inbox.operator_thread(message.thread_id)
    return _changed(f"Received {message.id} from {message.from_number}", [found.thread])


async def status(
    console: Console, request: Request, form: dict[str, str], _: list[tuple[str, str]]
) -> Notice:
    body = {"status": form.get("status", ""), "messageId": form.get("messageId", "")}
    message = await _control.carrier_status(console.ctx, body)
    return {"kind": "ok", "text": f"Message {message.id} is {message.status} now"}


async def clock(
    console: Console, request: Request, form: dict[str, str], fields: list[tuple[str, str]]
) -> Notice:
    advances = [v.strip() for k, v in fields if k == "advance" and v.strip()]
    moment = form.get("set", "").strip()
    if moment and len(moment) == 16:  # a datetime-local field's value: read as UTC
        moment += ":00Z"
    move = _control.ClockMove(
        advance=advances[-1] if advances else None, set=None if advances else moment or None
    )
    now = await _control.move_clock(console.ctx, move)
    expired = []
    for thread_id in now.expired[:LISTED]:
        try:
            expired.append((await console.ctx.inbox.operator_thread(thread_id)).thread)
        except ThreadNotFound:
            continue
    more = max(len(now.expired) - LISTED, 0)
    return _changed(f"The clock is at {now.now}; {len(now.expired)} threads expired", expired, more)


async def change_directory(
    console: Console, request: Request, form: dict[str, str], _: list[tuple[str, str]]
) -> Notice:
    name = form.get("change", "")
    if name not in DIRECTORY_FIELDS:
        raise InvalidInput(f"Choose a change: {', '.join(DIRECTORY_FIELDS)}", parameter="change")
    body: dict[str, Any] = {}
    for field in DIRECTORY_FIELDS[name]:
        value = form.get(field, "").strip()
        if field in ("phoneNumbers", "handlers"):
            body[field] = [v for v in value.replace(",", " ").split() if v]
        elif value or field != "name":
            body[field] = value
    changed = await _control.change_directory(console.ctx, name, body)
    return _changed(
        f"{name.replace('-', ' ').capitalize()}: {len(changed)} threads changed", changed
    )


#: (path, page) of every page.
PAGES: Final = (
    ("/console/", overview),
    ("/console/threads", threads),
    ("/console/threads/{thread_id}", thread),
    ("/console/outbound", outbound),
    ("/console/directory", directory),
)
#: (path, command) of every form.
COMMANDS: Final = (
    ("/console/inbound", inbound),
    ("/console/status", status),
    ("/console/clock", clock),
    ("/console/directory", change_directory),
)
