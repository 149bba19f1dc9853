"""The batch caches of a PostgreSQL unit of work: a layer over the shared SQL reads
(:class:`~threadcore.adapters._sql_reads.SQLReads`).

Outside a batch each read is the shared one, but for the thread the command's claim read with its
locks (:class:`~threadcore.ports.Claim`). Inside a batch (``PostgresRepository.batch()``), a read
answers from what the batch knows (what its pending writes wrote, what it read before) and
otherwise reads without sending the pending writes (none touched it: the batch's record says
so), and keeps what it read; the bulk reads (:class:`~threadcore.ports.Prefetch`) fill the record
for many pairs or carrier ids at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from threadcore.adapters._postgres_batch import LOOK_AROUND, UNKNOWN, Batch, pair_of
from threadcore.adapters._sql import OPEN, unstorable
from threadcore.adapters._sql_reads import SQLReads
from threadcore.domain.model import Message, Thread
from threadcore.ports import Claim

__all__ = ["BatchCachedReads"]

R = TypeVar("R")


class BatchCachedReads(SQLReads):
    """The reads a command makes and the bulk reads, answered from the claim's read or the
    batch's record where they can be, else by the shared reads (and then kept)."""

    _batch: Batch | None  # the batch this unit of work is in, if any
    _claimed: Claim  # what the claim read (its thread: for the reads)
    _through: bool  # reading in a batch what no pending write touched: no flush

    def _read_through(self, read: Callable[[], R]) -> R:
        """In a batch, ``read`` without sending the pending writes first: for a read that no
        pending write touched (the batch's record says so)."""
        self._through = True
        try:
            return read()
        finally:
            self._through = False

    def thread(self, thread_id: str) -> Thread | None:
        claimed = self._claimed
        if claimed.subject == thread_id:
            return claimed.thread  # read by the claim, under its lock
        batch = self._batch
        if batch is not None:
            if thread_id in batch.threads:
                return batch.threads[thread_id]
            found = self._read_through(lambda: super(BatchCachedReads, self).thread(thread_id))
            batch.learn(found)
            return found
        return super().thread(thread_id)

    def message(self, message_id: str) -> Message | None:
        batch = self._batch
        if batch is None:
            return super().message(message_id)
        if message_id in batch.messages:
            return batch.messages[message_id]
        return self._read_through(lambda: super(BatchCachedReads, self).message(message_id))

    def message_by_provider_id(self, provider_message_id: str) -> Message | None:
        batch = self._batch
        if batch is None:
            return super().message_by_provider_id(provider_message_id)
        message_id = batch.provider_ids.get(provider_message_id)
        if message_id is not None:
            return batch.messages[message_id]
        if provider_message_id in batch.absent:
            return None
        found = self._read_through(
            lambda: super(BatchCachedReads, self).message_by_provider_id(provider_message_id)
        )
        return batch.learn_message(provider_message_id, found)

    def messages_by_provider_ids(self, provider_message_ids: Sequence[str]) -> list[Message]:
        batch = self._batch
        if batch is None:
            return super().messages_by_provider_ids(provider_message_ids)
        found: list[Message] = []
        unknown: list[str] = []
        for wanted in dict.fromkeys(provider_message_ids):
            message_id = batch.provider_ids.get(wanted)
            if message_id is not None:
                found.append(batch.messages[message_id])
            elif wanted not in batch.absent:
                unknown.append(wanted)
        if unknown:
            stored = self._read_through(
                lambda: super(BatchCachedReads, self).messages_by_provider_ids(unknown)
            )
            by_carrier_id = {m.provider_message_id: m for m in stored}
            for wanted in unknown:
                known = batch.learn_message(wanted, by_carrier_id.get(wanted))
                if known is not None:
                    found.append(known)
        return found

    def opted_out(self, owner_number: str, guest_number: str) -> bool:
        batch = self._batch
        if batch is None:
            return super().opted_out(owner_number, guest_number)
        pair = (owner_number, guest_number)
        return pair in self.opted_out_pairs([pair])  # (kept by the batch, read once)

    def open_thread_for_pair(self, owner_number: str, guest_number: str) -> Thread | None:
        pair = (owner_number, guest_number)
        claimed = self._claimed
        if claimed.subject == pair:
            return claimed.thread  # read by the claim, under its lock
        batch = self._batch
        if batch is not None:
            self._look_around(batch, pair)
            known = batch.pairs.get(pair, UNKNOWN)
            if pair in batch.pairs and known != UNKNOWN:
                return None if known is None else batch.threads[known]
            if pair in batch.pairs:  # UNKNOWN: send what is pending, then ask the database
                batch.flush()
                del batch.pairs[pair]
            found = self._read_through(
                lambda: super(BatchCachedReads, self).open_thread_for_pair(*pair)
            )
            batch.learn(found, pair)
            return found
        return super().open_thread_for_pair(owner_number, guest_number)

    def _look_around(self, batch: Batch, pair: tuple[str, str]) -> None:
        """The second time a batch meets a pair it knows nothing of on one owner number, it
        reads that number's open threads at once (up to ``LOOK_AROUND``; without sending
        anything, and keeping only what no pending write touched): a bulk import's commands on
        one business number then read no pair each (their open thread, or that there is none,
        is known)."""
        owner = pair[0]
        if batch.knows(pair) or owner in batch.owners or unstorable(*pair):
            return  # (known, or this number was read: all of it, or too much to be all)
        if owner not in batch.missed:
            batch.missed.add(owner)  # the first: its own read is as cheap
            return
        found = self._read_through(
            lambda: self._threads_where(
                f"{OPEN} AND owner_number = %s", (owner, LOOK_AROUND + 1), "LIMIT %s"
            )
        )
        batch.learn_owner(owner, found[:LOOK_AROUND], len(found) <= LOOK_AROUND)
        batch.knows(pair)

    def open_threads_for_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Thread]:
        batch = self._batch
        if batch is None:
            return super().open_threads_for_pairs(pairs)
        found: list[Thread] = []
        unknown: list[tuple[str, str]] = []
        for pair in dict.fromkeys(pairs):
            if pair not in batch.pairs:
                unknown.append(pair)
            elif batch.pairs[pair] not in (None, UNKNOWN):  # (UNKNOWN: read with the pair)
                found.append(batch.threads[str(batch.pairs[pair])])
        if unknown:  # nothing pending touched them: as stored, and kept
            stored = self._read_through(
                lambda: super(BatchCachedReads, self).open_threads_for_pairs(unknown)
            )
            by_pair = {pair_of(thread): thread for thread in stored}
            for pair in unknown:
                batch.learn(by_pair.get(pair), pair)
            found += stored
        return found

    def opted_out_pairs(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        batch = self._batch
        if batch is None:
            return super().opted_out_pairs(pairs)
        unknown = [pair for pair in dict.fromkeys(pairs) if pair not in batch.opt_outs]
        if unknown:  # nothing pending wrote them: as stored, and kept
            out = self._read_through(lambda: super(BatchCachedReads, self).opted_out_pairs(unknown))
            for pair in unknown:
                batch.opt_outs[pair] = pair in out
        return {pair for pair in pairs if batch.opt_outs.get(pair)}
