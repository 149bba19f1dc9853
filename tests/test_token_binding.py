"""Tokens are bound to the store that issued them (issue 12, item 8; rule S4): a token from
another store, a restarted memory store or a database restored from a backup is refused, and
the client does a full sync (or starts its walk again) instead of silently missing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import GUEST, GUEST2, OWNER, START, billing_directory

from threadcore import (
    EntryScope,
    Inbox,
    InMemoryRepository,
    ManualClock,
    SQLiteRepository,
    SyncType,
)
from threadcore.errors import InvalidPageToken, InvalidSyncToken

SECRET = b"0123456789abcdef0123456789abcdef"


def _inbox(repo: object) -> Inbox:
    return Inbox(
        repository=repo,  # type: ignore[arg-type]
        directory=billing_directory(),
        clock=ManualClock(START),
        token_secret=SECRET,
    )


def _tokens(inbox: Inbox) -> tuple[str, str, str]:
    """A thread sync token, an entries sync token and a page token."""
    for guest in (GUEST, GUEST2):
        inbox.receive(owner_number=OWNER, guest_number=guest, body="hello")
    page = inbox.list(actor="101", limit=1).next_cursor
    assert page is not None
    return (
        inbox.sync(actor="101").sync_token,
        inbox.sync_entries(actor="101", scope=EntryScope.ACCESSIBLE).sync_token,
        page,
    )


def _refused(inbox: Inbox, tokens: tuple[str, str, str], reason: str) -> None:
    threads, entries, page = tokens
    with pytest.raises(InvalidSyncToken, match=reason):
        inbox.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=threads)
    with pytest.raises(InvalidSyncToken, match=reason):
        inbox.sync_entries(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=entries)
    if reason != "behind":  # a page token carries no position: only the store's id binds it
        with pytest.raises(InvalidPageToken):
            inbox.list(actor="101", limit=1, cursor=page)


def test_a_token_of_a_restarted_memory_store_is_refused() -> None:
    tokens = _tokens(_inbox(InMemoryRepository()))
    _refused(_inbox(InMemoryRepository()), tokens, "another database")


def test_a_token_of_another_database_is_refused(tmp_path: Path) -> None:
    tokens = _tokens(_inbox(SQLiteRepository(tmp_path / "a.db")))
    other = SQLiteRepository(tmp_path / "b.db")
    _refused(_inbox(other), tokens, "another database")
    other.close()


def test_a_token_issued_after_the_backup_is_refused_by_the_restored_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.db"
    repo = SQLiteRepository(path)
    inbox = _inbox(repo)
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="before the backup")
    repo.close()
    shutil.copy(path, tmp_path / "backup.db")
    repo = SQLiteRepository(path)
    tokens = _tokens(_inbox(repo))  # changes the backup does not hold
    repo.close()
    shutil.copy(tmp_path / "backup.db", path)  # the restore
    restored = SQLiteRepository(path)
    _refused(_inbox(restored), tokens, "behind")
    assert _inbox(restored).sync(actor="101").records  # a full sync works
    restored.close()


def test_a_token_is_accepted_only_in_the_text_it_was_issued_in() -> None:
    """The last base64 character of each part carries bits the bytes do not use: a text changed
    there alone decodes to the same bytes and the same signature, and is still refused
    (``test_message_list``'s tampering of the last two characters passed about once in 256 runs
    before)."""
    inbox = _inbox(InMemoryRepository())
    *_, page = _tokens(inbox)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    body, _, mac = page.partition(".")
    unused = {2: 4, 3: 2}[len(mac) % 4]  # the last character's unused bits (1 or 2 bytes left)
    last = alphabet.index(mac[-1])
    twins = [c for i, c in enumerate(alphabet) if i >> unused == last >> unused and i != last]
    assert twins, "the signature's text has no unused bits to change"
    for twin in twins:
        tampered = f"{body}.{mac[:-1]}{twin}"
        with pytest.raises(InvalidPageToken, match="malformed"):
            inbox.list(actor="101", limit=1, cursor=tampered)
    assert len(inbox.list(actor="101", limit=1, cursor=page)) == 1  # the issued text still works
