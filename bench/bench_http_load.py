"""``threadcore serve`` under load on PostgreSQL: several workers, many concurrent clients, a mix
of the platform's operations and of the carrier's inbound messages, next to the rate of a no-op
endpoint (``GET /threadcore/v1/health``) with the same clients in the same run: the HTTP ceiling
of this machine.

    python bench/bench_http_load.py [--url URL] [--workers 4] [--clients 32] [--requests 3000]

Without ``--url`` (or ``THREADCORE_TEST_POSTGRES_URL``) a throwaway PostgreSQL is started. The
clients are asyncio tasks over aiohttp in this process, each acting as one handler of one of four
resources: customers' messages arrive through the control plane (unique carrier ids, one in
twenty sent again), handlers list, sync (ISync against their own replica), assign threads to
themselves, send on them, and read messages and entries.

Then, unless ``--receives 0``, the served receive against its baselines, in ``--rounds``
interleaved rounds (median, min-max; p50 and p99 of the median round), each contender with
``--receives`` inbound messages round-robin over 500 new pairs a round:

* ``served``: ``POST /threadcore/v1/carrier/inbound`` (no carrier id) on the same server, from
  the same concurrent clients;
* ``library``: ``Inbox.receive`` on ``PostgresRepository`` in ``--workers`` processes (the same
  process count), on the same database (a schema of its own), each receiving in a loop: the
  target is the served receive at 0.8 of it or more (the framework's cost a fifth at most);
* ``raw Starlette``: ``bench/raw_starlette.py`` served by uvicorn with ``--workers`` processes,
  from the same clients: a Starlette endpoint doing the fair raw's SQL (``bench/pg_baselines.py``)
  and nothing else, on the same database (a schema of its own).

The run fails (exit 1) unless: no answer is a 5xx and every 4xx is one the rules expect (a send
or an assignment raced by another handler); every (business number, customer) pair has at most
one open thread; every accepted inbound message is stored once (a repeated carrier id answers the
same message); every handler's ISync replica equals a fresh FSync at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pgserver
import psycopg
from bench_receive import spread

BASE = "/restapi/v1.0/account/~/message-threads"
CONTROL = {"Authorization": "Bearer ctl"}
RESOURCES = 4
HANDLERS_PER_RESOURCE = 4
SUPERVISOR = "900"  # a handler of every resource: the checks read through it
#: The refusals a correct run may see: a raced send or assignment (another handler took the
#: thread first), by HTTP status and error code.
EXPECTED_REFUSALS = {(403, "NotPermitted"), (403, "NotAssignee"), (409, "Conflict")}


def number(resource: int) -> str:
    return f"+1209248{resource + 1:04d}"


def customer(index: int) -> str:
    return f"+1650224{index:04d}"


def handler(resource: int, index: int) -> str:
    return f"{resource + 1}{index + 1:02d}"


def directory() -> dict[str, Any]:
    return {
        "resources": [
            {
                "extensionId": f"62498880{r + 1:02d}",
                "name": f"Queue {r + 1}",
                "phoneNumbers": [number(r)],
                "handlers": [handler(r, h) for h in range(HANDLERS_PER_RESOURCE)] + [SUPERVISOR],
            }
            for r in range(RESOURCES)
        ]
    }


def tokens() -> dict[str, str]:
    extensions = [handler(r, h) for r in range(RESOURCES) for h in range(HANDLERS_PER_RESOURCE)]
    return {f"tok-{e}": e for e in [*extensions, SUPERVISOR]}


def user(extension: str) -> dict[str, str]:
    return {"Authorization": f"Bearer tok-{extension}"}


class Server:
    """``threadcore serve`` in a child process, stopped with SIGTERM."""

    def __init__(self, url: str, workers: int, folder: Path) -> None:
        (folder / "directory.json").write_text(json.dumps(directory()))
        (folder / "tokens.json").write_text(json.dumps(tokens()))
        command = [
            sys.executable, "-m", "threadcore", "serve", "--db", url, "--port", "0",
            "--workers", str(workers), "--control-token", "ctl",
            "--directory", str(folder / "directory.json"), "--tokens", str(folder / "tokens.json"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"serving (http://\S+)", line)
        if found is None:
            self.process.kill()
            raise SystemExit(f"threadcore serve did not start: {line!r}")
        self.url = found.group(1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


class Replica:
    """A handler's threads as FSync once and then only ISync pages make them."""

    def __init__(self, extension: str) -> None:
        self.extension = extension
        self.records: dict[str, Any] = {}
        self.token = ""

    def apply(self, page: dict[str, Any], full: bool) -> None:
        if full:
            self.records = {}
        for thread in page["records"]:
            if thread["status"] == "Open" and thread["availability"] == "Alive":
                self.records[thread["id"]] = thread
            else:
                self.records.pop(thread["id"], None)
        self.token = page["syncInfo"]["syncToken"]


