"""Test tools shipped for integrators: the reference model and the stateful machine.

Needs the ``testing`` extra (hypothesis). See :class:`threadcore.testing.stateful.InboxMachine`.
"""
