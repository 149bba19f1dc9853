"""Every test, invariant, stateful rule and contract test that ``docs/rules.md`` cites exists
(issue 12: R10 cited an invariant that existed nowhere)."""

from __future__ import annotations

import fnmatch
import itertools
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


#: A rule starts a paragraph with its id in bold: ``**R10a — many sweepers ...**``.
_RULE_ID = re.compile(r"^\*\*([A-Z]+)(\d+)([a-z]?) — ", re.MULTILINE)


def test_rules_stand_in_id_order() -> None:
    """Issue 23: the rules of one letter stand together, each after the one before it (R10,
    R10a, R10b, R11, ...), and no id is used twice."""
    found = [(m[1], int(m[2]), m[3]) for m in _RULE_ID.finditer(RULES)]
    assert len(found) > 60, "the rules were not found: has the format changed?"
    assert len(set(found)) == len(found)
    out_of_order = [
        f"{after[0]}{after[1]}{after[2]} after {before[0]}{before[1]}{before[2]}"
        for before, after in itertools.pairwise(found)
        if before[0] == after[0] and after[1:] < before[1:]
    ]
    letters = [letter for letter, _, _ in found]
    runs = [letter for i, letter in enumerate(letters) if i == 0 or letters[i - 1] != letter]
    apart = sorted({letter for letter in runs if runs.count(letter) > 1})
    assert (out_of_order, apart) == ([], [])


#: A code span's first part (before ``::name``) that names a path: a folder and a file, or a
#: test file of ``tests/``; media types (``text/plain``) are not paths.
_MEDIA_TYPES = ("application/", "text/", "image/", "audio/", "video/", "multipart/")
_CITED_PATH = re.compile(r"^(?:[\w.-]+/)+[\w.*-]*$|^test_\w+\.py$")
#: Paths written in running text, outside code spans.
_PATH_IN_TEXT = re.compile(r"(?<![\w/`.-])(?:threadcore|tests|docs|bench|shared)/[\w./-]*[\w/]")


def _spans() -> list[str]:
    return re.findall(r"`([^`\n]+)`", RULES)


def _resolve(cited: str) -> Path:
    if "/" not in cited:  # a test file, as every rule names its tests
        return ROOT / "tests" / cited
    return ROOT / cited


def test_every_cited_path_exists_in_the_repository() -> None:
    """Issue 23: a path docs/rules.md cites (``threadcore/testing/model/``,
    ``bench/bench_reads.py``, ``test_rules.py``) exists in the repository: not a module that
    became a package, not a file of the project kept outside it."""
    cited = {span.split("::")[0] for span in _spans()}
    cited = {c for c in cited if _CITED_PATH.match(c) and not c.startswith(_MEDIA_TYPES)}
    cited |= set(_PATH_IN_TEXT.findall(re.sub(r"`[^`\n]+`", "", RULES)))
    assert len(cited) > 40, "the paths were not found: has the format changed?"
    missing = []
    for each in sorted(cited):
        path = _resolve(each).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            missing.append(each)
    assert missing == []


def _defined(path: Path) -> set[str]:
    return _functions(path.read_text()) | set(
        re.findall(r"^\s*class (\w+)\b", path.read_text(), re.MULTILINE)
    )


def test_every_cited_test_exists_in_the_file_it_names() -> None:
    """Issue 23: ``path::name`` (a test file or any module) names a test, or a pattern of
    tests, defined in that file; ``::name`` right after one names another in the same file."""
    missing, last = [], None
    checked = 0
    for span in _spans():
        if "::" not in span or " " in span:
            continue
        head, name = span.split("::", 1)
        if head:
            last = _resolve(head)
        assert last is not None, f"{span} names no file"
        checked += 1
        if not last.is_file() or not fnmatch.filter(_defined(last), name.split("[")[0]):
            missing.append(f"{last.relative_to(ROOT)}::{name}")
    assert checked > 40
    assert missing == []
