"""The default id generator: UUID-shaped, unique, and fresh again in a forked child."""

from __future__ import annotations

import itertools
import multiprocessing
import re

from threadcore.ids import RandomIds

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_ids_are_uuid_shaped_and_unique() -> None:
    generators = [RandomIds() for _ in range(50)]
    ids = [g.new_id() for g in generators for _ in range(200)]
    assert all(UUID_SHAPE.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_counter_keeps_twelve_digits_up_to_its_last_id() -> None:
    ids = RandomIds()
    ids._counter = itertools.count((1 << 48) - 2)  # the last two 12-digit values
    assert [i[-12:] for i in (ids.new_id(), ids.new_id())] == ["fffffffffffe", "ffffffffffff"]


def _child(ids: RandomIds, queue: multiprocessing.Queue[str]) -> None:
    queue.put(ids.new_id())


def test_a_forked_child_draws_a_new_prefix() -> None:
    ids = RandomIds()
    parent = ids.new_id()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    process = context.Process(target=_child, args=(ids, queue))
    process.start()
    child = queue.get(timeout=30)
    process.join(30)
    assert UUID_SHAPE.fullmatch(child)
    assert child[:24] != parent[:24]
    assert ids.new_id()[:24] == parent[:24]  # the parent keeps its own
