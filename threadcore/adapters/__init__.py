"""Adapters for the ports: one module per adapter."""
