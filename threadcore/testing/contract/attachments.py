"""The attachment store's contract: bytes kept by key, idempotently, alike on every adapter."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from threadcore.domain.errors import InvalidInput
from threadcore.ports import AttachmentStore, Repository
from threadcore.testing.contract._base import ContractBase

__all__ = ["AttachmentStoreContract"]


def _store(repo: Repository) -> AttachmentStore:
    assert isinstance(repo, AttachmentStore), "the repository keeps no attachments"
    return repo


class AttachmentStoreContract(ContractBase):
    """:class:`~threadcore.ports.AttachmentStore`: what ``threadcore.http`` stores of uploads."""

    def test_bytes_come_back_by_key_and_a_second_save_changes_nothing(
        self, repo: Repository
    ) -> None:
        store = _store(repo)
        every_byte = bytes(range(256)) * 3 + b"\x00\x00"
        key = hashlib.sha256(every_byte).hexdigest()
        assert store.attachment(key) is None
        store.save_attachment(key, every_byte)
        store.save_attachment(key, b"something else")  # a key names one content forever
        assert store.attachment(key) == every_byte
        assert store.attachment("0" * 64) is None

    def test_a_large_attachment_round_trips(self, repo: Repository) -> None:
        store = _store(repo)
        content = hashlib.sha256(b"seed").digest() * (2 * 1024 * 1024 // 32)
        store.save_attachment("large_one-1", content)
        assert store.attachment("large_one-1") == content

    @pytest.mark.parametrize(
        ("key", "content", "parameter"),
        [
            ("", b"x", "key"),
            ("k" * 129, b"x", "key"),
            ("../etc/passwd", b"x", "key"),
            ("caf\u00e9", b"x", "key"),
            (None, b"x", "key"),
            ("good", "text, not bytes", "content"),
            ("good", bytearray(b"x"), "content"),
        ],
    )
    def test_bad_keys_and_content_are_refused_alike(
        self, repo: Repository, key: Any, content: Any, parameter: str
    ) -> None:
        store = _store(repo)
        with pytest.raises(InvalidInput) as refused:
            store.save_attachment(key, content)
        assert refused.value.parameter == parameter
        assert store.attachment("good") is None
