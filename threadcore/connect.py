"""Pick storage from a URL, so an embedding service changes storage without code changes."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from threadcore.adapters.memory import InMemoryRepository
from threadcore.adapters.stored_clock import StoredClock, refuse_stored_clock
from threadcore.adapters.stored_directory import StoredDirectory
from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import Policy
from threadcore.inbox import Inbox
from threadcore.ports import Clock, DirectoryPort, Repository

__all__ = ["DATABASE_URL_VARIABLE", "connect", "open_inbox"]

#: The environment variable read when :func:`connect` is given no URL.
DATABASE_URL_VARIABLE = "THREADCORE_DATABASE_URL"


#: Query parameters of a PostgreSQL URL that configure threadcore's pool rather than the
#: connection (the rest, ``connect_timeout`` among them, go to libpq).
_POOL_PARAMETERS = {
    "pool_min": "min_size",
    "pool_max": "max_size",
    "pool_timeout": "timeout",
    "lock_timeout": "lock_timeout",
}
#: Those given in seconds (the others count connections), and those that may be 0.
_SECONDS, _MAY_BE_ZERO = {"pool_timeout", "lock_timeout"}, {"lock_timeout"}
_SWITCH = {"on": True, "1": True, "true": True, "yes": True,
           "off": False, "0": False, "false": False, "no": False}  # fmt: skip


def connect(url: str | None = None) -> Repository:
    """A repository for ``url``: ``"memory://"``, ``"sqlite:///relative/path.db"``,
    ``"sqlite:////absolute/path.db"``, ``"sqlite://:memory:"`` or ``"postgresql://..."``.

    Without ``url`` the ``THREADCORE_DATABASE_URL`` environment variable is read; without that
    either, :class:`~threadcore.errors.InvalidInput`: several workers must never each get a
    private in-memory store by accident (ask for ``"memory://"``). A PostgreSQL URL may set the
    pool in its query: ``pool_min``, ``pool_max`` (connections), ``pool_timeout`` (seconds a
    command waits for a connection), ``lock_timeout`` (seconds a statement waits for a lock
    another session holds, 5 by default, 0 for no limit), ``schema`` and ``notify=on`` (wake
    durable consumers at each commit, rule D7); its other parameters (``connect_timeout``,
    ``sslmode`` …) go to libpq. The drivers are imported only when asked for.

    A PostgreSQL or SQLite URL may say ``migrate=off`` (default ``on``): opening then never
    changes the schema (``create_schema=False``), for a role that may only read and write rows;
    a missing or older schema is :class:`~threadcore.errors.SchemaVersionError` naming
    ``threadcore db upgrade`` (rule D3). A current schema is never changed on open either way.
    In a SQLite URL everything after the first ``?`` is its query (``migrate`` is its only
    parameter) and the file name is percent-decoded: a file name holding ``?`` is written
    ``%3F``, one holding ``%`` is written ``%25``.
    """
    return _connect(url, migrate=None)


def _connect(url: str | None, *, migrate: bool | None) -> Repository:
    """:func:`connect`, with ``migrate`` (when not ``None``) instead of the URL's switch:
    ``threadcore db upgrade`` migrates whatever the URL says (rule D3)."""
    if url is None:
        url = os.environ.get(DATABASE_URL_VARIABLE) or None
        if url is None:
            raise InvalidInput(
                f"No database URL: pass connect(url) or set {DATABASE_URL_VARIABLE} "
                "(memory:// for a store inside this process only)",
                parameter="url",
            )
    if not isinstance(url, str):
        raise InvalidInput("Parameter [url] must be a string", parameter="url")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return InMemoryRepository()
    if scheme == "sqlite":
        from threadcore.adapters.sqlite import SQLiteRepository

        path, switch = _sqlite_target(url)
        if not path:
            raise InvalidInput(f"No file in the database URL {url!r}", parameter="url")
        return SQLiteRepository(path, create_schema=switch if migrate is None else migrate)
    if scheme in ("postgresql", "postgres"):
        try:
            from threadcore.adapters.postgres import PostgresRepository
        except ImportError as error:  # pragma: no cover - depends on the extra being installed
            raise InvalidInput(
                "PostgreSQL storage needs the 'postgres' extra: pip install 'threadcore[postgres]'",
                parameter="url",
            ) from error
        conninfo, options = _pool_options(url)
        if migrate is not None:
            options["create_schema"] = migrate
        repository: Repository = PostgresRepository(conninfo, **options)
        return repository
    raise InvalidInput(
        f"Unknown database URL {url[:60]!r}: use memory://, sqlite:///path.db or postgresql://...",
        parameter="url",
    )


def open_inbox(
    url: str | None = None,
    *,
    token_secret: bytes | None = None,
    policy: Policy | None = None,
    clock: Clock | None = None,
    directory: DirectoryPort | None = None,
    manual_clock: bool | datetime = False,
) -> Inbox:
    """An :class:`~threadcore.Inbox` over the repository at ``url`` (as :func:`connect` reads
    it) and, unless ``directory=`` is given, the directory stored in the same database
    (:class:`~threadcore.storage.StoredDirectory`): every process that opens the URL shares it,
    sees a change from its next command on, and ``add_*`` / ``remove_*`` / ``load_directory``
    change it in the same transaction as their effect on the threads (rule R11).

    ``?migrate=off`` in the URL opens it without ever changing the schema (see :func:`connect`):
    for a service that runs under a role that may only read and write rows.

    Give every process of a service the same ``token_secret`` so that their page and sync
    tokens are good everywhere. ``inbox.close()`` (or ``with open_inbox(url) as inbox:``)
    closes the repository.

    ``manual_clock=True`` runs on the manual clock stored in the database
    (:class:`~threadcore.storage.StoredClock`; ``threadcore serve --manual-clock START`` stores
    one);
    ``manual_clock=START`` first puts the database in manual time at START (a clock already
    later stays where it is). Without it, a database in manual time is refused
    (:class:`~threadcore.errors.ClockMismatch`, rule R18c): ``threadcore clock system``
    returns it to the system clock.
    """
    if manual_clock is not False and not isinstance(manual_clock, datetime | bool):
        raise InvalidInput(
            "Parameter [manual_clock] must be True or a start instant", parameter="manual_clock"
        )
    if manual_clock is not False and clock is not None:
        raise InvalidInput("Give clock or manual_clock, not both", parameter="manual_clock")
    repository = connect(url)
    try:
        if manual_clock is not False:
            start = None if manual_clock is True else manual_clock
            clock = StoredClock(repository, start=start)  # type: ignore[arg-type]
        else:
            refuse_stored_clock(repository, clock)
        return Inbox(
            repository=repository,
            directory=directory if directory is not None else StoredDirectory(repository),
            token_secret=token_secret,
            policy=policy,
            clock=clock,
        )
    except BaseException:
        close = getattr(repository, "close", None)
        if callable(close):
            close()
        raise


def _switch(name: str, value: str) -> bool:
    """A URL's on/off parameter ``name``; anything but on/off (or 1/0, true/false, yes/no) is
    refused, naming it."""
    if value.lower() not in _SWITCH:
        raise InvalidInput(
            f"The database URL's {name} must be on or off, not {value[:20]!r}", parameter="url"
        )
    return _SWITCH[value.lower()]


def _sqlite_target(url: str) -> tuple[str, bool]:
    """The file of a ``sqlite://`` URL (percent-decoded: ``%3F`` is ``?``; empty: none) and its
    ``migrate`` switch. ``sqlite:///rel.db`` is ``rel.db``, ``sqlite:////abs.db`` is ``/abs.db``;
    a query parameter other than ``migrate`` is refused, naming it."""
    path, _, query = url[len("sqlite://") :].partition("?")
    if path.startswith("/"):
        path = path[1:]
    migrate = True
    for piece in query.split("&") if query else []:
        name, _, raw = piece.partition("=")
        if unquote(name) != "migrate":
            raise InvalidInput(
                f"A SQLite database URL takes only migrate=on|off, not {unquote(name)[:20]!r} "
                "(write a ? in a file name as %3F)",
                parameter="url",
            )
        migrate = _switch("migrate", unquote(raw))
    return unquote(path), migrate


def _pool_options(url: str) -> tuple[str, dict[str, Any]]:
    """The URL without threadcore's own query parameters (everything else kept byte for byte:
    libpq reads it), and those parameters as ``PostgresRepository`` options."""
    base, _, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    kept: list[str] = []
    options: dict[str, Any] = {}
    for piece in query.split("&") if query else []:
        name, _, raw = piece.partition("=")
        value = unquote(raw)
        if unquote(name) == "schema":
            options["schema"] = value
        elif unquote(name) == "notify":
            options["notify"] = _switch("notify", value)
        elif unquote(name) == "migrate":
            options["create_schema"] = _switch("migrate", value)
        elif unquote(name) in _POOL_PARAMETERS:
            name = unquote(name)
            try:
                number = float(value) if name in _SECONDS else int(value)
            except ValueError:
                raise InvalidInput(
                    f"The database URL's {name} must be a number, not {value[:20]!r}",
                    parameter="url",
                ) from None
            low_ok = number >= 0 if name in _MAY_BE_ZERO else number > 0
            if not low_ok or number == float("inf"):
                raise InvalidInput(f"The database URL's {name} must be positive", parameter="url")
            options[_POOL_PARAMETERS[name]] = number
        else:
            kept.append(piece)
    if "min_size" in options and "max_size" not in options:
        options["max_size"] = max(10, options["min_size"])  # the default size, or the minimum
    if options.get("min_size", 1) > options.get("max_size", 10):
        raise InvalidInput("The database URL's pool_min exceeds its pool_max", parameter="url")
    conninfo = base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
    return conninfo, options
