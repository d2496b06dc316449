"""Exactly once on a production-shaped org: the CRM rewrites what it is sent, others write too.

Each test reproduces a break of issue 11 against a sandbox with org automation on (text
trimmed, defaults filled, a flow / plug-in that formats phone numbers) and checks the
CRM's own records: every row exactly once, or in the rejects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from crmframes import Clock, DataError, Sandbox, delete_in_crm, export_to_crm

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
ROWS = 50


def test_a_lost_dataverse_insert_is_created_once_though_the_crm_fills_defaults(tmp_path: Path):
    """50 rows → 100 records before: the lookup compared the sent null with statuscode 1."""
    with Sandbox("dynamics", data="empty", automation=True) as sb:
        df = pd.DataFrame(
            {
                "lastname": [f"Dv{i}" for i in range(ROWS)],
                "telephone1": [f"415.555.01{i:02d}" for i in range(ROWS)],  # the plug-in formats
                "statuscode": pd.array([None] * ROWS, dtype="Int64"),  # the CRM fills 1
            }
        )
        dropped = sb.faults.add("drop_after", "CreateMultiple", times=1)
        journal = tmp_path / "j.jsonl"
        first = export_to_crm(sb.connector(), "contact", df, journal=journal, progress=False)
        second = export_to_crm(sb.connector(), "contact", df, journal=journal, progress=False)
        assert dropped.fired == 1
        assert first.stats.created == ROWS and first.rejects.empty
        assert second.stats.batches == 0 and len(second.frame) == ROWS
        records = sb.records("contact")
        assert len(records) == ROWS and records["statuscode"].eq(1).all()
        assert records["telephone1"].iloc[0].startswith("(415) 555-")  # rewritten by the CRM
        assert set(records["contactid"]) == set(first.frame["crmId"])


def test_a_lost_salesforce_insert_is_found_though_the_crm_defaults_probability(tmp_path: Path):
    """A sent null of a defaultedOnCreate field matches the value the CRM filled in."""
    with Sandbox("salesforce", data="empty", automation=True) as sb:
        df = pd.DataFrame(
            {
                "Name": [f"  Deal {i} " for i in range(ROWS)],  # trimmed by the org
                "StageName": "Prospecting",
                "CloseDate": pd.Timestamp("2027-01-31").date(),
                "Probability": pd.array([None] * ROWS, dtype="Float64"),  # defaulted: 10
            }
        )
        dropped = sb.faults.add("drop_after", "composite/sobjects", times=1)
        journal = tmp_path / "j.jsonl"
        first = export_to_crm(sb.connector(), "Opportunity", df, journal=journal, progress=False)
        second = export_to_crm(sb.connector(), "Opportunity", df, journal=journal, progress=False)
        assert dropped.fired == 1
        assert first.stats.created == ROWS and first.rejects.empty
        assert second.stats.batches == 0
        records = sb.records("Opportunity")
        assert len(records) == ROWS and records["Probability"].eq(10).all()
        assert set(records["Id"]) == set(first.frame["crmId"])


def _contacts(tag: str, n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"LastName": [f"{tag}{i}" for i in range(n)], "Email": "same@x.org"})


@pytest.mark.parametrize("same_folder", [False, True], ids=["two-minutes-later", "journal-ids"])
def test_a_lost_insert_never_takes_another_exports_records(tmp_path: Path, same_folder: bool):
    """Export B of the rows export A wrote, whose call never reached the CRM: rejects, not A's ids.

    Before, B reported its 20 rows created with A's ids: they were neither in the CRM nor
    in the rejects. Now A's records are out of B's window (B's own send time, corrected by
    the clock skew) or held by A's journal, so B's rows are OUTCOME_UNKNOWN rejects.
    """
    with Sandbox("salesforce", data="empty", automation=True, clock=Clock(START)) as sb:
        conn = sb.connector()
        folder_a = tmp_path / ("b" if same_folder else "a")
        df = _contacts("Same")
        a = export_to_crm(conn, "Contact", df, journal=folder_a / "a.jsonl", progress=False)
        if not same_folder:
            sb.clock.advance(minutes=2)
        sb.faults.add("drop", "composite/sobjects", times=1)
        b = export_to_crm(conn, "Contact", df, journal=tmp_path / "b" / "b.jsonl", progress=False)
        assert len(sb.records("Contact")) == len(df)  # B's call never reached the CRM
        assert b.frame.empty and b.rejects["errorSymbol"].eq("OUTCOME_UNKNOWN").all()
        assert set(a.frame["crmId"]).isdisjoint(b.frame["crmId"])


def test_a_lost_answer_gives_each_export_its_own_records(tmp_path: Path):
    """drop_after: B's crmIds are B's records, never A's identical ones."""
    with Sandbox("salesforce", data="empty", automation=True, clock=Clock(START)) as sb:
        conn = sb.connector()
        df = _contacts("Twin")
        a = export_to_crm(conn, "Contact", df, journal=tmp_path / "a.jsonl", progress=False)
        sb.clock.advance(minutes=2)
        sb.faults.add("drop_after", "composite/sobjects", times=1)
        b = export_to_crm(conn, "Contact", df, journal=tmp_path / "b.jsonl", progress=False)
        records = sb.records("Contact")
        assert len(records) == 2 * len(df) and b.rejects.empty
        assert set(b.frame["crmId"]) == set(records["Id"]) - set(a.frame["crmId"])


