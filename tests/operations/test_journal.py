"""The export journal and the write engine, on an in-memory connector with scripted failures.

The sandbox tests (test_export.py, test_export_kill.py) prove the same properties over real
HTTPS; these pin the journal's logic down exactly: each failure is placed at a chosen call.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from filelock import FileLock

from crmframes import JournalError, WriteRejectedError, delete_in_crm, export_to_crm
from crmframes.connectors.base import (
    ApiLimits,
    BulkJobRef,
    Connector,
    CreatedRecord,
    DeletedRecord,
    Page,
    ReadRequest,
    WriteBatch,
    WriteOutcome,
    WriteParallelism,
)
from crmframes.connectors.throttling import Throttling
from crmframes.errors import BatchTooLargeError, RequestRejectedError, UnavailableError
from crmframes.operations.journal import Journal
from crmframes.schema import Field, ObjectSchema

SCHEMA = ObjectSchema(
    "Thing",
    {
        "Id": Field("Id", "id", createable=False, updateable=False),
        "Name": Field("Name", "string", length=20),
        "Code": Field("Code", "string", external_id=True),
    },
    "Id",
)


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs (not even except Exception)."""


class FakeCrm:
    """A connector whose writes land in a dict; ``script`` says what happens to each call."""

    system = "fake"
    instance = "https://fake.example"
    id_chunk_size = 100
    collation = "upper"
    cursor_resumes = 0
    supports_bulk_write = False

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.ids = (f"T{n:05d}" for n in itertools.count())
        self.calls = 0
        self._throttling = Throttling()
        # call number -> "kill_after" | "drop_after" | "drop_before" | "lock" | "lock_first" | "too_large"
        self.script: dict[int, str] = {}
        self.deleted: list[DeletedRecord] = []

    def describe(self, name: str) -> ObjectSchema:
        return SCHEMA

    def objects(self) -> list[str]:
        return [SCHEMA.name]

    def field(self, object_name: str, name: str) -> Field:
        return SCHEMA.fields[name]

    def read(self, request: ReadRequest) -> Iterator[Page]:
        return iter(())  # the journal tests never read

    def read_limits(self) -> ApiLimits:
        return ApiLimits(None, None, "no limits")

    def close(self) -> None:
        pass

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        raise AssertionError("supports_bulk_write is False")

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> None:
        return None

    def deleted_horizon(self, object_name: str) -> None:
        return None  # keeps deletions forever

    def normalize_id(self, value: object) -> str | None:
        return str(value) if str(value).startswith("T") else None

    def server_time(self) -> datetime:
        return datetime.now(UTC)

    def write_limit(self, op: str, *, bulk: bool = False) -> int:
        return 3

    @property
    def api_calls(self) -> int:
        return self.calls

    @property
    def throttling(self) -> Throttling:
        return self._throttling

    @property
    def write_parallelism(self) -> WriteParallelism:
        return WriteParallelism()  # one call at a time

    @property
    def longest_call(self) -> timedelta:
        return timedelta(minutes=2)

    def _apply(self, batch: WriteBatch, record: Mapping[str, Any]) -> WriteOutcome:
        if record.get("Name") == "reject me":
            return WriteOutcome(ok=False, error_symbol="FIELD_CUSTOM_VALIDATION_EXCEPTION")
        if batch.op == "insert":
            new = next(self.ids)
            self.rows[new] = dict(record)
            return WriteOutcome(ok=True, id=new, created=True)
        if batch.op == "delete":
            gone = self.rows.pop(record["Id"], None)
            if gone is not None:
                self.deleted.append(DeletedRecord(record["Id"], datetime.now(UTC)))
            if gone is None:
                return WriteOutcome(
                    ok=False, id=record["Id"], error_symbol="NOT_FOUND", missing=True
                )
            return WriteOutcome(ok=True, id=record["Id"])
        match = [i for i, r in self.rows.items() if r.get("Code") == record["Code"]]
        if match:
            self.rows[match[0]].update(record)
            return WriteOutcome(ok=True, id=match[0], created=False)
        new = next(self.ids)
        self.rows[new] = dict(record)
        return WriteOutcome(ok=True, id=new, created=True)

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        self.calls += 1
        what = self.script.get(self.calls, "")
        if what == "lock":
            return [
                WriteOutcome(ok=False, error_symbol="UNABLE_TO_LOCK_ROW", transient=True)
            ] * len(batch.records)
        if what == "too_large" and len(batch.records) > 1:  # refused before anything left
            raise BatchTooLargeError("over the call's size")
        if what == "drop_before":  # the answer is lost and the CRM never had the call
            raise UnavailableError(
                "connection reset", system="fake", operation="write", outcome_unknown=True
            )
        outcomes = [self._apply(batch, r) for r in batch.records[what == "lock_first" :]]
        if what == "lock_first":  # the first row meets a lock, the others are written
            outcomes.insert(0, WriteOutcome(ok=False, error_symbol="LOCK", transient=True))
        if what == "kill_after":
            raise Killed
        if what == "drop_after":
            raise UnavailableError(
                "connection dropped",
                system="fake",
                operation="write",
                outcome_unknown=True,
                retryable=False,
            )
        return outcomes

    def read_created(self, object_name: str, ids: Sequence[str]) -> list[CreatedRecord]:
        return []  # inserts never name ids here: no insert answers "exists"

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        self.calls += 1
        return [d for d in self.deleted if start <= d.deleted_at <= end]

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> None:
        return None  # ids are the CRM's: a lost insert is looked up

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        self.calls += 1
        taken: set[str] = set(exclude)
        found: list[str | None] = []
        for record in records:
            hit = next(
                (i for i, r in self.rows.items() if i not in taken and r == dict(record)), None
            )
            if hit:
                taken.add(hit)
            found.append(hit)
        return found


