"""``threadcore serve`` driven end to end by the platform's own published client (issue 15).

``tests/node/e2e.ts`` uses ``@rc-ex/core`` 1.8.6 (and TypeScript, type-checked against the
client's own definitions) to call every message-threads operation, read errors through the
client's ``RestException``, and check that an ISync replica converges on FSync. This module
installs the Node packages (``npm ci``, from the lock file), starts ``threadcore serve`` on a
loopback port (SQLite with a manual clock; PostgreSQL with two workers) and runs it. Without
Node or npm the test skips outside CI and fails in CI (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import served
import stores

pytest_plugins = ["conftest_pg"]

NODE_DIR = Path(__file__).parent / "node"
DIRECTORY = {
    "resources": [
        {
            "extensionId": "6249888001",
            "name": "Billing Queue",
            "phoneNumbers": ["+12092480001"],
            "handlers": ["101", {"extensionId": "102", "name": "Ann Lee"}],
        },
        {
            "extensionId": "6249888002",
            "name": "Support",
            "phoneNumbers": ["+12092480009"],
            "handlers": ["201"],
        },
    ]
}
TOKENS = {"tok-101": "101", "tok-102": "102", "tok-201": "201"}
START = "2026-02-17T17:00:00Z"


def _tool(name: str) -> str:
    from conftest_pg import in_ci  # (imported late: the plugin is registered first)

    found = shutil.which(name)
    if found is None:
        message = f"{name} is not on PATH (install Node.js and npm; .ci/run does)"
        if in_ci():
            pytest.fail(f"the Node end-to-end test cannot run in CI: {message}", pytrace=False)
        pytest.skip(f"the Node end-to-end test skipped: {message}")
    return found


def _npm(npm: str, *arguments: str, env: dict[str, str] | None = None) -> str:
    """``npm ARGUMENTS`` in ``tests/node``, which must succeed: its output."""
    done = subprocess.run(
        [npm, *arguments], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"npm {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def npm() -> str:
    """npm, with the packages of ``tests/node`` installed from its lock file."""
    _tool("node")
    npm = _tool("npm")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _npm(npm, "ci", "--no-audit", "--no-fund")
    return npm


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start ``threadcore serve`` with the given options; yields a function returning its URL."""
    with served.servers(tmp_path, DIRECTORY, TOKENS, "--control-token", "ctl") as start:
        yield lambda url, *options: start(url, *options)[1]


def _e2e(npm: str, url: str, *, manual_clock: bool) -> str:
    _npm(npm, "run", "--silent", "typecheck")  # e2e.ts against the client's own definitions
    env = {**os.environ, "THREADCORE_URL": url, "MANUAL_CLOCK": "1" if manual_clock else "0"}
    return _npm(npm, "run", "--silent", "e2e", env=env)


def _steps(output: str) -> list[str]:
    plan = re.search(r"^1\.\.(\d+)$", output, re.MULTILINE)
    assert plan is not None, output
    steps = re.findall(r"^ok \d+ - (.+)$", output, re.MULTILINE)
    assert len(steps) == int(plan.group(1)), output
    return steps


def test_the_platforms_client_drives_every_operation_on_sqlite(
    npm: str, serve: object, tmp_path: Path
) -> None:
    url = serve(f"sqlite:///{tmp_path / 'e2e.db'}", "--manual-clock", START)  # type: ignore[operator]
    steps = _steps(_e2e(npm, url, manual_clock=True))
    assert len(steps) == 20
    assert any("72 hours" in step for step in steps)


def test_the_platforms_client_on_postgresql_with_two_workers(
    npm: str, serve: object, pg_repo: object
) -> None:
    url = serve(stores.url_of(pg_repo), "--workers", "2")  # type: ignore[operator]
    steps = _steps(_e2e(npm, url, manual_clock=False))
    # Everything but moving the clock, which a real clock does not allow.
    assert len(steps) == 19
    assert not any("72 hours" in step for step in steps)
