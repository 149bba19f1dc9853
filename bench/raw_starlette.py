"""The HTTP baseline of ``bench_http_load``: a raw Starlette endpoint doing the fair raw's SQL.

    RAW_URL=postgresql://... RAW_SCHEMA=... RAW_OWNER=+1... \\
        uvicorn raw_starlette:create_app --factory --app-dir bench --workers 4 --port 8001

``POST /inbound`` takes the carrier's document (``{"from", "to", "text"}``) and stores it with
:class:`pg_baselines.FairRaw` (threadcore's schema and rows, 2 round trips), answering the
message's id and its thread's id as JSON. A sync endpoint: Starlette runs it in its thread pool,
each thread with a connection of its own. What it does not do, that ``threadcore serve`` does:
authenticate the control plane's token, check the document's shape and fields, map the stored
message to the platform's JSON, and everything ``Inbox.receive`` does that the fair raw does not
(``pg_baselines``' docstring).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

from pg_baselines import FairRaw
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TTL = timedelta(hours=72)


def create_app() -> Starlette:
    """The app, configured by ``RAW_URL``, ``RAW_SCHEMA`` and ``RAW_OWNER``."""
    url, schema, owner = os.environ["RAW_URL"], os.environ["RAW_SCHEMA"], os.environ["RAW_OWNER"]
    local = threading.local()

    def raw() -> FairRaw:
        found: FairRaw | None = getattr(local, "raw", None)
        if found is None:
            found = local.raw = FairRaw(url, schema, owner, TTL)
        return found

    def store(body: dict[str, str]) -> str:
        return raw().receive(body["from"], body["text"], datetime.now(UTC))

    async def inbound(request: Request) -> Response:
        thread_id = await run_in_threadpool(store, json.loads(await request.body()))
        return Response(json.dumps({"threadId": thread_id}), media_type="application/json")

    async def health(request: Request) -> Response:
        return Response('{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route("/inbound", inbound, methods=["POST"]), Route("/health", health)]
    )
