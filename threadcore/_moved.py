"""Names that moved or were renamed in 1.0: they keep working for one release, each with a
``DeprecationWarning`` that names where it lives now. One mechanism for every namespace that
kept an old name (``threadcore``, ``threadcore.errors``)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["deprecated_names"]


def deprecated_names(
    namespace: str, moved: Mapping[str, tuple[str, str]], *, depth: int = 0
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``namespace`` that answers each old name in
    ``moved`` (``{old: (module, new_name)}``) from its new home, with a ``DeprecationWarning``,
    and refuses any other name with an ``AttributeError``. ``depth``: how many frames of the
    namespace's own stand between it and the caller (a module ``__getattr__`` that calls it), so
    that the warning names the caller's line, where Python's default filters show it."""

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        module, new_name = moved[name]
        how = "was renamed" if module == namespace else "moved to"
        warnings.warn(
            f"{namespace}.{name} {how} {module}.{new_name}; the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2 + depth,
        )
        return getattr(importlib.import_module(module), new_name)

    return __getattr__
