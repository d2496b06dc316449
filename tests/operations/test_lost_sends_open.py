"""A lost call's send stays open in the journal until its rows are journaled again.

A delete, or a Dataverse insert naming its own id, whose answer was lost is settled by the
CRM's own record from the lost call's time (the deletion log; the record's stamps). Before,
that time could leave the journal while such a row still needed sending: ``resolve``
closed an earlier run's lost send before its rows were sent again, and a call that failed
for good under ``on_error="raise"`` closed its send too. A process killed (or stopped) in
between left the next run nothing to settle from: deletes this export made came back
"does not exist", own-id inserts "DuplicateRecord".
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from crmframes import Sandbox, delete_in_crm, export_to_crm
from crmframes.connectors.base import CreatedRecord, WriteOutcome
from crmframes.errors import PermissionDeniedError
from crmframes.operations.delivery import Delivery
from crmframes.operations.lost_calls import OpenSends
from crmframes.operations.own_ids import claim_taken
from tests.operations.test_journal import FakeCrm, Killed

MAPPING = {"contactid": "contactid", "lastname": "lastname"}
IDS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"open-{n}")) for n in range(3)]
CREATE = r"^POST .*CreateMultiple"


def kill(*args: object) -> None:
    raise Killed


def lines(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_bytes().splitlines()[1:]]


def open_sends(journal: Path) -> set[object]:
    entries = lines(journal)
    return {e["s"] for e in entries if e["t"] == "send"} - {
        e["s"] for e in entries if e["t"] == "done"
    }


def made(sb: Sandbox, obj: str, last: str) -> list[str]:
    conn = sb.connector()
    frame = pd.DataFrame({last: ["x", "y"]})
    return list(export_to_crm(conn, obj, frame, journal=False).frame["crmId"])


@pytest.mark.parametrize(
    ("crm", "obj", "id_field", "last", "endpoint"),
    [
        ("salesforce", "Contact", "Id", "LastName", "composite/sobjects"),
        ("dynamics", "contact", "contactid", "lastname", r"\$batch"),
    ],
)
def test_a_lost_delete_resolved_then_killed_before_it_is_sent_again_is_deleted_next_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crm: str,
    obj: str,
    id_field: str,
    last: str,
    endpoint: str,
):
    """Before: run 2's resolve wrote the lost send's done line at once; killed before the
    resend, run 3 sent the deletes afresh and got "does not exist" for records it deleted."""
    with Sandbox(crm, data="empty") as sb:
        df = pd.DataFrame({id_field: made(sb, obj, last)})
        journal = tmp_path / "d.jsonl"
        sb.faults.add("drop_after", endpoint, times=1)
        with pytest.raises(Killed):
            delete_in_crm(sb.connector(), obj, df, journal=journal, progress=False, sleep=kill)
        assert sb.records(obj).empty  # the lost call deleted both
        with monkeypatch.context() as patch:  # run 2 dies after resolve, before the resend
            patch.setattr(Delivery, "send", kill)
            with pytest.raises(Killed):
                delete_in_crm(sb.connector(), obj, df, journal=journal, progress=False)
        assert open_sends(journal) == {0}  # the lost call is still on record
        result = delete_in_crm(sb.connector(), obj, df, journal=journal, progress=False)
        assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
        assert result.stats.deleted == 2 and not open_sends(journal)


def test_an_own_id_insert_resolved_then_killed_before_it_is_sent_again_is_created_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Before: run 3 found the ids taken and no lost call on record: DuplicateRecord."""
    df = pd.DataFrame({"contactid": IDS, "lastname": [f"Own{n}" for n in range(3)]})
    journal = tmp_path / "j.jsonl"
    with Sandbox("dynamics", data="empty") as sb:
        sb.faults.add("drop_after", CREATE, times=1)
        with pytest.raises(Killed):
            export_to_crm(
                sb.connector(), "contact", df, mapping=MAPPING, journal=journal, sleep=kill
            )
        with monkeypatch.context() as patch:
            patch.setattr(Delivery, "send", kill)
            with pytest.raises(Killed):
                export_to_crm(sb.connector(), "contact", df, mapping=MAPPING, journal=journal)
        result = export_to_crm(sb.connector(), "contact", df, mapping=MAPPING, journal=journal)
        assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
        assert result.stats.created == 3 and sorted(sb.records("contact")["contactid"]) == sorted(
            IDS
        )


