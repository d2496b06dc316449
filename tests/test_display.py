import ast
import pathlib
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

import crmframes
from crmframes import display
from crmframes.dedupe import deduplicate
from crmframes.operations.deleted import DeletedResult
from crmframes.operations.exporting import ExportResult, ExportStats
from crmframes.operations.importing import ImportResult, ImportStats
from crmframes.reconcile import reconcile
from crmframes.runner.report import Attempt, JobReport, StepReport
from crmframes.schema import Field, ObjectSchema
from crmframes.settings import Secret
from crmframes.store import CampaignStore

PACKAGE = pathlib.Path(crmframes.__file__).parent
REJECTS = pd.DataFrame(
    {
        "LastName": ["a", "b", "c"],
        "errorSymbol": ["REQUIRED_FIELD_MISSING", "STRING_TOO_LONG", "REQUIRED_FIELD_MISSING"],
        "errorMessage": ["Required fields are missing: [LastName]", "too long", "missing"],
        "errorCode": [400, 400, 400],
        "errorFields": ["LastName", "Email", "LastName"],
        "inputIndex": [0, 2, 3],
    }
)


def export_stats(**counts):
    base = dict(rows=0, created=0, updated=0, deleted=0, unchanged=0, rejected=0, resumed=0)
    base |= dict(batches=1, api_calls=2, retries=0, seconds=0.04856794, mode="batch")
    return ExportStats(**(base | counts))


def export_result(frame, rejects=REJECTS, **options):
    stats = export_stats(rows=len(frame) + len(rejects), created=len(frame), rejected=len(rejects))
    return ExportResult(frame, rejects, stats, "Contact", "salesforce", "insert", None, **options)


def import_result(frame, rejects=REJECTS):
    stats = ImportStats(len(frame), len(rejects), 1, 2, 1.23456789, "rest")
    variables = {
        "crmOptionName": "LASTIMPORT_default_contacts",
        "crmStartImport": "2026/01/01 00:00:00",
        "crmEndDate": "2026/02/01 00:00:00",
    }
    return ImportResult(frame, rejects, variables, stats, "Contact", "salesforce", "Id", None)


def long_report():
    """A job report whose old table was about 170 columns wide."""
    steps = [
        StepReport(
            1,
            "import",
            "import Contact → contacts_with_a_rather_long_table_name_for_the_campaign",
            counts={"imported": 5000, "inserted": 4990, "updated": 10, "unchanged": 0},
            rejects={"REQUIRED_FIELD_MISSING": 3, "STRING_TOO_LONG": 1, "INVALID_EMAIL_ADDRESS": 2},
            api_calls=12,
            seconds=3.14159,
            notes=["window 2026/01/01 00:00:00 (included) to 2026/02/01 00:00:00 (excluded)"],
            attempts=[Attempt(1, "salesforce query failed: 503 " + "x" * 120, wait=300.0)],
        ),
        StepReport(2, "export", "export contacts_with_a_rather_long_name → Contact", "failed",
                   error="salesforce insert failed: the CRM is unavailable, try again later"),
    ]  # fmt: skip
    return JobReport(
        job="nightly sync of the campaign database",
        account="'production-salesforce-account'",
        store="/home/someone/projects/campaign/data/stores/the-campaign-store.duckdb",
        dry_run=True,
        steps=steps,
        seconds=12.3456,
        error="step 2 (export contacts → Contact): salesforce insert failed: unavailable",
        run_id="0123456789abcdef0123456789abcdef",
        run_at="2026-12-07T05:00:00+00:00",
    )


# --- the display module -------------------------------------------------------------------------


def test_display_module_is_pure():
    tree = ast.parse((PACKAGE / "display.py").read_text())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}  # fmt: skip
    assert imported <= {"__future__", "html", "math", "numbers", "textwrap", "collections", "datetime", "typing", "pandas"}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12345, "12,345"), (0.04856794, "0.05"), (2.0, "2"), (None, ""), (float("nan"), ""),
     (pd.NaT, ""), (datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), "2026-01-02 03:04:05+00:00"),
     (True, "True"), ("text", "text")],
)  # fmt: skip
def test_display_value_formats_cells(value, shown):
    assert display.value(value) == shown


def test_display_frame_formats_numpy_numbers_and_aligns_them_right():
    shown = display.frame(pd.DataFrame({"n": [5000], "x": [0.123456], "name": ["a"]}))
    assert "<td style='text-align:right'>5,000</td>" in shown
    assert "<td style='text-align:right'>0.12</td>" in shown
    assert "<td style='text-align:left'>a</td>" in shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.04856794, "0.05 s"), (12.34, "12.3 s"), (125.2, "2 min 5 s")]
)
def test_display_duration_is_short(seconds, shown):
    assert display.duration(seconds) == shown


