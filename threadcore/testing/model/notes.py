"""The model's internal notes."""

from __future__ import annotations

from threadcore.testing.model._base import Err, MEvent, MNote, ModelBase, Ok, ev


class NoteModel(ModelBase):
    """Notes: add, edit, delete."""

    def plan_note(self, thread_id: str, actor: str) -> Err | None:
        t = self.open_for(thread_id, actor)
        return t if isinstance(t, Err) else None

    def add_note(self, note_id: str, thread_id: str, actor: str, text: str) -> Ok:
        assert self.now is not None
        assert self.find_note(note_id) is None, "the inbox reused a note id"
        n = MNote(note_id, thread_id, actor, text, self.now, self.now, tick=self.bump())
        self.threads[thread_id].notes.append(n)
        return Ok(n, (ev("NoteAdded", thread_id, note_id=n.id, initiator=actor, at=self.now),))

    def _note_for(self, note_id: str, actor: str) -> MNote | Err:
        """The note if ``actor`` may change it (its thread open, ``actor`` its author)."""
        n = self.find_note(note_id)
        if n is None or self.visible(n.thread_id, actor) is None:
            return Err("NoteNotFound")
        t = self.open_for(n.thread_id, actor)
        if isinstance(t, Err):
            return t
        if n.author != actor:
            return Err("NotAuthor")
        return n

    def edit_note(self, note_id: str, actor: str, text: str) -> Ok | Err:
        n = self._note_for(note_id, actor)
        if isinstance(n, Err):
            return n
        if not n.alive:
            return Err("NoteDeleted")
        if n.text == text:
            return Ok(n)
        assert self.now is not None
        n.text, n.modified, n.version, n.tick = text, self.now, n.version + 1, self.bump()
        return Ok(n, (ev("NoteEdited", n.thread_id, note_id=n.id, initiator=actor, at=self.now),))

    def delete_notes(self, note_ids: list[str], actor: str) -> Ok | Err:
        if not note_ids:
            return Err("InvalidInput")
        ids = list(dict.fromkeys(note_ids))
        for note_id in ids:  # the first id that fails, in the order given, decides the error
            refused = self._note_for(note_id, actor)
            if isinstance(refused, Err):
                return refused
        assert self.now is not None
        events: list[MEvent] = []
        found = []
        for note_id in ids:
            n = self.find_note(note_id)
            assert n is not None
            found.append(n)
            if n.alive:
                n.alive, n.text = False, ""
                n.modified, n.version, n.tick = self.now, n.version + 1, self.bump()
                events.append(ev("NoteDeleted", n.thread_id, note_id=n.id, initiator=actor,
                                 at=self.now))  # fmt: skip
        return Ok(found, tuple(events))