def test_a_lost_delete_whose_resend_fails_for_good_under_raise_stays_on_record(tmp_path: Path):
    """Before: on_error="raise" wrote done for the resend (and the lost send was closed when
    the resend was journaled): the next run knew of no lost call and rejected the rows."""
    with Sandbox("dynamics", data="empty") as sb:
        df = pd.DataFrame({"contactid": made(sb, "contact", "lastname")})
        journal = tmp_path / "d.jsonl"
        sb.faults.add("drop_after", r"\$batch", times=1)
        conn = sb.connector()
        write = conn.write
        calls: list[str] = []

        def refused_the_second_time(batch):  # type: ignore[no-untyped-def]
            calls.append(batch.op)
            if len(calls) == 2:  # not applied, not retryable: the run stops
                raise PermissionDeniedError("no", system="dynamics", operation="delete", status=403)
            return write(batch)

        conn.write = refused_the_second_time  # type: ignore[method-assign]
        with pytest.raises(PermissionDeniedError):
            delete_in_crm(
                conn, "contact", df, journal=journal, progress=False, on_error="raise",
                sleep=lambda seconds: None,
            )  # fmt: skip
        assert calls == ["delete", "delete"] and sb.records("contact").empty
        assert open_sends(journal) == {1}  # the resend, carrying the lost call's time
        result = delete_in_crm(sb.connector(), "contact", df, journal=journal, progress=False)
        assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
        assert result.stats.deleted == 2


def test_a_record_made_after_the_lost_call_could_run_is_not_claimed(tmp_path: Path):
    """The lost call was dropped before the CRM took it; long after, the same user writes
    those ids without a journal. Before, the next run reported them created by this export."""
    df = pd.DataFrame({"contactid": IDS[:2], "lastname": ["Mine0", "Mine1"]})
    journal = tmp_path / "j.jsonl"
    with Sandbox("dynamics", data="empty") as sb:
        sb.faults.add("drop", CREATE, times=1)  # lost before the CRM took it: nothing made
        with pytest.raises(Killed):
            export_to_crm(
                sb.connector(), "contact", df, mapping=MAPPING, journal=journal, sleep=kill
            )
        assert sb.records("contact").empty
        # the lost call left ten minutes ago: far past its window (2 minutes plus slack)
        entries = journal.read_bytes().splitlines()
        first = json.loads(entries[1])
        first["at"] = (datetime.fromisoformat(first["at"]) - timedelta(minutes=10)).isoformat()
        journal.write_bytes(b"\n".join([entries[0], json.dumps(first).encode(), b""]))
        other = pd.DataFrame({"contactid": IDS[:2], "lastname": ["Other0", "Other1"]})
        export_to_crm(sb.connector(), "contact", other, mapping=MAPPING, journal=False)
        result = export_to_crm(sb.connector(), "contact", df, mapping=MAPPING, journal=journal)
        assert result.frame.empty
        assert result.rejects["errorSymbol"].tolist() == ["DuplicateRecord"] * 2
        assert sorted(sb.records("contact")["lastname"]) == ["Other0", "Other1"]


def test_a_back_dated_own_id_insert_whose_answer_was_lost_is_outcome_unknown(tmp_path: Path):
    """overriddencreatedon sets createdon: the stamp cannot say when the record was made.
    Before, the migration's own records were DuplicateRecord rejects."""
    df = pd.DataFrame(
        {
            "contactid": IDS[:2],
            "lastname": ["Mig0", "Mig1"],
            "overriddencreatedon": pd.to_datetime(["2019-05-01T10:00:00Z"] * 2),
        }
    )
    mapping = {**MAPPING, "overriddencreatedon": "overriddencreatedon"}
    with Sandbox("dynamics", data="empty") as sb:
        sb.faults.add("drop_after", CREATE, times=1)
        result = export_to_crm(
            sb.connector(), "contact", df, mapping=mapping, journal=tmp_path / "a.jsonl",
            sleep=lambda seconds: None,
        )  # fmt: skip
        assert result.rejects["errorSymbol"].tolist() == ["OUTCOME_UNKNOWN"] * 2
        assert "overriddencreatedon" in result.rejects["errorMessage"].iloc[0]
        assert len(sb.records("contact")) == 2


def test_a_send_with_final_and_awaiting_rows_closes_once_they_are_journaled_again():
    """The bookkeeping of an open send: held outcomes reach its done line, at the end."""
    sends = OpenSends()
    ok = WriteOutcome(ok=True, id="a")
    assert sends.keep(7, [(0, ok)], awaiting=[1, 2]) == []  # rows 1 and 2 still to send
    assert sends.sources([1, 2, 3]) == [7, 7, None]
    assert sends.journaled([1]) == []
    assert sends.journaled([2, 3]) == [(7, [(0, ok)])]
    assert sends.keep(8, [(4, ok)], awaiting=[]) == [(8, [(4, ok)])]
    sends.pin(9, [5])
    assert sends.journaled([5]) == [] and 9 in sends.pinned


