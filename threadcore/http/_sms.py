"""Seed 000's platform, served: ``GET /v2/sms-threads/{sms_thread_id}`` ("Get a SMS thread"), the
thread with its activity times, its messages and drafts, their delivery fields and
classifications (``threadcore.wire.dump_sms_thread``), errors in that platform's body
(``dump_sms_error``)."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from threadcore.domain.errors import ThreadNotFound
from threadcore.domain.model import Availability
from threadcore.http._common import Context, Dialect, Operation, json_response
from threadcore.inbox import Inbox
from threadcore.wire import _sms as shapes
from threadcore.wire._requests import load_no_query
from threadcore.wire._sms import dump_sms_error, dump_sms_thread

__all__ = ["DIALECT", "OPERATIONS", "PREFIX"]

#: Where the platform's SMS threads are.
PREFIX: Final = "/v2/sms-threads"

#: FastAPI's error body (see ``dump_sms_error``): a sentence, or a 422's validation list.
_ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "loc", "msg"],
                        "properties": {
                            "type": {"type": "string"},
                            "loc": {"type": "array", "items": {"type": "string"}},
                            "msg": {"type": "string"},
                        },
                    },
                },
            ]
        }
    },
}

#: Seed 000's errors.
DIALECT: Final = Dialect("SmsThreadError", dump_sms_error, _ERROR_SCHEMA)


async def get_sms_thread(ctx: Context, request: Request) -> Response:
    """The thread the caller handles, with its alive messages and drafts in creation order (the
    seed's statuses include ``draft``); a deleted thread is not found (the shape cannot say
    deleted), as is one the caller may not see."""
    actor = ctx.actor(request)
    load_no_query(request.query_params.multi_items())
    thread_id = request.path_params["sms_thread_id"]
    assert isinstance(thread_id, str)

    def read(inbox: Inbox) -> dict[str, Any]:
        thread = inbox.get(thread_id, actor=actor)
        if thread.availability is Availability.DELETED:
            raise ThreadNotFound(f"Thread [{thread_id[:64]}] not found")
        records = [
            *inbox.messages(thread_id, actor=actor).records,
            *inbox.drafts(thread_id, actor=actor).records,
        ]
        records.sort(key=lambda record: record.created_at)  # stable: ties keep their order
        return dump_sms_thread(thread, records)

    return json_response(await ctx.inbox.run(read))


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("GET", "/{sms_thread_id}", "getSmsThread", "Get a SMS thread", get_sms_thread,
              response=shapes._SmsThread, dialect=DIALECT),
)  # fmt: skip
