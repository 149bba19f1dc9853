"""Test tools shipped for integrators (the ``testing`` extra: hypothesis and pytest).

- :class:`InboxMachine` (:mod:`threadcore.testing.stateful`): the stateful machine that drives a
  real :class:`~threadcore.Inbox` and the reference :class:`Model` side by side; subclass it and
  override ``make_repository`` to run it on your adapter.
- :class:`Model` (:mod:`threadcore.testing.model`): the deliberately simple reference model.
- :class:`RepositoryContract` (:mod:`threadcore.testing.contract`): the shared contract suite
  every repository passes; subclass it with ``make_repository``.
"""

from threadcore.testing.contract import RepositoryContract
from threadcore.testing.model import Model
from threadcore.testing.stateful import InboxMachine

__all__ = ["InboxMachine", "Model", "RepositoryContract"]
