"""The architecture's promises: a storage-free domain, one source of time, a documented API."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import threadcore

PACKAGE = Path(threadcore.__file__).resolve().parent
DOMAIN_MODULES = ("model", "transitions", "events", "errors", "validation")
FORBIDDEN_PREFIXES = ("threadcore.adapters", "psycopg", "sqlite3", "_sqlite3")
FORBIDDEN_MODULES = ("threadcore.inbox", "threadcore.ports", "threadcore.clock", "sqlalchemy")

# Loads the domain modules in a fresh interpreter without running threadcore/__init__.py (which
# imports the whole public API, adapters included, by design): the parent package is a bare
# namespace pointing at the source, so only what the domain itself imports gets loaded.
_PROBE = """
import importlib, json, sys, types
package = types.ModuleType("threadcore")
package.__path__ = [sys.argv[1]]
sys.modules["threadcore"] = package
for name in sys.argv[2:]:
    importlib.import_module("threadcore.domain." + name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_by_domain() -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PACKAGE), *DOMAIN_MODULES],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_the_domain_imports_nothing_of_storage() -> None:
    modules = _loaded_by_domain()
    assert {f"threadcore.domain.{name}" for name in DOMAIN_MODULES} <= set(modules)
    offenders = [m for m in modules if m.startswith(FORBIDDEN_PREFIXES) or m in FORBIDDEN_MODULES]
    assert offenders == []


def test_the_domain_source_imports_only_the_domain_and_pure_libraries() -> None:
    allowed_roots = {
        "__future__",
        "attrs",
        "re",
        "collections",
        "datetime",
        "enum",
        "functools",
        "hashlib",  # a file's key is its SHA-256 (domain/attachments.py): no I/O
        "phonenumbers",
        "types",
        "typing",
        "urllib",  # urllib.parse only: a stored file's URL (domain/attachments.py)
        "warnings",  # a name deprecated for one release warns (Page.next_page_token, issue 23)
    }
    offenders = []
    for path in sorted((PACKAGE / "domain").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            for name in names:
                if name.startswith("threadcore.domain") or name.startswith("."):
                    continue
                if name.split(".")[0] not in allowed_roots:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


_TIME_READS = re.compile(
    r"datetime\.now\(|utcnow\(|time\.time\(|time\.time_ns\(|date\.today\(|datetime\.today\("
)


def test_time_is_read_only_in_the_clock_module() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "clock.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _TIME_READS.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []
    # The pattern does find the one legitimate read.
    assert _TIME_READS.search((PACKAGE / "clock.py").read_text())


def test_every_exported_name_exists_once() -> None:
    assert len(threadcore.__all__) == len(set(threadcore.__all__))
    missing = [name for name in threadcore.__all__ if not hasattr(threadcore, name)]
    assert missing == []
    assert isinstance(threadcore.__version__, str)


def _public_members(cls: type) -> list[tuple[str, object]]:
    members = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property | staticmethod | classmethod) or inspect.isfunction(value):
            members.append((name, value))
    return members


def test_every_public_class_and_function_has_a_docstring() -> None:
    undocumented = []
    for name in threadcore.__all__:
        obj = getattr(threadcore, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (obj.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj) and obj.__module__.startswith("threadcore"):
            for member, value in _public_members(obj):
                doc = (
                    value.__doc__
                    if not isinstance(value, staticmethod | classmethod)
                    else (value.__func__.__doc__)
                )
                if not (doc or "").strip():
                    undocumented.append(f"{name}.{member}")
    assert undocumented == []


def test_the_inbox_documents_every_public_method() -> None:
    methods = [name for name, _ in _public_members(threadcore.Inbox)]
    assert {"receive", "send", "assign", "resolve", "delete", "expire", "get", "messages"} <= set(
        methods
    )
    for name in methods:
        assert (getattr(threadcore.Inbox, name).__doc__ or "").strip(), name
