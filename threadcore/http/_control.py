"""The control plane (``/threadcore/v1/``, off unless a control token is given): what the real
platform can't offer a test or a demo. A customer's SMS arrives, a delivery callback comes, the
outbound messages a carrier would send are read with a cursor, the clock moves (with
``--manual-clock``), and the directory changes with its thread effects (rule R11)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response

from threadcore.adapters.directory import resource_from_document
from threadcore.adapters.stored_clock import StoredClock
from threadcore.clock import ManualClock
from threadcore.domain.errors import (
    Conflict,
    InvalidInput,
    StorageError,
    ThreadcoreError,
    WireFormatError,
)
from threadcore.domain.model import DeliveryStatus, Message, Thread
from threadcore.http import _attachments as att
from threadcore.http._common import Context, Operation, json_response, read_json
from threadcore.http._send import base_of, with_attachment_entries
from threadcore.inbox import Inbox
from threadcore.inbox import commands as c
from threadcore.ports import ReadinessCheck
from threadcore.wire import (
    INBOUND_NAMES,
    CarrierInbound,
    dump_message,
    dump_thread,
    load_carrier_inbound,
    renaming,
)
from threadcore.wire._base import Id, Phone, Shape, format_time, parse_time
from threadcore.wire._mirror import Mirrors

__all__ = [
    "CONTROL",
    "OPERATIONS",
    "SERVICE_OPERATIONS",
    "DIRECTORY_CHANGES",
    "ClockMove",
    "carrier_inbound",
    "carrier_status",
    "change_directory",
    "clock_movable",
    "move_clock",
    "read_clock",
]

#: The path the control plane is under.
CONTROL: Final = "/threadcore/v1"

SHAPE: Final = Shape(camel=True, omit_none=True)

_log = logging.getLogger("threadcore.http")


@attrs.frozen(kw_only=True)
class Status:
    """A delivery callback: threadcore's ``messageId`` or the carrier's ``providerMessageId``."""

    status: str
    message_id: Id | None = None
    provider_message_id: Id | None = None
    error_code: Id | None = None


@attrs.frozen(kw_only=True)
class ClockMove:
    """``advance`` by an ISO 8601 duration (``PT72H``, ``P3D``) or ``set`` to an RFC 3339 time."""

    advance: str | None = None
    set: str | None = None


# The directory changes' bodies, generated from the commands they carry (wire/_mirror.py).
_CHANGES: Final = Mirrors(__name__)
HandlerChange = _CHANGES.mirror(
    "HandlerChange", c.RemoveHandler, "extension_id handler_id", types={"handler_id": Id}
).shape
NumberChange = _CHANGES.mirror(
    "NumberChange", c.RemovePhoneNumber, "extension_id phone_number"
).shape
ResourceRemoval = _CHANGES.mirror("ResourceRemoval", c.RemoveResource, "extension_id").shape


@attrs.frozen(kw_only=True)
class Outbound:
    """An outbound message a carrier would send: its position in the event feed, the numbers,
    and the message as the platform writes it."""

    position: int
    from_: Phone
    to: Phone
    message: dict[str, Any]


@attrs.frozen(kw_only=True)
class OutboundList:
    records: tuple[Outbound, ...]
    after: int


@attrs.frozen(kw_only=True)
class Threads:
    records: tuple[dict[str, Any], ...]


@attrs.frozen(kw_only=True)
class Now:
    now: str
    expired: tuple[str, ...] = ()


def _threads(threads: list[Thread]) -> Response:
    return json_response({"records": [dump_thread(t) for t in threads]})


def _message(message: Message, request: Request) -> Response:
    return json_response(with_attachment_entries(dump_message(message), request))


async def carrier_inbound(ctx: Context, body: object) -> Message:
    """A customer's SMS arrives, as the carrier's document ``body`` (``CarrierInbound``)
    says: the control plane's ``POST /carrier/inbound`` and the console's form. Refusals name
    the document's fields."""
    sms = load_carrier_inbound(body)
    with renaming(INBOUND_NAMES):
        return await ctx.inbox.receive(**sms.arguments())


async def inbound(ctx: Context, request: Request) -> Response:
    ctx.control(request)
    return _message(await carrier_inbound(ctx, await read_json(request)), request)


async def status(ctx: Context, request: Request) -> Response:
    ctx.control(request)
    return _message(await carrier_status(ctx, await read_json(request)), request)


async def carrier_status(ctx: Context, body: object) -> Message:
    """A delivery callback, as the document ``body`` (:class:`Status`, camelCase) says: the
    control plane's ``POST /carrier/status`` and the console's buttons."""
    callback = SHAPE.load(body, Status)
    try:
        delivery = DeliveryStatus(callback.status)
    except ValueError:
        raise WireFormatError(
            f"Field [status] must be one of {', '.join(DeliveryStatus)}", parameter="status"
        ) from None
    if (callback.message_id is None) == (callback.provider_message_id is None):
        raise WireFormatError(
            "Give exactly one of messageId and providerMessageId", parameter="messageId"
        )
    return await ctx.inbox.record_delivery(
        callback.message_id,
        delivery,
        error_code=callback.error_code,
        provider_message_id=callback.provider_message_id,
    )


