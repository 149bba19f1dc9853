"""``threadcore serve --console --demo``: the demo's inbox, ready to be looked at (issue 26).

The demo's seeded workload (``threadcore demo``) is replayed into an embedded SQLite file in a new
temporary folder, without the sweeps after its last conversation, so the inbox holds open
threads; the service then runs on a manual clock that starts a minute after that conversation,
with a control token of its own (printed with the console's URL) and a bearer token for every
handler (``demo-<extension id>``).
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import attrs

from threadcore.cli.directory_file import dump_directory, load_directory
from threadcore.cli.workload import DEMO_RESOURCES, demo_lines

__all__ = ["Demo", "prepare_demo"]

#: The demo's size: a few hundred customers over three days start in about a second.
CUSTOMERS = 300
DAYS = 3


@attrs.frozen
class Demo:
    """What ``serve --demo`` serves: the database, its directory file, the clock's start and
    the handlers' bearer tokens."""

    url: str
    directory_path: Path
    start: datetime
    tokens: dict[str, str]


def prepare_demo() -> Demo:
    """Replay the demo's workload into ``demo.db`` in a new temporary folder."""
    from threadcore.cli._replay_file import replay_file

    folder = Path(tempfile.mkdtemp(prefix="threadcore-console-demo-"))
    lines = demo_lines(customers=CUSTOMERS, days=DAYS)
    last = max(line["at"] for line in lines if line["type"] != "sweep")
    lines = [line for line in lines if line["at"] <= last]
    log, directory_path = folder / "demo.jsonl", folder / "directory.json"
    log.write_text(
        "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines),
        encoding="utf-8",
    )
    directory_path.write_text(json.dumps(dump_directory(DEMO_RESOURCES)), encoding="utf-8")
    url = f"sqlite:///{(folder / 'demo.db').resolve()}"
    replay_file(
        log,
        url,
        load_directory(directory_path),
        strict=False,
        batch=500,
        progress=False,
        report_refused=0,
        title="demo",
    )
    start = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(minutes=1)
    handlers = sorted({h.extension_id for r in DEMO_RESOURCES for h in r.handlers})
    return Demo(url, directory_path, start, {f"demo-{h}": h for h in handlers})
