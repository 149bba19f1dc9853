"""``/openapi.json``, generated from the app's operation table and the wire's attrs shapes: the
paths and methods are the routes served, the schemas the classes the documents are made from, so
the description cannot drift from what is served."""

from __future__ import annotations

import enum
import sys
import types
import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import attrs

from threadcore.http._attachments import AttachmentEntry
from threadcore.http._common import Dialect, Operation
from threadcore.wire import _conversations as conversations
from threadcore.wire import _platform as shapes
from threadcore.wire import _requests as requests
from threadcore.wire import _sms as sms
from threadcore.wire._base import Id, JsonObject, Phone, Shape

__all__ = ["openapi"]

#: The platform's names for the wire's shapes (others drop their leading underscore).
_NAMES: Final[dict[type, str]] = {
    shapes._Thread: "MessageThread",
    shapes._ThreadList: "MessageThreadList",
    shapes._ThreadSync: "ThreadSyncList",
    shapes._Message: "ThreadMessage",
    shapes._MessageList: "ThreadMessageList",
    shapes._Note: "ThreadNote",
    shapes._NoteList: "ThreadNoteList",
    shapes._Entry: "ThreadEntrySyncItem",
    shapes._EntriesSync: "ThreadEntriesSyncList",
    shapes._User: "ThreadUser",
    shapes._Party: "Party",
    shapes._Paging: "Paging",
    shapes._SyncInfo: "SyncInfo",
    shapes._ApiError: "ApiError",
    shapes._ErrorDetail: "ApiErrorDetail",
    requests._NewMessage: "NewThreadMessageRequest",
    requests._Assign: "AssignMessageThreadRequest",
    requests._Assignee: "AssignMessageThreadRequestAssignee",
    requests._NoteCreate: "ThreadNoteCreateRequest",
    requests._NoteUpdate: "ThreadNoteUpdateRequest",
    requests._Ids: "DeleteByIdsRequest",
    requests._PhoneParty: "MessagePhoneParty",
    AttachmentEntry: "MessageAttachment",
    sms._SmsThread: "SmsThread",
    sms._Sms: "Sms",
    conversations._ConversationMessage: "ConversationMessage",
}

#: Every request header an operation requires: its schema.
_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "Version": {"type": "string", "enum": ["2021-07-28"]},
}

_STRING: Final = {"type": "string"}
_IDS: Final = {"type": "array", "items": {"type": "string"}}
_AVAILABILITY: Final = {"type": "array", "items": {"type": "string", "enum": ["Alive", "Deleted"]}}

#: Every query parameter an operation takes: its schema, and whether it is an array (repeated
#: or comma-separated).
_QUERY: Final[dict[str, dict[str, Any]]] = {
    "threadStatus": {"type": "string", "enum": ["Open", "Resolved"]},
    "ownerExtensionIds": _IDS,
    "creationTimeFrom": {"type": "string", "format": "date-time"},
    "creationTimeTo": {"type": "string", "format": "date-time"},
    "ownerPhoneNumber": _STRING,
    "guestPhoneNumber": _STRING,
    "availability": _AVAILABILITY,
    "messageIds": _IDS,
    "threadIds": _IDS,
    "noteIds": _IDS,
    "perPage": {"type": "integer", "minimum": 1, "default": requests.DEFAULT_PER_PAGE,
                "description": f"above {requests.MAX_PER_PAGE}, {requests.MAX_PER_PAGE} is served"},
    "page": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
    "syncType": {"type": "string", "enum": ["FSync", "ISync"], "default": "FSync"},
    "syncToken": _STRING,
    "scope": {"type": "string", "default": "AssignedToMe", "enum": [
        "Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit"]},
    "contentDisposition": {"type": "string", "enum": ["Inline", "Attachment"]},
    "contentDispositionFilename": _STRING,
    "after": {"type": "integer", "minimum": 0, "default": 0},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
}  # fmt: skip

_RESOURCE: Final = {
    "type": "object",
    "required": ["extensionId"],
    "properties": {
        "extensionId": _STRING,
        "name": _STRING,
        "extensionType": _STRING,
        "phoneNumbers": {"type": "array", "items": _STRING},
        "handlers": {"type": "array", "items": {}},
    },
}


