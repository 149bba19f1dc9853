"""Every record and enum of a shared inbox, as the facade answers them: threads, messages, notes,
entries, the directory's resources and handlers, and their enums (the list is kept once, in
:mod:`threadcore.domain.model`).

The ones most callers name are at the top level too (``from threadcore import Thread``); the
parts of a record one reads but rarely names (``Party``, ``OwnerResource``, ``ThreadUser``,
``Classification``, ``Availability``, ``Keyword``, ``MessageSource``) live here only:

    from threadcore.model import Availability, MessageSource
"""

from threadcore.domain.model import *  # noqa: F403 (the list is kept once, in the domain)
from threadcore.domain.model import __all__ as __all__
