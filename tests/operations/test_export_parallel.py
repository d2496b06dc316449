"""Exports with several calls in flight: input order kept, every row once, adaptive under limits."""

from __future__ import annotations

import pandas as pd
import pytest

from crmframes import ConfigError, Sandbox, delete_in_crm, export_to_crm
from crmframes.connectors.throttling import Throttling
from crmframes.operations.parallel import Gate, batch_share, bulk_job_share, write_degree
from crmframes.sandbox import production_profile
from crmframes.specs import DeleteSpec, ExportSpec, Source
from tests.operations.conftest import MAKERS, Crm

ROWS = 120


def _frame(crm: Crm, tag: str, rows: int = ROWS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            crm.last: [f"{tag}{i}" for i in range(rows)],
            crm.external: [f"{tag}-{i}" for i in range(rows)],
        }
    )


def _landed_once(crm: Crm, df: pd.DataFrame) -> None:
    counts = crm.records()[crm.last].value_counts()
    assert all(counts.get(name, 0) == 1 for name in df[crm.last])


@pytest.mark.parametrize("crm_name", ["salesforce", "dynamics"])
def test_export_in_parallel_keeps_input_order_and_writes_each_row_once(crm_name: str) -> None:
    with Sandbox(crm_name, data="empty") as sb:
        crm = MAKERS[crm_name](sb)
        sb.faults.add("slow", crm.writes, every=1, delay=0.02)  # calls overlap for sure
        df = _frame(crm, "Par")
        df.loc[7, crm.last] = "x" * 500  # a pre-flight reject, in the middle
        result = export_to_crm(
            sb.connector(), crm.contact, df, batch_size=10, max_parallel=4, progress=False
        )
        assert result.stats.parallel == 4 and result.stats.batches == 12
        assert result.frame.index.tolist() == [i for i in range(ROWS) if i != 7]
        assert result.frame[crm.last].tolist() == df[crm.last].drop(index=7).tolist()
        assert result.frame["crmId"].is_unique
        assert result.rejects["inputIndex"].tolist() == [7]
        assert "4 in parallel" in repr(result) and "4 in parallel" in str(result.stats)
        _landed_once(crm, df.drop(index=7))
        stored = crm.records().set_index(crm.id)[crm.last]
        ids = result.frame["crmId"].str.lower() if crm_name == "dynamics" else result.frame["crmId"]
        assert stored.reindex(ids).tolist() == result.frame[crm.last].tolist()  # each row its own
        # deletes go in parallel too, in input order
        gone = delete_in_crm(
            sb.connector(), crm.contact, result.frame, key="crmId", batch_size=10, progress=False
        )
        assert gone.stats.parallel > 1 and gone.stats.deleted == ROWS - 1
        assert gone.frame["crmId"].tolist() == result.frame["crmId"].tolist()
        assert len(crm.records()) == 0


def test_max_parallel_is_checked_before_any_call() -> None:
    with Sandbox("dynamics", data="empty") as sb:
        conn = sb.connector()
        calls = sb.api_call_count()
        df = pd.DataFrame({"lastname": ["a"]})
        for bad in (0, 53):
            with pytest.raises(ConfigError, match="max_parallel"):
                export_to_crm(conn, "contact", df, max_parallel=bad, progress=False)
        with pytest.raises(ConfigError, match="max_parallel"):
            delete_in_crm(conn, "contact", df, max_parallel=0, progress=False)
        assert sb.api_call_count() == calls


def test_dataverse_degree_follows_the_dop_hint_bounded_by_max_parallel() -> None:
    profile = production_profile("dynamics", speed=1000, dop_hint=6)
    with Sandbox("dynamics", data="empty", profile=profile) as sb:
        conn = sb.connector()
        conn.describe("contact")  # an answer carries the hint
        assert conn.throttling.dop_hint == 6
        assert write_degree(conn, None) == 6
        assert write_degree(conn, 3) == 3
        assert write_degree(conn, 40) == 6


