"""The stateful property test against the in-memory repository.

Example counts come from the hypothesis profile: ``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``)
runs 1,000 examples of up to 50 steps; the default ``dev`` profile runs fewer for local speed.
"""

from __future__ import annotations

from threadcore.testing.stateful import InboxMachine

TestInboxInMemory = InboxMachine.TestCase
