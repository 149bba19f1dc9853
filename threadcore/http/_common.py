"""What every endpoint of the app shares: the operation table's row, the request context (the
inbox, the bearer tokens), JSON answers, error answers in the platform's body, and request bodies
read within a size limit.

The public pieces (re-exported by ``threadcore.http`` for a service of one's own, FastAPI's or
Starlette's: ``docs/embedding.md``): :class:`Caller`, :func:`authenticate`, :func:`read_json`,
:func:`error_response` and :func:`exception_handlers`."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeAlias

import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from threadcore.aio import AsyncInbox
from threadcore.domain.errors import (
    MethodNotAllowed,
    NotFound,
    NotPermitted,
    RequestTooLarge,
    ThreadcoreError,
    ThreadNotFound,
    Unauthenticated,
)
from threadcore.wire import _platform as shapes
from threadcore.wire import (
    dump_api_error,
    is_json_media,
    load_json_body,
    load_no_query,
    parse_json,
    rename_parameter,
)

__all__ = [
    "MAX_JSON_BODY",
    "PLATFORM",
    "Caller",
    "Context",
    "Dialect",
    "Handler",
    "Operation",
    "answer",
    "authenticate",
    "error_response",
    "exception_handlers",
    "is_json_media",
    "json_response",
    "limited_body",
    "replaying",
    "media_type",
    "parse_json",
    "read_json",
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
        return authenticate(request, self.tokens)

    def control(self, request: Request) -> None:
        """Refuse the request unless it carries the control token."""
        token = _bearer(request)
        if self.control_token is None or token is None or token != self.control_token:
            raise Unauthenticated(_unauthenticated(request))


def authenticate(request: Request, tokens: Mapping[str, str]) -> str:
    """The extension id ``tokens`` maps the request's bearer token to (``Authorization: Bearer
    <token>``), or :class:`~threadcore.errors.Unauthenticated` (401) for a missing or unknown
    one, with the platform's message."""
    actor = tokens.get(_bearer(request) or "")
    if actor is None:
        raise Unauthenticated(_unauthenticated(request))
    return actor


@attrs.frozen(eq=False)  # hashed by identity: FastAPI caches a dependency by it
class Caller:
    """Who calls an operation: the extension id ``tokens`` maps the request's bearer token to
    (else 401, :func:`authenticate`); then a query parameter is refused (422 naming it) unless
    ``reads_query`` (a list's or a sync's loader refuses what it does not read itself). A
    FastAPI dependency as it is (``actor: str = Depends(Caller(tokens))``), or call it."""

    tokens: Mapping[str, str]
    reads_query: bool = False

    def __call__(self, request: Request) -> str:
        """The caller's extension id, once the request's token and query are checked."""
        actor = authenticate(request, self.tokens)
        if not self.reads_query:
            load_no_query(request.query_params.multi_items())
        return actor


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


def error_response(
    error: ThreadcoreError, dialect: Dialect = PLATFORM, *, names: Mapping[str, str] | None = None
) -> Response:
    """``dialect``'s error body for ``error`` (the primary platform's unless told), with the
    status its class names; ``names`` renames its parameter as the request names it
    (``threadcore.wire.SEND_NAMES`` ...). A 401 carries ``WWW-Authenticate: Bearer``."""
    if names:
        error = rename_parameter(error, names)
    response = json_response(dialect.body(error), error.status)
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


ExceptionHandler: TypeAlias = Callable[[Request, Exception], Awaitable[Response]]


def exception_handlers(
    dialect_of: Callable[[str], Dialect] = lambda path: PLATFORM,
) -> dict[Any, ExceptionHandler]:
    """Exception handlers for a Starlette or FastAPI app (``FastAPI(exception_handlers=...)``)
    that answer in the platform's error body: any :class:`~threadcore.ThreadcoreError` an
    endpoint raises, the framework's own 404 (no such path) and 405 (not with this method), and
    a 500 that names nothing of the internals (the exception is logged). ``dialect_of`` chooses
    the body by the request's path (``threadcore.http`` serves three platforms)."""

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ThreadcoreError)
        return error_response(exc, dialect_of(request.url.path))

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        return error_response(NotFound(f"Resource [{path[:100]}] not found"), dialect_of(path))

    async def not_allowed(request: Request, exc: Exception) -> Response:
        allowed = ((exc.headers if isinstance(exc, HTTPException) else None) or {}).get("Allow", "")
        return error_response(
            MethodNotAllowed(f"Method {request.method[:10]} is not allowed here ({allowed})"),
            dialect_of(request.url.path),
        )

    async def failed(request: Request, exc: Exception) -> Response:
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        failure = ThreadcoreError("Internal error: the request was not completed")
        return error_response(failure, dialect_of(request.url.path))

    return {ThreadcoreError: refused, 404: not_found, 405: not_allowed, 500: failed}


async def answer(ctx: Context, request: Request, operation: Operation) -> Response:
    """Run ``operation`` for ``request``; any ThreadcoreError becomes its error body, anything
    else a 500 body that names nothing of the internals (and is logged)."""
    dialect = operation.dialect
    try:
        # the token (401) before anything the request holds is read, then an unknown query
        # parameter (an operation that reads a query refuses what it does not read itself);
        # the other platforms' handlers check their own
        if dialect is PLATFORM and operation.auth == "user":
            Caller(ctx.tokens, reads_query=bool(operation.query))(request)
        elif dialect is PLATFORM and operation.auth == "control":
            ctx.control(request)
            if not operation.query:
                load_no_query(request.query_params.multi_items())
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
    try:
        return await ctx.inbox.thread_exists(thread_id)
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
    return b"".join(chunks)


def replaying(request: Request, body: bytes) -> Request:
    """``request`` again, its body ``body`` (already read, by :func:`limited_body`): for a
    reader that reads the body itself, such as Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the body was given whole: what comes next is the client going away
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def read_json(request: Request) -> Any:
    """The request's JSON body as the platform reads it: ``application/json`` (else
    :class:`~threadcore.errors.UnsupportedMediaType`, 415), at most :data:`MAX_JSON_BODY` bytes
    (else ``RequestTooLarge``, 413), valid JSON (else ``WireFormatError`` naming ``$``, 422).
    The media type is checked before the body is read."""
    content_type = request.headers.get("content-type")
    load_json_body(content_type, b"{}")  # 415 before the body is read
    return load_json_body(content_type, await limited_body(request, MAX_JSON_BODY))
