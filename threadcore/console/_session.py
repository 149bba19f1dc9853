"""The console's session, its protection against cross-site requests, and its one-time notes.

No state is kept on the server, so every worker of ``threadcore serve --workers N`` accepts a
session another one opened: each value is signed with a key derived from the control token
(HMAC-SHA256), and a new control token ends every session.

- The session cookie (HttpOnly, SameSite=Strict, path ``/console``) is a random nonce and its
  signature; it lasts as long as the browser session.
- Every form carries a ``csrf`` field: the signature of the session's nonce (of the login page's
  own nonce cookie on the login form), compared in constant time; a request whose ``Origin``
  names another site is refused too.
- A command's outcome (a refusal, the threads a directory change changed) comes back once, in a
  signed cookie the next page reads and clears.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FLASH", "LOGIN", "SESSION", "Signer"]

#: Cookie names (every console cookie lives under ``/console``).
SESSION: Final = "threadcore_console"
LOGIN: Final = "threadcore_console_login"
FLASH: Final = "threadcore_console_flash"
_PATH: Final = "/console"
#: A notice is cut to this many bytes of JSON before it is signed (a cookie holds about 4 KB).
_MAX_FLASH: Final = 3000


class Signer:
    """Signs and checks the console's values with a key derived from the control token."""

    def __init__(self, control_token: str) -> None:
        self._key = hashlib.sha256(b"threadcore console\0" + control_token.encode()).digest()
        self._token = control_token.encode()

    def _mac(self, purpose: str, value: str) -> str:
        message = f"{purpose}\0{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the control token (constant time)."""
        return hmac.compare_digest(given.encode(), self._token)

    # --- the session --------------------------------------------------------------------------
    def new_session(self) -> str:
        """A new session cookie's value."""
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._mac('session', nonce)}"

    def session_of(self, request: Request) -> str | None:
        """The request's session nonce if its cookie is one this key signed, else ``None``."""
        value = request.cookies.get(SESSION, "")
        nonce, _, mac = value.partition(".")
        if not nonce or not hmac.compare_digest(mac, self._mac("session", nonce)):
            return None
        return nonce

    def csrf(self, nonce: str) -> str:
        """The ``csrf`` field of every form of the session (or login page) ``nonce``."""
        return self._mac("csrf", nonce)

    def csrf_matches(self, nonce: str, given: str) -> bool:
        """Whether a form's ``csrf`` field is the one issued for ``nonce``."""
        return hmac.compare_digest(given, self.csrf(nonce))

    # --- one-time notices ---------------------------------------------------------------------
    def flash(self, response: Response, request: Request, notice: dict[str, Any]) -> None:
        """Leave ``notice`` for the next page the browser reads."""
        raw = json.dumps(notice, separators=(",", ":"))[:_MAX_FLASH]
        try:
            json.loads(raw)
        except ValueError:  # cut: keep its text only
            raw = json.dumps({"kind": notice.get("kind"), "text": str(notice.get("text"))[:500]})
        data = base64.urlsafe_b64encode(raw.encode()).decode()
        set_cookie(response, request, FLASH, f"{data}.{self._mac('flash', data)}")

    def read_flash(self, request: Request) -> dict[str, Any] | None:
        """The notice a previous answer left, if it is one this key signed."""
        data, _, mac = request.cookies.get(FLASH, "").partition(".")
        if not data or not hmac.compare_digest(mac, self._mac("flash", data)):
            return None
        try:
            notice = json.loads(base64.urlsafe_b64decode(data.encode()))
        except (ValueError, binascii.Error):
            return None
        return notice if isinstance(notice, dict) else None


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, under ``/console``, Secure over HTTPS, for
    the browser session only."""
    response.set_cookie(
        name,
        value,
        path=_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, name: str) -> None:
    """Remove a console cookie."""
    response.delete_cookie(name, path=_PATH, httponly=True, samesite="strict")


def same_origin(request: Request) -> bool:
    """Whether the request may come from the console's own pages: no ``Origin`` header (a
    browser sends one with every cross-site POST), or one that names this host; and no
    ``Sec-Fetch-Site`` that says cross-site."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
