"""The domain: aggregates, pure transitions, events and errors. It imports nothing of storage."""