def _integer(request: Request, name: str, default: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"Parameter [{name}] must be a non-negative integer", parameter=name)
    return min(int(text), high)


async def outbound(ctx: Context, request: Request) -> Response:
    ctx.control(request)
    after, limit = _integer(request, "after", 0, 2**62), _integer(request, "limit", 100, 1000)
    base = base_of(request)

    cursor = await ctx.inbox.feed_cursor(after)  # the wire pages the feed by position
    found = await ctx.inbox.outbound_messages(cursor=cursor, limit=limit)
    records = tuple(
        Outbound(
            position=position,
            from_=Phone(message.from_number),
            to=Phone(message.to_number),
            message=att.with_entries(dump_message(message), base),
        )
        for position, message in found.records
    )
    return json_response(SHAPE.dump(OutboundList(records=records, after=found.after)))


_DURATION: Final = re.compile(
    r"P(?:(\d{1,6})D)?(?:T(?:(\d{1,7})H)?(?:(\d{1,9})M)?(?:(\d{1,10}(?:\.\d{1,6})?)S)?)?", re.ASCII
)


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise WireFormatError(
            f"Field [advance] is not an ISO 8601 duration like PT72H: {text[:40]!r}",
            parameter="advance",
        )
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _answered(inbox: Inbox, clock: ManualClock | StoredClock | None) -> datetime:
    """The instant a command begun now runs at (rule R18a): a stored clock's reading, never
    before what this inbox has already used."""
    now = inbox.now()
    return max(clock.reading(), now) if isinstance(clock, StoredClock) else now


def _shown(instant: datetime) -> datetime:
    """``instant`` as the API shows it (whole milliseconds)."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def _too_early(inbox: Inbox, clock: ManualClock | StoredClock) -> InvalidInput:
    return InvalidInput(
        f"Field [set] must be at or after {format_time(_answered(inbox, clock))}: the clock "
        "never goes back",
        parameter="set",
    )


def _move(
    inbox: Inbox, clock: ManualClock | StoredClock, move: ClockMove
) -> tuple[datetime, list[Thread]]:
    """Move the clock as asked, from the instant commands run at (a ``set`` before it is
    refused naming it), then sweep: the expiries' events are stored with the move."""
    field = "advance" if move.advance is not None else "set"
    try:
        if move.advance is not None:
            delta = _duration(move.advance)
            if isinstance(clock, StoredClock):
                clock.advance(delta)
            else:
                clock.set(_answered(inbox, clock) + delta)
        else:
            target = parse_time(move.set)
            base = _answered(inbox, clock)
            if target < _shown(base):
                raise _too_early(inbox, clock)
            try:
                clock.set(max(target, base))  # the instant shown, or after: never back
            except InvalidInput:
                if target < _shown(_answered(inbox, clock)):  # another worker moved it meanwhile
                    raise _too_early(inbox, clock) from None
                raise
    except OverflowError:
        raise InvalidInput(
            f"Field [{field}] moves the clock past the last instant threadcore accepts",
            parameter=field,
        ) from None
    except ValueError as error:  # malformed, or past the range of instants (rule R18b)
        if isinstance(error, InvalidInput) and error.parameter == field:
            raise
        message = getattr(error, "message", str(error))
        raise InvalidInput(
            re.sub(r"^(Parameter|Field) \[[^\]]*\]", f"Field [{field}]", message)
            if re.match(r"(Parameter|Field) \[", message)
            else f"Field [{field}]: {message}",
            parameter=field,
        ) from None
    expired = inbox.expire()
    return _answered(inbox, clock), expired


async def read_clock(ctx: Context) -> Now:
    """The time commands run at now (a stored clock's reading, rule R18c)."""
    manual = ctx.manual_clock
    return Now(now=format_time(await ctx.inbox.run(lambda inbox: _answered(inbox, manual))))


async def move_clock(ctx: Context, move: ClockMove) -> Now:
    """Move the manual clock as ``move`` says and run the sweep with the move (its events are
    stored): the new time and the threads that expired. The control plane's ``POST /clock``
    and the console's clock forms both move it here."""
    manual = ctx.manual_clock
    if manual is None:
        raise Conflict("The clock can be moved only when the service runs with --manual-clock")
    if (move.advance is None) == (move.set is None):
        raise WireFormatError("Give exactly one of advance and set", parameter="advance")
    now, expired = await ctx.inbox.run(lambda inbox: _move(inbox, manual, move))
    return Now(now=format_time(now), expired=tuple(t.id for t in expired))


def clock_movable(ctx: Context) -> bool:
    """Whether :func:`move_clock` can move this service's clock (a manual clock)."""
    return ctx.manual_clock is not None