FRAME = pd.DataFrame({"Name": [f"n{i}" for i in range(10)], "Code": [f"c{i}" for i in range(10)]})
NAMES = FRAME[["Name"]]  # an insert mapping no external id: its lost answers are looked up


def names(crm: FakeCrm) -> list[str]:
    return sorted(r["Name"] for r in crm.rows.values())


def test_the_fake_is_a_whole_connector():
    assert isinstance(FakeCrm(), Connector)  # the operations take nothing less


def test_insert_killed_after_a_batch_resumes_without_duplicates(tmp_path: Path):
    crm = FakeCrm()
    crm.script = {2: "kill_after"}  # the CRM applied the second batch, the process died
    journal = tmp_path / "j.jsonl"
    with pytest.raises(Killed):
        export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert len(crm.rows) == 6
    result = export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert names(crm) == sorted(FRAME["Name"])  # each exactly once
    assert len(result.frame) == 10 and result.rejects.empty
    assert result.stats.resumed == 3  # batch 1 from the journal; batch 2 found in the CRM
    assert set(result.frame["crmId"]) == set(crm.rows)
    # a third run sends nothing at all
    calls = crm.calls
    again = export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert crm.calls == calls and len(again.frame) == 10


def test_dropped_connection_on_insert_is_resolved_in_the_same_run(tmp_path: Path):
    crm = FakeCrm()
    crm.script = {1: "drop_after"}
    result = export_to_crm(crm, "Thing", NAMES, journal=tmp_path / "j", progress=False)
    assert names(crm) == sorted(FRAME["Name"])
    assert result.stats.created == 10


def test_transient_rows_are_retried_then_rejected(tmp_path: Path):
    waits: list[float] = []  # the retry loop waits through the injected sleep
    crm = FakeCrm()
    crm.script = {1: "lock"}
    result = export_to_crm(crm, "Thing", NAMES, journal=False, progress=False, sleep=waits.append)
    assert len(result.frame) == 10 and result.stats.retries == 3
    assert len(waits) == 1 and waits[0] > 0
    crm = FakeCrm()
    crm.script = dict.fromkeys(range(1, 30), "lock")
    result = export_to_crm(
        crm, "Thing", NAMES, journal=False, max_retries=1, progress=False, sleep=waits.append
    )
    assert result.frame.empty and len(result.rejects) == 10
    assert set(result.rejects["errorSymbol"]) == {"UNABLE_TO_LOCK_ROW"}


