"""The docs import as users now write imports (issue 23): every ``from threadcore... import``
in the README, the docs and their examples names a name its module exports today, not one kept
for a release behind a ``DeprecationWarning`` (``threadcore.SequentialIds`` moved to
``threadcore.ids``; ``threadcore.errors.ThreadDeleted`` is ``ThreadDeletedError``)."""

from __future__ import annotations

import importlib
import importlib.util
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "docs").rglob("*.py")])
#: ``from threadcore.x import a, b`` or ``from threadcore import (a, b,\n c)``, in a code block or
#: a code span (a span may end its list with an ellipsis).
_IMPORT = re.compile(r"from (threadcore(?:\.\w+)*) import (\([^)]*\)|[^\n`]*(?:\n[^\n`]*`)?)")


def _imports() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        for match in _IMPORT.finditer(page.read_text()):
            module, names = match[1], match[2]
            names = names.split("#")[0] if "\n" not in names else names
            for name in re.findall(r"\b([A-Za-z_]\w*)\b(?: as \w+)?", names):
                if name == "as":
                    continue
                found.append((page.relative_to(ROOT).as_posix(), module, name))
    return found


def test_the_docs_imports_are_found() -> None:
    found = _imports()
    assert ("docs/api.md", "threadcore.errors", "ThreadNotOpen") in found
    assert len({module for _, module, _ in found}) > 3


@pytest.mark.parametrize(("page", "module", "name"), sorted(set(_imports())))
def test_every_import_in_the_docs_names_what_its_module_exports(
    page: str, module: str, name: str
) -> None:
    imported = importlib.import_module(module)
    if hasattr(imported, "__path__") and importlib.util.find_spec(f"{module}.{name}"):
        return  # a module of the package (``from threadcore import wire``)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hasattr(imported, name), f"{page}: from {module} import {name}"
    assert name in imported.__all__, f"{page}: {module} does not export {name}"
