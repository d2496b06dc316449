"""import_from_crm on both CRMs: fields, conversions, filters, order, populations, the automatic index."""

from datetime import date, timedelta

import pandas as pd
import pytest

from crmframes import (
    AutoIndex,
    CampaignStore,
    ColumnNotFoundError,
    ConfigError,
    F,
    FilterError,
    ImportSpec,
    NotFoundError,
    UnavailableError,
    import_from_crm,
)
from crmframes.frames import REJECT_COLUMNS


def test_import_every_record_with_types_from_describe(demo_crm):
    conn = demo_crm.sandbox.connector()
    result = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.last, demo_crm.email, demo_crm.birthdate],
        progress=False,
    )
    frame = result.frame
    assert list(frame.columns) == [
        demo_crm.last,
        demo_crm.email,
        demo_crm.birthdate,
        demo_crm.id,
        demo_crm.modified,
    ]
    assert sorted(frame[demo_crm.id]) == sorted(demo_crm.records()[demo_crm.id])
    assert str(frame[demo_crm.modified].dtype) == "datetime64[ms, UTC]"
    assert str(frame[demo_crm.birthdate].dtype) == "date32[day][pyarrow]"
    assert frame[demo_crm.last].dtype == "str"
    assert list(result.rejects.columns)[-5:] == list(REJECT_COLUMNS) and result.rejects.empty
    assert result.stats.rows == len(frame) == 2000
    assert result.key == demo_crm.id and result.watermark is None and result.variables == {}


@pytest.mark.parametrize(
    ("conversion", "dtype"),
    [
        ("default", "datetime64[ms, Europe/Paris]"),
        ("date_only", "date32[day][pyarrow]"),
        ("no_offset", "datetime64[ms]"),
        ("raw", "str"),
    ],
)
def test_conversions_per_field(demo_crm, conversion, dtype):
    conn = demo_crm.sandbox.connector()
    result = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[(demo_crm.created, conversion)],
        timezone="Europe/Paris",
        limit=5,
        order_by=demo_crm.id,
        progress=False,
    )
    column = result.frame[demo_crm.created]
    assert str(column.dtype) == dtype
    raw = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[(demo_crm.created, "raw")],
        limit=5,
        order_by=demo_crm.id,
        progress=False,
    ).frame[demo_crm.created]
    instant = pd.to_datetime(raw, format="ISO8601", utc=True)
    if conversion == "default":
        assert (column == instant).all()
    elif conversion == "no_offset":
        assert (column == instant.dt.tz_localize(None)).all()
    elif conversion == "date_only":
        assert list(column) == list(instant.dt.tz_convert("Europe/Paris").dt.date)


def test_filter_order_and_limit(demo_crm):
    conn = demo_crm.sandbox.connector()
    where = (F(demo_crm.employees) > 1000) & F(demo_crm.account_name).not_null()
    result = import_from_crm(
        conn,
        demo_crm.account,
        fields=[demo_crm.account_name, demo_crm.employees],
        where=where,
        order_by=[(demo_crm.employees, "desc"), demo_crm.account_name],
        progress=False,
    )
    accounts = demo_crm.records(demo_crm.account)
    expected = accounts[pd.to_numeric(accounts[demo_crm.employees]) > 1000]
    assert len(result.frame) == len(expected) > 0
    sizes = result.frame[demo_crm.employees].tolist()
    assert sizes == sorted(sizes, reverse=True)
    limited = import_from_crm(
        conn,
        demo_crm.account,
        fields=[demo_crm.employees],
        where=where,
        limit=7,
        order_by=[(demo_crm.employees, "desc")],
        progress=False,
    )
    assert limited.frame[demo_crm.employees].tolist() == sizes[:7]


def test_nulls_sort_last_on_both_crms(demo_crm):
    conn = demo_crm.sandbox.connector()
    frame = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.birthdate],
        order_by=demo_crm.birthdate,
        progress=False,
    ).frame
    days = frame[demo_crm.birthdate]
    assert days.isna().any() and days.isna().iloc[-1]
    known = days.dropna().tolist()
    assert known == sorted(known)


