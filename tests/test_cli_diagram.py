"""The Mermaid diagram in docs/lifecycle.md is the one generated from TRANSITIONS."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadcore.cli.diagram import BEGIN, END, embed, embedded, mermaid
from threadcore.domain.transitions import TRANSITIONS, Command, Lifecycle
from threadcore.errors import ThreadNotOpen

DOC = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"


def test_the_documented_diagram_is_the_generated_one() -> None:
    assert embedded(DOC.read_text(encoding="utf-8")) == mermaid(), (
        "docs/lifecycle.md is out of date: run `threadcore diagram --write docs/lifecycle.md`"
    )


def test_the_diagram_follows_the_table() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n")
    assert "    Open --> Resolved: resolve, expire\n" in text
    assert "    Resolved --> Deleted: delete\n" in text
    assert "add_message, assign, resolve, expire" in text.split("note right of Resolved")[1]
    changed = dict(TRANSITIONS)
    changed[Lifecycle.RESOLVED, Command.ASSIGN] = Lifecycle.OPEN  # as if someone edited the table
    other = mermaid(changed)
    assert other != text
    assert "    Resolved --> Open: assign\n" in other
    changed[Lifecycle.OPEN, Command.RESOLVE] = ThreadNotOpen
    assert "Open --> Resolved: expire\n" in mermaid(changed)


def test_embed_replaces_only_the_block() -> None:
    document = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    updated = embed(document, "stateDiagram-v2\n")
    assert updated.startswith("intro\n")
    assert updated.endswith(f"{END}\noutro\n")
    assert embedded(updated) == "stateDiagram-v2\n"
    assert embedded("no markers") is None
    with pytest.raises(ValueError, match="no"):
        embed("no markers", "x")


def test_the_check_option_fails_on_a_stale_document(tmp_path: Path) -> None:
    from threadcore.cli import main

    stale = tmp_path / "doc.md"
    stale.write_text(f"{BEGIN}\n```mermaid\nstateDiagram-v2\n```\n{END}\n")
    assert main(["diagram", "--check", str(stale)]) == 1
    assert main(["diagram", "--write", str(stale)]) == 0
    assert main(["diagram", "--check", str(stale)]) == 0
    assert main(["diagram", "--check", str(DOC)]) == 0


def test_the_replay_schema_document_is_the_generated_one() -> None:
    import json

    from threadcore.cli.replay import json_schema

    path = DOC.parent / "replay.schema.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json_schema(), (
        "docs/replay.schema.json is out of date: run `threadcore schema > docs/replay.schema.json`"
    )
