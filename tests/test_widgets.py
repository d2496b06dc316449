"""The ipywidgets forms, driven from code against the sandboxes (no browser needed)."""

from datetime import date

import pytest

from crmframes import (
    CampaignStore,
    ConfigError,
    F,
    ImportSpec,
    PermissionDeniedError,
    import_from_crm,
)
from crmframes.schema import Field
from crmframes.widgets import DeletedForm, DeleteForm, ExportForm, ImportForm, typed_value
from crmframes.widgets.editors import join_values, split_values


@pytest.fixture
def store(tmp_path):
    with CampaignStore(tmp_path / "campaign.duckdb") as campaign:
        yield campaign


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("42", "integer", 42),
        ("1.5", "number", 1.5),
        ("3", "number", 3),
        ("TRUE", "boolean", True),
        ("0", "boolean", False),
        ("2024-01-31", "date", {"date": "2024-01-31"}),
        ("2024-01-31T10:00:00Z", "datetime", {"datetime": "2024-01-31T10:00:00+00:00"}),
        ("O'Brien \\ ü", "string", "O'Brien \\ ü"),
    ],
)
def test_filter_values_are_typed_by_field_kind(text, kind, expected):
    assert typed_value(text, Field("f", kind)) == expected


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("many", "integer", "'many' is not a whole number"),
        ("maybe", "boolean", "is not true or false"),
        ("31/01/2024", "date", "is not a date such as 2024-01-31"),
        ("2024-01-31T10:00:00", "datetime", "has no offset"),
    ],
)
def test_bad_filter_values_are_clear_errors(text, kind, message):
    with pytest.raises(ConfigError, match=message):
        typed_value(text, Field("f", kind))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a, b,c", ["a", "b", "c"]),
        ('Smith, "Doe, John"', ["Smith", "Doe, John"]),
        ('" Ann ", ""', [" Ann ", ""]),
        ('"6"" tall", x', ['6" tall', "x"]),
        (" , a, ", ["a"]),
        ("", []),
    ],
)
def test_list_values_split_on_commas_and_quotes_keep_one(text, values):
    assert split_values(text) == values
    assert split_values(join_values(values)) == values


@pytest.mark.parametrize(
    ("text", "message"),
    [('a, "b', "a quote is not closed"), ('"a" b, c', "a comma after each quoted value")],
)
def test_bad_lists_are_clear_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        split_values(text)


def test_import_form_builds_the_spec_a_job_holds_and_runs_it(dv_demo, store):
    conn = dv_demo.connector()
    form = ImportForm(conn, store, object="CONTACT")
    assert form.object.value == "contact" and form.table.value == "contact"
    form.pick({"lastname": "default", "emailaddress1": "default", "birthdate": "default"})
    form.filter.add("address1_city", "==", "Paris")
    form.filter.add("birthdate", ">", "1970-01-01")
    form.order.add("lastname", "desc")
    form.auto_index.value = True
    spec = form.spec()
    assert spec == ImportSpec(
        object="contact",
        fields=["lastname", "emailaddress1", "birthdate"],
        where=(F("address1_city") == "Paris") & (F("birthdate") > date(1970, 1, 1)),
        order_by=[("lastname", "desc")],
        auto_index={"activity": "import_contact"},
        table="contact",
    )
    assert ImportSpec.from_yaml(spec.to_yaml()) == spec

    report, result = form.run()
    expected = import_from_crm(
        conn, "contact", fields=["lastname", "emailaddress1", "birthdate"], where=spec.where
    )
    assert report.ok and report.steps[0].counts["imported"] == len(expected.frame) > 0
    assert sorted(result.frame["contactid"]) == sorted(expected.frame["contactid"])
    assert list(result.frame["lastname"]) == sorted(result.frame["lastname"], reverse=True)
    assert len(store.read("contact")) == len(expected.frame)
    assert "LASTIMPORT_default_import_contact" in store.options

    again, _ = form.run()  # the automatic index: nothing changed since
    assert again.steps[0].counts["imported"] == 0