async def clock(ctx: Context, request: Request) -> Response:
    ctx.control(request)
    if request.method == "GET":
        return json_response(SHAPE.dump(await read_clock(ctx)))
    move = SHAPE.load(await read_json(request), ClockMove)
    return json_response(SHAPE.dump(await move_clock(ctx, move)))


_Change = Callable[[Inbox, Any], list[Thread] | None]

#: The directory changes the control plane and the console offer: name -> (the body's shape,
#: ``dict`` for a whole resource document, and the inbox's change).
DIRECTORY_CHANGES: Final[dict[str, tuple[type[Any], _Change]]] = {
    "remove-handler": (HandlerChange, lambda i, v: i.remove_handler(v.extension_id, v.handler_id)),
    "add-handler": (HandlerChange, lambda i, v: i.add_handler(v.extension_id, v.handler_id)),
    "remove-phone-number": (
        NumberChange, lambda i, v: i.remove_phone_number(v.extension_id, v.phone_number)
    ),
    "add-phone-number": (
        NumberChange, lambda i, v: i.add_phone_number(v.extension_id, v.phone_number)
    ),
    "remove-resource": (ResourceRemoval, lambda i, v: i.remove_resource(v.extension_id)),
    "add-resource": (dict, lambda i, v: i.add_resource(v)),
}  # fmt: skip


async def change_directory(ctx: Context, name: str, body: object) -> list[Thread]:
    """The directory change ``name`` (a key of :data:`DIRECTORY_CHANGES`) with the document
    ``body`` (camelCase, as the control plane takes it): the threads it changed (rule R11)."""
    shape, change = DIRECTORY_CHANGES[name]
    value = resource_from_document(body, "Field [$]") if shape is dict else SHAPE.load(body, shape)
    return await ctx.inbox.run(lambda inbox: change(inbox, value) or [])


def _directory_change(name: str) -> Callable[[Context, Request], Any]:
    async def handle(ctx: Context, request: Request) -> Response:
        ctx.control(request)
        return _threads(await change_directory(ctx, name, await read_json(request)))

    return handle


def _directory_operations() -> tuple[Operation, ...]:
    return tuple(
        Operation(
            "POST",
            f"/directory/{name}",
            "directory" + "".join(part.title() for part in name.split("-")),
            f"Directory: {name.replace('-', ' ')}, with its thread effects",
            _directory_change(name),
            body=shape if shape is not dict else "resource",
            response=Threads,
            auth="control",
        )
        for name, (shape, _) in DIRECTORY_CHANGES.items()
    )


@attrs.frozen
class Health:
    """The health answer (``ok``) or the readiness answer (``ready``), and the version served."""

    status: str
    version: str


async def health(ctx: Context, request: Request) -> Response:
    from threadcore import __version__

    return json_response(SHAPE.dump(Health("ok", __version__)))


async def ready(ctx: Context, request: Request) -> Response:
    """200 while the database answers and holds this version's schema; else 503 saying why."""
    from threadcore import __version__

    def check(inbox: Inbox) -> None:
        repository = inbox.repository
        if isinstance(repository, ReadinessCheck):
            repository.check_ready()
        else:  # a repository of its own: it is ready when it answers a read
            repository.events(0, 1)

    try:
        await ctx.inbox.run(check)
    except ThreadcoreError as error:
        if isinstance(error, StorageError):
            raise
        raise StorageError(f"Not ready: {error.message}") from None
    except Exception:
        _log.exception("the readiness check failed")
        raise StorageError("Not ready: the repository's check failed (see the log)") from None
    return json_response(SHAPE.dump(Health("ready", __version__)))


#: Served always, without a token (paths under :data:`CONTROL`): a liveness probe for a load
#: balancer that touches no database (and the no-op the load benchmark measures the HTTP ceiling
#: with), and a readiness probe that does. A load balancer has no token: neither needs one, and
#: neither tells more than whether the service can serve and, if not, why.
SERVICE_OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("GET", "/health", "health", "Liveness: the process answers (no database read)",
              health, response=Health, auth="none"),
    Operation("GET", "/ready", "ready",
              "Readiness: the database answers and holds this version's schema (else 503)",
              ready, response=Health, auth="none"),
)  # fmt: skip

#: The control plane's operations (paths under :data:`CONTROL`).
OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("POST", "/carrier/inbound", "carrierInbound", "A customer's SMS arrives",
              inbound, body=CarrierInbound, response="message", auth="control"),
    Operation("POST", "/carrier/status", "carrierStatus", "A delivery callback", status,
              body=Status, response="message", auth="control"),
    Operation("GET", "/carrier/outbound", "carrierOutbound",
              "The outbound messages a carrier would send, after a cursor", outbound,
              ("after", "limit"), response=OutboundList, auth="control"),
    Operation("GET", "/clock", "readClock", "The service's time", clock, response=Now,
              auth="control"),
    Operation("POST", "/clock", "moveClock", "Move the manual clock (and sweep)", clock,
              body=ClockMove, response=Now, auth="control"),
    *_directory_operations(),
)  # fmt: skip
