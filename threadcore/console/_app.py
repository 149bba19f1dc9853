"""The console's frame: templates, the login, the session check on every page, the checks on
every form, the live feed poll, and the static files."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from threadcore.console._session import (
    FLASH,
    LOGIN,
    SESSION,
    Signer,
    clear_cookie,
    same_origin,
    set_cookie,
)
from threadcore.domain.errors import ThreadcoreError
from threadcore.http import _control
from threadcore.http._common import Context

__all__ = ["Console", "Notice"]

#: What a command answers: a notice for the next page (``kind`` ok or error, ``text``, and
#: optionally ``threads``: the threads it changed, as ``[id, guest number, status]``).
Notice = dict[str, Any]
Page = Callable[["Console", Request], Awaitable[Response]]
Command = Callable[["Console", Request, dict[str, str], list[tuple[str, str]]], Awaitable[Notice]]

#: Served with every console answer: nothing of it runs script or loads from elsewhere but the
#: console's own files, and no other site may frame it.
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: A form's body is read up to this many bytes (the longest field is a message's text).
MAX_FORM: Final = 64 * 1024
#: How often an open page asks whether the inbox changed (milliseconds).
POLL_MS: Final = 500


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("threadcore.console", "templates"),
        autoescape=True,  # every value is escaped: nothing a customer sends is markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["iso"] = lambda v: "" if v is None else v.isoformat()
    return env


def safe_next(value: str | None, default: str = "/console/") -> str:
    """A console path to go back to: only a path under ``/console/`` of this site."""
    if (
        value
        and value.startswith("/console/")
        and "//" not in value
        and "\\" not in value
        and all(32 < ord(c) < 127 for c in value)
    ):
        return value
    return default


class Console:
    """The console over one served inbox (its app's :class:`~threadcore.http._common.Context`)."""

    def __init__(self, ctx: Context) -> None:
        assert ctx.control_token is not None  # create_app refuses a console without one
        self.ctx = ctx
        self.signer = Signer(ctx.control_token)
        self.env = _environment()

    # --- rendering ----------------------------------------------------------------------------
    async def render(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> Response:
        """``template`` with the frame every page shows (the clock, the live poll, the notice)."""
        nonce = self.signer.session_of(request)
        notice = self.signer.read_flash(request)
        position = await self.ctx.inbox.feed_position()
        body = self.env.get_template(template).render(
            request=request,
            path=request.url.path,
            here=_here(request),
            csrf=self.signer.csrf(nonce) if nonce else "",
            notice=notice,
            clock=(await _control.read_clock(self.ctx)).now,
            movable=_control.clock_movable(self.ctx),
            position=position,
            poll_ms=POLL_MS,
            **values,
        )
        response = HTMLResponse(body, status, headers=HEADERS)
        if notice is not None or FLASH in request.cookies:
            clear_cookie(response, FLASH)
        return response

    def redirect(self, to: str) -> Response:
        return RedirectResponse(to, 303, headers=HEADERS)

    # --- the session check on pages, and the checks on forms ----------------------------------
    def page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        """A page only a logged-in browser sees; any other is sent to the login page."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            if self.signer.session_of(request) is None:
                return self._to_login(request)
            return await handler(self, request)

        return endpoint

    def command(self, handler: Command) -> Callable[[Request], Awaitable[Response]]:
        """A form's POST: logged in, from the console's own page, with the session's ``csrf``;
        its outcome (or its refusal) is the notice the page it goes back to shows."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            nonce = self.signer.session_of(request)
            if nonce is None:
                return self._to_login(request)
            fields = await self._form(request)
            if fields is None or not (
                same_origin(request) and self.signer.csrf_matches(nonce, _one(fields, "csrf"))
            ):
                return await self.refused(request)
            back = safe_next(_one(fields, "back"))
            try:
                notice = await handler(self, request, dict(fields), fields)
            except ThreadcoreError as error:
                notice = {"kind": "error", "text": f"{error.code}: {error.message}"}
            response = self.redirect(back)
            self.signer.flash(response, request, notice)
            return response

        return endpoint

    async def refused(self, request: Request) -> Response:
        body = self.env.get_template("refused.html").render(path=request.url.path)
        return HTMLResponse(body, 403, headers=HEADERS)

    async def _form(self, request: Request) -> list[tuple[str, str]] | None:
        size = request.headers.get("content-length", "")
        if not size.isdigit() or int(size) > MAX_FORM:
            return None
        if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"
        ):
            return None
        form = await request.form(max_files=0, max_fields=64)
        return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]

    def _to_login(self, request: Request) -> Response:
        target = "/console/login"
        if request.method == "GET" and request.url.path != "/console/":
            target += "?next=" + _quote(_here(request))
        response = self.redirect(target)
        if request.headers.get("hx-request"):  # a live poll: the whole page goes
            response = Response(status_code=200, headers={**HEADERS, "HX-Redirect": target})
        return response

    # --- the login ----------------------------------------------------------------------------
    async def login_page(self, request: Request, error: str | None = None) -> Response:
        if error is None and self.signer.session_of(request) is not None:
            return self.redirect(safe_next(request.query_params.get("next")))
        nonce = self.signer.new_session().partition(".")[0]
        body = self.env.get_template("login.html").render(
            csrf=self.signer.csrf(nonce),
            next=safe_next(request.query_params.get("next")),
            error=error,
        )
        response = HTMLResponse(body, 401 if error else 200, headers=HEADERS)
        set_cookie(response, request, LOGIN, nonce)
        return response

    async def login(self, request: Request) -> Response:
        fields = await self._form(request)
        nonce = request.cookies.get(LOGIN, "")
        if (
            fields is None
            or not nonce
            or not same_origin(request)
            or not self.signer.csrf_matches(nonce, _one(fields, "csrf"))
        ):
            return await self.refused(request)
        if not self.signer.token_matches(_one(fields, "token")):
            return await self.login_page(request, "That is not the control token.")
        response = self.redirect(safe_next(_one(fields, "next")))
        set_cookie(response, request, SESSION, self.signer.new_session())
        clear_cookie(response, LOGIN)
        return response

    async def logout(self, request: Request) -> Response:
        nonce = self.signer.session_of(request)
        fields = await self._form(request)
        if (
            nonce is None
            or fields is None
            or not self.signer.csrf_matches(nonce, _one(fields, "csrf"))
        ):
            return await self.refused(request)
        response = self.redirect("/console/login")
        clear_cookie(response, SESSION)
        return response

    # --- live ---------------------------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        """The poll every open page makes: 204 while nothing changed; else the clock as it is
        now and, when the feed moved on (or the manual clock moved), ``HX-Trigger:
        inbox-changed``, on which each page reads its content again."""
        seen_position = request.query_params.get("position", "")
        seen_clock = request.query_params.get("clock", "")
        position = await self.ctx.inbox.feed_position()
        clock = (await _control.read_clock(self.ctx)).now
        moved = str(position) != seen_position or (
            _control.clock_movable(self.ctx) and clock != seen_clock
        )
        if not moved and clock[:19] == seen_clock[:19]:
            return Response(status_code=204, headers=HEADERS)
        body = self.env.get_template("_live.html").render(
            clock=clock, position=position, poll_ms=POLL_MS
        )
        headers = {**HEADERS, "HX-Trigger": "inbox-changed"} if moved else HEADERS
        return HTMLResponse(body, headers=headers)


def _one(fields: list[tuple[str, str]] | dict[str, str], name: str) -> str:
    """The last value of field ``name`` ('' when absent)."""
    if isinstance(fields, dict):
        return fields.get(name, "")
    found = [v for k, v in fields if k == name]
    return found[-1] if found else ""


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")
