"""After a restore from a backup, ``threadcore db new-store-id`` gives the database a new store
id: every token issued before is refused, so clients do a full sync (issue 12, item 8; rule S4)."""

from __future__ import annotations

import pytest
import stores
from conftest import GUEST, OWNER, START

from threadcore import ManualClock, SyncType
from threadcore.cli.app import run
from threadcore.errors import InvalidSyncToken

pytest_plugins = ["conftest_pg"]
store = stores.store


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_new_store_id_refuses_every_earlier_token(
    store: stores.Store, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = store()
    inbox = stores.inbox_on(repository, ManualClock(START))
    inbox.receive(owner_number=OWNER, guest_number=GUEST, body="Hi")
    token = inbox.sync(actor="101").sync_token
    same = stores.inbox_on(store(), ManualClock(START))  # a restart without a restore
    assert same.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token).records == ()
    assert run(["db", "new-store-id", "--db", stores.url_of(repository)]) == 0
    assert "new store id" in capsys.readouterr().out
    restarted = stores.inbox_on(store(), ManualClock(START))  # the services start again
    with pytest.raises(InvalidSyncToken, match="another database"):
        restarted.sync(actor="101", sync_type=SyncType.INCREMENTAL, sync_token=token)
    fresh = restarted.sync(actor="101")  # a full sync, and its token, work
    assert (
        restarted.sync(
            actor="101", sync_type=SyncType.INCREMENTAL, sync_token=fresh.sync_token
        ).records
        == ()
    )
