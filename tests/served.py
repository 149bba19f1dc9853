"""``threadcore serve`` as a real process, for the tests that drive it from outside (the
platform's own client in ``test_http_node.py``, a browser in ``test_console_browser.py``)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["servers", "start", "stop"]


def start(command: list[str], log: Path) -> tuple[subprocess.Popen[str], str]:
    """Run ``command`` (a ``threadcore serve``), its stderr into ``log`` (a file: a full pipe
    would block it); the process and the URL it printed once it listened."""
    with log.open("w") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"serving (http://\S+)", line)
    if found is None:
        process.kill()
        pytest.fail(f"threadcore serve did not start: {line}{log.read_text()}")
    return process, found.group(1)


def stop(process: subprocess.Popen[str], log: Path) -> None:
    """Stop it with SIGTERM: it must exit 0, with no traceback in its log."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("threadcore serve did not stop on SIGTERM")
    assert code == 0, f"threadcore serve exited with {code}: {log.read_text()}"
    assert "Traceback" not in log.read_text(), log.read_text()


Start = Callable[..., tuple[subprocess.Popen[str], str]]


@contextlib.contextmanager
def servers(folder: Path, directory: Any, tokens: Any, *common: str) -> Iterator[Start]:
    """A function that starts ``threadcore serve --db URL *common *options`` with this directory
    and these tokens (JSON documents, written in ``folder``) on a free port: its process and URL.
    Every server it started is stopped at the end (exit 0, no traceback)."""
    (folder / "directory.json").write_text(json.dumps(directory))
    (folder / "tokens.json").write_text(json.dumps(tokens))
    started: list[tuple[subprocess.Popen[str], Path]] = []

    def begin(url: str, *options: str) -> tuple[subprocess.Popen[str], str]:
        command = [
            sys.executable, "-m", "threadcore", "serve", "--db", url,
            "--directory", str(folder / "directory.json"),
            "--tokens", str(folder / "tokens.json"),
            "--port", "0", *common, *options,
        ]  # fmt: skip
        log = folder / f"serve-{len(started)}.log"
        process, base = start(command, log)
        started.append((process, log))
        return process, base

    try:
        yield begin
    finally:
        for process, log in started:
            stop(process, log)
