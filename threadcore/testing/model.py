"""A deliberately simple reference model of the thread rules, for the stateful property test.

It shares no code with :mod:`threadcore.domain`: plain dataclasses, plain strings and the rules of
``docs/rules.md`` written as directly as possible. Every operation returns either ``Ok(value,
events)`` or ``Err(code)``; the machine compares that with what the real ``Inbox`` did.

Ids of new threads and messages come from the real inbox (the model cannot guess them): the
machine passes them in, after checking that the real inbox made something new exactly when the
model says it should.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

__all__ = ["Err", "Model", "MResource", "MThread", "Ok"]

OPEN, RESOLVED = "Open", "Resolved"


@dataclass(frozen=True)
class Ok:
    """A successful operation: its value and the kinds of events it emits, with their threads."""

    value: object = None
    events: tuple[tuple[str, str], ...] = ()


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


class Model:
    """The reference model: a directory, threads in a dict, and the current time."""

    def __init__(self, resources: list[MResource], ttl: timedelta, claim_on_send: bool) -> None:
        self.resources = {r.extension_id: r for r in resources}
        self.threads: dict[str, MThread] = {}
        self.ttl = ttl
        self.claim_on_send = claim_on_send
        self.now: datetime | None = None

    # --- helpers --------------------------------------------------------------------------------
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
            )
        return t

    def materialise(self, t: MThread) -> list[tuple[str, str]]:
        """Write a due thread's expiry (as a command that touches it does)."""
        if self.due(t):
            self.threads[t.id] = self.view(t)
            return [("ThreadResolved", t.id)]
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
        for t in self.threads.values():
            for m in t.messages:
                if m.pid == pid:
                    return m
        return None

    def thread_of(self, message_id: str) -> MThread:
        for t in self.threads.values():
            if any(m.id == message_id for m in t.messages):
                return t
        raise AssertionError(message_id)

    def _add(self, t: MThread, message: MMessage) -> None:
        assert self.now is not None
        t.messages.append(message)
        t.changes += 1
        t.label = message.body
        t.modified = t.latest = self.now
        if message.direction == "Inbound":
            t.last_in = self.now
        else:
            t.last_out = self.now

    def _new_thread(self, thread_id: str, resource: MResource, owner: str, guest: str) -> MThread:
        assert self.now is not None
        assert thread_id not in self.threads, "the inbox reused a thread id"
        t = MThread(thread_id, resource.extension_id, owner, guest, self.now, modified=self.now)
        self.threads[thread_id] = t
        return t

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
            return self._sender_check(seen, actor) or Ok(("existing", seen.id))
        assert owner is not None and guest is not None
        resource = self.owner_of(owner)
        if resource is None:
            return Err("UnknownPhoneNumber")
        if direction == "Outbound" and actor not in resource.handlers:
            return Err("NotPermitted")
        current = self.open_for_pair(owner, guest)
        if current is None or self.due(current):
            return Ok(("new", None))
        if direction == "Outbound":
            assert actor is not None
            return self._sender_check(current, actor) or Ok(("existing", current.id))
        return Ok(("existing", current.id))

    def _sender_check(self, t: MThread, actor: str) -> Err | None:
        if t.assignee is None:
            return None if self.claim_on_send else Err("ThreadUnassigned")
        return None if t.assignee == actor else Err("NotAssignee")

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
    ) -> Ok:
        """Carry out a planned receive/send with the ids the real inbox chose."""
        kind, ref = plan
        if kind == "replay":
            return Ok(ref)
        events: list[tuple[str, str]] = []
        if kind == "new":
            assert owner is not None and guest is not None
            old = self.open_for_pair(owner, guest)
            if old is not None:
                events += self.materialise(old)
            resource = self.owner_of(owner)
            assert resource is not None
            t = self._new_thread(new_thread_id, resource, owner, guest)
            events.append(("ThreadOpened", t.id))
            if direction == "Outbound":
                t.assignee = actor
        else:
            assert ref is not None
            t = self.threads[ref]
            if direction == "Outbound" and t.assignee is None:
                t.assignee = actor
                t.changes += 1
                t.modified = self.now
                events.append(("ThreadAssigned", t.id))
        self._add(t, MMessage(message_id, direction, body, actor, pid, t.owner, t.guest))
        events.append(("MessageAdded", t.id))
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
        t.assignee = assignee
        t.modified = self.now
        t.changes += 1
        return Ok(t.id, (("ThreadAssigned", t.id),))

    def resolve(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.open_for(thread_id, actor)
        if isinstance(t, Err):
            return t
        t.status, t.reason, t.assignee, t.modified = RESOLVED, "Manual", None, self.now
        t.changes += 1
        return Ok(t.id, (("ThreadResolved", t.id),))

    def delete(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        if not t.alive:
            return Err("ThreadDeleted")
        events = self.materialise(t)
        t = self.threads[thread_id]
        t.alive, t.assignee, t.modified = False, None, self.now
        t.changes += 1
        for m in t.messages:
            if m.alive:
                m.alive, m.body = False, ""
        events.append(("ThreadDeleted", t.id))
        return Ok(t.id, tuple(events))

    def expire(self) -> Ok:
        due = sorted(t.id for t in self.threads.values() if self.due(t))
        events: list[tuple[str, str]] = []
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

    # --- directory ------------------------------------------------------------------------------
    def _follow(self, threads: list[MThread], reason: str | None) -> Ok:
        events: list[tuple[str, str]] = []
        changed = []
        for t in threads:
            if self.due(t):
                events += self.materialise(t)
                continue
            if reason is None:
                t.assignee = None
                events.append(("ThreadAssigned", t.id))
            else:
                t.status, t.reason, t.assignee = RESOLVED, reason, None
                events.append(("ThreadResolved", t.id))
            t.modified = self.now
            t.changes += 1
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
