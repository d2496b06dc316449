"""A process killed while it waits to send a lost call again: the next run settles its rows.

A delete (any CRM) whose answer was lost is settled by the CRM's deletion log from that
call's time on. Before, the lost call's send was closed in the journal before the wait, so
a process killed during the wait left the next run nothing to tell the record it deleted
from one someone else had: its row became a "does not exist" reject.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from crmframes import Clock, Sandbox, delete_in_crm, export_to_crm

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


class Killed(BaseException):
    """Stands for the process dying while it waits to send the lost call again."""


def kill(seconds: float) -> None:
    raise Killed


@pytest.mark.parametrize(
    ("crm", "obj", "id_field", "last", "endpoint"),
    [
        ("salesforce", "Contact", "Id", "LastName", "composite/sobjects"),
        ("dynamics", "contact", "contactid", "lastname", r"\$batch"),
    ],
)
def test_a_lost_delete_killed_before_it_is_sent_again_is_deleted_by_the_next_run(
    tmp_path: Path, crm: str, obj: str, id_field: str, last: str, endpoint: str
):
    with Sandbox(crm, data="empty", clock=Clock(START)) as sb:
        conn = sb.connector()
        made = export_to_crm(conn, obj, pd.DataFrame({last: ["x", "y"]}), journal=False)
        df = pd.DataFrame({id_field: made.frame["crmId"].tolist()})
        journal = tmp_path / "d.jsonl"
        sb.faults.add("drop_after", endpoint, times=1)
        with pytest.raises(Killed):
            delete_in_crm(conn, obj, df, journal=journal, progress=False, sleep=kill)
        assert sb.records(obj).empty  # the lost call deleted both
        result = delete_in_crm(sb.connector(), obj, df, journal=journal, progress=False)
        assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
        assert result.frame["crmId"].str.lower().tolist() == df[id_field].str.lower().tolist()


def test_a_delete_whose_answer_is_lost_twice_is_judged_from_the_first_lost_call(tmp_path: Path):
    """Before, the second lost call's time replaced the first's: a record the first call
    deleted more than the 2 s slack before the second left was "does not exist"."""
    with Sandbox("dynamics", data="empty") as sb:
        conn = sb.connector()
        made = export_to_crm(conn, "contact", pd.DataFrame({"lastname": ["x"]}), journal=False)
        df = pd.DataFrame({"contactid": made.frame["crmId"].tolist()})
        sb.faults.add("drop_after", r"\$batch", times=2)
        waits: list[float] = []

        def wait(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 1:
                time.sleep(2.5)  # the second send leaves well after the first deleted it

        result = delete_in_crm(conn, "contact", df, journal=tmp_path / "d.jsonl", sleep=wait)
        assert len(waits) == 2 and result.rejects.empty
        assert result.frame["crmId"].str.lower().tolist() == df["contactid"].str.lower().tolist()