def test_keyed_writes_are_resent_and_rejects_are_not(tmp_path: Path):
    crm = FakeCrm()
    frame = FRAME.assign(Name=[*FRAME["Name"][:9], "reject me"])
    crm.script = {3: "kill_after"}
    journal = tmp_path / "j.jsonl"
    with pytest.raises(Killed):
        export_to_crm(crm, "Thing", frame, key="Code", journal=journal, progress=False)
    result = export_to_crm(crm, "Thing", frame, key="Code", journal=journal, progress=False)
    assert len(crm.rows) == 9
    assert list(result.rejects["inputIndex"]) == [9]
    assert len(result.frame) + len(result.rejects) == 10
    assert result.journal == journal


def test_a_journal_of_another_export_is_refused(tmp_path: Path):
    crm = FakeCrm()
    journal = tmp_path / "j.jsonl"
    export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    calls = crm.calls
    subset = export_to_crm(crm, "Thing", NAMES.iloc[::-1].head(3), journal=journal, progress=False)
    assert crm.calls == calls and subset.stats.resumed == 3  # rows are known by content
    with pytest.raises(JournalError, match="op: journal 'insert' vs now 'upsert'"):
        export_to_crm(crm, "Thing", FRAME, key="Code", journal=journal, progress=False)
    other = FakeCrm()
    other.instance = "https://other.example"
    with pytest.raises(JournalError, match=r"instance: journal 'https://fake\.example'"):
        export_to_crm(other, "Thing", NAMES, journal=journal, progress=False)


def test_fix_and_rerun_with_the_default_journal_sends_only_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    crm = FakeCrm()
    frame = NAMES.assign(Name=[*FRAME["Name"][:7], "reject me", *FRAME["Name"][8:]])
    with pytest.raises(WriteRejectedError):
        export_to_crm(crm, "Thing", frame, on_error="raise", progress=False)
    assert len(crm.rows) == 8  # the batch of the rejected row went through
    fixed = frame.assign(Name=FRAME["Name"])  # the user fixes row 7 and runs again
    result = export_to_crm(crm, "Thing", fixed, progress=False)
    assert names(crm) == sorted(FRAME["Name"])  # nothing twice
    assert result.stats.resumed == 8 and result.stats.created == 10
    # the finished default journal is retired: a later export is a new export
    assert result.journal is not None and result.journal.parent.name == "done"
    assert not list((tmp_path / ".crmframes" / "journals").glob("*.jsonl"))


def test_torn_last_line_is_ignored_and_a_corrupt_journal_refused(tmp_path: Path):
    crm = FakeCrm()
    crm.script = {2: "kill_after"}
    journal = tmp_path / "j.jsonl"
    with pytest.raises(Killed):
        export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    with journal.open("ab") as f:
        f.write(b'{"t":"done","s":1,"r":[[3,tr')  # killed while writing
    export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert names(crm) == sorted(FRAME["Name"])
    calls = crm.calls  # the fragment was cut, not glued to the next line: a third run reads it
    assert len(export_to_crm(crm, "Thing", NAMES, journal=journal).frame) == 10
    assert crm.calls == calls
    lines = journal.read_bytes().split(b"\n")
    lines[2] = b"garbage"
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match="corrupt at line 3"):
        export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)


