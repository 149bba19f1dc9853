"""The world the stateful machine plays in, and the hypothesis strategies it draws from: two
resources with their numbers and handlers, guests, actors, bodies (keywords among them),
attachments, provider ids, delivery paths and clock steps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from threadcore.domain.model import DeliveryStatus
from threadcore.testing.model import MContent

__all__ = [
    "ACTORS",
    "ALL_STATUSES",
    "DELIVERY_PATHS",
    "ENTRY_ACTORS",
    "GUESTS",
    "NAMES",
    "OWNER_NUMBERS",
    "RESOURCES",
    "START",
    "TTL",
    "actors",
    "attachment_lists",
    "availability_choices",
    "bodies",
    "contents",
    "inbound_bodies",
    "note_texts",
    "owner_id_lists",
    "owner_numbers",
    "provider_ids",
    "sources",
    "steps",
    "thread_statuses",
]

START = datetime(2026, 2, 17, 17, 0, tzinfo=timezone.utc)


TTL = timedelta(hours=72)


Q1, Q2 = "6249888001", "6249888002"


N1, N2, N3, N4 = "+12092480001", "+12092480002", "+12092480003", "+12092480004"


OWNER_NUMBERS = [N1, N2, N3, N4]  # N4 belongs to nobody until a step adds it


GUESTS = ["+16502240001", "+16502240002", "+14083210001"]


ACTORS = ["101", "102", "103", "104", "999"]  # 999 handles nothing


NAMES = {"102": "Ann Lee", "104": "Bo"}


RESOURCES: dict[str, tuple[str, list[str], list[str]]] = {
    Q1: ("Billing Queue", [N1, N2], ["101", "102", "103"]),
    Q2: ("Support Queue", [N3], ["103", "104"]),
}


bodies = st.sampled_from(["Hi", "Thanks", "You can close this case.", "ok?"])


#: What guests text: plain bodies, carrier keywords in odd case and whitespace, and near misses.
inbound_bodies = st.one_of(
    bodies,
    st.sampled_from(
        [
            "STOP",
            "stop",
            " Stop\n",
            "\tquit ",
            "UNSUBSCRIBE",
            "StopAll",
            "optout",
            "START",
            " yes",
            "Unstop",
            "help",
            "INFO ",
            "STOP PLEASE",
            "stop.",
            "S TOP",
            "please stop",
            "HELP ME",
            "started",
            "\u017ftop",  # look-alikes that str.upper() folds onto keywords (long s, ligature)
            "\ufb06art",
        ]
    ),
)


attachment_lists = st.sampled_from(
    [
        (),
        (),
        (),
        ("https://img.example/a.png",),
        ("https://img.example/a.png", "http://img.example/b.jpg"),
    ]
)


sources = st.sampled_from([None, None, "app", "api", "workflow", "campaign", "bulk_actions"])


#: What an outbound message or a draft says: a text, files, automated or not, and a source.
contents = st.builds(MContent, bodies, attachment_lists, st.booleans(), sources)


note_texts = st.sampled_from(["Called back", "VIP", "Refund pending", "Called back"])


#: The true paths a sent message may take (the carrier reports each step, late or twice).
DELIVERY_PATHS = [
    ("Sent", "Delivered", "Read"),
    ("Sent", "Delivered"),
    ("Sent",),
    ("SendingFailed",),
    ("Sent", "DeliveryFailed"),
    ("Delivered", "Read"),
    ("DeliveryFailed",),
    ("Read",),
    (),
]


ALL_STATUSES = [s.value for s in DeliveryStatus]


ENTRY_ACTORS = ["101", "103", "104"]


# Mostly no provider id; when there is one, repeats (retried webhooks) and reuse happen.
provider_ids = st.sampled_from([None, None, None, "p1", "p2", "p3", "p4", "p5", "p6"])


owner_numbers = st.sampled_from([N1, N1, N2, N3, N4])


#: The filters' optional resource lists and availability choices (thread, message, note lists).
owner_id_lists = st.none() | st.lists(st.sampled_from([Q1, Q2]), min_size=1)


#: A thread status to filter by (None: either).
thread_statuses = st.sampled_from([None, "Open", "Resolved"])


availability_choices = st.sampled_from([("Alive",), ("Deleted",), ("Alive", "Deleted")])


actors = st.sampled_from(ACTORS)


steps = st.sampled_from(
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=5),
        timedelta(hours=71),
        timedelta(hours=73),
    ]
)
