"""The forms' dry runs say what a real run would do (issue 14): failures, wording, existence."""

import pandas as pd
import pytest

from crmframes import CampaignStore, StoreError, import_from_crm
from crmframes.widgets import DeleteForm, ExportForm

GONE = "00000000-0000-4000-8000-000000000001"  # a well-formed id the CRM does not have


@pytest.fixture
def store(tmp_path):
    with CampaignStore(tmp_path / "campaign.duckdb") as campaign:
        yield campaign


def _with_a_stranger(conn, store, table):
    """Two contacts the CRM has and one it does not, in ``table``."""
    imported = import_from_crm(conn, "contact", fields=["lastname"], limit=2).frame
    stranger = pd.DataFrame({"contactid": [GONE], "lastname": ["Nobody"]}).astype("str")
    rows = pd.concat([imported[["contactid", "lastname"]], stranger], ignore_index=True)
    store.merge(table, rows, key="contactid")


def test_a_dry_run_export_with_bad_sql_fails_instead_of_skipping(dv_demo, store):
    conn = dv_demo.connector()
    store.merge("contact", import_from_crm(conn, "contact", fields=["lastname"], limit=3))
    form = ExportForm(conn, store, object="contact", table="contact")
    form.where.value = "lastname = = 'x'"
    assert form.dry_run.value
    with pytest.raises(StoreError):
        form.run()
    form.buttons.children[1].click()
    assert form.report is None and form.message.startswith("error: ")
    assert "skipped" not in form.message


def test_a_dry_run_export_counts_records_not_in_the_crm_in_plain_words(dv_demo, store):
    conn = dv_demo.connector()
    _with_a_stranger(conn, store, "people")
    form = ExportForm(conn, store, object="contact", table="people")
    form.key.value = "contactid"
    form.map({"contactid": "contactid", "lastname": "lastname"})
    store.sql("UPDATE people SET lastname = lastname || ' (edited)'")
    report, _ = form.run()
    counts = report.steps[0].counts
    assert counts == {"rows": 3, "would update": 2, "not in the CRM": 1}
    assert "would missing" not in str(report)


def test_a_dry_run_delete_reads_the_records_and_counts_those_not_in_the_crm(dv, store):
    conn = dv.connector()
    _with_a_stranger(conn, store, "leavers")
    form = DeleteForm(conn, store, object="contact", table="leavers")
    report, preview = form.run()
    assert report.dry_run
    assert report.steps[0].counts == {"rows": 3, "would delete": 2, "not in the CRM": 1}
    assert list(preview["crmAction"]).count("missing") == 1
    assert preview.loc[preview["crmAction"] == "missing", "crmId"].tolist() == [GONE]
    form.dry_run.value = False
    report, result = form.run()
    assert result.stats.deleted == 2 and len(result.rejects) == 1  # as the dry run said
