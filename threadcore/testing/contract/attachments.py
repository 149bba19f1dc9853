"""The contract of files' bytes (issue 25, rule M8): stored in the unit of work of the message
or draft that carries them, or not at all; one copy per content, shared; gone, in the same
transaction, when no live message or draft names them any more; alike on every adapter."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import attrs
import pytest

from threadcore.domain import messaging
from threadcore.domain.attachments import Upload
from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import DeliveryStatus, Message, Thread
from threadcore.ports import AttachmentStore, AttachmentWrites, Repository, UnitOfWork
from threadcore.testing.contract._base import T0, ContractBase, _message, _thread

__all__ = ["AttachmentStoreContract"]

_PICTURE = Upload(bytes(range(256)) * 3 + b"\x00\x00", "image/png", "receipt.png")
_OTHER = Upload(b"another file", "text/plain", "notes.txt")


def _store(repo: Repository) -> AttachmentStore:
    assert isinstance(repo, AttachmentStore), "the repository keeps no attachments"
    return repo


def _files(uow: UnitOfWork) -> AttachmentWrites:
    assert isinstance(uow, AttachmentWrites), "the unit of work stores no files"
    return uow


def _carrying(mid: str, thread: Thread, *uploads: Upload, **fields: Any) -> Message:
    at = T0 + timedelta(seconds=1)
    return _message(mid, thread, at, attachments=tuple(u.url for u in uploads), **fields)


class AttachmentStoreContract(ContractBase):
    """:class:`~threadcore.ports.AttachmentWrites` and :class:`~threadcore.ports.AttachmentStore`:
    the bytes of the files messages and drafts carry (rule M8)."""

    def _stored_thread(self, repo: Repository) -> Thread:
        """A thread stored with its first (inbound) message, for the files to ride on."""
        thread, first = _thread("t1", "+16502240001", T0)
        self.store(repo, (thread, first))
        return thread

    def _with_files(
        self, repo: Repository, *messages: Message, uploads: tuple[Upload, ...] = ()
    ) -> None:
        with repo.unit_of_work() as uow:
            for upload in uploads:
                assert _files(uow).add_attachment(upload.content) == upload.key
            for message in messages:
                uow.add_message(message)

    def _delete(self, repo: Repository, message: Message) -> None:
        with repo.unit_of_work() as uow:
            stored = uow.message(message.id)
            assert stored is not None
            uow.save_message(messaging.tombstone(stored, T0 + timedelta(seconds=9)), stored.version)

    def test_m8_bytes_come_back_by_key_with_the_message_that_carries_them(
        self, repo: Repository
    ) -> None:
        thread = self._stored_thread(repo)
        store = _store(repo)
        assert store.attachment(_PICTURE.key) is None
        self._with_files(repo, _carrying("m2", thread, _PICTURE), uploads=(_PICTURE,))
        assert store.attachment(_PICTURE.key) == _PICTURE.content
        assert store.attachment("0" * 64) is None

    def test_m8_a_large_file_round_trips(self, repo: Repository) -> None:
        thread = self._stored_thread(repo)
        large = Upload(hashlib.sha256(b"seed").digest() * (2 * 1024 * 1024 // 32))
        self._with_files(repo, _carrying("m2", thread, large), uploads=(large,))
        assert _store(repo).attachment(large.key) == large.content

    def test_m8_bytes_no_message_carries_are_not_kept(self, repo: Repository) -> None:
        thread = self._stored_thread(repo)
        self._with_files(repo, _carrying("m2", thread, _PICTURE), uploads=(_PICTURE, _OTHER))
        assert _store(repo).attachment(_PICTURE.key) == _PICTURE.content
        assert _store(repo).attachment(_OTHER.key) is None  # carried by nothing written

    def test_m8_a_unit_of_work_that_fails_stores_no_bytes(self, repo: Repository) -> None:
        thread = self._stored_thread(repo)
        with pytest.raises(RuntimeError), repo.unit_of_work() as uow:
            _files(uow).add_attachment(_PICTURE.content)
            uow.add_message(_carrying("m2", thread, _PICTURE))
            raise RuntimeError("refused")
        assert _store(repo).attachment(_PICTURE.key) is None

    def test_m8_a_deleted_message_takes_its_bytes_once_no_other_carries_them(
        self, repo: Repository
    ) -> None:
        thread = self._stored_thread(repo)
        one = _carrying("m2", thread, _PICTURE, _PICTURE)  # one file twice: one message
        two = _carrying("m3", thread, _PICTURE, _OTHER)
        self._with_files(repo, one, uploads=(_PICTURE,))
        self._with_files(repo, two, uploads=(_PICTURE, _OTHER))  # the same file, stored once
        self._delete(repo, one)
        assert _store(repo).attachment(_PICTURE.key) == _PICTURE.content  # m3 carries it
        self._delete(repo, two)
        assert _store(repo).attachment(_PICTURE.key) is None
        assert _store(repo).attachment(_OTHER.key) is None

    def test_m8_a_deleted_thread_takes_the_bytes_only_it_carried(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        other, second = _thread("t2", "+16502240002", T0)
        self.store(repo, (thread, first), (other, second))
        self._with_files(
            repo,
            _carrying("m2", thread, _PICTURE, _OTHER),
            _carrying("d1", thread, _OTHER, status=DeliveryStatus.DRAFT),
            _carrying("m3", other, _PICTURE),
            uploads=(_PICTURE, _OTHER),
        )
        with repo.unit_of_work() as uow:
            uow.tombstone_messages("t1", T0 + timedelta(seconds=9))
        assert _store(repo).attachment(_OTHER.key) is None  # its message and draft are gone
        assert _store(repo).attachment(_PICTURE.key) == _PICTURE.content  # t2 carries it
        with repo.unit_of_work() as uow:
            uow.tombstone_messages("t2", T0 + timedelta(seconds=9))
        assert _store(repo).attachment(_PICTURE.key) is None

    def test_m8_a_draft_keeps_its_bytes_until_edited_away_and_sending_keeps_them(
        self, repo: Repository
    ) -> None:
        thread = self._stored_thread(repo)
        draft = _carrying("d1", thread, _PICTURE, _OTHER, status=DeliveryStatus.DRAFT)
        self._with_files(repo, draft, uploads=(_PICTURE, _OTHER))
        edited = attrs.evolve(draft, attachments=(_PICTURE.url,), version=2)
        with repo.unit_of_work() as uow:
            uow.save_message(edited, 1)
        assert _store(repo).attachment(_OTHER.key) is None
        sent = attrs.evolve(
            draft, id="m2", status=DeliveryStatus.QUEUED, attachments=(_PICTURE.url,)
        )
        with repo.unit_of_work() as uow:  # sending: a new message, the draft a tombstone
            uow.add_message(sent)
            uow.save_message(messaging.tombstone(edited, T0 + timedelta(seconds=5)), 2)
        assert _store(repo).attachment(_PICTURE.key) == _PICTURE.content

    def test_m8_a_batch_keeps_what_its_messages_carry_at_its_end(self, repo: Repository) -> None:
        thread, first = _thread("t1", "+16502240001", T0)
        other, second = _thread("t2", "+16502240002", T0)
        self.store(repo, (thread, first), (other, second))
        with repo.batch():
            self._with_files(repo, _carrying("m2", thread, _PICTURE), uploads=(_PICTURE,))
            self._with_files(repo, _carrying("m3", other, _OTHER), uploads=(_OTHER,))
            with repo.unit_of_work() as uow:
                uow.tombstone_messages("t2", T0 + timedelta(seconds=9))
        assert _store(repo).attachment(_PICTURE.key) == _PICTURE.content
        assert _store(repo).attachment(_OTHER.key) is None

    @pytest.mark.parametrize("key", ["", "k" * 129, "../etc/passwd", "caf\u00e9", None])
    def test_bad_keys_are_refused_alike(self, repo: Repository, key: object) -> None:
        with pytest.raises(InvalidInput) as refused:
            _store(repo).attachment(key)  # type: ignore[arg-type]
        assert refused.value.parameter == "key"

    @pytest.mark.parametrize("content", ["text, not bytes", bytearray(b"x"), None])
    def test_content_that_is_not_bytes_is_refused_alike(
        self, repo: Repository, content: object
    ) -> None:
        with pytest.raises(InvalidInput) as refused, repo.unit_of_work() as uow:
            _files(uow).add_attachment(content)  # type: ignore[arg-type]
        assert refused.value.parameter == "content"
