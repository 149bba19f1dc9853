"""The model's messages and drafts: receive and send (planned, then applied with the real ids),
delivery reports, classifications, message deletion, and drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from threadcore.testing.model._base import (
    DELIVERED,
    DELIVERY_FAILED,
    QUEUED,
    READ,
    REPORTABLE,
    SENDING_FAILED,
    SENT,
    Err,
    MContent,
    MDraft,
    MEvent,
    MMessage,
    ModelBase,
    MThread,
    Ok,
    delivery_outcome,
    ev,
    keyword_of,
)


@dataclass(frozen=True)
class MSend:
    """One receive (``actor`` None) or send: its direction, what it says, the carrier's id, and
    where it goes (an owner and guest number, or a thread)."""

    direction: str
    actor: str | None
    content: MContent
    pid: str | None
    owner: str | None = None
    guest: str | None = None
    thread_id: str | None = None


class MessageModel(ModelBase):
    """Messages in and out, delivery, classification, deletion, drafts."""

    def plan_message(self, step: MSend) -> Ok | Err:
        """What a receive/send would do, without doing it: ``Ok(("replay", message_id))``,
        ``Ok(("new", None))`` or ``Ok(("existing", thread_id))``, or the error."""
        direction, actor, body, pid = step.direction, step.actor, step.content.body, step.pid
        owner, guest, thread_id = step.owner, step.guest, step.thread_id
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
        self, plan: tuple[str, str | None], step: MSend, message_id: str, new_thread_id: str
    ) -> Ok:
        """Carry out a planned receive/send with the ids the real inbox chose."""
        direction, actor, body, pid = step.direction, step.actor, step.content.body, step.pid
        owner, guest = step.owner, step.guest
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
            attachments=step.content.attachments,
            is_automated=step.content.is_automated,
            source=step.content.source,
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

    def messages(self, thread_id: str, actor: str) -> Ok | Err:
        t = self.visible(thread_id, actor)
        if t is None:
            return Err("ThreadNotFound")
        return Ok([m.id for m in t.messages if m.alive])

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

    def _draft_for(self, draft_id: str, actor: str) -> tuple[MDraft, MThread] | Err:
        d = self.find_draft(draft_id)
        if d is None or self.visible(d.thread_id, actor) is None:
            return Err("DraftNotFound")
        return d, self.threads[d.thread_id]

    def save_draft(
        self, thread_id: str, actor: str, content: MContent, draft_id: str | None
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
        if content == d.content:
            return Ok(d)
        assert self.now is not None
        d.content, d.modified, d.version = content, self.now, d.version + 1
        return Ok(d, (ev("DraftSaved", thread_id, draft_id=d.id, initiator=actor, at=self.now),))

    def add_draft(self, draft_id: str, thread_id: str, actor: str, content: MContent) -> Ok:
        assert self.now is not None
        assert self.find_draft(draft_id) is None and self.find_message(draft_id) is None
        d = MDraft(draft_id, thread_id, actor, content, self.now, self.now)
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
        step = MSend("Outbound", actor, d.content, None, thread_id=t.id)
        done = self.apply_message(plan, step, message_id, t.id)
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
