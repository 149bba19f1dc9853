"""R18: time comes from the clock port, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import GUEST, OWNER, START, TTL, billing_directory
from freezegun import freeze_time

from threadcore import (
    Inbox,
    InMemoryRepository,
    ManualClock,
    Policy,
    StatusReason,
    SystemClock,
    ThreadStatus,
)
from threadcore.errors import InvalidInput
from threadcore.events import ThreadResolved
from threadcore.ids import SequentialIds
from threadcore.storage import Clock


# === SystemClock ================================================================================
def test_r18_system_clock_returns_the_frozen_instant_in_utc() -> None:
    with freeze_time("2026-02-17 17:12:39.676"):
        now = SystemClock().now()
    assert now == datetime(2026, 2, 17, 17, 12, 39, 676000, tzinfo=UTC)
    assert now.utcoffset() == timedelta(0)
    assert now.tzinfo is not None


def test_r18_system_clock_follows_the_frozen_time_as_it_moves() -> None:
    with freeze_time("2026-02-17 17:00:00") as freezer:
        clock = SystemClock()
        first = clock.now()
        freezer.tick(timedelta(seconds=90))
        second = clock.now()
        freezer.move_to("2026-03-01 00:00:00")
        third = clock.now()
    assert first == START
    assert second == START + timedelta(seconds=90)
    assert third == datetime(2026, 3, 1, tzinfo=UTC)


def test_r18_clocks_satisfy_the_clock_port() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(ManualClock(START), Clock)


def test_r18_system_clock_reads_the_real_time_without_freezegun() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert before <= now <= after
    assert now.utcoffset() == timedelta(0)


# === ManualClock ================================================================================
def test_r18_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now() == START
    clock.advance(timedelta(hours=1, microseconds=5))
    assert clock.now() == START + timedelta(hours=1, microseconds=5)
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 1, tzinfo=UTC)
    clock.advance(timedelta(0))
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 1, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_r18_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(InvalidInput) as start:
        ManualClock(datetime(2026, 2, 17, 17, 0))
    assert start.value.parameter == "start"
    clock = ManualClock(START)
    with pytest.raises(InvalidInput) as later:
        clock.set(datetime(2026, 2, 18, 17, 0))
    assert later.value.parameter == "instant"
    assert clock.now() == START


def test_r18_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock(START)
    with pytest.raises(InvalidInput) as back:
        clock.set(START - timedelta(microseconds=1))
    assert back.value.parameter == "instant"
    with pytest.raises(InvalidInput) as negative:
        clock.advance(timedelta(seconds=-1))
    assert negative.value.parameter == "delta"
    assert clock.now() == START


def test_r18_manual_clock_converts_aware_datetimes_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2), "EET")
    clock = ManualClock(datetime(2026, 2, 17, 19, 0, tzinfo=plus_two))
    assert clock.now() == START
    assert clock.now().tzinfo is UTC
    assert clock.now().hour == 17
    minus_five = timezone(timedelta(hours=-5))
    clock.set(datetime(2026, 2, 17, 13, 30, tzinfo=minus_five))
    assert clock.now().tzinfo is UTC
    assert (clock.now().hour, clock.now().minute) == (18, 30)
    clock.set(datetime(2026, 2, 17, 18, 30, tzinfo=timezone(timedelta(0), "Z")))
    assert clock.now().tzinfo is UTC


def test_r18_manual_clock_refuses_an_earlier_instant_in_another_zone() -> None:
    clock = ManualClock(START)
    # 17:30 at +01:00 is 16:30 UTC: earlier than now.
    with pytest.raises(InvalidInput):
        clock.set(datetime(2026, 2, 17, 17, 30, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == START


# === an Inbox driven by the system clock under freezegun ========================================
def system_inbox() -> Inbox:
    return Inbox(
        repository=InMemoryRepository(),
        directory=billing_directory(),
        clock=SystemClock(),
        policy=Policy(ttl=TTL),
        ids=SequentialIds("t"),
    )


def test_r18_inbox_on_the_system_clock_expires_with_tick() -> None:
    with freeze_time("2026-02-17 17:00:00") as freezer:
        inbox = system_inbox()
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
        thread = inbox.get(message.thread_id, actor="101")
        assert thread.creation_time == START
        assert thread.creation_time.utcoffset() == timedelta(0)
        freezer.tick(TTL - timedelta(seconds=1))
        assert inbox.get(message.thread_id, actor="101").status is ThreadStatus.OPEN
        freezer.tick(timedelta(seconds=1))
        expired = inbox.get(message.thread_id, actor="101")
        assert expired.status is ThreadStatus.RESOLVED
        assert expired.status_reason is StatusReason.THREAD_EXPIRED
        assert expired.last_modified_time == START + TTL


def test_r18_inbox_on_the_system_clock_expires_with_move_to() -> None:
    with freeze_time("2026-02-17 17:00:00") as freezer:
        inbox = system_inbox()
        message = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
        freezer.move_to("2026-02-21 09:00:00")
        resolved = inbox.expire()
        assert [t.id for t in resolved] == [message.thread_id]
        assert resolved[0].last_modified_time == START + TTL
        last = inbox.events()[-1][1]
        assert last == ThreadResolved(
            message.thread_id, START + TTL, StatusReason.THREAD_EXPIRED, None
        )
        again = inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hello again")
        assert again.thread_id != message.thread_id
        assert again.created_at == datetime(2026, 2, 21, 9, 0, tzinfo=UTC)
