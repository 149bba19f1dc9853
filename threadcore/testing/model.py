"""A deliberately simple reference model of the thread rules, for the stateful property test.

It shares no code with :mod:`threadcore.domain`: plain dataclasses, plain strings and the rules of
``docs/rules.md`` written as directly as possible. Every operation returns either ``Ok(value,
events)`` or ``Err(code)``; the machine compares that with what the real ``Inbox`` did.

Ids of new threads, messages, drafts and notes come from the real inbox (the model cannot guess
them): the machine passes them in, after checking that the real inbox made something new exactly
when the model says it should.

The entries timeline (issue 5) is kept as directly: every message, note and hint carries the
``tick`` of its last change (a counter the model bumps on every change), and an incremental entries
sync since a token is "every entry whose tick is later than the token's". A thread's expiry happens
when the clock reaches its due instant (:meth:`Model.set_now`), whether or not anything writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

__all__ = [
    "Err",
    "MDraft",
    "MHint",
    "MMessage",
    "MNote",
    "MResource",
    "MEvent",
    "MThread",
    "Model",
    "Ok",
    "ev",
]

OPEN, RESOLVED = "Open", "Resolved"

# Delivery statuses (M2), as plain strings.
QUEUED, SENT, DELIVERED, READ = "Queued", "Sent", "Delivered", "Read"
SENDING_FAILED, DELIVERY_FAILED = "SendingFailed", "DeliveryFailed"
REPORTABLE = (QUEUED, SENT, DELIVERED, READ, SENDING_FAILED, DELIVERY_FAILED)
#: How far along Queued -> Sent -> Delivered -> Read a status is (a failure replaces a step).
_STEP = {QUEUED: 0, SENT: 1, SENDING_FAILED: 1, DELIVERED: 2, DELIVERY_FAILED: 2, READ: 3}

OPT_OUT_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
OPT_IN_WORDS = ("START", "YES", "UNSTOP")
HELP_WORDS = ("HELP", "INFO")


#: An event the model expects: its kind, its thread and the fields of its payload that the model
#: knows (users by extension id, enumerations by value), as ``(name, value)`` pairs.
MEvent = tuple[str, str, tuple[tuple[str, object], ...]]


def ev(kind: str, thread_id: str, **fields: object) -> MEvent:
    """The event ``kind`` of ``thread_id`` with ``fields`` of its payload."""
    return kind, thread_id, tuple(sorted(fields.items()))


@dataclass(frozen=True)
class Ok:
    """A successful operation: its value and the events it emits, in order, with their payloads."""

    value: object = None
    events: tuple[MEvent, ...] = ()


@dataclass(frozen=True)
class Err:
    """A refused operation: the error code the real inbox must raise."""

    code: str


@dataclass
class MResource:
    """A resource in the model's directory."""

    extension_id: str
    numbers: list[str]
    handlers: dict[str, str | None]  # extension id -> name


@dataclass
class MMessage:
    """A message in the model."""

    id: str
    direction: str
    body: str
    author: str | None
    pid: str | None
    owner: str
    guest: str
    alive: bool = True
    thread_id: str = ""
    created: datetime | None = None
    modified: datetime | None = None
    status: str = QUEUED  # "Received" for inbound
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    error_code: str | None = None
    keyword: str | None = None  # "OptOut", "OptIn", "Help"
    attachments: tuple[str, ...] = ()
    is_automated: bool = False
    source: str | None = None
    classifications: list[str] = field(default_factory=list)
    version: int = 1
    tick: int = 0
    seq: int = 0  # the model's global order, for the opt-out invariant


@dataclass
class MDraft:
    """A draft in the model (never a message until it is sent)."""

    id: str
    thread_id: str
    author: str
    body: str
    attachments: tuple[str, ...]
    is_automated: bool
    source: str | None
    created: datetime
    modified: datetime
    version: int = 1


@dataclass
class MNote:
    """An internal note in the model."""

    id: str
    thread_id: str
    author: str
    text: str
    created: datetime
    modified: datetime
    alive: bool = True
    version: int = 1
    tick: int = 0


@dataclass
class MHint:
    """A system hint of the entries timeline: created, assigned, resolved or deleted.

    An assigned hint's id names the event's position, which only the real inbox knows: the
    machine fills it in (:meth:`Model.name_assigned_hint`) after reading the step's events.
    """

    kind: str
    thread_id: str
    at: datetime
    initiator: str | None
    tick: int
    id: str = ""
    assignee: str | None = None
    previous: str | None = None
    reason: str | None = None


@dataclass
class MThread:
    """A thread in the model, as stored (expiry is applied by :meth:`Model.view`)."""

    id: str
    owner_ext: str
    owner: str
    guest: str
    created: datetime
    status: str = OPEN
    alive: bool = True
    assignee: str | None = None
    reason: str | None = None
    label: str | None = None
    modified: datetime | None = None
    last_in: datetime | None = None
    last_out: datetime | None = None
    latest: datetime | None = None
    messages: list[MMessage] = field(default_factory=list)
    #: Changes a reader could notice (messages, assignments, resolves, deletes), so that a change
    #: that leaves every field as it was (a second message in the same instant) still counts.
    #: Writing an expiry that was already due does not count: readers saw it already.
    changes: int = 0
    #: The stored record's version (R8): 1 when the thread is opened, one more for every write
    #: of its record, an expiry written by a command or a sweep included.
    version: int = 1
    drafts: list[MDraft] = field(default_factory=list)
    notes: list[MNote] = field(default_factory=list)
    hints: list[MHint] = field(default_factory=list)
    #: The tick at which the thread closed (resolved, expired or deleted), ``None`` while open.
    closed_tick: int | None = None


