"""The seed platform's JSON shapes for what the command line prints.

``threadcore.wire`` (issue 6) is the library's serializer; when it offers ``dump_thread``,
``dump_thread_list`` or ``dump_message_list`` the command line uses them. Until then these
small fallbacks print the same shapes: camelCase, times as ``2026-02-17T17:12:39.676Z``, fields
that do not apply omitted.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from threadcore import Message, Page, Paging, Thread, ThreadUser

__all__ = ["dump_message_list", "dump_thread", "dump_thread_list"]


def _library(name: str) -> Any:
    try:
        module = importlib.import_module("threadcore.wire")
    except ImportError:
        return None
    found = getattr(module, name, None)
    return found if callable(found) else None


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _user(user: ThreadUser) -> dict[str, Any]:
    out: dict[str, Any] = {"extensionId": user.extension_id}
    if user.name:
        out["name"] = user.name
    if user.extension_type:
        out["extensionType"] = user.extension_type
    return out


def _thread(thread: Thread) -> dict[str, Any]:
    out: dict[str, Any] = {"id": thread.id}
    if thread.label is not None:
        out["label"] = thread.label
    out["status"] = thread.status.value
    if thread.status_reason is not None:
        out["statusReason"] = thread.status_reason.value
    out["availability"] = thread.availability.value
    owner: dict[str, Any] = {"extensionId": thread.owner.extension_id}
    if thread.owner.name:
        owner["name"] = thread.owner.name
    if thread.owner.extension_type:
        owner["extensionType"] = thread.owner.extension_type
    out["owner"] = owner
    out["ownerParty"] = {"phoneNumber": thread.owner_party.phone_number}
    out["guestParty"] = {"phoneNumber": thread.guest_party.phone_number}
    if thread.assignee is not None:
        out["assignee"] = _user(thread.assignee)
    out["creationTime"] = _time(thread.creation_time)
    out["lastModifiedTime"] = _time(thread.last_modified_time)
    return out


def _paging(paging: Paging | None) -> dict[str, Any] | None:
    if paging is None:
        return None
    out: dict[str, Any] = {"perPage": paging.per_page}
    for key, value in (
        ("page", paging.page),
        ("pageStart", paging.page_start),
        ("pageEnd", paging.page_end),
        ("totalPages", paging.total_pages),
        ("totalElements", paging.total_elements),
    ):
        if value is not None:
            out[key] = value
    return out


def dump_thread(thread: Thread) -> dict[str, Any]:
    """A thread as the platform's MessageThread."""
    library = _library("dump_thread")
    return dict(library(thread)) if library is not None else _thread(thread)


def dump_thread_list(page: Page[Thread]) -> dict[str, Any]:
    """A page of threads as the platform's MessageThreadList."""
    library = _library("dump_thread_list")
    if library is not None:
        return dict(library(page))
    out: dict[str, Any] = {"records": [_thread(t) for t in page]}
    paging = _paging(page.paging)
    if paging is not None:
        out["paging"] = paging
    return out


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "availability": message.availability.value,
        "creationTime": _time(message.created_at),
        "lastModifiedTime": _time(message.last_modified_at),
        "direction": message.direction.value,
        "messageStatus": message.status.value,
    }
    if message.body:
        out["text"] = message.body
    if message.attachments:
        out["attachments"] = list(message.attachments)
    if message.author is not None:
        out["author"] = _user(message.author)
    return out


def dump_message_list(messages: Sequence[Message]) -> dict[str, Any]:
    """All of a thread's messages as the platform's ThreadMessageList: one page holding
    every record."""
    count = len(messages)
    paging = (
        Paging(count, page=1, page_start=0, page_end=count - 1, total_pages=1, total_elements=count)
        if count
        else Paging(1)
    )
    library = _library("dump_message_list")
    if library is not None:
        return dict(library(Page(tuple(messages), None, paging)))
    out: dict[str, Any] = {"records": [_message(m) for m in messages]}
    out["paging"] = _paging(paging)
    return out
