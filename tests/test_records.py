"""The hot path's record makers build exactly what the attrs constructors build."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadcore._port_records import Claim, make_claim
from threadcore.domain.events import (
    MessageAdded,
    ThreadOpened,
    make_message_added,
    make_thread_opened,
)
from threadcore.domain.model import Message, Thread, make_message, make_thread
from threadcore.domain.records import record_maker
from threadcore.inbox import commands

MAKERS: list[tuple[type[Any], Any]] = [
    (Message, make_message),
    (Thread, make_thread),
    (MessageAdded, make_message_added),
    (ThreadOpened, make_thread_opened),
    (commands.Receive, commands.make_receive),
    (commands.Send, commands.make_send),
    (commands.SendOnThread, commands.make_send_on_thread),
    (commands.Assign, commands.make_assign),
    (commands.Resolve, commands.make_resolve),
    (Claim, make_claim),
]
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.datetimes())


@pytest.mark.parametrize(("cls", "maker"), MAKERS, ids=lambda x: getattr(x, "__name__", ""))
@given(data=st.data())
def test_a_maker_builds_what_the_constructor_builds(cls: type[Any], maker: Any, data: Any) -> None:
    args = data.draw(st.tuples(*[values for _ in attrs.fields(cls)]))
    made, built = maker(*args), cls(*args)
    assert type(made) is cls
    assert made == built
    assert hash(made) == hash(built)
    assert repr(made) == repr(built)
    assert attrs.astuple(made, recurse=False) == args


@pytest.mark.parametrize(("cls", "maker"), MAKERS, ids=lambda x: getattr(x, "__name__", ""))
def test_a_made_record_is_frozen(cls: type[Any], maker: Any) -> None:
    made = maker(*range(len(attrs.fields(cls))))
    name = attrs.fields(cls)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(made, name, "changed")
    assert attrs.evolve(made, **{name: "changed"}) == cls(
        "changed", *range(1, len(attrs.fields(cls)))
    )


def test_a_maker_refuses_a_class_whose_checks_it_would_skip() -> None:
    @attrs.frozen(weakref_slot=False)
    class Checked:
        a: int = attrs.field(validator=attrs.validators.instance_of(int))

    with pytest.raises(TypeError, match="validators"):
        record_maker(Checked)

    @attrs.frozen(weakref_slot=False)
    class Hidden:
        a: int
        b: int = attrs.field(init=False, default=0)

    with pytest.raises(TypeError, match="init=False"):
        record_maker(Hidden)

    @attrs.frozen(weakref_slot=False)
    class Hooked:
        a: int

        def __attrs_post_init__(self) -> None:
            raise AssertionError("a maker would skip this check")

    with pytest.raises(TypeError, match="post-init"):
        record_maker(Hooked)

    @attrs.frozen(weakref_slot=False)
    class Clashing:
        _maker_cls: int

    with pytest.raises(TypeError, match="reserved"):
        record_maker(Clashing)

    @attrs.frozen
    class WithWeakref:
        a: int

    with pytest.raises(TypeError, match="weakref"):
        record_maker(WithWeakref)

    @attrs.frozen(weakref_slot=False)
    class Base:
        a: int

    @attrs.frozen(weakref_slot=False)
    class Derived(Base):
        b: int

    with pytest.raises(TypeError, match="bases"):
        record_maker(Derived)
    with pytest.raises(attrs.exceptions.NotAnAttrsClassError):
        record_maker(int)


def test_a_maker_refuses_to_guess_a_factory_default() -> None:
    """A maker has its record's signature and plain defaults; a field whose default is a factory
    (a message's status) must be passed, or the call is refused instead of guessed."""
    from datetime import UTC, datetime

    from threadcore.domain.model import Direction, make_message, make_thread

    at = datetime(2026, 2, 17, tzinfo=UTC)
    with pytest.raises(TypeError, match="needs status"):
        make_message(
            "m", "t", Direction.INBOUND, "Hi", "+16502240001", "+12092480001", None, at, at
        )
    assert make_thread.__name__ == "make_Thread"
