"""The README's example runs as written (executed docs cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import threadcore
from threadcore.__main__ import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3, "the README has its Python examples"
    monkeypatch.chdir(tmp_path)  # the storage example writes threads.db
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    inbox = namespace["inbox"]
    assert isinstance(inbox, threadcore.Inbox)
    kinds = [type(e).__name__ for _, e in inbox.events()]
    assert kinds == [
        "ThreadOpened",
        "MessageAdded",
        "ThreadAssigned",
        "MessageAdded",
        "ThreadResolved",
        "ThreadDeleted",
    ]
    for block in blocks[1:]:
        exec(compile(block, str(README), "exec"), namespace)
    assert isinstance(namespace["repository"], threadcore.SQLiteRepository)
    assert (tmp_path / "threads.db").exists()
    with threadcore.open_inbox("sqlite:///shared.db") as shared:  # the directory was stored
        [billing] = shared.directory.resources()  # type: ignore[attr-defined]
        assert [h.extension_id for h in billing.handlers] == ["101"]
    assert namespace["full"].sync_type is threadcore.SyncType.FULL  # type: ignore[attr-defined]
    later = namespace["later"].records  # type: ignore[attr-defined]
    assert {e.record_type for e in later} >= {"AliveMessage"}  # the STOP, at least
    sent = [m for m in namespace["page"] if m.direction == "Outbound"]  # type: ignore[attr-defined]
    assert [m.status for m in sent] == ["Delivered", "Queued"]  # the sent draft is still queued


def test_demo_runs(capsys: object) -> None:
    assert main(["demo"]) == 0