def test_display_values_are_html_escaped_everywhere():
    evil = "<script>alert('x')</script>"
    frame = pd.DataFrame({"LastName": [evil], evil: ["column name"]})
    rejects = REJECTS.assign(errorSymbol=[evil] * 3, errorMessage=[evil] * 3)
    result = export_result(frame, rejects)
    shown = result._repr_html_() + import_result(frame, rejects)._repr_html_()
    assert "<script>" not in shown
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in shown
    assert "<script>" not in display.card(evil, [(evil, evil)], [(evil, display.frame(frame))])


def test_display_never_shows_a_secret():
    secret = "hunter2-very-secret"
    frame = pd.DataFrame({"password": [Secret(secret)], "LastName": ["Smith"]})
    shown = import_result(frame)._repr_html_() + display.frame(frame)
    assert secret not in shown and "********" in shown


def test_rejects_by_symbol_counts_and_keeps_the_first_message():
    assert display.rejects_by_symbol(REJECTS).to_dict("records") == [
        {"errorSymbol": "REQUIRED_FIELD_MISSING", "rows": 2,
         "errorMessage": "Required fields are missing: [LastName]"},
        {"errorSymbol": "STRING_TOO_LONG", "rows": 1, "errorMessage": "too long"},
    ]  # fmt: skip
    assert display.rejects_by_symbol(REJECTS.iloc[:0]).empty


def test_text_table_fits_the_width_cutting_the_label():
    rows = [("1", "x" * 100, "ok")]
    lines = display.text_table(("#", "step", "status"), rows, width=40)
    assert max(map(len, lines)) <= 40 and lines[1].rstrip().endswith("ok") and "…" in lines[1]


# --- results ------------------------------------------------------------------------------------


def test_import_result_shows_window_rows_rejects_calls_and_first_rows():
    frame = pd.DataFrame({"Id": [f"003{i}" for i in range(8)], "LastName": list("abcdefgh")})
    result = import_result(frame)
    shown = result._repr_html_()
    for text in ("LASTIMPORT_default_contacts", "2026/01/01 00:00:00", "REQUIRED_FIELD_MISSING",
                 "Required fields are missing: [LastName]", "API calls", "1.23 s", "first 5 of 8 rows",
                 "0034", ">8<"):  # fmt: skip
        assert text in shown, text
    assert "0035" not in shown
    assert (
        repr(result.stats) == "ImportStats(8 rows, 3 rejected, 1 pages, 2 API calls, 1.23 s (rest))"
    )


def test_export_stats_repr_formats_numbers():
    stats = export_stats(rows=1234, created=1200, rejected=34)
    assert repr(stats) == (
        "ExportStats(1,234 rows: 1,200 created, 34 rejected; 1 batches, 2 API calls, 0.05 s (batch))"
    )
    assert not re.search(r"\d\.\d{3,}", repr(stats) + stats._repr_html_())


def test_export_result_shows_counts_rejects_with_messages_changes_and_journal():
    frame = pd.DataFrame({"LastName": ["x"], "crmId": ["003A"], "crmAction": ["created"]})
    changes = pd.DataFrame({"inputIndex": [0], "crmId": ["003A"], "field": ["City"], "old": ["Lyon"], "new": ["Nice"]})  # fmt: skip
    result = export_result(frame, changes=changes, journal=pathlib.Path("j/contact.jsonl"))
    shown = result._repr_html_()
    for text in ("insert of salesforce Contact: 4 rows", "created", "rejected", "STRING_TOO_LONG",
                 "too long", "Lyon", "Nice", "j/contact.jsonl", "0.05 s"):  # fmt: skip
        assert text in shown, text
    assert len(repr(result)) < 160


def test_deleted_result_shows_window_and_rows():
    frame = pd.DataFrame(
        {"Id": ["003A", "003B"], "deletedDate": [pd.Timestamp("2026-01-02", tz="UTC")] * 2}
    )
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)
    result = DeletedResult(frame, "Contact", "salesforce", "Id", start, end, 3, 0.5)
    shown = result._repr_html_()
    assert "2026-01-01 00:00:00 to 2026-01-31 00:00:00 UTC" in shown
    assert "003B" in shown and "2026-01-02 00:00:00+00:00" in shown


def test_dedupe_result_shows_members_side_by_side_and_filled_fields():
    df = pd.DataFrame(
        {
            "Id": ["a", "b", "c"],
            "Email": ["ann@x.org", "ANN@x.org ", "bob@y.org"],
            "Phone": [None, "0102", None],
            "LastModifiedDate": pd.to_datetime(
                ["2026-01-02", "2026-01-01", "2026-01-01"], utc=True
            ),
        }
    )
    result = deduplicate(df, on="Email", key="Id", merge="Phone")
    shown = result._repr_html_()
    assert "cluster " in shown and ">kept<" in shown and ">removed 1<" in shown
    side_by_side = re.search(r"<tr><td[^>]*>Email</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", shown)  # fmt: skip
    assert side_by_side is not None and side_by_side.groups() == ("ann@x.org", "ANN@x.org ")
    assert "filled fields" in shown and "0102" in shown
    assert repr(result).startswith("<DedupeResult: deduplicated 3 rows")


