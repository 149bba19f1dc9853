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


# --- public seams only (issue 23) --------------------------------------------------------------

#: Packages whose modules may read the private names their own package defines: the facade's
#: areas share the spine, and an adapter's modules share its rows and buffers.
_OWN_PACKAGES = ("inbox", "adapters")
#: Private names of the standard library that it documents for use from outside: enum members'
#: ``_value_`` (the adapters read it, on their hot path, instead of the ``value`` property).
_STDLIB_PRIVATE = frozenset({"_value_"})


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_private_names(tree: ast.AST) -> set[str]:
    """The private names a module defines: its functions, methods and classes, what it
    assigns or annotates (``self._x = ...``, ``_x: int`` in a class body) and its slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            names |= {
                n.value
                for n in ast.walk(node.value)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
    return {name for name in names if _is_private(name)}


def _imported_modules(tree: ast.AST, modules: set[str]) -> set[str]:
    """The local names a module binds to modules (``from threadcore.wire import _sms as
    shapes``): ``shapes._X`` reads a module's private name, not an object's state."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {(a.asname or a.name).partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if f"{node.module}.{a.name}" in modules or not node.module.startswith("threadcore"):
                    bound.add(a.asname or a.name)
    return bound


def _module_names(root: Path) -> dict[str, Path]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def private_reads(root: Path) -> list[str]:
    """Every ``X._name`` (and ``getattr(X, "_name")``) in the package at ``root``, outside
    ``inbox/``, where ``X`` is not ``self``/``cls``/an imported module and ``_name`` is not
    defined by the module itself (or, in ``adapters/``, by the adapters' package)."""
    modules = _module_names(root)
    trees = {name: ast.parse(path.read_text()) for name, path in modules.items()}
    package_names: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = path.relative_to(root).parts[0]
        if package in _OWN_PACKAGES:
            package_names.setdefault(package, set()).update(_defined_private_names(trees[name]))
    found = []
    for name, path in modules.items():
        package = path.relative_to(root).parts[0]
        if package == "inbox":
            continue
        tree = trees[name]
        own = _defined_private_names(tree) | package_names.get(package, set())
        skip = {"self", "cls"} | _imported_modules(tree, set(modules))
        for node in ast.walk(tree):
            target: tuple[ast.expr, str] | None = None
            if isinstance(node, ast.Attribute):
                target = node.value, node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                target = node.args[0], node.args[1].value
            if target is None:
                continue
            value, attr = target
            if not _is_private(attr) or attr in own or attr in _STDLIB_PRIVATE:
                continue
            if isinstance(value, ast.Name) and value.id in skip:
                continue
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return sorted(found)


def test_nothing_outside_the_facade_reads_private_state() -> None:
    """http, cli, aio, replay and the console use the inbox's public seams
    (``threadcore/inbox/seams.py``), never ``inbox._repo`` or the like."""
    assert private_reads(PACKAGE) == []


def test_the_private_state_check_finds_a_private_read(tmp_path: Path) -> None:
    package = tmp_path / "threadcore"
    (package / "http").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "http" / "__init__.py").write_text(
        "class Served:\n"
        "    def __init__(self, inbox):\n"
        "        self._inbox = inbox\n"
        "    def ready(self, ainbox):\n"
        "        pool = getattr(self._inbox.repository, '_pool', None)\n"
        "        return pool, ainbox.inbox._clock, self._inbox, type(self).__name__\n"
    )
    assert sorted(line.partition(": ")[2] for line in private_reads(package)) == [
        "ainbox.inbox._clock",
        "getattr(self._inbox.repository, '_pool', None)",
    ]


def import_cycles(root: Path) -> list[list[str]]:
    """The import cycles among the modules of the package at ``root``: every ``import`` counts,
    at module level or inside a function (a deferred import is still a dependency)."""
    modules = _module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in modules:
                        graph[name].add(full)
                    elif base in modules:
                        graph[name].add(base)
    # Tarjan's strongly connected components: each with more than one module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1 or node in graph[node]:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles() -> None:
    assert import_cycles(PACKAGE) == []


def test_the_cycle_check_finds_a_deferred_cycle(tmp_path: Path) -> None:
    package = tmp_path / "threadcore"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text("")
    (package / "cli" / "app.py").write_text("from threadcore.cli import db\nHELP = 1\n")
    (package / "cli" / "db.py").write_text("def f():\n    from .app import HELP\n")
    (package / "cli" / "ok.py").write_text("import threadcore.cli.db\n")
    assert import_cycles(package) == [["threadcore.cli.app", "threadcore.cli.db"]]
