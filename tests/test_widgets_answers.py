"""The forms answer (issue 14): progress, errors beside controls, result tabs, field list."""

import pandas as pd
import pytest

from crmframes import CampaignStore, ConfigError, import_from_crm
from crmframes.widgets import DeletedForm, DeleteForm, ExportForm, ImportForm


@pytest.fixture
def store(tmp_path):
    with CampaignStore(tmp_path / "campaign.duckdb") as campaign:
        yield campaign


def test_run_disables_itself_and_shows_a_status_then_tabs(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    form.pick(["lastname"])
    form.limit.value = 3
    seen = []
    form.run_button.observe(lambda change: seen.append(change["new"]), names="disabled")
    status = []
    form.panel.status.observe(lambda change: status.append(change["new"]), names="value")
    form.run_button.click()
    assert seen == [True, False]  # disabled while the step ran
    assert "running import contact → contact" in status[0]
    assert any("[1/1] import contact → contact ..." in line for line in status)  # its lines
    assert form.panel.bar.bar_style == "success"
    assert (form.panel.bar.value, form.panel.bar.max) == (3, 3)  # moved by the import's counts
    assert "import contact: 3 rec ✓" in form.panel.counts.value
    assert form.panel.status.value.startswith("ok: 3 imported, 3 inserted")
    assert form.panel.titles == ("report", "frame", "rejects (0)")
    assert "import contact" in form.panel.tabs.children[0].value
    assert "lastname" in form.panel.tabs.children[1].value


def test_a_run_stopped_by_a_bad_value_clears_the_last_runs_tabs(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    form.limit.value = 1
    form.run()
    form.timezone.value = "Mars/Olympus"
    form.run_button.click()
    assert form.panel.titles == () and not form.run_button.disabled
    assert form.errors and form.message.startswith("error: ")


def test_errors_show_beside_their_control_in_plain_words_and_go_when_fixed(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    form.timezone.value = "Mars/Olympus"
    form.buttons.children[0].click()  # Show spec
    assert list(form.errors) == ["timezone"]
    assert form.errors["timezone"].startswith("unknown time zone 'Mars/Olympus'")
    assert form.message.startswith("error: timezone: unknown time zone 'Mars/Olympus'")
    shown = form._error_lines["timezone"].value
    assert "color:#b71c1c" in shown and "Mars/Olympus" in shown
    for text in [form.message, *form.errors.values()]:
        assert "pydantic" not in text and "http" not in text and "validation error" not in text
        assert "Value error" not in text and "Spec(...)" not in text
    form.timezone.value = "Europe/Paris"  # fixed: its error goes at once
    assert form.errors == {} and form._error_lines["timezone"].value == ""
    assert form.message == ""
    form.auto_index.value = True
    form.activity.value = "a b"
    form.run_button.click()
    assert form.errors == {"activity": "'a b' may only hold letters, digits, '_', '.' and '-'"}
    form.activity.value = "contacts"
    assert form.errors == {} and form._error_lines["activity"].value == ""


def test_a_stale_filter_error_goes_with_its_row(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    form.filter.add("donotemail", "==", "perhaps")
    form.run_button.click()
    assert form.errors == {"filter": "donotemail: 'perhaps' is not true or false"}
    form.filter.remove(form.filter.rows[0])
    assert form.errors == {} and form._error_lines["filter"].value == ""


def test_bad_sql_in_a_table_form_shows_beside_the_condition(dv_demo, store):
    conn = dv_demo.connector()
    store.merge("contact", import_from_crm(conn, "contact", fields=["lastname"], limit=3))
    form = DeleteForm(conn, store, object="contact", table="contact")
    form.where.value = "lastname = = 'x'"
    form.run_button.click()
    assert list(form.errors) == ["where"] and "Parser Error" in form.errors["where"]
    assert form.panel.bar.bar_style == "danger"


def test_rejects_tab_saves_a_csv_where_the_user_says(dv_demo, store, tmp_path, monkeypatch):
    conn = dv_demo.connector()
    rows = pd.DataFrame({"contactid": ["not-an-id", "also-bad"]}).astype("str")
    store.merge("bad", rows, key="contactid")
    form = DeleteForm(conn, store, object="contact", table="bad")
    report, preview = form.run()
    assert report.steps[0].rejects and form.panel.titles == ("report", "changes")
    assert list(preview["crmAction"]) == ["rejected", "rejected"]
    form.dry_run.value = False
    form.run()
    assert form.panel.titles == ("report", "frame", "rejects (2)")
    monkeypatch.chdir(tmp_path)
    assert form.panel.rejects_path.value == "rejects_contact.csv"  # in the current folder
    form.panel.save.click()
    written = tmp_path / "rejects_contact.csv"
    assert form.message == f"rejects saved to {written}"
    assert list(pd.read_csv(written)["contactid"]) == ["not-an-id", "also-bad"]
    form.panel.rejects_path.value = str(tmp_path / "missing" / "r.csv")
    form.panel.save.click()
    assert form.message.startswith("error: cannot write") and "type another path" in form.message
    with pytest.raises(ConfigError, match="is a folder"):
        form.panel.save_rejects(tmp_path)


def test_a_dry_run_export_shows_its_changes(dv_demo, store):
    conn = dv_demo.connector()
    store.merge("contact", import_from_crm(conn, "contact", fields=["jobtitle"], limit=2))
    store.sql("UPDATE contact SET jobtitle = 'Chief tester'")
    form = ExportForm(conn, store, object="contact", table="contact")
    form.key.value = "contactid"
    form.map({"contactid": "contactid"})
    form.run()
    assert form.panel.titles == ("report", "rejects (0)", "changes")
    assert "Chief tester" in form.panel.tabs.children[2].value
    assert form.panel.bar.bar_style == "warning"  # a dry run: nothing written


def test_the_field_list_searches_ticks_what_it_shows_and_sums_up(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    fields = form.fields
    assert fields.describe() == "no field ticked: every field is read"
    fields.search.value = "address1"  # what typing in the search box does
    found = fields.shown()
    assert found and all("address1" in name for name in found)
    fields.select_all()
    assert fields.ticked() == found
    fields.search.value = ""
    assert len(fields.shown()) == len(form.picks)
    fields.select_none()
    form.pick({"lastname": "default", "birthdate": "date_only"})
    total = len(form.picks)
    assert fields.describe() == f"2 of {total} fields: lastname, birthdate (date_only)"
    assert "2 of" in fields.summary.value
    assert list(form.spec().fields) == ["lastname", "birthdate"]


@pytest.mark.parametrize(
    ("system", "obj", "filter_field", "sort_field"),
    [
        ("dynamics", "contact", "fullname", "modifiedon"),
        ("dynamics", "account", "name", "modifiedon"),
        ("salesforce", "Contact", "Name", "LastModifiedDate"),
    ],
)
def test_new_rows_start_on_a_useful_field(
    dv_demo, demo_sandbox, store, system, obj, filter_field, sort_field
):
    sandbox = dv_demo if system == "dynamics" else demo_sandbox
    form = ImportForm(sandbox.connector(), store, object=obj)
    form.filter.widget.children[0].children[1].click()  # add condition
    form.order.widget.children[0].click()  # add sort field
    assert form.filter.rows[0].field.value == filter_field
    assert form.order.rows[0].field.value == sort_field
    assert "_createdby_value" not in (filter_field, sort_field)


def test_the_watermark_shows_and_resets_and_index_fields_follow_their_box(dv_demo, store):
    conn = dv_demo.connector()
    form = ImportForm(conn, store, object="contact")
    assert form.activity.disabled and form.instance.disabled and form.index_fields.disabled
    assert form.watermark.line.value == ""
    form.auto_index.value = True
    assert not form.activity.disabled and not form.index_fields.disabled
    assert "none yet, Run reads every record" in form.watermark.line.value
    assert form.watermark.reset_button.disabled
    form.pick(["lastname"])
    first, _ = form.run()
    stored = store.options["LASTIMPORT_default_import_contact"]
    fresh = ImportForm(conn, store, object="contact")  # a new form on the same store
    fresh.auto_index.value = True
    assert f"= {stored} UTC: Run reads only what changed since" in fresh.watermark.line.value
    fresh.watermark.reset_button.click()
    assert fresh.message == (
        "LASTIMPORT_default_import_contact reset: the next run reads every record"
    )
    assert "LASTIMPORT_default_import_contact" not in store.options
    fresh.pick(["lastname"])
    again, _ = fresh.run()
    assert again.steps[0].counts["imported"] == first.steps[0].counts["imported"] > 0


def test_deleted_form_disables_what_its_boxes_turn_off(dv_demo, store):
    form = DeletedForm(dv_demo.connector(), store, object="contact")
    assert form.activity.disabled and form.apply.disabled  # no index, no table
    form.auto_index.value = True
    assert not form.activity.disabled
    assert "LASTIMPORT_default_deleted_contact: none yet" in form.watermark.line.value
    form.lookback.value = "a week"
    form.buttons.children[0].click()
    assert list(form.errors) == ["lookback"] and form.errors["lookback"].startswith("'a week'")
    form.lookback.value = "2d"
    assert form.errors == {}


def test_export_form_only_compares_keyed_rows(dv_demo, store):
    conn = dv_demo.connector()
    store.merge("contact", import_from_crm(conn, "contact", fields=["lastname"], limit=2))
    form = ExportForm(conn, store, object="contact", table="contact")
    assert form.only_changed.disabled
    form.key.value = "contactid"
    assert not form.only_changed.disabled
    form.map({"contactid": None})
    form.buttons.children[0].click()
    assert form.errors == {"key": "the key column 'contactid' must be mapped to a CRM field"}
    form.map({"contactid": "contactid"})
    assert form.errors == {}