def test_import_form_loads_a_spec_back(demo_sandbox, store):
    spec = ImportSpec(
        object="Contact",
        fields={"LastName": "default", "CreatedDate": "date_only"},
        where=(F("LastName") == "O'Brien") | F("Email").isin(["a@x.org", "b@x.org"]),
        order_by=[("CreatedDate", "desc"), ("LastName", "asc")],
        timezone="Europe/Paris",
        mode="rest",
        limit=50,
        table="sf_contacts",
    )
    form = ImportForm(demo_sandbox.connector(), store)
    form.load(spec)
    assert form.spec() == spec
    everything = ImportSpec(
        object="Contact",
        fields={"CreatedDate": "date_only", "LastName": "default"},  # not in schema order
        where=F("LastName").isin(["Doe, John", ' "Ann" ', ""]) | (F("FirstName") == " Jo "),
        auto_index={"activity": "contacts", "instance": "prod", "fields": ["CreatedDate"]},
        table="Contact",
    )
    form.load(everything)
    assert form.spec() == everything
    assert list(form.spec().fields) == ["CreatedDate", "LastName"]
    strict = ImportSpec(
        object="Account", where=F("NumberOfEmployees") > 10, strict=True, table="Account"
    )
    form.load(strict)
    assert form.spec() == strict
    form.timezone.value = "Mars/Olympus"
    with pytest.raises(ValueError, match="Mars/Olympus"):
        form.spec()
    with pytest.raises(ConfigError, match="nests conditions"):
        form.load(
            spec.model_copy(update={"where": (F("A") == 1) & ((F("B") == 2) | (F("C") == 3))})
        )


def test_form_errors_show_in_the_form_and_never_escape_a_click(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store)
    with pytest.raises(ConfigError, match="choose a CRM object first"):
        form.spec()
    form.object.value = "contact"
    form.filter.add("donotemail", "==", "perhaps")
    run = form.buttons.children[1]
    run.click()  # what the browser does
    assert form.message == "error: donotemail: 'perhaps' is not true or false"
    assert form.output.outputs[-1]["text"] == form.message + "\n"
    assert store.tables() == []
    form.filter.remove(form.filter.rows[0])
    form.buttons.children[0].click()  # Show spec
    assert form.message.startswith("object: contact")
    with pytest.raises(ConfigError, match="no field 'nope'"):
        form.pick(["nope"])
    with pytest.raises(ConfigError, match="no object 'Nope'"):
        ImportForm(dv_demo.connector(), store, object="Nope")


def test_the_add_buttons_before_an_object_show_their_error(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store)
    for editor, needs in [(form.filter, "filter rows"), (form.order, "order")]:
        add = editor.widget.children[0]
        add = add.children[1] if editor is form.filter else add
        add.click()
        assert form.message == f"error: choose an object first: its fields fill the {needs}"
        assert editor.rows == []


def test_a_failed_run_leaves_no_older_results(dv_demo, store):
    form = ImportForm(dv_demo.connector(), store, object="contact")
    form.pick(["lastname"])
    form.limit.value = 2
    report, result = form.run()
    assert report.ok and len(result.frame) == 2
    form.filter.add("donotemail", "==", "perhaps")
    form.buttons.children[1].click()
    assert form.message.startswith("error: ") and form.report is None and form.result is None


