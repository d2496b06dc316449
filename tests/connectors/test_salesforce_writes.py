"""SalesforceConnector writes against the sandbox over HTTPS: Collections, Bulk API 2.0, getDeleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crmframes import Clock, Sandbox
from crmframes.connectors.base import BulkJobRef, WriteBatch
from crmframes.connectors.salesforce import SalesforceConnector
from crmframes.errors import DataError, RequestRejectedError, UnavailableError

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo", scale=0.02, clock=Clock(START, frozen=True)) as box:
        yield box


@pytest.fixture(scope="module")
def conn(sb: Sandbox) -> SalesforceConnector:
    connector: SalesforceConnector = sb.connector()
    connector.describe("Contact")
    connector.describe("Account")
    return connector


@pytest.fixture(autouse=True)
def _no_faults(sb: Sandbox) -> Iterator[None]:
    yield
    sb.faults.clear()


def contact(sb: Sandbox, record_id: str, *, deleted: bool = False) -> dict[str, Any]:
    frame = sb.records("Contact", include_deleted=deleted)
    rows = frame[frame["Id"] == record_id].to_dict("records")
    assert len(rows) == 1, record_id
    return {k: None if v is None or v != v else v for k, v in rows[0].items()}  # NaN: null


def insert(conn: SalesforceConnector, *records: dict[str, Any]) -> list[str]:
    outcomes = conn.write(WriteBatch("Contact", "insert", records))
    assert all(o.ok for o in outcomes)
    return [str(o.id) for o in outcomes]


def calls(sb: Sandbox, conn: SalesforceConnector, action: Any) -> tuple[Any, int]:
    before, mine = sb.api_call_count(), conn.api_calls
    result = action()
    assert sb.api_call_count() - before == conn.api_calls - mine  # counted as Salesforce counts
    return result, sb.api_call_count() - before


# --- limits and serialisation (no calls) -----------------------------------------------------------


def test_write_limit_collections_and_bulk(conn):
    assert conn.write_limit("insert") == 200
    assert conn.write_limit("delete", bulk=True) == 100_000
    assert conn.supports_bulk_write is True
    with pytest.raises(ValueError, match="op must be one of"):
        conn.write_limit("merge")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (datetime(2024, 1, 1), "no time zone"),
        (float("nan"), "cannot be sent"),
        (object(), "cannot be sent"),
    ],
)
def test_unsendable_values_raise_before_any_call(sb, conn, value, match):
    before = sb.api_call_count()
    with pytest.raises(ValueError, match=match):
        conn.write(WriteBatch("Contact", "insert", ({"LastName": "X", "Title": value},)))
    assert sb.api_call_count() == before


def test_batches_are_checked_before_any_call(conn):
    with pytest.raises(ValueError, match="the most is 200"):
        conn.write(WriteBatch("Contact", "insert", ({"LastName": "X"},) * 201))
    with pytest.raises(ValueError, match="has no Id"):
        conn.write(WriteBatch("Contact", "update", ({"Title": "X"},)))
    with pytest.raises(ValueError, match="external-id field as key"):
        conn.write(WriteBatch("Contact", "upsert", ({"LastName": "X"},)))
    assert conn.write(WriteBatch("Contact", "insert", ())) == []


# --- sObject Collections ---------------------------------------------------------------------------


def test_insert_mixed_records_one_call(sb, conn):
    batch = WriteBatch(
        "Contact",
        "insert",
        (
            {"LastName": "Ins-Good", "Birthdate": date(1990, 2, 3), "DoNotCall": True},
            {"FirstName": "NoLastName"},
            {"LastName": "L" * 81},
            {"LastName": "Ins-Null", "Title": None},
        ),
    )
    outcomes, used = calls(sb, conn, lambda: conn.write(batch))
    assert used == 1
    assert [(o.ok, o.created, o.error_symbol, o.error_fields) for o in outcomes] == [
        (True, True, "", ""),
        (False, None, "REQUIRED_FIELD_MISSING", "LastName"),
        (False, None, "STRING_TOO_LONG", "LastName"),
        (True, True, "", ""),
    ]
    assert outcomes[1].error_message == "Required fields are missing: [LastName]"
    assert outcomes[1].error_code == "200" and not outcomes[1].transient
    stored = contact(sb, str(outcomes[0].id))
    assert (stored["LastName"], stored["Birthdate"], stored["DoNotCall"]) == (
        "Ins-Good",
        "1990-02-03",
        True,
    )


def test_update_mixed_records(sb, conn):
    live, gone = insert(conn, {"LastName": "Upd-A", "Title": "Old"}, {"LastName": "Upd-B"})
    conn.write(WriteBatch("Contact", "delete", ({"Id": gone},)))
    batch = WriteBatch(
        "Contact",
        "update",
        (
            {"Id": live[:15], "Title": None, "Department": "Sales"},
            {"Id": "003BAD", "Title": "x"},
            {"Id": gone, "Title": "x"},
            {"Id": live, "LastName": None},
        ),
    )
    outcomes, used = calls(sb, conn, lambda: conn.write(batch))
    assert used == 1
    assert [(o.ok, o.id, o.error_symbol, o.missing) for o in outcomes] == [
        (True, live, "", False),
        (False, "003BAD", "MALFORMED_ID", False),
        (False, gone, "ENTITY_IS_DELETED", True),
        (False, live, "REQUIRED_FIELD_MISSING", False),
    ]
    assert outcomes[0].created is False
    stored = contact(sb, live)
    assert (stored["Title"], stored["Department"], stored["LastName"]) == (None, "Sales", "Upd-A")


def test_upsert_created_versus_updated(sb, conn):
    [existing] = insert(conn, {"LastName": "Ups-Old", "External_Id__c": "UPS-1"})
    batch = WriteBatch(
        "Contact",
        "upsert",
        (
            {"External_Id__c": "UPS-1", "Title": "Updated"},
            {"External_Id__c": "UPS-2", "LastName": "Ups-New"},
            {"External_Id__c": "UPS-3", "Title": "no last name"},
            {"External_Id__c": "UPS-4", "LastName": "Ups-Twice"},
            {"External_Id__c": "UPS-4", "LastName": "Ups-Twice"},
        ),
        key="External_Id__c",
    )
    outcomes, used = calls(sb, conn, lambda: conn.write(batch))
    assert used == 1
    assert [(o.ok, o.created, o.error_symbol) for o in outcomes] == [
        (True, False, ""),
        (True, True, ""),
        (False, None, "REQUIRED_FIELD_MISSING"),
        (False, None, "DUPLICATE_EXTERNAL_ID"),
        (False, None, "DUPLICATE_EXTERNAL_ID"),
    ]
    assert outcomes[0].id == existing
    assert contact(sb, existing)["Title"] == "Updated"
    assert contact(sb, str(outcomes[1].id))["LastName"] == "Ups-New"


def test_upsert_on_a_field_that_is_no_external_id_rejects_the_call(conn):
    batch = WriteBatch("Contact", "upsert", ({"Title": "x", "LastName": "y"},), key="Title")
    with pytest.raises(RequestRejectedError) as info:
        conn.write(batch)
    assert info.value.code == "INVALID_FIELD" and info.value.status == 400


def test_delete_mixed_ids(sb, conn):
    first, second = insert(conn, {"LastName": "Del-A"}, {"LastName": "Del-B"})
    conn.write(WriteBatch("Contact", "delete", ({"Id": second},)))
    batch = WriteBatch(
        "Contact",
        "delete",
        ({"Id": first}, {"Id": second}, {"Id": "003BAD"}, {"Id": "not, an id"}),
    )
    outcomes, used = calls(sb, conn, lambda: conn.write(batch))
    assert used == 1
    assert [(o.ok, o.id, o.error_symbol, o.missing) for o in outcomes] == [
        (True, first, "", False),
        (False, second, "ENTITY_IS_DELETED", True),
        (False, "003BAD", "MALFORMED_ID", False),
        (False, "not, an id", "MALFORMED_ID", False),
    ]
    assert contact(sb, first, deleted=True)["IsDeleted"] is True
    assert first not in set(sb.records("Contact")["Id"])


def test_locked_row_is_a_transient_outcome(sb, conn):
    sb.faults.add("lock_row", "composite/sobjects", times=1)
    outcomes = conn.write(
        WriteBatch("Contact", "insert", ({"LastName": "Lock-A"}, {"LastName": "Lock-B"}))
    )
    assert [(o.ok, o.error_symbol, o.transient) for o in outcomes] == [
        (False, "UNABLE_TO_LOCK_ROW", True),
        (True, "", False),
    ]


def test_dropped_insert_has_unknown_outcome_and_find_created_resolves_it(sb, conn):
    since = sb.clock.advance(seconds=30)
    records = (
        {"LastName": "Drop-Twin", "Birthdate": date(1980, 1, 1)},
        {"LastName": "Drop-Twin", "Birthdate": date(1980, 1, 1)},
        {"LastName": "Drop-Other", "Title": "CTO"},
        {"FirstName": "never created"},
    )
    insert(conn, {"LastName": "Drop-Other", "Title": "CFO"})  # same name, other title
    sb.faults.add("drop_after", "POST .*/composite/sobjects", times=1)
    before = sb.api_call_count()
    with pytest.raises(UnavailableError) as info:
        conn.write(WriteBatch("Contact", "insert", records))
    assert info.value.outcome_unknown and not info.value.retryable
    assert sb.api_call_count() - before == 1  # not sent twice
    created = sb.records("Contact")
    created = created[created["LastName"].isin(["Drop-Twin", "Drop-Other"])]
    created = created[created["CreatedDate"] >= "2026-11-20T09:00:30"]
    twins = sorted(created[created["LastName"] == "Drop-Twin"]["Id"])
    cto = created[created["Title"] == "CTO"]["Id"].tolist()
    ids = conn.find_created("Contact", records, since)
    assert sorted(ids[:2]) == twins and len(set(ids[:2])) == 2
    assert ids[2:] == [*cto, None]


def test_find_created_ignores_older_records_and_other_values(sb, conn):
    insert(conn, {"LastName": "Find-Old"})
    since = sb.clock.advance(minutes=1)
    [new] = insert(conn, {"LastName": "Find-New", "DoNotCall": False})
    assert conn.find_created(
        "Contact",
        [
            {"LastName": "Find-Old"},
            {"LastName": "Find-New", "DoNotCall": False},
            {"LastName": "Find-New", "DoNotCall": True},
        ],
        since,
    ) == [None, new, None]


def test_find_created_with_an_access_token_reads_the_user(sb):
    token_conn = sb.connector(flow="access_token")
    since = sb.clock.advance(minutes=1)
    [new] = insert(token_conn, {"LastName": "Token-User"})
    assert token_conn.find_created("Contact", [{"LastName": "Token-User"}], since) == [new]


def test_updates_are_retried_after_a_dropped_connection(sb, conn):
    [record] = insert(conn, {"LastName": "Retry"})
    sb.faults.add("drop_after", "PATCH .*/composite/sobjects", times=1)
    [outcome] = conn.write(WriteBatch("Contact", "update", ({"Id": record, "Title": "Again"},)))
    assert outcome.ok and contact(sb, record)["Title"] == "Again"


# --- Bulk API 2.0 ingest ---------------------------------------------------------------------------


def test_bulk_insert_matches_duplicate_rows_in_input_order(sb, conn):
    submitted: list[BulkJobRef] = []

    def note(job: BulkJobRef) -> None:
        method, target, _ = sb.request_log()[-1]  # the job exists; no data was sent yet
        assert (method, target.rsplit("/", 1)[-1]) == ("POST", "ingest")
        submitted.append(job)

    records = (
        {"LastName": "Bulk-Dup", "Title": "Same"},
        {"FirstName": "missing last name"},
        {"LastName": "Bulk-Dup", "Title": "Same"},
        {"LastName": "Bulk-Other", "Title": None},
        {"LastName": "Bulk-Dup", "Title": "Same"},
    )
    outcomes, used = calls(
        sb,
        conn,
        lambda: conn.write_bulk(WriteBatch("Contact", "insert", records), on_submitted=note),
    )
    assert [j.op for j in submitted] == ["insert"] and submitted[0].job_id.startswith("750")
    assert [(o.ok, o.created, o.error_symbol) for o in outcomes] == [
        (True, True, ""),
        (False, None, "REQUIRED_FIELD_MISSING"),
        (True, True, ""),
        (True, True, ""),
        (True, True, ""),
    ]
    assert outcomes[1].error_fields == "LastName"
    ids = [o.id for o in outcomes if o.ok]
    assert len(set(ids)) == 4
    stored = sb.records("Contact").set_index("Id")
    assert [stored.loc[i, "LastName"] for i in ids] == [
        "Bulk-Dup",
        "Bulk-Dup",
        "Bulk-Other",
        "Bulk-Dup",
    ]
    log = [(m, t.split("/jobs/ingest")[-1].split("/")[2:]) for m, t, _ in sb.request_log()[-used:]]
    job = submitted[0].job_id
    polls = len(log) - 5
    assert log == [
        ("POST", []),
        ("PUT", ["batches"]),
        ("PATCH", []),
        *[("GET", [])] * polls,
        ("GET", ["successfulResults", ""]),
        ("GET", ["failedResults", ""]),
    ]
    assert polls >= 1 and all(job in t for _, t, _ in sb.request_log()[-used + 1 :])


def test_bulk_locked_rows_are_transient_outcomes(sb, conn):
    sb.faults.add("lock_row", "jobs/ingest", times=1)
    outcomes = conn.write_bulk(
        WriteBatch("Contact", "insert", ({"LastName": "BLock-A"}, {"LastName": "BLock-B"}))
    )
    assert [(o.ok, o.error_symbol, o.transient) for o in outcomes] == [
        (False, "UNABLE_TO_LOCK_ROW", True),
        (True, "", False),
    ]


def test_bulk_update_nulls_with_na_and_leaves_absent_fields(sb, conn):
    first, second = insert(
        conn,
        {"LastName": "BU-A", "Title": "Keep", "Department": "Old"},
        {"LastName": "BU-B", "Title": "Drop", "Department": "Old"},
    )
    batch = WriteBatch(
        "Contact",
        "update",
        (
            {"Id": first, "Department": "New"},
            {"Id": second, "Title": None, "Department": "New"},
            {"Id": "003BAD", "Department": "x"},
        ),
    )
    outcomes = conn.write_bulk(batch)
    assert [(o.ok, o.id, o.error_symbol) for o in outcomes] == [
        (True, first, ""),
        (True, second, ""),
        (False, "003BAD", "MALFORMED_ID"),
    ]
    a, b = contact(sb, first), contact(sb, second)
    assert (a["Title"], a["Department"]) == ("Keep", "New")
    assert (b["Title"], b["Department"]) == (None, "New")


def test_bulk_upsert_and_delete(sb, conn):
    [existing] = insert(conn, {"LastName": "BUp-Old", "External_Id__c": "BUP-1"})
    upserted = conn.write_bulk(
        WriteBatch(
            "Contact",
            "upsert",
            (
                {"External_Id__c": "BUP-1", "Title": "Updated"},
                {"External_Id__c": "BUP-2", "LastName": "BUp-New"},
            ),
            key="External_Id__c",
        )
    )
    assert [(o.ok, o.created) for o in upserted] == [(True, False), (True, True)]
    assert upserted[0].id == existing
    deleted = conn.write_bulk(
        WriteBatch(
            "Contact", "delete", ({"Id": existing}, {"Id": existing}, {"Id": str(upserted[1].id)})
        )
    )
    assert [(o.ok, o.id, o.missing) for o in deleted] == [
        (True, existing, False),
        (False, existing, True),
        (True, upserted[1].id, False),
    ]
    assert not {existing, upserted[1].id} & set(sb.records("Contact")["Id"])


def test_bulk_batches_over_the_upload_size_are_refused(conn, monkeypatch):
    import crmframes.connectors.salesforce_writes as writes

    monkeypatch.setattr(writes, "BULK_UPLOAD_BYTES", 10)
    with pytest.raises(DataError, match="write fewer records per job"):
        conn.write_bulk(WriteBatch("Contact", "insert", ({"LastName": "Too big"},)))


def test_bulk_job_that_fails_as_a_whole_raises(conn):
    batch = WriteBatch("Contact", "insert", ({"LastName": "X", "Nope__c": "y"},))
    jobs: list[BulkJobRef] = []
    with pytest.raises(RequestRejectedError, match="Field name not found : Nope__c"):
        conn.write_bulk(batch, on_submitted=jobs.append)
    assert conn.resume_bulk(batch, jobs[0]) is None  # failed having written nothing


def test_bulk_upload_lost_aborts_the_job_so_it_can_be_sent_again(sb, conn):
    jobs: list[BulkJobRef] = []
    batch = WriteBatch("Contact", "insert", ({"LastName": "Lost-Upload"},))
    sb.faults.add("drop_after", "PUT .*/batches", times=1)
    with pytest.raises(UnavailableError) as info:
        conn.write_bulk(batch, on_submitted=jobs.append)
    assert info.value.outcome_unknown
    assert conn.resume_bulk(batch, jobs[0]) is None
    assert "Lost-Upload" not in set(sb.records("Contact")["LastName"])


def test_resume_a_completed_job_gives_the_same_outcomes(sb, conn):
    jobs: list[BulkJobRef] = []
    batch = WriteBatch("Contact", "insert", ({"LastName": "Res-A"}, {"Title": "no name"}))
    outcomes = conn.write_bulk(batch, on_submitted=jobs.append)
    count = len(sb.records("Contact"))
    assert conn.resume_bulk(batch, jobs[0]) == outcomes
    assert len(sb.records("Contact")) == count  # nothing sent again


def test_resume_a_running_job_waits_for_it(sb, conn):
    records = tuple({"LastName": f"Run-{i % 3}"} for i in range(20))
    batch = WriteBatch("Contact", "insert", records)
    jobs = conn.sf.base_url + "jobs/ingest"
    job = conn.http.send(
        "POST", jobs, operation="t", json={"object": "Contact", "operation": "insert"}
    ).json()["id"]
    body = "LastName\n" + "".join(f"{r['LastName']}\n" for r in records)
    conn.http.send(
        "PUT",
        f"{jobs}/{job}/batches",
        operation="t",
        data=body.encode(),
        headers={"Content-Type": "text/csv"},
    )
    held, closed = threading.Event(), threading.Event()

    def hold_the_org() -> None:  # the job cannot write a record while this holds the lock
        with sb.org.db.lock:
            held.set()
            closed.wait()
            time.sleep(0.5)

    holder = threading.Thread(target=hold_the_org)
    holder.start()
    held.wait()
    conn.http.send("PATCH", f"{jobs}/{job}", operation="t", json={"state": "UploadComplete"})
    closed.set()
    state = conn.http.send("GET", f"{jobs}/{job}", operation="t").json()["state"]
    outcomes = conn.resume_bulk(batch, BulkJobRef(job, "Contact", "insert"))
    holder.join()
    assert state in ("UploadComplete", "InProgress")  # resumed while it was running
    assert outcomes is not None and all(o.ok and o.created for o in outcomes)
    stored = sb.records("Contact").set_index("Id")["LastName"]
    assert [stored[o.id] for o in outcomes] == [r["LastName"] for r in records]


class Crash(Exception):
    pass


def test_resume_an_open_job_aborts_it(sb, conn):
    jobs: list[BulkJobRef] = []

    def crash(job: BulkJobRef) -> None:
        jobs.append(job)
        raise Crash  # the process dies before its data is uploaded

    batch = WriteBatch("Contact", "insert", ({"LastName": "Res-Open"},))
    with pytest.raises(Crash):
        conn.write_bulk(batch, on_submitted=crash)
    assert conn.resume_bulk(batch, jobs[0]) is None
    info = conn.http.send("GET", conn.sf.base_url + f"jobs/ingest/{jobs[0].job_id}", operation="t")
    assert info.json()["state"] == "Aborted"
    assert conn.resume_bulk(batch, jobs[0]) is None  # aborted: still nothing ran
    unknown = BulkJobRef("750000000000000AAA", "Contact", "insert")
    assert conn.resume_bulk(batch, unknown) is None
    with pytest.raises(ValueError, match="not a update"):
        conn.resume_bulk(WriteBatch("Contact", "update", ({"Id": "x"},)), jobs[0])


# --- getDeleted ------------------------------------------------------------------------------------


def test_read_deleted_includes_both_ends(sb, conn):
    ids = insert(conn, *({"LastName": f"Gone-{i}"} for i in range(4)))
    base = sb.clock.advance(minutes=5).replace(second=0, microsecond=0)
    moments = [base + timedelta(seconds=s) for s in (10, 25, 80, 125)]
    for record_id, moment in zip(ids, moments, strict=True):
        sb.clock.set(moment)
        assert conn.write(WriteBatch("Contact", "delete", ({"Id": record_id},)))[0].ok
    sb.clock.advance(minutes=10)
    found, used = calls(sb, conn, lambda: conn.read_deleted("Contact", moments[1], moments[2]))
    assert [(r.id, r.deleted_at) for r in found] == [(ids[1], moments[1]), (ids[2], moments[2])]
    assert used == 1


def test_read_deleted_up_to_now_reads_the_uncovered_minute(sb, conn):
    [record] = insert(conn, {"LastName": "Gone-Now"})
    now = sb.clock.advance(seconds=42)
    conn.write(WriteBatch("Contact", "delete", ({"Id": record},)))
    found, used = calls(
        sb, conn, lambda: conn.read_deleted("Contact", now - timedelta(minutes=3), now)
    )
    assert [(r.id, r.deleted_at) for r in found] == [(record, now)]
    assert used == 2  # getDeleted, then queryAll for the minute it has not covered yet


def test_read_deleted_splits_windows_over_the_id_limit(sb, conn, monkeypatch):
    import crmframes.sandbox.salesforce.rest as rest

    ids = insert(conn, *({"LastName": f"Split-{i}"} for i in range(5)))
    start = sb.clock.advance(minutes=5).replace(second=0, microsecond=0)
    moments = [start + timedelta(minutes=m, seconds=5) for m in (0, 3, 7, 11, 20)]
    for record_id, moment in zip(ids, moments, strict=True):
        sb.clock.set(moment)
        conn.write(WriteBatch("Contact", "delete", ({"Id": record_id},)))
    sb.clock.advance(minutes=30)
    monkeypatch.setattr(rest, "REPLICATION_ID_LIMIT", 2)
    found, used = calls(sb, conn, lambda: conn.read_deleted("Contact", start, moments[-1]))
    assert [r.id for r in found] == ids
    assert used > 3  # refused, then asked again in halves until every part fits


def test_read_deleted_past_the_horizon_names_it(sb, conn):
    horizon = conn.deleted_horizon("Contact")
    now = sb.clock.now()
    assert horizon == (now - timedelta(days=15)).replace(second=0, microsecond=0)
    with pytest.raises(RequestRejectedError) as info:
        conn.read_deleted("Contact", now - timedelta(days=20), now)
    message = str(info.value)
    assert horizon.isoformat() in message and "15 days" in message
    assert info.value.code == "INVALID_REPLICATION_DATE"


def test_read_deleted_refuses_naive_or_reversed_windows(conn):
    with pytest.raises(ValueError, match="timezone-aware"):
        conn.read_deleted("Contact", datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="after end"):
        conn.read_deleted("Contact", START, START - timedelta(days=1))
