"""PostgreSQL at scale, every read the issue names: 10,000 threads against 1,000,000 threads and
10,000,000 messages, same run (target: each operation's ratio 1M / 10k below 2).

    python bench/bench_pg_scale_full.py [--url postgresql://... --server-log FILE]
        [--sizes 10000 1000000] [--repeat 5] [--resources 1000] [--mine 1000] [--due 1000]
        [--out docs/performance-scale-full.md]

The stores. Each size gets a fresh schema made by ``PostgresRepository`` (threadcore's own DDL),
filled by ``COPY`` (the indexes and keys are dropped for the load and rebuilt from their own
definitions, then every table is vacuumed and analyzed, as autovacuum would), outside the timing.
The rows are the rows threadcore writes for the life they describe: a thread opened by an inbound
message, assigned, ten messages (inbound, and outbound ones delivered with a carrier id) and then
resolved by a handler, expired, deleted (its messages and notes tombstones) or still open; one
internal note on every fourth thread; its events (opened, assigned, each message added, resolved,
deleted, note added) in the outbox. The first rows of every load are decoded and encoded again
with threadcore's own row and event codecs (``adapters/_sql.py``) and must come back unchanged.

* ``--resources`` resources (1,000), each with one number and two handlers; a supervisor
  handles all of them.
* The measured resource holds ``--mine`` threads (1,000: 10% open, 2% deleted, the rest
  resolved or expired, ten messages each) at every size; the others share the rest of the store.
  So what grows is what the measured handler cannot see: an operation of that handler that costs
  more in the large store reads rows that are not its own. The supervisor's lists are the large
  lists (every thread of the store): their numbered pages show what a deep page costs.
* ``--due`` threads (1,000, over every resource) are open and silent for longer than the TTL:
  the sweep's work.

The operations, through the public ``Inbox`` (the measured handler unless said otherwise): for
each list filter of threads, messages and notes the first and the last numbered page and the
first and the last keyset page (a token from the numbered page before the last); the thread and
entries FSync and ISync (the tokens are taken, then 100 of the measured resource's threads get an
inbound message; the ISync window also holds the measured resource's due thread); a thread's
messages; the sweep of the 1,000 due threads (put back, and the table vacuumed, before each run,
outside the timing). Each figure is the median of ``--repeat`` runs after one warm-up, the sizes
interleaved so that both see the same machine load.

The plans. Every statement an operation runs on the largest store is run once more with
``auto_explain`` (``log_analyze``, ``log_buffers``; loaded only on the connections of a second
repository, so the timed runs carry no instrumentation) and its plan read from the server's log.
A throwaway server is started with ``tests/pg_server.py`` (fsync off) unless ``--url`` is given;
with ``--url``, ``--server-log`` names the server's log for the plans (none without it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from threadcore import (
    Directory,
    EntryScope,
    Handler,
    Inbox,
    ManualClock,
    MessageFilter,
    NoteFilter,
    Page,
    Policy,
    Resource,
    SyncType,
    ThreadFilter,
)
from threadcore.adapters._postgres_schema import SCHEMA_VERSION
from threadcore.adapters._sql import (
    MESSAGE_COLUMNS,
    NOTE_COLUMNS,
    THREAD_COLUMNS,
    event_from_json,
    event_to_json,
    message_from_row,
    message_to_row,
    note_from_row,
    note_to_row,
    thread_from_row,
    thread_to_row,
)
from threadcore.adapters._sql import OPEN as STORED_OPEN
from threadcore.adapters.postgres import PostgresRepository

NOW = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)  # the clock while measuring
TTL = timedelta(hours=72)
TOKENS_AT = NOW - timedelta(minutes=10)  # when the sync tokens are taken
CHANGES_AT = TOKENS_AT + timedelta(minutes=1)  # the 100 changes an ISync returns
STEP = timedelta(minutes=4)  # between two messages of a thread
HISTORY = (NOW - timedelta(days=365), NOW - TTL - timedelta(hours=4))  # closed threads created
RECENT = (NOW - TTL + timedelta(hours=2), NOW - timedelta(minutes=100))  # open threads created
DUE_SPAN = timedelta(minutes=50)  # the due threads' last messages, up to NOW - TTL
MESSAGES = 10  # a thread's
CHANGES = 100  # what an ISync returns
PAGE = 100  # the platform's default page size
BIG_PAGE = 1000  # the largest page size: the deepest page the platform allows is 1000 of 1000
MAX_PAGE = 1000
CHUNK = 20_000  # threads generated at a time
SECRET = b"bench_pg_scale: one secret for every inbox of the run"
ACTOR = "30000"  # a handler of the measured resource
SUPERVISOR = "99999"  # a handler of every resource
GUEST_J = 7  # the measured resource's history guest with three threads (the guest filter)

OPEN, DUE, RESOLVED, EXPIRED, DELETED = "open", "due", "resolved", "expired", "deleted"
Spec = tuple[datetime, int, str, int, int, bool]  # created, resource, kind, guest, handler, note


def extension(k: int) -> str:
    return f"{20000 + k}"


def number(k: int) -> str:
    return f"+1209248{k:04d}"


def guest_number(g: int) -> str:
    return f"+1650{g:07d}"


def handler_user(k: int, who: int) -> tuple[str, str, str]:
    """(extension id, name, type) of handler ``who`` (1 or 2) of resource ``k``."""
    return (f"{30000 + k}", f"Agent {k}", "User") if who == 1 else (
        f"{40000 + k}", f"Agent {k}b", "User"
    )  # fmt: skip


def directory(resources: int) -> Directory:
    return Directory(
        [
            Resource(
                extension(k),
                name=f"Queue {k}",
                phone_numbers=[number(k)],
                handlers=[
                    Handler(handler_user(k, 1)[0], name=handler_user(k, 1)[1]),
                    Handler(handler_user(k, 2)[0], name=handler_user(k, 2)[1]),
                    Handler(SUPERVISOR, name="Supervisor"),
                ],
            )
            for k in range(resources)
        ]
    )


# --- the stores -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    size: int
    resources: int
    mine: int
    due: int

    @property
    def due_mine(self) -> int:
        """The measured resource's share of the due threads (due thread d is resource d % K)."""
        return len(range(0, self.due, self.resources))

    @property
    def others(self) -> int:
        return self.size - self.mine - (self.due - self.due_mine)


