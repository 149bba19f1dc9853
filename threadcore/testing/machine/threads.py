"""The machine's rules for thread commands, time and the directory: assign, resolve, delete,
the sweep, a clock that moves (forward and back), directory changes."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from threadcore.domain.model import Handler
from threadcore.testing.machine._base import (
    MachineBase,
    _call,
    _has_threads,
    _model_resource,
    _resource,
)
from threadcore.testing.model import Err, Ok
from threadcore.testing.strategies import NAMES, OWNER_NUMBERS, Q1, Q2, actors, steps


class ThreadRules(MachineBase):
    """Rules: thread commands, the sweep, the clock, directory changes."""

    @precondition(_has_threads)
    @rule(data=st.data())
    def assign(self, data: st.DataObject) -> None:
        thread_id, actor = self.pick_thread_and_actor(data)
        assignee = data.draw(st.none() | st.just(self.pick_actor(data, thread_id)))
        real = _call(lambda: self.real.assign(thread_id, actor=actor, assignee=assignee))
        expected = self.ref.assign(thread_id, actor, assignee)
        if self.compare(real, expected) is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events)
        elif real == ("err", "ThreadNotOpen"):
            self.assert_expiry_stored([thread_id])  # refused for expiry: written (R10b)

    @precondition(_has_threads)
    @rule(data=st.data(), command=st.sampled_from(["resolve", "resolve", "delete"]))
    def resolve_or_delete(self, data: st.DataObject, command: str) -> None:
        thread_id, actor = self.pick_thread_and_actor(data)
        if command == "resolve":
            real = _call(lambda: self.real.resolve(thread_id, actor=actor))
            expected = self.ref.resolve(thread_id, actor)
        else:
            real = _call(lambda: self.real.delete(thread_id, actor=actor))
            expected = self.ref.delete(thread_id, actor)
        if self.compare(real, expected) is not None:
            assert isinstance(expected, Ok)
            self.check_events(expected.events)
        elif real == ("err", "ThreadNotOpen"):
            self.assert_expiry_stored([thread_id])  # refused for expiry: written (R10b)

    @rule()
    def expire(self) -> None:
        real = _call(self.real.expire)
        expected = self.ref.expire()
        threads = self.compare(real, expected)
        assert sorted(t.id for t in threads) == expected.value
        for thread in threads:
            assert thread.status_reason == "ThreadExpired"
            assert thread.last_modified_time == thread.latest_message_at + self.ttl
        self.check_events(expected.events)

    @rule(delta=steps)
    def advance(self, delta: timedelta) -> None:
        self.move_clock(self.clock.instant + delta)

    @rule(
        delta=st.sampled_from([timedelta(microseconds=1), timedelta(hours=1), timedelta(hours=80)])
    )
    def clock_steps_back(self, delta: timedelta) -> None:
        """NTP steps the host's clock back: the inbox's time stays where it was (R18a), and
        the steps that follow are judged at the machine's time, not the clock's."""
        assert self.real.now() == self.at, "the inbox's time is not the latest clock reading"
        self.clock.instant -= delta
        assert self.real.now() == self.at, "a clock that stepped back took the inbox back"

    @precondition(_has_threads)
    @rule(data=st.data(), offset=st.sampled_from([timedelta(0), timedelta(microseconds=-1)]))
    def advance_to_due(self, data: st.DataObject, offset: timedelta) -> None:
        """Move the clock to exactly a thread's due instant (or just before it)."""
        thread = self.ref.threads[data.draw(st.sampled_from(list(self.ref.threads)))]
        assert thread.latest is not None
        target = thread.latest + self.ttl + offset
        if target > self.at:
            self.move_clock(target)

    @rule(
        data=st.data(),
        change=st.sampled_from(
            [
                "remove_handler",
                "add_handler",
                "add_handler",
                "remove_phone_number",
                "add_phone_number",
                "add_phone_number",
                "remove_resource",
                "add_resource",
                "add_resource",
            ]
        ),
        resource=st.sampled_from([Q1, Q2]),
    )
    def change_directory(self, data: st.DataObject, change: str, resource: str) -> None:
        """One directory change, and the threads that follow it."""
        expected: Ok | Err
        if change in ("remove_handler", "add_handler"):
            handler = data.draw(actors)
            if change == "remove_handler":
                real = _call(lambda: self.real.remove_handler(resource, handler))
                expected = self.ref.remove_handler(resource, handler)
            else:
                name = NAMES.get(handler)
                real = _call(lambda: self.real.add_handler(resource, Handler(handler, name=name)))
                expected = self.ref.add_handler(resource, handler, name)
        elif change in ("remove_phone_number", "add_phone_number"):
            number = data.draw(st.sampled_from(OWNER_NUMBERS))
            if change == "remove_phone_number":
                real = _call(lambda: self.real.remove_phone_number(resource, number))
                expected = self.ref.remove_phone_number(resource, number)
            else:
                real = _call(lambda: self.real.add_phone_number(resource, number))
                expected = self.ref.add_phone_number(resource, number)
        elif change == "remove_resource":
            real = _call(lambda: self.real.remove_resource(resource))
            expected = self.ref.remove_resource(resource)
        else:
            real = _call(lambda: self.real.add_resource(_resource(resource)))
            expected = self.ref.add_resource(_model_resource(resource))
        changed = self.compare(real, expected)
        if isinstance(expected, Ok):
            if change.startswith("remove"):
                assert sorted(t.id for t in changed) == expected.value
            self.check_events(expected.events)
