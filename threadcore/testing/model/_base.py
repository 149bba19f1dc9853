"""The reference model's records (plain dataclasses and strings) and its spine: the clock, the
directory, the threads, expiry as the rules state it, and the helpers every area uses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class MContent:
    """What an outbound message or a draft says, as the caller gives it: its text, its files
    (urls), and whether and by what it was written automatically (the fields named as the
    inbox's ``send`` and ``save_draft`` name their arguments)."""

    body: str
    attachments: tuple[str, ...] = ()
    is_automated: bool = False
    source: str | None = None


@dataclass
class MDraft:
    """A draft in the model (never a message until it is sent)."""

    id: str
    thread_id: str
    author: str
    content: MContent
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


def sort_entries(entries: list[MMessage | MNote | MHint]) -> list[MMessage | MNote | MHint]:
    """E1's order: last modification descending, ties by id descending."""
    return sorted(entries, key=lambda e: (modified_of(e), e.id), reverse=True)


def modified_of(entry: MMessage | MNote | MHint) -> datetime:
    if isinstance(entry, MHint):
        return entry.at
    assert entry.modified is not None
    return entry.modified


class ModelBase:
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

    def alive_for(self, thread_id: str, actor: str) -> MThread | Err:
        """The thread if ``actor`` sees it and it is alive, else the error."""
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        if not t.alive:
            return Err("ThreadDeleted")
        return t

    def open_for(self, thread_id: str, actor: str) -> MThread | Err:
        """The thread if ``actor`` sees it and it is alive and open now, else the error."""
        t = self.alive_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        if self.view(t).status != OPEN:
            return Err("ThreadNotOpen")
        return t

    def label_of(self, t: MThread) -> str | None:
        """M5: an alive thread's label is the body of its newest alive message with text."""
        texts = [m.body for m in t.messages if m.alive and m.body]
        return texts[-1] if texts else None

    def handled(self, actor: str) -> frozenset[str]:
        """The resources ``actor`` handles SMS for."""
        return frozenset(e for e, r in self.resources.items() if actor in r.handlers)

    def record(self, t: MThread) -> tuple[object, ...]:
        """Everything a reader sees of a thread now, as one comparable value."""
        v = self.view(t)
        return (v.id, v.status, v.reason, v.alive, v.assignee, v.label, v.modified, v.created,
                v.last_in, v.last_out, v.latest, v.owner_ext, v.owner, v.guest,
                v.changes)  # fmt: skip
