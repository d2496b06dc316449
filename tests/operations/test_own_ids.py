"""An insert row that names its own id, whose call lost its answer, on the Dataverse sandbox.

Sent again, the row answers "exists" (0x80040237) whether the lost call created the record
or someone had before. The CRM's own record decides (crmframes.operations.own_ids): created
by the connected user since the lost call left → created by this export; created before →
the exists reject; too close to tell, or unreadable → OUTCOME_UNKNOWN, never sent again.
Each case runs in the run that lost the answer ("in-run") and in a run resuming a journal
that a killed process left open ("resumed").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from crmframes import Clock, ConfigError, Sandbox, export_to_crm
from crmframes.connectors.base import WriteBatch
from crmframes.operations.own_ids import ORDER_SLACK, order_created

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
MAPPING = {"contactid": "contactid", "lastname": "lastname"}
IDS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"own-{n}")) for n in range(3)]
CREATE = r"^POST .*CreateMultiple"
READ_STAMPS = r"^GET .*contacts\?.*createdon"


class Killed(BaseException):
    """Stands for the process dying while it waits to send the lost call again."""


def kill(seconds: float) -> None:
    raise Killed


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="empty", clock=Clock(START, frozen=True)) as sandbox:
        yield sandbox


def frame(ids: list[str] = IDS) -> pd.DataFrame:
    return pd.DataFrame({"contactid": ids, "lastname": [f"Own{n}" for n in range(len(ids))]})


def lose_answer(sb: Sandbox, df: pd.DataFrame, journal: Path, how: str) -> object:
    """Export with the create's answer lost; "resumed": the process dies before sending again."""
    sb.faults.add("drop_after", CREATE, times=1)
    conn = sb.connector()
    if how == "in-run":
        return export_to_crm(
            conn, "contact", df, mapping=MAPPING, journal=journal, sleep=lambda s: None
        )
    with pytest.raises(Killed):
        export_to_crm(conn, "contact", df, mapping=MAPPING, journal=journal, sleep=kill)
    lines = [json.loads(line) for line in journal.read_bytes().splitlines()[1:]]
    assert {e["s"] for e in lines if e["t"] == "send"} - {e["s"] for e in lines if e["t"] == "done"}
    return export_to_crm(sb.connector(), "contact", df, mapping=MAPPING, journal=journal)


def made_before(sb: Sandbox, df: pd.DataFrame, seconds: int) -> None:
    """The connected user creates the records, outside any journal, ``seconds`` before."""
    export_to_crm(sb.connector(), "contact", df, mapping=MAPPING, journal=False)
    sb.clock.advance(seconds=seconds)


@pytest.mark.parametrize("how", ["in-run", "resumed"])
def test_a_row_naming_its_id_whose_create_landed_is_created_once(
    sb: Sandbox, tmp_path: Path, how: str
):
    """Before: the rows were DuplicateRecord rejects although this export created them."""
    df = frame()
    result = lose_answer(sb, df, tmp_path / "j.jsonl", how)
    assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
    assert result.frame["crmId"].tolist() == IDS and result.stats.created == len(IDS)
    assert sorted(sb.records("contact")["contactid"]) == sorted(IDS)  # each exactly once
    again = export_to_crm(
        sb.connector(), "contact", df, mapping=MAPPING, journal=tmp_path / "j.jsonl"
    )
    assert again.stats.batches == 0 and again.frame["crmId"].tolist() == IDS


@pytest.mark.parametrize("how", ["in-run", "resumed"])
def test_a_row_naming_an_id_taken_before_the_call_is_the_exists_reject(
    sb: Sandbox, tmp_path: Path, how: str
):
    df = frame()
    made_before(sb, df, seconds=60)
    result = lose_answer(sb, df, tmp_path / "j.jsonl", how)
    assert result.frame.empty
    assert result.rejects["errorSymbol"].tolist() == ["DuplicateRecord"] * len(IDS)
    assert len(sb.records("contact")) == len(IDS)


