"""`crmframes demo`: the seed workflow both ways, run twice, checked against the CRM's records."""

import time
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from crmframes import CampaignStore, Sandbox
from crmframes.cli import main
from crmframes.demo import DemoReport, normalise_phone, plan_corrections, run_demo


def run(store: Path) -> tuple[DemoReport, pd.DataFrame]:
    """One demo run on a new sandbox (as the command does), and the CRM's contacts after it."""
    with Sandbox("dynamics", data="demo", scale=0.2) as sb:
        report = run_demo(store, progress=False, sandbox=sb)
        return report, sb.records("contact")


def check_export(report: DemoReport, crm: pd.DataFrame) -> None:
    export, sent = report.export, report.corrections
    assert (export.stats.updated, export.stats.created, export.stats.rejected) == (20, 0, 2)
    assert len(export.frame) + len(export.rejects) == len(sent) == 22
    rejects = export.rejects.set_index("errorSymbol")
    assert sorted(rejects.index) == ["DuplicateRecordEntityKey", "STRING_TOO_LONG"]
    # each accepted correction is in the CRM, each reject is not (unless deleted since)
    by_id = crm.set_index("contactid").reindex(sent["contactid"])
    deleted = set(report.deleted.frame["contactid"])
    for row in export.frame.itertuples():
        assert by_id.loc[row.contactid, "telephone1"] == row.telephone1 or row.contactid in deleted
    too_long = rejects.loc["STRING_TOO_LONG"]
    assert by_id.loc[too_long["contactid"], "address1_city"] != too_long["address1_city"]
    taken = rejects.loc["DuplicateRecordEntityKey"]
    assert by_id.loc[taken["contactid"], "crmf_externalid"] != taken["crmf_externalid"]
    assert crm["crmf_externalid"].dropna().is_unique
    # the same export again, same journal: nothing sent, every outcome from the journal
    assert report.again.stats.batches == 0 and report.again.stats.resumed == 21
    assert report.again.frame["crmId"].tolist() == export.frame["crmId"].tolist()
    assert report.written_back.updated == 20


def check_deletions(report: DemoReport, crm: pd.DataFrame) -> set[str]:
    """The deletions imported are exactly the stored contacts the CRM no longer has."""
    gone = set(report.deleted.frame["contactid"].str.lower())
    assert len(gone) == 3 == report.erased.stats.deleted + report.crm_deletes["deleted"]
    assert len(crm) == 1005 - 3  # the demo org's 1,000 contacts, 5 created this run, 3 deleted
    assert gone.isdisjoint(crm["contactid"].str.lower())
    with CampaignStore(report.store, read_only=True) as store:
        stored = store.read("contact")
    marked = stored[stored["contactid"].str.lower().isin(gone)]
    assert len(marked) == report.applied == 3 and marked["crmDeletedDate"].notna().all()
    return gone


def test_demo_runs_both_ways_then_picks_up_where_it_stopped(tmp_path: Path):
    store = tmp_path / "campaign.duckdb"
    first, crm = run(store)
    assert first.result.variables["crmStartImport"] == ""
    assert (
        first.result.stats.rows == first.merged.inserted == 1005
    )  # 1,000 demo contacts + 5 created
    check_export(first, crm)
    gone = check_deletions(first, crm)

    time.sleep(2.1)  # the demo's CRM users act 2 s before its import: let the first window close
    second, crm = run(store)
    assert second.result.variables["crmStartImport"] == first.result.variables["crmEndDate"]
    assert (second.merged.inserted, second.merged.updated) == (5, 25)
    assert second.total == 1010
    # the store holds the first run's corrections, so the second exports the next ones
    # (and again any the import brought back: the new sandbox has the old numbers)
    check_export(second, crm)
    phones = set(second.corrections["contactid"][:20]) - set(second.result.frame["contactid"])
    assert phones and phones.isdisjoint(first.corrections["contactid"][:20])
    assert second.export.journal != first.export.journal
    gone |= check_deletions(second, crm)
    assert second.deleted.start >= first.deleted.end.replace(microsecond=0)
    with CampaignStore(store, read_only=True) as opened:
        stored = opened.read("contact")
    assert set(stored.loc[stored["crmDeletedDate"].notna(), "contactid"].str.lower()) == gone
    text = str(second)
    assert "5 inserted, 25 updated" in text and "API calls" in text
    assert "0 created, 20 updated, 2 rejected" in text
    assert "STRING_TOO_LONG: 1" in text and "DuplicateRecordEntityKey: 1" in text
    assert "3 deleted contacts" in text and "3 contacts marked deleted" in text


def test_normalise_phone_writes_north_american_numbers_one_way():
    assert normalise_phone("(317) 765-2844") == "+1 317 765 2844"
    assert normalise_phone("312.345.6668") == "+1 312 345 6668"
    assert normalise_phone("+1 (210) 640-0099") == "+1 210 640 0099"
    assert normalise_phone("08 316 85 25") is None
    assert normalise_phone(None) is None


def test_plan_corrections_skips_deleted_and_correct_rows():
    contacts = pd.DataFrame(
        {
            "contactid": ["a", "b", "c", "d", "e"],
            "crmf_externalid": ["CT-1", "CT-2", "CT-3", "CT-4", "CT-5"],
            "telephone1": ["(317) 765-2844", "+1 312 784 4219", "08 316 85 25", None, "312-1"],
            "address1_city": ["Indianapolis", "Chicago", "Stockholm", "Paris", "Chicago"],
            "address1_country": ["United States"] * 2 + ["Sweden", "France", "United States"],
            "crmDeletedDate": [pd.Timestamp("2026-01-01", tz="UTC"), None, None, None, None],
        }
    )
    df = plan_corrections(contacts)
    pasted = df.loc[0, "address1_city"]
    assert pasted.startswith("Chicago (") and len(pasted) > 80  # the CRM column holds 80
    df = df.astype(object).where(df.notna(), None)
    assert df.to_dict("list") == {
        "contactid": ["b", "c"],
        "telephone1": [None, None],
        "address1_city": [pasted, None],
        "crmf_externalid": [None, "CT-2"],
    }


def test_demo_command_prints_the_report(tmp_path):
    result = CliRunner().invoke(
        main, ["demo", "--store", str(tmp_path / "c.duckdb"), "--scale", "0.1", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "imported           505 rows" in result.output
    assert "20 updated, 2 rejected" in result.output
