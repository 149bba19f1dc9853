"""What a newcomer reads first says what they need (issue 25): the served API is named and linked
from the README and the command line's page, the PostgreSQL extra is installed where PostgreSQL is
used, and a sweeper beside a manual clock is warned against where both are described."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _read(name: str) -> str:
    return re.sub(r"\s+", " ", (ROOT / name).read_text())  # wrapped lines as one


def test_the_readme_and_the_cli_page_name_serve_and_link_the_http_page() -> None:
    readme, cli = _read("README.md"), _read("docs/cli.md")
    assert "threadcore serve --db" in readme
    assert "(docs/http.md)" in readme
    assert "threadcore serve --db" in cli
    assert "(http.md)" in cli


def test_the_http_page_installs_the_postgres_extra_it_uses() -> None:
    http = _read("docs/http.md")
    assert "postgresql://" in http
    assert "threadcore[http,cli,postgres]" in http


def test_a_sweeper_beside_a_manual_clock_is_warned_against() -> None:
    for page in ("docs/http.md", "docs/cli.md"):
        text = _read(page)
        assert "sweeper on the system clock" in text, page
        assert "refused" in text.partition("sweeper on the system clock")[2][:300], page