#: ASCII letters to capitals, and nothing else: carriers match keywords on ASCII only (M7).
_ASCII_CAPITALS = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def keyword_of(body: str) -> str | None:
    """The carrier keyword ``body`` is exactly (M7), if any: surrounding whitespace ignored, the
    case of ASCII letters ignored, any other character must be as in the word."""
    word = body.strip().translate(_ASCII_CAPITALS)
    if word in OPT_OUT_WORDS:
        return "OptOut"
    if word in OPT_IN_WORDS:
        return "OptIn"
    if word in HELP_WORDS:
        return "Help"
    return None


def delivery_outcome(current: str, reported: str) -> str | Err | None:
    """M2 as written: the new status, ``None`` for a report that changes nothing, or the error."""
    if reported in (current, QUEUED):
        return None  # a repeat, or Queued after anything
    if current == SENDING_FAILED:
        return Err("ImpossibleStatusChange")  # anything but Queued after SendingFailed
    if reported in (SENDING_FAILED, DELIVERY_FAILED) and current in (DELIVERED, READ):
        return Err("ImpossibleStatusChange")  # a failure after Delivered or Read
    if current == DELIVERY_FAILED and reported in (DELIVERED, READ):
        return Err("ImpossibleStatusChange")
    if reported == SENDING_FAILED and current in (SENT, DELIVERY_FAILED):
        return Err("ImpossibleStatusChange")  # it was sent: it cannot have failed to be sent
    if _STEP[reported] <= _STEP[current]:
        return None  # lies behind the current status (a late Sent after Delivered)
    return reported


