"""Adapters for the ports: one module per adapter."""

__all__: list[str] = []
