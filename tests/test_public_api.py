"""The 1.0 public surface (issue 13): a small curated namespace, the rest in named homes, and the
names that moved still working for one release with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import inspect
import tomllib
import warnings
from pathlib import Path

import pytest

import threadcore
from threadcore import errors, events, storage, testing


def test_the_namespace_is_the_users_api_and_every_name_resolves() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in threadcore.__all__:
            assert getattr(threadcore, name) is not None, name
    assert len(threadcore.__all__) <= 40
    assert "PostgresRepository" in threadcore.__all__
    for internal in ("TRANSITIONS", "Command", "Lifecycle", "UnitOfWork", "ThreadNotFound"):
        assert internal not in threadcore.__all__


@pytest.mark.parametrize("module", [errors, events, storage, testing])
def test_every_home_exports_what_it_names(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names, module
    for name in names:
        assert getattr(module, name) is not None, name


def test_no_name_means_two_things() -> None:
    """No error and event share a name (issue 23): the errors of a deleted thread or note are
    ``ThreadDeletedError`` and ``NoteDeletedError``, the events ``ThreadDeleted`` and
    ``NoteDeleted``; the top level has one of each name."""
    assert errors.ThreadDeletedError is not events.ThreadDeleted
    assert issubclass(errors.ThreadDeletedError, threadcore.ThreadcoreError)
    assert not issubclass(events.ThreadDeleted, BaseException)
    assert set(errors.__all__) & set(events.__all__) == set()
    assert len(set(threadcore.__all__)) == len(threadcore.__all__)


def test_every_error_lives_in_errors_under_one_root() -> None:
    found = [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert len(found) == len(errors.__all__)
    assert all(issubclass(error, errors.ThreadcoreError) for error in found)


@pytest.mark.parametrize("name", sorted(threadcore._MOVED))
def test_a_name_that_moved_still_works_with_a_deprecation_warning(name: str) -> None:
    module, new_name = threadcore._MOVED[name]
    with pytest.warns(DeprecationWarning, match=f"{module}.{new_name}"):
        old = getattr(threadcore, name)
    assert old is getattr(importlib.import_module(module), new_name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        threadcore.NoSuchThing  # noqa: B018


PACKAGE = Path(threadcore.__file__).resolve().parent
#: The parts of the test tools that their packages put together (``threadcore.testing`` and
#: ``threadcore.testing.contract`` / ``.model`` export what an integrator uses): private.
_PRIVATE_TESTING = (
    "threadcore.testing.machine",
    "threadcore.testing.contract.",
    "threadcore.testing.model.",
)


def _public_modules() -> list[str]:
    """Every module of threadcore whose own path has no part with a leading underscore."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        name = ".".join(parts)
        if name.startswith(_PRIVATE_TESTING):
            continue
        names.append(name)
    return names


def test_the_public_modules_are_found() -> None:
    found = _public_modules()
    for name in ("threadcore", "threadcore.errors", "threadcore.inbox.messages", "threadcore.wire"):
        assert name in found
    for name in ("threadcore.inbox._spine", "threadcore.http._send", "threadcore.__main__"):
        assert name not in found
    assert "threadcore.testing.machine.threads" not in found
    assert "threadcore.testing.strategies" in found


@pytest.mark.parametrize("name", _public_modules())
def test_every_public_module_declares_all_and_has_every_name_in_it(name: str) -> None:
    """Issue 23: ``__all__`` in every public module, each name in it defined (not a name kept
    for one release behind a ``DeprecationWarning``), none twice."""
    module = importlib.import_module(name)
    assert "__all__" in vars(module), f"{name} has no __all__"
    names = module.__all__
    assert isinstance(names, list | tuple)
    assert all(isinstance(each, str) for each in names)
    assert len(set(names)) == len(names), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        missing = [each for each in names if not hasattr(module, each)]
    assert missing == [], name


def test_no_error_and_event_share_a_name() -> None:
    """Issue 23: an error and an event never share a name, in their homes or anywhere in
    threadcore (the outbox stores an event by its class name, so the errors were renamed)."""
    event_names = {cls.__name__ for cls in events.EVENT_TYPES}
    error_names = {
        obj.__name__
        for name in [*_public_modules(), "threadcore.domain.errors"]
        for obj in vars(importlib.import_module(name)).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }
    assert error_names & event_names == set()
    assert set(errors.__all__) & set(events.__all__) == set()
    assert {"ThreadDeleted", "NoteDeleted"} <= event_names


@pytest.mark.parametrize(
    ("old", "new"), [("ThreadDeleted", "ThreadDeletedError"), ("NoteDeleted", "NoteDeletedError")]
)
def test_a_renamed_error_keeps_its_code_and_its_old_name_one_release(old: str, new: str) -> None:
    error = getattr(errors, new)
    assert new in errors.__all__
    assert old not in errors.__all__
    assert issubclass(error, errors.Conflict)
    assert (error.code, error.status) == (old, 410)
    with pytest.warns(DeprecationWarning, match=f"threadcore.errors.{new}"):
        assert getattr(errors, old) is error
    with pytest.warns(DeprecationWarning, match=f"threadcore.errors.{new}"):
        assert getattr(threadcore, old) is error


def test_the_version_is_1_0_0_in_pyproject_the_package_and_the_changelog() -> None:
    root = PACKAGE.parent
    with (root / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["version"]
    assert threadcore.__version__ == declared == "1.0.0"
    assert "\n## [1.0.0]" in (root / "CHANGELOG.md").read_text()


def test_a_moved_names_warning_points_at_the_callers_line() -> None:
    """Python shows a DeprecationWarning by default only where it names the caller's own code:
    the root's warning must name this line, not threadcore's ``__getattr__``."""
    with pytest.warns(DeprecationWarning, match="moved to threadcore.ids") as caught:
        assert threadcore.RandomIds is not None
    assert caught[0].filename == __file__
