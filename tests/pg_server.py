"""A throwaway PostgreSQL server for the tests and the benchmark (no psycopg needed to start it).

``start()`` finds the server binaries (``pg_config --bindir``, then ``/usr/lib/postgresql/*/bin``,
preferring version 15), runs ``initdb`` into a fresh temporary directory (as the ``postgres`` user
when running as root: PostgreSQL refuses to run as root), starts the server on 127.0.0.1 on a free
port with a socket directory of its own, and creates a database. ``stop()`` stops it and removes
the directory. Nothing listens anywhere but loopback.

Run it by hand to get a server for a while::

    python tests/pg_server.py      # prints the URL; stops on Ctrl-C or SIGTERM
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BINDIR_VARIABLE",
    "HOW_TO_ENABLE",
    "PostgresServer",
    "ServerUnavailable",
    "drop_schema",
    "find_bindir",
    "new_schema_name",
    "start",
]

HOW_TO_ENABLE = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; the binaries are "
    "looked for with pg_config --bindir and in /usr/lib/postgresql/*/bin), or point "
    "THREADCORE_TEST_POSTGRES_URL at a database the tests may fill"
)
DATABASE = "threadcore_test"
BINDIR_VARIABLE = "THREADCORE_PG_BINDIR"
_PREFERRED_MAJOR = 15


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (the reason is the message)."""


def _version_of(bindir: str) -> int:
    match = re.search(r"/(\d+)/bin/?$", bindir)
    return int(match.group(1)) if match else 0


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    ``THREADCORE_PG_BINDIR`` names the directory to use instead of looking (to pick one of
    several installed versions).
    """
    chosen = os.environ.get(BINDIR_VARIABLE)
    candidates: list[str] = [chosen] if chosen is not None else []
    pg_config = shutil.which("pg_config") if chosen is None else None
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(out)
    if chosen is not None:
        found: list[str] = []
    else:
        found = glob.glob("/usr/lib/postgresql/*/bin")
    # Version 15 first (what CI installs and the issue names), then the newest.
    found.sort(key=lambda d: (_version_of(d) != _PREFERRED_MAJOR, -_version_of(d)))
    candidates += found
    for directory in candidates:
        if all(os.access(os.path.join(directory, b), os.X_OK) for b in ("initdb", "pg_ctl")):
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One running throwaway server; :attr:`url` names its database."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: pwd.struct_passwd | None):
        self.bindir = bindir
        self.root = root
        self.port = port
        self._run_as = run_as
        self.url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self.running = False

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server log."""
        return self.root / "server.log"

    def _run(self, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        extra: dict[str, Any] = {}
        if self._run_as is not None:
            extra = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self._run_as is not None:
            env["HOME"] = str(self.root)
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, env=env, check=False,
            cwd=self.root, **extra,
        )  # fmt: skip

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = self.log.read_text(errors="replace")[-2000:]
            raise ServerUnavailable(
                f"{what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}\n{tail}"
            )

    def initdb(self) -> None:
        """Create the cluster: trust auth (loopback only), UTF-8, C locale, no fsync."""
        result = self._run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-locale", "--no-sync"]
        )  # fmt: skip
        self._check(result, "initdb")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            # A throwaway server: durability against power loss is not under test here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
            "log_min_error_statement": "panic",
            # No background transactions: an autovacuum/analyze that takes a transaction id holds
            # the event feed's watermark back (late, never lost), which would make the
            # step-by-step event checks of the stateful machine depend on timing.
            "autovacuum": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# threadcore test server\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        result = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
             "-t", "60", "start"]
        )  # fmt: skip
        self._check(result, "pg_ctl start")
        self.running = True

    def halt(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m mode``: ``fast`` ends every session at once) and
        keep its data: :meth:`start` starts it again. A stopped server stays stopped."""
        if not self.running:
            return
        result = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
             "stop"]
        )  # fmt: skip
        self._check(result, "pg_ctl stop")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop the server (every session ends) and start it again, as an operator does."""
        self.halt(mode)
        self.start()

    def create_database(self) -> None:
        """Create the test database (with the server's own ``createdb``)."""
        createdb = self.bindir / "createdb"
        result = self._run(
            [str(createdb), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE]
        )
        self._check(result, "createdb")

    def stop(self) -> None:
        """Stop the server (fast) and remove its directory."""
        try:
            self.halt()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def new_schema_name() -> str:
    """A PostgreSQL schema name no other test uses."""
    return f"tc_{uuid.uuid4().hex[:16]}"


def drop_schema(url: str, schema: str) -> None:
    """Drop a schema and everything in it (``schema`` as it is written inside double quotes)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def start(attempts: int = 3) -> PostgresServer:
    """Start a throwaway server, or raise :class:`ServerUnavailable` saying why not."""
    bindir = find_bindir()
    if bindir is None:
        raise ServerUnavailable(f"no PostgreSQL server binaries found: {HOW_TO_ENABLE}")
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable(
                "running as root, and there is no 'postgres' user to run the server as "
                "(PostgreSQL refuses to run as root)"
            ) from None
    last: ServerUnavailable | None = None
    for _ in range(attempts):
        root = Path(tempfile.mkdtemp(prefix="threadcore-pg-"))
        if run_as is not None:
            os.chown(root, run_as.pw_uid, run_as.pw_gid)
        server = PostgresServer(bindir, root, _free_port(), run_as)
        try:
            server.initdb()
            server.start()
            server.create_database()
        except (ServerUnavailable, OSError, subprocess.SubprocessError) as error:
            server.stop()
            last = error if isinstance(error, ServerUnavailable) else ServerUnavailable(str(error))
            time.sleep(0.2)  # most likely the port was taken in between: try another
            continue
        atexit.register(server.stop)  # in case the caller is interrupted before stopping it
        return server
    assert last is not None
    raise last


if __name__ == "__main__":  # pragma: no cover - a manual helper
    try:
        running = start()
    except ServerUnavailable as error:
        sys.exit(str(error))
    print(running.url, flush=True)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
