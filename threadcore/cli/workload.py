"""The demo's workload: a seeded, realistic shared-inbox history as replay lines.

Three resources (a billing queue, a support queue, a sales team) with a few handlers each, many
customers, a few simulated days. Each conversation is a burst of inbound texts, usually an
assignment and replies with their carrier callbacks (sent, delivered; some late, some twice, a
few failures), sometimes a note, a customer reply, a manual resolve or a deletion, or silence
long enough to expire. Some customers text STOP, after which a reply is refused; some handlers
reply on a colleague's thread or resolve a thread twice, which the rules refuse; some carrier
webhooks arrive twice. A sweep runs every six simulated hours.

The same seed gives the same lines, so the demo's figures are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from threadcore import Handler, Resource

__all__ = ["DEMO_RESOURCES", "DEMO_START", "demo_lines"]

DEMO_START = datetime(2026, 2, 16, 8, 0, tzinfo=UTC)

DEMO_RESOURCES = (
    Resource(
        extension_id="6249888001",
        name="Billing Queue",
        extension_type="Department",
        phone_numbers=["+12092480001", "+12092480002"],
        handlers=[Handler("101", name="Ann Lee"), Handler("102", name="Bo Chen"), "103"],
    ),
    Resource(
        extension_id="6249888002",
        name="Support Queue",
        extension_type="Department",
        phone_numbers=["+12092480010"],
        handlers=[
            Handler("201", name="Cy Diaz"),
            Handler("202", name="Di Evans"),
            Handler("203", name="Ed Fox"),
            Handler("101", name="Ann Lee"),
        ],
    ),
    Resource(
        extension_id="6249888003",
        name="Sales",
        extension_type="Department",
        phone_numbers=["+12092480020"],
        handlers=[Handler("301", name="Flo Gray"), Handler("302", name="Gus Hill")],
    ),
)

_OPENERS = (
    "Hi, my last bill looks too high",
    "Is my order shipped yet?",
    "Can I change my appointment to Friday?",
    "The app keeps logging me out",
    "Do you have this in blue?",
    "Hello? Anyone there",
    "I was charged twice this month",
    "What are your opening hours?",
)
_FOLLOW_UPS = ("Also, the account number is 4471", "Thanks!", "Any update?", "ok", "see photo")
_REPLIES = (
    "Hi, this is {name}, looking into it now",
    "Thanks for waiting, it is sorted",
    "Could you send me the order number?",
    "I have refunded the duplicate charge",
    "You can close this case.",
)
_NOTES = ("Customer is a VIP, be quick", "Escalated to tier 2", "Refund approved by manager")


class _Conversation:
    """Lines of one conversation, each ``(instant, order, line)``; ``order`` keeps lines of
    the same instant in the order they were made."""

    def __init__(self, lines: list[tuple[datetime, int, dict[str, Any]]], ids: Iterator[int]):
        self.lines = lines
        self.ids = ids

    def add(self, at: datetime, line: dict[str, Any]) -> None:
        self.lines.append((at, next(self.ids), {"type": line.pop("type"), "at": _ts(at), **line}))


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _conversation(
    rng: random.Random,
    out: _Conversation,
    resource: Resource,
    owner: str,
    guest: str,
    start: datetime,
    serial: int,
) -> None:
    handlers = [h.extension_id for h in resource.handlers]
    names = {h.extension_id: h.name or h.extension_id for h in resource.handlers}
    pid = f"demo-{serial}"
    t = start
    first = f"{pid}-in-0"
    for i in range(rng.choice((1, 1, 1, 2, 3))):
        text = rng.choice(_OPENERS) if i == 0 else rng.choice(_FOLLOW_UPS)
        out.add(
            t, {"type": "inbound", "from": guest, "to": owner, "text": text, "id": f"{pid}-in-{i}"}
        )
        if rng.random() < 0.05:  # the carrier's webhook is retried: the same id again
            out.add(
                t + timedelta(seconds=rng.randint(2, 40)),
                {
                    "type": "inbound",
                    "from": guest,
                    "to": owner,
                    "text": text,
                    "id": f"{pid}-in-{i}",
                },
            )
        t += timedelta(seconds=rng.randint(5, 90))
    thread = {"message": first}
    if rng.random() < 0.12:
        return  # nobody answers: it expires after 72 h of silence (if the demo runs that long)
    t += timedelta(minutes=rng.randint(1, 45))
    taker = rng.choice(handlers)
    assignee = taker if rng.random() < 0.7 else rng.choice(handlers)
    if rng.random() < 0.04:  # someone replies before anyone took the thread: refused
        out.add(
            t,
            {
                "type": "outbound",
                "actor": taker,
                "from": owner,
                "to": guest,
                "text": "On it",
                "id": f"{pid}-early",
            },
        )
        t += timedelta(seconds=30)
    out.add(t, {"type": "assign", "actor": taker, "thread": thread, "assignee": assignee})
    others = [h for h in handlers if h != assignee]
    if others and rng.random() < 0.05:  # a colleague replies on the assignee's thread: refused
        t += timedelta(seconds=rng.randint(10, 60))
        out.add(
            t,
            {
                "type": "outbound",
                "actor": rng.choice(others),
                "from": owner,
                "to": guest,
                "text": "I can help too",
                "id": f"{pid}-colleague",
            },
        )
    if rng.random() < 0.2:
        t += timedelta(minutes=rng.randint(1, 20))
        author = rng.choice(handlers)
        out.add(t, {"type": "note", "actor": author, "thread": thread, "text": rng.choice(_NOTES)})
    opted_out = False
    for r in range(rng.choice((1, 1, 2, 3))):
        t += timedelta(minutes=rng.randint(1, 30))
        text = rng.choice(_REPLIES).format(name=names[assignee])
        mid = f"{pid}-out-{r}"
        out.add(
            t,
            {
                "type": "outbound",
                "actor": assignee,
                "from": owner,
                "to": guest,
                "text": text,
                "id": mid,
            },
        )
        if opted_out:
            break  # refused: the guest opted out; nothing to report
        sent = t + timedelta(seconds=rng.randint(1, 5))
        out.add(sent, {"type": "delivery", "message": mid, "status": "Sent"})
        if rng.random() < 0.03:
            out.add(
                sent + timedelta(seconds=rng.randint(5, 60)),
                {
                    "type": "delivery",
                    "message": mid,
                    "status": "DeliveryFailed",
                    "errorCode": "30006",
                },
            )
        else:
            done = sent + timedelta(seconds=rng.randint(3, 120))
            out.add(done, {"type": "delivery", "message": mid, "status": "Delivered"})
            if rng.random() < 0.08:  # a late Sent after Delivered: changes nothing
                out.add(
                    done + timedelta(minutes=rng.randint(1, 30)),
                    {"type": "delivery", "message": mid, "status": "Sent"},
                )
            if rng.random() < 0.05:  # the same report twice: changes nothing
                out.add(
                    done + timedelta(seconds=rng.randint(1, 30)),
                    {"type": "delivery", "message": mid, "status": "Delivered"},
                )
        if rng.random() < 0.5:
            t += timedelta(minutes=rng.randint(2, 240))
            stop = rng.random() < 0.06
            text = "STOP" if stop else rng.choice(_FOLLOW_UPS)
            out.add(
                t,
                {
                    "type": "inbound",
                    "from": guest,
                    "to": owner,
                    "text": text,
                    "id": f"{pid}-reply-{r}",
                },
            )
            opted_out = opted_out or stop
    ending = rng.random()
    t += timedelta(minutes=rng.randint(5, 600))
    if ending < 0.6:
        resolver = assignee if rng.random() < 0.7 else rng.choice(handlers)
        out.add(t, {"type": "resolve", "actor": resolver, "thread": thread})
        if rng.random() < 0.03:  # a colleague resolves it again a little later: refused
            out.add(
                t + timedelta(minutes=2),
                {"type": "resolve", "actor": rng.choice(handlers), "thread": thread},
            )
    if ending > 0.95:
        out.add(
            t + timedelta(minutes=rng.randint(1, 60)),
            {"type": "delete", "actor": rng.choice(handlers), "thread": thread},
        )
    # otherwise silence: the thread expires 72 h after its latest message


def demo_lines(*, seed: int = 7, customers: int = 1000, days: int = 5) -> list[dict[str, Any]]:
    """The demo's replay lines, in time order: ``customers`` customers over ``days`` days."""
    rng = random.Random(seed)
    made: list[tuple[datetime, int, dict[str, Any]]] = []
    counter = iter(range(1 << 62))
    out = _Conversation(made, counter)
    weights = (0.45, 0.4, 0.15)
    serial = 0
    for c in range(customers):
        guest = f"+1650{5550000 + c:07d}"
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            resource = rng.choices(DEMO_RESOURCES, weights)[0]
            owner = rng.choice(resource.phone_numbers)
            day = rng.randrange(days)
            hour = rng.choice((8, 9, 9, 10, 11, 12, 13, 14, 14, 15, 16, 17, 19, 22))
            start = DEMO_START + timedelta(
                days=day, hours=hour - DEMO_START.hour, seconds=rng.randrange(3600)
            )
            _conversation(rng, out, resource, owner, guest, start, serial)
            serial += 1
    end = DEMO_START + timedelta(days=days + 2)
    sweep = DEMO_START + timedelta(hours=6)
    while sweep <= end:
        out.add(sweep, {"type": "sweep"})
        sweep += timedelta(hours=6)
    made.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in made]
