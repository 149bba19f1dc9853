"""Opaque, signed tokens for page walks and syncs.

A token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(secret, payload)[:16])``.
The payload names its kind and the actor it was issued to; :meth:`TokenCodec.decode` refuses a
token whose signature, kind or actor does not match, so a client can neither forge one nor use
someone else's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Any

from threadcore.domain.errors import InvalidInput, ThreadcoreError

__all__ = ["TokenCodec"]

_MAX_TOKEN = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCodec:
    """Signs and checks tokens with one secret (random per codec unless one is given).

    Services running several instances must configure the same secret everywhere, or a token
    issued by one instance is refused by the others.
    """

    def __init__(self, secret: bytes | None = None, store: str = "") -> None:
        if secret is None:
            secret = os.urandom(32)
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise InvalidInput(
                "Parameter [token_secret] must be at least 16 bytes", parameter="token_secret"
            )
        self._secret = secret
        self._store = store  # the store the tokens are bound to (its id; "" for none)

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]

    def encode(self, kind: str, actor: str, payload: dict[str, Any]) -> str:
        """A token of ``kind`` for ``actor`` carrying ``payload`` (JSON-serialisable)."""
        body = json.dumps(
            {"k": kind, "a": actor, "s": self._store, **payload}, separators=(",", ":")
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def decode(
        self, token: object, kind: str, actor: str, error: Callable[[str], ThreadcoreError]
    ) -> dict[str, Any]:
        """The payload of a token of ``kind`` issued to ``actor``; ``error(reason)`` otherwise."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            raise error("not a token")
        body_text, _, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise error("malformed") from None
        if _b64(mac) != mac_text or _b64(body) != body_text:
            # one text per token: base64's last character carries bits the bytes do not use,
            # and a token whose text was changed there alone is a changed token
            raise error("malformed")
        if not hmac.compare_digest(mac, self._mac(body)):
            raise error("bad signature")
        try:
            payload = json.loads(body)
        except ValueError:
            raise error("malformed") from None
        if not isinstance(payload, dict) or payload.get("k") != kind:
            raise error("not a token of this kind")
        if payload.get("a") != actor:
            raise error("issued to another extension")
        if payload.get("s", "") != self._store:
            raise error("issued by another database (a restarted or restored store)")
        return payload