def test_a_flow_rewritten_row_whose_answer_was_lost_is_an_unknown_reject_not_a_duplicate(
    tmp_path: Path,
):
    """No field to tell the record by but one a flow rewrote: never guessed, never sent twice."""
    with Sandbox("salesforce", data="empty", automation=True) as sb:
        df = pd.DataFrame({"LastName": [f"Ph{i}" for i in range(6)], "Phone": ["4155550100"] * 6})
        sb.faults.add("drop_after", "composite/sobjects", times=1)
        journal = tmp_path / "j.jsonl"
        first = export_to_crm(sb.connector(), "Contact", df, journal=journal, progress=False)
        second = export_to_crm(sb.connector(), "Contact", df, journal=journal, progress=False)
        assert len(sb.records("Contact")) == 6  # each once
        for result in (first, second):
            assert len(result.frame) + len(result.rejects) == 6
            assert result.rejects["errorSymbol"].eq("OUTCOME_UNKNOWN").all()
        assert "journal=False" in second.rejects["errorMessage"].iloc[0]
        assert second.stats.batches == 0


@pytest.mark.parametrize(
    ("crm", "obj", "key", "last"),
    [
        ("dynamics", "contact", "crmf_externalid", "lastname"),
        ("salesforce", "Contact", "External_Id__c", "LastName"),
    ],
)
def test_keys_differing_only_in_case_are_duplicates_before_any_call(
    crm: str, obj: str, key: str, last: str
):
    """Dataverse alternate keys (and case-insensitive external ids) match in any case."""
    with Sandbox(crm, data="empty") as sb:
        conn = sb.connector()
        conn.describe(obj)
        calls = sb.api_call_count()
        df = pd.DataFrame({key: ["CAMP-1", "camp-1"], last: ["a", "b"]})
        with pytest.raises(DataError, match="duplicated value"):
            export_to_crm(conn, obj, df, key=key, journal=False)
        assert sb.api_call_count() == calls and sb.records(obj).empty


@pytest.mark.parametrize(
    ("crm", "obj", "id_field", "last", "endpoint"),
    [
        ("salesforce", "Contact", "Id", "LastName", "composite/sobjects"),
        ("dynamics", "contact", "contactid", "lastname", r"\$batch"),
    ],
)
def test_a_lost_delete_does_not_claim_a_deletion_someone_else_made(
    tmp_path: Path, crm: str, obj: str, id_field: str, last: str, endpoint: str
):
    with Sandbox(crm, data="empty", clock=Clock(START)) as sb:
        conn = sb.connector()
        made = export_to_crm(conn, obj, pd.DataFrame({last: ["x", "y"]}), journal=False)
        ids = made.frame["crmId"].tolist()
        delete_in_crm(conn, obj, pd.DataFrame({id_field: ids[:1]}), journal=False)  # another user
        sb.clock.advance(minutes=1)
        sb.faults.add("drop_after", endpoint, times=1)
        result = delete_in_crm(
            conn, obj, pd.DataFrame({id_field: ids}), journal=tmp_path / "d.jsonl", progress=False
        )
        assert result.frame["crmId"].str.lower().tolist() == [ids[1].lower()]
        assert result.rejects["inputIndex"].tolist() == [0]  # gone before this delete ran
        assert sb.records(obj).empty


def test_the_salesforce_lookup_window_starts_at_the_call(tmp_path: Path):
    """Records created a minute before the lost call are not candidates, whatever they hold."""
    with Sandbox("salesforce", data="empty", clock=Clock(START)) as sb:
        conn = sb.connector()
        export_to_crm(conn, "Contact", _contacts("Early", 3), journal=False)
        sb.clock.advance(timedelta(minutes=1))
        sb.faults.add("drop", "composite/sobjects", times=1)
        result = export_to_crm(conn, "Contact", _contacts("Early", 3), journal=tmp_path / "j")
        assert result.frame.empty and len(result.rejects) == 3
