"""The facade: :class:`Inbox`, the thread rules over a repository, a directory and a clock.

Each area of the inbox is a module a newcomer finds by name (``messages``, ``threads``,
``drafts``, ``notes``, ``directory``, and the reads). A command's facade function checks its
arguments (no I/O), builds its record (:mod:`threadcore.inbox.commands`) and runs its handler
(:mod:`threadcore.inbox.handlers`: load, ask the domain, save) through the one runner
(:mod:`threadcore.inbox._runner`: claims, time, the re-check before commit, retries,
publication). :class:`Inbox` is the list of what each area offers, bound as methods (no extra
call on any path). All rules live in :mod:`threadcore.domain`; the facade depends on ports only
(:mod:`threadcore.ports`), and :func:`threadcore.connect` / :func:`threadcore.open_inbox` compose
the concrete parts.
"""

from __future__ import annotations

from threadcore.inbox import _files
from threadcore.inbox import directory as _directory
from threadcore.inbox import drafts as _drafts
from threadcore.inbox import entries as _entries
from threadcore.inbox import messages as _messages
from threadcore.inbox import notes as _notes
from threadcore.inbox import operator as _operator
from threadcore.inbox import queries as _queries
from threadcore.inbox import seams as _seams
from threadcore.inbox import sync as _sync
from threadcore.inbox import threads as _threads
from threadcore.inbox._spine import Spine
from threadcore.ports import Clock, Repository

__all__ = ["Inbox"]


class Inbox(Spine):
    """A shared SMS inbox: the thread rules over a repository, a directory and a clock.

    Every command and query takes the acting handler's extension id as ``actor=`` (except
    :meth:`receive`, which the carrier calls, :meth:`expire` and the directory changes). Commands
    are atomic: all their effects and events are stored together, or none; a refused command
    raises a :class:`~threadcore.ThreadcoreError` subclass and changes nothing.

    ``token_secret`` signs page and sync tokens; give every instance of a service the same secret
    (by default each inbox draws its own, so its tokens die with it).
    """

    # messages: threadcore/inbox/messages.py
    receive = _messages.receive
    send = _messages.send
    record_delivery = _messages.record_delivery
    attach_provider_id = _messages.attach_provider_id
    classify = _messages.classify
    delete_messages = _messages.delete_messages
    opted_out = _messages.opted_out

    # threads: threadcore/inbox/threads.py
    assign = _threads.assign
    resolve = _threads.resolve
    delete = _threads.delete
    expire = _threads.expire

    # drafts: threadcore/inbox/drafts.py
    save_draft = _drafts.save_draft
    send_draft = _drafts.send_draft
    discard_draft = _drafts.discard_draft

    # notes: threadcore/inbox/notes.py
    add_note = _notes.add_note
    edit_note = _notes.edit_note
    delete_notes = _notes.delete_notes

    # queries: threadcore/inbox/queries.py
    get = _queries.get
    messages = _queries.messages
    drafts = _queries.drafts
    message = _queries.message
    list = _queries.list_threads
    list_messages = _queries.list_messages
    list_notes = _queries.list_notes
    numbered_page = _queries.numbered_page
    attachment_content = _files.attachment_content

    # sync: threadcore/inbox/sync.py
    sync = _sync.sync
    sync_entries = _entries.sync_entries

    # directory: threadcore/inbox/directory.py
    add_resource = _directory.add_resource
    add_phone_number = _directory.add_phone_number
    add_handler = _directory.add_handler
    remove_resource = _directory.remove_resource
    remove_phone_number = _directory.remove_phone_number
    remove_handler = _directory.remove_handler
    resource_removed = _directory.resource_removed
    phone_number_removed = _directory.phone_number_removed
    handler_removed = _directory.handler_removed
    load_directory = _directory.load_directory

    # the operator's reads, without an actor: threadcore/inbox/operator.py
    resources = _operator.resources
    operator_threads = _operator.operator_threads
    operator_thread = _operator.operator_thread
    latest_messages = _operator.latest_messages
    outbound_messages = _operator.outbound_messages
    status_counts = _operator.status_counts
    feed_position = _operator.feed_position
    feed_cursor = _operator.feed_cursor
    operator_messages = _operator.operator_messages

    # seams: what the layers around the inbox use of it (threadcore/inbox/seams.py)
    @property
    def clock(self) -> Clock:
        """The clock port this inbox reads (see :func:`threadcore.inbox.seams.clock`)."""
        return _seams.clock(self)

    @property
    def repository(self) -> Repository:
        """The repository this inbox stores in (see :func:`threadcore.inbox.seams.repository`)."""
        return _seams.repository(self)

    @property
    def concurrency(self) -> int:
        """How many units of work the repository lets run at once (a pool's ``max_size``, else
        1; see :func:`threadcore.inbox.seams.concurrency`)."""
        return _seams.concurrency(self)

    observe = _seams.observe
    thread_exists = _seams.thread_exists
    message_by_provider_id = _seams.message_by_provider_id
    prefetch = _seams.prefetch
