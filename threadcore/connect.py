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
_POOL_PARAMETERS = {"pool_min": "min_size", "pool_max": "max_size", "pool_timeout": "timeout"}
_SWITCH = {"on": True, "1": True, "true": True, "yes": True,
           "off": False, "0": False, "false": False, "no": False}  # fmt: skip


def connect(url: str | None = None) -> Repository:
    """A repository for ``url``: ``"memory://"``, ``"sqlite:///relative/path.db"``,
    ``"sqlite:////absolute/path.db"``, ``"sqlite://:memory:"`` or ``"postgresql://..."``.

    Without ``url`` the ``THREADCORE_DATABASE_URL`` environment variable is read; without that
    either, :class:`~threadcore.errors.InvalidInput`: several workers must never each get a
    private in-memory store by accident (ask for ``"memory://"``). A PostgreSQL URL may set the
    pool in its query: ``pool_min``, ``pool_max`` (connections), ``pool_timeout`` (seconds a
    command waits for a connection), ``schema`` and ``notify=on`` (wake durable consumers at each
    commit, rule D7); its other parameters (``connect_timeout``,
    ``sslmode`` …) go to libpq. The drivers are imported only when asked for.
    """
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

        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
        if not path:
            raise InvalidInput(f"No file in the database URL {url!r}", parameter="url")
        return SQLiteRepository(path)
    if scheme in ("postgresql", "postgres"):
        try:
            from threadcore.adapters.postgres import PostgresRepository
        except ImportError as error:  # pragma: no cover - depends on the extra being installed
            raise InvalidInput(
                "PostgreSQL storage needs the 'postgres' extra: pip install 'threadcore[postgres]'",
                parameter="url",
            ) from error
        conninfo, options = _pool_options(url)
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
    (:class:`~threadcore.StoredDirectory`): every process that opens the URL shares it, sees a
    change from its next command on, and ``add_*`` / ``remove_*`` / ``load_directory`` change
    it in the same transaction as their effect on the threads (rule R11).

    Give every process of a service the same ``token_secret`` so that their page and sync
    tokens are good everywhere. ``inbox.close()`` (or ``with open_inbox(url) as inbox:``)
    closes the repository.

    ``manual_clock=True`` runs on the manual clock stored in the database
    (:class:`~threadcore.StoredClock`; ``threadcore serve --manual-clock START`` stores one);
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
            if value.lower() not in _SWITCH:
                raise InvalidInput(
                    f"The database URL's notify must be on or off, not {value[:20]!r}",
                    parameter="url",
                )
            options["notify"] = _SWITCH[value.lower()]
        elif unquote(name) in _POOL_PARAMETERS:
            name = unquote(name)
            try:
                number = float(value) if name == "pool_timeout" else int(value)
            except ValueError:
                raise InvalidInput(
                    f"The database URL's {name} must be a number, not {value[:20]!r}",
                    parameter="url",
                ) from None
            if not 0 < number < float("inf"):
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