def test_record_identification_fetches_exactly_those_and_rejects_the_rest(demo_crm):
    conn = demo_crm.sandbox.connector()
    ids = demo_crm.records()[demo_crm.id].tolist()
    wanted = ids[:450]
    missing = (
        "003Rs0000099999"
        if demo_crm.name == "salesforce"
        else "00000000-0000-0000-0000-0000000000aa"
    )
    population = pd.DataFrame({"crmId": [*wanted[::-1], missing, "not an id"], "segment": "vip"})
    conn.describe(demo_crm.contact)
    before = conn.api_calls
    result = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.last],
        population=population,
        id_column="crmId",
        progress=False,
    )
    assert result.frame[demo_crm.id].tolist() == wanted[::-1]
    chunks = -(-450 // conn.id_chunk_size)
    assert conn.api_calls - before == chunks  # one query per chunk of ids
    rejects = result.rejects
    assert rejects["errorSymbol"].tolist() == ["NOT_FOUND", "MALFORMED_ID"]
    assert rejects["inputIndex"].tolist() == [450, 451]
    assert (
        rejects["segment"].tolist() == ["vip", "vip"]
        and rejects["errorFields"].tolist() == ["crmId"] * 2
    )


def test_a_limit_counts_across_a_populations_chunks_and_rejects_no_id_it_did_not_ask(demo_crm):
    conn = demo_crm.sandbox.connector()
    ids = demo_crm.records()[demo_crm.id].tolist()[: conn.id_chunk_size + 50]
    population = pd.DataFrame({"crmId": [*ids, "not an id"]})
    conn.describe(demo_crm.contact)
    before = conn.api_calls
    result = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.last],
        population=population,
        id_column="crmId",
        limit=5,
    )
    fetched = result.frame[demo_crm.id]
    assert len(fetched) == 5 and set(fetched) <= set(ids[: conn.id_chunk_size])
    assert conn.api_calls - before == 1  # the second chunk of ids is never asked
    assert result.rejects["errorSymbol"].tolist() == ["MALFORMED_ID"]


def test_a_limit_and_the_automatic_index_are_refused_together(demo_crm):
    index = AutoIndex(CampaignStore(), activity="contacts")
    conn = demo_crm.sandbox.connector()
    with pytest.raises(ConfigError, match="limit and auto_index"):
        import_from_crm(conn, demo_crm.contact, auto_index=index, limit=10)
    with pytest.raises(ValueError, match="auto_index"):
        ImportSpec(object="contact", auto_index={"activity": "contacts"}, limit=10)


def test_an_unknown_time_zone_is_a_clear_error_everywhere(demo_crm):
    from crmframes import export_to_crm, import_deleted_from_crm

    conn = demo_crm.sandbox.connector()
    frame = pd.DataFrame({demo_crm.last: ["x"]})
    for call in (
        lambda: import_from_crm(conn, demo_crm.contact, timezone="Mars/Olympus"),
        lambda: export_to_crm(conn, demo_crm.contact, frame, timezone="Mars/Olympus"),
        lambda: import_deleted_from_crm(
            conn, demo_crm.contact, start="2026-01-01", timezone="Mars/Olympus"
        ),
    ):
        with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
            call()


def test_population_needs_its_id_column(demo_crm):
    conn = demo_crm.sandbox.connector()
    with pytest.raises(ColumnNotFoundError, match="crmId"):
        import_from_crm(
            conn, demo_crm.contact, population=pd.DataFrame({"id": []}), id_column="crmId"
        )
    with pytest.raises(ConfigError, match="id_column"):
        import_from_crm(conn, demo_crm.contact, population=pd.DataFrame({"id": []}))


def test_unknown_object_and_field_fail_before_any_paging(demo_crm):
    conn = demo_crm.sandbox.connector()
    typo = demo_crm.contact[:-1] + "x"
    with pytest.raises(NotFoundError, match="did you mean"):
        import_from_crm(conn, typo)
    before = conn.api_calls
    with pytest.raises(ColumnNotFoundError, match=f"did you mean '{demo_crm.email}'"):
        import_from_crm(conn, demo_crm.contact, fields=[demo_crm.email + "z"])
    assert conn.api_calls - before <= 2  # describes only, no page


def test_bad_filters_are_refused_before_any_call(demo_crm):
    conn = demo_crm.sandbox.connector()
    with pytest.raises(FilterError) as info:
        import_from_crm(conn, demo_crm.contact, where=F(demo_crm.last) > F(demo_crm.first))
    assert info.value.rule == "literal-values"
    with pytest.raises(FilterError) as info:
        import_from_crm(conn, demo_crm.contact, where=F(demo_crm.last) == "x", strict=True)
    assert info.value.rule == "numbers-and-null-only"


