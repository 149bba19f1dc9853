"""The README's example runs as written (executed docs cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import threadcore
from threadcore.__main__ import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has a Python example"
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


def test_demo_runs(capsys: object) -> None:
    assert main(["demo"]) == 0