class Http:
    """An aiohttp session that records every answer: its status and error code by operation, and
    its latency. (aiohttp, not httpx: httpx's connection pool slows down with many connections,
    measured here at 190 health requests/s with 32 against aiohttp's 4,200 on the same server,
    and the client would be the ceiling.)"""

    def __init__(self, url: str, connections: int) -> None:
        self.session = aiohttp.ClientSession(
            base_url=url,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        self.statuses: Counter[tuple[str, int, str]] = Counter()
        self.latency: defaultdict[str, list[float]] = defaultdict(list)

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def __call__(
        self,
        name: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        t0 = time.perf_counter()
        async with self.session.request(
            method, path, params=params, json=body, headers=headers
        ) as response:
            raw = await response.read()
        self.latency[name].append(time.perf_counter() - t0)
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = {"errorCode": "not JSON"}
        code = ""
        if response.status >= 400 and isinstance(document, dict):
            code = str(document.get("errorCode", ""))
        self.statuses[(name, response.status, code)] += 1
        return response.status, document

    async def ok(self, name: str, path: str, params: dict[str, Any], extension: str) -> Any:
        """A GET that must answer 200 (the checks' reads)."""
        status, document = await self(name, "GET", path, params=params, headers=user(extension))
        if status != 200:
            raise AssertionError(f"{path} answered {status}: {document}")
        return document


class Client:
    """One concurrent client: a handler of one resource, with what it learned so far."""

    def __init__(self, index: int, customers: int, seed: int) -> None:
        self.resource = index % RESOURCES
        self.extension = handler(self.resource, (index // RESOURCES) % HANDLERS_PER_RESOURCE)
        self.index = index
        self.random = random.Random(seed * 1000 + index)
        self.customers = customers
        self.known: dict[str, str] = {}  # thread id -> customer number
        self.mine: list[str] = []  # threads assigned to this client's handler
        self.delivered: list[tuple[dict[str, str], str]] = []  # (inbound body, message id)
        self.replica = Replica(self.extension)
        self.inbound_stored: set[str] = set()

    async def step(self, http: Http, i: int) -> None:
        kind = self.random.choices(
            ["inbound", "list", "sync", "assign", "send", "messages", "entries"],
            weights=[30, 15, 10, 15, 15, 10, 5],
        )[0]
        if (kind == "assign" and not self.known) or (kind == "send" and not self.mine):
            kind = "inbound"
        await getattr(self, kind)(http, i)

    async def inbound(self, http: Http, i: int) -> None:
        if self.delivered and self.random.random() < 0.05:  # the carrier retries a delivery
            body, first = self.random.choice(self.delivered)
        else:
            guest = customer(self.random.randrange(self.customers))
            body = {"from": guest, "to": number(self.resource), "text": f"hello {i}"}
            body["id"], first = f"load-{self.index}-{i}", None
        status, message = await http(
            "inbound", "POST", "/threadcore/v1/carrier/inbound", body=body, headers=CONTROL
        )
        if status == 200:
            if first is not None and message["id"] != first:
                raise AssertionError(f"carrier id {body['id']} stored twice")
            self.known[message["threadId"]] = body["from"]
            self.inbound_stored.add(message["id"])
            if first is None:
                self.delivered.append((body, message["id"]))

    async def list(self, http: Http, i: int) -> None:
        status, page = await http(
            "list", "GET", BASE, params={"perPage": 50}, headers=user(self.extension)
        )
        if status == 200:
            for thread in page["records"]:
                self.known[thread["id"]] = thread["guestParty"]["phoneNumber"]

    async def sync(self, http: Http, i: int) -> None:
        params = {"syncType": "ISync", "syncToken": self.replica.token}
        status, page = await http(
            "sync", "GET", f"{BASE}/sync", params=params, headers=user(self.extension)
        )
        if status == 200:
            self.replica.apply(page, full=False)

    async def assign(self, http: Http, i: int) -> None:
        thread_id = self.random.choice(list(self.known))
        body = {"assignee": {"extensionId": self.extension}}
        status, _ = await http(
            "assign", "POST", f"{BASE}/{thread_id}/assign", body=body, headers=user(self.extension)
        )
        if status == 200 and thread_id not in self.mine:
            self.mine.append(thread_id)

    async def send(self, http: Http, i: int) -> None:
        thread_id = self.random.choice(self.mine)
        body = {
            "threadId": thread_id,
            "from": {"phoneNumber": number(self.resource)},
            "to": [{"phoneNumber": self.known[thread_id]}],
            "text": f"reply {i}",
        }
        status, _ = await http(
            "send", "POST", f"{BASE}/messages", body=body, headers=user(self.extension)
        )
        if status >= 400:  # another handler took it meanwhile
            self.mine.remove(thread_id)

    async def messages(self, http: Http, i: int) -> None:
        params: dict[str, Any] = {"perPage": 50}
        if self.known:
            params["threadIds"] = self.random.choice(list(self.known))
        await http(
            "messages", "GET", f"{BASE}/messages", params=params, headers=user(self.extension)
        )

    async def entries(self, http: Http, i: int) -> None:
        params = {"syncType": "FSync", "scope": "AssignedToMe"}
        await http(
            "entries", "GET", f"{BASE}/entries/sync", params=params, headers=user(self.extension)
        )


async def _run_clients(
    http: Http, count: int, requests: int, work: Callable[[Http, int, int], Awaitable[None]]
) -> float:
    """``requests`` calls of ``work`` spread over ``count`` concurrent clients: seconds."""
    per_client = requests // count

    async def one(c: int) -> None:
        for i in range(per_client):
            await work(http, c, i)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(count)))
    return time.perf_counter() - t0


async def _health(http: Http, c: int, i: int) -> None:
    status, _ = await http("health", "GET", "/threadcore/v1/health")
    if status != 200:
        raise AssertionError(f"health answered {status}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _every_page(http: Http, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of a numbered list, read by the supervisor (a handler of every resource)."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        document = await http.ok(
            "check", path, {**params, "perPage": 1000, "page": page}, SUPERVISOR
        )
        found += document["records"]
        if page >= document["paging"]["totalPages"]:
            return found
        page += 1


async def measure(url: str, clients: int, requests: int, customers: int, seed: int) -> int:
    crowd = [Client(c, customers, seed) for c in range(clients)]
    async with Http(url, clients) as http:
        for client in crowd:
            page = await http.ok("check", f"{BASE}/sync", {"syncType": "FSync"}, client.extension)
            client.replica.apply(page, full=True)
        await _run_clients(http, clients, clients * 20, _health)  # warm up every worker

        async def mix(http: Http, c: int, i: int) -> None:
            await crowd[c].step(http, i)

        ceiling_before = await _run_clients(http, clients, requests, _health)
        mixed = await _run_clients(http, clients, requests, mix)
        ceiling_after = await _run_clients(http, clients, requests, _health)
        failures = await _check(http, crowd)
    done = (requests // clients) * clients
    ceiling = done / min(ceiling_before, ceiling_after)
    rate = done / mixed
    print(f"clients {clients}, requests {done} per phase")
    print(f"mix: {rate:,.0f} requests/s")
    print(f"ceiling (GET /threadcore/v1/health, best of two): {ceiling:,.0f} requests/s")
    print(f"mix / ceiling: {rate / ceiling:.2f}")
    print("| operation | requests | p50 ms | p99 ms | answers |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name in sorted(set(http.latency) - {"check", "health"}):
        times = http.latency[name]
        answers = ", ".join(
            f"{status}{' ' + code if code else ''}: {n}"
            for (op, status, code), n in sorted(http.statuses.items())
            if op == name
        )
        print(
            f"| {name} | {len(times)} | {_percentile(times, 0.5) * 1000:.1f} "
            f"| {_percentile(times, 0.99) * 1000:.1f} | {answers} |"
        )
    for (op, status, code), n in sorted(http.statuses.items()):
        if status >= 500:
            failures.append(f"{n} answers {status} {code} to {op}")
        elif status >= 400 and (status, code) not in EXPECTED_REFUSALS:
            failures.append(f"{n} unexpected answers {status} {code} to {op}")
    for failure in failures:
        print(f"FAILED: {failure}")
    print("all checks passed" if not failures else f"{len(failures)} checks failed")
    return 1 if failures else 0


async def _check(http: Http, crowd: list[Client]) -> list[str]:
    """What must hold after the run; the failures, said."""
    failures = []
    open_threads = await _every_page(http, BASE, {"threadStatus": "Open"})
    pairs = Counter(
        (t["ownerParty"]["phoneNumber"], t["guestParty"]["phoneNumber"]) for t in open_threads
    )
    doubled = [pair for pair, n in pairs.items() if n > 1]
    if doubled:
        failures.append(f"pairs with more than one open thread: {doubled[:5]}")
    accepted = set().union(*(c.inbound_stored for c in crowd))
    messages = await _every_page(http, f"{BASE}/messages", {})
    stored = {m["id"] for m in messages if m["direction"] == "Inbound"}
    if stored != accepted:
        failures.append(
            f"inbound messages: {len(accepted)} accepted, {len(stored)} stored "
            f"({len(accepted - stored)} lost, {len(stored - accepted)} unexpected)"
        )
    for client in crowd:
        params = {"syncType": "ISync", "syncToken": client.replica.token}
        client.replica.apply(
            await http.ok("check", f"{BASE}/sync", params, client.extension), False
        )
        full = await http.ok("check", f"{BASE}/sync", {"syncType": "FSync"}, client.extension)
        if client.replica.records != {t["id"]: t for t in full["records"]}:
            failures.append(f"client {client.index}: its ISync replica differs from FSync")
    print(
        f"checks: {len(pairs)} pairs, one open thread each; {len(stored)} inbound messages "
        f"stored once; {len(crowd)} ISync replicas equal to FSync"
    )
    return failures


def _library_worker(database: str, guests: list[str], start: Any, done: Any) -> None:
    """One process: ``Inbox.receive`` on ``PostgresRepository`` for each of ``guests``, timed."""
    from threadcore import Directory, Inbox, Resource
    from threadcore.adapters.postgres import PostgresRepository

    resources = [
        Resource(
            r["extensionId"],
            name=r["name"],
            phone_numbers=r["phoneNumbers"],
            handlers=r["handlers"],
        )
        for r in directory()["resources"]
    ]
    url, _, schema = database.partition("?schema=")
    repo = PostgresRepository(url, schema=schema, min_size=1, max_size=1)
    receive = Inbox(repository=repo, directory=Directory(resources)).receive
    receive(owner_number=number(0), guest_number="+16509999999", body="warm-up")
    start.wait()
    took = []
    for guest in guests:
        began = time.perf_counter()
        receive(owner_number=number(0), guest_number=guest, body="hello")
        took.append(time.perf_counter() - began)
    repo.close()
    done.put(took)


def _library(database: str, workers: int, guests: list[str]) -> tuple[float, list[float]]:
    """``workers`` processes receiving ``guests`` between them: messages/s and latencies."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers + 1)
    done: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_library_worker, args=(database, guests[w::workers], start, done))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait(timeout=300)
    t0 = time.perf_counter()
    took = [t for _ in procs for t in done.get(timeout=600)]
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join(timeout=60)
    return len(took) / elapsed, took


class RawServer:
    """``bench/raw_starlette.py`` under uvicorn with ``workers`` processes."""

    def __init__(self, url: str, schema: str, workers: int) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "RAW_URL": url, "RAW_SCHEMA": schema, "RAW_OWNER": number(0)}
        command = [
            sys.executable, "-m", "uvicorn", "raw_starlette:create_app", "--factory",
            "--app-dir", str(Path(__file__).resolve().parent), "--workers", str(workers),
            "--port", str(port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=env)
        self.url = f"http://127.0.0.1:{port}"

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise SystemExit("the raw Starlette server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


async def _posted(
    base: str, path: str, headers: dict[str, str], clients: int, guests: list[str]
) -> tuple[float, list[float]]:
    """``guests``' inbound messages posted by ``clients`` concurrent clients: messages/s and
    latencies (every answer must be 200)."""
    async with Http(base, clients) as http:
        await _run_clients(http, clients, clients * 5, _warm(path, headers))
        share = [guests[c::clients] for c in range(clients)]

        async def post(http: Http, c: int, i: int) -> None:
            body = {"from": share[c][i], "to": number(0), "text": "hello"}
            status, _ = await http("receive", "POST", path, body=body, headers=headers)
            if status != 200:
                raise AssertionError(f"{path} answered {status}")

        seconds = await _run_clients(http, clients, len(guests), post)
    done = (len(guests) // clients) * clients
    return done / seconds, http.latency["receive"]


def _warm(path: str, headers: dict[str, str]) -> Callable[[Http, int, int], Awaitable[None]]:
    async def warm(http: Http, c: int, i: int) -> None:
        body = {"from": f"+1659{c:03d}{i:04d}", "to": number(0), "text": "warm-up"}
        await http("warm", "POST", path, body=body, headers=headers)

    return warm


def compare_receive(
    url: str, served: str, workers: int, clients: int, receives: int, rounds: int
) -> list[str]:
    """The served receive against the library's and the raw Starlette endpoint's, interleaved
    rounds; the report's lines."""
    library_schema, raw_schema = "lib_" + uuid.uuid4().hex[:10], "raw_" + uuid.uuid4().hex[:10]
    from threadcore.adapters.postgres import PostgresRepository

    for schema in (library_schema, raw_schema):
        PostgresRepository(url, schema=schema).close()  # threadcore's migrations
    raw = RawServer(url, raw_schema, workers)
    got: dict[str, list[tuple[float, list[float]]]] = {"served": [], "library": [], "raw": []}
    try:
        asyncio.run(raw.ready())
        for n in range(rounds):
            guests = [f"+1652{n:02d}{k % 500:05d}" for k in range(receives)]
            got["served"].append(asyncio.run(_posted(
                served, "/threadcore/v1/carrier/inbound", CONTROL, clients, guests
            )))  # fmt: skip
            library = f"{url}{'&' if '?' in url else '?'}schema={library_schema}"
            got["library"].append(_library(library, workers, guests))
            got["raw"].append(asyncio.run(_posted(raw.url, "/inbound", {}, clients, guests)))
    finally:
        raw.stop()
        for schema in (library_schema, raw_schema):
            _drop(url, schema)
    names = {"served": "served receive (threadcore serve)", "library": "library receive",
             "raw": "raw Starlette endpoint (fair raw SQL)"}  # fmt: skip
    lines = [
        f"receive: {receives} inbound messages per round on {min(receives, 500)} new pairs, "
        f"{workers} processes, "
        f"{clients} clients; median (min-max) of {rounds} interleaved rounds; load average "
        f"{os.getloadavg()[0]:.1f} at the end",
        "| contender | messages/s | served / it | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, name in names.items():
        rates = [rate for rate, _ in got[kind]]
        middle = sorted(range(rounds), key=lambda i: rates[i])[rounds // 2]
        took = got[kind][middle][1]
        ratios = [s / r for (s, _), r in zip(got["served"], rates, strict=True)]
        ratio = "" if kind == "served" else spread(ratios, ".2f")
        lines.append(
            f"| {name} | {spread(rates, ',.0f')} | {ratio} | "
            f"{_percentile(took, 0.5) * 1000:.1f} | {_percentile(took, 0.99) * 1000:.1f} |"
        )
    ratios = [s / lib for (s, _), (lib, _) in zip(got["served"], got["library"], strict=True)]
    met = "met" if statistics.median(ratios) >= 0.8 else "not met"
    lines.append(f"served / library receive: {spread(ratios, '.2f')} (target ≥ 0.8: {met})")
    return lines


def _drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=pgserver.default_url())
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=50, help="customers per number")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--receives", type=int, default=1000, help="per contender and round")
    parser.add_argument("--rounds", type=int, default=3, help="of the receive comparison")
    parser.add_argument("--out", type=Path, help="also write the receive comparison here")
    args = parser.parse_args()
    with pgserver.postgres(args.url) as url, tempfile.TemporaryDirectory() as folder:
        schema = "load_" + uuid.uuid4().hex[:10]
        database = f"{url}{'&' if '?' in url else '?'}schema={schema}"
        server = Server(database, args.workers, Path(folder))
        try:
            print(f"threadcore serve --workers {args.workers} on PostgreSQL at {server.url}")
            code = asyncio.run(
                measure(server.url, args.clients, args.requests, args.customers, args.seed)
            )
            if args.receives:
                lines = compare_receive(url, server.url, args.workers, args.clients,
                                        args.receives, args.rounds)  # fmt: skip
                print("\n".join(lines))
                if args.out:
                    command = " ".join(["python bench/bench_http_load.py", *sys.argv[1:]])
                    args.out.write_text(f"`{command}`: " + "\n\n".join(
                        [lines[0], "\n".join(lines[1:-1]), lines[-1]]
                    ) + "\n", encoding="utf-8")  # fmt: skip
        finally:
            stopped = server.stop()
            _drop(url, schema)
        if stopped != 0:
            print(f"FAILED: threadcore serve exited with {stopped}")
            code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
