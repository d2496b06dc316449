"""A job step's error processing: rejects appended to a store table, retries on a schedule.

Against both sandboxes, with the sandbox's fault injection; the waits between attempts go
through the ``sleep`` handed to ``run_job``, so nothing here waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from crmframes import CampaignStore, Sandbox
from crmframes.cli import main
from crmframes.connectors.dynamics import wire
from crmframes.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from crmframes.runner import run_job
from crmframes.runner.handling import attempt, for_now_symbols, transient_rejects
from crmframes.runner.report import Attempt, StepReport
from crmframes.schema import ObjectSchema
from crmframes.specs import ExportSpec, ImportSpec, Job
from tests.test_runner import CRMS, crm_account

SECRET_ENV = "JOBS_ERRORS_SECRET"
# The records endpoint of each CRM's query (not describe, not the token).
QUERIES = {"salesforce": r"GET \S*/query", "dynamics": r"GET \S*/contacts(\?|$)"}


@pytest.fixture(params=list(CRMS))
def crm(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    with Sandbox(request.param, data="demo", scale=0.02) as sb:
        yield {"crm": request.param, "sb": sb} | CRMS[request.param]


def job(crm: dict[str, Any], store: Path, steps: list[dict[str, Any]]) -> Job:
    return Job.from_dict(
        {"name": "errors", "account": crm_account(crm["sb"]), "store": str(store), "steps": steps}
    )


def run(crm: dict[str, Any], the_job: Job, sleep: Any = None) -> Any:
    environ = {"SANDBOX_SECRET": crm["sb"].credentials["client_secret"]}
    waits: list[float] = []
    report = run_job(the_job, progress=False, environ=environ, sleep=sleep or waits.append)
    return report, waits


# --- rejects --------------------------------------------------------------------------------


def newcomers(crm: dict[str, Any], tmp_path: Path, extra: bool = False) -> list[dict[str, Any]]:
    """Merge three people from a file and insert them; the 300-character name is rejected."""
    people = tmp_path / "people.csv"
    rows = ["email,last" + (",city" if extra else "")]
    for email, last in (("a@x.test", "Ann"), ("b@x.test", "x" * 300), ("c@x.test", "Bob")):
        rows.append(f"{email},{last}" + (",Paris" if extra else ""))
    people.write_text("\n".join(rows) + "\n")
    return [
        {"merge": {"table": "people", "source": {"file": str(people)}, "key": "email"}},
        {
            "export": {
                "object": crm["object"],
                "source": "people",
                "mapping": {"last": crm["last"]},
                "journal": False,
                "rejects": {"table": "contact_rejects"},
            }
        },
    ]


def test_rejects_are_appended_to_a_store_table_with_the_run(crm, tmp_path):
    store = tmp_path / "campaign.duckdb"
    first, _ = run(crm, job(crm, store, newcomers(crm, tmp_path)))
    assert first.ok, first.error
    assert first.steps[1].counts == {"rows": 3, "created": 2}
    assert first.steps[1].rejects == {"STRING_TOO_LONG": 1}
    assert first.steps[1].notes == ["1 rejects appended to contact_rejects"]
    second, _ = run(crm, job(crm, store, newcomers(crm, tmp_path, extra=True)))
    assert second.ok, second.error
    with CampaignStore(store) as campaign:
        rejects = campaign.read("contact_rejects", order_by=["crmRunAt", "crmRunId"])
    assert len(rejects) == 2
    by_run = rejects.set_index("crmRunId")
    for report in (first, second):
        row = by_run.loc[report.run_id]
        assert row["crmRunAt"] == pd.Timestamp(report.run_at)
        assert (row["crmStep"], row["crmRejectNo"]) == (2, 1)
        assert (row["errorSymbol"], row["errorFields"]) == ("STRING_TOO_LONG", crm["last"])
        assert (row["email"], row["last"], row["inputIndex"]) == ("b@x.test", "x" * 300, 1)
    assert by_run.loc[first.run_id, "city"] is None or pd.isna(by_run.loc[first.run_id, "city"])
    assert by_run.loc[second.run_id, "city"] == "Paris"  # a new column, added
    assert str(rejects["crmRunAt"].dtype).startswith("datetime64") and rejects["crmRunAt"].dt.tz


def test_a_rejects_table_exists_after_a_step_without_rejects(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("email,last\na@x.test,Ann\n")
    store = tmp_path / "campaign.duckdb"
    steps = [
        {"merge": {"table": "people", "source": {"file": str(people)}, "key": "email"}},
        {
            "export": {
                "object": "Contact",
                "source": "people",
                "mapping": {"last": "LastName"},
                "journal": False,
                "rejects": "contact_rejects",
            }
        },
        {"merge": {"table": "to_fix", "source": "contact_rejects", "key": "email"}},
    ]
    account = {"sandbox": {"crm": "salesforce", "data": "empty"}}
    report = run_job(
        Job.from_dict({"name": "j", "account": account, "store": str(store), "steps": steps}),
        progress=False,
    )
    assert report.ok, report.error
    assert report.steps[1].notes == ["0 rejects appended to contact_rejects"]
    assert report.steps[2].counts == {"rows": 0}
    with CampaignStore(store) as campaign:
        empty = campaign.read("contact_rejects")
    assert len(empty) == 0
    assert {"crmRunId", "crmRunAt", "errorSymbol", "email", "last"} <= set(empty.columns)


def test_a_dry_run_appends_no_rejects(crm, tmp_path):
    store = tmp_path / "campaign.duckdb"
    assert run(crm, job(crm, store, newcomers(crm, tmp_path)))[0].ok
    before = store.read_bytes()
    environ = {"SANDBOX_SECRET": crm["sb"].credentials["client_secret"]}
    the_job = job(crm, store, newcomers(crm, tmp_path))
    report = run_job(the_job, dry_run=True, progress=False, environ=environ)
    assert report.ok, report.error
    assert report.steps[1].rejects == {"STRING_TOO_LONG": 1}
    assert store.read_bytes() == before


# --- retries --------------------------------------------------------------------------------


def importing(crm: dict[str, Any], retry: dict[str, Any] | None) -> list[dict[str, Any]]:
    step = {"object": crm["object"], "fields": [crm["last"]], "table": "contacts"}
    return [{"import": step | ({"retry": retry} if retry else {})}]


@pytest.mark.parametrize("kind", ["unavailable", "rate_limited"])
def test_a_step_is_retried_after_an_outage_or_a_limit(crm, tmp_path, kind):
    sb = crm["sb"]
    # Six failures use up the connector's own quick retries: the step fails once.
    fault = sb.faults.add(kind, QUERIES[crm["crm"]], times=6, retry_after=0.01)
    the_job = job(crm, tmp_path / "s.duckdb", importing(crm, {"times": 3, "wait": "5m"}))
    report, waits = run(crm, the_job)
    assert report.ok, report.error
    assert fault.fired == 6 and waits == [300.0]
    step = report.steps[0]
    assert step.status == "ok" and step.counts["imported"] > 0
    ((failed,),) = [step.attempts]
    assert failed.number == 1 and failed.wait == 300.0 and failed.reason is None
    assert failed.error.startswith(f"{crm['crm']} query")
    shown = " ".join(str(report).split())  # the text report wraps long lines at 80 columns
    assert f"step 1: attempt 1 failed: {failed.error}; waited 5m, retried" in shown
    assert report.to_dict()["steps"][0]["attempts"] == [
        {"number": 1, "error": failed.error, "wait": 300.0, "reason": None}
    ]


def test_a_step_that_keeps_failing_stops_after_its_retries_and_exits_1(crm, tmp_path):
    sb = crm["sb"]
    sb.faults.add("unavailable", QUERIES[crm["crm"]], times=10_000, retry_after=0.01)
    the_job = job(crm, tmp_path / "s.duckdb", importing(crm, {"times": 2, "wait": "30s"}))
    report, waits = run(crm, the_job)
    assert not report.ok and report.steps[0].status == "failed"
    assert waits == [30.0, 30.0]
    assert [(a.number, a.wait, a.reason) for a in report.steps[0].attempts] == [
        (1, 30.0, None),
        (2, 30.0, None),
        (3, None, "2 retries done"),
    ]
    shown = " ".join(str(report).split())
    assert "step 1: attempt 3 failed: " in shown and "not retried (2 retries done)" in shown


def test_a_step_without_retry_fails_at_once(crm, tmp_path):
    crm["sb"].faults.add("unavailable", QUERIES[crm["crm"]], times=6, retry_after=0.01)
    report, waits = run(crm, job(crm, tmp_path / "s.duckdb", importing(crm, None)))
    assert not report.ok and waits == [] and report.steps[0].attempts == []


def test_an_error_that_would_come_back_is_not_retried(crm, tmp_path):
    steps = [{"import": {"object": "nothing_here", "retry": {"times": 3}}}]
    the_job = job(crm, tmp_path / "s.duckdb", steps)
    report, waits = run(crm, the_job)
    assert not report.ok and waits == []
    ((failed,),) = [report.steps[0].attempts]
    assert failed.number == 1 and failed.wait is None
    assert failed.reason == "NotFoundError would fail again"

    path = tmp_path / "job.yaml"
    path.write_text(the_job.to_yaml())
    cli = CliRunner(env={"SANDBOX_SECRET": crm["sb"].credentials["client_secret"]})
    result = cli.invoke(main, ["run", str(path), "--no-progress"])  # time.sleep: not reached
    assert result.exit_code == 1, result.output
    shown = " ".join(result.stdout.split())
    assert "step 1: attempt 1 failed: " in shown
    assert "not retried (NotFoundError would fail again)" in shown


# The write calls of each CRM's export (sObject Collections; CreateMultiple, UpdateMultiple, $batch).
WRITES = {
    "salesforce": r"composite/sobjects",
    "dynamics": r"\$batch|Microsoft\.Dynamics\.CRM\.\w+Multiple",
}


def exporting(crm: dict[str, Any], tmp_path: Path, retry: dict[str, Any]) -> list[dict[str, Any]]:
    steps = newcomers(crm, tmp_path)
    steps[1]["export"] |= {"retry": retry, "max_retries": 0}  # no rounds inside the export
    return steps


def test_an_export_sends_the_rows_rejected_during_an_outage_again(crm, tmp_path):
    sb = crm["sb"]
    names = lambda: sb.records(crm["object"])[crm["last"]].tolist()  # noqa: E731
    before = names()
    # The connector's six tries of the one write call fail: its two rows come back as
    # SERVER_UNAVAILABLE / HTTP 503 rejects; the 300-character name is rejected before.
    fault = sb.faults.add("unavailable", WRITES[crm["crm"]], times=6, retry_after=0.01)
    report, waits = run(
        crm, job(crm, tmp_path / "s.duckdb", exporting(crm, tmp_path, {"times": 2, "wait": "1m"}))
    )
    assert report.ok, report.error
    assert fault.fired == 6 and waits == [60.0]
    step = report.steps[1]
    assert step.counts == {"rows": 3, "created": 2}
    assert step.rejects == {"STRING_TOO_LONG": 1}
    ((first,),) = [step.attempts]
    assert first.number == 1 and first.wait == 60.0 and first.reason is None
    assert first.error.startswith("2 rows rejected for now: ") and "(HTTP 503)" in first.error
    after = names()
    assert len(after) == len(before) + 2  # each row in the CRM once
    assert [after.count(n) - before.count(n) for n in ("Ann", "Bob")] == [1, 1]
    with CampaignStore(tmp_path / "s.duckdb") as campaign:
        kept = campaign.read("contact_rejects")
    assert kept[["errorSymbol", "inputIndex"]].astype("str").to_dict("list") == {
        "errorSymbol": ["STRING_TOO_LONG"],
        "inputIndex": ["1"],
    }


def test_rows_still_rejected_after_the_last_retry_stay_rejects(crm, tmp_path):
    sb = crm["sb"]
    sb.faults.add("rate_limited", WRITES[crm["crm"]], times=10_000, retry_after=0.01)
    steps = exporting(crm, tmp_path, {"times": 2, "wait": "10s"})
    report, waits = run(crm, job(crm, tmp_path / "s.duckdb", steps))
    assert report.ok, report.error  # an export with rejects is not a failed step
    step = report.steps[1]
    assert waits == [10.0, 10.0]
    assert [(a.number, a.wait, a.reason) for a in step.attempts] == [
        (1, 10.0, None),
        (2, 10.0, None),
        (3, None, "2 retries done"),
    ]
    assert step.counts == {"rows": 3} and step.rejected == 3
    with CampaignStore(tmp_path / "s.duckdb") as campaign:
        kept = campaign.read("contact_rejects", order_by="inputIndex")
    assert kept["inputIndex"].tolist() == [0, 1, 2]  # positions in the step's input


def test_a_delete_sends_the_rows_rejected_during_an_outage_again(crm, tmp_path):
    sb = crm["sb"]
    fault = sb.faults.add("unavailable", WRITES[crm["crm"]], times=6, retry_after=0.01)
    steps = [
        {"import": {"object": crm["object"], "fields": [crm["last"]], "table": "c"}},
        {
            "delete": {
                "object": crm["object"],
                "source": {"query": f"SELECT {crm['id']} FROM c ORDER BY 1 LIMIT 3"},
                "journal": False,
                "max_retries": 0,
                "retry": {"times": 1, "wait": "2m"},
            }
        },
    ]
    before = len(sb.records(crm["object"]))
    report, waits = run(crm, job(crm, tmp_path / "s.duckdb", steps))
    assert report.ok, report.error
    assert fault.fired == 6 and waits == [120.0]
    assert report.steps[1].counts == {"rows": 3, "deleted": 3}
    assert report.steps[1].rejects == {}
    assert len(sb.records(crm["object"])) == before - 3


# --- attempt(), the schedule itself ---------------------------------------------------------


def failing(*errors: Exception) -> Any:
    left = list(errors)

    def run_once() -> None:
        if left:
            raise left.pop(0)

    return run_once


def unavailable(**options: Any) -> UnavailableError:
    return UnavailableError("down", system="dynamics", operation="write", **options)


def test_a_longer_retry_after_than_the_wait_is_honoured():
    waits: list[float] = []
    step = StepReport(index=1, kind="import", label="x")
    spec = ImportSpec(object="contact", retry={"times": 2, "wait": "1m"})
    limited = RateLimitedError("limit", system="salesforce", operation="q", retry_after=600)
    attempt(failing(limited), spec, step, sleep=waits.append, say=lambda _: None)
    assert waits == [600.0]
    assert step.attempts == [Attempt(number=1, error=str(limited), wait=600.0)]


@pytest.mark.parametrize(
    "error", [DataError("bad frame"), ConfigError("bad setting")], ids=["data", "config"]
)
def test_bad_data_or_settings_are_never_retried(error):
    waits: list[float] = []
    step = StepReport(index=1, kind="import", label="x")
    spec = ImportSpec(object="contact", retry={"times": 2, "wait": "1m"})
    with pytest.raises(type(error)):
        attempt(failing(error), spec, step, sleep=waits.append, say=lambda _: None)
    assert waits == [] and step.attempts == []


def test_a_lost_write_without_a_journal_is_not_retried():
    spec = ExportSpec(object="contact", source="t", journal=False, retry={"times": 2, "wait": "1m"})
    step = StepReport(index=1, kind="export", label="x")
    lost = unavailable(retryable=False, outcome_unknown=True)
    with pytest.raises(UnavailableError):
        attempt(failing(lost), spec, step, sleep=lambda _: None, say=lambda _: None)
    assert step.attempts[0].reason == (
        "the call's outcome is unknown and the step has no journal to settle it"
    )
    journaled = ExportSpec(object="contact", source="t", retry={"times": 2, "wait": "1m"})
    step = StepReport(index=1, kind="export", label="x")
    attempt(failing(lost), journaled, step, sleep=lambda _: None, say=lambda _: None)
    assert [a.wait for a in step.attempts] == [60.0]  # the journal settles the lost call


def test_not_found_is_not_retried_even_with_retries_left():
    spec = ImportSpec(object="contact", retry={"times": 5})
    step = StepReport(index=1, kind="import", label="x")
    gone = NotFoundError("no such object", system="dynamics", operation="describe")
    with pytest.raises(NotFoundError):
        attempt(failing(gone), spec, step, sleep=lambda _: None, say=lambda _: None)
    assert step.attempts == [
        Attempt(number=1, error=str(gone), reason="NotFoundError would fail again")
    ]


def test_run_step_appends_each_runs_rejects_under_its_own_run_id(tmp_path):
    from crmframes.runner import run_step

    with Sandbox("dynamics", data="empty") as sb, CampaignStore(tmp_path / "s.duckdb") as store:
        store.merge(
            "people", pd.DataFrame({"email": ["a@x.test"], "last": ["x" * 60]}), key="email"
        )
        spec = ExportSpec(
            object="contact",
            source="people",
            mapping={"last": "lastname"},
            journal=False,
            rejects="contact_rejects",
        )
        ids = {run_step(spec, sb.connector(), store=store)[0].run_id for _ in range(2)}
        rejects = store.read("contact_rejects")
    assert len(ids) == 2 and set(rejects["crmRunId"]) == ids
    assert rejects["errorSymbol"].tolist() == ["STRING_TOO_LONG"] * 2


def test_an_exports_own_retry_rounds_wait_through_the_runs_sleep(crm, tmp_path):
    # the rows stay locked: one round of the export's own retries, waited through run_job's
    # sleep (not time.sleep), then rejects
    crm["sb"].faults.add("lock_row", crm["object"], times=10_000)
    steps = newcomers(crm, tmp_path)
    steps[1]["export"] |= {"max_retries": 1}
    report, waits = run(crm, job(crm, tmp_path / "s.duckdb", steps))
    assert report.ok, report.error
    assert len(waits) == 1 and 0 < waits[0] <= 30
    assert report.steps[1].rejected == 3  # two locked rows and the 300-character name


# --- which rejects failed for now: any CRM's symbols, and each CRM's own --------------------


def throttled_batch_part() -> dict[str, str]:
    """The reject of a ``$batch`` part Dataverse answered 429 ("a batch part can itself be 429")."""
    body = (
        b'{"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit'
        b' of 6000 over time window of 300 seconds."}}'
    )
    outcome = wire.outcome(
        ObjectSchema("contact", {}, "contactid"),
        "insert",
        wire.BatchRequest(0, "POST", "contacts"),
        wire.BatchAnswer(429, Message(), body),
    )
    return {"errorSymbol": outcome.error_symbol, "errorCode": outcome.error_code}


def test_a_dataverse_throttled_batch_part_is_rejected_for_now():
    duplicate = {"errorSymbol": "DuplicateRecord", "errorCode": "0x80040237"}
    rejects = pd.DataFrame([throttled_batch_part(), duplicate])
    assert rejects.to_dict("list") == {
        "errorSymbol": ["ThrottlingBurstRequestLimitExceededError", "DuplicateRecord"],
        "errorCode": ["0x80072322", "0x80040237"],
    }
    assert transient_rejects(rejects, symbols=for_now_symbols("dynamics")).tolist() == [True, False]
    assert not transient_rejects(rejects, symbols=for_now_symbols("salesforce")).any()


def test_salesforce_rejects_for_now_are_its_outage_and_its_api_limits():
    rejects = pd.DataFrame(
        {
            "errorSymbol": ["SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "CONNECTION_LOST",
                            "UnavailableError", "UNABLE_TO_LOCK_ROW", "STRING_TOO_LONG"],
            "errorCode": ["503", "403", "", "", "", "400"],
        }
    )  # fmt: skip
    found = transient_rejects(rejects, symbols=for_now_symbols("salesforce"))
    assert found.tolist() == [True, True, True, True, False, False]
    assert for_now_symbols("a crm nobody registered") == {
        "CONNECTION_LOST",
        "UnavailableError",
        "RateLimitedError",
    }