def test_claim_taken_keeps_to_the_window_and_never_guesses_a_back_dated_stamp():
    left = datetime(2026, 11, 20, 9, 0, 0, 500000, tzinfo=UTC)
    until = left + timedelta(minutes=2, seconds=2)
    stamps = [
        CreatedRecord(id="in", created_at=left + timedelta(seconds=30), by_caller=True),
        CreatedRecord(id="late", created_at=left + timedelta(minutes=5), by_caller=True),
        CreatedRecord(id="dated", created_at=None, by_caller=True),
    ]
    settled = claim_taken(
        {0: ("in", left, until), 1: ("late", left, until), 2: ("dated", left, until)},
        stamps,
        held=(),
        normalize=lambda value: str(value),
        object_name="contact",
    )
    assert settled[0] == WriteOutcome(ok=True, id="in", created=True)
    assert settled[1] is None  # the exists reject: made after any lost call could run
    assert settled[2] is not None and settled[2].error_symbol == "OUTCOME_UNKNOWN"


def test_a_lost_send_split_over_batches_and_killed_between_them_closes_next_run(tmp_path: Path):
    """Run 2 sends the lost call's rows in batches and dies after the first: the journal
    holds the lost send and the first batch's send, one row in both. The batch's line says
    which rows it took over (``from``), so run 3 reads each row as pending once and closes
    every send."""
    with Sandbox("dynamics", data="empty") as sb:
        frame = pd.DataFrame({"lastname": [f"x{n}" for n in range(6)]})
        ids = export_to_crm(sb.connector(), "contact", frame, journal=False).frame["crmId"]
        df = pd.DataFrame({"contactid": list(ids)})
        journal = tmp_path / "d.jsonl"
        sb.faults.add("drop_after", r"\$batch", times=1)
        with pytest.raises(Killed):
            delete_in_crm(
                sb.connector(), "contact", df, journal=journal, progress=False, sleep=kill
            )
        conn = sb.connector()
        conn.write = kill  # type: ignore[method-assign]  # dies once the first batch is journaled
        with pytest.raises(Killed):
            delete_in_crm(
                conn, "contact", df, journal=journal, progress=False, batch_size=2, max_parallel=1
            )
        assert open_sends(journal) == {0, 1}
        result = delete_in_crm(sb.connector(), "contact", df, journal=journal, progress=False)
        assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
        assert result.stats.deleted == 6 and not open_sends(journal)


def test_a_resend_with_final_and_locked_rows_keeps_the_lost_time_until_all_are_sent(
    tmp_path: Path,
):
    """The resend of a lost delete: two rows settled, one locked for now. Before, the send
    was closed with the two final rows, and killed during the wait the locked row was on no
    open send: the next run sent it afresh and got "not found" for a record it deleted."""
    crm = FakeCrm()
    names = pd.DataFrame({"Name": ["a", "b", "c"]})
    made = export_to_crm(crm, "Thing", names, journal=False, progress=False).frame
    ids = made[["crmId"]].rename(columns={"crmId": "Id"})
    crm.script = {crm.calls + 1: "drop_after", crm.calls + 2: "lock_first"}
    waits: list[float] = []

    def dies_on_the_second_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise Killed

    journal = tmp_path / "d.jsonl"
    with pytest.raises(Killed):
        delete_in_crm(
            crm, "Thing", ids, journal=journal, progress=False, sleep=dies_on_the_second_wait
        )
    assert crm.rows == {} and open_sends(journal) == {1}  # the resend, nothing held lost
    result = delete_in_crm(crm, "Thing", ids, journal=journal, progress=False)
    assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
    assert result.stats.deleted == 3 and not open_sends(journal)


def test_a_lost_delete_refused_as_too_large_keeps_its_time_until_both_halves_are_sent(
    tmp_path: Path,
):
    """The send again of a lost delete is refused as too large and sent in halves; the
    process dies during the first half. Before, the refused send was closed at once: the
    second half's rows were on no open send, sent afresh next run, and "not found"."""
    crm = FakeCrm()
    names = pd.DataFrame({"Name": ["a", "b", "c"]})
    made = export_to_crm(crm, "Thing", names, journal=False, progress=False).frame
    ids = made[["crmId"]].rename(columns={"crmId": "Id"})
    first = crm.calls + 1
    crm.script = {first: "drop_after", first + 1: "too_large", first + 2: "kill_after"}
    journal = tmp_path / "d.jsonl"
    with pytest.raises(Killed):
        delete_in_crm(crm, "Thing", ids, journal=journal, progress=False, sleep=lambda s: None)
    assert crm.rows == {} and open_sends(journal) == {1, 2}  # the refused send and a half
    result = delete_in_crm(crm, "Thing", ids, journal=journal, progress=False)
    assert result.rejects.empty, result.rejects[["errorSymbol", "errorMessage"]]
    assert result.stats.deleted == 3 and not open_sends(journal)
