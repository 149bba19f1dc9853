"""What a service serving the platform's API needs beyond the loaders and the documents (issue 25,
item 5), framework-free: a JSON body read as the platform reads it, a ``ThreadcoreError`` as the
platform's status and error body, the names a send, an assignment and the carrier's inbound
message give the inbox's arguments, the rule that a send to a thread names the thread's own
numbers, and the carrier webhook's loader. ``threadcore.http`` is built on these; a FastAPI or
Django view can be too (``docs/embedding.md``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from threadcore.domain.errors import (
    InvalidInput,
    ThreadcoreError,
    UnsupportedMediaType,
    WireFormatError,
)
from threadcore.domain.model import Thread
from threadcore.wire._base import Id, Phone, Shape
from threadcore.wire._platform import dump_api_error
from threadcore.wire._requests import SendRequest, rename_parameter

__all__ = [
    "ASSIGN_NAMES",
    "INBOUND_NAMES",
    "SEND_NAMES",
    "CarrierInbound",
    "check_send_numbers",
    "error_answer",
    "is_json_media",
    "load_carrier_inbound",
    "load_json_body",
    "parse_json",
]

_SHAPE: Final = Shape(camel=True, omit_none=True)

#: ``Inbox.send``'s arguments (as its errors name them) as a send request names them:
#: ``with renaming(SEND_NAMES): inbox.send(...)``.
SEND_NAMES: Final[Mapping[str, str]] = {
    "body": "text",
    "ownerNumber": "from",
    "guestNumber": "to",
    "attachments": "attachments",
}
#: ``Inbox.assign``'s ``assignee`` as the assign request names it.
ASSIGN_NAMES: Final[Mapping[str, str]] = {"assignee": "assignee.extensionId"}
#: ``Inbox.receive``'s arguments as the carrier's inbound message names them: a number messaging
#: itself is refused at ``from`` (the customer's number, the one the carrier hands over).
INBOUND_NAMES: Final[Mapping[str, str]] = {
    "body": "text",
    "guestNumber": "from",
    "ownerNumber": "to",
    "providerMessageId": "id",
}


def error_answer(
    error: ThreadcoreError, names: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """The platform's HTTP status and error body for ``error`` (``dump_api_error``), its
    parameter named as ``names`` maps it (:data:`SEND_NAMES`, :data:`ASSIGN_NAMES`, ...; the
    loaders' errors already name the request's fields)."""
    if names:
        error = rename_parameter(error, names)
    return error.status, dump_api_error(error)


def is_json_media(kind: str) -> bool:
    """Whether the media type ``kind`` (lower case, no parameters) is JSON."""
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, refused as :class:`WireFormatError` naming ``$`` when it is not (NaN
    and the like included)."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        raise WireFormatError("The request body is not valid JSON", parameter="$") from None


def load_json_body(content_type: str | None, raw: bytes) -> Any:
    """A JSON request body as the platform reads it: a media type other than JSON
    (``application/json`` or ``application/*+json``) is :class:`UnsupportedMediaType` (415),
    malformed JSON a :class:`WireFormatError` naming ``$`` (422)."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    if not is_json_media(kind):
        raise UnsupportedMediaType(
            f"The request body must be application/json, not {kind[:60] or 'missing'}"
        )
    return parse_json(raw)


def check_send_numbers(send: SendRequest, thread: Thread) -> None:
    """Refuse a send to ``thread`` (named by ``send.thread_id``) whose ``from`` or ``to`` is not
    the thread's own number: :class:`InvalidInput` naming ``from`` or ``to``."""
    for name, given, own in (
        ("from", send.owner_number, thread.owner_party.phone_number),
        ("to", send.guest_number, thread.guest_party.phone_number),
    ):
        if given != own:
            raise InvalidInput(
                f"Parameter [{name}] is not a number of thread [{thread.id}]", parameter=name
            )


@attrs.frozen(kw_only=True)
class CarrierInbound:
    """A customer's SMS as the carrier's webhook hands it over: ``from`` (the customer), ``to``
    (a resource's number), ``text`` and the carrier's message id ``id`` (optional)."""

    from_: Phone
    to: Phone
    text: str
    id: Id | None = None

    def arguments(self) -> dict[str, Any]:
        """The message as ``Inbox.receive``'s keyword arguments, for
        ``inbox.receive(**sms.arguments())`` under ``renaming(INBOUND_NAMES)`` (so that a refusal
        names ``from``, ``to``, ``text`` or ``id``)."""
        return {
            "owner_number": self.to,
            "guest_number": self.from_,
            "body": self.text,
            "provider_message_id": self.id,
        }


def load_carrier_inbound(body: object) -> CarrierInbound:
    """The carrier's inbound message ``{"from", "to", "text", "id"?}``; call ``Inbox.receive``
    with it under ``renaming(INBOUND_NAMES)``."""
    return _SHAPE.load(body, CarrierInbound)
