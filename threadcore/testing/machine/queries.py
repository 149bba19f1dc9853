"""The machine's rules for reads: a thread and its messages, and the paged lists of threads,
messages and notes."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from threadcore.domain.queries import MessageFilter, ThreadFilter
from threadcore.testing.machine._base import MachineBase, _call, _has_threads, scoped
from threadcore.testing.model import MThread, Ok
from threadcore.testing.strategies import GUESTS, START, owner_numbers, thread_statuses


class QueryRules(MachineBase):
    """Rules: reads and lists, walked by token and by page number."""

    @precondition(_has_threads)
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """``get`` and ``messages`` as someone (mostly a handler) sees them."""
        thread_id, actor = self.pick_thread_and_actor(data)
        real = _call(lambda: self.real.get(thread_id, actor=actor))
        expected = self.ref.get(thread_id, actor)
        thread = self.compare(real, expected)
        if thread is not None:
            assert isinstance(expected, Ok) and isinstance(expected.value, MThread)
            self.assert_same(thread, expected.value)
            self.absorb_expiries()
            self.assert_expiry_stored([thread_id])
        per_page = data.draw(st.none() | st.integers(1, 3))
        expected = self.ref.messages(thread_id, actor)
        if per_page is None:  # all of them at once
            found = self.compare(
                _call(lambda: self.real.messages(thread_id, actor=actor)), expected
            )
            if found is not None:
                assert [m.id for m in found] == expected.value  # type: ignore[union-attr]
        else:  # walked by token, or one numbered page: walk() compares it with the model
            found = self.walk_read(data, self.real.messages, thread_id, actor, expected, per_page)
        if found:
            drafts = {d.id for d in self.ref.all_drafts()}
            assert not drafts & {m.id for m in found}, "a draft is listed with the messages"
            for m in found:
                self.assert_message(m)
        if self.ref.all_messages() or self.ref.all_drafts():
            message_id = self.pick_message(data)
            real = _call(lambda: self.real.message(message_id, actor=actor))
            message = self.compare(real, self.ref.message(message_id, actor))
            if message is not None:
                self.assert_message(message)
        thread = self.ref.threads.get(thread_id)
        if thread is not None and actor in self.ref.handled(actor) | {actor}:
            resource = self.ref.owner_of(thread.owner)
            if resource is not None and actor in resource.handlers:
                opted = self.real.opted_out(
                    actor=actor, owner_number=thread.owner, guest_number=thread.guest
                )
                assert opted == self.ref.is_opted_out(thread.owner, thread.guest)

    @rule(data=st.data(), status=thread_statuses, per_page=st.integers(1, 4))
    def list_threads(self, data: st.DataObject, status: str | None, per_page: int) -> None:
        """A list walk (by token, or one numbered page) with random filters, against the model."""
        actor = self.pick_actor(data)
        owner = data.draw(st.none() | owner_numbers)
        guest = data.draw(st.none() | st.sampled_from(GUESTS))
        scope = self.draw_scope(data, self.creation_times())
        flt = ThreadFilter(
            status=status, owner_phone_number=owner, guest_phone_number=guest, **scoped(scope)
        )
        expected = self.ref.list_ids(actor, scope, status, owner, guest)
        walked = self.walk_read(data, self.real.list, flt, actor, expected, per_page)
        for thread in walked:
            self.assert_same(thread, self.ref.view(self.ref.threads[thread.id]))
        self.absorb_expiries()
        self.assert_expiry_stored(thread.id for thread in walked)

    def creation_times(self) -> list[datetime]:
        return sorted({t.created for t in self.ref.threads.values()}) or [START]

    @rule(data=st.data(), status=thread_statuses, per_page=st.integers(1, 5))
    def list_messages(self, data: st.DataObject, status: str | None, per_page: int) -> None:
        """A token walk of ``list_messages`` with random filters, against the model."""
        actor = self.pick_actor(data)
        threads = [*self.ref.threads, "no-such-thread"]
        known = [m.id for m in self.ref.all_messages()] + [d.id for d in self.ref.all_drafts()]
        thread_ids = data.draw(st.none() | st.lists(st.sampled_from(threads), min_size=1))
        message_ids = data.draw(
            st.none() | st.lists(st.sampled_from(known or ["no-such-message"]), min_size=1)
        )
        times = sorted({m.created for m in self.ref.all_messages() if m.created} | {START})
        scope = self.draw_scope(data, times, upto=True)
        flt = MessageFilter(
            thread_ids=thread_ids, message_ids=message_ids, thread_status=status, **scoped(scope)
        )
        expected = self.ref.list_record_ids(
            "messages", actor, scope, thread_ids, message_ids, status
        )
        walked = self.walk_read(data, self.real.list_messages, flt, actor, expected, per_page)
        for m in walked:
            self.assert_message(m)
        self.absorb_expiries()  # by thread status: the due threads' expiries (R10b)