def test_each_connector_declares_its_degree_and_ceiling(sandbox) -> None:
    conn = sandbox.connector()  # Salesforce: 4 unless told, never over its 25 long requests
    assert write_degree(conn, None) == 4
    assert write_degree(conn, 10) == 10
    assert write_degree(conn, 52) == 25
    assert bulk_job_share(conn, 100_000, 4, 150_000_000) == 25_000
    assert bulk_job_share(conn, 6_000, 4, 150_000_000) == 2_500  # no job under 2,500 rows
    assert batch_share(conn, 10_000, 4, 200) == 200  # Collections: the fewest calls


def test_gate_halves_on_throttles_and_climbs_back_to_its_ceiling() -> None:
    throttling = Throttling()
    gate = Gate(8, throttling)
    for _ in range(8):
        gate.acquire()
    throttling.met(None)  # the CRM said "too many" while 8 were in flight
    gate.release()
    assert gate.degree == 4 and gate.throttles == 1
    for _ in range(7):
        gate.release()
    # clean calls add one back per round of as many calls as are allowed
    for _ in range(40):
        gate.acquire()
        gate.release()
    assert gate.degree == 8 and gate.peak == 8


def _low_limits(crm_name: str) -> Sandbox:
    if crm_name == "dynamics":
        # 8 recommended by the hint, but only 2 in flight allowed: 0x80072326 until it adapts
        profile = production_profile(
            "dynamics", speed=100, dop_hint=8, concurrent_limit=2, round_trip=0.0
        )
    else:
        # every request counts as long-running at once: a third in flight is refused
        profile = production_profile(
            "salesforce", speed=100, long_running_seconds=0.0, long_running_limit=2
        )
    return Sandbox(crm_name, data="empty", profile=profile)


@pytest.mark.parametrize("crm_name", ["salesforce", "dynamics"])
def test_export_under_low_limits_lands_every_row_once_and_reports_throttles(
    crm_name: str,
) -> None:
    rows = 2_000
    with _low_limits(crm_name) as sb:
        crm = MAKERS[crm_name](sb)
        df = _frame(crm, "Lim", rows)
        size = 100 if crm_name == "dynamics" else 200
        result = export_to_crm(
            sb.connector(), crm.contact, df, batch_size=size, max_parallel=8, progress=False
        )
        assert len(result.frame) == rows and len(result.rejects) == 0
        assert result.stats.throttles >= 1 and result.stats.waited > 0
        assert "throttled" in repr(result) and "throttles" in result._repr_html_()
        _landed_once(crm, df)


@pytest.mark.slow
def test_large_dataverse_export_under_low_limits_lands_exactly_once() -> None:
    rows = 50_000
    with _low_limits("dynamics") as sb:
        crm = MAKERS["dynamics"](sb)
        df = _frame(crm, "Big", rows)
        result = export_to_crm(sb.connector(), crm.contact, df, progress=False)
        assert len(result.frame) == rows and len(result.rejects) == 0
        assert result.stats.throttles >= 1
        _landed_once(crm, df)


def test_a_dataverse_export_is_cut_to_fill_the_recommended_degree() -> None:
    profile = production_profile("dynamics", speed=1000, dop_hint=8)
    with Sandbox("dynamics", data="empty", profile=profile) as sb:
        crm = MAKERS["dynamics"](sb)
        df = _frame(crm, "Cut", 2_000)
        result = export_to_crm(sb.connector(), crm.contact, df, progress=False)
        # 8 calls of 250 (none smaller), not 2 of 1,000: smaller batches, more in parallel
        assert result.stats.batches == 8 and len(result.frame) == 2_000
        chosen = export_to_crm(
            sb.connector(), crm.contact, _frame(crm, "Set", 2_000), batch_size=1000, progress=False
        )
        assert chosen.stats.batches == 2  # a batch size the caller chose is kept


def test_export_and_delete_specs_carry_max_parallel() -> None:
    spec = ExportSpec(object="contact", source=Source(table="people"), max_parallel=2)
    assert spec.max_parallel == 2
    assert DeleteSpec(object="contact", source=Source(table="gone")).max_parallel is None
    for bad in (0, 53):
        with pytest.raises(ConfigError, match="max_parallel"):
            ExportSpec(object="contact", source=Source(table="people"), max_parallel=bad)
