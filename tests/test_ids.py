"""The default id generator: RFC 9562 UUIDs (version 4), unique across threads and forked
processes, none telling anything usable of another, sorted in the order made (issue 12, item 10)."""

from __future__ import annotations

import itertools
import multiprocessing
import re
import threading
import uuid

from threadcore.ids import RandomIds, SequentialIds

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_ids_are_version_4_uuids_and_unique() -> None:
    generators = [RandomIds() for _ in range(20)]
    ids = [g.new_id() for g in generators for _ in range(600)]  # past a pool's 256
    for text in ids:
        assert UUID_SHAPE.fullmatch(text)
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert len(set(ids)) == len(ids)


def _random_bits(u: int) -> int:
    """The 122 random bits of a version 4 UUID, in order (without version and variant)."""
    return ((u >> 80) << 74) | (((u >> 64) & 0xFFF) << 62) | (u & ((1 << 62) - 1))


def test_an_id_tells_nothing_of_the_next_yet_ids_sort_in_the_order_made() -> None:
    ids = RandomIds()
    texts = [ids.new_id() for _ in range(2000)]
    assert texts == sorted(texts)  # records made in one instant list in the order made
    values = [_random_bits(uuid.UUID(t).int) for t in texts]
    steps = [b - a for a, b in itertools.pairwise(values)]
    assert len(set(steps)) == len(steps)  # no fixed step (a counter would give one)
    # each step is a fresh random 64-bit number: on average about 2**63, the low bits even
    assert 2**62 < sum(steps) / len(steps) < 2**64
    assert 0.4 < sum(step & 1 for step in steps) / len(steps) < 0.6


def test_threads_sharing_a_generator_never_get_the_same_id() -> None:
    ids = RandomIds()
    found: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        for _ in range(3000):
            into.append(ids.new_id())

    workers = [threading.Thread(target=draw, args=(into,)) for into in found]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    every = [i for into in found for i in into]
    assert len(set(every)) == len(every) == 24000


def _child(ids: RandomIds, queue: multiprocessing.Queue[str]) -> None:
    queue.put(ids.new_id())


def test_a_forked_child_draws_new_ids() -> None:
    ids = RandomIds()
    ids.new_id()  # the child must not continue the parent's sequence
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    process = context.Process(target=_child, args=(ids, queue))
    process.start()
    child = queue.get(timeout=30)
    process.join(30)
    assert UUID_SHAPE.fullmatch(child)
    parents_next = ids.new_id()
    assert child != parents_next
    assert abs(uuid.UUID(child).int - uuid.UUID(parents_next).int) > 2**100


def test_sequential_ids_sort_as_text_unless_padded() -> None:
    plain = SequentialIds("t")
    made = [plain.new_id() for _ in range(10)]
    assert made[0] == "t-1"
    assert made[-1] == "t-10"
    assert sorted(made) != made  # "t-10" sorts before "t-2"
    padded = SequentialIds("t", width=3)
    made = [padded.new_id() for _ in range(12)]
    assert made[0] == "t-001"
    assert sorted(made) == made
