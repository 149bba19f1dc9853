"""The JSON wire formats of the seeds' platforms, built on cattrs converters.

Each ``dump_X`` returns a plain JSON-ready ``dict`` (``json.dumps`` takes it as is); each
``load_X`` takes one back and returns the domain record, raising
:class:`~threadcore.domain.errors.WireFormatError` (an ``InvalidInput``, status 422) that names the
offending field for anything malformed. See ``docs/wire.md`` for every shape with an example and
the decisions the seeds leave open.

- The primary platform (seed 001 and its API reference): :func:`dump_thread`,
  :func:`dump_thread_list`, :func:`dump_thread_sync`, :func:`dump_message`,
  :func:`dump_message_list`, :func:`dump_note`, :func:`dump_note_list`,
  :func:`dump_entries_sync`, :func:`dump_api_error`.
- The request side of the primary platform (query strings and bodies as its clients send them,
  loaded into ``Inbox`` arguments; issue 15): :func:`load_thread_query`,
  :func:`load_message_query`, :func:`load_note_query`, :func:`load_sync_query`,
  :func:`load_entries_sync_query`, :func:`load_assign_request`, :func:`load_send_request`,
  :func:`load_note_create_request`, :func:`load_note_update_request`, :func:`load_ids_request`,
  :func:`load_no_query` (an operation's unknown query parameters refused).
- :class:`NumberedPage`: the platform's numbered page, what ``Inbox.numbered_page`` answers (the
  wire pages by number; every other read of the library pages by cursor, issue 23).
- What a service serving that API needs beyond them (issue 25; ``docs/embedding.md``):
  :func:`error_answer` (a ``ThreadcoreError`` as the platform's status and body),
  :func:`renaming` with :data:`SEND_NAMES`, :data:`ASSIGN_NAMES`, :data:`INBOUND_NAMES` (the
  inbox's argument names as the request's fields), :func:`load_json_body` (415, malformed JSON
  as ``$``), :func:`check_send_numbers` (a send to a thread names its own numbers) and
  :func:`load_carrier_inbound` (the carrier's webhook).
- Seed 000: :func:`dump_sms_thread`, :func:`dump_sms_error`. Seed 002:
  :func:`dump_conversation_message`, :func:`dump_error`.
"""

from threadcore.domain.errors import WireFormatError
from threadcore.domain.queries import NumberedPage
from threadcore.wire._conversations import (
    ERROR_BY_STATUS,
    TO_CONVERSATION_STATUS,
    BadRequest,
    Gone,
    dump_conversation_message,
    dump_error,
    load_conversation_message,
    load_error,
)
from threadcore.wire._platform import (
    TO_MESSAGE_STATUS,
    dump_api_error,
    dump_entries_sync,
    dump_message,
    dump_message_list,
    dump_note,
    dump_note_list,
    dump_thread,
    dump_thread_list,
    dump_thread_sync,
    load_api_error,
    load_entries_sync,
    load_message,
    load_message_list,
    load_note,
    load_note_list,
    load_thread,
    load_thread_list,
    load_thread_sync,
)
from threadcore.wire._requests import (
    MAX_PER_PAGE,
    EntriesSyncQuery,
    ListQuery,
    SendRequest,
    SyncQuery,
    load_assign_request,
    load_entries_sync_query,
    load_ids_request,
    load_message_query,
    load_no_query,
    load_note_create_request,
    load_note_query,
    load_note_update_request,
    load_send_request,
    load_sync_query,
    load_thread_query,
    rename_parameter,
    renaming,
)
from threadcore.wire._service import (
    ASSIGN_NAMES,
    INBOUND_NAMES,
    SEND_NAMES,
    CarrierInbound,
    check_send_numbers,
    error_answer,
    is_json_media,
    load_carrier_inbound,
    load_json_body,
    parse_json,
)
from threadcore.wire._sms import TO_SMS_STATUS, dump_sms_error, dump_sms_thread, load_sms_thread

__all__ = [
    "ASSIGN_NAMES",
    "ERROR_BY_STATUS",
    "INBOUND_NAMES",
    "MAX_PER_PAGE",
    "TO_CONVERSATION_STATUS",
    "TO_MESSAGE_STATUS",
    "SEND_NAMES",
    "TO_SMS_STATUS",
    "BadRequest",
    "CarrierInbound",
    "EntriesSyncQuery",
    "NumberedPage",
    "Gone",
    "ListQuery",
    "SendRequest",
    "SyncQuery",
    "WireFormatError",
    "check_send_numbers",
    "dump_api_error",
    "dump_conversation_message",
    "dump_entries_sync",
    "dump_error",
    "dump_message",
    "dump_message_list",
    "dump_note",
    "dump_note_list",
    "dump_sms_error",
    "dump_sms_thread",
    "dump_thread",
    "dump_thread_list",
    "dump_thread_sync",
    "error_answer",
    "is_json_media",
    "load_api_error",
    "load_assign_request",
    "load_carrier_inbound",
    "load_conversation_message",
    "load_entries_sync",
    "load_entries_sync_query",
    "load_error",
    "load_ids_request",
    "load_json_body",
    "load_message",
    "load_message_list",
    "load_message_query",
    "load_no_query",
    "load_note",
    "load_note_create_request",
    "load_note_list",
    "load_note_query",
    "load_note_update_request",
    "load_send_request",
    "load_sms_thread",
    "load_sync_query",
    "load_thread",
    "load_thread_list",
    "load_thread_query",
    "load_thread_sync",
    "parse_json",
    "rename_parameter",
    "renaming",
]
