"""`crmframes demo`: the seed workflow both ways, run twice, checked against the CRM's records."""

import re
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


def check_dedupe(report: DemoReport, crm: pd.DataFrame) -> set[str]:
    """Duplicates left the store and the CRM together; survivors stayed."""
    removed = set(report.removed["contactid"].str.lower())
    assert report.duplicates_deleted.stats.deleted == len(removed)
    assert report.duplicates_deleted.rejects.empty
    assert removed.isdisjoint(crm["contactid"].str.lower())
    survivors = set(report.removed["survivorKey"].str.lower())
    survivors -= set(report.deleted.frame["contactid"].str.lower())  # the CRM's users' deletes
    assert survivors <= set(crm["contactid"].str.lower())
    with CampaignStore(report.store, read_only=True) as store:
        stored = set(store.read("contact")["contactid"].str.lower())
    assert removed.isdisjoint(stored) and survivors <= stored
    return removed


def check_export(report: DemoReport, crm: pd.DataFrame) -> None:
    export, sent = report.export, report.sent
    assert len(export.frame) + len(export.rejects) == len(sent)
    assert export.stats.updated == len(sent) - export.stats.rejected >= 20
    rejects = export.rejects.set_index("errorSymbol")
    assert {"DuplicateRecordEntityKey", "STRING_TOO_LONG"} <= set(rejects.index)
    # every accepted difference is now in the CRM as the store has it; each reject is not
    by_id = crm.set_index("contactid")
    deleted = set(report.deleted.frame["contactid"])
    for row in export.frame.itertuples():
        if row.contactid not in deleted and isinstance(row.telephone1, str):
            assert by_id.loc[row.contactid, "telephone1"] == row.telephone1
    taken = rejects.loc[["DuplicateRecordEntityKey"]].iloc[0]
    if taken["contactid"] not in deleted:  # (the CRM's users may have deleted it since)
        assert by_id.loc[taken["contactid"], "crmf_externalid"] != taken["crmf_externalid"]
    assert crm["crmf_externalid"].dropna().is_unique
    # after the export only the rejected rows still differ (the job's reconcile, run again)
    assert report.after.counts["different"] == export.stats.rejected
    # the same export again, same journal: nothing sent, every outcome from the journal
    assert report.again.stats.batches == 0
    assert report.again.stats.resumed == len(sent) - 1  # the pre-flight reject was never sent
    assert report.again.frame["crmId"].tolist() == export.frame["crmId"].tolist()


def check_deletions(report: DemoReport, crm: pd.DataFrame, removed: set[str]) -> set[str]:
    """The deletions imported are the duplicates crmframes deleted and the CRM users' ones."""
    gone = set(report.deleted.frame["contactid"].str.lower())
    assert removed <= gone and len(gone - removed) == report.crm_deletes["deleted"] == 2
    assert gone.isdisjoint(crm["contactid"].str.lower())
    with CampaignStore(report.store, read_only=True) as store:
        stored = store.read("contact")
    marked = stored[stored["contactid"].str.lower().isin(gone)]
    # Each run has a new sandbox holding the whole demo org, so its users may delete a
    # duplicate an earlier run already removed from the store: only held rows are marked.
    users = gone - removed
    held = users & set(stored["contactid"].str.lower())
    assert len(marked) == report.applied == len(held) and marked["crmDeletedDate"].notna().all()
    return held


def test_demo_runs_the_seed_workflow_then_picks_up_where_it_stopped(tmp_path: Path):
    store = tmp_path / "campaign.duckdb"
    first, crm = run(store)
    assert first.result.variables["crmStartImport"] == ""
    assert first.result.stats.rows == first.step("import").counts["inserted"] == 1005  # + 5 new
    removed = check_dedupe(first, crm)
    assert 30 <= len(removed) <= 120  # the demo org plants ~6% duplicates
    reconciled = first.step("reconcile").counts
    assert reconciled.get("only in store", 0) == reconciled.get("only in CRM", 0) == 0
    # the campaign edits, and fields the dedupe filled in survivors from their duplicates
    fields = set(first.differences["field"])
    assert {"telephone1", "address1_city", "crmf_externalid"} <= fields <= set(first.compared)
    filled = len(first.filled)
    assert len(first.differences) == 22 + filled
    check_export(first, crm)
    marked = check_deletions(first, crm, removed)
    assert first.applied == 2  # the first run's store holds every contact the users can delete
    assert len(crm) == 1005 - len(removed) - 2

    time.sleep(2.1)  # the demo's CRM users act 2 s before its import: let the first window close
    second, crm = run(store)
    assert second.result.variables["crmStartImport"] == first.result.variables["crmEndDate"]
    merged = second.step("import").counts
    assert merged.get("inserted", 0) + merged.get("updated", 0) == 30  # 25 edited + 5 created
    check_dedupe(second, crm)
    check_export(second, crm)
    # the store holds the first run's phone corrections, so the second edits the next ones
    # (and again any the import brought back: the new sandbox has the old numbers)
    phones = set(second.corrections["contactid"][:20]) - set(second.result.frame["contactid"])
    assert phones and phones.isdisjoint(first.corrections["contactid"][:20])
    assert second.export.journal != first.export.journal
    # each run's sandbox starts afresh from the demo org: a contact the first run saw deleted
    # and the second run imports again (its users edited it) is live again in the store
    marked -= set(second.result.frame["contactid"].str.lower())
    marked |= check_deletions(second, crm, set(second.removed["contactid"].str.lower()))
    assert second.deleted.start >= first.deleted.end.replace(microsecond=0)
    with CampaignStore(store, read_only=True) as opened:
        stored = opened.read("contact")
    assert set(stored.loc[stored["crmDeletedDate"].notna(), "contactid"].str.lower()) == marked
    text = str(second)
    assert "API calls" in text and "groups of the same person" in text
    assert "STRING_TOO_LONG" in text and "DuplicateRecordEntityKey: 1" in text
    assert f"{second.applied} contacts marked deleted" in text


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
    assert re.search(r"0 created, \d+ updated, 2 rejected", result.output)
    assert "duplicates removed from the store" in result.output
