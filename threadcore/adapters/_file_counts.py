"""The in-memory repository's files (issue 25, rule M8): bytes by key (SHA-256) and the number of
live messages and drafts naming each, counted as the SQL adapters' triggers count them."""

from __future__ import annotations

from threadcore.domain.attachments import stored_keys

__all__ = ["FileCounts"]


class FileCounts:
    """Bytes by key, counted by the live messages naming them; a commit stores the files it
    carries (:meth:`store`), counts each message written (:meth:`count`), then drops what no
    live message names (:meth:`sweep`). The repository's lock serialises commits."""

    __slots__ = ("_bytes", "_refs", "_unnamed")

    def __init__(self) -> None:
        self._bytes: dict[str, bytes] = {}
        self._refs: dict[str, int] = {}
        self._unnamed: set[str] = set()  # keys whose count may have reached 0 in this commit

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or ``None``."""
        return self._bytes.get(key)

    def store(self, key: str, content: bytes) -> None:
        """Keep ``content`` (a key stored already keeps its bytes and count)."""
        if key not in self._bytes:
            self._bytes[key] = content
            self._refs[key] = 0
            self._unnamed.add(key)  # swept unless a message names it

    def count(self, urls: tuple[str, ...], step: int) -> None:
        """Count a live message's (``step`` 1) or a gone one's (-1) references; a URL naming
        bytes not stored counts nothing."""
        refs = self._refs
        for key in stored_keys(urls):
            if key in refs:
                refs[key] += step
                if step < 0:
                    self._unnamed.add(key)

    def sweep(self) -> None:
        """Drop the bytes no live message or draft names any more (rule M8)."""
        for key in self._unnamed:
            if self._refs.get(key, 1) <= 0:
                del self._refs[key], self._bytes[key]
        self._unnamed.clear()

    def abandon(self) -> None:
        """Forget what a commit that did not finish left to sweep."""
        self._unnamed.clear()
