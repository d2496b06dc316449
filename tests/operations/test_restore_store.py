"""A record deleted in the CRM and then restored there is live again in the store, on both CRMs.

Import, delete in the CRM, import the deletions and apply them (soft), restore the record in
the CRM (Salesforce undelete() from the recycle bin; Dataverse re-create with the same id),
then the next incremental import and merge clear the deletion mark (issue 17, item 3).
"""

import pandas as pd

from crmframes import (
    AutoIndex,
    CampaignStore,
    delete_in_crm,
    import_deleted_from_crm,
    import_from_crm,
)
from tests.clients import dynamics_session
from tests.operations.conftest import Crm
from tests.soap import undelete


def _restore(crm: Crm, record_id: str, last_name: str) -> None:
    """Bring the deleted record back the way each CRM allows."""
    if crm.name == "salesforce":
        assert undelete(crm.sandbox, [record_id])[0]["success"]
        return
    reply = dynamics_session(crm.sandbox).post(
        f"{crm.sandbox.url}/api/data/v9.2/contacts",
        json={"contactid": record_id.upper(), "lastname": last_name},
        timeout=30,
    )
    assert reply.status_code == 204, reply.text


def _marks(store: CampaignStore, crm: Crm) -> pd.Series:
    stored = store.read(crm.contact)
    return stored.set_index(stored[crm.id].str.lower())["crmDeletedDate"]


def test_a_record_restored_in_the_crm_is_live_again_in_the_store(crm: Crm, tmp_path):
    conn = crm.sandbox.connector()
    with CampaignStore(tmp_path / "campaign.duckdb") as store:
        index = AutoIndex(store, activity="contacts")
        first = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index)
        store.merge(crm.contact, first)
        rows = len(first.frame)
        victims = first.frame.iloc[:2][[crm.id, crm.last]].reset_index(drop=True)
        restored, still_gone = victims[crm.id].str.lower()

        crm.sandbox.clock.advance(seconds=30)
        start = conn.server_time()
        deleted_now = delete_in_crm(conn, crm.contact, victims[[crm.id]], journal=False)
        assert deleted_now.stats.deleted == 2
        crm.sandbox.clock.advance(seconds=30)
        deleted = import_deleted_from_crm(conn, crm.contact, start=start)
        assert store.apply_deletions(crm.contact, deleted, mode="soft") == 2
        assert _marks(store, crm)[[restored, still_gone]].notna().all()

        crm.sandbox.clock.advance(seconds=30)
        _restore(crm, victims[crm.id][0], victims[crm.last][0])
        crm.sandbox.clock.advance(seconds=30)
        second = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index)
        assert second.frame[crm.id].str.lower().tolist() == [restored]
        merged = store.merge(crm.contact, second)
        assert (merged.updated, merged.inserted) == (1, 0)

        marks = _marks(store, crm)
        assert len(marks) == rows
        assert pd.isna(marks[restored]) and pd.notna(marks[still_gone])
        assert marks.notna().sum() == 1


def test_a_record_restored_after_a_hard_delete_comes_back_as_a_new_row(crm: Crm, tmp_path):
    conn = crm.sandbox.connector()
    with CampaignStore(tmp_path / "campaign.duckdb") as store:
        index = AutoIndex(store, activity="contacts")
        first = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index)
        store.merge(crm.contact, first)
        victim = first.frame.iloc[:1][[crm.id, crm.last]].reset_index(drop=True)
        crm.sandbox.clock.advance(seconds=30)
        start = conn.server_time()
        assert delete_in_crm(conn, crm.contact, victim[[crm.id]], journal=False).stats.deleted == 1
        crm.sandbox.clock.advance(seconds=30)
        deleted = import_deleted_from_crm(conn, crm.contact, start=start)
        assert store.apply_deletions(crm.contact, deleted, mode="hard") == 1
        assert len(store.read(crm.contact)) == len(first.frame) - 1

        crm.sandbox.clock.advance(seconds=30)
        _restore(crm, victim[crm.id][0], victim[crm.last][0])
        crm.sandbox.clock.advance(seconds=30)
        second = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index)
        assert store.merge(crm.contact, second).inserted == 1
        stored = store.read(crm.contact)
        assert len(stored) == len(first.frame)
        assert "crmDeletedDate" not in stored.columns
