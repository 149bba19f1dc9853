"""The machine's rules for drafts and internal notes."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from threadcore.domain.queries import NoteFilter
from threadcore.testing.machine._base import MachineBase, _call, _has_threads
from threadcore.testing.model import Err, MContent, Ok
from threadcore.testing.strategies import actors, contents, note_texts


class DraftAndNoteRules(MachineBase):
    """Rules: drafts (save, send, discard, list) and notes (add, edit, delete)."""

    @precondition(_has_threads)
    @rule(
        data=st.data(),
        command=st.sampled_from(["save", "save", "change", "send", "send", "discard", "list"]),
        content=contents,
    )
    def draft(self, data: st.DataObject, command: str, content: MContent) -> None:
        """Save, change, send or discard a draft, or list a thread's drafts (on open, resolved
        and deleted threads, by the assignee, other handlers and outsiders)."""
        drafts = [d.id for d in self.ref.all_drafts()]
        if command in ("change", "send", "discard") and not drafts:
            command = "save"
        if command in ("change", "send", "discard"):
            draft_id = data.draw(st.sampled_from([*drafts, "no-such-draft"]))
            model = self.ref.find_draft(draft_id)
            thread_id = model.thread_id if model is not None else self.pick_thread(data)
        else:
            thread_id, draft_id = self.pick_thread(data, open_mostly=True), None
        actor = self.pick_actor(data, thread_id)
        if command in ("save", "change"):
            run = partial(
                self.real.save_draft, thread_id, actor=actor, draft_id=draft_id, **asdict(content)
            )
            expected = self.ref.save_draft(thread_id, actor, content, draft_id)
            found = self.compare(_call(run), expected)
            if found is None:
                return
            assert isinstance(expected, Ok)
            if expected.value == ("new", None):
                assert found.id != draft_id
                expected = self.ref.add_draft(found.id, thread_id, actor, content)
            else:
                assert found.id == draft_id
            self.check_events(expected.events)
            self.assert_draft(found)
        elif command in ("send", "discard"):
            assert draft_id is not None
            if command == "send":
                real, expected = self.real.send_draft, self.ref.plan_send_draft(draft_id, actor)
            else:
                real, expected = self.real.discard_draft, self.ref.discard_draft(draft_id, actor)
            found = self.compare(_call(partial(real, draft_id, actor=actor)), expected)
            if found is None:
                return
            if command == "send":
                assert found.id != draft_id, "a sent draft kept its id"
                assert found.id not in {m.id for m in self.ref.all_messages()}
                done = self.ref.apply_send_draft(draft_id, actor, found.id)
                self.check_events(done.events)
                self.assert_message(found)
            else:
                assert isinstance(expected, Ok)
                assert found.id == draft_id
                self.check_events(expected.events, may_expire=(found.thread_id,))
        else:
            expected = self.ref.drafts(thread_id, actor)
            per_page = data.draw(st.integers(1, 3))
            walked = self.walk_read(data, self.real.drafts, thread_id, actor, expected, per_page)
            for d in walked:
                self.assert_draft(d)

    @precondition(_has_threads)
    @rule(
        data=st.data(),
        command=st.sampled_from(["add", "add", "edit", "delete", "list"]),
        text=note_texts,
    )
    def notes(self, data: st.DataObject, command: str, text: str) -> None:
        """Add, edit or delete notes (by their author or someone else, on open, resolved and
        deleted threads), or walk a note list with random filters."""
        known = [n.id for n in self.ref.all_notes()]
        if command == "add":
            thread_id, actor = self.pick_thread_and_actor(data, open_mostly=True)
            expected: Ok | Err | None = self.ref.plan_note(thread_id, actor)
            real = _call(lambda: self.real.add_note(thread_id, actor=actor, text=text))
            found = self.compare(real, expected or Ok())
            if found is None:
                return
            done = self.ref.add_note(found.id, thread_id, actor, text)
            self.check_events(done.events)
            self.assert_note(found)
            return
        if command == "list":
            self.list_notes(data)
            return
        on_open = [n.id for n in self.ref.all_notes()
                   if self.ref.view(self.ref.threads[n.thread_id]).status == "Open"
                   and self.ref.threads[n.thread_id].alive]  # fmt: skip
        pool = st.sampled_from([*known, "no-such-note"])
        ids = data.draw(
            st.lists(
                st.sampled_from(on_open) | pool if on_open else pool,
                min_size=command == "edit",
                max_size=1 if command == "edit" else 3,
            )
        )
        first = self.ref.find_note(ids[0]) if ids else None
        actor = data.draw(
            st.just(first.author) | st.just(self.pick_actor(data, first.thread_id))
            if first is not None
            else actors
        )
        if command == "edit":
            real = _call(lambda: self.real.edit_note(ids[0], actor=actor, text=text))
            expected = self.ref.edit_note(ids[0], actor, text)
        else:
            real = _call(lambda: self.real.delete_notes(ids, actor=actor))
            expected = self.ref.delete_notes(ids, actor)
        found = self.compare(real, expected)
        if found is None:
            return
        assert isinstance(expected, Ok)
        self.check_events(expected.events)
        for n in found if isinstance(found, list) else [found]:
            self.assert_note(n)

    def list_notes(self, data: st.DataObject) -> None:
        actor = self.pick_actor(data)
        threads = [*self.ref.threads, "no-such-thread"]
        notes = [n.id for n in self.ref.all_notes()] or ["no-such-note"]
        thread_ids = data.draw(st.none() | st.lists(st.sampled_from(threads), min_size=1))
        note_ids = data.draw(st.none() | st.lists(st.sampled_from(notes), min_size=1))
        scope = self.draw_scope(data)
        per_page = data.draw(st.integers(1, 4))
        flt = NoteFilter(
            thread_ids=thread_ids,
            note_ids=note_ids,
            owner_extension_ids=scope.owner_ids,
            availability=scope.availability,
        )
        expected = self.ref.list_record_ids("notes", actor, scope, thread_ids, note_ids)
        walked = self.walk_read(data, self.real.list_notes, flt, actor, expected, per_page)
        for n in walked:
            self.assert_note(n)
