"""The throwaway-PostgreSQL harness: without server binaries the PostgreSQL tests fail in CI and
skip elsewhere, saying how to enable them. (Runs a PostgreSQL test module in a child pytest with
the binaries hidden.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pg_server
import pytest

TESTS = Path(__file__).parent


def _run_without_binaries(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "THREADCORE_TEST_POSTGRES_URL")}
    env[pg_server.BINDIR_VARIABLE] = str(TESTS / "no-such-directory")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         str(TESTS / "test_postgres.py"), "-k", "test_a_newer_schema_is_refused"],
        capture_output=True, text=True, timeout=300, env=env, cwd=TESTS.parent, check=False,
    )  # fmt: skip


def test_without_binaries_the_postgres_tests_fail_in_ci() -> None:
    result = _run_without_binaries("true")
    assert result.returncode != 0, result.stdout
    assert "PostgreSQL tests cannot run in CI" in result.stdout
    assert "apt-get install postgresql" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_without_binaries_the_postgres_tests_skip_elsewhere_saying_how_to_enable_them() -> None:
    result = _run_without_binaries(None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "apt-get install postgresql" in result.stdout


def test_the_binaries_are_found_where_debian_puts_them() -> None:
    found = pg_server.find_bindir()
    if found is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"no PostgreSQL server binaries in CI: {pg_server.HOW_TO_ENABLE}")
        pytest.skip(f"no PostgreSQL here: {pg_server.HOW_TO_ENABLE}")
    assert (found / "initdb").exists()
    assert (found / "pg_ctl").exists()
