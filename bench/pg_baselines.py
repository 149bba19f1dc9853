"""The PostgreSQL baselines the benchmarks compare threadcore's ``receive`` with (issue 24).

Both run on threadcore's own schema, made by threadcore's own migrations
(``PostgresRepository(url, schema=...)``: the same tables, the same 10 thread indexes and 6
message indexes, the same triggers), and store the rows threadcore stores for an inbound message:
the thread (opened, or its label, times and version moved on) stamped with the writing
transaction's id (``xid``, the change feed's order), the message with its resource, and the
events (``ThreadOpened`` and ``MessageAdded``, or ``MessageAdded`` alone; ``ThreadResolved`` first
when the pair's open thread had expired) in the outbox. Nothing of threadcore's Python runs in
them: ids are ``uuid4`` text, rows and JSON payloads are built by hand.

* :class:`FairRaw` ("fair raw", the target's baseline): a raw psycopg loop that does what the
  rules need for one receive, in one transaction and in the same 2 round trips as threadcore
  (each a pipeline): (1) ``BEGIN``, lock the pair's open thread ``SELECT ... FOR UPDATE`` (one
  open thread per pair under concurrency); then, in Python, the TTL check (an open thread silent
  for the TTL is expired, not written to); (2) expire it if due, insert the new thread or update
  the open one, insert the message, insert its events, ``COMMIT``. Two first messages of a pair at
  once: the second thread insert fails on the unique index of open threads
  (``threads_one_open_per_pair``), and the whole receive is retried. Every statement has fewer
  than 50 parameters (psycopg's query-conversion cache) and is prepared.

  What it does **not** do, that threadcore does: read the latest stored instant (the clock floor,
  rule R18a), take the pair's advisory lock (the claim, R18a) and the walks' gate (Q2), read the
  pair's opt-out (M7), validate the numbers and body, build frozen records and events, map rows,
  retry conflicts through the facade. So threadcore's ratio to it is what those cost.

* The **ladder** (``FairRaw(..., rules=RULES[:n])``): the fair raw with the statements
  threadcore sends for the rules, added one rule at a time, in :data:`RULES`' order and in the
  round trip threadcore sends them in (the first: the claim's pipeline), each in threadcore's
  own SQL text (``threadcore/adapters/_postgres_statements.py``; the same text, checked against
  what threadcore sends by ``tests/test_bench_baselines.py``):

  - ``claim`` (R1, R18a: a pair's commands run one at a time in every process, also while the
    pair has no open thread): ``SELECT pg_advisory_xact_lock(hashtextextended(key, 0))`` on
    threadcore's key for the pair, before the read, which then takes no row lock (threadcore
    locks the pair, not the row; a pair's first messages wait for each other instead of
    failing on the unique index);
  - ``gate`` (Q2, R18a: a page of a walk by creation time waits for the commands under way):
    the same lock statement ``FROM schema.threadcore_gate()`` (the walks' table lock, ROW
    EXCLUSIVE);
  - ``floor`` (R18a: a command is dated after the latest instant stored): the read gains
    ``GREATEST(GREATEST((SELECT max(created_at) FROM messages), (SELECT max(creation_time)
    FROM notes)), t.last_modified_time)`` and becomes ``FROM (SELECT 1) AS one LEFT JOIN
    threads AS t ON ...`` (one row even without an open thread); the receive is dated a
    microsecond after it when its instant is not later;
  - ``opt_out`` (M7: a keyword's change of the opt-out, read under the claim; threadcore reads
    it in every claim by pair, keyword or not, since it costs no round trip): the read gains
    ``(SELECT o.opted_out FROM opt_outs AS o WHERE o.owner_number = %s AND o.guest_number =
    %s)``.

  With every rule the read still selects the three columns the fair raw needs (threadcore
  reads the thread's 19, to build its record: the library's own cost). threadcore's ratio to
  the top of the ladder is the library's own cost (Python, the record mapping, the writes'
  shape), the rungs' ratios what each rule's statements cost.

* :func:`install_one_call` / :class:`OneCall` ("one-call limit", reported, not a target): the same
  work as one plpgsql function, ``SELECT schema.bench_receive(...)`` in autocommit: 1 round trip
  and no client logic (the TTL check and the retry happen in the server: ``INSERT ... ON CONFLICT
  DO NOTHING`` on the partial unique index, then the lock again). The limit of this schema on
  this machine; threadcore keeps its decisions in Python and does not aim at it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg

__all__ = ["EXTENSION", "RULES", "FairRaw", "OneCall", "install_one_call", "quoted"]

#: The resource every benchmark receives for (its extension id and type as threadcore stores them).
EXTENSION = "6249888001"
_XID = "pg_current_xact_id()::text::bigint"
_OPEN = "status = 'Open' AND availability = 'Alive'"
#: The rules whose statements the ladder adds, in the order it adds them (see the docstring).
RULES = ("claim", "gate", "floor", "opt_out")
_TICK = timedelta(microseconds=1)


def quoted(schema: str) -> str:
    """The schema name quoted for SQL."""
    return '"' + schema.replace('"', '""') + '"'


def _payload(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


class FairRaw:
    """The fair raw receive on one connection of its own (see the module's docstring)."""

    def __init__(
        self, url: str, schema: str, owner: str, ttl: timedelta, rules: tuple[str, ...] = ()
    ) -> None:
        unknown = set(rules) - set(RULES)
        if unknown or rules != RULES[: len(rules)]:
            raise ValueError(f"rules are a start of {RULES}, not {rules}")
        s = quoted(schema)
        self.conn = psycopg.connect(url, autocommit=True)
        self.owner = owner
        self.ttl = ttl
        self.rules = rules
        self.retries = 0  # receives tried again after a unique violation
        self.lock = (
            f"SELECT id, version, latest_message_at FROM {s}.threads "
            f"WHERE owner_number = %s AND guest_number = %s AND {_OPEN} FOR UPDATE"
        )
        # the ladder (threadcore's own text, see the docstring): the pair's claim ...
        self.claim: str | None = None
        self.key = f"threadcore\x1f{schema}\x1f{owner}\x1f"  # + guest: threadcore's key
        if "claim" in rules:
            self.claim = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
            self.lock = (
                f"SELECT id, version, latest_message_at FROM {s}.threads "
                f"WHERE owner_number = %s AND guest_number = %s AND {_OPEN}"
            )
        if "gate" in rules:  # ... taking the walks' gate first ...
            self.claim = f"{self.claim} FROM {s}.threadcore_gate()"
        self.extra = 0  # the columns the read has before the thread's (threadcore's order)
        if "floor" in rules:  # ... the read with the latest instant stored ...
            latest = (
                f"GREATEST((SELECT max(created_at) FROM {s}.messages), "
                f"(SELECT max(creation_time) FROM {s}.notes))"
            )
            read = [f"GREATEST({latest}, t.last_modified_time)"]
            if "opt_out" in rules:  # ... and the pair's opt-out
                read.append(
                    f"(SELECT o.opted_out FROM {s}.opt_outs AS o WHERE o.owner_number = %s AND "
                    "o.guest_number = %s)"
                )
            self.extra = len(read)
            self.lock = (
                f"SELECT {', '.join(read)}, t.id, t.version, t.latest_message_at "
                f"FROM (SELECT 1) AS one LEFT JOIN {s}.threads AS t ON t.owner_number = %s AND "
                "t.guest_number = %s AND t.status = 'Open' AND t.availability = 'Alive'"
            )
        self.expire = (
            f"UPDATE {s}.threads SET status = 'Resolved', status_reason = 'ThreadExpired', "
            f"last_modified_time = %s, version = version + 1, xid = {_XID} WHERE id = %s"
        )
        self.insert_thread = (
            f"INSERT INTO {s}.threads (id, owner_number, guest_number, owner_extension_id, "
            "owner_name, owner_type, creation_time, status, availability, assignee_id, "
            "assignee_name, assignee_type, status_reason, label, last_modified_time, "
            "last_inbound_at, last_outbound_at, latest_message_at, version, xid) "
            "VALUES (%s, %s, %s, %s, NULL, 'Department', %s, 'Open', 'Alive', NULL, NULL, NULL, "
            f"NULL, %s, %s, %s, NULL, %s, 2, {_XID})"
        )
        self.update_thread = (
            f"UPDATE {s}.threads SET label = %s, last_modified_time = %s, last_inbound_at = %s, "
            f"latest_message_at = %s, version = version + 1, xid = {_XID} WHERE id = %s"
        )
        self.insert_message = (
            f"INSERT INTO {s}.messages (id, thread_id, direction, body, from_number, to_number, "
            "author_id, author_name, author_type, created_at, last_modified_at, availability, "
            "provider_message_id, status, sent_at, delivered_at, read_at, error_code, "
            "is_automated, source, content_type, attachments, classifications, keyword, version, "
            "owner_extension_id) VALUES (%s, %s, 'Inbound', %s, %s, %s, NULL, NULL, NULL, %s, %s, "
            "'Alive', %s, 'Received', NULL, NULL, NULL, NULL, false, NULL, 'text/plain', NULL, "
            "NULL, NULL, 1, %s)"
        )
        row = f"({_XID}, %s, %s, %s, %s)"
        head = f"INSERT INTO {s}.events (xid, ordinal, thread_id, kind, payload) VALUES "
        self.insert_events = {n: head + ", ".join([row] * n) for n in (1, 2, 3)}

    def close(self) -> None:
        self.conn.close()

    def receive(self, guest: str, body: str, now: datetime, provider_id: str | None = None) -> str:
        """Store one inbound message from ``guest``; its thread's id."""
        while True:
            try:
                return self._receive(guest, body, now, provider_id)
            except psycopg.errors.UniqueViolation:  # another process opened the pair's thread
                self.conn.execute("ROLLBACK")
                self.retries += 1

    def _receive(self, guest: str, body: str, now: datetime, provider_id: str | None) -> str:
        conn, owner = self.conn, self.owner
        with conn.pipeline():  # round trip 1: begin, lock the pair's open thread
            conn.execute("BEGIN", prepare=False)
            if self.claim is not None:  # (the ladder: its rules' statements, see the docstring)
                conn.execute(self.claim, (self.key + guest,), prepare=True)
            pair = (owner, guest, owner, guest) if "opt_out" in self.rules else (owner, guest)
            found = conn.execute(self.lock, pair, prepare=True).fetchone()
        if self.extra and found is not None:
            floor = found[0]
            if floor is not None and now <= floor:  # dated after the latest instant stored
                now = floor + _TICK
            found = None if found[self.extra] is None else found[self.extra :]
        at = now.isoformat()
        message_id = str(uuid.uuid4())
        events: list[Any] = []
        with conn.pipeline():  # round trip 2: every write, commit
            if found is not None and now >= found[2] + self.ttl:  # due: expired, not written to
                due = found[2] + self.ttl
                conn.execute(self.expire, (due, found[0]), prepare=True)
                events += [found[0], "ThreadResolved", _payload(
                    thread_id=found[0], at=due.isoformat(), reason="ThreadExpired", initiator=None
                )]  # fmt: skip
                found = None
            if found is None:
                thread_id = str(uuid.uuid4())
                conn.execute(
                    self.insert_thread,
                    (thread_id, owner, guest, EXTENSION, now, body, now, now, now),
                    prepare=True,
                )
                events += [thread_id, "ThreadOpened", _payload(
                    thread_id=thread_id, at=at, owner_extension_id=EXTENSION, owner_number=owner,
                    guest_number=guest, assignee=None, initiator=None,
                )]  # fmt: skip
            else:
                thread_id = found[0]
                conn.execute(self.update_thread, (body, now, now, now, thread_id), prepare=True)
            conn.execute(
                self.insert_message,
                (message_id, thread_id, body, guest, owner, now, now, provider_id, EXTENSION),
                prepare=True,
            )
            events += [thread_id, "MessageAdded", _payload(
                thread_id=thread_id, at=at, message_id=message_id, direction="Inbound",
                initiator=None,
            )]  # fmt: skip
            count = len(events) // 3
            params = [v for n in range(count) for v in (n + 1, *events[3 * n : 3 * n + 3])]
            conn.execute(self.insert_events[count], params, prepare=True)
            conn.execute("COMMIT", prepare=False)
        return thread_id


def install_one_call(conn: Any, schema: str) -> None:
    """Create ``bench_receive``, the one-call limit, in ``schema`` (threadcore's tables)."""
    s = quoted(schema)
    conn.execute(f"""
CREATE OR REPLACE FUNCTION {s}.bench_receive(p_owner text, p_guest text, p_extension text,
    p_body text, p_now timestamptz, p_ttl interval, p_thread text, p_message text,
    p_provider text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur record;
    written bigint;
    x bigint := pg_current_xact_id()::text::bigint;
    tid text;
    ordinal integer := 0;
BEGIN
    LOOP
        SELECT id, latest_message_at INTO cur FROM {s}.threads
            WHERE owner_number = p_owner AND guest_number = p_guest AND {_OPEN} FOR UPDATE;
        IF cur.id IS NOT NULL AND p_now < cur.latest_message_at + p_ttl THEN
            UPDATE {s}.threads SET label = p_body, last_modified_time = p_now,
                last_inbound_at = p_now, latest_message_at = p_now, version = version + 1,
                xid = x WHERE id = cur.id;
            tid := cur.id;
            EXIT;
        END IF;
        IF cur.id IS NOT NULL THEN
            UPDATE {s}.threads SET status = 'Resolved', status_reason = 'ThreadExpired',
                last_modified_time = cur.latest_message_at + p_ttl, version = version + 1,
                xid = x WHERE id = cur.id;
            ordinal := ordinal + 1;
            INSERT INTO {s}.events VALUES (x, ordinal, cur.id, 'ThreadResolved',
                json_build_object('thread_id', cur.id, 'at', cur.latest_message_at + p_ttl,
                                  'reason', 'ThreadExpired', 'initiator', NULL)::text);
        END IF;
        INSERT INTO {s}.threads VALUES (p_thread, p_owner, p_guest, p_extension, NULL,
            'Department', p_now, 'Open', 'Alive', NULL, NULL, NULL, NULL, p_body, p_now, p_now,
            NULL, p_now, 2, x)
            ON CONFLICT (owner_number, guest_number) WHERE {_OPEN} DO NOTHING;
        GET DIAGNOSTICS written = ROW_COUNT;
        IF written = 1 THEN
            tid := p_thread;
            ordinal := ordinal + 1;
            INSERT INTO {s}.events VALUES (x, ordinal, tid, 'ThreadOpened',
                json_build_object('thread_id', tid, 'at', p_now, 'owner_extension_id',
                    p_extension, 'owner_number', p_owner, 'guest_number', p_guest,
                    'assignee', NULL, 'initiator', NULL)::text);
            EXIT;
        END IF;
    END LOOP;
    INSERT INTO {s}.messages (id, thread_id, direction, body, from_number, to_number,
        created_at, last_modified_at, availability, provider_message_id, status, is_automated,
        content_type, version, owner_extension_id)
        VALUES (p_message, tid, 'Inbound', p_body, p_guest, p_owner, p_now, p_now, 'Alive',
            p_provider, 'Received', false, 'text/plain', 1, p_extension);
    INSERT INTO {s}.events VALUES (x, ordinal + 1, tid, 'MessageAdded',
        json_build_object('thread_id', tid, 'at', p_now, 'message_id', p_message,
            'direction', 'Inbound', 'initiator', NULL)::text);
    RETURN tid;
END $$;
""")


class OneCall:
    """The one-call limit on one connection of its own: ``bench_receive`` (made by
    :func:`install_one_call`) called once per message, in autocommit (1 round trip)."""

    def __init__(self, url: str, schema: str, owner: str, ttl: timedelta) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.owner = owner
        self.ttl = ttl
        self.call = f"SELECT {quoted(schema)}.bench_receive(%s, %s, %s, %s, %s, %s, %s, %s, %s)"

    def close(self) -> None:
        self.conn.close()

    def receive(self, guest: str, body: str, now: datetime, provider_id: str | None = None) -> str:
        """Store one inbound message from ``guest``; its thread's id."""
        params = (self.owner, guest, EXTENSION, body, now, self.ttl, str(uuid.uuid4()),
                  str(uuid.uuid4()), provider_id)  # fmt: skip
        row = self.conn.execute(self.call, params, prepare=True).fetchone()
        assert row is not None
        return str(row[0])
