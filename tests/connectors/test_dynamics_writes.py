"""DynamicsConnector writes against the Dataverse sandbox over HTTPS: $batch, lookups, audits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crmframes import Clock, Sandbox
from crmframes.connectors.base import BulkJobRef, WriteBatch
from crmframes.connectors.dynamics import DynamicsConnector
from crmframes.errors import (
    ColumnNotFoundError,
    ConfigError,
    NotFoundError,
    RequestRejectedError,
    UnavailableError,
)
from tests.clients import dynamics_session

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
MISSING = "00000000-0000-0000-0000-0000000000aa"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo", scale=0.02, clock=Clock(START, frozen=True)) as box:
        yield box


@pytest.fixture(scope="module")
def conn(sb: Sandbox) -> DynamicsConnector:
    connector: DynamicsConnector = sb.connector()
    connector.describe("contact")
    connector.objects()  # the entity sets lookups bind to (listed once per connector)
    return connector


@pytest.fixture(autouse=True)
def _no_faults(sb: Sandbox) -> Iterator[None]:
    yield
    sb.faults.clear()


@pytest.fixture(params=["batch", "multiple"])
def messages(request: pytest.FixtureRequest, conn: DynamicsConnector) -> Iterator[str]:
    """Both write paths: ``$batch``, and CreateMultiple / UpdateMultiple (the default)."""
    conn.write_messages = request.param
    yield request.param
    conn.write_messages = "multiple"


@pytest.fixture
def batch_messages(conn: DynamicsConnector) -> Iterator[None]:
    """Every write as ``$batch`` (what these tests are about)."""
    conn.write_messages = "batch"
    yield
    conn.write_messages = "multiple"


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """An empty environment with its own frozen clock, for the deletion history."""
    with Sandbox("dynamics", data="empty", clock=Clock(START, frozen=True)) as box:
        yield box


def row(sb: Sandbox, table: str, record_id: str) -> dict[str, Any]:
    frame = sb.records(table)
    rows = frame[frame[f"{table}id"] == record_id].to_dict("records")
    assert len(rows) == 1, record_id
    return {k: None if v is None or v != v else v for k, v in rows[0].items()}  # NaN: null


def ids_of(sb: Sandbox, table: str) -> set[str]:
    return set(sb.records(table)[f"{table}id"])


def account_id(sb: Sandbox, number: int = 0) -> str:
    return str(sb.records("account")["accountid"].iloc[number])


def write(sb: Sandbox, conn: DynamicsConnector, batch: WriteBatch) -> tuple[list[Any], int]:
    """Write a batch; return the outcomes and the API calls it cost (as Dataverse counts)."""
    before = sb.api_call_count()
    outcomes = conn.write(batch)
    return outcomes, sb.api_call_count() - before


def brief(outcome: Any) -> tuple[Any, ...]:
    return (outcome.ok, outcome.created, outcome.error_symbol, outcome.error_code,
            outcome.error_fields, outcome.transient, outcome.missing)  # fmt: skip


# --- limits, bulk, misuse (no calls) -------------------------------------------------------------


def test_write_limit_is_the_batch_size_and_there_is_no_bulk(conn):
    assert [conn.write_limit(op) for op in ("insert", "update", "upsert", "delete")] == [1000] * 4
    assert conn.supports_bulk_write is False
    batch = WriteBatch("contact", "insert", ({"lastname": "x"},))
    with pytest.raises(ConfigError, match=r"\$batch calls of up to 1000"):
        conn.write_limit("insert", bulk=True)
    with pytest.raises(ConfigError, match=r"write\(\)"):
        conn.write_bulk(batch)
    with pytest.raises(ConfigError, match="no bulk ingest"):
        conn.resume_bulk(batch, BulkJobRef("job", "contact", "insert"))
    with pytest.raises(ValueError, match="op must be one of"):
        conn.write_limit("merge")


def test_describe_names_the_created_field_and_the_alternate_key(conn):
    schema = conn.describe("contact")
    assert (schema.created_field, schema.keys) == ("createdon", (("crmf_externalid",),))
    assert schema.fields["crmf_externalid"].external_id is True


def test_describe_costs_two_calls_and_still_reads_entity_set_names(sb):
    fresh: DynamicsConnector = sb.connector()
    before = sb.api_call_count()
    fresh.describe("lead")
    assert sb.api_call_count() - before == 2  # the definition and its option sets
    assert fresh.describe("opportunities").name == "opportunity"
    with pytest.raises(NotFoundError, match="did you mean 'contact'"):
        fresh.describe("contat")


@pytest.mark.parametrize(
    ("batch", "error", "match"),
    [
        (WriteBatch("contact", "insert", ({"lastname": "x", "birthdate": datetime(2024, 1, 1)},)),
         ValueError, "timezone-aware"),
        (WriteBatch("contact", "insert", ({"lastname": float("nan")},)), ValueError, "None for null"),
        (WriteBatch("contact", "insert", ({"lastname": object()},)), TypeError, "no JSON"),
        (WriteBatch("contact", "insert", ({"lastnam": "x"},)), ColumnNotFoundError, "lastname"),
        (WriteBatch("contact", "upsert", ({"lastname": "x"},), key="lastname"), ConfigError,
         "no alternate key on 'lastname'.*crmf_externalid"),
        (WriteBatch("contact", "upsert", ({"lastname": "x"},)), ValueError, "needs a key"),
        (WriteBatch("contact", "insert", ({"lastname": "x"},) * 1001), ValueError, "at most 1000"),
    ],
)  # fmt: skip
def test_misuse_raises_before_any_call(sb, conn, batch, error, match):
    before = sb.api_call_count()
    with pytest.raises(error, match=match):
        conn.write(batch)
    assert sb.api_call_count() == before


# --- the four operations, good and bad records mixed --------------------------------------------


def test_insert_mixed_records_in_one_call(sb, conn, messages):
    taken = str(sb.records("contact")["crmf_externalid"].iloc[0])
    records = (
        {"firstname": "Ada", "lastname": "Lovelace", "birthdate": date(1815, 12, 10),
         "emailaddress1": "ada@example.com", "donotemail": True, "crmf_loyaltytier": 100000001},
        {"firstname": "x" * 51, "lastname": "TooLong"},
        {"firstname": "No last name"},
        {"lastname": "Dup", "crmf_externalid": taken},
        {"lastname": "Grace", "jobtitle": None},
    )  # fmt: skip
    before = ids_of(sb, "contact")
    outcomes, calls = write(sb, conn, WriteBatch("contact", "insert", records))
    # CreateMultiple is one transaction: the failed request is split until each bad row
    # stands alone (5 rows, 3 bad: [5] → [2] [3] → [1] [1] [1] [2] → [1] [1])
    assert calls == (1 if messages == "batch" else 9)
    assert [brief(o) for o in outcomes] == [
        (True, True, "", "", "", False, False),
        (False, None, "StringLengthTooLong", "0x80044331", "firstname", False, False),
        (False, None, "InvalidArgument", "0x80040203", "lastname", False, False),
        (False, None, "DuplicateRecordEntityKey", "0x80060892", "crmf_externalid", False, False),
        (True, True, "", "", "", False, False),
    ]
    assert "maximum allowed length of '50'" in outcomes[1].error_message
    assert ids_of(sb, "contact") - before == {outcomes[0].id, outcomes[4].id}
    ada = row(sb, "contact", outcomes[0].id)
    assert (ada["fullname"], ada["birthdate"], ada["donotemail"], ada["crmf_loyaltytier"]) == (
        "Ada Lovelace", "1815-12-10", True, 100000001
    )  # fmt: skip


def test_update_mixed_records(sb, conn, messages):
    (ada, grace), _ = write(sb, conn, WriteBatch("contact", "insert", (
        {"lastname": "Ada", "jobtitle": "Analyst"}, {"lastname": "Grace"})))  # fmt: skip
    records = (
        {"contactid": ada.id, "jobtitle": None, "telephone1": "555-0100"},
        {"contactid": MISSING, "jobtitle": "Ghost"},
        {"contactid": grace.id, "lastname": "y" * 51},
        {"contactid": "not-a-guid", "jobtitle": "x"},
    )
    outcomes, calls = write(sb, conn, WriteBatch("contact", "update", records))
    assert calls == (1 if messages == "batch" else 5)  # the bad GUID is never sent
    assert [brief(o) for o in outcomes] == [
        (True, False, "", "", "", False, False),
        (False, None, "ObjectDoesNotExist", "0x80040217", "", False, True),
        (False, None, "StringLengthTooLong", "0x80044331", "lastname", False, False),
        (False, None, "InvalidArgument", "", "contactid", False, False),
    ]
    assert [o.id for o in outcomes[:3]] == [ada.id, MISSING, grace.id]
    assert (row(sb, "contact", ada.id)["jobtitle"], row(sb, "contact", ada.id)["telephone1"]) == (
        None, "555-0100"
    )  # fmt: skip
    assert row(sb, "contact", grace.id)["lastname"] == "Grace"
    assert MISSING not in ids_of(sb, "contact")  # If-Match: * never creates


def test_upsert_by_alternate_key_says_created_or_updated(sb, conn):
    existing = row(sb, "contact", str(sb.records("contact")["contactid"].iloc[1]))
    odd = "O'Neil / #1 & 50%?"
    records = (
        {"crmf_externalid": existing["crmf_externalid"], "jobtitle": "Updated"},
        {"crmf_externalid": odd, "lastname": "Created"},
        {"crmf_externalid": "UP-TOO-LONG", "lastname": "z" * 51},
        {"crmf_externalid": None, "lastname": "No key"},
    )
    outcomes, calls = write(
        sb, conn, WriteBatch("contact", "upsert", records, key="crmf_externalid")
    )
    assert calls == 1
    assert [brief(o) for o in outcomes] == [
        (True, False, "", "", "", False, False),
        (True, True, "", "", "", False, False),
        (False, None, "StringLengthTooLong", "0x80044331", "lastname", False, False),
        (False, None, "InvalidArgument", "", "crmf_externalid", False, False),
    ]
    assert outcomes[0].id == existing["contactid"]
    assert row(sb, "contact", existing["contactid"])["jobtitle"] == "Updated"
    created = row(sb, "contact", outcomes[1].id)
    assert (created["crmf_externalid"], created["lastname"]) == (odd, "Created")
    again, _ = write(sb, conn, WriteBatch("contact", "upsert", records[1:2], key="crmf_externalid"))
    assert (again[0].ok, again[0].created, again[0].id) == (True, False, outcomes[1].id)


def test_upsert_by_primary_id_creates_with_that_id(sb, conn):
    new_id = "6f8a1c2e-0000-4000-8000-00000000c0de"
    outcomes, _ = write(sb, conn, WriteBatch(
        "contact", "upsert", ({"contactid": new_id, "lastname": "Chosen"},), key="contactid"))  # fmt: skip
    assert (outcomes[0].ok, outcomes[0].created, outcomes[0].id) == (True, True, new_id)
    assert row(sb, "contact", new_id)["lastname"] == "Chosen"


def test_delete_mixed_records_and_audits_them(sb, conn):
    (gone,), _ = write(sb, conn, WriteBatch("contact", "insert", ({"lastname": "Gone"},)))
    records = ({"contactid": gone.id}, {"contactid": MISSING})
    outcomes, calls = write(sb, conn, WriteBatch("contact", "delete", records))
    assert calls == 1
    assert [brief(o) for o in outcomes] == [
        (True, None, "", "", "", False, False),
        (False, None, "ObjectDoesNotExist", "0x80040217", "", False, True),
    ]
    assert gone.id not in ids_of(sb, "contact")
    audits = sb.records("audit")
    assert audits[audits["_objectid_value"] == gone.id]["operation"].tolist() == [3]


# --- lookups -------------------------------------------------------------------------------------


def test_lookup_binds_single_and_multi_target(sb, conn):
    account, parent = account_id(sb, 0), account_id(sb, 1)
    person = str(sb.records("contact")["contactid"].iloc[2])
    records = (
        {"lastname": "Prefixed", "_parentcustomerid_value": f"account:{account}"},
        {"lastname": "Bare account", "_parentcustomerid_value": parent},
        {"lastname": "Bare contact", "parentcustomerid": person.upper()},
        {"lastname": "Unknown", "_parentcustomerid_value": MISSING},
        {"lastname": "Wrong table", "_parentcustomerid_value": f"lead:{account}"},
    )
    outcomes, calls = write(sb, conn, WriteBatch("contact", "insert", records))
    assert calls == 2  # the write, and one $batch finding the tables of the bare GUIDs
    assert [(o.ok, o.error_symbol, o.error_fields) for o in outcomes] == [
        (True, "", ""),
        (True, "", ""),
        (True, "", ""),
        (False, "ObjectDoesNotExist", "_parentcustomerid_value"),
        (False, "InvalidArgument", "_parentcustomerid_value"),
    ]
    assert [row(sb, "contact", o.id)["_parentcustomerid_value"] for o in outcomes[:3]] == [
        account, parent, person
    ]  # fmt: skip
    again, calls = write(sb, conn, WriteBatch("contact", "update", (
        {"contactid": outcomes[0].id, "_parentcustomerid_value": parent},
        {"contactid": outcomes[1].id, "_parentcustomerid_value": None})))  # fmt: skip
    assert calls == 1 and all(o.ok for o in again)  # the parent's table is remembered
    assert row(sb, "contact", outcomes[0].id)["_parentcustomerid_value"] == parent
    assert row(sb, "contact", outcomes[1].id)["_parentcustomerid_value"] is None


def test_lookup_bind_to_a_single_target_table(sb, conn):
    account = account_id(sb, 2)
    conn.describe("opportunity")
    (opportunity,), calls = write(sb, conn, WriteBatch(
        "opportunity", "insert", ({"name": "Deal", "_parentaccountid_value": account},)))  # fmt: skip
    assert opportunity.ok and calls == 1
    assert row(sb, "opportunity", opportunity.id)["_parentaccountid_value"] == account


# --- transient failures --------------------------------------------------------------------------


def test_a_locked_row_is_a_transient_outcome(sb, conn, batch_messages):
    sb.faults.add("lock_row", "contact", times=1)
    outcomes, _ = write(sb, conn, WriteBatch("contact", "insert", (
        {"lastname": "Locked"}, {"lastname": "Free"})))  # fmt: skip
    assert [brief(o) for o in outcomes] == [
        (False, None, "GenericSqlError", "0x80044150", "", True, False),
        (True, True, "", "", "", False, False),
    ]


def test_a_throttled_batch_is_sent_again_after_retry_after(sb, conn, batch_messages):
    fault = sb.faults.add("rate_limited", r"\$batch", times=1, retry_after=0.4)
    retries = conn.http.retries
    started = time.monotonic()
    outcomes, calls = write(sb, conn, WriteBatch("contact", "insert", ({"lastname": "Patient"},)))
    assert outcomes[0].ok and calls == 1  # the 429 was not served by the API
    assert fault.fired == 1 and conn.http.retries == retries + 1
    assert time.monotonic() - started >= 0.4
    assert [s for m, t, s in sb.request_log() if t.endswith("$batch")][-2:] == [429, 200]


def test_a_lost_insert_batch_is_outcome_unknown_and_found_again(sb, conn, batch_messages):
    records = (
        {"lastname": "Twin", "birthdate": date(2000, 1, 1), "donotphone": False},
        {"lastname": "Twin", "birthdate": date(2000, 1, 1), "donotphone": False},
        {"lastname": "Other", "birthdate": None, "donotphone": True},
        {"lastname": "x" * 51},
    )
    write(sb, conn, WriteBatch("contact", "insert", records[:1]))  # an older equal record
    sb.clock.advance(seconds=60)
    since = conn.server_time()
    before = ids_of(sb, "contact")
    sb.faults.add("drop_after", r"^POST .*\$batch", times=1)
    with pytest.raises(UnavailableError) as raised:
        conn.write(WriteBatch("contact", "insert", records))
    assert raised.value.outcome_unknown is True and raised.value.retryable is False
    created = ids_of(sb, "contact") - before
    assert len(created) == 3
    calls = sb.api_call_count()
    found = conn.find_created("contact", records, since)
    assert sb.api_call_count() - calls == 1
    assert found[3] is None and set(found[:3]) == created and len(set(found[:3])) == 3
    assert row(sb, "contact", found[2])["lastname"] == "Other"


def test_a_lost_delete_batch_is_outcome_unknown_and_missing_when_sent_again(sb, conn):
    made, _ = write(sb, conn, WriteBatch("contact", "insert", ({"lastname": "Doomed"},) * 2))
    batch = WriteBatch("contact", "delete", tuple({"contactid": o.id} for o in made))
    sb.faults.add("drop_after", r"^POST .*\$batch", times=1)
    with pytest.raises(UnavailableError) as raised:
        conn.write(batch)
    assert raised.value.outcome_unknown is True
    again, _ = write(sb, conn, batch)
    assert [(o.ok, o.missing, o.id) for o in again] == [(False, True, o.id) for o in made]
    assert not ids_of(sb, "contact") & {o.id for o in made}


def test_find_created_ignores_records_created_before_since(sb, conn):
    (old,), _ = write(sb, conn, WriteBatch("contact", "insert", ({"lastname": "Earlier"},)))
    sb.clock.advance(seconds=60)
    since = conn.server_time()
    assert conn.find_created("contact", [{"lastname": "Earlier"}], since) == [None]
    assert conn.find_created(
        "contact", [{"lastname": "Earlier"}], since - timedelta(minutes=2)
    ) == [old.id]


# --- deletions from the audit history ------------------------------------------------------------


def test_read_deleted_includes_both_ends_oldest_first(fresh):
    conn: DynamicsConnector = fresh.connector()
    outcomes = conn.write(
        WriteBatch("contact", "insert", tuple({"lastname": f"C{i}"} for i in range(4)))
    )
    moments = [START + timedelta(hours=h) for h in (1, 2, 3, 4)]
    for outcome, moment in zip(outcomes, moments, strict=True):
        fresh.clock.set(moment)
        assert conn.write(WriteBatch("contact", "delete", ({"contactid": outcome.id},)))[0].ok
    user = dynamics_session(fresh).get(f"{fresh.url}/api/data/v9.2/WhoAmI", timeout=30).json()
    deleted = conn.read_deleted("contact", moments[1], moments[2])
    assert [(d.id, d.deleted_at, d.deleted_by) for d in deleted] == [
        (outcomes[1].id, moments[1], user["UserId"]),
        (outcomes[2].id, moments[2], user["UserId"]),
    ]
    assert [d.id for d in conn.read_deleted("contact", START, moments[3])] == [
        o.id for o in outcomes
    ]
    assert conn.read_deleted("account", START, moments[3]) == []


def test_read_deleted_refuses_a_start_beyond_the_audit_retention(fresh):
    conn: DynamicsConnector = fresh.connector()
    horizon = conn.deleted_horizon("contact")
    assert horizon == START - timedelta(days=90)
    assert conn.read_deleted("contact", horizon, START) == []
    with pytest.raises(RequestRejectedError, match=(
        "Dataverse keeps audit history for 90 days; the earliest date available is "
        "2026-08-22T09:00:00Z")):  # fmt: skip
        conn.read_deleted("contact", horizon - timedelta(seconds=1), START)
    session = dynamics_session(fresh)
    root = f"{fresh.url}/api/data/v9.2/organizations"
    org_id = session.get(root, timeout=30).json()["value"][0]["organizationid"]
    session.patch(f"{root}({org_id})", json={"auditretentionperiodv2": -1},
                  headers={"If-Match": "*"}, timeout=30)  # fmt: skip
    assert conn.deleted_horizon("contact") is None
    assert conn.read_deleted("contact", datetime(2000, 1, 1, tzinfo=UTC), START) == []


def test_read_deleted_needs_auditing(fresh):
    conn: DynamicsConnector = fresh.connector()
    with pytest.raises(RequestRejectedError, match="auditing is off for the audit table"):
        conn.read_deleted("audit", START - timedelta(days=1), START)
    session = dynamics_session(fresh)
    root = f"{fresh.url}/api/data/v9.2/organizations"
    org_id = session.get(root, timeout=30).json()["value"][0]["organizationid"]
    session.patch(f"{root}({org_id})", json={"isauditenabled": False},
                  headers={"If-Match": "*"}, timeout=30)  # fmt: skip
    with pytest.raises(RequestRejectedError, match="auditing is off for this environment"):
        conn.read_deleted("contact", START - timedelta(days=1), START)
    with pytest.raises(ValueError, match="timezone-aware"):
        conn.read_deleted("contact", datetime(2026, 1, 1), START)
    with pytest.raises(ValueError, match="is after end"):
        conn.read_deleted("contact", START, START - timedelta(days=1))
