"""The inbox console: see and drive a served inbox in the browser (issue 26).

``threadcore serve --console`` (with ``--control-token``) serves it at ``/console/``:
server-rendered pages (Jinja2) over the inbox's operator reads
(:meth:`threadcore.Inbox.operator_threads` and its kin) and the control plane's own functions
(a customer's SMS, delivery callbacks, the clock, directory changes), with htmx (vendored and
pinned: ``static/htmx-2.0.11.min.js``, Zero-Clause BSD) for the live updates.
``docs/console.md`` shows each page.

Needs the ``console`` extra: ``pip install 'threadcore[console]'``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from threadcore.console._app import Console
from threadcore.console._pages import COMMANDS, PAGES, not_found
from threadcore.http._common import Context

__all__ = ["HTMX_VERSION", "console_routes"]

#: The htmx release vendored in ``static/`` (from npm's ``htmx.org``, with its licence).
HTMX_VERSION = "2.0.11"


def console_routes(ctx: Context) -> list[BaseRoute]:
    """The console's routes under ``/console`` for the app serving ``ctx`` (which must have a
    control token: the console has the control plane's powers)."""
    console = Console(ctx)
    routes: list[BaseRoute] = [
        Route("/console/login", console.login_page, methods=["GET"]),
        Route("/console/login", console.login, methods=["POST"]),
        Route("/console/logout", console.logout, methods=["POST"]),
        Route("/console/live", console.page(lambda c, r: c.live(r)), methods=["GET"]),
        Mount(
            "/console/static",
            StaticFiles(packages=[("threadcore.console", "static")]),
            name="console-static",
        ),
    ]
    routes += [Route(path, console.command(cmd), methods=["POST"]) for path, cmd in COMMANDS]
    routes += [Route(path, console.page(page), methods=["GET"]) for path, page in PAGES]
    routes.append(Route("/console", lambda r: console.redirect("/console/"), methods=["GET"]))
    routes.append(Route("/console/{rest:path}", console.page(not_found), methods=["GET", "POST"]))
    return routes
