"""The stateful machine by area: its spine (``_base``), its rules for messages, threads, queries,
sync, drafts and notes, and its invariants; :class:`threadcore.testing.stateful.InboxMachine`
puts them together."""