def test_bulk_mode_returns_the_same_frame(demo_crm):
    conn = demo_crm.sandbox.connector()
    fields = [demo_crm.first, demo_crm.last, demo_crm.birthdate, demo_crm.created]
    rest = import_from_crm(
        conn, demo_crm.contact, fields=fields, mode="rest", order_by=demo_crm.id, progress=False
    )
    bulk = import_from_crm(
        conn, demo_crm.contact, fields=fields, mode="bulk", order_by=demo_crm.id, progress=False
    )
    pd.testing.assert_frame_equal(rest.frame, bulk.frame)
    if demo_crm.name == "salesforce":
        assert bulk.stats.mode == "bulk" and bulk.stats.api_calls <= 4


def test_bulk_mode_keeps_text_that_reads_like_a_null_marker(crm):
    names = ["NA", "NULL", "N/A", "nan", "null", "#N/A", "None"]
    for name in names:
        crm.create({crm.last: name})
    conn = crm.sandbox.connector()
    where = F(crm.last).isin(names)
    rest = import_from_crm(conn, crm.contact, fields=[crm.last], where=where, mode="rest")
    bulk = import_from_crm(conn, crm.contact, fields=[crm.last], where=where, mode="bulk")
    assert sorted(bulk.frame[crm.last]) == sorted(rest.frame[crm.last]) == sorted(names)


def test_automatic_index_reads_each_change_exactly_once(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts", instance="test")
    conn = crm.sandbox.connector()
    first = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert first.variables == {
        "crmOptionName": "LASTIMPORT_test_contacts",
        "crmStartImport": "",
        "crmEndDate": "2026/11/20 09:00:00",
    }
    assert len(first.frame) == len(crm.records())
    store.merge("contacts", first)
    assert store.options["LASTIMPORT_test_contacts"] == "2026/11/20 09:00:00"
    ids = first.frame[crm.id].tolist()
    crm.update(ids[0], {crm.last: "Boundary"})  # modified in the very second the window ended
    second = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert second.frame.empty  # [09:00:00, 09:00:00) holds nothing yet
    crm.sandbox.clock.advance(seconds=30)
    crm.update(ids[1], {crm.last: "Later"})
    crm.sandbox.clock.advance(seconds=30)
    third = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert sorted(third.frame[crm.last]) == ["Boundary", "Later"]
    assert third.variables["crmStartImport"] == "2026/11/20 09:00:00"
    assert third.variables["crmEndDate"] == "2026/11/20 09:01:00"
    merged = store.merge("contacts", third)
    assert (merged.updated, merged.inserted) == (2, 0)
    fourth = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert fourth.frame.empty


def test_the_watermark_moves_only_with_the_data(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    conn = crm.sandbox.connector()
    import_from_crm(
        conn, crm.contact, fields=[crm.last], auto_index=index, progress=False
    )  # never merged
    assert index.option_name not in store.options
    crm.sandbox.clock.advance(minutes=5)
    again = import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert again.variables["crmStartImport"] == "" and len(again.frame) == len(crm.records())
    store.merge("contacts", again.frame, key=crm.id)  # a plain frame never moves a watermark
    assert index.option_name not in store.options


def test_an_import_that_fails_midway_changes_nothing(crm):
    store = CampaignStore()
    index = AutoIndex(store, activity="contacts")
    conn = crm.sandbox.connector(retry=_no_retry())
    crm.sandbox.faults.add("internal_error", r"/query|contacts\?", times=1_000)
    with pytest.raises(UnavailableError):
        import_from_crm(conn, crm.contact, fields=[crm.last], auto_index=index, progress=False)
    assert store.tables() == [] and index.option_name not in store.options


def test_transient_failures_are_retried_honouring_retry_after(crm):
    conn = crm.sandbox.connector()
    faults = [
        crm.sandbox.faults.add("rate_limited", "", times=2, retry_after=0.05),
        crm.sandbox.faults.add("unavailable", "", every=3, times=2, retry_after=0.05),
        crm.sandbox.faults.add("drop", "", times=1),
    ]
    result = import_from_crm(conn, crm.contact, fields=[crm.last], progress=False)
    assert len(result.frame) == len(crm.records())
    assert conn.http.retries == sum(f.fired for f in faults) >= 4


def test_an_expired_session_is_renewed_transparently(crm):
    conn = crm.sandbox.connector()
    import_from_crm(conn, crm.contact, fields=[crm.last], limit=1, progress=False)
    crm.sandbox.expire_sessions()
    crm.sandbox.clock.advance(hours=3)
    result = import_from_crm(conn, crm.contact, fields=[crm.last], progress=False)
    assert len(result.frame) == len(crm.records())


@pytest.mark.parametrize("flow", ["password", "client_credentials"])
def test_connectors_authenticate_with_each_flow(crm, flow):
    conn = crm.sandbox.connector(flow=flow)
    assert (
        len(import_from_crm(conn, crm.contact, fields=[crm.last], limit=3, progress=False).frame)
        == 3
    )


def test_more_flows(crm):
    flows = ["jwt", "access_token"] if crm.name == "salesforce" else ["device_code"]
    for flow in flows:
        conn = crm.sandbox.connector(flow=flow)
        assert conn.describe(crm.contact).id_field == crm.id


def test_dates_in_filters(demo_crm):
    conn = demo_crm.sandbox.connector()
    cutoff = date(1990, 1, 1)
    result = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.birthdate],
        where=F(demo_crm.birthdate) >= cutoff,
        progress=False,
    )
    assert (result.frame[demo_crm.birthdate] >= cutoff).all()
    expected = pd.to_datetime(demo_crm.records()[demo_crm.birthdate]).dt.date >= cutoff
    assert len(result.frame) == int(expected.sum())
    recent = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.created],
        where=F(demo_crm.created) >= pd.Timestamp("2026-01-01", tz="UTC") - timedelta(days=1),
        progress=False,
    )
    assert (recent.frame[demo_crm.created] >= pd.Timestamp("2025-12-31", tz="UTC")).all()