def test_reconcile_result_shows_differences_per_field_and_a_sample():
    left = pd.DataFrame(
        {"Id": ["a", "b", "c"], "City": ["Paris", "Lyon", "Metz"], "Zip": ["1", "2", "3"]}
    )
    right = pd.DataFrame(
        {"Id": ["a", "b", "d"], "City": ["Nice", "Lyon", "Metz"], "Zip": ["9", "2", "3"]}
    )
    shown = reconcile(left, right, key="Id")._repr_html_()
    assert "differences per field" in shown and "a sample of differences" in shown
    assert "Paris" in shown and "Nice" in shown and "only left" in shown and "only right" in shown


def test_job_report_text_fits_80_columns_and_keeps_everything():
    report = long_report()
    text = str(report)
    assert max(map(len, text.splitlines())) <= 80, text
    flat = "".join(text.split())
    for part in ("(dry run: nothing written)", report.run_id, report.store, "5,000 imported",
                 "4,990 inserted", "INVALID_EMAIL_ADDRESS 2", str(report.steps[0].attempts[0]),
                 report.steps[0].notes[0], "failed: step 2 (export contacts → Contact)"):  # fmt: skip
        assert "".join(part.split()) in flat, part
    assert "3.14" in text and "12.35 s" in text


def test_job_report_repr_is_short_and_html_has_one_row_per_step():
    report = long_report()
    assert repr(report) == "JobReport('nightly sync of the campaign database': 2 steps, failed, dry run, 12.35 s)"  # fmt: skip
    shown = report._repr_html_()
    steps = shown.split("<p style='margin:0.4em 0 0 0'>steps</p>")[1].split("</table>")[0]
    assert steps.count("<tr>") == 3  # the header and one row per step
    assert "3.14 s" in steps and "waited 5m, retried" in steps and "unavailable, try again" in steps
    assert "INVALID_EMAIL_ADDRESS" in shown and report.run_id in shown


def test_campaign_store_shows_tables_with_row_counts_and_watermarks():
    with CampaignStore() as store:
        store.merge(
            "Contact", pd.DataFrame({"Id": ["a", "b", "c"], "City": ["x", "y", "z"]}), key="Id"
        )
        store.options["LASTIMPORT_default_Contact"] = "2026/01/01 00:00:00"
        shown = store._repr_html_()
        assert repr(store) == "CampaignStore(':memory:')"
    assert re.search(r">Contact</td><td[^>]*>3</td><td[^>]*>2</td>", shown)
    assert "LASTIMPORT_default_Contact" in shown and "2026/01/01 00:00:00" in shown
    assert "(closed)" in store._repr_html_()


def test_object_schema_to_frame_has_one_row_per_field():
    schema = ObjectSchema(
        "Contact",
        {
            "Id": Field("Id", "id", "id", "Record ID", length=18, nullable=False),
            "Email": Field("Email", "string", "email", "Email", length=80, external_id=True),
            "LastModifiedDate": Field("LastModifiedDate", "datetime", "datetime"),
            "Salutation": Field(
                "Salutation", "string", "picklist", options=(("Mr.", "Mr."), ("Ms.", "Ms."))
            ),
            "AccountId": Field("AccountId", "reference", "reference", references=("Account",)),
        },
        "Id",
        modified_fields=("LastModifiedDate",),
        keys=(("Email",),),
        label="Contact",
    )
    frame = schema.to_frame()
    assert frame[["name", "kind", "role", "references", "options"]].to_dict("list") == {
        "name": ["Id", "Email", "LastModifiedDate", "Salutation", "AccountId"],
        "kind": ["id", "string", "datetime", "string", "reference"],
        "role": ["id", "key", "modified", "", ""],
        "references": ["", "", "", "", "Account"],
        "options": ["", "", "", "Mr., Ms.", ""],
    }
    assert frame["length"].tolist()[:2] == [18, 80] and frame["external_id"].tolist()[1]
    assert repr(schema) == "ObjectSchema('Contact': 5 fields, id 'Id', modified 'LastModifiedDate')"
    shown = schema._repr_html_()
    assert ">Contact: 5 fields<" in shown and shown.count("<tr>") == 4 + 6


def test_result_reprs_are_one_short_line_for_a_terminal():
    frame = pd.DataFrame({"Id": ["003A"]})
    shown = {
        repr(import_result(frame)): "ImportResult(salesforce Contact: 1 rows, 3 rejected, 1.23 s)",
        repr(export_result(frame)): "ExportResult(insert salesforce Contact: 1 created, 3 rejected, 0.05 s)",
    }  # fmt: skip
    assert list(shown) == list(shown.values())
    left = pd.DataFrame({"Id": ["a"], "City": ["Paris"]})
    report = long_report()
    report.job = "nightly sync"
    with CampaignStore() as store:
        others = [repr(report), repr(reconcile(left, left, key="Id")), repr(store)]
    assert all("\n" not in text and len(text) <= 80 for text in [*shown, *others])
