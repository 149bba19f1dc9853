"""The command handlers, one function per command (:mod:`threadcore.inbox.commands`), by area.

Each is ``handler(command, ctx) -> result``: it loads through the context's unit of work, asks
the domain (:mod:`threadcore.domain`) to decide, saves what was decided and appends the events
to ``ctx.events``. It never retries, reads the clock or publishes: the runner
(:mod:`threadcore.inbox._runner`) does that around every handler.
"""

__all__ = ["directory", "drafts", "messages", "notes", "threads"]
