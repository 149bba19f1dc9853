"""``threadcore serve`` as a command (issue 15): a bad argument or an unreachable database is one
line and an exit code before anything listens; a running server prints its URL, answers, and
stops cleanly (exit 0) on SIGINT and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from threadcore.cli.app import run
from threadcore.connect import DATABASE_URL_VARIABLE

SERVE = [sys.executable, "-m", "threadcore", "serve"]
UNREACHABLE = "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2"


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tok-101": "101"}))
    return path


def _serve(*arguments: str) -> tuple[int, str]:
    """``threadcore serve ARGUMENTS`` through the command line's own error reporting: the exit
    code and everything printed."""
    with CliRunner().isolation(env={DATABASE_URL_VARIABLE: None}) as (out, err, _):
        code = run(["serve", *arguments])
    return code, out.getvalue().decode() + err.getvalue().decode()


@pytest.mark.parametrize(
    ("tokens_text", "words"),
    [
        ("not json", "cannot read a JSON object"),
        ("[]", "give a JSON object"),
        ('{"tok": 101}', "give a JSON object"),
        ("{}", "give a JSON object"),
    ],
)
def test_a_bad_tokens_file_is_one_line(tmp_path: Path, tokens_text: str, words: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(tokens_text)
    code, output = _serve("--db", f"sqlite:///{tmp_path / 's.db'}", "--tokens", str(path))
    assert code == 2
    assert words in output
    assert "Traceback" not in output
    assert output.count("\n") == 1


@pytest.mark.parametrize(
    ("database", "options", "words"),
    [
        ("memory://", ["--workers", "2"], "a postgresql:// URL or a SQLite file"),
        ("sqlite://:memory:", ["--workers", "2"], "a postgresql:// URL or a SQLite file"),
        ("", ["--manual-clock", "tomorrow"], "RFC 3339"),
    ],
)
def test_refused_options(
    tmp_path: Path, tokens: Path, database: str, options: list[str], words: str
) -> None:
    database = database or f"sqlite:///{tmp_path / 's.db'}"
    code, output = _serve("--db", database, "--tokens", str(tokens), *options)
    assert code == 2
    assert words in output
    assert "Traceback" not in output


def test_an_unreachable_database_is_one_line(tokens: Path) -> None:
    done = subprocess.run(
        [*SERVE, "--tokens", str(tokens), "--db", UNREACHABLE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("threadcore: error: cannot open postgresql://nobody:***@")
    assert done.stderr.count("\n") == 1
    assert "secret" not in done.stderr
    # nothing ran yet, so nothing is to be retried: it says what an operator can check (issue 25)
    assert "inbound" not in done.stderr
    assert "Check that the server runs" in done.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serves_and_stops_cleanly(tmp_path: Path, tokens: Path, stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [*SERVE, "--tokens", str(tokens), "--port", "0", "--db", f"sqlite:///{tmp_path / 's.db'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        serving = r"threadcore: serving (http://127\.0\.0\.1:\d+) on sqlite:///.*\n"
        found = re.fullmatch(serving, line)
        assert found is not None, line
        base = f"{found.group(1)}/restapi/v1.0/account/~/message-threads"
        answer = httpx.get(base, headers={"Authorization": "Bearer tok-101"})
        assert answer.status_code == 200
        assert answer.json()["records"] == []
        assert httpx.get(base).status_code == 401
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_token_secret_shorter_than_16_characters_is_refused(tmp_path: Path, tokens: Path) -> None:
    code, output = _serve(
        "--db", f"sqlite:///{tmp_path / 's.db'}", "--tokens", str(tokens), "--token-secret", "short"
    )
    assert code == 2
    assert "--token-secret must be at least 16 characters" in output


def test_instances_with_one_token_secret_take_each_others_sync_tokens(
    tmp_path: Path, tokens: Path
) -> None:
    """Two instances on one database (as two workers, or two hosts): a sync token one issued is
    good at the other when they share the secret (each worker of one serve shares its own)."""
    database = f"sqlite:///{tmp_path / 's.db'}"
    environment = {**os.environ, "THREADCORE_TOKEN_SECRET": "one secret for the whole service"}
    instances = [
        subprocess.Popen(
            [*SERVE, "--tokens", str(tokens), "--port", "0", "--db", database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for _ in range(2)
    ]
    try:
        urls = []
        for process in instances:
            assert process.stdout is not None
            line = process.stdout.readline()
            found = re.search(r"serving (http://\S+)", line)
            if found is None:
                process.kill()
                pytest.fail(f"no URL printed: {line!r}; stderr: {process.communicate()[1]!r}")
            urls.append(f"{found.group(1)}/restapi/v1.0/account/~/message-threads/sync")
        headers = {"Authorization": "Bearer tok-101"}
        full = httpx.get(urls[0], params={"syncType": "FSync"}, headers=headers)
        assert full.status_code == 200
        token = full.json()["syncInfo"]["syncToken"]
        incremental = httpx.get(
            urls[1], params={"syncType": "ISync", "syncToken": token}, headers=headers
        )
        assert incremental.status_code == 200, incremental.text
        assert incremental.json()["syncInfo"]["syncType"] == "ISync"
    finally:
        for process in instances:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def test_a_port_in_use_is_one_line(tmp_path: Path, tokens: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        code, output = _serve(
            "--db", f"sqlite:///{tmp_path / 's.db'}", "--tokens", str(tokens), "--port", port
        )
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}: [Errno 98] Address already in use" in output
    assert output.count("\n") == 1
