"""The platform's message-threads API: one handler per operation, each a few lines over
``threadcore.wire`` (the request loaders in, the documents out) and :class:`AsyncInbox`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from threadcore import wire
from threadcore.domain.errors import InvalidInput, NotFound
from threadcore.http import _attachments as att
from threadcore.http._common import (
    MAX_JSON_BODY,
    Context,
    Handler,
    Operation,
    json_response,
    limited_body,
    read_json,
)
from threadcore.http._send import BASE, read_send, send_message, with_attachment_entries
from threadcore.wire import _platform as shapes
from threadcore.wire import _requests as requests

__all__ = ["BASE", "OPERATIONS"]


def _pairs(request: Request) -> list[tuple[str, str]]:
    return request.query_params.multi_items()


def _path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    assert isinstance(value, str)
    return value


# --- threads --------------------------------------------------------------------------------------
def _listing(
    load: Callable[[list[tuple[str, str]]], wire.ListQuery[Any]],
    dump: Callable[[Any, Request], dict[str, Any]],
) -> Handler:
    """A list endpoint: the query string loaded, the inbox's numbered read (the platform pages
    by number), its page written."""

    async def handler(ctx: Context, request: Request) -> Response:
        actor = ctx.actor(request)
        query = load(_pairs(request))
        page = await ctx.inbox.numbered_page(actor=actor, **query.arguments())
        return json_response(dump(page, request))

    return handler


list_threads = _listing(requests.load_thread_query, lambda page, _: wire.dump_thread_list(page))


async def get_thread(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    return json_response(
        wire.dump_thread(await ctx.inbox.get(_path_id(request, "threadId"), actor=actor))
    )


async def delete_thread(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    await ctx.inbox.delete(_path_id(request, "threadId"), actor=actor)
    return Response(status_code=204)


async def assign_thread(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    assignee = requests.load_assign_request(await read_json(request))
    with requests.renaming(wire.ASSIGN_NAMES):
        thread = await ctx.inbox.assign(
            _path_id(request, "threadId"), actor=actor, assignee=assignee
        )
    return json_response(wire.dump_thread(thread))


async def resolve_thread(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    await limited_body(request, MAX_JSON_BODY)  # the client posts {}: read, not needed
    return json_response(
        wire.dump_thread(await ctx.inbox.resolve(_path_id(request, "threadId"), actor=actor))
    )


async def sync_threads(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    query = requests.load_sync_query(_pairs(request))
    result = await ctx.inbox.sync(actor=actor, **query.arguments())
    return json_response(wire.dump_thread_sync(result))


async def sync_entries(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    query = requests.load_entries_sync_query(_pairs(request))
    result = await ctx.inbox.sync_entries(
        actor=actor,
        sync_type=query.sync_type,
        sync_token=query.sync_token,
        scope=query.scope,
        thread_ids=query.thread_ids,
    )
    return json_response(with_attachment_entries(wire.dump_entries_sync(result), request))


# --- messages -------------------------------------------------------------------------------------
list_messages = _listing(
    requests.load_message_query,
    lambda page, request: with_attachment_entries(wire.dump_message_list(page), request),
)


async def send(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    request_, files = await read_send(request)
    message = await send_message(ctx.inbox, actor=actor, send=request_, files=files)
    return json_response(with_attachment_entries(wire.dump_message(message), request))


async def _delete(
    ctx: Context,
    request: Request,
    parameter: str,
    delete: Callable[..., Awaitable[object]],
) -> Response:
    """A delete of the ids the JSON body lists (``{"ids": [...]}``, named ``parameter`` in the
    inbox's refusals): 204 once deleted."""
    actor = ctx.actor(request)
    ids = requests.load_ids_request(await read_json(request))
    with requests.renaming({parameter: "ids"}):
        await delete(ids, actor=actor)
    return Response(status_code=204)


async def delete_messages(ctx: Context, request: Request) -> Response:
    return await _delete(ctx, request, "messageIds", ctx.inbox.delete_messages)


async def message_content(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    message_id, attachment_id = _path_id(request, "messageId"), _path_id(request, "attachmentId")
    disposition = request.query_params.get("contentDisposition", "Inline")
    filename = request.query_params.get("contentDispositionFilename")
    unknown = set(request.query_params) - {"contentDisposition", "contentDispositionFilename"}
    if unknown or disposition not in ("Inline", "Attachment"):
        name = min(unknown) if unknown else "contentDisposition"
        raise InvalidInput(f"Parameter [{name[:40]}] is not valid here", parameter=name[:40])
    message = await ctx.inbox.message(message_id, actor=actor)
    index = int(attachment_id) - 1 if attachment_id.isdigit() and len(attachment_id) < 4 else -1
    stored = (
        att.parse_stored(message.attachments[index])
        if 0 <= index < len(message.attachments)
        else None
    )
    if stored is None:
        raise NotFound(
            f"Attachment [{attachment_id[:40]}] of message [{message_id[:64]}] not found"
        )
    try:
        content = await ctx.inbox.attachment_content(message_id, index, actor=actor)
    except NotFound:
        raise NotFound(
            f"Attachment [{attachment_id[:40]}] of message [{message_id[:64]}] not found"
        ) from None
    name = filename or stored.filename or f"attachment-{index + 1}"
    header = "attachment" if disposition == "Attachment" else "inline"
    return Response(
        content,
        media_type=stored.content_type,
        headers={"Content-Disposition": f"{header}; filename*=UTF-8''{quote(name)}"},
    )


# --- notes ----------------------------------------------------------------------------------------
list_notes = _listing(requests.load_note_query, lambda page, _: wire.dump_note_list(page))


async def create_note(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    thread_id, text = requests.load_note_create_request(await read_json(request))
    with requests.renaming({"text": "text"}):
        note = await ctx.inbox.add_note(thread_id, actor=actor, text=text)
    return json_response(wire.dump_note(note))


async def update_note(ctx: Context, request: Request) -> Response:
    actor = ctx.actor(request)
    text = requests.load_note_update_request(await read_json(request))
    note = await ctx.inbox.edit_note(_path_id(request, "noteId"), actor=actor, text=text)
    return json_response(wire.dump_note(note))


async def delete_notes(ctx: Context, request: Request) -> Response:
    return await _delete(ctx, request, "noteIds", ctx.inbox.delete_notes)


_LIST: Final = ("perPage", "page")
_THREAD_FILTER: Final = (
    "threadStatus",
    "ownerExtensionIds",
    "creationTimeFrom",
    "creationTimeTo",
    "ownerPhoneNumber",
    "guestPhoneNumber",
    "availability",
)
_MESSAGE_FILTER: Final = (
    "threadStatus",
    "ownerExtensionIds",
    "availability",
    "messageIds",
    "threadIds",
    "creationTimeFrom",
    "creationTimeTo",
)
_NOTE_FILTER: Final = ("ownerExtensionIds", "availability", "threadIds", "noteIds")

#: Every operation of the platform's message-threads API, fixed paths before ``/{threadId}``.
OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("GET", "", "listThreads", "List message threads", list_threads,
              _THREAD_FILTER + _LIST, response=shapes._ThreadList),
    Operation("GET", "/sync", "syncThreads", "Sync message threads", sync_threads,
              ("syncType", "syncToken"), response=shapes._ThreadSync),
    Operation("GET", "/entries/sync", "syncEntries", "Sync thread entries", sync_entries,
              ("syncType", "syncToken", "scope", "threadIds"), response=shapes._EntriesSync),
    Operation("GET", "/messages", "listMessages", "List messages", list_messages,
              _MESSAGE_FILTER + _LIST, response=shapes._MessageList),
    Operation("POST", "/messages", "sendMessage", "Send a message", send,
              body="multipart", response=shapes._Message),
    Operation("DELETE", "/messages", "deleteMessages", "Delete messages", delete_messages,
              body=requests._Ids),
    Operation("GET", "/messages/{messageId}/content/{attachmentId}", "readMessageContent",
              "Read an attachment's content", message_content,
              ("contentDisposition", "contentDispositionFilename"), response="binary"),
    Operation("GET", "/notes", "listNotes", "List notes", list_notes, _NOTE_FILTER + _LIST,
              response=shapes._NoteList),
    Operation("POST", "/notes", "createNote", "Create a note", create_note,
              body=requests._NoteCreate, response=shapes._Note),
    Operation("DELETE", "/notes", "deleteNotes", "Delete notes", delete_notes,
              body=requests._Ids),
    Operation("PATCH", "/notes/{noteId}", "updateNote", "Update a note's text", update_note,
              body=requests._NoteUpdate, response=shapes._Note),
    Operation("GET", "/{threadId}", "readThread", "Read a message thread", get_thread,
              response=shapes._Thread),
    Operation("DELETE", "/{threadId}", "deleteThread", "Delete a message thread",
              delete_thread),
    Operation("POST", "/{threadId}/assign", "assignThread", "Assign, reassign or unassign",
              assign_thread, body=requests._Assign, response=shapes._Thread),
    Operation("POST", "/{threadId}/resolve", "resolveThread", "Resolve a message thread",
              resolve_thread, response=shapes._Thread),
)  # fmt: skip
