"""The 1.0 public surface (issue 13): a small curated namespace, the rest in named homes, and the
names that moved still working for one release with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import inspect
import warnings

import pytest

import threadcore
from threadcore import errors, events, storage, testing


def test_the_namespace_is_the_users_api_and_every_name_resolves() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in threadcore.__all__:
            assert getattr(threadcore, name) is not None, name
    assert len(threadcore.__all__) < 50
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
    """An error and an event may share a name only in their own homes: the top level has one
    of each name, and nothing there is both an error and an event."""
    assert errors.ThreadDeleted is not events.ThreadDeleted
    assert issubclass(errors.ThreadDeleted, threadcore.ThreadcoreError)
    assert not issubclass(events.ThreadDeleted, BaseException)
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
