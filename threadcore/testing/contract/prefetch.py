"""The contract of the ``Prefetch`` capability: one read for many, as a bulk import looks ahead."""

from __future__ import annotations

from threadcore.domain import transitions as tx
from threadcore.domain.model import StatusReason
from threadcore.ports import Repository
from threadcore.testing.contract._base import Q1, Q2, RESOURCES, T0, ContractBase, _thread, prefetch


class PrefetchContract(ContractBase):
    """:class:`~threadcore.ports.Prefetch`: open threads, opt-outs and messages by carrier id of
    many pairs or ids at once (more than one statement takes), as the single reads answer."""

    def test_open_threads_for_pairs_reads_many_pairs_at_once(self, repo: Repository) -> None:
        a, ma = _thread("a", "+16502240001", T0)
        b, mb = _thread("b", "+16502240002", T0)
        c, mc = _thread("c", "+16502240003", T0, owner=Q2)
        self.store(repo, (a, ma), (b, mb), (c, mc))
        with repo.unit_of_work() as uow:
            resolved, _ = tx.resolve(b, StatusReason.MANUAL, "101", T0)
            uow.save_thread(resolved, b.version)
        own, other = RESOURCES[Q1].phone_numbers[0], RESOURCES[Q2].phone_numbers[0]
        pairs = [
            (own, "+16502240001"),  # open
            (own, "+16502240002"),  # resolved: none open
            (other, "+16502240003"),  # open, another resource
            ("+16502240001", own),  # the pair is ordered
            (own, "+16502240009"),  # never seen
            (own, "+16502240001"),  # again
            (own, "bad\x00number"),
        ]
        many = 1000  # more pairs than one statement takes
        pairs += [(own, f"+1650300{n:04d}") for n in range(many)]
        with repo.unit_of_work() as uow:
            found = prefetch(uow).open_threads_for_pairs(pairs)
            assert sorted(t.id for t in found) == ["a", "c"]
            assert prefetch(uow).open_threads_for_pairs([]) == []
            assert [
                t.id for t in prefetch(uow).open_threads_for_pairs(pairs[-many:] + pairs[:1])
            ] == ["a"]

    def test_opted_out_pairs_reads_many_pairs_at_once(self, repo: Repository) -> None:
        owner, guest, other = "+12092480001", "+16502240001", "+16502240002"
        with repo.unit_of_work() as uow:
            uow.set_opted_out(owner, guest, True)
            uow.set_opted_out(owner, other, True)
        with repo.unit_of_work() as uow:
            uow.set_opted_out(owner, guest, False)
        with repo.unit_of_work() as uow:
            pairs = [
                (owner, guest),
                (owner, other),
                (other, owner),
                (owner, other),
                (owner, "\x00"),
            ]
            assert prefetch(uow).opted_out_pairs(pairs) == {(owner, other)}
            assert prefetch(uow).opted_out_pairs([]) == set()
            many = [(owner, f"+1650300{n:04d}") for n in range(1000)]  # several statements
            assert prefetch(uow).opted_out_pairs([*many, (owner, other)]) == {(owner, other)}

    def test_messages_by_provider_ids_reads_many_ids_at_once(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        later = self.send_later(repo, thread, 3)
        with repo.unit_of_work() as uow:
            many = prefetch(uow).messages_by_provider_ids(["p4", "nope", "p3", "p4", "bad\x00id"])
            assert sorted(many, key=lambda m: m.id) == [later[1], later[2]]
            assert prefetch(uow).messages_by_provider_ids([]) == []
            lots = [f"x-{n}" for n in range(1000)] + ["p2"]  # several statements
            assert prefetch(uow).messages_by_provider_ids(lots) == [later[0]]
