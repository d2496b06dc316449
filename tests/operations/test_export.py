"""Export, delete and deleted imports against both sandboxes over HTTPS, checked on the CRM's own records.

Every test ends with the conservation check of DESIGN §4.1 and, for writes, with the
sandbox's records: each succeeded row is in the CRM exactly once with the values sent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmframes import (
    CampaignStore,
    ConfigError,
    DataError,
    JournalError,
    RequestRejectedError,
    Sandbox,
    delete_in_crm,
    export_to_crm,
    import_deleted_from_crm,
    import_from_crm,
)
from tests.operations.conftest import Crm


def people(crm: Crm, n: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            crm.first: [f"Ada{i}" for i in range(n)],
            crm.last: [f"{tag}{i}" for i in range(n)],
            crm.email: [f"{tag.lower()}{i}@example.org" for i in range(n)],
            crm.external: [f"{tag}-{i}" for i in range(n)],
        }
    )


def in_crm(crm: Crm, column: str, values: list[str]) -> pd.DataFrame:
    records = crm.records()
    return records[records[column].isin(values)]


def conserved(result, df: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    assert len(result.frame) + len(result.rejects) == len(df)
    assert set(result.frame.index).isdisjoint(result.rejects["inputIndex"].tolist())


def test_insert_creates_each_row_once_and_rejects_bad_ones(crm: Crm, tmp_path: Path):
    conn = crm.sandbox.connector()
    df = people(crm, 7, "Ins").drop(columns=[crm.external])
    df.loc[2, crm.last] = "x" * 300  # over-long: a pre-flight reject, never sent
    result = export_to_crm(conn, crm.contact, df, journal=tmp_path / "j")
    conserved(result, df)
    assert result.op == "insert"
    rejects = result.rejects.set_index("inputIndex")
    assert list(rejects.index) == [2] and rejects.loc[2, "errorSymbol"] == "STRING_TOO_LONG"
    stored = in_crm(crm, crm.last, df[crm.last].tolist())
    assert sorted(stored[crm.last]) == sorted(result.frame[crm.last])
    assert set(stored[crm.id].str.lower()) == set(result.frame["crmId"].str.lower())
    assert (result.frame["crmAction"] == "created").all()
    assert result.stats.batches == 1


def test_dataverse_insert_of_a_taken_alternate_key_is_the_crms_reject(tmp_path: Path):
    with Sandbox("dynamics", data="empty") as sb:
        conn = sb.connector()
        export_to_crm(conn, "contact", _keyed("Taken", 1), journal=False)
        df = _keyed("Ins", 4)
        df.loc[2, "crmf_externalid"] = "Taken-0"
        result = export_to_crm(conn, "contact", df, journal=tmp_path / "j")
        assert result.op == "insert" and result.stats.created == 3
        assert result.rejects["errorSymbol"].tolist() == ["DuplicateRecordEntityKey"]
        assert sorted(sb.records("contact")["crmf_externalid"]) == sorted(
            ["Taken-0", "Ins-0", "Ins-1", "Ins-3"]
        )


def test_salesforce_insert_mapping_an_external_id_goes_as_an_upsert_on_it(tmp_path: Path):
    """Idempotent by key: a lost answer is simply sent again, and a taken key updates."""
    with Sandbox("salesforce", data="empty") as sb:
        conn = sb.connector()
        export_to_crm(conn, "Contact", _keyed("Taken", 1, sf=True), journal=False)
        df = _keyed("Ins", 4, sf=True)
        df.loc[2, "External_Id__c"] = "Taken-0"
        sb.faults.add("drop_after", "composite/sobjects", times=1)
        result = export_to_crm(conn, "Contact", df, journal=tmp_path / "j")
        assert result.op == "upsert" and result.rejects.empty
        # the lost call had created them: sent again, each is updated, none created twice
        assert result.frame["crmAction"].tolist() == ["updated"] * 4
        records = sb.records("Contact")
        assert sorted(records["External_Id__c"]) == ["Ins-0", "Ins-1", "Ins-3", "Taken-0"]
        assert records.set_index("External_Id__c").loc["Taken-0", "LastName"] == "Ins2"
        # a row without its external id keeps the whole frame an insert (looked up if lost)
        df.loc[1, "External_Id__c"] = None
        assert export_to_crm(conn, "Contact", df, journal=False).op == "insert"


def _keyed(tag: str, n: int, *, sf: bool = False) -> pd.DataFrame:
    last, key = ("LastName", "External_Id__c") if sf else ("lastname", "crmf_externalid")
    return pd.DataFrame(
        {last: [f"{tag}{i}" for i in range(n)], key: [f"{tag}-{i}" for i in range(n)]}
    )


def test_upsert_by_external_key_creates_and_updates(crm: Crm):
    conn = crm.sandbox.connector()
    first = export_to_crm(conn, crm.contact, people(crm, 4, "Up"), key=crm.external, journal=False)
    assert list(first.frame["crmAction"]) == ["created"] * 4
    again = people(crm, 6, "Up")
    again[crm.first] = "Grace"
    second = export_to_crm(conn, crm.contact, again, key=crm.external, journal=False)
    assert list(second.frame["crmAction"]) == ["updated"] * 4 + ["created"] * 2
    stored = in_crm(crm, crm.external, again[crm.external].tolist())
    assert len(stored) == 6 and set(stored[crm.first]) == {"Grace"}


def test_update_by_id_null_versus_leave_unchanged(crm: Crm):
    conn = crm.sandbox.connector()
    made = export_to_crm(conn, crm.contact, people(crm, 2, "Nul"), journal=False).frame
    change = pd.DataFrame({crm.id: made["crmId"], crm.email: [None, None]})
    export_to_crm(conn, crm.contact, change.iloc[[0]], key=crm.id, journal=False)
    export_to_crm(conn, crm.contact, change.iloc[[1]], key=crm.id, skip_nulls=True, journal=False)
    stored = in_crm(crm, crm.external, made[crm.external].tolist()).set_index(crm.external)
    assert pd.isna(stored.loc["Nul-0", crm.email])
    assert stored.loc["Nul-1", crm.email] == "nul1@example.org"


def test_dry_run_writes_nothing_and_lists_changes(crm: Crm):
    conn = crm.sandbox.connector()
    export_to_crm(conn, crm.contact, people(crm, 3, "Dry"), key=crm.external, journal=False)
    before = crm.records().copy()
    plan = people(crm, 4, "Dry")
    plan.loc[1, crm.first] = "Changed"
    calls = crm.sandbox.api_call_count()
    log = len(crm.sandbox.request_log())
    result = export_to_crm(conn, crm.contact, plan, key=crm.external, dry_run=True)
    sent = crm.sandbox.request_log()[log:]
    assert sent and all(method == "GET" for method, _, _ in sent)  # reads only
    assert crm.records().equals(before)
    assert list(result.frame["crmAction"]) == ["unchanged", "update", "unchanged", "insert"]
    (change,) = result.changes.itertuples(index=False)
    assert (change.inputIndex, change.field, change.old, change.new) == (
        1,
        crm.first,
        "Ada1",
        "Changed",
    )
    assert result.dry_run and result.stats.mode == "dry run"
    assert crm.sandbox.api_call_count() - calls <= 2  # describe may be cached; one read


def test_a_dry_run_sees_an_empty_text_as_null_and_a_15_character_id_as_its_18(crm: Crm):
    conn = crm.sandbox.connector()
    first = people(crm, 2, "Emp").assign(**{crm.email: None})
    if crm.name == "salesforce":
        account = str(crm.records("Account")["Id"].iloc[0])
        first["AccountId"] = account
    export_to_crm(conn, crm.contact, first, key=crm.external, journal=False)
    again = first.assign(**{crm.email: ""})
    if crm.name == "salesforce":
        again["AccountId"] = account[:15]
    result = export_to_crm(conn, crm.contact, again, key=crm.external, dry_run=True)
    assert list(result.frame["crmAction"]) == ["unchanged", "unchanged"] and result.changes.empty


def test_only_changed_sends_only_differences(crm: Crm):
    conn = crm.sandbox.connector()
    export_to_crm(conn, crm.contact, people(crm, 5, "Chg"), key=crm.external, journal=False)
    again = people(crm, 5, "Chg")
    again.loc[3, crm.first] = "Other"
    result = export_to_crm(
        conn, crm.contact, again, key=crm.external, only_changed=True, journal=False
    )
    assert result.stats.unchanged == 4 and result.stats.updated == 1
    assert list(result.frame["crmAction"]) == ["unchanged"] * 3 + ["updated", "unchanged"]
    with pytest.raises(ConfigError, match="only_changed needs key"):
        export_to_crm(conn, crm.contact, again, only_changed=True)


def test_only_changed_with_a_finished_journal(crm: Crm, tmp_path: Path):
    conn = crm.sandbox.connector()
    df = people(crm, 3, "Ojf")
    journal = tmp_path / "j.jsonl"
    export_to_crm(conn, crm.contact, df, key=crm.external, journal=journal)
    again = export_to_crm(
        conn, crm.contact, df, key=crm.external, journal=journal, only_changed=True
    )
    assert len(again.frame) == 3 and again.rejects.empty
    assert again.stats.unchanged == 3 and again.stats.batches == 0


def test_journals_are_tied_to_their_org(crm: Crm, tmp_path: Path):
    df = people(crm, 2, "Org")
    journal = tmp_path / "j.jsonl"
    export_to_crm(crm.sandbox.connector(), crm.contact, df, journal=journal)
    with (
        Sandbox(crm.name, data="demo", scale=0.05) as other,
        pytest.raises(JournalError, match="instance"),
    ):
        export_to_crm(other.connector(), crm.contact, df, journal=journal)


def test_bad_input_fails_before_any_call(crm: Crm):
    conn = crm.sandbox.connector()
    conn.describe(crm.contact)
    calls = crm.sandbox.api_call_count()
    df = people(crm, 2, "Bad")
    with pytest.raises(Exception, match="did you mean"):
        export_to_crm(conn, crm.contact, df.rename(columns={crm.last: crm.last + "x"}))
    with pytest.raises(DataError, match="duplicated"):
        export_to_crm(conn, crm.contact, pd.concat([df, df]), key=crm.external)
    with pytest.raises(DataError, match="holds numbers"):
        export_to_crm(conn, crm.contact, df.assign(**{crm.birthdate: [1.5, 2.5]}))
    assert crm.sandbox.api_call_count() == calls


def test_delete_then_import_deleted_then_apply_to_store(crm: Crm, tmp_path: Path):
    conn = crm.sandbox.connector()
    made = export_to_crm(conn, crm.contact, people(crm, 5, "Del"), journal=False).frame
    start = conn.server_time()
    gone = made.iloc[:3][["crmId"]].rename(columns={"crmId": crm.id})
    first = delete_in_crm(conn, crm.contact, gone, journal=tmp_path / "d1")
    assert first.stats.deleted == 3 and first.rejects.empty
    again = pd.concat([gone.iloc[:1], pd.DataFrame({crm.id: ["nonsense", None]})])
    second = delete_in_crm(conn, crm.contact, again.reset_index(drop=True), journal=False)
    conserved(second, again)
    symbols = list(second.rejects["errorSymbol"])
    assert symbols[1:] == ["MALFORMED_ID", "MISSING_KEY"] and symbols[0]
    remaining = in_crm(crm, crm.external, made[crm.external].tolist())
    assert sorted(remaining[crm.external]) == ["Del-3", "Del-4"]

    crm.sandbox.clock.advance(seconds=5)
    deleted = import_deleted_from_crm(conn, crm.contact, start=start)
    ids = set(deleted.frame[crm.id].str.lower())
    assert set(gone[crm.id].str.lower()) <= ids
    assert deleted.frame["deletedDate"].dt.tz is not None

    store = CampaignStore(tmp_path / "c.duckdb")
    store.merge(crm.contact, made.rename(columns={"crmId": crm.id}), key=crm.id)
    assert store.apply_deletions(crm.contact, deleted) == 3
    soft = store.read(crm.contact)
    assert soft["crmDeletedDate"].notna().sum() == 3
    assert store.apply_deletions(crm.contact, deleted, mode="hard") == 3
    assert len(store.read(crm.contact)) == 2


def test_delete_refuses_ids_of_another_object(crm: Crm):
    accounts = crm.records(crm.account)
    account_id = next(c for c in accounts.columns if c.lower() in ("id", "accountid"))
    wrong = pd.DataFrame({crm.id: accounts[account_id].iloc[:3].tolist()})
    result = delete_in_crm(crm.sandbox.connector(), crm.contact, wrong, journal=False)
    assert result.stats.deleted == 0 and len(result.rejects) == 3
    assert len(crm.records(crm.account)) == len(accounts)
    if crm.name == "salesforce":  # refused before any call: a delete by id names no object
        assert set(result.rejects["errorSymbol"]) == {"INVALID_ID_FIELD"}
        assert "start with 003" in result.rejects["errorMessage"][0]


def test_import_deleted_names_the_horizon(crm: Crm):
    conn = crm.sandbox.connector()
    with pytest.raises(RequestRejectedError, match="earliest"):
        import_deleted_from_crm(conn, crm.contact, start="2020-01-01")
    with pytest.raises(ConfigError, match="after end"):
        import_deleted_from_crm(conn, crm.contact, start="2026-11-20", end="2026-11-19")


def test_exported_rows_import_back_the_same(crm: Crm):
    conn = crm.sandbox.connector()
    df = people(crm, 3, "Rt").assign(**{crm.birthdate: pd.to_datetime(["1990-01-02"] * 3).date})
    made = export_to_crm(conn, crm.contact, df, journal=False).frame
    back = import_from_crm(
        conn,
        crm.contact,
        fields=[crm.first, crm.last, crm.birthdate, crm.external],
        population=made,
        id_column="crmId",
        progress=False,
    ).frame
    assert sorted(back[crm.external]) == sorted(df[crm.external])
    assert {str(d) for d in back[crm.birthdate]} == {"1990-01-02"}


def test_bulk_export_on_salesforce_and_auto_switch(crm: Crm, monkeypatch: pytest.MonkeyPatch):
    conn = crm.sandbox.connector()
    df = people(crm, 30, "Blk")
    if crm.name == "dynamics":
        with pytest.raises(ConfigError, match="no bulk write"):
            export_to_crm(conn, crm.contact, df, mode="bulk")
        monkeypatch.setattr("crmframes.operations.exporting.BULK_EXPORT_THRESHOLD", 10)
        result = export_to_crm(conn, crm.contact, df, journal=False, progress=False)
        assert result.stats.mode == "batch" and result.stats.batches == 1
        return
    conn.describe(crm.contact)
    calls = conn.api_calls
    result = export_to_crm(conn, crm.contact, df, mode="bulk", journal=False)
    assert result.stats.mode == "bulk" and result.stats.batches == 1
    assert conn.api_calls - calls <= 8  # create, upload, close, poll, three result sets
    assert (result.frame["crmAction"] == "created").all()
    stored = in_crm(crm, crm.external, df[crm.external].tolist())
    assert set(stored[crm.id]) == set(result.frame["crmId"])
    # upsert through bulk, nulling a field with #N/A and leaving another unchanged
    change = df.iloc[:5][[crm.external]].assign(**{crm.email: None})
    monkeypatch.setattr("crmframes.operations.exporting.BULK_EXPORT_THRESHOLD", 3)
    upserted = export_to_crm(conn, crm.contact, change, key=crm.external, journal=False)
    assert upserted.stats.mode == "bulk"
    assert list(upserted.frame["crmAction"]) == ["updated"] * 5
    stored = in_crm(crm, crm.external, change[crm.external].tolist())
    assert stored[crm.email].isna().all() and set(stored[crm.first]) == {
        f"Ada{i}" for i in range(5)
    }
