"""The domain: aggregates, pure transitions, events and errors. It imports nothing of storage."""

__all__: list[str] = []
