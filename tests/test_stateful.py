"""The stateful property test against the in-memory repository: with the machine's in-memory
``Directory``, and with the directory stored in the repository (``StoredDirectory``).

Example counts come from the hypothesis profile: ``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``)
runs 1,000 examples of up to 50 steps; the default ``dev`` profile runs fewer for local speed.
The stored-directory machine runs a third of them (the rules are the same; what differs is where
the directory lives and how each command reads it).
"""

from __future__ import annotations

from hypothesis import settings

from threadcore.testing.stateful import InboxMachine

TestInboxInMemory = InboxMachine.TestCase


class StoredDirectoryMachine(InboxMachine):
    stored_directory = True


TestInboxStoredDirectory = StoredDirectoryMachine.TestCase
TestInboxStoredDirectory.settings = settings(
    TestInboxStoredDirectory.settings,
    max_examples=max(TestInboxStoredDirectory.settings.max_examples // 3, 30),
)
