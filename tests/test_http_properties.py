"""Random histories of HTTP calls agree with the same calls made on ``Inbox`` directly (issue 15).

Two worlds start alike (the same directory, clock start and id sequence): one is driven through
the app with the platform's requests, the other through the library with the same arguments. Each
step's answer must be the other's: the same document (``threadcore.wire``'s dump of the direct
result), or the same error (status and code). After every step each handler's list of threads and
sync agree too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from starlette.testclient import TestClient

from tests.conftest import GUEST, GUEST2, OWNER, START, two_queue_directory
from threadcore import Inbox, ManualClock, MessageFilter, Policy, ThreadFilter
from threadcore.errors import ThreadcoreError
from threadcore.http import create_app
from threadcore.ids import SequentialIds
from threadcore.wire import (
    dump_message,
    dump_message_list,
    dump_note,
    dump_thread,
    dump_thread_list,
)

BASE = "/restapi/v1.0/account/~/message-threads"
ACTORS = ("101", "102", "103", "201", "999")
GUESTS = (GUEST, GUEST2, "+14083210002")
TOKENS = {f"t{a}": a for a in ACTORS}
#: Whose views the invariant compares: a Billing handler, one of both queues, and an outsider.
WATCHERS = ("101", "103", "999")
TEXTS = st.sampled_from(["hi", "Is it shipped?", "ok", " ", "x" * 1601])


def _world() -> tuple[Inbox, ManualClock]:
    clock = ManualClock(START)
    inbox = Inbox(
        directory=two_queue_directory(),
        clock=clock,
        policy=Policy(ttl=timedelta(hours=72)),
        ids=SequentialIds("p"),
        token_secret=b"s" * 32,
    )
    return inbox, clock


class HttpAgreesWithInbox(RuleBasedStateMachine):
    """The app (one world) and the library (the other) driven side by side."""

    @initialize()
    def start(self) -> None:
        self.direct, self.direct_clock = _world()
        served, self.served_clock = _world()
        app = create_app(served, tokens=TOKENS, control_token="ctl")
        self.client = TestClient(app).__enter__()  # one event loop for the whole history
        self.threads: list[str] = []

    def teardown(self) -> None:
        if hasattr(self, "client"):
            self.client.__exit__(None, None, None)

    # --- one step on both sides ---------------------------------------------------------------
    def both(
        self, direct: Any, dump: Any, method: str, url: str, actor: str, **options: Any
    ) -> Any:
        try:
            result = direct()
            expected: Any = dump(result) if dump else None
            failure: ThreadcoreError | None = None
        except ThreadcoreError as error:
            failure = error
        headers = {"Authorization": "Bearer ctl" if actor == "ctl" else f"Bearer t{actor}"}
        response = self.client.request(method, url, headers=headers, **options)
        if failure is not None:
            assert response.status_code == failure.status, (response.text, failure)
            assert response.json()["errorCode"] == failure.code, (response.text, failure)
            return None
        assert response.status_code in (200, 204), (response.text, expected)
        if dump is not None:
            assert response.json() == expected
        return expected

    def thread(self, index: int) -> str:
        return self.threads[index % len(self.threads)] if self.threads else "p-0"

    # --- the rules ------------------------------------------------------------------------------
    @rule(guest=st.sampled_from(GUESTS), text=TEXTS)
    def customer_writes(self, guest: str, text: str) -> None:
        found = self.both(
            lambda: self.direct.receive(owner_number=OWNER, guest_number=guest, body=text),
            dump_message,
            "POST",
            "/threadcore/v1/carrier/inbound",
            "ctl",
            json={"from": guest, "to": OWNER, "text": text},
        )
        if found is not None and found["threadId"] not in self.threads:
            self.threads.append(found["threadId"])

    @rule(
        actor=st.sampled_from(ACTORS), index=st.integers(0, 5), to=st.sampled_from((*ACTORS, None))
    )
    def assign(self, actor: str, index: int, to: str | None) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.assign(thread_id, actor=actor, assignee=to),
            dump_thread,
            "POST",
            f"{BASE}/{thread_id}/assign",
            actor,
            json={"assignee": None if to is None else {"extensionId": to}},
        )

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 5))
    def resolve(self, actor: str, index: int) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.resolve(thread_id, actor=actor),
            dump_thread,
            "POST",
            f"{BASE}/{thread_id}/resolve",
            actor,
            json={},
        )

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 5))
    def delete(self, actor: str, index: int) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.delete(thread_id, actor=actor),
            None,
            "DELETE",
            f"{BASE}/{thread_id}",
            actor,
        )

    @rule(actor=st.sampled_from(ACTORS), guest=st.sampled_from(GUESTS), text=TEXTS)
    def handler_sends(self, actor: str, guest: str, text: str) -> None:
        body = {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": guest}], "text": text}
        found = self.both(
            lambda: self.direct.send(
                actor=actor, body=text, owner_number=OWNER, guest_number=guest
            ),
            dump_message,
            "POST",
            f"{BASE}/messages",
            actor,
            json=body,
        )
        if found is not None and found["threadId"] not in self.threads:
            self.threads.append(found["threadId"])

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 5), text=TEXTS)
    def note(self, actor: str, index: int, text: str) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.add_note(thread_id, actor=actor, text=text),
            dump_note,
            "POST",
            f"{BASE}/notes",
            actor,
            json={"threadId": thread_id, "text": text},
        )

    @rule(
        actor=st.sampled_from(ACTORS),
        status=st.sampled_from([None, "Open", "Resolved"]),
        per_page=st.integers(1, 3),
        page=st.integers(1, 3),
    )
    def list_threads(self, actor: str, status: str | None, per_page: int, page: int) -> None:
        params: dict[str, Any] = {"perPage": per_page, "page": page}
        if status:
            params["threadStatus"] = status
        self.both(
            lambda: self.direct.numbered_page(
                actor=actor,
                filter=ThreadFilter(status=status),
                per_page=per_page,
                page=page,
            ),
            dump_thread_list,
            "GET",
            BASE,
            actor,
            params=params,
        )

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 5))
    def list_messages(self, actor: str, index: int) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.numbered_page(
                actor=actor,
                filter=MessageFilter(thread_ids=[thread_id]),
                page=1,
            ),
            dump_message_list,
            "GET",
            f"{BASE}/messages",
            actor,
            params={"threadIds": thread_id},
        )

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 5))
    def read(self, actor: str, index: int) -> None:
        thread_id = self.thread(index)
        self.both(
            lambda: self.direct.get(thread_id, actor=actor),
            dump_thread,
            "GET",
            f"{BASE}/{thread_id}",
            actor,
        )

    @rule(hours=st.sampled_from([1, 24, 71, 72]))
    def time_passes(self, hours: int) -> None:
        self.direct_clock.advance(timedelta(hours=hours))
        self.served_clock.advance(timedelta(hours=hours))

    # --- after every step -------------------------------------------------------------------------
    @invariant()
    def every_handlers_view_agrees(self) -> None:
        if not hasattr(self, "client"):
            return
        for actor in WATCHERS:
            served = self.client.get(
                BASE, params={"perPage": 1000}, headers={"Authorization": f"Bearer t{actor}"}
            )
            assert served.json() == dump_thread_list(
                self.direct.numbered_page(filter=ThreadFilter(), actor=actor, per_page=1000, page=1)
            )
            synced = self.client.get(f"{BASE}/sync", headers={"Authorization": f"Bearer t{actor}"})
            direct = self.direct.sync(actor=actor)
            assert [t["id"] for t in synced.json()["records"]] == [t.id for t in direct.records]


TestHttpAgreesWithInbox = HttpAgreesWithInbox.TestCase
TestHttpAgreesWithInbox.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
