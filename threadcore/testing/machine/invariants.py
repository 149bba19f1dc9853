"""The invariants the machine checks after every step, against the model and the rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis.stateful import invariant

from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    EntryScope,
    StatusReason,
    Thread,
    ThreadStatus,
)
from threadcore.ports import NoteQuery, Queries, require
from threadcore.testing.machine._base import MachineBase
from threadcore.testing.machine.records import (
    message_record,
    model_draft_record,
    model_message_record,
    model_note_record,
    note_record,
)
from threadcore.testing.strategies import GUESTS, OWNER_NUMBERS, RESOURCES


def as_seen_at(thread: Thread, now: datetime, ttl: timedelta) -> Thread:
    """The stored ``thread`` as a reader must see it at ``now``, by rule R10 as written (the
    machine's own due rule, not the implementation's): an open, alive thread whose latest message
    is ``ttl`` old is Resolved (ThreadExpired) as of its due instant, without an assignee."""
    due = thread.latest_message_at + ttl
    if thread.status is not ThreadStatus.OPEN or thread.availability is not Availability.ALIVE:
        return thread
    if now < due:
        return thread
    seen: Thread = attrs.evolve(
        thread,
        status=ThreadStatus.RESOLVED,
        status_reason=StatusReason.THREAD_EXPIRED,
        assignee=None,
        last_modified_time=due,
        version=thread.version + 1,
    )
    return seen


class Invariants(MachineBase):
    """Invariants: stored state equals the model's, and the rules hold, after every step."""

    @invariant()
    def threads_match_the_model(self) -> None:
        """Stored and effective state of every thread equal the model's, field by field."""
        if self.model is None:
            return
        now = self.at
        for thread_id, real in self.stored().items():
            model = self.ref.threads[thread_id]
            assert real.status == model.status, "a different expiry was written"
            self.assert_same(as_seen_at(real, now, self.ttl), self.ref.view(model))

    @invariant()
    def messages_match_the_model(self) -> None:
        """Every stored message and draft equals the model's, field by field; every alive
        thread's label follows its newest alive message (M5); no draft is a message."""
        if self.model is None:
            return
        stored = self.stored()
        with self.repository.unit_of_work() as uow:
            for thread_id, model in self.ref.threads.items():
                rows = uow.messages(thread_id)
                real = [message_record(m) for m in rows if m.status is not DeliveryStatus.DRAFT]
                expected = [model_message_record(m) for m in model.messages]
                assert real == expected, (real, expected)
                drafts = [
                    message_record(m)
                    for m in rows
                    if m.status is DeliveryStatus.DRAFT and m.availability is Availability.ALIVE
                ]
                assert drafts == [model_draft_record(d) for d in model.drafts], (
                    drafts,
                    model.drafts,
                )
                if stored[thread_id].availability is Availability.ALIVE:
                    texts = [
                        m.body
                        for m in rows
                        if m.availability is Availability.ALIVE
                        and m.status is not DeliveryStatus.DRAFT
                        and m.body
                    ]
                    label = texts[-1] if texts else None
                    assert stored[thread_id].label == label, "the label is not the newest text"

    @invariant()
    def notes_match_the_model(self) -> None:
        """Every stored note equals the model's, field by field."""
        if self.model is None:
            return
        query = NoteQuery(
            owner_extension_ids=frozenset(RESOURCES), availability=frozenset(Availability)
        )
        with self.repository.unit_of_work() as uow:
            real = sorted(note_record(n) for n in require(uow, Queries).find_notes(query, 100_000))
        expected = sorted(model_note_record(n) for n in self.ref.all_notes())
        assert real == expected, (real, expected)

    @invariant()
    def opt_out_is_stored_and_obeyed(self) -> None:
        """The stored opt-out state of every pair is the model's (M7), and no outbound message
        of a pair was stored while the pair was opted out."""
        if self.model is None:
            return
        with self.repository.unit_of_work() as uow:
            for owner in OWNER_NUMBERS:
                for guest in GUESTS:
                    assert uow.opted_out(owner, guest) == self.ref.is_opted_out(owner, guest), (
                        owner,
                        guest,
                    )
        for m in self.ref.all_messages():
            if m.direction != "Outbound":
                continue
            state = False
            for seq, owner, guest, opted in self.ref.opt_log:
                if seq < m.seq and (owner, guest) == (m.owner, m.guest):
                    state = opted
            assert not state, f"{m.id} was sent to {m.guest} from {m.owner} after an opt-out"

    @invariant()
    def entries_match_the_model(self) -> None:
        """FSync(Accessible) of the entries timeline is the model's open timelines (for the
        handler of both resources)."""
        if self.model is None or any(self.ref.due(t) for t in self.ref.threads.values()):
            return  # (a read writes what it shows expired, R10b: invariants only look)
        found = self.real.sync_entries(actor="103", scope=EntryScope.ACCESSIBLE)
        self.assert_entries(found.records, self.ref.open_timelines("103"))

    @invariant()
    def one_open_thread_per_pair(self) -> None:
        if self.model is None:
            return
        now = self.at
        pairs: dict[tuple[str, str], str] = {}
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE:
                pair = (view.owner_party.phone_number, view.guest_party.phone_number)
                assert pair not in pairs, f"two open threads for {pair}"
                pairs[pair] = view.id

    @invariant()
    def assignee_only_on_open_threads_and_always_a_handler(self) -> None:
        if self.model is None:
            return
        now = self.at
        directory = self.directory_now()
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.assignee is None:
                continue
            assert view.status is ThreadStatus.OPEN and view.availability is Availability.ALIVE
            resource = directory.resource(view.owner.extension_id)
            assert resource is not None and resource.is_handler(view.assignee.extension_id)

    @invariant()
    def the_directory_is_the_models(self) -> None:
        """Every resource with its numbers and its handlers (with their names), as the model
        has them (stored ones read from the repository)."""
        if self.model is None:
            return
        real = {
            r.extension_id: (set(r.phone_numbers), {h.extension_id: h.name for h in r.handlers})
            for r in self.directory_now().resources()
        }
        expected = {
            r.extension_id: (set(r.numbers), dict(r.handlers)) for r in self.ref.resources.values()
        }
        assert real == expected, f"directory {real} != model {expected}"

    @invariant()
    def resolved_is_final(self) -> None:
        if self.model is None:
            return
        now = self.at
        for thread in self.stored().values():
            view = as_seen_at(thread, now, self.ttl)
            if view.status is ThreadStatus.RESOLVED:
                self.ever_resolved.add(view.id)
            else:
                assert view.id not in self.ever_resolved, f"thread {view.id} reopened"

    @invariant()
    def deleted_threads_hold_no_messages(self) -> None:
        if self.model is None:
            return
        stored = self.stored()
        with self.repository.unit_of_work() as uow:
            for thread_id, thread in stored.items():
                if thread.availability is Availability.DELETED:
                    assert all(
                        m.availability is Availability.DELETED and m.body == ""
                        for m in uow.messages(thread_id)
                    )
