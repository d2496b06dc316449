"""The fault matrix: every fault the sandbox injects, for each write operation, on both CRMs.

Each test checks against the sandbox's own records that every input row is in the CRM
exactly once or in the rejects (``rows in = succeeded + rejected``), and that the fault
really fired.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crmframes import Clock, Sandbox, delete_in_crm, export_to_crm, import_deleted_from_crm
from tests.operations.conftest import MAKERS, START, Crm

FAULTS = {
    "rate_limited": {"kind": "rate_limited", "times": 2, "retry_after": 0.2},
    "unavailable": {"kind": "unavailable", "times": 2, "retry_after": 0.2},
    "dropped_connection": {"kind": "drop_after", "times": 1},
    "dropped_before_processing": {"kind": "drop", "times": 1},
    "expired_token": {"kind": "session_expired", "times": 1},
    "locked_rows": {"kind": "lock_row", "times": 3},
}
ROWS = 9
BATCH = 3


@pytest.fixture(params=["salesforce", "dynamics"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    """A demo org of each CRM with org automation on: it trims text, formats phones."""
    clock = Clock(START, frozen=True)
    with Sandbox(request.param, data="demo", scale=0.2, clock=clock, automation=True) as sb:
        yield MAKERS[request.param](sb)


def frame(crm: Crm, tag: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            crm.last: [f"{tag}{i} " for i in range(ROWS)],  # trimmed by the org
            crm.external: [f"{tag}-{i}" for i in range(ROWS)],
        }
    )


def inject(crm: Crm, fault: str, endpoint: str) -> object:
    spec = dict(FAULTS[fault])
    kind = spec.pop("kind")
    if kind == "lock_row":
        endpoint = crm.contact
    return crm.sandbox.faults.add(kind, endpoint, **spec)


def exactly_once(crm: Crm, df: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    assert len(result.frame) + len(result.rejects) == len(df)
    records = crm.records()
    counts = records[crm.external].value_counts()
    for key in result.frame[crm.external]:
        assert counts.get(key, 0) == 1, f"{key} is in the CRM {counts.get(key, 0)} times"
    for key in result.rejects[crm.external]:
        assert counts.get(key, 0) == 0, f"rejected {key} is in the CRM anyway"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_insert_survives(crm: Crm, fault: str, tmp_path: Path):
    df = frame(crm, "Fi")
    conn = crm.sandbox.connector()
    conn.describe(crm.contact)
    injected = inject(crm, fault, crm.writes)
    result = export_to_crm(
        conn, crm.contact, df, batch_size=BATCH, journal=tmp_path / "j", progress=False
    )
    assert injected.fired >= 1  # type: ignore[attr-defined]
    exactly_once(crm, df, result)
    assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_insert_without_an_external_id_survives(crm: Crm, fault: str, tmp_path: Path):
    """Dataverse: client-chosen ids; Salesforce: lookups that never guess.

    A Salesforce call that never reached the CRM ("dropped before processing") leaves rows
    no lookup can find: OUTCOME_UNKNOWN rejects, in the CRM at most once, never sent twice.
    """
    df = frame(crm, "Fn").drop(columns=[crm.external])
    conn = crm.sandbox.connector()
    conn.describe(crm.contact)
    injected = inject(crm, fault, crm.writes)
    journal = tmp_path / "j"
    result = export_to_crm(conn, crm.contact, df, batch_size=BATCH, journal=journal)
    assert injected.fired >= 1  # type: ignore[attr-defined]
    assert result.op == "insert" and len(result.frame) + len(result.rejects) == ROWS
    assert set(result.rejects["errorSymbol"]) <= {"OUTCOME_UNKNOWN"}
    again = export_to_crm(conn, crm.contact, df, batch_size=BATCH, journal=journal)
    assert again.stats.batches == 0  # nothing is ever sent twice
    counts = crm.records()[crm.last].value_counts()
    for position, name in enumerate(df[crm.last]):
        found = counts.get(name.strip(), 0)
        assert found <= 1 if position in set(again.rejects["inputIndex"]) else found == 1


@pytest.mark.parametrize("fault", list(FAULTS))
def test_upsert_survives(crm: Crm, fault: str, tmp_path: Path):
    df = frame(crm, "Fu")
    conn = crm.sandbox.connector()
    export_to_crm(conn, crm.contact, df.iloc[:4], key=crm.external, journal=False)
    injected = inject(crm, fault, crm.writes)
    result = export_to_crm(
        conn,
        crm.contact,
        df.assign(**{crm.last: "Changed"}),
        key=crm.external,
        batch_size=BATCH,
        journal=tmp_path / "j",
        progress=False,
    )
    assert injected.fired >= 1  # type: ignore[attr-defined]
    exactly_once(crm, df, result)
    assert result.rejects.empty
    stored = crm.records().set_index(crm.external).loc[df[crm.external]]
    assert set(stored[crm.last]) == {"Changed"}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_delete_survives(crm: Crm, fault: str, tmp_path: Path):
    df = frame(crm, "Fd")
    conn = crm.sandbox.connector()
    made = export_to_crm(conn, crm.contact, df, journal=False).frame
    ids = made[["crmId"]].rename(columns={"crmId": crm.id}).reset_index(drop=True)
    injected = inject(crm, fault, crm.writes)
    result = delete_in_crm(
        conn, crm.contact, ids, batch_size=BATCH, journal=tmp_path / "j", progress=False
    )
    assert injected.fired >= 1  # type: ignore[attr-defined]
    assert result.stats.deleted == ROWS and result.rejects.empty
    assert not crm.records()[crm.external].isin(df[crm.external]).any()


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "locked_rows"])
def test_import_deleted_survives(crm: Crm, fault: str):
    conn = crm.sandbox.connector()
    made = export_to_crm(conn, crm.contact, frame(crm, "Fx"), journal=False).frame
    start = conn.server_time()
    delete_in_crm(conn, crm.contact, made[["crmId"]], key="crmId", journal=False)
    crm.sandbox.clock.advance(seconds=5)
    endpoint = "deleted" if crm.name == "salesforce" else "audits"
    if fault == "dropped_connection":
        injected = crm.sandbox.faults.add("drop", endpoint)  # a read is simply asked again
    else:
        injected = inject(crm, fault, endpoint)
    deleted = import_deleted_from_crm(conn, crm.contact, start=start)
    assert injected.fired >= 1  # type: ignore[attr-defined]
    assert set(deleted.frame[crm.id].str.lower()) == set(made["crmId"].str.lower())


def test_persistent_lock_ends_in_rejects_not_an_exception(crm: Crm):
    df = frame(crm, "Fl")
    conn = crm.sandbox.connector()
    crm.sandbox.faults.add("lock_row", crm.contact, times=10_000)
    waits: list[float] = []
    result = export_to_crm(
        conn, crm.contact, df, max_retries=2, journal=False, progress=False, sleep=waits.append
    )
    assert len(waits) == 2  # one wait before each round of retries
    exactly_once(crm, df, result)
    assert len(result.rejects) == ROWS
    assert result.rejects["errorMessage"].str.len().min() > 0


def test_an_insert_whose_answer_comes_too_late_is_never_sent_twice(tmp_path: Path):
    """The CRM is still writing when the call times out: not found yet is not "not created"."""
    with Sandbox("salesforce", data="empty") as sb:
        df = pd.DataFrame({"LastName": [f"Fs{i}" for i in range(ROWS)]})  # no external id
        conn = sb.connector()
        conn.describe("Contact")
        conn.http.timeout = 1.0
        late = sb.faults.add("slow", "composite/sobjects", times=1, delay=2.5)
        journal = tmp_path / "j"
        first = export_to_crm(conn, "Contact", df, batch_size=BATCH, journal=journal)
        assert late.fired == 1 and first.stats.created == ROWS - BATCH
        assert first.rejects["errorSymbol"].tolist() == ["OUTCOME_UNKNOWN"] * BATCH
        time.sleep(2)  # the late call ends in the CRM
        conn.http.timeout = 30.0
        second = export_to_crm(conn, "Contact", df, batch_size=BATCH, journal=journal)
        assert second.rejects.empty and second.stats.batches == 0  # settled by a lookup
        assert sorted(sb.records("Contact")["LastName"]) == sorted(df["LastName"])


def test_a_dataverse_insert_whose_answer_comes_too_late_is_sent_again_safely(tmp_path: Path):
    """Client-chosen ids: the second create of a record the first one made answers exists."""
    with Sandbox("dynamics", data="empty") as sb:
        df = pd.DataFrame({"lastname": [f"Fs{i}" for i in range(ROWS)]})
        conn = sb.connector()
        conn.describe("contact")
        conn.http.timeout = 1.0
        late = sb.faults.add("slow", "CreateMultiple", times=1, delay=2.5)
        result = export_to_crm(conn, "contact", df, batch_size=BATCH, journal=tmp_path / "j")
        assert late.fired == 1 and result.stats.created == ROWS and result.rejects.empty
        time.sleep(2)  # the late call ends in the CRM
        records = sb.records("contact")
        assert sorted(records["lastname"]) == sorted(df["lastname"])
        assert set(records["contactid"]) == set(result.frame["crmId"])


def test_a_bulk_job_whose_status_calls_fail_is_collected_not_sent_again(tmp_path: Path):
    with Sandbox("salesforce", data="empty") as sb:
        conn = sb.connector()
        conn.describe("Contact")
        df = pd.DataFrame({"LastName": [f"B{i}" for i in range(5)]})
        failing = sb.faults.add(
            "unavailable", r"GET \S*jobs/ingest/\w+$", times=6, retry_after=0.01
        )
        result = export_to_crm(
            conn, "Contact", df, mode="bulk", journal=tmp_path / "j", progress=False
        )
        assert failing.fired == 6 and result.stats.created == 5 and result.stats.batches == 1
        assert sorted(sb.records("Contact")["LastName"]) == sorted(df["LastName"])


def test_an_internal_error_on_an_insert_is_looked_up_not_sent_blindly(crm: Crm, tmp_path: Path):
    """A 500 may come after the CRM wrote the rows: they are looked up before any re-send."""
    df = frame(crm, "Fe")
    conn = crm.sandbox.connector()
    failed = crm.sandbox.faults.add("internal_error", crm.writes, times=1)
    result = export_to_crm(
        conn, crm.contact, df, batch_size=BATCH, journal=tmp_path / "j", progress=False
    )
    assert failed.fired == 1
    assert len(result.frame) + len(result.rejects) == ROWS
    assert set(result.rejects["errorSymbol"]) <= {"OUTCOME_UNKNOWN"}
    exactly_once(crm, df, export_to_crm(conn, crm.contact, df, journal=tmp_path / "j"))


def test_a_bulk_batch_over_the_job_size_is_sent_in_halves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("crmframes.connectors.salesforce.writer.BULK_UPLOAD_BYTES", 2_000)
    with Sandbox("salesforce", data="empty") as sb:
        df = pd.DataFrame(
            {"LastName": [f"L{i}" for i in range(50)], "Description": ["x" * 60] * 50}
        )
        result = export_to_crm(
            sb.connector(), "Contact", df, mode="bulk", journal=tmp_path / "j", progress=False
        )
        assert result.stats.created == 50 and result.stats.batches == 2  # 2 jobs of ~1.8 KB
        assert sorted(sb.records("Contact")["LastName"]) == sorted(df["LastName"])


@pytest.mark.parametrize("crm_name", ["salesforce", "dynamics"])
def test_a_lost_delete_killed_as_it_is_sent_again_is_deleted_in_the_next_run(
    crm_name: str, tmp_path: Path
):
    """The first call deleted the records and lost its answer; the process dies as the
    delete is sent again. The next run must read the deletion log from the first call."""
    with Sandbox(crm_name, data="demo", scale=0.05) as sb:  # a running clock, as an org's
        crm = MAKERS[crm_name](sb)
        conn = sb.connector()
        made = export_to_crm(conn, crm.contact, frame(crm, "Fk"), journal=False).frame
        ids = made[["crmId"]].rename(columns={"crmId": crm.id}).reset_index(drop=True)
        lost = inject(crm, "dropped_connection", crm.writes)  # applied, its answer lost
        calls = []
        write = conn.write

        def dies_on_the_second_call(batch):  # type: ignore[no-untyped-def]
            calls.append(batch.op)
            if len(calls) == 2:
                raise KeyboardInterrupt  # as a SIGKILL would, with the resend journaled
            return write(batch)

        conn.write = dies_on_the_second_call  # type: ignore[method-assign]
        journal = tmp_path / "deletes.jsonl"
        with pytest.raises(KeyboardInterrupt):  # the resend leaves well after the lost call
            delete_in_crm(
                conn, crm.contact, ids, journal=journal, progress=False,
                sleep=lambda seconds: time.sleep(4.5),  # past the log's slack and rounding
            )  # fmt: skip
        assert lost.fired == 1 and calls == ["delete", "delete"]  # type: ignore[attr-defined]
        result = delete_in_crm(sb.connector(), crm.contact, ids, journal=journal, progress=False)
        assert result.rejects.empty, result.rejects["errorMessage"].tolist()
        assert result.stats.deleted == ROWS
