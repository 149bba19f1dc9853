"""SQLite under SIGKILL: every acknowledged command survives, nothing is half-applied, and the
stream resumes idempotently (provider message ids)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from threadcore import SQLiteRepository, ThreadStatus
from threadcore.model import Availability

WRITER = Path(__file__).with_name("sqlite_writer.py")
COUNT = 3000


def _writer(path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(WRITER.parent.parent)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(COUNT)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _check_consistent(repo: SQLiteRepository) -> dict[str, str]:
    """Every stored message has its thread and its event; one open thread per pair."""
    with repo.unit_of_work() as uow:
        rows = uow._all(  # type: ignore[attr-defined]
            "SELECT provider_message_id, thread_id FROM messages"
        )
        by_pid = dict(rows)
        assert len(by_pid) == len(rows), "a provider message id was stored twice"
        open_pairs: Counter[tuple[str, str]] = Counter()
        for tid in set(by_pid.values()):
            thread = uow.thread(tid)
            assert thread is not None, "a message without its thread"
            assert len(uow.messages(tid)) >= 1
            if thread.status is ThreadStatus.OPEN and thread.availability is Availability.ALIVE:
                open_pairs[(thread.owner_party.phone_number, thread.guest_party.phone_number)] += 1
        assert all(n == 1 for n in open_pairs.values())
    added = [e for _, e in repo.events(limit=10**9) if type(e).__name__ == "MessageAdded"]
    assert len(added) == len(rows), "events and messages disagree: a half-applied command"
    return by_pid


def test_a_killed_writer_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    writer = _writer(path)
    assert writer.stdout is not None
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 700:
            os.kill(writer.pid, signal.SIGKILL)
            break
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    acknowledged += [line.strip() for line in writer.stdout]  # printed before the kill landed

    repo = SQLiteRepository(path)
    stored = _check_consistent(repo)
    assert set(acknowledged) <= set(stored), "an acknowledged command was lost"
    assert len(stored) < COUNT, "the writer was not stopped mid-stream"
    repo.close()

    # resume the whole stream from the start: replays change nothing, the rest is added once
    resumed = _writer(path)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0
    assert len(out.split()) == COUNT
    repo = SQLiteRepository(path)
    final = _check_consistent(repo)
    assert sorted(final) == sorted(f"p{i}" for i in range(COUNT))
    assert all(final[pid] == tid for pid, tid in stored.items()), "a replay moved a message"
    repo.close()
