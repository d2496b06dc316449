"""The sandbox's production profile: service limits as the CRMs enforce them, local unchanged."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from crmframes import Sandbox, export_to_crm
from crmframes.cli import main
from crmframes.sandbox import Profile, production_profile
from crmframes.sandbox.server import Request, Response
from tests.clients import access_token, dynamics_session, trusted_session

CONTACTS = "/api/data/v9.2/contacts?$select=lastname&$top=1"


def _dataverse(**figures: Any) -> Iterator[tuple[Sandbox, requests.Session]]:
    profile = production_profile("dynamics", round_trip=0.0, **figures)
    with Sandbox("dynamics", data="empty", profile=profile) as sb:
        yield sb, dynamics_session(sb)


def _salesforce_session(sb: Sandbox) -> requests.Session:
    session = trusted_session(sb)
    session.headers["Authorization"] = f"Bearer {access_token(sb, session)}"
    return session


def _parallel(sessions: list[requests.Session], url: str) -> list[requests.Response]:
    """Send one GET per session at the same moment (connections opened beforehand)."""
    start = threading.Barrier(len(sessions))
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def send(session: requests.Session) -> None:
        start.wait()
        reply = session.get(url, timeout=60)
        with lock:
            answers.append(reply)

    threads = [threading.Thread(target=send, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _code(reply: requests.Response) -> str:
    return str(reply.json()["error"]["code"])


# --- local stays as it was -------------------------------------------------------------------


def test_local_profile_is_the_default_and_answers_without_limits() -> None:
    with Sandbox("dynamics", data="empty") as sb:
        assert sb.profile is None
        session = dynamics_session(sb)
        replies = [session.get(sb.url + CONTACTS, timeout=30) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 200]
        assert all("x-ms-dop-hint" not in r.headers for r in replies)
        assert "profile" not in repr(sb)
        assert sb.throttles() == {}


def test_profile_arguments_are_checked_first() -> None:
    with pytest.raises(ValueError, match="profile must be"):
        Sandbox("dynamics", profile="staging")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed= applies to the production profile"):
        Sandbox("dynamics", speed=10)
    with pytest.raises(ValueError, match="speed must be a positive number"):
        Sandbox("dynamics", profile="production", speed=0)
    with pytest.raises(ValueError, match=r"unknown profile figure\(s\) \['latency'\]"):
        production_profile("dynamics", latency=0.1)


# --- modelled time ---------------------------------------------------------------------------


def test_modelled_times_are_divided_by_speed() -> None:
    real = production_profile("salesforce")
    fast = production_profile("salesforce", speed=50)
    assert real.bulk_seconds("ingest", 100_000) == pytest.approx(
        (real.bulk_queue, real.bulk_ingest_row * 100_000)
    )
    assert fast.bulk_seconds("ingest", 100_000) == pytest.approx(
        tuple(seconds / 50 for seconds in real.bulk_seconds("ingest", 100_000))
    )
    # The model itself is in a real org's seconds whatever the speed: ratios keep their shape.
    dataverse = production_profile("dynamics", speed=50)
    assert dataverse.call_seconds({"create": 1000}) == pytest.approx(0.061 + 0.093 + 1000 * 0.028)


def _request(method: str, target: str, body: bytes = b"", **headers: str) -> Request:
    split = urlsplit(target)
    message = Message()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return Request(method, target, split.path, parse_qs(split.query), message, body)


def test_salesforce_app_reports_the_records_a_call_touched() -> None:
    v = "/services/data/v59.0"
    records = orjson.dumps({"records": [{"LastName": "A"}] * 3})
    page = Response.json(200, {"totalSize": 7, "done": True, "records": [{}] * 7})
    zipped = Response(200, gzip.compress(page.body), {"Content-Encoding": "gzip"})
    with Sandbox("salesforce", data="empty") as sb:
        app = sb._app  # the CRM app the profile asks
        assert app.work(_request("GET", f"{v}/query?q=x"), page) == {"query": 7}
        assert app.work(_request("GET", f"{v}/query/01gX-2000"), zipped) == {"query": 7}
        ok = Response.json(200, [])
        assert app.work(_request("POST", f"{v}/composite/sobjects", records), ok) == {"create": 3}
        assert app.work(_request("PATCH", f"{v}/composite/sobjects", records), ok) == {"update": 3}
        upsert = _request("PATCH", f"{v}/composite/sobjects/Contact/Ext__c", records)
        assert app.work(upsert, ok) == {"upsert": 3}
        delete = _request("DELETE", f"{v}/composite/sobjects?ids=a,b")
        assert app.work(delete, ok) == {"delete": 2}
        assert app.work(_request("PATCH", f"{v}/sobjects/Contact/003x"), ok) == {"update": 1}
        assert app.work(_request("GET", f"{v}/limits"), ok) == {}
        assert app.limited(_request("POST", "/services/oauth2/token")) is False
        assert app.limited(_request("POST", "/services/Soap/u/59.0")) is False  # a login
        assert app.limited(_request("POST", "/services/Soap/u/59.0/00D000000000001")) is True


def test_dataverse_app_reports_the_records_a_call_touched() -> None:
    api = "/api/data/v9.2"
    targets = orjson.dumps({"Targets": [{"lastname": "A"}] * 5})
    batch = (
        b"--batch_1\r\nContent-Type: application/http\r\n\r\n"
        b"POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}\r\n"
        b"--batch_1\r\nContent-Type: application/http\r\n\r\n"
        b"POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}\r\n"
        b"--batch_1\r\nContent-Type: application/http\r\n\r\n"
        b"PATCH /api/data/v9.2/contacts(1) HTTP/1.1\r\nIf-Match: *\r\n\r\n{}\r\n--batch_1--\r\n"
    )
    ok = Response.json(200, {"value": [{}] * 4})
    with Sandbox("dynamics", data="empty") as sb:
        app = sb._app
        create = _request("POST", f"{api}/contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets)
        assert app.work(create, ok) == {"create": 5}
        assert app.work(_request("POST", f"{api}/$batch", batch), ok) == {"create": 2, "update": 1}
        assert app.work(_request("GET", f"{api}/contacts"), ok) == {"query": 4}
        assert app.work(_request("PATCH", f"{api}/contacts(1)"), ok) == {"upsert": 1}
        assert app.work(_request("PATCH", f"{api}/contacts(1)", If_Match="*"), ok) == {"update": 1}
        assert app.work(_request("DELETE", f"{api}/contacts(1)"), ok) == {"delete": 1}
        assert app.limited(_request("POST", "/tenant/oauth2/v2.0/token")) is False


# --- Dataverse service protection ------------------------------------------------------------


def test_production_dataverse_answers_carry_the_dop_hint() -> None:
    for sb, session in _dataverse(speed=1000, dop_hint=6):
        ok = session.get(sb.url + CONTACTS, timeout=30)
        missing = session.get(sb.url + "/api/data/v9.2/nosuchset", timeout=30)
        assert (ok.status_code, ok.headers["x-ms-dop-hint"]) == (200, "6")
        assert (missing.status_code, missing.headers["x-ms-dop-hint"]) == (404, "6")


def test_dataverse_refuses_requests_beyond_the_concurrent_limit() -> None:
    # Each request holds the server 1 s (10 modelled s at speed 10): four sent at once
    # against a limit of two, so two are served and two answered 429 0x80072326 at once.
    for sb, _ in _dataverse(speed=10, request_overhead=10.0, concurrent_limit=2):
        sessions = [dynamics_session(sb) for _ in range(4)]
        for warm in sessions:  # open the connections before the burst
            assert warm.get(sb.url + "/api/data/v9.2/", timeout=30).status_code == 200
        replies = _parallel(sessions, sb.url + CONTACTS)
        refused = [r for r in replies if r.status_code == 429]
        assert sorted(r.status_code for r in replies) == [200, 200, 429, 429]
        assert {_code(r) for r in refused} == {"0x80072326"}
        assert "limit of 2." in refused[0].json()["error"]["message"]
        assert all(r.headers["Retry-After"] == "1" for r in refused)


@pytest.mark.parametrize(("speed", "retry_after"), [(100, "3"), (50, "6")])
def test_dataverse_request_limit_answers_429_with_retry_after_in_compressed_time(
    speed: int, retry_after: str
) -> None:
    for sb, session in _dataverse(speed=speed, request_limit=3, window=300.0):
        served = [session.get(sb.url + CONTACTS, timeout=30).status_code for _ in range(3)]
        refused = session.get(sb.url + CONTACTS, timeout=30)
        assert served == [200, 200, 200]
        assert (refused.status_code, _code(refused)) == (429, "0x80072322")
        assert "limit of 3 over time window of 300 seconds" in refused.json()["error"]["message"]
        # 300 modelled seconds minus what the four calls took, divided by speed, rounded up
        assert refused.headers["Retry-After"] == retry_after


def test_dataverse_execution_time_limit_answers_429_0x80072321() -> None:
    for sb, session in _dataverse(speed=1000, request_overhead=1.0, execution_limit=2.0):
        served = [session.get(sb.url + CONTACTS, timeout=30).status_code for _ in range(2)]
        refused = session.get(sb.url + CONTACTS, timeout=30)
        assert served == [200, 200]
        assert (refused.status_code, _code(refused)) == (429, "0x80072321")
        assert "2,000 milliseconds" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1


def test_dataverse_limits_can_be_switched_off() -> None:
    for sb, session in _dataverse(
        speed=1000, request_limit=None, execution_limit=None, dop_hint=None
    ):
        replies = [session.get(sb.url + CONTACTS, timeout=30) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 200]
        assert "x-ms-dop-hint" not in replies[0].headers


def test_crmframes_export_waits_out_the_request_limit_and_loses_no_row() -> None:
    # CreateMultiple calls in flight together (3,000 rows cut to fill the x-ms-dop-hint) and
    # the describe calls, with 3 requests allowed per window: the connector is refused
    # 0x80072322, waits the Retry-After (3 s at speed 100) and goes on; every row lands once.
    profile = production_profile("dynamics", speed=100, request_limit=3)
    with Sandbox("dynamics", data="empty", profile=profile) as sb:
        frame = pd.DataFrame({"lastname": [f"Limit {i}" for i in range(3000)]})
        result = export_to_crm(sb.connector(), "contact", frame, progress=False)
        stored = sb.records("contact")
        refused = sb.throttles()["0x80072322"]
        assert refused >= 1 and 1 <= result.stats.throttles <= refused
    assert len(result.rejects) == 0
    assert sorted(stored["lastname"]) == sorted(frame["lastname"])


# --- Salesforce ------------------------------------------------------------------------------


def test_salesforce_refuses_new_requests_while_long_running_ones_fill_the_limit() -> None:
    # A query of 1,000 rows at 0.3 s a row runs 300 modelled s (3 s at speed 100): past the
    # 20 s mark it is long-running, and with a limit of one every new call is refused.
    profile = production_profile(
        "salesforce", speed=100, round_trip=0.0, query_row=0.3, long_running_limit=1
    )
    with Sandbox("salesforce", data="demo", profile=profile) as sb:
        session, probe = _salesforce_session(sb), _salesforce_session(sb)
        api = f"{sb.url}/services/data/v59.0"
        assert probe.get(f"{api}/limits", timeout=30).status_code == 200
        slow: list[requests.Response] = []
        worker = threading.Thread(
            target=lambda: slow.append(
                session.get(
                    f"{api}/query", params={"q": "SELECT Id FROM Contact LIMIT 1000"}, timeout=60
                )
            )
        )
        worker.start()
        refused = None
        while worker.is_alive() and refused is None:
            reply = probe.get(f"{api}/limits", timeout=30)
            if reply.status_code == 403:
                refused = reply
            time.sleep(0.05)
        worker.join()
        assert refused is not None, "no call was refused while the long query ran"
        assert refused.json() == [
            {
                "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ]
        assert slow[0].status_code == 200 and len(slow[0].json()["records"]) == 1000
        assert probe.get(f"{api}/limits", timeout=30).status_code == 200  # freed again


def _bulk_job(session: requests.Session, api: str, csv: str) -> str:
    job = session.post(
        f"{api}/jobs/ingest", json={"object": "Contact", "operation": "insert"}, timeout=30
    ).json()["id"]
    upload = session.put(
        f"{api}/jobs/ingest/{job}/batches",
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert upload.status_code == 201
    session.patch(f"{api}/jobs/ingest/{job}", json={"state": "UploadComplete"}, timeout=30)
    return str(job)


def _until_done(session: requests.Session, url: str) -> tuple[list[str], dict[str, Any]]:
    states: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = session.get(url, timeout=30).json()
        if not states or states[-1] != info["state"]:
            states.append(info["state"])
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return states, info
        time.sleep(0.02)
    raise AssertionError(f"the job stayed {states[-1]}")


def test_bulk_jobs_wait_queued_then_process_at_the_profile_pace() -> None:
    # 100 modelled s in the queue and 100 rows at 1 s each: 1 s + 1 s at speed 100.
    profile = production_profile(
        "salesforce", speed=100, bulk_queue=100.0, bulk_ingest_row=1.0, round_trip=0.0
    )
    with Sandbox("salesforce", data="empty", profile=profile) as sb:
        session = _salesforce_session(sb)
        api = f"{sb.url}/services/data/v59.0"
        rows = "".join(f"P{i}\n" for i in range(100))
        job = _bulk_job(session, api, "LastName\n" + rows)
        states, info = _until_done(session, f"{api}/jobs/ingest/{job}")
    assert states == ["UploadComplete", "InProgress", "JobComplete"]
    assert info["numberRecordsProcessed"] == 100


def test_bulk_daily_record_limit_fails_the_job_and_keeps_the_rest_unprocessed() -> None:
    profile = production_profile("salesforce", speed=1000, bulk_daily_records=3)
    with Sandbox("salesforce", data="empty", profile=profile) as sb:
        session = _salesforce_session(sb)
        api = f"{sb.url}/services/data/v59.0"
        job = _bulk_job(session, api, "LastName\nA\nB\nC\nD\nE\n")
        _, info = _until_done(session, f"{api}/jobs/ingest/{job}")
        unprocessed = session.get(f"{api}/jobs/ingest/{job}/unprocessedrecords", timeout=30)
    assert (info["state"], info["numberRecordsProcessed"]) == ("Failed", 3)
    assert "150,000,000" not in info["errorMessage"] and "3 records" in info["errorMessage"]
    assert unprocessed.text.splitlines()[1:] == ['"D"', '"E"']


def test_cli_serve_offers_the_profile_and_speed() -> None:
    result = CliRunner().invoke(main, ["sandbox", "serve", "--help"])
    assert result.exit_code == 0
    assert "--profile [local|production]" in result.output and "--speed" in result.output
    refused = CliRunner().invoke(main, ["sandbox", "serve", "--speed", "10"])
    assert refused.exit_code == 2 and "--speed applies to --profile production" in refused.output


def test_profile_is_a_frozen_value() -> None:
    profile = production_profile("dynamics")
    assert isinstance(profile, Profile) and profile.concurrent_limit == 52
    with pytest.raises(AttributeError):
        profile.speed = 2  # type: ignore[misc]
