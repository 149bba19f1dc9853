"""The PostgreSQL benchmarks still run (tiny sizes, on the tests' server): a benchmark that no
longer runs is found here, not the day its figures are needed. Their figures are not judged."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["conftest_pg"]

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_bulk_benchmark_runs(postgres_url: str) -> None:
    out = _run(str(BENCH / "bench_pg_bulk.py"), "--url", postgres_url, "--messages", "200",
               "--pairs", "20", "--batch", "100", "--customers", "15", "--repeat", "1")  # fmt: skip
    assert "receive: batched / per command" in out
    assert "replay: batched / per command" in out


def test_the_scale_benchmark_runs_and_explains(postgres_url: str, tmp_path: Path) -> None:
    report = tmp_path / "scale.md"
    _run(str(BENCH / "bench_pg_scale.py"), "--url", postgres_url, "--sizes", "2500", "3000",
         "--repeat", "1", "--out", str(report))  # fmt: skip
    text = report.read_text()
    assert "| sweep of 1,000 due threads |" in text
    assert "Index" in text  # the plans are there


def test_the_http_load_benchmark_runs_and_its_checks_pass(postgres_url: str) -> None:
    """Two workers, eight clients: the run's own checks (no 5xx, one open thread per pair, every
    inbound message stored once, ISync replicas equal to FSync) fail it with exit 1."""
    out = _run(str(BENCH / "bench_http_load.py"), "--url", postgres_url, "--workers", "2",
               "--clients", "8", "--requests", "240", "--receives", "40",
               "--rounds", "1")  # fmt: skip
    assert "mix / ceiling:" in out
    assert "| inbound |" in out
    assert "all checks passed" in out
    assert "| raw Starlette endpoint (fair raw SQL) |" in out
    assert "served / library receive:" in out


def test_the_postgres_benchmark_runs_every_contender(postgres_url: str) -> None:
    """The fair raw, its ladder, the one-call limit and threadcore, on disjoint pairs and one hot
    pair; each run checks its rows (one open thread per pair, the events of every message and
    thread)."""
    out = _run(str(BENCH / "bench_postgres.py"), "--url", postgres_url, "--messages", "30",
               "--pairs", "5", "--workers", "1", "2", "--rounds", "1", "--hot",
               "--ladder")  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(rows) == 6, out  # 4 of the first table, the ladder's 2 (disjoint pairs)
    assert "threadcore / fair raw" in out
    assert "+ opt-out / fair raw" in out


def test_the_creation_benchmark_runs(postgres_url: str) -> None:
    out = _run(str(BENCH / "bench_pg_creation.py"), "--url", postgres_url, "--messages", "30",
               "--workers", "2", "--rounds", "1", "--walkers", "1")  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("| 2 |"))
    assert "receives under way at once" in out
    assert len(row.split("|")) == 15, row  # every column, the walkers' two too


def test_the_command_ab_script_runs_on_every_store(postgres_url: str) -> None:
    """bench/ab_commands.py (issue 23's same-run A/B against an older tree) runs on each store."""
    script = str(BENCH / "ab_commands.py")
    _run(script, "memory", "--pairs", "5")
    _run(script, "sqlite", "--pairs", "5")
    _run(script, "postgres", "--pairs", "5", "--url", postgres_url)


def test_the_sqlite_benchmark_runs_its_floor_on_threadcores_statements() -> None:
    """bench_sqlite's floor must issue threadcore's very statements (it checks them before the
    timing and exits otherwise), and every ratio the issue sets is printed."""
    out = _run(str(BENCH / "bench_sqlite.py"), "--pairs", "5", "--messages", "40", "--repeat", "1")
    assert out.count("threadcore / its SQL alone:") == 4  # per command and bulk, two measures
    assert out.count("floor / SQL alone:") == 4


def test_the_postgres_benchmarks_threadcore_reads_the_system_clock_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every caller of ``bench_postgres.run`` (run_all, bench_pg_creation) gets the system clock,
    which the processes of one host share; a ticking clock per process only when asked for."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_postgres
    from ticking import TickingClock

    from threadcore import SystemClock

    monkeypatch.delenv("THREADCORE_BENCH_CLOCK", raising=False)
    assert isinstance(bench_postgres.bench_clock(), SystemClock)
    monkeypatch.setenv("THREADCORE_BENCH_CLOCK", "ticking")
    assert isinstance(bench_postgres.bench_clock(), TickingClock)


def test_the_memory_floor_benchmark_reports_interleaved_rounds() -> None:
    """``bench_floor --rounds``: each contender's ratio to the bare loop of its own round, and
    the rules' floor plus the layers as a sum."""
    out = _run(str(BENCH / "bench_floor.py"), "--pairs", "20", "--messages", "400",
               "--rounds", "2")  # fmt: skip
    assert "median (min-max) of 2 interleaved rounds" in out
    for name in ("floor, plain attrs records", "floor, the rules' work", "threadcore (memory)",
                 "the rules + the layers (sum)"):  # fmt: skip
        assert re.search(rf"{re.escape(name)} .* 1/[\d.]+ \([\d.]+-[\d.]+\) of bare", out), out


def test_the_postgres_benchmarks_counted_client_runs(postgres_url: str) -> None:
    """What ``bench_postgres --count`` runs under valgrind, here without it: each contender's
    client on a fresh schema (valgrind itself is not installed by CI)."""
    for kind in ("raw", "raw+opt_out", "threadcore"):
        _run(str(BENCH / "bench_postgres.py"), "--count-child", kind, "--url", postgres_url,
             "--messages", "5")  # fmt: skip
