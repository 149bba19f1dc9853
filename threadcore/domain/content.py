"""What a message may carry besides its body (rule M1, issue 25): attachments (http(s) URLs, at
most ten), a content type, whether an automation wrote it, and where it came from.

:func:`check_content` is the one place these rules live; the facade calls it on a command's
arguments before anything runs, and keeps what it answers as the command's :data:`Content`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import MessageSource, Policy
from threadcore.domain.validation import check_body

__all__ = ["MAX_ATTACHMENTS", "MAX_URL", "PLAIN", "TEXT", "Content", "check_content"]

#: A message's content beyond its body: attachments, content type, is_automated, source (a
#: tuple, not a record: the receive path builds one per message and reads it once).
Content = tuple[tuple[str, ...], str, bool, MessageSource | None]

#: The content type of a text message.
TEXT: Final = "text/plain"

#: The content of a text message without attachments written by a person.
PLAIN: Final[Content] = ((), TEXT, False, None)

#: The most attachments a message carries.
MAX_ATTACHMENTS: Final = 10

#: The longest attachment URL.
MAX_URL: Final = 2048

_CONTENT_TYPE: Final = re.compile(
    r"[A-Za-z0-9][\w.+-]{0,63}/[A-Za-z0-9][\w.+-]{0,63}(;[ -~]{1,128})?"
)


def check_content(
    body: object,
    attachments: object,
    content_type: object,
    is_automated: object,
    source: object,
    policy: Policy,
) -> Content:
    """Check a message's body and content; the common case (text only) costs one body check.

    A message with attachments may have an empty body (a picture without words)."""
    if attachments == () and content_type == TEXT and is_automated is False and source is None:
        check_body(body, policy.max_body_length)
        return PLAIN
    if isinstance(attachments, str | bytes) or not isinstance(attachments, Iterable):
        raise InvalidInput(
            "Parameter [attachments] must be a list of URLs", parameter="attachments"
        )
    urls = tuple(attachments)
    if len(urls) > MAX_ATTACHMENTS:
        raise InvalidInput(
            f"Parameter [attachments] may hold at most {MAX_ATTACHMENTS} URLs",
            parameter="attachments",
        )
    for url in urls:
        if (
            not isinstance(url, str)
            or len(url) > MAX_URL
            or (parts := urlsplit(url)).scheme not in ("http", "https")
            or not parts.netloc
            or any(c.isspace() or not c.isprintable() for c in url)
        ):
            raise InvalidInput(
                f"Parameter [attachments] must hold http(s) URLs of at most {MAX_URL} "
                f"characters, not {url!r:.60}",
                parameter="attachments",
            )
    if not (urls and body == ""):  # a picture without words is allowed
        check_body(body, policy.max_body_length)
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidInput(
            f"Parameter [content_type] must be a MIME type like text/plain, not "
            f"{content_type!r:.40}",
            parameter="content_type",
        )
    if not isinstance(is_automated, bool):
        raise InvalidInput("Parameter [is_automated] must be a bool", parameter="is_automated")
    origin = None
    if source is not None:
        try:
            origin = MessageSource(source)  # type: ignore[arg-type]
        except ValueError:
            raise InvalidInput(
                "Parameter [source] must be one of "
                f"{', '.join(s.value for s in MessageSource)}, not {source!r:.40}",
                parameter="source",
            ) from None
    return urls, content_type, is_automated, origin