class Model:
    """The reference model: a directory, threads in a dict, and the current time."""

    def __init__(self, resources: list[MResource], ttl: timedelta, claim_on_send: bool) -> None:
        self.resources = {r.extension_id: r for r in resources}
        self.threads: dict[str, MThread] = {}
        self.ttl = ttl
        self.claim_on_send = claim_on_send
        self.now: datetime | None = None
        #: (owner number, guest number) -> opted out
        self.opted: dict[tuple[str, str], bool] = {}
        #: every opt-out state change, in order: (seq, owner, guest, opted out)
        self.opt_log: list[tuple[int, str, str, bool]] = []
        self.tick = 0
        self.seq = 0

    # --- helpers --------------------------------------------------------------------------------
    def bump(self) -> int:
        self.tick += 1
        return self.tick

    def set_now(self, now: datetime) -> None:
        """Move the clock; a thread that becomes due expires now (its hint, dated at the due
        instant, is part of the timeline whether or not a sweep writes it)."""
        self.now = now
        for t in self.threads.values():
            if self.due(t) and t.closed_tick is None:
                assert t.latest is not None
                t.closed_tick = tick = self.bump()
                t.hints.append(
                    MHint(
                        "resolved",
                        t.id,
                        t.latest + self.ttl,
                        None,
                        tick,
                        id=f"{t.id}-resolved",
                        reason="ThreadExpired",
                    )
                )

    def owner_of(self, number: str) -> MResource | None:
        for resource in self.resources.values():
            if number in resource.numbers:
                return resource
        return None

    def due(self, t: MThread) -> bool:
        assert self.now is not None and t.latest is not None
        return t.status == OPEN and t.alive and self.now >= t.latest + self.ttl

    def view(self, t: MThread) -> MThread:
        """The thread as a reader sees it now: expired if due."""
        if self.due(t):
            assert t.latest is not None
            return replace(
                t,
                status=RESOLVED,
                reason="ThreadExpired",
                assignee=None,
                modified=t.latest + self.ttl,
                version=t.version + 1,
            )
        return t

    def materialise(self, t: MThread) -> list[MEvent]:
        """Write a due thread's expiry (as a command that touches it does)."""
        if self.due(t):
            self.threads[t.id] = seen = self.view(t)
            at = seen.modified
            return [ev("ThreadResolved", t.id, reason="ThreadExpired", initiator=None, at=at)]
        return []

    def visible(self, thread_id: str, actor: str) -> MThread | None:
        t = self.threads.get(thread_id)
        if t is None:
            return None
        resource = self.resources.get(t.owner_ext)
        if resource is None or actor not in resource.handlers:
            return None
        return t

    def open_for_pair(self, owner: str, guest: str) -> MThread | None:
        found = [
            t
            for t in self.threads.values()
            if t.owner == owner and t.guest == guest and t.status == OPEN and t.alive
        ]
        assert len(found) <= 1, "more than one stored open thread for a pair"
        return found[0] if found else None

    def find_pid(self, pid: str | None) -> MMessage | None:
        if pid is None:
            return None
        return next((m for m in self.all_messages() if m.pid == pid), None)

    def thread_of(self, message_id: str) -> MThread:
        for t in self.threads.values():
            if any(m.id == message_id for m in t.messages):
                return t
        raise AssertionError(message_id)

    def find_message(self, message_id: str) -> MMessage | None:
        return next((m for m in self.all_messages() if m.id == message_id), None)

    def find_draft(self, draft_id: str) -> MDraft | None:
        drafts = (d for t in self.threads.values() for d in t.drafts)
        return next((d for d in drafts if d.id == draft_id), None)

    def find_note(self, note_id: str) -> MNote | None:
        return next((n for n in self.all_notes() if n.id == note_id), None)

    def all_messages(self) -> list[MMessage]:
        return [m for t in self.threads.values() for m in t.messages]

    def all_notes(self) -> list[MNote]:
        return [n for t in self.threads.values() for n in t.notes]

    def all_drafts(self) -> list[MDraft]:
        return [d for t in self.threads.values() for d in t.drafts]

    def is_opted_out(self, owner: str, guest: str) -> bool:
        return self.opted.get((owner, guest), False)

    def _add(self, t: MThread, message: MMessage) -> None:
        assert self.now is not None
        self.seq += 1
        message.thread_id, message.seq = t.id, self.seq
        message.created = message.modified = self.now
        message.tick = self.bump()
        t.messages.append(message)
        t.changes += 1
        t.version += 1
        t.label = message.body or t.label  # a picture without text keeps the label (R13)
        t.modified = t.latest = self.now
        if message.direction == "Inbound":
            t.last_in = self.now
        else:
            t.last_out = self.now

    def _new_thread(
        self, thread_id: str, resource: MResource, owner: str, guest: str, actor: str | None
    ) -> MThread:
        assert self.now is not None
        assert thread_id not in self.threads, "the inbox reused a thread id"
        t = MThread(thread_id, resource.extension_id, owner, guest, self.now, modified=self.now)
        self.threads[thread_id] = t
        t.hints.append(
            MHint(
                "created", t.id, self.now, actor, self.bump(), id=f"{t.id}-created", assignee=actor
            )
        )
        return t

    def _assigned(self, t: MThread, assignee: str | None, initiator: str | None) -> MEvent:
        """Record an assignment change (the hint's id is filled in by the machine)."""
        assert self.now is not None
        t.hints.append(
            MHint(
                "assigned",
                t.id,
                self.now,
                initiator,
                self.bump(),
                assignee=assignee,
                previous=t.assignee,
            )
        )
        event = ev("ThreadAssigned", t.id, assignee=assignee, previous_assignee=t.assignee,
                   initiator=initiator, at=self.now)  # fmt: skip
        t.assignee = assignee
        t.modified = self.now
        t.changes += 1
        t.version += 1
        return event

    def _resolved(self, t: MThread, reason: str, initiator: str | None) -> MEvent:
        assert self.now is not None
        t.status, t.reason, t.assignee, t.modified = RESOLVED, reason, None, self.now
        t.changes += 1
        t.version += 1
        t.closed_tick = tick = self.bump()
        t.hints.append(
            MHint("resolved", t.id, self.now, initiator, tick, id=f"{t.id}-resolved", reason=reason)
        )
        return ev("ThreadResolved", t.id, reason=reason, initiator=initiator, at=self.now)

    def name_assigned_hint(self, thread_id: str, position: int) -> None:
        """Give the thread's newest unnamed assigned hint the id the event's position makes."""
        hints = [h for h in self.threads[thread_id].hints if h.kind == "assigned" and not h.id]
        assert hints, f"no assignment on {thread_id} to name"
        hints[-1].id = f"{thread_id}-assigned-{position}"

    # --- operations -----------------------------------------------------------------------------
    def plan_message(
        self,
        direction: str,
        actor: str | None,
        body: str,
        pid: str | None,
        owner: str | None = None,
        guest: str | None = None,
        thread_id: str | None = None,
    ) -> Ok | Err:
        """What a receive/send would do, without doing it: ``Ok(("replay", message_id))``,
        ``Ok(("new", None))`` or ``Ok(("existing", thread_id))``, or the error."""
        original = self.find_pid(pid)
        if original is not None:
            t = self.thread_of(original.id)
            same = (
                original.direction == direction
                and original.author == actor
                and (original.body == body or not original.alive)
                and (thread_id is None or t.id == thread_id)
                and (owner is None or owner == original.owner)
                and (guest is None or guest == original.guest)
            )
            return Ok(("replay", original.id)) if same else Err("IdempotencyConflict")
        if thread_id is not None:
            assert actor is not None
            seen = self.open_for(thread_id, actor)
            if isinstance(seen, Err):
                return seen
            return (
                self._sender_check(seen, actor)
                or self._opt_out_check(seen.owner, seen.guest)
                or Ok(("existing", seen.id))
            )
        assert owner is not None and guest is not None
        resource = self.owner_of(owner)
        if resource is None:
            return Err("UnknownPhoneNumber")
        if direction == "Outbound" and actor not in resource.handlers:
            return Err("UnknownPhoneNumber")  # as an unknown number: numbers cannot be probed
        current = self.open_for_pair(owner, guest)
        if current is None or self.due(current):
            if direction == "Outbound":
                return self._opt_out_check(owner, guest) or Ok(("new", None))
            return Ok(("new", None))
        if direction == "Outbound":
            assert actor is not None
            return (
                self._sender_check(current, actor)
                or self._opt_out_check(owner, guest)
                or Ok(("existing", current.id))
            )
        return Ok(("existing", current.id))

    def _sender_check(self, t: MThread, actor: str) -> Err | None:
        if t.assignee is None:
            return None if self.claim_on_send else Err("ThreadUnassigned")
        return None if t.assignee == actor else Err("NotAssignee")

    def _opt_out_check(self, owner: str, guest: str) -> Err | None:
        return Err("RecipientOptedOut") if self.is_opted_out(owner, guest) else None

    def apply_message(
        self,
        plan: tuple[str, str | None],
        direction: str,
        actor: str | None,
        body: str,
        pid: str | None,
        message_id: str,
        new_thread_id: str,
        owner: str | None = None,
        guest: str | None = None,
        attachments: tuple[str, ...] = (),
        is_automated: bool = False,
        source: str | None = None,
    ) -> Ok:
        """Carry out a planned receive/send with the ids the real inbox chose."""
        kind, ref = plan
        if kind == "replay":
            return Ok(ref)
        events: list[MEvent] = []
        if kind == "new":
            assert owner is not None and guest is not None
            old = self.open_for_pair(owner, guest)
            if old is not None:
                events += self.materialise(old)
            resource = self.owner_of(owner)
            assert resource is not None
            t = self._new_thread(new_thread_id, resource, owner, guest, actor)
            events.append(ev("ThreadOpened", t.id, owner_number=owner, guest_number=guest,
                             assignee=actor if direction == "Outbound" else None,
                             initiator=actor, at=self.now))  # fmt: skip
            if direction == "Outbound":
                t.assignee = actor
        else:
            assert ref is not None
            t = self.threads[ref]
            if direction == "Outbound" and t.assignee is None:
                events.append(self._assigned(t, actor, actor))
        message = MMessage(
            message_id,
            direction,
            body,
            actor,
            pid,
            t.owner,
            t.guest,
            status="Received" if direction == "Inbound" else QUEUED,
            attachments=attachments,
            is_automated=is_automated,
            source=source,
        )
        self._add(t, message)
        events.append(ev("MessageAdded", t.id, message_id=message_id, direction=direction,
                         initiator=actor, at=self.now))  # fmt: skip
        if direction == "Inbound":
            message.keyword = keyword_of(body)
            pair = (t.owner, t.guest)
            if message.keyword == "OptOut" and not self.is_opted_out(*pair):
                self.opted[pair] = True
                self.opt_log.append((message.seq, *pair, True))
                events.append(ev("GuestOptedOut", t.id, owner_number=t.owner,
                                 guest_number=t.guest, message_id=message_id))  # fmt: skip
            elif message.keyword == "OptIn" and self.is_opted_out(*pair):
                self.opted[pair] = False
                self.opt_log.append((message.seq, *pair, False))
                events.append(ev("GuestOptedIn", t.id, owner_number=t.owner,
                                 guest_number=t.guest, message_id=message_id))  # fmt: skip
        return Ok(message_id, tuple(events))

    def open_for(self, thread_id: str, actor: str) -> MThread | Err:
        """The thread if ``actor`` sees it and it is alive and open now, else the error."""
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        if not t.alive:
            return Err("ThreadDeleted")
        if self.view(t).status != OPEN:
            return Err("ThreadNotOpen")
        return t

    def assign(self, thread_id: str, actor: str, assignee: str | None) -> Ok | Err:
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        resource = self.resources[t.owner_ext]
        if assignee is not None and assignee not in resource.handlers:
            return Err("AssigneeNotHandler")
        if assignee == t.assignee:
            return Ok(t.id)
        if t.assignee is not None and actor != t.assignee and assignee != actor:
            return Err("NotPermitted")
        return Ok(t.id, (self._assigned(t, assignee, actor),))

    def resolve(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        return Ok(t.id, (self._resolved(t, "Manual", actor),))

    def delete(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        if not t.alive:
            return Err("ThreadDeleted")
        events = self.materialise(t)
        t = self.threads[thread_id]
        assert self.now is not None
        # a deleted thread carries no message text (issue 12, item 5)
        t.alive, t.assignee, t.label, t.modified = False, None, None, self.now
        t.changes += 1
        t.version += 1
        tick = self.bump()
        if t.closed_tick is None:
            t.closed_tick = tick
        t.hints.append(MHint("deleted", t.id, self.now, actor, tick, id=f"{t.id}-deleted"))
        # Its messages and notes become tombstones; that is not a change of theirs an entries
        # sync reports (the deleted hint is), so their ticks stay.
        for m in t.messages:
            if m.alive:
                m.alive, m.body, m.attachments, m.classifications = False, "", (), []
                m.modified, m.version = self.now, m.version + 1
        for n in t.notes:
            if n.alive:
                n.alive, n.text = False, ""
                n.modified, n.version = self.now, n.version + 1
        t.drafts.clear()  # deleting the thread deletes its drafts: they are gone (DraftNotFound)
        events.append(ev("ThreadDeleted", t.id, initiator=actor, at=self.now))
        return Ok(t.id, tuple(events))

    def expire(self) -> Ok:
        due = sorted(t.id for t in self.threads.values() if self.due(t))
        events: list[MEvent] = []
        for thread_id in due:
            events += self.materialise(self.threads[thread_id])
        return Ok(due, tuple(events))

    def get(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        return Err("ThreadNotFound") if t is None else Ok(self.view(t))

    def messages(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        return Ok([m.id for m in t.messages if m.alive])

    # --- delivery, classification, message deletion (M2, M3, M5) --------------------------------
    def record_delivery(
        self, message_id: str, status: str, at: datetime | None, error_code: str | None
    ) -> Ok | Err:
        """A carrier's delivery report. ``Ok(message)``; its events are the change, if any."""
        if status not in REPORTABLE:
            return Err("InvalidInput")
        if self.find_draft(message_id) is not None:
            return Err("ImpossibleStatusChange")
        m = self.find_message(message_id)
        if m is None:
            return Err("MessageNotFound")
        if m.direction != "Outbound":
            return Err("ImpossibleStatusChange")
        if not m.alive:
            return Ok(m)  # accepted, changes nothing
        outcome = delivery_outcome(m.status, status)
        if isinstance(outcome, Err):
            return outcome
        if outcome is None:
            return Ok(m)
        assert self.now is not None
        when = self.now if at is None else at
        if outcome in (SENT, DELIVERED, READ, DELIVERY_FAILED) and m.sent_at is None:
            m.sent_at = when  # Delivered implies sent (and so does a failed delivery)
        if outcome in (DELIVERED, READ) and m.delivered_at is None:
            m.delivered_at = when  # Read implies delivered
        if outcome == READ and m.read_at is None:
            m.read_at = when
        if outcome in (SENDING_FAILED, DELIVERY_FAILED):
            m.error_code = error_code
        event = ev("DeliveryStatusChanged", m.thread_id, message_id=m.id, status=outcome,
                   previous_status=m.status)  # fmt: skip
        m.status = outcome
        m.modified, m.version, m.tick = self.now, m.version + 1, self.bump()
        return Ok(m, (event,))

    def classify(self, message_id: str, label: str, actor: str | None) -> Ok | Err:
        m = self.find_message(message_id)
        if m is None:
            return Err("MessageNotFound")  # unknown, or a draft
        if actor is not None and self.visible(m.thread_id, actor) is None:
            return Err("MessageNotFound")
        if not m.alive:
            return Err("InvalidInput")
        assert self.now is not None
        m.classifications.append(label)
        m.modified, m.version, m.tick = self.now, m.version + 1, self.bump()
        return Ok(m, (ev("MessageClassified", m.thread_id, message_id=m.id, classification=label,
                         initiator=actor, at=self.now),))  # fmt: skip

    def message(self, message_id: str, actor: str) -> Ok | Err:
        m = self.find_message(message_id)
        if m is None or self.visible(m.thread_id, actor) is None:
            return Err("MessageNotFound")
        return Ok(m)

    def delete_messages(self, message_ids: list[str], actor: str) -> Ok | Err:
        """M5: every id checked first (an unknown id anywhere in the list is MessageNotFound,
        then a deleted thread ThreadDeleted), then each alive message becomes a tombstone and its
        thread is relabelled."""
        if not message_ids:
            return Err("InvalidInput")
        ids = list(dict.fromkeys(message_ids))
        found = [self.find_message(message_id) for message_id in ids]
        if any(m is None or self.visible(m.thread_id, actor) is None for m in found):
            return Err("MessageNotFound")
        if any(m is not None and not self.threads[m.thread_id].alive for m in found):
            return Err("ThreadDeleted")
        assert self.now is not None
        events: list[MEvent] = []
        touched: list[str] = []
        for m in found:
            assert m is not None
            if not m.alive:
                continue
            m.alive, m.body, m.attachments, m.classifications = False, "", (), []
            m.modified, m.version, m.tick = self.now, m.version + 1, self.bump()
            events.append(ev("MessageDeleted", m.thread_id, message_id=m.id, initiator=actor,
                             at=self.now))  # fmt: skip
            if m.thread_id not in touched:
                touched.append(m.thread_id)
        for thread_id in touched:
            t = self.threads[thread_id]
            label = self.label_of(t)
            if label != t.label:
                # a due thread is expired before it is written: its expiry (dated at the due
                # instant) comes before the deletions
                first = next(i for i, e in enumerate(events) if e[:2] == ("MessageDeleted",
                                                                         thread_id))  # fmt: skip
                events[first:first] = self.materialise(t)
                t = self.threads[thread_id]
                t.label, t.modified = label, self.now
                t.changes += 1
                t.version += 1
        return Ok(found, tuple(events))

    def label_of(self, t: MThread) -> str | None:
        """M5: an alive thread's label is the body of its newest alive message with text."""
        texts = [m.body for m in t.messages if m.alive and m.body]
        return texts[-1] if texts else None

    # --- drafts (M6) ----------------------------------------------------------------------------
    def _draft_for(self, draft_id: str, actor: str) -> tuple[MDraft, MThread] | Err:
        d = self.find_draft(draft_id)
        if d is None or self.visible(d.thread_id, actor) is None:
            return Err("DraftNotFound")
        return d, self.threads[d.thread_id]

    def save_draft(
        self,
        thread_id: str,
        actor: str,
        body: str,
        attachments: tuple[str, ...],
        is_automated: bool,
        source: str | None,
        draft_id: str | None,
    ) -> Ok | Err:
        """``Ok(("new", None))`` (the machine then calls :meth:`add_draft` with the real id) or
        ``Ok(draft)`` for a change, or the error."""
        if draft_id is None:
            t = self.open_for(thread_id, actor)
            return t if isinstance(t, Err) else Ok(("new", None))
        # A change names the draft: it is looked up first (an unknown draft, or one of another
        # thread, is DraftNotFound), then its thread must be open.
        found = self._draft_for(draft_id, actor)
        if isinstance(found, Err):
            return found
        d, _ = found
        if d.thread_id != thread_id:
            return Err("DraftNotFound")
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        content = (body, attachments, is_automated, source)
        if content == (d.body, d.attachments, d.is_automated, d.source):
            return Ok(d)
        assert self.now is not None
        d.body, d.attachments, d.is_automated, d.source = content
        d.modified, d.version = self.now, d.version + 1
        return Ok(d, (ev("DraftSaved", thread_id, draft_id=d.id, initiator=actor, at=self.now),))

    def add_draft(
        self,
        draft_id: str,
        thread_id: str,
        actor: str,
        body: str,
        attachments: tuple[str, ...],
        is_automated: bool,
        source: str | None,
    ) -> Ok:
        assert self.now is not None
        assert self.find_draft(draft_id) is None and self.find_message(draft_id) is None
        d = MDraft(
            draft_id, thread_id, actor, body, attachments, is_automated, source, self.now, self.now
        )
        self.threads[thread_id].drafts.append(d)
        return Ok(d, (ev("DraftSaved", thread_id, draft_id=d.id, initiator=actor, at=self.now),))

    def plan_send_draft(self, draft_id: str, actor: str) -> Ok | Err:
        """What ``send_draft`` would do: ``Ok(thread_id)`` or the error (same rules as send)."""
        found = self._draft_for(draft_id, actor)
        if isinstance(found, Err):
            return found
        d, _ = found
        t = self.open_for(d.thread_id, actor)
        if isinstance(t, Err):
            return t
        return self._sender_check(t, actor) or self._opt_out_check(t.owner, t.guest) or Ok(t.id)

    def apply_send_draft(self, draft_id: str, actor: str, message_id: str) -> Ok:
        d = self.find_draft(draft_id)
        assert d is not None
        t = self.threads[d.thread_id]
        t.drafts.remove(d)
        plan = ("existing", t.id)
        done = self.apply_message(
            plan,
            "Outbound",
            actor,
            d.body,
            None,
            message_id,
            t.id,
            attachments=d.attachments,
            is_automated=d.is_automated,
            source=d.source,
        )
        # the sender claims the thread first (claim_on_send), then the draft goes out as a message
        claims = tuple(e for e in done.events if e[0] == "ThreadAssigned")
        rest = tuple(e for e in done.events if e[0] != "ThreadAssigned")
        sent = ev("DraftSent", t.id, draft_id=draft_id, message_id=message_id, initiator=actor,
                  at=self.now)  # fmt: skip
        return Ok(done.value, (*claims, sent, *rest))

    def discard_draft(self, draft_id: str, actor: str) -> Ok | Err:
        found = self._draft_for(draft_id, actor)
        if isinstance(found, Err):
            return found
        d, t = found
        t.drafts.remove(d)
        return Ok(d, (ev("DraftDiscarded", t.id, draft_id=d.id, initiator=actor, at=self.now),))

    def drafts(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        return Ok([d.id for d in t.drafts])

    # --- notes (N1) -----------------------------------------------------------------------------
    def plan_note(self, thread_id: str, actor: str) -> Err | None:
        t = self.open_for(thread_id, actor)
        return t if isinstance(t, Err) else None

    def add_note(self, note_id: str, thread_id: str, actor: str, text: str) -> Ok:
        assert self.now is not None
        assert self.find_note(note_id) is None, "the inbox reused a note id"
        n = MNote(note_id, thread_id, actor, text, self.now, self.now, tick=self.bump())
        self.threads[thread_id].notes.append(n)
        return Ok(n, (ev("NoteAdded", thread_id, note_id=n.id, initiator=actor, at=self.now),))

    def _note_for(self, note_id: str, actor: str) -> MNote | Err:
        """The note if ``actor`` may change it (its thread open, ``actor`` its author)."""
        n = self.find_note(note_id)
        if n is None or self.visible(n.thread_id, actor) is None:
            return Err("NoteNotFound")
        t = self.open_for(n.thread_id, actor)
        if isinstance(t, Err):
            return t
        if n.author != actor:
            return Err("NotAuthor")
        return n

    def edit_note(self, note_id: str, actor: str, text: str) -> Ok | Err:
        n = self._note_for(note_id, actor)
        if isinstance(n, Err):
            return n
        if not n.alive:
            return Err("NoteDeleted")
        if n.text == text:
            return Ok(n)
        assert self.now is not None
        n.text, n.modified, n.version, n.tick = text, self.now, n.version + 1, self.bump()
        return Ok(n, (ev("NoteEdited", n.thread_id, note_id=n.id, initiator=actor, at=self.now),))

    def delete_notes(self, note_ids: list[str], actor: str) -> Ok | Err:
        if not note_ids:
            return Err("InvalidInput")
        ids = list(dict.fromkeys(note_ids))
        for note_id in ids:  # the first id that fails, in the order given, decides the error
            refused = self._note_for(note_id, actor)
            if isinstance(refused, Err):
                return refused
        assert self.now is not None
        events: list[MEvent] = []
        found = []
        for note_id in ids:
            n = self.find_note(note_id)
            assert n is not None
            found.append(n)
            if n.alive:
                n.alive, n.text = False, ""
                n.modified, n.version, n.tick = self.now, n.version + 1, self.bump()
                events.append(ev("NoteDeleted", n.thread_id, note_id=n.id, initiator=actor,
                                 at=self.now))  # fmt: skip
        return Ok(found, tuple(events))

    # --- queries --------------------------------------------------------------------------------
    def handled(self, actor: str) -> frozenset[str]:
        """The resources ``actor`` handles SMS for."""
        return frozenset(e for e, r in self.resources.items() if actor in r.handlers)

    def record(self, t: MThread) -> tuple[object, ...]:
        """Everything a reader sees of a thread now, as one comparable value."""
        v = self.view(t)
        return (v.id, v.status, v.reason, v.alive, v.assignee, v.label, v.modified, v.created,
                v.last_in, v.last_out, v.latest, v.owner_ext, v.owner, v.guest,
                v.changes)  # fmt: skip

    def list_ids(
        self,
        actor: str,
        status: str | None = None,
        owner_ids: list[str] | None = None,
        owner: str | None = None,
        guest: str | None = None,
        availability: tuple[bool, ...] = (True,),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Ok | Err:
        """The ids a list with these filters returns, in order."""
        handled = self.handled(actor)
        if owner_ids is not None and not set(owner_ids) <= handled:
            return Err("NotPermitted")
        owners = handled if owner_ids is None else set(owner_ids)
        found = []
        for t in self.threads.values():
            v = self.view(t)
            if (
                v.owner_ext in owners
                and (status is None or v.status == status)
                and (owner is None or v.owner == owner)
                and (guest is None or v.guest == guest)
                and v.alive in availability
                and (created_from is None or v.created >= created_from)
                and (created_to is None or v.created < created_to)
            ):
                found.append(v)
        found.sort(key=lambda v: (v.created, v.id))
        return Ok([v.id for v in found])

    def list_message_ids(
        self,
        actor: str,
        thread_ids: list[str] | None = None,
        message_ids: list[str] | None = None,
        thread_status: str | None = None,
        owner_ids: list[str] | None = None,
        availability: tuple[bool, ...] = (True,),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Ok | Err:
        """M4: the ids ``list_messages`` returns with these filters, in order."""
        handled = self.handled(actor)
        if owner_ids is not None and not set(owner_ids) <= handled:
            return Err("NotPermitted")
        owners = handled if owner_ids is None else set(owner_ids)
        found = []
        for t in self.threads.values():
            v = self.view(t)
            if v.owner_ext not in owners:
                continue
            if thread_ids is not None and v.id not in thread_ids:
                continue
            if thread_status is not None and v.status != thread_status:
                continue
            for m in v.messages:
                assert m.created is not None
                if (
                    (message_ids is None or m.id in message_ids)
                    and m.alive in availability
                    and (created_from is None or m.created >= created_from)
                    and (created_to is None or m.created < created_to)
                ):
                    found.append((m.created, m.id))
        found.sort()
        return Ok([message_id for _, message_id in found])

    def list_note_ids(
        self,
        actor: str,
        thread_ids: list[str] | None = None,
        note_ids: list[str] | None = None,
        owner_ids: list[str] | None = None,
        availability: tuple[bool, ...] = (True,),
    ) -> Ok | Err:
        """N1: the ids ``list_notes`` returns with these filters, in order."""
        handled = self.handled(actor)
        if owner_ids is not None and not set(owner_ids) <= handled:
            return Err("NotPermitted")
        owners = handled if owner_ids is None else set(owner_ids)
        found = []
        for t in self.threads.values():
            if t.owner_ext not in owners:
                continue
            if thread_ids is not None and t.id not in thread_ids:
                continue
            for n in t.notes:
                if (note_ids is None or n.id in note_ids) and n.alive in availability:
                    found.append((n.created, n.id))
        found.sort()
        return Ok([note_id for _, note_id in found])

    def full_sync(self, actor: str) -> list[str]:
        """The ids a full sync returns, newest modification first."""
        handled = self.handled(actor)
        found = [self.view(t) for t in self.threads.values() if t.owner_ext in handled]
        found = [v for v in found if v.status == OPEN and v.alive]
        found.sort(key=lambda v: (v.modified, v.id), reverse=True)
        return [v.id for v in found]

    def snapshot(self, actor: str) -> dict[str, tuple[object, ...]]:
        """What ``actor`` could see of every thread now (to tell later what changed)."""
        handled = self.handled(actor)
        return {t.id: self.record(t) for t in self.threads.values() if t.owner_ext in handled}

    # --- entries (E1-E4) ------------------------------------------------------------------------
    def entries_full(self, actor: str, scope: str, thread_ids: list[str] | None) -> Ok | Err:
        """E2: ``Ok(entries)`` (messages and notes), newest modification first, or the error."""
        if (scope == "Explicit") != (thread_ids is not None):
            return Err("InvalidInput")
        handled = self.handled(actor)
        if thread_ids is not None:
            if any(self.visible(tid, actor) is None for tid in thread_ids):
                return Err("ThreadNotFound")
            threads = [self.threads[tid] for tid in dict.fromkeys(thread_ids)]
        else:
            threads = []
            for t in self.threads.values():
                v = self.view(t)
                if t.owner_ext not in handled or v.status != OPEN or not v.alive:
                    continue
                if (
                    scope == "Accessible"
                    or (scope == "Unassigned" and v.assignee is None)
                    or (scope == "AssignedToMe" and v.assignee == actor)
                    or (scope == "AssignedToMeAndUnassigned" and v.assignee in (None, actor))
                ):
                    threads.append(t)
        entries: list[MMessage | MNote | MHint] = []
        for t in threads:
            entries += [m for m in t.messages if m.alive]
            entries += [n for n in t.notes if n.alive]
        return Ok(sort_entries(entries))

    def entries_since(self, actor: str, since: int) -> list[MMessage | MNote | MHint]:
        """E3: what an incremental entries sync returns for a token issued at tick ``since``."""
        handled = self.handled(actor)
        entries: list[MMessage | MNote | MHint] = []
        for t in self.threads.values():
            if t.owner_ext not in handled:
                continue
            entries += [h for h in t.hints if h.tick > since]
            if t.closed_tick is not None and t.closed_tick <= since:
                continue  # gone from the client before the token: late changes do not matter
            # A thread deleted since: its deleted hint, and (as tombstones) only the messages
            # and notes that changed since the token for another reason.
            entries += [m for m in t.messages if m.tick > since]
            entries += [n for n in t.notes if n.tick > since]
        return sort_entries(entries)

    def open_timelines(self, actor: str) -> list[MMessage | MNote | MHint]:
        """Every open thread's alive timeline the actor may see (what a client converges to)."""
        result = self.entries_full(actor, "Accessible", None)
        assert isinstance(result, Ok) and isinstance(result.value, list)
        return result.value

    # --- directory ------------------------------------------------------------------------------
    def _follow(self, threads: list[MThread], reason: str | None) -> Ok:
        events: list[MEvent] = []
        changed = []
        for t in threads:
            if self.due(t):
                events += self.materialise(t)
                continue
            if reason is None:
                events.append(self._assigned(t, None, None))
            else:
                events.append(self._resolved(t, reason, None))
            changed.append(t.id)
        return Ok(sorted(changed), tuple(events))

    def _open_threads(self, **match: str) -> list[MThread]:
        return [
            t
            for t in self.threads.values()
            if t.status == OPEN
            and t.alive
            and all(getattr(t, key) == value for key, value in match.items())
        ]

    def remove_resource(self, extension_id: str) -> Ok | Err:
        if extension_id not in self.resources:
            return Err("ResourceNotFound")
        del self.resources[extension_id]
        return self._follow(self._open_threads(owner_ext=extension_id), "OwnerDeleted")

    def add_resource(self, resource: MResource) -> Ok | Err:
        if resource.extension_id in self.resources:
            return Err("ResourceExists")
        if any(self.owner_of(n) is not None for n in resource.numbers):
            return Err("PhoneNumberInUse")
        self.resources[resource.extension_id] = resource
        return Ok()

    def remove_phone_number(self, extension_id: str, number: str) -> Ok | Err:
        resource = self.resources.get(extension_id)
        if resource is None:
            return Err("ResourceNotFound")
        if number not in resource.numbers:
            return Err("UnknownPhoneNumber")
        resource.numbers.remove(number)
        threads = self._open_threads(owner_ext=extension_id, owner=number)
        return self._follow(threads, "OwnerPhoneNumberDeleted")

    def add_phone_number(self, extension_id: str, number: str) -> Ok | Err:
        resource = self.resources.get(extension_id)
        if resource is None:
            return Err("ResourceNotFound")
        if number in resource.numbers:
            return Ok()
        if self.owner_of(number) is not None:
            return Err("PhoneNumberInUse")
        resource.numbers.append(number)
        return Ok()

    def remove_handler(self, extension_id: str, handler: str) -> Ok | Err:
        resource = self.resources.get(extension_id)
        if resource is None:
            return Err("ResourceNotFound")
        if handler not in resource.handlers:
            return Err("InvalidInput")
        del resource.handlers[handler]
        return self._follow(self._open_threads(owner_ext=extension_id, assignee=handler), None)

    def add_handler(self, extension_id: str, handler: str, name: str | None) -> Ok | Err:
        resource = self.resources.get(extension_id)
        if resource is None:
            return Err("ResourceNotFound")
        resource.handlers[handler] = name
        return Ok()


def sort_entries(entries: list[MMessage | MNote | MHint]) -> list[MMessage | MNote | MHint]:
    """E1's order: last modification descending, ties by id descending."""
    return sorted(entries, key=lambda e: (modified_of(e), e.id), reverse=True)


def modified_of(entry: MMessage | MNote | MHint) -> datetime:
    if isinstance(entry, MHint):
        return entry.at
    assert entry.modified is not None
    return entry.modified
