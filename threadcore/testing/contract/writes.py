"""The contract of the core unit of work (:class:`~threadcore.ports.UnitOfWork`: a command's
reads and writes, how units of work nest and batch): what a unit of work stores, all or
nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings

from threadcore.domain import transitions as tx
from threadcore.domain.errors import ConcurrencyConflict, NestedUnitOfWork
from threadcore.domain.events import DeliveryStatusChanged, GuestOptedOut, NoteAdded, ThreadOpened
from threadcore.domain.model import (
    Availability,
    DeliveryStatus,
    Direction,
    Keyword,
    Message,
    MessageSource,
    StatusReason,
)
from threadcore.ports import Claim, Repository
from threadcore.testing.contract._base import (
    _IDS,
    _MESSAGE_FIELDS,
    _SHARED_EXAMPLES,
    CLASSIFIED,
    FULL,
    Q1,
    T0,
    ContractBase,
    _message,
    _note,
    _thread,
)


class CoreContract(ContractBase):
    """The core unit of work (:class:`~threadcore.ports.UnitOfWork`), which every adapter offers:
    the reads a command makes, writes (round trips, versioned updates, one open thread per pair,
    tombstones, all-or-nothing units, batches and nesting)."""

    def test_a_new_thread_and_its_message_round_trip(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") == thread
            assert uow.thread("missing") is None
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") == thread
            assert uow.open_thread_for_pair("+12092480001", "+16502240009") is None
            assert uow.messages("t1") == [message]
            assert uow.messages("missing") == []

    def test_a_claim_returns_what_it_read(self, repo: Repository) -> None:
        """``claim()`` answers a :class:`~threadcore.ports.Claim`: the latest instant stored
        (``None`` when empty), and, where the adapter read the claimed thread with it, that
        thread as stored (``None``: no open thread for the pair)."""
        pair = ("+12092480001", "+16502240001")
        with repo.unit_of_work() as uow:
            assert uow.claim(pair=pair).floor is None
        thread, message = _thread("t1", pair[1], T0)
        self.store(repo, (thread, message))
        for subject in (pair, "t1", ("+12092480001", "+16502240009")):
            with repo.unit_of_work() as uow:
                claim = (
                    uow.claim(pair=subject) if isinstance(subject, tuple)
                    else uow.claim(thread_id=subject)
                )  # fmt: skip
                assert isinstance(claim, Claim)
                assert claim.floor is not None and claim.floor >= T0
                if claim.subject is not None:
                    assert claim.subject == subject
                    assert claim.thread == (thread if subject in (pair, "t1") else None)
                assert uow.thread("t1") == thread  # (the claim's read, where it made one)

    def test_messages_keep_their_order_and_provider_ids(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        later = self.send_later(repo, thread, 4)
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [first, *later]
            assert uow.message_by_provider_id("p3") == later[1]
            assert uow.message_by_provider_id("nope") is None
            stored = uow.thread("t1")
            assert stored is not None
            assert stored.label == "body 5"
            assert stored.version == thread.version + 4

    def test_a_stale_version_conflicts_and_changes_nothing(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        resolved, _ = tx.resolve(thread, StatusReason.MANUAL, "101", T0)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_thread(resolved, thread.version - 1)
            uow.add_message(Message("m2", "t1", Direction.INBOUND, "x", "+16502240001",
                                    "+12092480001", None, T0, T0))  # fmt: skip
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") == thread
            assert [m.id for m in uow.messages("t1")] == [message.id]

    def test_the_storage_keeps_one_open_thread_per_pair(self, repo: Repository) -> None:
        self.store(repo, _thread("t1", "+16502240001", T0))
        second, message = _thread("t2", "+16502240001", T0 + timedelta(seconds=1))
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_thread(second, 0)
            uow.add_message(message)
        with repo.unit_of_work() as uow:
            assert uow.thread("t2") is None
        # once the first is resolved, the pair may open again
        with repo.unit_of_work() as uow:
            first = uow.thread("t1")
            assert first is not None
            uow.save_thread(tx.resolve(first, StatusReason.MANUAL, None, T0)[0], first.version)
        self.store(repo, (second, message))
        with repo.unit_of_work() as uow:
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") == second

    def test_a_unit_of_work_inside_another_is_refused_alike(self, repo: Repository) -> None:
        """Nesting is pinned: every adapter refuses a unit of work begun while another is open
        in the same thread (NestedUnitOfWork), stores nothing of either, and works on after."""
        thread, _ = _thread("t-nested", "+16502240098", T0)
        with pytest.raises(NestedUnitOfWork), repo.unit_of_work() as outer:
            outer.save_thread(thread, 0)
            with repo.unit_of_work() as inner:
                inner.set_opted_out(thread.owner_party.phone_number, "+16502240099", True)
        with repo.unit_of_work() as uow:
            assert uow.thread("t-nested") is None
            assert not uow.opted_out(thread.owner_party.phone_number, "+16502240099")
            uow.save_thread(thread, 0)
        with repo.unit_of_work() as uow:
            assert uow.thread("t-nested") == thread

    def test_an_exception_discards_every_buffered_write(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            uow.save_thread(thread, 0)
            uow.add_message(message)
            uow.append_events([ThreadOpened("t1", T0, Q1, "+12092480001", "+16502240001",
                                            None, None)])  # fmt: skip
            raise RuntimeError("the command failed halfway")
        with repo.unit_of_work() as uow:
            assert uow.thread("t1") is None
            assert uow.messages("t1") == []
            assert uow.message_by_provider_id("p1") is None
        assert repo.events() == []

    def test_a_batch_undoes_only_the_refused_unit(self, repo: Repository) -> None:
        with repo.batch():
            self.store(repo, _thread("a", "+16502240001", T0))
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_thread(_thread("a2", "+16502240001", T0)[0], 0)  # same pair: refused
            self.store(repo, _thread("b", "+16502240002", T0))
        with repo.unit_of_work() as uow:
            assert uow.thread("a") is not None
            assert uow.thread("a2") is None
            assert uow.thread("b") is not None

    def test_a_batch_undoes_the_earlier_writes_of_a_refused_unit(self, repo: Repository) -> None:
        # The refusal comes from the unit's second write, after a first one the storage took:
        # the first must go too, while the batch's other units stay.
        a, _ = _thread("a", "+16502240001", T0)
        self.store(repo, (a, _thread("a", "+16502240001", T0)[1]))
        with repo.batch():
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_thread(_thread("t2", "+16502240002", T0)[0], 0)  # a new pair: fine
                uow.save_thread(attrs.evolve(a, version=a.version + 5), a.version + 4)  # stale
            self.store(repo, _thread("b", "+16502240003", T0))
        with repo.unit_of_work() as uow:
            assert uow.thread("t2") is None
            assert uow.thread("a") == a
            assert uow.thread("b") is not None

    def test_every_message_field_round_trips(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        draft = _message("d1", thread, T0 + timedelta(seconds=2), "draft", attachments=("a",),
                         status=DeliveryStatus.DRAFT, source=MessageSource.APP)  # fmt: skip
        stop = Message("stop", "t1", Direction.INBOUND, "STOP", "+16502240001", "+12092480001",
                       None, T0, T0, keyword=Keyword.OPT_OUT)  # fmt: skip
        self.add(repo, FULL, draft)
        self.add(repo, stop)
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [first, FULL, draft, stop]  # insertion order
            for message in (first, FULL, draft, stop):
                assert uow.message(message.id) == message
            assert uow.message("missing") is None
            assert uow.message_by_provider_id("prov-full") == FULL
        assert (first.status, stop.status) == (DeliveryStatus.RECEIVED, DeliveryStatus.RECEIVED)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=_SHARED_EXAMPLES,
    )
    @given(fields=_MESSAGE_FIELDS)
    def test_any_message_round_trips(self, repo: Repository, fields: dict[str, Any]) -> None:
        n = next(_IDS)
        thread, first = _thread(f"any-{n}", f"+1650{n:07d}", T0)
        self.store(repo, (thread, first))
        mid = f"any-{n}-m2"
        with_provider_id = fields.pop("with_provider_id")
        message = Message(id=mid, thread_id=thread.id, from_number="+16502240001",
                          to_number="+12092480001",
                          provider_message_id=f"p-{mid}" if with_provider_id else None,
                          **fields)  # fmt: skip
        self.add(repo, message)
        with repo.unit_of_work() as uow:
            assert uow.message(mid) == message
            assert uow.messages(thread.id) == [first, message]
            if with_provider_id:
                assert uow.message_by_provider_id(f"p-{mid}") == message
        # and as an update of a stored message, every field again
        changed = attrs.evolve(first, **{k: v for k, v in fields.items() if k != "version"},
                               version=first.version + 1)  # fmt: skip
        with repo.unit_of_work() as uow:
            uow.save_message(changed, first.version)
        with repo.unit_of_work() as uow:
            assert uow.message(first.id) == changed

    def test_a_message_update_is_versioned(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        sent = _message("m2", thread, T0, provider_message_id="p2")
        self.add(repo, sent)
        later = T0 + timedelta(minutes=1)
        delivered = attrs.evolve(sent, status=DeliveryStatus.DELIVERED, sent_at=later,
                                 delivered_at=later, last_modified_at=later,
                                 classifications=(CLASSIFIED,), version=2)  # fmt: skip
        with repo.unit_of_work() as uow:
            uow.save_message(delivered, 1)
            uow.append_events([DeliveryStatusChanged("t1", later, "m2", DeliveryStatus.DELIVERED,
                                                     DeliveryStatus.QUEUED)])  # fmt: skip
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == delivered
            assert uow.message_by_provider_id("p2") == delivered
            assert uow.messages("t1") == [first, delivered]
        # saved twice in one unit of work: the last state, checked against the first version
        read = attrs.evolve(delivered, status=DeliveryStatus.READ, read_at=later, version=3)
        with repo.unit_of_work() as uow:
            uow.save_message(attrs.evolve(read, version=99), 2)
            uow.save_message(read, 99)
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == read
        stale = attrs.evolve(read, error_code="late", version=4)
        for expected in (2, 4, 0):
            with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
                uow.save_message(stale, expected)
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            uow.save_message(_message("never-stored", thread, T0), 1)
        with repo.unit_of_work() as uow:
            assert uow.message("m2") == read
            assert uow.message("never-stored") is None

    def test_a_message_added_and_saved_in_one_unit_is_stored_as_saved(
        self, repo: Repository
    ) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        draft = _message("d1", thread, T0, "v1", status=DeliveryStatus.DRAFT)
        edited = attrs.evolve(draft, body="v2", version=2)
        with repo.unit_of_work() as uow:
            uow.add_message(draft)
            uow.save_message(edited, 1)
        with repo.unit_of_work() as uow:
            assert uow.message("d1") == edited
            assert uow.messages("t1") == [first, edited]

    def test_opt_outs_are_upserted_per_pair(self, repo: Repository) -> None:
        owner, guest, other = "+12092480001", "+16502240001", "+16502240002"
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False
            uow.set_opted_out(owner, guest, True)
            uow.append_events([GuestOptedOut("t1", T0, owner, guest, "m1")])
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is True
            assert uow.opted_out(owner, other) is False
            assert uow.opted_out(guest, owner) is False  # the pair is ordered
            uow.set_opted_out(owner, guest, True)  # again: still one record
            uow.set_opted_out(owner, other, True)
        with repo.unit_of_work() as uow:
            uow.set_opted_out(owner, guest, False)
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False
            assert uow.opted_out(owner, other) is True
            uow.set_opted_out(owner, guest, True)  # the last word in a unit of work wins
            uow.set_opted_out(owner, guest, False)
        with repo.unit_of_work() as uow:
            assert uow.opted_out(owner, guest) is False

    def test_tombstones_keep_messages_without_bodies(self, repo: Repository) -> None:
        thread, message = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, message))
        later = T0 + timedelta(minutes=1)
        with repo.unit_of_work() as uow:
            deleted, _ = tx.delete(thread, "101", later)
            uow.save_thread(deleted, thread.version)
            uow.tombstone_messages("t1", later)
        with repo.unit_of_work() as uow:
            (gone,) = uow.messages("t1")
            assert (gone.id, gone.body, gone.availability) == (message.id, "", Availability.DELETED)
            assert gone.last_modified_at == later
            assert uow.open_thread_for_pair("+12092480001", "+16502240001") is None

    def test_tombstones_cover_messages_drafts_and_notes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        other, other_first = _thread("t2", "+16502240002", T0)
        self.store(repo, (thread, first), (other, other_first))
        at = T0 + timedelta(seconds=1)
        full = attrs.evolve(FULL, availability=Availability.ALIVE)
        draft = _message("d1", thread, at, "draft", attachments=("a",),
                         status=DeliveryStatus.DRAFT)  # fmt: skip
        deleted = _message("m-gone", thread, at, "", availability=Availability.DELETED,
                           version=4)  # fmt: skip
        note, old_note = _note("n1", thread, at), _note("n0", thread, at)
        gone_note = attrs.evolve(old_note, text="", availability=Availability.DELETED, version=2)
        other_note = _note("n2", other, at)
        self.add(repo, full, draft, deleted, note, gone_note, other_note)
        later = T0 + timedelta(hours=1)
        with repo.unit_of_work() as uow:
            uow.save_thread(tx.delete(thread, "101", later)[0], thread.version)
            uow.tombstone_messages("t1", later)

        def buried(message: Message) -> Message:
            return attrs.evolve(message, body="", attachments=(), classifications=(),
                                availability=Availability.DELETED, last_modified_at=later,
                                version=message.version + 1)  # fmt: skip

        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [buried(first), buried(full), buried(draft), deleted]
            assert uow.message(full.id) == buried(full)
            assert uow.message_by_provider_id("prov-full") == buried(full)
            assert uow.note("n1") == attrs.evolve(note, text="", availability=Availability.DELETED,
                                                  last_modified_time=later, version=2)  # fmt: skip
            assert uow.note("n0") == gone_note  # a tombstone already: untouched
            assert uow.messages("t2") == [other_first]
            assert uow.note("n2") == other_note

    def test_tombstones_cover_what_the_same_unit_writes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        at = T0 + timedelta(seconds=1)
        kept, old_note = _message("m2", thread, at), _note("n0", thread, at)
        self.add(repo, kept, old_note)
        later = T0 + timedelta(hours=1)
        updated = attrs.evolve(kept, status=DeliveryStatus.SENT, sent_at=later, version=2)
        new = _message("m3", thread, later, attachments=("x",))
        edited = attrs.evolve(old_note, text="edited", version=2)
        new_note = _note("n1", thread, later)
        with repo.unit_of_work() as uow:
            uow.save_message(updated, 1)
            uow.add_message(new)
            uow.save_note(edited, 1)
            uow.save_note(new_note, 0)
            uow.save_thread(tx.delete(thread, "101", later)[0], thread.version)
            uow.tombstone_messages("t1", later)
            uow.tombstone_messages("t1", later + timedelta(seconds=1))  # finds nothing alive
        gone = Availability.DELETED
        with repo.unit_of_work() as uow:
            assert uow.messages("t1") == [
                attrs.evolve(m, body="", attachments=(), availability=gone,
                             last_modified_at=later, version=m.version + 1)
                for m in (first, updated, new)
            ]  # fmt: skip
            for stored in (edited, new_note):
                assert uow.note(stored.id) == attrs.evolve(
                    stored, text="", availability=gone, last_modified_time=later,
                    version=stored.version + 1,
                )  # fmt: skip

    def test_a_failing_unit_stores_none_of_its_new_writes(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        sent, note = _message("m2", thread, T0), _note("n1", thread, T0)
        self.add(repo, sent, note)
        with repo.unit_of_work() as uow:
            before = (uow.thread("t1"), uow.messages("t1"), uow.note("n1"))
        events = repo.events()
        later = T0 + timedelta(hours=1)

        def writes(uow: Any, thread_version: int) -> None:
            uow.save_message(attrs.evolve(sent, status=DeliveryStatus.SENT, version=2), 1)
            uow.add_message(_message("m3", thread, later))
            uow.add_message(_message("d1", thread, later, status=DeliveryStatus.DRAFT))
            uow.save_note(attrs.evolve(note, text="edited", version=2), 1)
            uow.save_note(_note("n2", thread, later), 0)
            uow.set_opted_out("+12092480001", "+16502240001", True)
            uow.save_thread(tx.delete(thread, "101", later)[0], thread_version)
            uow.tombstone_messages("t1", later)
            uow.append_events([NoteAdded("t1", later, "n2", "101")])

        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            writes(uow, thread.version)
            raise RuntimeError("the command failed halfway")
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            writes(uow, thread.version + 5)  # a stale thread: the commit fails
        with pytest.raises(ConcurrencyConflict), repo.unit_of_work() as uow:
            writes(uow, thread.version)
            uow.save_note(_note("n9", thread, later), 1)  # never stored: the commit fails
        with repo.unit_of_work() as uow:
            assert (uow.thread("t1"), uow.messages("t1"), uow.note("n1")) == before
            assert uow.message("m3") is None and uow.message("d1") is None
            assert uow.note("n2") is None
            assert uow.opted_out("+12092480001", "+16502240001") is False
        assert repo.events() == events