def _no_retry():
    from crmframes import RetryPolicy

    return RetryPolicy(attempts=1)


def test_salesforce_parent_fields_come_flat():
    from crmframes import Sandbox

    with Sandbox("salesforce", data="demo", scale=0.1) as sb:
        conn = sb.connector()
        frame = import_from_crm(
            conn,
            "Contact",
            fields=["LastName", "Account.Name", "account.owner.name"],
            progress=False,
        ).frame
        bulk = import_from_crm(
            conn,
            "Contact",
            fields=["LastName", "Account.Name", "Account.Owner.Name"],
            mode="bulk",
            progress=False,
        ).frame
    assert list(frame.columns)[:3] == ["LastName", "Account.Name", "Account.Owner.Name"]
    assert frame["Account.Name"].notna().sum() > 0 and frame["Account.Name"].isna().sum() > 0
    pd.testing.assert_frame_equal(
        frame.sort_values("Id", ignore_index=True), bulk.sort_values("Id", ignore_index=True)
    )


def test_limit_with_ascending_order_keeps_nulls_last(demo_crm):
    conn = demo_crm.sandbox.connector()
    frame = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.birthdate],
        order_by=demo_crm.birthdate,
        limit=3,
        progress=False,
    ).frame
    days = demo_crm.records()[demo_crm.birthdate].dropna().sort_values().tolist()[:3]
    assert [str(d) for d in frame[demo_crm.birthdate]] == days


def test_ordering_by_a_field_not_selected(demo_crm):
    conn = demo_crm.sandbox.connector()
    frame = import_from_crm(
        conn,
        demo_crm.contact,
        fields=[demo_crm.last],
        order_by=[(demo_crm.birthdate, "desc")],
        limit=4,
        progress=False,
    ).frame
    assert demo_crm.birthdate not in frame.columns and len(frame) == 4


def test_auto_mode_switches_to_bulk_above_the_threshold():
    from crmframes import Sandbox

    with Sandbox("salesforce", data="demo", scale=0.2) as sb:
        conn = sb.connector(bulk_threshold=500)
        big = import_from_crm(conn, "Contact", fields=["LastName"], progress=False)
        small = import_from_crm(
            conn, "Contact", fields=["LastName"], where=F("LastName") == "Nobody", progress=False
        )
    assert big.stats.mode == "bulk" and len(big.frame) == 1000
    assert small.stats.mode == "rest"


@pytest.mark.parametrize(
    ("crm", "obj", "scale"), [("salesforce", "Contact", 0.5), ("dynamics", "contact", 1.1)]
)
def test_the_progress_bar_shows_multi_page_imports(crm, obj, scale, capsys):
    from crmframes import Sandbox

    with Sandbox(crm, data="demo", scale=scale) as sb:
        conn = sb.connector()
        result = import_from_crm(conn, obj, fields=["Id" if crm == "salesforce" else "contactid"])
        quiet = import_from_crm(
            conn, obj, fields=["Id" if crm == "salesforce" else "contactid"], progress=False
        )
    assert result.stats.pages == quiet.stats.pages == 2
    shown = capsys.readouterr().err
    assert shown.count(f"import {obj}") >= 1 and f"{len(result.frame)}" in shown