class _Schemas:
    def __init__(self, key: typing.Callable[[str], str]) -> None:
        self.key = key
        self.components: dict[str, Any] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = _NAMES.get(cls, cls.__name__.lstrip("_"))
        if name not in self.components:
            self.components[name] = {}  # placed first: a shape may refer to itself
            self.components[name] = self._object(cls)
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        # Each wire module names its keys its own way (camelCase or snake_case), and a shape
        # that writes null writes every key.
        shape = getattr(sys.modules[cls.__module__], "SHAPE", None)
        key = shape.key if isinstance(shape, Shape) else self.key
        every = isinstance(shape, Shape) and not shape.converter.omit_if_default
        for field in attrs.fields(cls):
            name = key(field.name)
            hint = hints[field.name]
            if field.name == "attachments" and cls in (shapes._Message, shapes._Entry):
                hint = tuple[AttachmentEntry, ...]  # the app writes entries, not URLs
            properties[name] = self.of(hint, nullable=every)
            if every or field.default is attrs.NOTHING:
                required.append(name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema

    def of(self, hint: Any, *, nullable: bool = False) -> dict[str, Any]:
        """The schema of ``hint``; with ``nullable``, an optional value may be ``null``."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            (inner,) = (a for a in args if a is not type(None))
            if nullable:
                return {"anyOf": [self.of(inner), {"type": "null"}]}
            return self.of(inner)
        if origin is tuple:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict or hint is JsonObject:
            return {"type": "object"}
        if isinstance(hint, type) and attrs.has(hint):
            return self.ref(hint)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"type": "string", "enum": [member.value for member in hint]}
        simple = {
            Id: _STRING,
            Phone: {"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$"},
            str: _STRING,
            datetime: {"type": "string", "format": "date-time"},
            bool: {"type": "boolean"},
            int: {"type": "integer"},
            float: {"type": "number"},
        }
        return dict(simple[hint])


def _error_schema(dialect: Dialect, schemas: _Schemas) -> dict[str, Any]:
    """A reference to ``dialect``'s error body among the components."""
    if isinstance(dialect.schema, type):
        return schemas.ref(dialect.schema)
    schemas.components.setdefault(dialect.name, dict(dialect.schema))
    return {"$ref": f"#/components/schemas/{dialect.name}"}


def _body(body: type | str | None, schemas: _Schemas) -> dict[str, Any] | None:
    if body is None:
        return None
    if body == "multipart":
        message = schemas.ref(requests._NewMessage)
        form = {
            "type": "object",
            "description": "One JSON part with the message (named request.json, json, request "
            "or metadata, or else the one part of type application/json) and file parts, each an "
            "attachment whatever its name (the Node client's attachments, the Python SDK's "
            "attachment)",
            "properties": {
                "request.json": {"type": "object", "properties": {"metadata": message}},
                "attachments": {"type": "array", "items": {"type": "string", "format": "binary"}},
            },
            "additionalProperties": {"type": "string", "format": "binary"},
        }
        content = {"application/json": {"schema": message}, "multipart/form-data": {"schema": form}}
    elif body == "resource":
        content = {"application/json": {"schema": _RESOURCE}}
    else:
        assert isinstance(body, type)
        content = {"application/json": {"schema": schemas.ref(body)}}
    return {"required": True, "content": content}


def _response(response: type | str | None, schemas: _Schemas) -> tuple[str, dict[str, Any]]:
    if response is None:
        return "204", {"description": "Done (no content)"}
    if response == "binary":
        content = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        return "200", {"description": "The attachment's bytes", "content": content}
    cls = shapes._Message if response == "message" else response
    assert isinstance(cls, type)
    schema = schemas.ref(cls)
    return "200", {"description": "OK", "content": {"application/json": {"schema": schema}}}


def openapi(served: Iterable[tuple[str, Operation]], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``served``: (path prefix, operation) pairs as routed."""
    schemas = _Schemas(shapes.SHAPE.key)
    described = {"description": "This document", "content": {"application/json": {}}}
    paths: dict[str, dict[str, Any]] = {
        "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": described}}}
    }
    for prefix, op in served:
        status, answer = _response(op.response, schemas)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _STRING}
            for name in _path_names(prefix + op.path)
        ]
        for name in op.query:
            schema = _QUERY[name]
            entry: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
            if schema.get("type") == "array":
                entry.update(style="form", explode=True)
            parameters.append(entry)
        parameters += [
            {"name": name, "in": "header", "required": True, "schema": _HEADERS[name]}
            for name in op.headers
        ]
        error = {"application/json": {"schema": _error_schema(op.dialect, schemas)}}
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "security": _SECURITY[op.auth],
            "responses": {status: answer, "default": {"description": "Error", "content": error}},
        }
        if parameters:
            item["parameters"] = parameters
        body = _body(op.body, schemas)
        if body is not None:
            item["requestBody"] = body
        paths.setdefault(prefix + op.path or "/", {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "threadcore: message threads", "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "controlToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


_SECURITY: Final[dict[str, list[dict[str, list[str]]]]] = {
    "user": [{"bearer": []}],
    "control": [{"controlToken": []}],
    "none": [],
}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
