"""The automatic index knows which fields (and conversions) its window covers (issue 17 item 4)."""

import pandas as pd
import pytest

from crmframes import AutoIndex, CampaignStore, ConfigError, DataError, Job, import_from_crm
from crmframes.operations.autoindex import StaleFieldWarning
from crmframes.runner import run_job


def _stored(store: CampaignStore, crm, column: str) -> dict[str, object]:
    frame = store.read("contacts", columns=[crm.id, column])
    return {
        i: (None if pd.isna(v) else v) for i, v in zip(frame[crm.id], frame[column], strict=True)
    }


def _crm_values(crm, column: str) -> dict[str, object]:
    records = crm.records()
    return {
        i: (None if pd.isna(v) else v)
        for i, v in zip(records[crm.id], records[column], strict=True)
    }


def _first_run(crm, index: AutoIndex, store: CampaignStore, fields: list) -> None:
    conn = crm.sandbox.connector()
    store.merge(
        "contacts",
        import_from_crm(conn, crm.contact, fields=fields, auto_index=index, progress=False),
    )
    crm.sandbox.clock.advance(minutes=1)


def test_a_field_added_to_the_import_is_backfilled_for_every_stored_row(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    _first_run(crm, index, store, [crm.last])
    ids = crm.records()[crm.id].tolist()
    crm.update(ids[0], {crm.last: "Changed"})
    crm.sandbox.clock.advance(minutes=1)
    conn = crm.sandbox.connector()
    second = import_from_crm(
        conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
    )
    assert second.variables["crmBackfilled"] == crm.email
    assert second.variables["crmStartImport"] == ""  # every record, up to the window's end
    assert len(second.frame) == len(ids)
    store.merge("contacts", second)
    emails = _crm_values(crm, crm.email)
    assert sum(v is not None for v in emails.values()) > len(ids) // 2
    assert _stored(store, crm, crm.email) == emails
    assert '"' + crm.email + '"' in store.options[index.fields_option_name]
    crm.sandbox.clock.advance(minutes=1)
    third = import_from_crm(
        conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
    )
    assert third.frame.empty and "crmBackfilled" not in third.variables  # back to the window


def test_a_changed_conversion_is_backfilled_too(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    _first_run(crm, index, store, [crm.last, crm.created])
    conn = crm.sandbox.connector()
    again = import_from_crm(
        conn,
        crm.contact,
        fields=[crm.last, (crm.created, "raw")],
        auto_index=index,
        progress=False,
    )
    assert again.variables["crmBackfilled"] == crm.created
    assert len(again.frame) == len(crm.records())


def test_refuse_raises_before_reading_and_leaves_the_store_alone(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts", on_new_fields="refuse")
    _first_run(crm, index, store, [crm.last])
    before = dict(store.options)
    conn = crm.sandbox.connector()
    crm.sandbox.reset_api_calls()
    with pytest.raises(ConfigError, match=f"does not cover {crm.email}.*on_new_fields='backfill'"):
        import_from_crm(
            conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
        )
    assert "query" not in crm.sandbox.api_calls()  # no page was read
    assert dict(store.options) == before
    same = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert same.frame.empty  # the unchanged list still imports incrementally


def test_a_dropped_field_warns_and_is_marked_stale_until_it_comes_back(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    _first_run(crm, index, store, [crm.last, crm.email])
    conn = crm.sandbox.connector()
    with pytest.warns(StaleFieldWarning, match=f"{crm.email} no longer imported"):
        dropped = import_from_crm(
            conn, crm.contact, fields=[crm.last], auto_index=index, progress=False
        )
    assert dropped.stale_fields == (crm.email,)
    assert dropped.variables["crmStaleFields"] == crm.email
    store.merge("contacts", dropped)
    assert store.options[index.stale_option_name] == f'["{crm.email}"]'
    assert index.stale() == (crm.email,)
    crm.sandbox.clock.advance(minutes=1)
    later = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert later.stale_fields == (crm.email,)  # still marked; warned once, when it was dropped
    store.merge("contacts", later)
    back = import_from_crm(
        conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
    )
    assert back.variables["crmBackfilled"] == crm.email and back.stale_fields == ()
    store.merge("contacts", back)
    assert index.stale() == () and store.options[index.stale_option_name] == "[]"


def test_the_field_list_is_written_only_with_the_rows(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    _first_run(crm, index, store, [crm.last])
    recorded = store.options[index.fields_option_name]
    conn = crm.sandbox.connector()
    import_from_crm(
        conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
    )
    assert store.options[index.fields_option_name] == recorded  # never merged: nothing moved
    again = import_from_crm(
        conn, crm.contact, fields=[crm.last, crm.email], auto_index=index, progress=False
    )
    assert again.variables["crmBackfilled"] == crm.email  # so the next run backfills again
    store.merge("contacts", again, dry_run=True)
    assert store.options[index.fields_option_name] == recorded


def test_a_watermark_written_before_fields_were_recorded_is_adopted(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    store.options[index.option_name] = "2026/11/20 08:00:00"
    conn = crm.sandbox.connector()
    result = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert result.variables["crmStartImport"] == "2026/11/20 08:00:00"
    assert "crmBackfilled" not in result.variables
    store.merge("contacts", result)
    assert store.options[index.option_name] == "2026/11/20 09:00:00"  # the seed's format, kept
    assert index.covered() is not None and crm.last in index.covered()


def test_a_date_only_field_cut_in_another_zone_is_backfilled(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    _first_run(crm, index, store, [(crm.created, "date_only")])
    conn = crm.sandbox.connector()
    again = import_from_crm(
        conn,
        crm.contact,
        fields=[(crm.created, "date_only")],
        auto_index=index,
        timezone="Pacific/Auckland",
        progress=False,
    )
    assert again.variables["crmBackfilled"] == crm.created


def test_a_corrupt_field_list_is_a_clear_error():
    store = CampaignStore()
    index = AutoIndex(store, activity="a")
    store.options[index.fields_option_name] = "LastName"
    with pytest.raises(DataError, match="not the JSON crmframes writes"):
        index.covered()


def test_an_unknown_on_new_fields_is_refused():
    with pytest.raises(ConfigError, match="on_new_fields"):
        AutoIndex(CampaignStore(), activity="a", on_new_fields="ignore")  # type: ignore[arg-type]


_JOB_NAMES = {
    "salesforce": ("Contact", "Id", "LastName", "Email"),
    "dynamics": ("contact", "contactid", "lastname", "emailaddress1"),
}


def _job(system: str, store, fields: list[str], on_new_fields: str) -> Job:
    obj = _JOB_NAMES[system][0]
    index = {"activity": "contacts", "instance": "job", "on_new_fields": on_new_fields}
    return Job.from_dict(
        {
            "name": "contacts",
            "account": {"sandbox": {"crm": system, "scale": 0.02}},
            "store": str(store),
            "steps": [
                {"import": {"object": obj, "fields": fields, "auto_index": index, "table": "c"}}
            ],
        },
        source="job.yaml",
    )


@pytest.mark.parametrize("system", sorted(_JOB_NAMES))
def test_the_job_runner_backfills_or_refuses_as_its_spec_says(system, tmp_path):
    _, _, last, email = _JOB_NAMES[system]
    store = tmp_path / "campaign.duckdb"
    assert run_job(_job(system, store, [last], "refuse"), progress=False).ok
    refused = run_job(_job(system, store, [last, email], "refuse"), progress=False)
    assert not refused.ok and "on_new_fields='backfill'" in str(refused.error)
    report = run_job(_job(system, store, [last, email], "backfill"), progress=False)
    assert report.ok, report.error
    with CampaignStore(store) as campaign:
        stored = campaign.read("c")
        assert report.steps[0].counts["imported"] == len(stored) > 0
        assert stored[email].notna().sum() > len(stored) // 2
