"""What every endpoint of the app shares: the operation table's row, the request context (the
inbox, the bearer tokens), JSON answers, error answers in the platform's body, and request bodies
read within a size limit."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response

from threadcore.aio import AsyncInbox
from threadcore.domain.errors import (
    NotPermitted,
    RequestTooLarge,
    ThreadcoreError,
    ThreadNotFound,
    Unauthenticated,
    UnsupportedMediaType,
    WireFormatError,
)
from threadcore.inbox import Inbox
from threadcore.wire import _platform as shapes
from threadcore.wire import dump_api_error

__all__ = [
    "MAX_JSON_BODY",
    "PLATFORM",
    "Context",
    "Dialect",
    "Handler",
    "Operation",
    "answer",
    "error_response",
    "is_json_media",
    "json_body",
    "json_response",
    "limited_body",
    "media_type",
    "parse_json",
]

_log = logging.getLogger("threadcore.http")

#: The largest JSON request body taken (a note or a message is far smaller).
MAX_JSON_BODY: Final = 256 * 1024

Handler = Callable[["Context", Request], Awaitable[Response]]


@attrs.frozen
class Dialect:
    """How one platform's API writes its errors: its error body, and that body's schema for
    ``/openapi.json`` (an attrs class of the wire, or a JSON schema under ``name``)."""

    name: str
    body: Callable[[ThreadcoreError], dict[str, Any]]
    schema: type | Mapping[str, Any]
    #: Whether ``outsiders="forbidden"`` turns a hidden thread's 404 into a 403 (the primary
    #: platform's rule; the other platforms always answer 404).
    forbidden_outsiders: bool = False


#: The primary platform's errors: ``dump_api_error``'s body.
PLATFORM: Final = Dialect("ApiError", dump_api_error, shapes._ApiError, forbidden_outsiders=True)


@attrs.frozen
class Operation:
    """One endpoint: how it is routed, what it takes and answers (for ``/openapi.json``), and
    the handler that serves it. The app's routes and its OpenAPI document are both made from
    the table of these, so the document describes exactly what is served."""

    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    #: The query parameters taken, by name (their schemas are in ``threadcore.http._openapi``).
    query: tuple[str, ...] = ()
    #: The JSON body's shape (an attrs class of the wire), "multipart" for the send form, or None.
    body: type | str | None = None
    #: The answer's shape (an attrs class), "binary" for bytes, None for 204 No Content.
    response: type | str | None = None
    #: Who may call it: "user" (a bearer token of the tokens map), "control", or "none".
    auth: str = "user"
    #: The request headers it requires, by name (their schemas are in ``_openapi``).
    headers: tuple[str, ...] = ()
    #: Whose error body it answers with.
    dialect: Dialect = PLATFORM


@attrs.define
class Context:
    """What a handler needs: the inbox, the token maps and the app's switches."""

    inbox: AsyncInbox
    tokens: Mapping[str, str]
    control_token: str | None
    account_id: str | None
    outsiders_forbidden: bool
    manual_clock: Any = None  # a ManualClock when the clock may be moved

    def actor(self, request: Request) -> str:
        """The extension id the request's bearer token stands for."""
        actor = self.tokens.get(_bearer(request) or "")
        if actor is None:
            raise Unauthenticated(_unauthenticated(request))
        return actor

    def control(self, request: Request) -> None:
        """Refuse the request unless it carries the control token."""
        token = _bearer(request)
        if self.control_token is None or token is None or token != self.control_token:
            raise Unauthenticated(_unauthenticated(request))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthenticated(request: Request) -> str:
    if "authorization" not in request.headers:
        return "Authorization header is not specified"
    return "Invalid token: sign in again and send Authorization: Bearer <token>"


def json_response(document: object, status: int = 200) -> Response:
    """``document`` as compact UTF-8 JSON."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(body.encode(), status_code=status, media_type="application/json")


def error_response(error: ThreadcoreError, dialect: Dialect = PLATFORM) -> Response:
    """``dialect``'s error body for ``error`` (the primary platform's unless told), with the
    status its class names."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
    response = json_response(dialect.body(error), error.status)
    if headers:
        response.headers.update(headers)
    return response


async def answer(ctx: Context, request: Request, operation: Operation) -> Response:
    """Run ``operation`` for ``request``; any ThreadcoreError becomes its error body, anything
    else a 500 body that names nothing of the internals (and is logged)."""
    dialect = operation.dialect
    try:
        return await operation.handler(ctx, request)
    except ThreadNotFound as error:
        forbidden = ctx.outsiders_forbidden and dialect.forbidden_outsiders
        if forbidden and await _exists(ctx, request.path_params.get("threadId")):
            return error_response(NotPermitted("The current user has no access to the thread"))
        return error_response(error, dialect)
    except ThreadcoreError as error:
        return error_response(error, dialect)
    except Exception:
        _log.exception("%s %s failed", request.method, request.url.path)
        failure = ThreadcoreError("Internal error: the request was not completed")
        return error_response(failure, dialect)


async def _exists(ctx: Context, thread_id: object) -> bool:
    if not isinstance(thread_id, str):
        return False

    def exists(inbox: Inbox) -> bool:
        return bool(inbox._read(lambda uow: uow.thread(thread_id) is not None))

    try:
        return await ctx.inbox.run(exists)
    except ThreadcoreError:
        return False


async def limited_body(request: Request, limit: int) -> bytes:
    """The request's body, refused as :class:`RequestTooLarge` past ``limit`` bytes (told by
    ``Content-Length`` at once, or while it streams in)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise RequestTooLarge(f"The request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # later readers (the form parser) see the body read here
    return body


def is_json_media(kind: str) -> bool:
    """Whether the media type ``kind`` (lower case, no parameters) is JSON."""
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def json_body(request: Request) -> Any:
    """The request's JSON body (``application/json``, at most :data:`MAX_JSON_BODY` bytes)."""
    kind = media_type(request)
    if not is_json_media(kind):
        raise UnsupportedMediaType(
            f"The request body must be application/json, not {kind[:60] or 'missing'}"
        )
    return parse_json(await limited_body(request, MAX_JSON_BODY))


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, refused as :class:`WireFormatError` when it is not (NaN and the like
    included)."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        raise WireFormatError("The request body is not valid JSON", parameter="$") from None