def test_journal_holds_no_values(tmp_path: Path):
    crm = FakeCrm()
    journal = tmp_path / "j.jsonl"
    export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    text = journal.read_text()
    assert '"n3"' not in text and '"c3"' not in text
    header = json.loads(text.splitlines()[0])
    assert set(header) == {
        "t",
        "v",
        "operation",
        "system",
        "object",
        "op",
        "key",
        "target",
        "instance",
        "created",
        "export",
    }
    opened = Journal.open(journal, header)
    assert opened.header["object"] == "Thing" and len(opened.outcomes) == 10


def test_delete_waits_between_retries_through_the_injected_sleep():
    crm = FakeCrm()
    inserted = export_to_crm(crm, "Thing", NAMES, journal=False, progress=False).frame
    ids = inserted[["crmId"]].rename(columns={"crmId": "Id"})
    crm.script = {crm.calls + 1: "lock"}  # the first delete call: every row locked, for now
    waits: list[float] = []
    result = delete_in_crm(crm, "Thing", ids, journal=False, progress=False, sleep=waits.append)
    assert result.stats.deleted == 10 and result.stats.retries == 3  # one batch of 3, locked
    assert len(waits) == 1 and waits[0] > 0
    assert crm.rows == {}


def test_delete_resent_after_lost_answer_counts_as_done(tmp_path: Path):
    crm = FakeCrm()
    inserted = export_to_crm(crm, "Thing", NAMES, journal=False, progress=False).frame
    ids = inserted[["crmId"]].rename(columns={"crmId": "Id"})
    ids.loc[len(ids)] = ["T99999"]  # never existed: a real reject
    crm.script = {crm.calls + 1: "kill_after"}
    journal = tmp_path / "d.jsonl"
    with pytest.raises(Killed):
        delete_in_crm(crm, "Thing", ids, journal=journal, progress=False)
    result = delete_in_crm(crm, "Thing", ids, journal=journal, progress=False)
    assert crm.rows == {}
    assert result.stats.deleted == 10
    assert list(result.rejects["errorSymbol"]) == ["NOT_FOUND"]


def test_on_error_raise(tmp_path: Path):
    crm = FakeCrm()
    frame = NAMES.assign(Name=["reject me", *FRAME["Name"][1:]])
    with pytest.raises(WriteRejectedError, match="row 0: FIELD_CUSTOM_VALIDATION_EXCEPTION"):
        export_to_crm(crm, "Thing", frame, journal=False, on_error="raise", progress=False)

    def refuse(batch: WriteBatch) -> list[WriteOutcome]:
        raise RequestRejectedError("bad", system="fake", operation="write", status=400)

    crm.write = refuse  # type: ignore[method-assign]
    with pytest.raises(RequestRejectedError):
        export_to_crm(crm, "Thing", NAMES, journal=False, on_error="raise", progress=False)
    result = export_to_crm(crm, "Thing", NAMES, journal=False, progress=False)
    assert len(result.rejects) == 10 and set(result.rejects["errorCode"]) == {"400"}


def test_a_journal_of_another_format_is_refused(tmp_path: Path):
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"t":"header","v":1,"object":"Thing"}\n{"t":"send","s":0,"p":[0]}\n')
    with pytest.raises(JournalError, match="format 1"):
        export_to_crm(FakeCrm(), "Thing", NAMES, journal=journal, progress=False)


