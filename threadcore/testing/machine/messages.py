"""The machine's rules for messages: receive, send (by pair and on a thread), batches, delivery
reports, classifications and message deletion."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from functools import partial
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from threadcore.domain.model import Message
from threadcore.testing.machine._base import MachineBase, _Abandoned, _call, _has_threads
from threadcore.testing.model import Err, MContent, MEvent, MSend, Ok, keyword_of
from threadcore.testing.strategies import (
    ALL_STATUSES,
    DELIVERY_PATHS,
    GUESTS,
    attachment_lists,
    bodies,
    contents,
    inbound_bodies,
    owner_numbers,
    provider_ids,
)


class MessageRules(MachineBase):
    """Rules: messages in and out, batches, delivery reports, classifications, deletions."""

    def message_step(self, step: MSend, batched: list[MEvent] | None = None) -> None:
        """One receive or send, on the real inbox and planned and then done by the model with the
        real inbox's ids; in a batch (``batched``) the step's events are collected for the end of
        the batch instead of checked now."""
        plan = self.ref.plan_message(step)
        given: dict[str, Any] = {
            "owner_number": step.owner,
            "guest_number": step.guest,
            "provider_message_id": step.pid,
        }
        if step.direction == "Inbound":
            content = step.content
            run: Callable[[], Message] = partial(
                self.real.receive, **given, body=content.body, attachments=content.attachments
            )
        else:
            sent = {"actor": step.actor, "thread_id": step.thread_id, **asdict(step.content)}
            run = partial(self.real.send, **given, **sent)
        real = _call(run)
        if batched is not None and isinstance(plan, Err):  # the feed is read after the batch
            assert real == ("err", plan.code), f"inbox {real}, model {plan}"
            return
        message = self.compare(real, plan)
        if message is None:
            return
        assert isinstance(plan, Ok)
        assert isinstance(plan.value, tuple)
        kind: str = plan.value[0]
        ref: str | None = plan.value[1]
        if kind == "replay":
            assert message.id == ref, "a repeated provider message id made a new message"
        elif kind == "existing":
            assert message.thread_id == ref, "the message went to another thread"
        else:
            assert message.thread_id not in self.ref.threads, "expected a new thread"
        done = self.ref.apply_message((kind, ref), step, message.id, message.thread_id)
        if batched is None:
            self.check_events(done.events)
        else:
            batched += done.events
        self.assert_message(message)

    @rule(
        owner=owner_numbers,
        guest=st.sampled_from(GUESTS),
        body=inbound_bodies,
        pid=provider_ids,
        attachments=attachment_lists,
    )
    def receive(
        self, owner: str, guest: str, body: str, pid: str | None, attachments: tuple[str, ...]
    ) -> None:
        note(f"keyword: {keyword_of(body)}")
        self.message_step(MSend("Inbound", None, MContent(body, attachments), pid, owner, guest))

    @rule(data=st.data(), content=contents, pid=provider_ids)
    def send_to_pair(self, data: st.DataObject, content: MContent, pid: str | None) -> None:
        owner, guest = self.pick_pair(data)
        current = self.ref.open_for_pair(owner, guest)
        actor = self.pick_actor(data, current.id if current else None, owner=owner)
        note(f"{owner} -> {guest}; opted out: {self.ref.is_opted_out(owner, guest)}")
        self.message_step(MSend("Outbound", actor, content, pid, owner, guest))

    @precondition(_has_threads)
    @rule(data=st.data(), body=bodies, pid=provider_ids)
    def send_on_thread(self, data: st.DataObject, body: str, pid: str | None) -> None:
        thread_id, actor = self.pick_thread_and_actor(data, open_mostly=True)
        self.message_step(MSend("Outbound", actor, MContent(body), pid, thread_id=thread_id))

    @rule(data=st.data(), count=st.integers(1, 6), abandon=st.booleans())
    def batch(self, data: st.DataObject, count: int, abandon: bool) -> None:
        """Inbound and outbound messages in one ``batch()`` (on the same pairs, often: a batch
        answers some reads from what it wrote and has not sent yet). A clean exit commits them
        all; an exception escaping the block undoes the batch on durable storage (memory, which
        has no transaction, keeps what each command did). Listeners hear only what committed
        (R16)."""
        undone = abandon and getattr(self.repository, "atomic_batches", True)
        before = copy.deepcopy(self.model) if undone else None
        batched: list[MEvent] = []
        try:
            with self.real.batch():
                for _ in range(count):
                    if data.draw(st.integers(0, 3)) == 0:  # now and then, a handler replies
                        owner, guest = self.pick_pair(data)
                        current = self.ref.open_for_pair(owner, guest)
                        actor = self.pick_actor(data, current.id if current else None, owner=owner)
                        body, pid = data.draw(bodies), data.draw(provider_ids)
                        step = MSend("Outbound", actor, MContent(body), pid, owner, guest)
                        self.message_step(step, batched)
                        continue
                    owner, guest = data.draw(owner_numbers), data.draw(st.sampled_from(GUESTS))
                    body, pid = data.draw(inbound_bodies), data.draw(provider_ids)
                    step = MSend("Inbound", None, MContent(body), pid, owner, guest)
                    self.message_step(step, batched)
                assert not self.heard or not getattr(self.repository, "atomic_batches", True), (
                    "a listener heard a batch before it committed"
                )
                if abandon:
                    raise _Abandoned
        except _Abandoned:
            pass
        if before is not None:
            self.model = before
            batched = []
        self.check_events(tuple(batched))

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """A carrier's delivery callbacks for one message: its true path's reports, shuffled
        and duplicated, arrive one to three at a time; now and then an impossible, invalid or
        misdirected report (an inbound message, a draft, an unknown id)."""
        message_id = self.pick_message(data, outbound=True)
        model = self.ref.find_message(message_id)
        if model is not None and model.direction == "Outbound" and message_id not in self.reports:
            path = data.draw(st.sampled_from(DELIVERY_PATHS))
            extra = data.draw(st.lists(st.sampled_from(["Queued", *path]), max_size=3))
            self.paths[message_id] = path
            self.reports[message_id] = data.draw(st.permutations([*path, *extra]))
            note(f"  {message_id} goes {path}; reports {self.reports[message_id]}")
        pending = self.reports.get(message_id, [])
        for _ in range(data.draw(st.integers(1, 3))):
            if pending and data.draw(st.integers(0, 5)) > 0:
                status = pending.pop(0)
            else:
                status = data.draw(st.sampled_from(ALL_STATUSES))
                self.paths.pop(message_id, None)  # off its path: no claim on where it ends
            at = data.draw(st.sampled_from([None, None, self.at - timedelta(seconds=30)]))
            error = data.draw(st.sampled_from([None, "30007"]))
            note(f"record_delivery({message_id}, {status}, at={at}, error_code={error})")
            real = _call(partial(self.real.record_delivery, message_id, status, at, error))
            expected = self.ref.record_delivery(message_id, status, at, error)
            found = self.compare(real, expected)
            if found is None:
                continue
            assert isinstance(expected, Ok)
            self.check_events(expected.events, may_expire=(found.thread_id,))
            self.assert_message(found)
        if model is not None and message_id in self.paths and not pending and model.alive:
            path = self.paths[message_id]
            if path:  # every report arrived: the message is as far as its path went
                assert model.status == path[-1], (model.status, path)

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(
        data=st.data(),
        label=st.sampled_from(["billing", "spam", "urgent"]),
        automated=st.booleans(),
    )
    def classify(self, data: st.DataObject, label: str, automated: bool) -> None:
        message_id = self.pick_message(data)
        thread = self.ref.thread_of(message_id) if self.ref.find_message(message_id) else None
        actor = None if automated else self.pick_actor(data, thread.id if thread else None)
        real = _call(
            lambda: self.real.classify(
                message_id, classification=label, confidence=0.9, reason="model", actor=actor
            )
        )
        expected = self.ref.classify(message_id, label, actor)
        found = self.compare(real, expected)
        if found is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events, may_expire=(found.thread_id,))
            self.assert_message(found)
            newest = found.classifications[-1]
            assert (newest.classification, newest.confidence, newest.reason) == (
                label,
                0.9,
                "model",
            )
            assert newest.created_at == self.at
            ids = [c.id for c in found.classifications]
            assert len(set(ids)) == len(ids), "classification ids repeat"

    @precondition(lambda self: self.model is not None and bool(self.ref.all_messages()))
    @rule(data=st.data())
    def delete_messages(self, data: st.DataObject) -> None:
        """Delete one message or several (repeats, tombstones, drafts and unknown ids included:
        one bad id refuses the whole call)."""
        known = [m.id for m in self.ref.all_messages()]
        drafts = [d.id for d in self.ref.all_drafts()]
        one = st.sampled_from(known) | st.sampled_from([*drafts, "no-such-message"])
        ids = data.draw(
            st.lists(st.sampled_from(known), min_size=1, max_size=3)
            | st.lists(one, min_size=0, max_size=3)
        )
        first = self.ref.find_message(ids[0]) if ids else None
        actor = self.pick_actor(data, first.thread_id if first else None)
        real = _call(lambda: self.real.delete_messages(ids, actor=actor))
        expected = self.ref.delete_messages(ids, actor)
        found = self.compare(real, expected)
        if found is None:
            return
        assert isinstance(expected, Ok) and isinstance(expected.value, list)
        assert [m.id for m in found] == [m.id for m in expected.value]
        self.check_events(expected.events, may_expire=tuple({m.thread_id for m in found}))
        for message in found:
            self.assert_message(message)
