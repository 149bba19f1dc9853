"""``threadcore serve``: the platform's message-threads API over a database (issue 15).

One process, or ``--workers N`` processes sharing one database (PostgreSQL, or a SQLite file),
the directory stored in it and, with ``--manual-clock``, the clock stored in it. The parent
checks everything first (the tokens file, the database, the directory file, which it stores with
a merge), so a bad argument or an unreachable database is one line and exit code 1 or 2 before
anything listens; then it binds the port, prints the URL, and runs uvicorn, which stops cleanly
on SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from threadcore import Inbox
from threadcore.cli._common import FILE_PATH, CliError, cli, db_option
from threadcore.cli._store import _database_url, _directory_file, _open_inbox, _redact, _sqlite_file
from threadcore.cli.clock import MANUAL_CLOCK_HELP, manual_start, say_start
from threadcore.errors import ThreadcoreError

__all__ = ["app_from_environment", "serve"]

#: Where the parent hands the workers their settings (JSON).
_SETTINGS = "THREADCORE_SERVE_SETTINGS"
#: The environment variable ``--token-secret`` defaults to.
TOKEN_SECRET_VARIABLE = "THREADCORE_TOKEN_SECRET"


def _tokens(path: Path) -> dict[str, str]:
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CliError(f"--tokens {path}: cannot read a JSON object: {error}", 2) from None
    if (
        not isinstance(tokens, dict)
        or not tokens
        or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in tokens.items())
    ):
        raise CliError(
            f'--tokens {path}: give a JSON object {{"<bearer token>": "<extension id>", ...}}', 2
        )
    return tokens


def app_from_environment() -> Any:
    """The app of one worker, from the settings the parent left in the environment (uvicorn's
    factory: each worker process opens its own inbox, closed when the worker stops)."""
    return _app(json.loads(os.environ[_SETTINGS]), None)


def _app(settings: dict[str, Any], inbox: Inbox | None) -> Any:
    from threadcore.http import create_app

    if inbox is None:  # a worker: on the clock the parent found or started
        secret = bytes.fromhex(settings["token_secret"])
        inbox, _ = _open_inbox(settings["url"], None, secret, settings["manual_clock"])
    app = create_app(
        inbox,
        tokens=settings["tokens"],
        control_token=settings["control_token"],
        account_id=settings["account_id"],
        outsiders="forbidden" if settings["forbidden"] else "not-found",
        console=settings.get("console", False),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.threadcore.inbox.close()

    app.router.lifespan_context = lifespan
    return app


@cli.command()
@db_option
@click.option(
    "--directory",
    "directory_path",
    help="A directory file (docs/cli.md) merged into the directory stored in the database.",
)
@click.option(
    "--tokens",
    "tokens_path",
    type=FILE_PATH,
    help='A JSON file {"<bearer token>": "<extension id>", ...} (required but with --demo).',
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--control-token", help="Serve the control plane (/threadcore/v1/) to this token.")
@click.option(
    "--manual-clock",
    "manual_clock",
    help=MANUAL_CLOCK_HELP,
)
@click.option("--account-id", help="The account id the paths accept besides ~.")
@click.option(
    "--token-secret",
    envvar=TOKEN_SECRET_VARIABLE,
    help="Signs page and sync tokens (at least 16 characters). Give every instance of a service "
    f"the same one (or set {TOKEN_SECRET_VARIABLE}); without it the workers of this command "
    "share a random one, and tokens do not outlive it.",
)
@click.option(
    "--forbidden", is_flag=True, help="Answer 403, not 404, for a thread the caller may not see."
)
@click.option(
    "--console",
    "console",
    is_flag=True,
    help="Serve the inbox console at /console/ (needs --control-token; docs/console.md).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="With --console: serve the demo's inbox (a new SQLite file, a manual clock, a control "
    "token of its own, printed with the URL).",
)
def serve(
    url: str | None,
    directory_path: str | None,
    tokens_path: Path,
    host: str,
    port: int,
    workers: int,
    control_token: str | None,
    manual_clock: str | None,
    account_id: str | None,
    token_secret: str | None,
    forbidden: bool,
    console: bool,
    demo: bool,
) -> None:
    """Serve the platform's message-threads REST API (docs/http.md), and with --console the
    inbox console (docs/console.md)."""
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess

        import threadcore.http  # noqa: F401
    except ImportError:
        raise CliError("serve needs the 'http' extra: pip install 'threadcore[http]'") from None
    if console or demo:
        _check_console(console, demo, control_token, url, directory_path, workers)
    tokens: dict[str, str] = {}
    if demo:
        from threadcore.cli.serve_demo import prepare_demo

        if control_token is None:
            control_token = secrets.token_urlsafe(18)
        prepared = prepare_demo()
        url, directory_path = prepared.url, str(prepared.directory_path)
        manual_clock = manual_clock or prepared.start.isoformat()
        tokens = prepared.tokens
    elif tokens_path is None:
        raise CliError("serve needs --tokens FILE (or --demo)", 2)
    url = _database_url(url, must_exist=False)
    if tokens_path is not None:
        tokens = _tokens(tokens_path)
    scheme = urlsplit(url).scheme.lower()
    if workers > 1 and scheme not in ("postgresql", "postgres") and _sqlite_file(url) is None:
        raise CliError(
            "--workers above 1 needs a database every worker shares: a postgresql:// URL or "
            "a SQLite file",
            2,
        )
    start = manual_start(manual_clock)
    directory = _directory_file(directory_path) if directory_path else None
    # One secret for every worker, or a token one worker issued would be refused by the others.
    secret = secrets.token_bytes(32) if token_secret is None else token_secret.encode()
    if len(secret) < 16:
        raise CliError("--token-secret must be at least 16 characters", 2)
    settings = {
        "url": url,
        "tokens": tokens,
        "control_token": control_token,
        "account_id": account_id,
        "forbidden": forbidden,
        "manual_clock": start is not None,  # the workers join the clock the parent started
        "token_secret": secret.hex(),
        "console": console or demo,
    }
    # Reachable, schema current, directory stored: checked before anything listens. A failure
    # here is the one line CliError prints, so the adapter's warning log is held back meanwhile.
    adapter_log = logging.getLogger("threadcore")
    level, adapter_log.level = adapter_log.level, logging.ERROR
    try:
        inbox, _ = _open_inbox(url, None, secret, False if start is None else start)
    finally:
        adapter_log.setLevel(level)
    if start is not None:
        say_start(start, inbox.now())
    try:
        if directory is not None:
            inbox.load_directory(directory.resources())
    except ThreadcoreError as error:
        inbox.close()
        raise CliError(f"--directory {directory_path}: {error.message}") from None
    if workers > 1:
        inbox.close()
        os.environ[_SETTINGS] = json.dumps(settings)
        target: Any = "threadcore.cli.serve:app_from_environment"
    else:
        target = _app(settings, inbox)  # this process serves with the inbox just opened
    config = uvicorn.Config(
        target,
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        lifespan="on",
    )
    reasons: list[str] = []  # uvicorn logs why it cannot bind: said in our one line instead

    def held_back(record: logging.LogRecord) -> bool:
        reasons.append(record.getMessage())
        return False

    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addFilter(held_back)
    try:
        sock = config.bind_socket()
    except SystemExit:
        if workers == 1:
            inbox.close()
        why = f": {reasons[-1]}" if reasons else ""
        raise CliError(f"cannot listen on {host}:{port}{why}") from None
    finally:
        uvicorn_log.removeFilter(held_back)
    # Listening before the URL is printed: a client that reads it may connect at once (the
    # kernel queues it until uvicorn, or a worker, accepts), never to a refused connection.
    sock.listen(config.backlog)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    click.echo(f"threadcore: serving http://{shown}:{bound[1]} on {_redact(url)}", err=False)
    if console or demo:
        told = f" with the control token {control_token}" if demo else " with the control token"
        click.echo(f"threadcore: console http://{shown}:{bound[1]}/console/ (log in{told})")
    sys.stdout.flush()
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        # uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again with
        # the handlers it found installed: these make that a clean exit 0, as with --workers.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, _exit_cleanly)
        uvicorn.Server(config).run(sockets=[sock])


def _check_console(
    console: bool,
    demo: bool,
    control_token: str | None,
    url: str | None,
    directory_path: str | None,
    workers: int,
) -> None:
    """Refuse what the console cannot be served with (one line, exit code 2)."""
    if demo and not console:
        raise CliError("--demo goes with --console: threadcore serve --console --demo", 2)
    if demo and (url is not None or directory_path is not None or workers > 1):
        raise CliError("--demo makes its own SQLite file and directory (no --db, --directory "
                       "or --workers)", 2)  # fmt: skip
    if not demo and control_token is None:
        raise CliError("--console needs --control-token: the console has its powers", 2)
    try:
        import jinja2  # noqa: F401
    except ImportError:
        extra = "pip install 'threadcore[console]'"
        raise CliError(f"--console needs the 'console' extra: {extra}") from None


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
