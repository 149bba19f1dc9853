"""A send's multipart form, read as the platform's clients write it (issue 25).

The platform's two published clients name their parts differently: the Node client posts its JSON
part as ``request.json`` and the files as ``attachments``; the Python SDK (``ringcentral``) posts
``json`` and names each file ``attachment`` unless told otherwise. So a part is read by what it
is, not by one spelling: the JSON part is the one named ``json``, ``request``, ``request.json``
or ``metadata`` (or, when none is so named, the one file part of type ``application/json``), and
every other file part is an attachment, whatever its name. Every refusal names the part it is
about (``parameterName``: the part's name, with ``[i]`` for the i-th file of that name) and says
what is wrong with it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Final

from starlette.datastructures import UploadFile
from starlette.requests import Request

from threadcore.domain.errors import RequestTooLarge, WireFormatError
from threadcore.http import _attachments as att
from threadcore.http._common import (
    MAX_JSON_BODY,
    is_json_media,
    limited_body,
    parse_json,
    replaying,
)

__all__ = ["JSON_PARTS", "MAX_SEND_BODY", "read_send_form"]

#: The names the JSON part goes by (``metadata`` as a plain field holds the message itself).
JSON_PARTS: Final = ("request.json", "json", "request", "metadata")

#: The largest send form: every attachment at its largest, and the metadata.
MAX_SEND_BODY: Final = att.MAX_ATTACHMENTS * att.MAX_ATTACHMENT_BYTES + MAX_JSON_BODY

#: File parts the parser takes before it gives up on a form (beyond the attachments a message
#: carries and the JSON part, so that the part one too many is named by its own name).
_MAX_FILES: Final = 2 * att.MAX_ATTACHMENTS
_MAX_FIELDS: Final = 8

Part = tuple[str, UploadFile | str]


async def read_send_form(request: Request) -> tuple[object, list[att.Upload]]:
    """The JSON request and the checked files of a send form (see the module)."""
    body = await limited_body(request, MAX_SEND_BODY)
    try:
        form = await replaying(request, body).form(
            max_files=_MAX_FILES, max_fields=_MAX_FIELDS, max_part_size=MAX_JSON_BODY
        )
    except Exception as error:  # the parser's own errors: a malformed form, too many parts
        text = str(getattr(error, "detail", error))
        if "Too many files" in text:
            raise RequestTooLarge(
                f"The form holds more than {_MAX_FILES} files: a message carries at most "
                f"{att.MAX_ATTACHMENTS} attachments",
                parameter="attachments",
            ) from None
        raise WireFormatError(
            f"The multipart body cannot be read: {text[:120]}", parameter="$"
        ) from None
    try:
        parts: list[Part] = form.multi_items()
        index = _json_part(parts)
        metadata = await _json_document(*parts[index])
        uploads = await _uploads([part for i, part in enumerate(parts) if i != index])
    finally:
        await form.close()
    return metadata, uploads


def _is_json(value: UploadFile | str) -> bool:
    if not isinstance(value, UploadFile):
        return False
    return is_json_media((value.content_type or "").partition(";")[0].strip().lower())


def _json_part(parts: Sequence[Part]) -> int:
    """The index of the JSON part: the one named as :data:`JSON_PARTS` says, else the one file
    part of type application/json."""
    chosen = [i for i, (name, _) in enumerate(parts) if name in JSON_PARTS]
    if not chosen:
        chosen = [i for i, (_, value) in enumerate(parts) if _is_json(value)]
    if not chosen:
        raise WireFormatError(
            "The form holds no JSON part with the message: send it as a part named request.json, "
            "json or request (or of type application/json), beside the file parts",
            parameter="metadata",
        )
    if len(chosen) > 1:
        name = parts[chosen[1]][0]
        raise WireFormatError(
            f"Part [{name[:40]}] is a second JSON part: the form holds one, with the message",
            parameter=name[:40],
        )
    return chosen[0]


async def _json_document(name: str, value: UploadFile | str) -> object:
    raw = await value.read() if isinstance(value, UploadFile) else value.encode()
    if len(raw) > MAX_JSON_BODY:
        raise RequestTooLarge(
            f"Part [{name[:40]}] is larger than {MAX_JSON_BODY} bytes", parameter=name[:40]
        )
    try:
        document = parse_json(raw)
    except WireFormatError:
        raise WireFormatError(
            f"Part [{name[:40]}] is not valid JSON: it must hold the message", parameter=name[:40]
        ) from None
    if name == "metadata" and not isinstance(value, UploadFile):
        return {"metadata": document}  # a plain field holds the metadata object itself
    return document


async def _uploads(parts: Sequence[Part]) -> list[att.Upload]:
    """Every file part as a checked upload, in order; any other part is refused by name."""
    uploads: list[att.Upload] = []
    seen: dict[str, int] = {}
    for name, value in parts:
        short = name[:40]
        if not isinstance(value, UploadFile):
            raise WireFormatError(
                f"Part [{short}] is neither the JSON part nor a file: a file part has a filename "
                "in its Content-Disposition",
                parameter=short,
            )
        where = f"{short}[{seen.get(name, 0)}]"
        seen[name] = seen.get(name, 0) + 1
        if len(uploads) == att.MAX_ATTACHMENTS:
            raise RequestTooLarge(
                f"Part [{where}] is one file too many: a message carries at most "
                f"{att.MAX_ATTACHMENTS} attachments",
                parameter=short,
            )
        kind = value.content_type or mimetypes.guess_type(value.filename or "")[0] or ""
        upload = att.Upload(await value.read(), kind, value.filename)
        uploads.append(upload.checked(where))
    return uploads
