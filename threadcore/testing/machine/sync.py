"""The machine's rules for sync clients: thread sync and entries sync, full and incremental."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from threadcore.domain.model import Availability, EntryScope, EntryType, ThreadStatus
from threadcore.domain.queries import SyncType
from threadcore.testing.machine._base import MachineBase, _call, _Client, _EntriesClient
from threadcore.testing.model import Ok
from threadcore.testing.strategies import ENTRY_ACTORS


class SyncRules(MachineBase):
    """Rules: sync clients that must converge on a fresh full sync."""

    def _incremental(
        self, client: _Client | _EntriesClient, actor: str, sync: Callable[..., Any]
    ) -> Any:
        """The result of ``sync`` (a thread or an entries sync), incremental with the client's
        token, or ``None`` when it is refused, as it must be (InvalidSyncToken) once the actor's
        resources changed or the token is too old: the client then forgets its token."""
        assert client.issued is not None
        invalid = (
            client.handled != self.ref.handled(actor)
            or self.at - client.issued > self.real.policy.sync_token_max_age
        )
        token = client.token
        real = _call(lambda: sync(actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=token))
        if invalid:
            assert real == ("err", "InvalidSyncToken"), real
            client.token = None
            return None
        assert real[0] == "ok", real
        return real[1]

    @rule(data=st.data(), full=st.booleans())
    def sync(self, data: st.DataObject, full: bool) -> None:
        """A sync client: a full sync or an incremental one; its copy then equals a fresh FSync."""
        actor = data.draw(st.sampled_from(["101", "103", "104"]))
        client = self.clients.setdefault(actor, _Client())
        now = self.at
        if full or client.token is None:
            result = self.real.sync(actor=actor, sync_type=SyncType.FULL)
            assert [t.id for t in result.records] == self.ref.full_sync(actor)
            client.store = {t.id: t for t in result.records}
        else:
            result = self._incremental(client, actor, self.real.sync)
            if result is None:
                return
            now_seen = self.ref.snapshot(actor)
            changed = sorted(tid for tid, rec in now_seen.items() if client.seen.get(tid) != rec)
            assert sorted(t.id for t in result.records) == changed, "ISync reported other changes"
            order = [(t.last_modified_time, t.id) for t in result.records]
            assert order == sorted(order, reverse=True)
            for thread in result.records:
                if thread.status is ThreadStatus.OPEN and thread.availability is Availability.ALIVE:
                    client.store[thread.id] = thread
                else:
                    client.store.pop(thread.id, None)
        assert result.sync_time == now
        for thread in result.records:
            self.assert_same(thread, self.ref.view(self.ref.threads[thread.id]))
        client.token, client.issued = result.sync_token, now
        client.handled, client.seen = self.ref.handled(actor), self.ref.snapshot(actor)
        fresh = self.real.sync(actor=actor, sync_type=SyncType.FULL)
        assert client.store == {t.id: t for t in fresh.records}, "the sync client diverged"
        self.absorb_expiries()  # a full sync writes the expiries it leaves out (R10b)
        self.assert_expiry_stored(self.threads_of(actor))

    @rule(data=st.data(), scope=st.sampled_from(list(EntryScope)))
    def sync_entries_full(self, data: st.DataObject, scope: EntryScope) -> None:
        """FSync of the entries timeline with each scope (Explicit with random thread ids)."""
        actor = self.pick_actor(data)
        thread_ids: list[str] | None = None
        if scope is EntryScope.EXPLICIT or data.draw(st.integers(0, 9)) == 0:
            thread_ids = data.draw(
                st.lists(
                    st.sampled_from([*self.ref.threads, "no-such-thread"]), min_size=1, max_size=3
                )
            )
        real = _call(
            lambda: self.real.sync_entries(actor=actor, scope=scope, thread_ids=thread_ids)
        )
        expected = self.ref.entries_full(actor, scope.value, thread_ids)
        found = self.compare(real, expected)
        if found is not None:
            assert isinstance(expected, Ok) and isinstance(expected.value, list)
            assert found.sync_type is SyncType.FULL
            assert found.sync_time == self.at
            self.assert_entries(found.records, expected.value)
        self.absorb_expiries()

    @rule(data=st.data(), full=st.booleans())
    def entries_client(self, data: st.DataObject, full: bool) -> None:
        """E4: a client per actor applies FSync(Accessible), then ISyncs (each compared with the
        model's changes since its token); it then holds what a fresh FSync returns, which is the
        model's open timelines."""
        actor = data.draw(st.sampled_from(ENTRY_ACTORS))
        client = self.entry_clients.setdefault(actor, _EntriesClient())
        now = self.at
        if full or client.token is None:
            result = self.real.sync_entries(actor=actor, scope=EntryScope.ACCESSIBLE)
            self.assert_entries(result.records, self.ref.open_timelines(actor))
            client.store = {e.id: e for e in result.records}
        else:
            wrong = data.draw(st.integers(0, 11))
            if wrong == 0 and actor in self.clients and self.clients[actor].token is not None:
                thread_token = self.clients[actor].token
                real = _call(
                    lambda: self.real.sync_entries(
                        actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=thread_token
                    )
                )
                assert real == ("err", "InvalidSyncToken"), "a thread-sync token was accepted"
                return
            other = [c.token for a, c in self.entry_clients.items() if a != actor and c.token]
            if wrong == 1 and other:
                real = _call(
                    lambda: self.real.sync_entries(
                        actor=actor, sync_type=SyncType.INCREMENTAL, sync_token=other[0]
                    )
                )
                assert real == ("err", "InvalidSyncToken"), "another actor's token was accepted"
                return
            result = self._incremental(client, actor, self.real.sync_entries)
            if result is None:
                return
            assert result.sync_type is SyncType.INCREMENTAL
            self.assert_entries(result.records, self.ref.entries_since(actor, client.tick))
            dropped = set()
            for e in result.records:
                if e.record_type in (EntryType.ALIVE_MESSAGE, EntryType.ALIVE_NOTE):
                    client.store[e.id] = e
                elif e.record_type in (EntryType.DELETED_MESSAGE, EntryType.DELETED_NOTE):
                    client.store.pop(e.id, None)
                elif e.record_type in (
                    EntryType.THREAD_RESOLVED_HINT,
                    EntryType.THREAD_DELETED_HINT,
                ):
                    dropped.add(e.thread_id)
            client.store = {k: e for k, e in client.store.items() if e.thread_id not in dropped}
        assert result.sync_time == now
        client.token, client.issued, client.tick = result.sync_token, now, self.ref.tick
        client.handled = self.ref.handled(actor)
        fresh = self.real.sync_entries(actor=actor, scope=EntryScope.ACCESSIBLE)
        assert client.store == {e.id: e for e in fresh.records}, "the entries client diverged"
        self.absorb_expiries()
        self.assert_expiry_stored(self.threads_of(actor))
        self.assert_entries(
            sorted(client.store.values(), key=lambda e: (e.last_modified_time, e.id), reverse=True),
            self.ref.open_timelines(actor),
        )
