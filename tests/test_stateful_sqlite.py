"""The stateful machine against the SQLite repository, with a step that reopens the file, and its
directory stored in the file (``StoredDirectory``: the in-memory ``Directory`` is the memory
machine's; where the directory lives does not depend on the repository)."""

from __future__ import annotations

import os
import tempfile

from hypothesis import settings
from hypothesis.stateful import rule

from threadcore.adapters.sqlite import SQLiteRepository
from threadcore.ports import Repository
from threadcore.testing.stateful import InboxMachine


class SQLiteMachine(InboxMachine):
    stored_directory = True

    def make_repository(self) -> Repository:
        self._dir = tempfile.TemporaryDirectory()
        self._path = os.path.join(self._dir.name, "threads.db")
        return SQLiteRepository(self._path)

    @rule()
    def reopen(self) -> None:
        """Close the file and open it again: nothing acknowledged may be lost."""
        assert isinstance(self.repository, SQLiteRepository)
        self.repository.close()
        self.repository = SQLiteRepository(self._path)
        if self.inbox is not None:
            self.inbox = self.make_inbox(self.inbox.policy)

    def teardown(self) -> None:
        assert isinstance(self.repository, SQLiteRepository)
        self.repository.close()
        self._dir.cleanup()


TestInboxSQLite = SQLiteMachine.TestCase
TestInboxSQLite.settings = settings(
    TestInboxSQLite.settings,
    max_examples=max(TestInboxSQLite.settings.max_examples // 5, 30),
)