@pytest.mark.parametrize("how", ["in-run", "resumed"])
def test_a_row_whose_record_cannot_be_read_is_outcome_unknown_for_good(
    sb: Sandbox, tmp_path: Path, how: str
):
    df = frame()
    failing = sb.faults.add("unavailable", READ_STAMPS, every=1, retry_after=0.01)
    result = lose_answer(sb, df, tmp_path / "j.jsonl", how)
    assert failing.fired >= 1 and result.frame.empty
    assert result.rejects["errorSymbol"].tolist() == ["OUTCOME_UNKNOWN"] * len(IDS)
    assert "could not be read" in result.rejects["errorMessage"].iloc[0]
    assert len(sb.records("contact")) == len(IDS)
    failing.times = 0  # readable again: the row is still not sent again by itself
    calls = sb.api_call_count()
    again = export_to_crm(
        sb.connector(), "contact", df, mapping=MAPPING, journal=tmp_path / "j.jsonl"
    )
    assert again.stats.batches == 0 and len(again.rejects) == len(IDS)
    assert sb.api_call_count() - calls <= 2  # authentication and describe only


def test_a_record_made_just_before_the_call_is_outcome_unknown(sb: Sandbox, tmp_path: Path):
    """Created two seconds before: whole-second stamps cannot order it against the call."""
    df = frame(IDS[:1])
    made_before(sb, df, seconds=2)
    result = lose_answer(sb, df, tmp_path / "j.jsonl", "in-run")
    assert result.rejects["errorSymbol"].tolist() == ["OUTCOME_UNKNOWN"]
    assert "too close to when the call left" in result.rejects["errorMessage"].iloc[0]
    assert len(sb.records("contact")) == 1


def test_a_record_another_export_holds_is_not_claimed(sb: Sandbox, tmp_path: Path):
    """Made by the same user in the same second, but another export's journal holds it."""
    df = frame(IDS[:1])
    other = export_to_crm(
        sb.connector(), "contact", df, mapping=MAPPING, journal=tmp_path / "other.jsonl"
    )
    assert other.stats.created == 1
    result = lose_answer(sb, df, tmp_path / "j.jsonl", "in-run")
    assert result.rejects["errorSymbol"].tolist() == ["DuplicateRecord"]


def test_a_salesforce_insert_cannot_name_its_id():
    """Salesforce refuses an Id on create: the own-id path never applies there."""
    with Sandbox("salesforce", data="empty") as sb:
        conn = sb.connector()
        conn.describe("Contact")
        calls = sb.api_call_count()
        df = pd.DataFrame({"Id": ["003000000000001AAA"], "LastName": ["x"]})
        with pytest.raises(ConfigError, match="Id"):
            export_to_crm(conn, "Contact", df, mapping={"Id": "Id", "LastName": "LastName"})
        assert sb.api_call_count() == calls and sb.records("Contact").empty


@pytest.mark.parametrize(
    ("created", "order"),
    [
        ("09:00:00", "within"),  # the second the call left: the CRM creates within it
        ("09:00:05", "within"),
        ("09:02:02", "within"),  # the longest the call could run, plus the slack
        ("09:02:03", "later"),  # no lost call could still run: another write made it
        ("08:59:59", "unknown"),  # whole seconds from two servers' clocks: too close
        ("08:59:58", "unknown"),
        ("08:59:57", "before"),
    ],
)
def test_order_created_against_the_lost_call(created: str, order: str):
    left = datetime(2026, 11, 20, 9, 0, 0, 700000, tzinfo=UTC)
    until = left.replace(microsecond=0) + timedelta(minutes=2) + ORDER_SLACK
    stamp = datetime.fromisoformat(f"2026-11-20T{created}+00:00")
    assert order_created(stamp, left, until) == order


@pytest.mark.parametrize(
    ("crm", "obj", "record", "other"),
    [
        ("dynamics", "contact", {"lastname": "Stamp"}, "not-a-guid"),
        ("salesforce", "Contact", {"LastName": "Stamp"}, "003000000000000"),
    ],
)
def test_read_created_says_when_and_whether_the_connected_user_made_each_record(
    crm: str, obj: str, record: dict[str, str], other: str
):
    with Sandbox(crm, data="empty", clock=Clock(START, frozen=True)) as sandbox:
        conn = sandbox.connector()
        (made,) = conn.write(WriteBatch(obj, "insert", (record,)))
        assert made.ok and made.id is not None
        (stamp,) = conn.read_created(obj, [made.id, other])
        assert stamp.id == conn.normalize_id(made.id) and stamp.by_caller
        assert stamp.created_at == START and stamp.created_by
