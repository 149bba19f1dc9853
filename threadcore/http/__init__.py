"""The platform's message-threads REST API, served: :func:`create_app` (issue 15).

Beside it, the read paths of the two other seeds' platforms, on the same store with the same
tokens and visibility (issue 25): seed 000's ``GET /v2/sms-threads/{sms_thread_id}`` and seed
002's ``GET /conversations/messages/{messageId}``, each with errors in its own body.

``create_app(inbox, tokens=...)`` is an ASGI app (Starlette) that serves every message-threads
operation of the platform's API under ``/restapi/v1.0/account/~/message-threads`` with the rules of
``docs/rules.md``, answers with ``threadcore.wire``'s documents and the platform's error body, and
describes itself at ``/openapi.json``. With a control token it also serves the control plane under
``/threadcore/v1/`` (a customer's SMS arriving, delivery callbacks, the carrier's outbound queue,
the clock, directory changes). ``threadcore serve`` runs it; ``docs/http.md`` says the rest.

The pieces it is built of serve a service of one's own too (FastAPI's or Starlette's: the same
answers, in ``docs/embedding.md``): :func:`authenticate` (a bearer token's extension id, else
401) and :class:`Caller` (the same, then a query parameter the operation does not take, 422),
:func:`read_json` (415, 413, malformed JSON as ``$``), :func:`read_send` and
:func:`send_message` (a send as JSON or a multipart form, its numbers checked against the
thread's, its files stored, its refusals named as the request names its fields),
:func:`with_attachment_entries`, :func:`error_response` and :func:`exception_handlers` (every
``ThreadcoreError`` and the framework's own 404 and 405 in the platform's error body).

Needs the ``http`` extra: ``pip install 'threadcore[http]'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from threadcore import __version__
from threadcore.adapters.stored_clock import StoredClock
from threadcore.aio import AsyncInbox
from threadcore.clock import ManualClock
from threadcore.domain.errors import InvalidInput, MethodNotAllowed, NotFound
from threadcore.http import _control, _conversations, _platform, _sms
from threadcore.http._common import (
    PLATFORM,
    Caller,
    Context,
    Dialect,
    Operation,
    answer,
    authenticate,
    error_response,
    exception_handlers,
    json_response,
    read_json,
)
from threadcore.http._openapi import openapi
from threadcore.http._send import read_send, send_message, with_attachment_entries
from threadcore.inbox import Inbox

__all__ = [
    "Caller",
    "authenticate",
    "create_app",
    "error_response",
    "exception_handlers",
    "read_json",
    "read_send",
    "send_message",
    "with_attachment_entries",
]


def create_app(
    inbox: Inbox | AsyncInbox,
    *,
    tokens: Mapping[str, str],
    control_token: str | None = None,
    account_id: str | None = None,
    outsiders: Literal["not-found", "forbidden"] = "not-found",
    console: bool = False,
) -> Starlette:
    """The ASGI app serving ``inbox``.

    ``tokens`` maps each bearer token to the extension id it acts as (a missing or unknown token
    is 401 with the platform's body). ``control_token`` turns the control plane on (its token is
    then the only one it takes). ``account_id``: the account id the paths accept besides ``~``.
    ``outsiders``: a thread the caller may not see is 404 (threadcore's rule: ids cannot be
    probed) or, with ``"forbidden"``, the platform's 403 when the thread exists. The clock can
    be moved through the control plane when the inbox runs on a :class:`ManualClock` or on
    the database's :class:`StoredClock` (every process on the database then moves with it).
    ``console``: serve the inbox console at ``/console/`` too (needs ``control_token``, whose
    powers it has, and the ``console`` extra; ``docs/console.md``).
    """
    if not isinstance(tokens, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in tokens.items()
    ):
        raise InvalidInput(
            "Parameter [tokens] must map bearer tokens to extension ids", parameter="tokens"
        )
    if outsiders not in ("not-found", "forbidden"):
        raise InvalidInput(
            "Parameter [outsiders] must be not-found or forbidden", parameter="outsiders"
        )
    if control_token is not None and (not isinstance(control_token, str) or not control_token):
        raise InvalidInput("Parameter [controlToken] must be a non-empty string", parameter=None)
    if control_token is not None and control_token in tokens:
        raise InvalidInput(
            "Parameter [controlToken] must differ from every user's token", parameter=None
        )
    if console and control_token is None:
        raise InvalidInput(
            "Parameter [console] needs a control token: the console has its powers",
            parameter="console",
        )
    ainbox = inbox if isinstance(inbox, AsyncInbox) else AsyncInbox(inbox)
    clock = ainbox.inbox.clock
    ctx = Context(
        inbox=ainbox,
        tokens=dict(tokens),
        control_token=control_token,
        account_id=account_id,
        outsiders_forbidden=outsiders == "forbidden",
        manual_clock=clock if isinstance(clock, ManualClock | StoredClock) else None,
    )
    served: list[tuple[str, Operation]] = [(_platform.BASE, op) for op in _platform.OPERATIONS]
    served += [(_sms.PREFIX, op) for op in _sms.OPERATIONS]
    served += [(_conversations.PREFIX, op) for op in _conversations.OPERATIONS]
    served += [(_control.CONTROL, op) for op in _control.SERVICE_OPERATIONS]
    if control_token is not None:
        served += [(_control.CONTROL, op) for op in _control.OPERATIONS]
    document = openapi(served, __version__)

    async def describe(request: Request) -> Response:
        return json_response(document)

    routes: list[BaseRoute] = [Route("/openapi.json", describe, methods=["GET"])]
    if console:
        from threadcore.console import console_routes

        routes += console_routes(ctx)
    routes += [_route(ctx, path, ops) for path, ops in _by_path(served).items()]

    app = Starlette(routes=routes, exception_handlers=exception_handlers(_dialect_of))
    app.state.threadcore = ctx
    return app


#: The other platforms' path prefixes: an unknown path under one is that platform's 404.
_PREFIXES: Final = ((_sms.PREFIX, _sms.DIALECT), (_conversations.PREFIX, _conversations.DIALECT))


def _dialect_of(path: str) -> Dialect:
    for prefix, dialect in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return dialect
    return PLATFORM


def _by_path(served: Iterable[tuple[str, Operation]]) -> dict[str, dict[str, Operation]]:
    paths: dict[str, dict[str, Operation]] = {}
    for prefix, op in served:
        paths.setdefault(prefix + op.path, {})[op.method] = op
    return paths


def _route(ctx: Context, path: str, operations: dict[str, Operation]) -> Route:
    async def endpoint(request: Request) -> Response:
        account = request.path_params.get("accountId")
        if account is not None and account not in ("~", ctx.account_id):
            return error_response(NotFound(f"Account [{str(account)[:40]}] not found"))
        op = operations.get(request.method)
        if op is None:
            allowed = ", ".join(sorted(operations))
            return error_response(
                MethodNotAllowed(f"Method {request.method[:10]} is not allowed here ({allowed})"),
                next(iter(operations.values())).dialect,
            )
        return await answer(ctx, request, op)

    methods = sorted(set(operations) | ({"HEAD"} if "GET" in operations else set()))
    return Route(path, endpoint, methods=[*methods, "PUT", "PATCH", "POST", "DELETE"])
