"""Every test, invariant, stateful rule and contract test that ``docs/rules.md`` cites exists
(issue 12: R10 cited an invariant that existed nowhere)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = (ROOT / "docs" / "rules.md").read_text()
# citations may wrap: make the text one line
TEXT = re.sub(r"\s+", " ", RULES)
TESTING = ROOT / "threadcore" / "testing"
# the stateful machine (its rules by area) and the contract suite (by capability)
STATEFUL = "\n".join(
    p.read_text() for p in sorted(TESTING.rglob("*.py")) if "contract" not in p.parts
)
CONTRACT = "\n".join(p.read_text() for p in sorted((TESTING / "contract").glob("*.py")))


def _functions(source: str) -> set[str]:
    return set(re.findall(r"^\s*def (\w+)\(", source, re.MULTILINE))


def _decorated(source: str, decorator: str) -> set[str]:
    """The functions carrying ``@decorator`` (its arguments may span lines)."""
    found, pending = set(), False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(f"@{decorator}(") or stripped == f"@{decorator}":
            pending = True
        elif match := re.match(r"def (\w+)\(", stripped):
            if pending:
                found.add(match.group(1))
            pending = False
    return found


def test_every_cited_test_exists() -> None:
    cited = set(re.findall(r"(test_\w+\.py)::([\w*\[\]-]+)", TEXT))
    assert len(cited) > 40, "the citations were not found: has the format changed?"
    missing = []
    for file, name in sorted(cited):
        path = ROOT / "tests" / file
        if not path.exists():
            missing.append(f"{file} (no such file)")
            continue
        if not fnmatch.filter(_functions(path.read_text()), name):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_every_cited_test_file_exists() -> None:
    files = set(re.findall(r"`(test_\w+\.py)`", TEXT))
    assert files
    assert sorted(f for f in files if not (ROOT / "tests" / f).exists()) == []


def test_every_cited_invariant_and_stateful_rule_exists() -> None:
    invariants = set(re.findall(r"invariants? `(\w+)`", TEXT))
    rules = set(re.findall(r"stateful rule `(\w+)`", TEXT))
    assert invariants
    assert rules
    assert sorted(invariants - _decorated(STATEFUL, "invariant")) == []
    assert sorted(rules - _decorated(STATEFUL, "rule")) == []


def test_every_cited_contract_test_exists() -> None:
    cited = set(re.findall(r"contract `(test_\w+)`", TEXT))
    assert cited
    assert sorted(cited - _functions(CONTRACT)) == []