def test_tables_made_after_a_form_are_listed_again(dv_demo, store):
    conn = dv_demo.connector()
    export = ExportForm(conn, store, object="contact")
    deleted = DeletedForm(conn, store)
    assert export.source.options == () and deleted.table.options == ("(none: only count)",)
    with pytest.raises(ConfigError, match=r"no table 'contact' \(tables: none yet\)"):
        export.use("contact")
    store.merge("contact", import_from_crm(conn, "contact", fields=["lastname"], limit=3))
    export.use("CONTACT")
    assert export.source.value == "contact" and "lastname" in export.mapping
    deleted.object.value = "contact"  # the table named like the object is chosen
    assert deleted.table.value == "contact" and deleted.spec().table == "contact"
    store.merge("later", import_from_crm(conn, "contact", fields=["lastname"], limit=3))
    reload = export.reload_button
    reload.click()  # the refresh button beside the table list
    assert export.source.options == ("contact", "later") and export.source.value == "contact"
    assert export.message == ""


def test_export_form_maps_columns_and_runs_a_dry_run_then_the_export(dv, store):
    conn = dv.connector()
    imported = import_from_crm(conn, "contact", fields=["lastname", "jobtitle"], limit=20)
    store.merge("contact", imported)
    form = ExportForm(conn, store, object="contact", table="contact")
    assert form.mapping["lastname"].value == "lastname"  # same names are mapped at once
    assert form.mapping["modifiedon"].value == "(not sent)"  # not writable
    form.map({"lastname": None, "jobtitle": "jobtitle"})
    form.key.value = "contactid"
    form.map({"contactid": "contactid"})
    with pytest.raises(ConfigError, match="writable field"):
        form.map({"jobtitle": "createdon"})
    store.sql("UPDATE contact SET jobtitle = coalesce(jobtitle, '') || ' (edited)'")

    spec = form.spec()
    assert spec.dry_run and spec.mapping == {"jobtitle": "jobtitle", "contactid": "contactid"}
    report, result = form.run()
    assert report.steps[0].counts == {"rows": 20, "would update": 20}
    assert report.dry_run and "(dry run: nothing written)" in str(report)
    form.dry_run.value = False
    report, result = form.run()
    assert report.ok and not report.dry_run and result.stats.updated == 20
    sent = dv.records("contact").set_index("contactid").loc[list(imported.frame["contactid"])]
    assert all(title.endswith(" (edited)") for title in sent["jobtitle"])


def test_a_failed_describe_shows_in_the_form(dv_demo, store, monkeypatch):
    conn = dv_demo.connector()
    form = ImportForm(conn, store)

    def refused(name):
        raise PermissionDeniedError("no read access", system="Dataverse", operation="describe")

    with monkeypatch.context() as patched:
        patched.setattr(conn, "describe", refused)
        form.object.value = "account"  # what choosing in the browser does
    assert form.schema is None and form.picks == {}
    assert form.message == "error: Dataverse describe: no read access"
    form.object.value = "contact"
    assert form.schema is not None and form.message == ""


def test_delete_form_counts_first_then_deletes_and_deleted_form_applies_it(dv, store):
    conn = dv.connector()
    store.merge("gone", import_from_crm(conn, "contact", fields=["lastname"], limit=5))
    ids = set(store.read("gone")["contactid"])
    form = DeleteForm(conn, store, object="contact", table="gone")
    assert form.key.value == "contactid" and form.dry_run.value
    report, _ = form.run()
    assert report.dry_run and report.steps[0].counts == {"rows": 5, "would delete": 5}
    assert ids <= set(dv.records("contact")["contactid"])
    form.dry_run.value = False
    report, result = form.run()
    assert report.ok and result.stats.deleted == 5
    assert not ids & set(dv.records("contact")["contactid"])

    deleted = DeletedForm(conn, store, object="contact")
    assert deleted.table.value == "(none: only count)" and deleted.lookback.value == "7d"
    deleted.table.value = "gone"
    deleted.lookback.value = "1d"
    assert deleted.spec().to_dict() == {
        "object": "contact",
        "lookback": "1d",
        "table": "gone",
    }
    report, _ = deleted.run()
    assert report.ok
    assert store.read("gone")["crmDeletedDate"].notna().all()
    deleted.lookback.value = "a week"
    deleted.buttons.children[0].click()
    assert deleted.message.startswith("error: ") and "lookback" in deleted.message