def test_a_lost_insert_never_takes_ids_of_other_rows_and_the_next_run_settles_it(tmp_path: Path):
    crm = FakeCrm()
    crm.script = {2: "drop_before"}
    same = pd.DataFrame({"Name": ["a", "b", "c"] * 2, "Code": ["x"] * 6})  # identical batches
    journal = tmp_path / "j.jsonl"
    first = export_to_crm(crm, "Thing", same, journal=journal, progress=False)
    assert first.stats.created == 3 and len(crm.rows) == 3  # batch 1's records are its own
    assert set(first.rejects["errorSymbol"]) == {"OUTCOME_UNKNOWN"}
    assert "run the export again with the same journal" in first.rejects["errorMessage"][0]
    # the next run looks again, finds no record of its own, and never guesses: the rows are
    # final OUTCOME_UNKNOWN rejects (on a real org a flow may have changed what was stored)
    second = export_to_crm(crm, "Thing", same, journal=journal, progress=False)
    assert second.rejects["errorSymbol"].tolist() == ["OUTCOME_UNKNOWN"] * 3
    assert "export this row again with journal=False" in second.rejects["errorMessage"].iloc[0]
    assert len(crm.rows) == 3 and second.stats.batches == 0
    calls = crm.calls
    third = export_to_crm(crm, "Thing", same, journal=journal, progress=False)
    assert crm.calls == calls and len(third.rejects) == 3  # closed for good: nothing sent
    # the user checked: not in the CRM, so they send those rows again themselves
    resent = export_to_crm(crm, "Thing", second.rejects[["Name", "Code"]], journal=False)
    assert resent.stats.created == 3 and len(crm.rows) == 6


def test_rows_that_only_failed_transiently_are_sent_by_the_next_run(tmp_path: Path):
    crm = FakeCrm()
    crm.script = dict.fromkeys(range(1, 30), "lock")
    journal = tmp_path / "j.jsonl"
    waits: list[float] = []
    locked = export_to_crm(
        crm, "Thing", NAMES, journal=journal, max_retries=1, progress=False, sleep=waits.append
    )
    assert waits and min(waits) > 0  # every wait went through the injected sleep
    assert set(locked.rejects["errorSymbol"]) == {"UNABLE_TO_LOCK_ROW"}
    crm.script = {}
    again = export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert again.stats.created == 10 and names(crm) == sorted(FRAME["Name"])


def test_a_journal_in_use_by_a_running_export_is_refused(tmp_path: Path):
    path = tmp_path / "j.jsonl"
    running = FileLock(f"{path}.lock")  # what the other export holds while it runs
    with running, pytest.raises(JournalError, match="in use by another export"):
        export_to_crm(FakeCrm(), "Thing", NAMES, journal=path, progress=False)
    assert len(export_to_crm(FakeCrm(), "Thing", NAMES, journal=path).frame) == 10


def test_an_unknown_send_stays_open_until_a_run_has_all_its_rows(tmp_path: Path):
    crm = FakeCrm()
    crm.script = {2: "kill_after"}  # batch 2 (rows 3-5) applied, the process died
    journal = tmp_path / "j.jsonl"
    with pytest.raises(Killed):
        export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    fewer = NAMES.drop(index=4)  # the next run's frame lacks one row of the unknown send
    export_to_crm(crm, "Thing", fewer, journal=journal, progress=False)
    assert sorted(r["Name"] for r in crm.rows.values()) == sorted(FRAME["Name"])
    result = export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    assert names(crm) == sorted(FRAME["Name"])  # row 4 was looked up, not sent again
    assert len(result.frame) == 10 and result.rejects.empty


def test_calls_in_flight_wait_for_their_journal_fsyncs_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sends fsync at once: neither holds a lock while its line goes to disk.

    With the fsync under the journal's lock (or the export's), the second send cannot reach
    its fsync before the first returns, and the barrier below breaks.
    """
    crm = FakeCrm()
    journal = tmp_path / "j.jsonl"
    export_to_crm(crm, "Thing", NAMES, journal=journal, progress=False)
    opened = Journal.open(journal, json.loads(journal.read_text().splitlines()[0]))
    together = threading.Barrier(2, timeout=5)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        together.wait()  # both sends are in their fsync at the same time
        real_fsync(descriptor)
        synced.append(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    numbers: list[int] = []
    threads = [threading.Thread(target=lambda d=d: numbers.append(opened.send([d]))) for d in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    monkeypatch.setattr(os, "fsync", real_fsync)
    opened.close()
    assert len(set(numbers)) == 2 and len(synced) == 2
    sends = [json.loads(line) for line in journal.read_text().splitlines()[-2:]]
    assert sorted(s["d"][0] for s in sends) == ["a", "b"]  # both lines whole, one each