def plan(shape: Shape) -> list[Spec]:
    """Every thread of the store, in creation order (which is also the order of the rows)."""
    specs: list[Spec] = []
    opened = 0

    def group(count: int, resource: Callable[[int], int], guests: int, pool: int) -> None:
        nonlocal opened
        for j in range(count):
            r = j % 50
            if r in (0, 5, 10, 15, 20):  # 10% open, on pairs of their own
                created = RECENT[0] + (RECENT[1] - RECENT[0]) * (j / count)
                specs.append(
                    (created, resource(j), OPEN, 5_000_000 + opened, (j // 5) % 3, j % 4 == 0)
                )
                opened += 1
                continue
            kind = DELETED if r == 1 else RESOLVED if r % 2 else EXPIRED
            created = HISTORY[0] + (HISTORY[1] - HISTORY[0]) * (j / count)
            specs.append((created, resource(j), kind, guests + j % pool, 1 + j % 2, j % 4 == 0))

    mine = shape.mine - shape.due_mine
    group(mine, lambda j: 0, 1_000_000, max(1, mine // 3))
    group(shape.others, lambda j: 1 + j % (shape.resources - 1), 2_000_000, 2_999_999)
    for d in range(shape.due):  # due thread 0 (the measured resource's) falls due at NOW - TTL
        latest = NOW - TTL - DUE_SPAN * (d / shape.due)
        created = latest - STEP * (MESSAGES - 1)
        specs.append((created, d % shape.resources, DUE, 8_000_000 + d, d % 3, d % 4 == 0))
    specs.sort(key=itemgetter(0))
    return specs


BODIES = (
    "Hi, is my order on its way?",
    "Let me check that for you.",
    "It was supposed to arrive yesterday.",
    "I see it left our warehouse this morning.",
    "Great, thanks. Can I change the address?",
    "Yes, send me the new one here.",
    "12 Harbour Street, apartment 4.",
    "Done. Anything else?",
    "No, that is all. Thank you!",
    "You are welcome, have a nice day.",
)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _json(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


@dataclass
class Facts:
    """What the operations need to know of a store."""

    mine: list[tuple[str, str, int]] = field(default_factory=list)  # id, kind, guest
    mine_messages: list[str] = field(default_factory=list)
    mine_notes: list[tuple[str, str]] = field(default_factory=list)  # note id, thread id
    due_rows: list[tuple[Any, ...]] = field(default_factory=list)


class Builder:
    """The rows of one thread's life: the thread, its messages, events and note."""

    def __init__(self, shape: Shape, top_xid: int) -> None:
        self.shape = shape
        self.top_xid = top_xid  # every stored row was written before the run's transactions
        self.messages = 0
        self.notes = 0
        self.events = 0
        self.expected_events = shape.size * (MESSAGES + 5)

    def thread(self, i: int, spec: Spec) -> tuple[tuple[Any, ...], list[Any], list[Any], Any]:
        created, k, kind, g, who, noted = spec
        tid = f"10000000-0000-4000-8000-{i:012x}"
        owner, guest, ext = number(k), guest_number(g), extension(k)
        user = handler_user(k, who) if who else None
        times = [created + STEP * j for j in range(MESSAGES)]
        latest = times[-1]
        deleted = latest + timedelta(minutes=20) if kind == DELETED else None
        events: list[tuple[datetime, str, str, str]] = []

        def event(at: datetime, name: str, body: str) -> None:
            events.append((at, tid, name, f'{{"thread_id":"{tid}","at":"{_iso(at)}",{body}}}'))

        event(
            created,
            "ThreadOpened",
            f'"owner_extension_id":"{ext}","owner_number":"{owner}","guest_number":"{guest}",'
            '"assignee":null,"initiator":null',
        )
        if user is not None:
            event(
                created + timedelta(minutes=1),
                "ThreadAssigned",
                f'"assignee":["{user[0]}","{user[1]}","User"],"previous_assignee":null,'
                f'"initiator":"{user[0]}"',
            )
        messages = []
        last_in = last_out = None
        for j, at in enumerate(times):
            self.messages += 1
            mid = f"20000000-0000-4000-8000-{self.messages:012x}"
            carrier = f"SM{self.messages:032x}"
            body = BODIES[j]
            if user is None or j % 2 == 0:
                last_in = at
                row = [mid, tid, "Inbound", body, guest, owner, None, None, None, at, at, "Alive",
                       carrier, "Received", None, None, None, None, False, None, "text/plain",
                       None, None, None, 1]  # fmt: skip
                event(at, "MessageAdded", f'"message_id":"{mid}","direction":"Inbound",'
                      '"initiator":null')  # fmt: skip
            else:
                last_out = at
                sent, delivered = at + timedelta(seconds=2), at + timedelta(seconds=5)
                row = [mid, tid, "Outbound", body, owner, guest, *user, at, delivered, "Alive",
                       carrier, "Delivered", sent, delivered, None, None, False, None,
                       "text/plain", None, None, None, 4]  # fmt: skip
                event(at, "MessageAdded", f'"message_id":"{mid}","direction":"Outbound",'
                      f'"initiator":"{user[0]}"')  # fmt: skip
            if deleted is not None:  # the tombstone (rule: no text left)
                row[3], row[10], row[11], row[24] = "", deleted, "Deleted", row[24] + 1
            messages.append((*row, ext))  # and the resource, where the schema keeps it
        note = None
        if noted:
            self.notes += 1
            nid = f"30000000-0000-4000-8000-{self.notes:012x}"
            author = user or handler_user(k, 1)
            at = created + timedelta(minutes=2)
            note = (nid, tid, *author, "Customer asked for a callback.", at, at, "Alive", 1)
            if deleted is not None:
                note = (*note[:5], "", at, deleted, "Deleted", 2)
            note = (*note, ext)  # and the resource, where the schema keeps it
            event(at, "NoteAdded", f'"note_id":"{nid}","initiator":"{author[0]}"')
        version = 1 + MESSAGES + (user is not None)
        status, reason, assignee, modified = "Open", None, user, latest
        if kind in (RESOLVED, DELETED):
            status, reason, assignee = "Resolved", "Manual", None
            modified = latest + timedelta(minutes=10)
            version += 1
            assert user is not None
            event(modified, "ThreadResolved", f'"reason":"Manual","initiator":"{user[0]}"')
        elif kind == EXPIRED:
            status, reason, assignee, modified = "Resolved", "ThreadExpired", None, latest + TTL
            version += 1
            event(modified, "ThreadResolved", '"reason":"ThreadExpired","initiator":null')
        label: str | None = BODIES[MESSAGES - 1]
        availability = "Alive"
        if deleted is not None:
            assert user is not None
            availability, label, modified = "Deleted", None, deleted
            version += 1
            event(deleted, "ThreadDeleted", f'"initiator":"{user[0]}"')
        xid = 3 + i * (self.top_xid - 4) // self.shape.size
        thread = (
            tid, owner, guest, ext, f"Queue {k}", "Department", created, status, availability,
            *(assignee or (None, None, None)), reason, label, modified, last_in, last_out,
            latest, version, xid,
        )  # fmt: skip
        return thread, messages, events, note

    def event_rows(self, events: list[tuple[datetime, str, str, str]]) -> Iterator[tuple[Any, ...]]:
        """The events in time order, numbered: (xid, ordinal) grow with time."""
        events.sort(key=itemgetter(0))
        span = self.top_xid - 4
        for _, tid, kind, payload in events:
            self.events += 1
            xid = 3 + min(span - 1, self.events * span // self.expected_events)
            yield xid, self.events, tid, kind, payload


def check_rows(
    threads: list[Any], messages: list[Any], notes: list[Any], events: list[Any]
) -> None:
    """The rows are what threadcore writes: its codecs read them and write them back unchanged."""

    def same(value: Any) -> Any:
        return value

    for row in threads:
        assert thread_to_row(thread_from_row(row[:-1], same), same) == row[:-1], row
    for row in messages:
        codec = row[: len(MESSAGE_COLUMNS)]
        assert message_to_row(message_from_row(codec, same), same) == codec, row
    for row in notes:
        codec = row[: len(NOTE_COLUMNS)]
        assert note_to_row(note_from_row(codec, same), same) == codec, row
    for row in events:
        assert event_to_json(event_from_json(row[3], row[4])) == (row[3], row[4]), row


TABLES = ("threads", "messages", "notes", "events")


def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def build(url: str, schema: str, shape: Shape) -> Facts:
    """A fresh schema of threadcore's, filled for ``shape``."""
    PostgresRepository(url, schema=schema).close()  # threadcore's own tables and indexes
    s = _quoted(schema)
    facts = Facts()
    specs = plan(shape)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        before = _index_definitions(conn, schema)
        keys = conn.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = %s AND c.contype IN ('p', 'u') "
            "AND c.conrelid::regclass::text LIKE ANY(%s)",
            (schema, [f"%.{t}" for t in TABLES]),
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
            "AND tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            (schema, list(TABLES)),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX {s}."{name}"')
        for table, name, _ in keys:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        (top_xid,) = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone() or (0,)
        builder = Builder(shape, int(top_xid))
        _load(url, s, specs, builder, facts, _load_columns(conn, schema))
        for table, name, definition in keys:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.execute(definition)
        if _index_definitions(conn, schema) != before:
            raise SystemExit("the rebuilt indexes differ from threadcore's")
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {s}.{table}")
    return facts


def _index_definitions(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY indexname", (schema,)
    ).fetchall()
    return [row[0] for row in rows]


def _copy_sql(s: str, table: str, columns: Sequence[str]) -> str:
    return f"COPY {s}.{table} ({', '.join(columns)}) FROM STDIN"


THREAD_COPY_COLUMNS = (*THREAD_COLUMNS, "xid")
EVENT_COLUMNS = ("xid", "ordinal", "thread_id", "kind", "payload")


#: Columns a schema may have beyond the row codecs', and how the rows fill them.
EXTRA = {
    "threads": ("xid",),
    "messages": ("owner_extension_id",),
    "notes": ("owner_extension_id",),
}


def _load_columns(conn: psycopg.Connection[Any], schema: str) -> dict[str, tuple[str, ...]]:
    """The columns the load fills in messages and notes: the codecs' and those of
    :data:`EXTRA` the schema has (it is changing: schema version 6 keeps a message's resource on
    the message, version 8 a note's). A column the benchmark does not know that must be filled
    stops it."""
    found: dict[str, list[tuple[str, str, Any, str]]] = {}
    for table in TABLES:
        found[table] = conn.execute(
            "SELECT column_name, is_nullable, column_default, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchall()
    known = {
        "threads": (*THREAD_COLUMNS, *EXTRA["threads"]),
        "messages": ("position", *MESSAGE_COLUMNS, *EXTRA["messages"]),
        "notes": (*NOTE_COLUMNS, *EXTRA["notes"]),
        "events": EVENT_COLUMNS,
    }
    for table, columns in found.items():
        for name, nullable, default, identity in columns:
            if (
                name not in known[table]
                and nullable == "NO"
                and default is None
                and identity != "YES"
            ):
                raise SystemExit(f"{table}.{name}: a column this benchmark does not fill")
    codecs = {"messages": MESSAGE_COLUMNS, "notes": NOTE_COLUMNS}
    return {
        table: (*codec, *(c for c in EXTRA[table] if c in {name for name, *_ in found[table]}))
        for table, codec in codecs.items()
    }


def _load(
    url: str,
    s: str,
    specs: list[Spec],
    builder: Builder,
    facts: Facts,
    columns: dict[str, tuple[str, ...]],
) -> None:
    """COPY every row, four tables at once (one connection each), in creation order."""
    with contextlib.ExitStack() as stack:
        copies = {}
        for table, filled in (
            ("threads", THREAD_COPY_COLUMNS),
            ("messages", columns["messages"]),
            ("notes", columns["notes"]),
            ("events", EVENT_COLUMNS),
        ):
            conn = stack.enter_context(psycopg.connect(url))
            copies[table] = stack.enter_context(conn.cursor().copy(_copy_sql(s, table, filled)))
        checked = False
        for start in range(0, len(specs), CHUNK):
            threads, messages, notes, events = [], [], [], []
            for i in range(start, min(len(specs), start + CHUNK)):
                spec = specs[i]
                thread, rows, happened, note = builder.thread(i, spec)
                threads.append(thread)
                messages += rows
                events += happened
                if note is not None:
                    notes.append(note)
                if spec[1] == 0:
                    facts.mine.append((thread[0], spec[2], spec[3]))
                    if spec[2] in (RESOLVED, EXPIRED):
                        facts.mine_messages.append(rows[0][0])
                    if note is not None:
                        facts.mine_notes.append((note[0], note[1]))
                if spec[2] == DUE:
                    facts.due_rows.append(thread)
            messages.sort(key=itemgetter(9))
            notes.sort(key=itemgetter(6))
            numbered = list(builder.event_rows(events))
            if not checked:
                check_rows(threads, messages, notes, numbered)
                checked = True
            width, note_width = len(columns["messages"]), len(columns["notes"])
            for table, rows in (
                ("threads", threads),
                ("messages", [row[:width] for row in messages]),
                ("notes", [row[:note_width] for row in notes]),
                ("events", numbered),
            ):
                write = copies[table].write_row
                for row in rows:
                    write(row)


def reset_due(url: str, schema: str, facts: Facts) -> None:
    """The due threads as they were before a sweep (then the table vacuumed): outside timing."""
    s = _quoted(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                f"DELETE FROM {s}.threads WHERE id = ANY(%s)", ([r[0] for r in facts.due_rows],)
            )
            with conn.cursor().copy(_copy_sql(s, "threads", THREAD_COPY_COLUMNS)) as copy:
                for row in facts.due_rows:
                    copy.write_row(row)
        conn.execute(f"VACUUM {s}.threads")


# --- the operations ---------------------------------------------------------------------------


@dataclass
class Op:
    name: str
    call: Callable[[Inbox], int] | None  # None: not run at this size (``why``)
    setup: Callable[[], None] | None = None
    detail: str = ""
    why: str = ""
    mine: bool = True  # the measured handler's (same records at every size)
    floor: bool = False  # raw SQL: the least any implementation pays (not a threadcore read)


Lister = Callable[..., Page[Any]]
KINDS = {"threads": "threads", "messages": "message-list", "notes": "note-list"}


def _lister(box: Inbox, kind: str) -> Lister:
    return {"threads": box.list, "messages": box.list_messages, "notes": box.list_notes}[kind]


def paged(
    store: Store, kind: str, label: str, actor: str, wanted: object, size: int, last_size: int
) -> list[Op]:
    """The first and last numbered page and the first and last keyset page of one list filter.
    The last keyset page continues the token of the numbered page before the last one."""
    mine = actor == ACTOR
    total = _total(store.inbox, kind, actor, wanted)
    pages = max(1, math.ceil(total / last_size))
    last = min(pages, MAX_PAGE)

    def numbered(page: int, per_page: int) -> Callable[[Inbox], int] | None:
        return lambda box: len(
            _lister(box, kind)(actor=actor, filter=wanted, per_page=per_page, page=page)
        )

    def keyset(per_page: int, token: str | None) -> Callable[[Inbox], int]:
        return lambda box: len(
            _lister(box, kind)(actor=actor, filter=wanted, per_page=per_page, page_token=token)
        )

    ops = [
        Op(f"{label}: numbered page 1", numbered(1, size), mine=mine),
        Op(f"{label}: keyset page 1", keyset(size, None), mine=mine),
    ]
    if pages > 1 or not mine:  # (the supervisor's lists: at every size, to compare)
        detail = f"page {last:,} of {last_size:,}"
        ops.insert(1, Op(f"{label}: last numbered page", numbered(last, last_size), detail=detail,
                         mine=mine))  # fmt: skip
        if pages == 1:
            token = None
        elif pages - 1 <= MAX_PAGE:  # the token the page before the last hands out
            token = _lister(store.inbox, kind)(
                actor=actor, filter=wanted, per_page=last_size, page=pages - 1
            ).next_page_token
        else:
            token = _minted(store, kind, actor, wanted, (pages - 1) * last_size - 1)
        ops.append(
            Op(f"{label}: last keyset page", keyset(last_size, token),
               detail=f"after {(pages - 1) * last_size:,}", mine=mine)
        )  # fmt: skip
    return ops


def _total(inbox: Inbox, kind: str, actor: str, wanted: object) -> int:
    """How many records a filter matches, as a numbered page says (untimed)."""
    page = _lister(inbox, kind)(actor=actor, filter=wanted, per_page=1, page=1)
    return (page.paging.total_elements or 0) if page.paging else 0


def _minted(store: Store, kind: str, actor: str, wanted: object, index: int) -> str:
    """A page token that continues after record ``index`` of the supervisor's unfiltered
    message or note list, made as the inbox makes one (its private helpers: walking a token to
    the end of ten million messages takes too long; numbered pages stop at page 1,000)."""
    from threadcore.inbox import queries

    table, created, alive = (
        ("messages", "created_at", "availability = 'Alive' AND status <> 'Draft'")
        if kind == "messages"
        else ("notes", "creation_time", "availability = 'Alive'")
    )
    with psycopg.connect(store.url) as conn:
        found = conn.execute(
            f"SELECT {created}, id FROM {_quoted(store.schema)}.{table} WHERE {alive} "
            f"ORDER BY {created}, id OFFSET %s LIMIT 1",
            (index,),
        ).fetchone()
    assert found is not None
    at, record_id = found[0].astimezone(UTC), found[1]
    fingerprint = queries._fingerprint(wanted)
    return queries._page_token(store.inbox, KINDS[kind], actor, fingerprint, at, record_id)


def operations(store: Store) -> list[Op]:
    facts = store.facts
    by_kind: dict[str, list[str]] = {}
    for tid, kind, _ in facts.mine:
        by_kind.setdefault(kind, []).append(tid)
    one = by_kind[RESOLVED][0]
    guest = guest_number(1_000_000 + GUEST_J)
    window = {"creation_time_from": NOW - timedelta(days=240),
              "creation_time_to": NOW - timedelta(days=60)}  # fmt: skip
    note_thread = facts.mine_notes[0][1]
    thread_filters = [
        ("threads", ThreadFilter()),
        ("threads, Open", ThreadFilter(status="Open")),
        ("threads, Resolved", ThreadFilter(status="Resolved")),
        ("threads, one resource", ThreadFilter(owner_extension_ids=[extension(0)])),
        ("threads, created in a window", ThreadFilter(**window)),  # type: ignore[arg-type]
        ("threads, owner number", ThreadFilter(owner_phone_number=number(0))),
        ("threads, guest number", ThreadFilter(guest_phone_number=guest)),
        ("threads, Deleted", ThreadFilter(availability=["Deleted"])),
    ]
    message_filters = [
        ("messages", MessageFilter()),
        ("messages, open threads", MessageFilter(thread_status="Open")),
        ("messages, resolved threads", MessageFilter(thread_status="Resolved")),
        ("messages, one resource", MessageFilter(owner_extension_ids=[extension(0)])),
        ("messages, one thread", MessageFilter(thread_ids=[one])),
        ("messages, by id", MessageFilter(message_ids=facts.mine_messages[::97][:5])),
        ("messages, created in a window", MessageFilter(**window)),  # type: ignore[arg-type]
        ("messages, Deleted", MessageFilter(availability=["Deleted"])),
    ]
    note_filters = [
        ("notes", NoteFilter()),
        ("notes, one thread", NoteFilter(thread_ids=[note_thread])),
        ("notes, by id", NoteFilter(note_ids=[n for n, _ in facts.mine_notes[:3]])),
        ("notes, Deleted", NoteFilter(availability=["Deleted"])),
    ]
    ops: list[Op] = []
    for kind, filters in (
        ("threads", thread_filters),
        ("messages", message_filters),
        ("notes", note_filters),
    ):
        for label, wanted in filters:
            ops += paged(store, kind, label, ACTOR, wanted, PAGE, PAGE)
    for kind, label, wanted in (
        ("threads", "supervisor: threads", ThreadFilter()),
        ("threads", "supervisor: threads, Open", ThreadFilter(status="Open")),
        ("messages", "supervisor: messages", MessageFilter()),
        ("notes", "supervisor: notes", NoteFilter()),
    ):
        ops += paged(store, kind, label, SUPERVISOR, wanted, PAGE, BIG_PAGE)
    ops += floors(store)
    thread_token, entries_token = store.tokens
    ops += [
        Op("thread FSync", lambda box: len(box.sync(actor=ACTOR).records)),
        Op(
            f"thread ISync ({CHANGES} changes)",
            lambda box: len(
                box.sync(
                    actor=ACTOR, sync_type=SyncType.INCREMENTAL, sync_token=thread_token
                ).records
            ),
        ),
        Op(
            "entries FSync, AssignedToMe",
            lambda box: len(box.sync_entries(actor=ACTOR).records),
        ),
        Op(
            "entries FSync, Accessible",
            lambda box: len(box.sync_entries(actor=ACTOR, scope=EntryScope.ACCESSIBLE).records),
        ),
        Op(
            f"entries ISync ({CHANGES} changes)",
            lambda box: len(
                box.sync_entries(
                    actor=ACTOR, sync_type=SyncType.INCREMENTAL, sync_token=entries_token
                ).records
            ),
        ),
        Op("message list by thread", lambda box: len(box.messages(one, actor=ACTOR))),
    ]
    return ops


def floors(store: Store) -> list[Op]:
    """The floor of a numbered page over the whole store (the supervisor's): the exact count of
    its records that the page's paging block reports (``totalElements``), in raw SQL on a
    connection of its own, over the narrowest index threadcore's schema has for it. A count of
    N rows reads N index entries, so this grows with the store whatever the implementation."""
    s = _quoted(store.schema)
    connection: list[psycopg.Connection[Any]] = []

    def counted(sql: str) -> Callable[[Inbox], int]:
        def call(box: Inbox) -> int:
            if not connection:
                connection.append(psycopg.connect(store.url, autocommit=True))
            row = connection[0].execute(sql).fetchone()
            return int(row[0]) if row else 0

        return call

    alive = "availability = 'Alive'"
    return [
        Op(f"floor: {name} (raw SQL)", counted(sql), mine=False, floor=True)
        for name, sql in (
            ("count of the store's threads", f"SELECT count(*) FROM {s}.threads WHERE {alive}"),
            ("count of its open threads", f"SELECT count(*) FROM {s}.threads WHERE {STORED_OPEN}"),
            (
                "count of its messages",
                f"SELECT count(*) FROM {s}.messages WHERE {alive} AND status <> 'Draft'",
            ),
            ("count of its notes", f"SELECT count(*) FROM {s}.notes WHERE {alive}"),
        )
    ]


def sweep_op(store: Store) -> Op:
    return Op(
        f"sweep of {len(store.facts.due_rows):,} due threads",
        lambda box: len(box.expire()),
        setup=lambda: reset_due(store.url, store.schema, store.facts),
    )


class Store:
    """One size: its schema, facts, inbox and operations."""

    def __init__(self, url: str, shape: Shape, ddl: Sequence[str] = ()) -> None:
        self.url = url
        self.shape = shape
        self.schema = f"scale_full_{shape.size}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {_quoted(self.schema)} CASCADE")
        started = time.perf_counter()
        self.facts = build(url, self.schema, shape)
        self.build_seconds = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:  # a fix to try, beside threadcore's
            for statement in ddl:
                conn.execute(statement.replace("{s}", _quoted(self.schema)))
            for table in TABLES if ddl else ():
                conn.execute(f"ANALYZE {_quoted(self.schema)}.{table}")
            self.indexes = [
                f"{table}: {definition.split(' USING ', 1)[-1]} ({name})"
                for table, name, definition in conn.execute(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = %s AND tablename = ANY(%s) ORDER BY tablename, indexname",
                    (self.schema, list(TABLES)),
                ).fetchall()
            ]
        self.directory = directory(shape.resources)
        self.clock = ManualClock(TOKENS_AT)
        self.inbox = self.open_inbox(url)
        self.tokens = self._changes()
        self.clock.set(NOW)
        self.times: dict[str, list[float]] = {}
        self.counts: dict[str, int] = {}
        self.plans: dict[str, list[Statement]] = {}
        self.ops = operations(self)
        self.sweep = sweep_op(self)

    def open_inbox(self, url: str) -> Inbox:
        repo = PostgresRepository(url, schema=self.schema, max_size=2)
        return Inbox(
            repository=repo,
            directory=self.directory,
            clock=self.clock,
            policy=Policy(ttl=TTL),
            token_secret=SECRET,
        )

    def _changes(self) -> tuple[str, str]:
        """The sync tokens, then an inbound message on ``CHANGES`` open threads of the measured
        resource: what the ISyncs return."""
        thread_token = self.inbox.sync(actor=ACTOR).sync_token
        entries_token = self.inbox.sync_entries(actor=ACTOR).sync_token
        self.clock.set(CHANGES_AT)
        opened = [g for _, kind, g in self.facts.mine if kind == OPEN][:CHANGES]
        for g in opened:
            self.inbox.receive(owner_number=number(0), guest_number=guest_number(g), body="Hi?")
        return thread_token, entries_token

    def run(self, op: Op, inbox: Inbox | None = None) -> float | None:
        if op.call is None:
            return None
        if op.setup is not None:
            op.setup()
        call = op.call
        box = inbox or self.inbox
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            found = call(box)
            took = time.perf_counter() - started
        finally:
            gc.enable()
        self.counts[op.name] = found
        return took


# --- the plans --------------------------------------------------------------------------------


@dataclass
class Statement:
    query: str
    plan: list[str]
    ms: float
    times: int = 1


AUTO_EXPLAIN = (
    "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 "
    "-c auto_explain.log_analyze=on -c auto_explain.log_buffers=on "
    "-c auto_explain.log_timing=on -c auto_explain.log_nested_statements=off"
)
_LOGGED = re.compile(r"LOG:  duration: ([0-9.]+) ms  plan:$")
_COST = re.compile(r"  \(cost=[^)]*\)")
_COLUMNS = re.compile(r"SELECT (?:[a-z]+\.)?[a-z_]+(?:, (?:[a-z]+\.)?[a-z_]+){5,} FROM")


def explained(url: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(AUTO_EXPLAIN)}"


def read_plans(text: str) -> list[Statement]:
    """The plans auto_explain wrote to the server log (continuation lines begin with a tab)."""
    found: list[Statement] = []
    current: Statement | None = None
    for line in text.splitlines():
        match = _LOGGED.search(line)
        if match:
            current = Statement("", [], float(match.group(1)))
            found.append(current)
        elif current is not None and line.startswith("\t"):
            body = line[1:]
            if body.startswith("Query Text: "):
                current.query = body[len("Query Text: ") :]
            else:
                current.plan.append(_COST.sub("", body))
        else:
            current = None
    return [s for s in found if any(" on " in line for line in s.plan)]  # table reads only


_TABLE_SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan")


def rows_read(plan: list[str]) -> int:
    """Rows the scan nodes of a plan produced or filtered out (a Bitmap Index Scan counts
    through its heap scan)."""
    total = 0
    loops = 1
    for line in plan:
        node = re.search(r"(\w[\w ]*Scan)\b.*actual time=[^ ]+ rows=(\d+) loops=(\d+)", line)
        if node:
            loops = int(node.group(3))
            if node.group(1).removeprefix("Parallel ") in _TABLE_SCANS:
                total += int(node.group(2)) * loops
            continue
        removed = re.search(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", line)
        if removed:
            total += int(removed.group(1)) * loops
    return total


def trimmed(statement: Statement, width: int = 170, most: int = 24) -> list[str]:
    query = _COLUMNS.sub("SELECT … FROM", statement.query)
    if len(query) > 400:
        query = query[:399] + "…"
    times = f" (x{statement.times}, the slowest)" if statement.times > 1 else ""
    lines = [f"-- {statement.ms:.2f} ms{times}: {query}"]
    buffers_shown = False
    for line in statement.plan:
        stripped = line.strip()
        if stripped.startswith("Buffers:"):
            if buffers_shown:
                continue
            buffers_shown = True
        if stripped.startswith(("Planning", "Worker ")):
            continue
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
        if len(lines) > most:
            lines.append("  …")
            break
    return lines


def explain_all(store: Store, log: Path) -> None:
    """Run every operation of ``store`` once more on connections with auto_explain, and keep
    the plans each one's statements logged."""
    inbox = store.open_inbox(explained(store.url))
    try:
        for op in [*store.ops, store.sweep]:
            if op.call is None:
                continue
            if op.setup is not None:
                op.setup()
            start = log.stat().st_size
            op.call(inbox)
            time.sleep(0.2)  # the server writes its log as it goes
            with log.open("rb") as handle:
                handle.seek(start)
                text = handle.read().decode("utf-8", "replace")
            merged: dict[str, Statement] = {}
            for statement in read_plans(text):
                known = merged.get(statement.query)
                if known is None:
                    merged[statement.query] = statement
                else:
                    known.times += 1
                    if statement.ms > known.ms:
                        known.ms, known.plan = statement.ms, statement.plan
            store.plans[op.name] = list(merged.values())
    finally:
        inbox.close()


# --- the run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def server(url: str | None, log: str | None) -> Iterator[tuple[str, Path | None]]:
    if url:
        yield url, Path(log) if log else None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    started = importlib.import_module("pg_server").start()
    try:
        yield started.url, started.log
    finally:
        started.stop()


def measure(stores: list[Store], repeat: int, sweep: bool) -> None:
    """Every operation ``repeat`` times after a warm-up, the sizes interleaved."""
    names = list(dict.fromkeys(op.name for store in stores for op in store.ops))
    for name in names:
        for run in range(repeat + 1):
            for store in stores:
                op = next((o for o in store.ops if o.name == name), None)
                took = None if op is None else store.run(op)
                if run and took is not None:
                    store.times.setdefault(name, []).append(took)
        print(" ".join(f"{_ms(s, name)}" for s in stores), name, flush=True)
    if sweep:
        for run in range(repeat + 1):
            for store in stores:
                took = store.run(store.sweep)
                if run and took is not None:
                    store.times.setdefault(store.sweep.name, []).append(took)
        print(" ".join(_ms(s, stores[0].sweep.name) for s in stores), stores[0].sweep.name)


def _ms(store: Store, name: str) -> str:
    took = store.times.get(name)
    return f"{statistics.median(took) * 1000:9.2f}" if took else "        -"


def settings(url: str) -> str:
    with psycopg.connect(url) as conn:
        shown = {
            name: (conn.execute(f"SHOW {name}").fetchone() or ("?",))[0]
            for name in ("server_version", "fsync", "shared_buffers", "work_mem")
        }
    return (
        f"PostgreSQL {shown['server_version']} (fsync={shown['fsync']}, shared_buffers="
        f"{shown['shared_buffers']}, work_mem={shown['work_mem']}, autovacuum off; the "
        "stores are vacuumed and analyzed once built)"
    )


def report(stores: list[Store], command: str, about: str, ddl: Sequence[str]) -> str:
    small, large = stores[0], stores[-1]
    a, b = small.shape.size, large.shape.size
    lines = [
        "# PostgreSQL at scale: every read, 10k against 1M threads",
        "",
        f"Generated by `{command}` (do not edit by hand; run it again).",
        "",
        f"Machine: {os.cpu_count()} CPUs, shared with another developer's test runs (noisy); "
        f"{about}. Each figure is the median of the timed runs through the public `Inbox`, "
        "after one warm-up, the two sizes interleaved.",
        "",
        f"Stores: {a:,} threads / {a * MESSAGES:,} messages and {b:,} threads / "
        f"{b * MESSAGES:,} messages, over {large.shape.resources:,} resources, built by COPY "
        f"(outside the timing; {small.build_seconds:.0f} s and {large.build_seconds:.0f} s). The "
        f"measured handler's resource holds the same {large.shape.mine:,} threads (10% open, ten "
        f"messages each) in both; the supervisor handles every resource (its lists are the "
        f"store). {len(large.facts.due_rows):,} threads are due for the sweep.",
        "",
        f"threadcore's PostgreSQL schema version {SCHEMA_VERSION} (the working tree's at the "
        "time of the run), with these indexes on the four large tables: "
        + "; ".join(f"`{i}`" for i in large.indexes)
        + ".",
        "",
        *(
            [f"Tried beside threadcore's schema (`--ddl`): {'; '.join(f'`{d}`' for d in ddl)}.", ""]
            if ddl
            else []
        ),
        "Numbered pages: page 1 and the last page, 100 a page for the handler; for the "
        f"supervisor the last page at {BIG_PAGE:,} a page (page ≤ {MAX_PAGE:,}, perPage ≤ "
        f"{BIG_PAGE:,}: the deepest page the platform allows is the millionth record, the last "
        "page of the large store). Keyset pages: the first, and the last one (the token the "
        "numbered page before the last hands out). 'rows read' adds up the rows the plans' scan "
        "nodes returned or filtered out at the large size.",
        "",
        f"| operation | records ({a:,} / {b:,}) | {a:,} ms | {b:,} ms | ratio | < 2? "
        f"| rows read at {b:,} | plan |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    misses = []
    for op in [*large.ops, large.sweep]:
        small_op = next((o for o in [*small.ops, small.sweep] if o.name == op.name), op)
        t_small, t_large = small.times.get(op.name), large.times.get(op.name)
        records = f"{small.counts.get(op.name, '-')} / {large.counts.get(op.name, '-')}"
        plans = large.plans.get(op.name, [])
        read = sum(rows_read(s.plan) for s in plans)
        seq = sorted({m for s in plans for line in s.plan
                      for m in re.findall(r"Seq Scan on (\w+)", line)})  # fmt: skip
        flags = ", ".join(f"Seq Scan on {t}" for t in seq)
        name = op.name + (f" ({small_op.detail} / {op.detail})" if op.detail else "")
        if t_small and t_large:
            ms_small = statistics.median(t_small) * 1000
            ms_large = statistics.median(t_large) * 1000
            ratio = ms_large / ms_small
            met = "floor" if op.floor else "yes" if ratio < 2 else "**no**"
            if (ratio >= 2 or seq) and not op.floor:
                misses.append(op.name)
            lines.append(
                f"| {name} | {records} | {ms_small:.2f} | {ms_large:.2f} | {ratio:.2f} | {met} "
                f"| {read:,} | {flags} |"
            )
        else:
            ms_small_text = f"{statistics.median(t_small) * 1000:.2f}" if t_small else "-"
            lines.append(
                f"| {name} | {records} | {ms_small_text} | not run: {op.why or small_op.why} "
                f"| - | **no** | - | |"
            )
            misses.append(op.name)
    reads = len([op for op in large.ops if not op.floor]) + 1
    lines += [
        "",
        f"Operations that miss the target: {len(misses)} of {reads}. The floors are raw SQL, "
        "not threadcore: the exact count a numbered page over the whole store reports, which "
        "no implementation can make cheaper than counting.",
        "",
    ]
    lines += [f"## Plans at {b:,} threads", ""]
    lines.append(
        "The statements each operation ran (auto_explain, ANALYZE and BUFFERS; costs, "
        "planning and all but the top Buffers line left out; a statement run several times is "
        "shown once, its slowest run; statements that read no table are left out)."
    )
    lines.append("")
    for op in [*large.ops, large.sweep]:
        statements = large.plans.get(op.name)
        if not statements or op.name not in misses:
            continue
        lines += [f"### {op.name}", "", "```"]
        for statement in statements:
            lines += [*trimmed(statement), ""]
        lines[-1] = "```"
        lines.append("")
    lines += [
        "## The other operations' statements",
        "",
        "Each statement, what it took under auto_explain and the table reads of its plan.",
        "",
    ]
    for op in [*large.ops, large.sweep]:
        statements = large.plans.get(op.name)
        if not statements or op.name in misses:
            continue
        lines += [f"- **{op.name}**"]
        lines += [f"  - {outline(statement)}" for statement in statements]
    return "\n".join(lines)


def outline(statement: Statement) -> str:
    """A statement in one line: its time, its text cut short and the table reads of its plan."""
    query = _COLUMNS.sub("SELECT … FROM", statement.query)
    query = query if len(query) <= 160 else query[:159] + "…"
    reads = []
    for line in statement.plan:
        node = re.search(
            r"((?:Parallel )?\w[\w ]*Scan\b[^(]*?)\s*\(actual time=[^ ]+ (rows=\d+ loops=\d+)", line
        )
        if node and "Bitmap Index Scan" not in node.group(1):
            reads.append(f"{node.group(1).strip()} ({node.group(2)})")
    times = f" x{statement.times}" if statement.times > 1 else ""
    return f"{statement.ms:.2f} ms{times}: `{query}` → {'; '.join(reads) or '-'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("THREADCORE_TEST_POSTGRES_URL"))
    parser.add_argument("--server-log", default=None, help="with --url: the server's log file")
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--mine", type=int, default=1000, help="the measured resource's threads")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--out", default=None, help="write the markdown report here")
    parser.add_argument(
        "--ddl",
        action="append",
        default=[],
        help="SQL run on each store once built ({s}: its schema), e.g. an index to try",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schemas (with --url)")
    args = parser.parse_args()
    command = "python bench/bench_pg_scale_full.py " + " ".join(sys.argv[1:])
    with server(args.url, args.server_log) as (url, log):
        about = settings(url)
        stores = []
        for size in sorted(args.sizes):
            shape = Shape(size, args.resources, args.mine, args.due)
            if shape.others < 0 or args.resources < 2:
                raise SystemExit(f"--sizes: {size:,} is too small for --mine and --due")
            stores.append(Store(url, shape, args.ddl))
            print(f"built {size:,} threads in {stores[-1].build_seconds:.0f} s", flush=True)
        measure(stores, args.repeat, not args.no_sweep)
        if log is not None:
            explain_all(stores[-1], log)
        for op in stores[0].ops:
            if op.mine and stores[0].counts.get(op.name) != stores[-1].counts.get(op.name):
                print(f"warning: {op.name} returned {stores[0].counts.get(op.name)} and "
                      f"{stores[-1].counts.get(op.name)} records")  # fmt: skip
        text = report(stores, command.strip(), about, args.ddl)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
        for store in stores:
            store.inbox.close()
            if not args.keep:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {_quoted(store.schema)} CASCADE")


if __name__ == "__main__":
    main()
