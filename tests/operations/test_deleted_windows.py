"""Deletion windows chain without a gap or an overlap (issue 17, item 2).

A window is ``[start, end)``; the next one starts at ``end``; every deletion lands in
exactly one window, also when it is made in the second a window ends in, with the CRM's
clock frozen or running, through the operation, the job runner and its automatic index.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from crmframes import Clock, Sandbox, import_deleted_from_crm
from crmframes.connectors.base import WriteBatch
from crmframes.operations.deleted import DeletedResult
from crmframes.runner import run_job
from crmframes.specs import Job
from tests.operations.conftest import START, Crm


def _delete(conn: Any, crm: Crm, record_id: str) -> None:
    assert conn.write(WriteBatch(crm.contact, "delete", ({crm.id: record_id},)))[0].ok


class Chain:
    """Windows read back to back, each starting where the previous one ended."""

    def __init__(self, conn: Any, crm: Crm, start: datetime) -> None:
        self.conn, self.crm, self.start = conn, crm, start
        self.windows: list[DeletedResult] = []

    def read(self) -> DeletedResult:
        window = import_deleted_from_crm(self.conn, self.crm.contact, start=self.start)
        assert window.start == self.start and window.end >= window.start
        self.windows.append(window)
        self.start = window.end
        return window

    def counts(self) -> Counter[str]:
        return Counter(str(i) for w in self.windows for i in w.frame[self.crm.id].tolist())


def test_deletions_in_the_boundary_second_land_in_one_window_frozen_clock(crm: Crm):
    # Regression: end was the CRM's second + 1 s, included, and the next window started
    # there: a deletion later in that second (the clock frozen: every one) was never read.
    conn = crm.sandbox.connector()
    ids = [str(i) for i in crm.records()[crm.id][:5]]
    chain = Chain(conn, crm, START - timedelta(minutes=1))
    _delete(conn, crm, ids[0])
    assert chain.read().end == START  # the clock is in START's second: it is not over
    _delete(conn, crm, ids[1])  # in that same second
    assert chain.read().frame.empty
    crm.sandbox.clock.advance(seconds=1)
    _delete(conn, crm, ids[2])  # at the next window's end, exactly
    assert sorted(chain.read().frame[crm.id]) == sorted(ids[:2])
    crm.sandbox.clock.advance(seconds=0.5)
    _delete(conn, crm, ids[3])
    assert chain.read().frame.empty
    crm.sandbox.clock.advance(minutes=3)
    _delete(conn, crm, ids[4])
    chain.read()
    assert chain.counts() == Counter(ids[:5]) - Counter([ids[4]])
    crm.sandbox.clock.advance(seconds=1)
    chain.read()
    assert chain.counts() == Counter(ids)


def test_explicit_ends_split_a_second_without_overlap(crm: Crm):
    conn = crm.sandbox.connector()
    ids = [str(i) for i in crm.records()[crm.id][:2]]
    crm.sandbox.clock.set(START + timedelta(seconds=10))
    _delete(conn, crm, ids[0])  # stamped START+10 s (Dataverse: whole seconds)
    crm.sandbox.clock.set(START + timedelta(seconds=11, milliseconds=500))
    _delete(conn, crm, ids[1])
    crm.sandbox.clock.advance(minutes=2)
    cuts = [START, START + timedelta(seconds=10), START + timedelta(seconds=10.5)]
    cuts += [START + timedelta(seconds=11.5), START + timedelta(seconds=12)]
    windows = [
        import_deleted_from_crm(conn, crm.contact, start=a, end=b) for a, b in pairwise(cuts)
    ]
    # Dataverse audit times are whole seconds: the second deletion is stamped START+11 s
    expected = {
        "salesforce": [[], [ids[0]], [], [ids[1]]],
        "dynamics": [[], [ids[0]], [ids[1]], []],
    }
    assert [list(w.frame[crm.id]) for w in windows] == expected[crm.name]


@pytest.mark.parametrize("name", ["salesforce", "dynamics"])
def test_deletions_racing_the_windows_land_in_one_window_running_clock(name: str):
    # Deletions made while windows are read back to back, the CRM's clock running: each is
    # read exactly once, whichever second, and whichever side of a read, it falls in.
    from tests.operations.conftest import MAKERS

    with Sandbox(name, data="demo", scale=0.05, clock=Clock()) as sb:
        crm = MAKERS[name](sb)
        ids = [str(i) for i in crm.records()[crm.id][:12]]
        now = datetime.now(UTC)
        sb.clock.set(now.replace(microsecond=0) + timedelta(seconds=1, milliseconds=-300))
        chain = Chain(sb.connector(), crm, now - timedelta(minutes=1))
        deleter, done = sb.connector(), threading.Event()

        def delete_all() -> None:
            try:
                for record_id in ids:
                    _delete(deleter, crm, record_id)
                    done.wait(0.15)
            finally:
                done.set()

        worker = threading.Thread(target=delete_all)
        worker.start()
        try:
            while not done.is_set():
                chain.read()
        finally:
            worker.join()
        chain.read()  # after the last deletion: its second is over once this call reads
    assert chain.counts() == Counter(ids)


def test_the_runners_deletion_index_reads_each_deletion_once(crm: Crm, tmp_path: Path):
    store = str(tmp_path / "campaign.duckdb")
    sb = crm.sandbox
    creds = sb.credentials
    auth: dict[str, Any] = {"client_id": creds["client_id"], "client_secret": {"env": "SECRET"}}
    account: dict[str, Any] = {"crm": sb.crm, "url": sb.url, "ca_file": sb.ca_file, "auth": auth}
    if sb.crm == "dynamics":
        tenant = creds["tenant_id"]
        account |= {"tenant_id": tenant, "authority": f"{sb.url}/{tenant}"}
    step = {
        "deleted": {
            "object": crm.contact,
            "lookback": "1h",
            "auto_index": {"activity": "deletions"},
        }
    }
    job = Job.from_dict({"name": "d", "account": account, "store": store, "steps": [step]})
    conn = sb.connector()
    ids = [str(i) for i in crm.records()[crm.id][:3]]
    counted = 0
    for record_id, step_seconds in zip([*ids, None], (0, 1, 0, 5), strict=True):
        if record_id is not None:
            _delete(conn, crm, record_id)  # in the second the last run's window ended at
        report = run_job(job, progress=False, environ={"SECRET": creds["client_secret"]})
        assert report.ok, report.error
        counted += report.steps[0].counts["deleted in CRM"]
        sb.clock.advance(seconds=step_seconds)
    report = run_job(job, progress=False, environ={"SECRET": creds["client_secret"]})
    counted += report.steps[0].counts["deleted in CRM"]
    assert counted == len(ids)
