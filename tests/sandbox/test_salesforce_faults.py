"""Fault injection, call counting, the clock and bad input, seen from real clients."""

import contextlib
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from crmframes import Clock, Sandbox
from tests.clients import access_token, salesforce_client, trusted_session


def test_unavailable_fault_answers_503_with_retry_after(sandbox, sf):
    fault = sandbox.faults.add("unavailable", "/query", times=1, retry_after=3)
    with pytest.raises(SalesforceGeneralError) as info:
        sf.query("SELECT Id FROM User")
    assert info.value.status == 503
    assert info.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert fault.fired == 1
    assert sf.query("SELECT Id FROM User")["totalSize"] >= 1


def test_retry_after_header_is_sent(sandbox):
    session = trusted_session(sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(sandbox, session)}"
    sandbox.faults.add("rate_limited", "sobjects", retry_after=2.5)
    reply = session.get(f"{sandbox.url}/services/data/v59.0/sobjects/", timeout=30)
    assert reply.status_code == 403 and reply.headers["Retry-After"] == "2.5"
    assert reply.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_rate_limited_fault_is_the_refused_request_exception(sandbox, sf):
    sandbox.faults.add("rate_limited", "composite", times=1)
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={"records": [{"attributes": {"type": "Account"}, "Name": "x"}]},
        )
    assert info.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_session_expired_fault_really_ends_the_session(sandbox, sf):
    sandbox.faults.add("session_expired", "/query")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")


def test_every_kth_call_fails(sandbox, sf):
    sandbox.faults.add("internal_error", "/sobjects/Account/describe", every=2)
    sf.Account.describe()
    with pytest.raises(SalesforceError) as info:
        sf.Account.describe()
    assert info.value.status == 500 and info.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    sf.Account.describe()


def test_dropped_connection_before_processing_writes_nothing(empty_sandbox, empty_sf):
    empty_sandbox.faults.add("drop", "^POST .*/sobjects/Account")
    with pytest.raises(requests.ConnectionError):
        empty_sf.Account.create({"Name": "lost"})
    assert empty_sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_dropped_answer_after_processing_leaves_the_write_done(empty_sandbox, empty_sf):
    empty_sandbox.faults.add("drop_after", "^POST .*/composite/sobjects")
    with pytest.raises(requests.ConnectionError):
        empty_sf.restful(
            "composite/sobjects",
            method="POST",
            json={"records": [{"attributes": {"type": "Account"}, "Name": "written"}]},
        )
    assert empty_sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "written"


def test_slow_fault_trips_a_client_timeout(sandbox):
    session = trusted_session(sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(sandbox, session)}"
    sandbox.faults.add("slow", "/limits", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        session.get(f"{sandbox.url}/services/data/v59.0/limits/", timeout=0.5)


def test_lock_row_fails_single_records_inside_a_batch(empty_sandbox, empty_sf):
    empty_sandbox.faults.add("lock_row", "composite/sobjects", times=2)
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(5)]
    result = empty_sf.restful("composite/sobjects", method="POST", json={"records": records})
    codes = [r["errors"][0]["statusCode"] if r["errors"] else None for r in result]
    assert codes == ["UNABLE_TO_LOCK_ROW", "UNABLE_TO_LOCK_ROW", None, None, None]
    assert empty_sf.query("SELECT COUNT() FROM Account")["totalSize"] == 3


def test_api_calls_are_counted_like_salesforce(empty_sandbox, empty_sf):
    empty_sandbox.reset_api_calls()
    empty_sf.describe()
    empty_sf.Account.describe()
    empty_sf.Account.create({"Name": "x"})
    empty_sf.query("SELECT Id FROM Account")
    empty_sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "y"}]},
    )
    trusted_session(empty_sandbox).get(
        f"{empty_sandbox.url}/services/data/", timeout=30
    )  # not counted
    access_token(empty_sandbox, trusted_session(empty_sandbox))  # not counted
    assert empty_sandbox.api_calls() == {"composite": 1, "describe": 2, "query": 1, "sobjects": 1}
    assert empty_sandbox.api_call_count() == 5


def test_the_daily_allocation_runs_out():
    with Sandbox("salesforce", data="empty", daily_api_limit=3) as sb:
        sf = salesforce_client(sb)
        for _ in range(3):
            sf.query("SELECT Id FROM User")
        with pytest.raises(SalesforceRefusedRequest) as info:
            sf.query("SELECT Id FROM User")
        assert info.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]


def test_timestamps_and_the_date_header_follow_the_sandbox_clock():
    start = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    with Sandbox("salesforce", data="empty", clock=Clock(start, frozen=True)) as sb:
        sf = salesforce_client(sb)
        created = sf.Account.create({"Name": "Clockwork"})
        sb.clock.advance(minutes=10)
        sf.Account.update(created["id"], {"Phone": "1"})
        row = sf.Account.get(created["id"])
        assert row["CreatedDate"] == "2026-01-15T09:30:00.000+0000"
        assert row["LastModifiedDate"] == row["SystemModstamp"] == "2026-01-15T09:40:00.000+0000"
        reply = trusted_session(sb).get(f"{sb.url}/services/data/", timeout=30)
        assert reply.headers["Date"] == "Thu, 15 Jan 2026 09:40:00 GMT"


def test_get_deleted_and_get_updated_follow_the_window(sandbox, sf):
    now = sandbox.clock.now()
    victim = sf.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
    sf.Contact.delete(victim)
    changed = sf.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
    sf.Contact.update(changed, {"Title": "Changed"})
    sandbox.clock.advance(minutes=2)  # windows are whole minutes and end at latestDateCovered
    deleted = sf.Contact.deleted(now - timedelta(days=1), now + timedelta(minutes=5))
    assert [d["id"] for d in deleted["deletedRecords"]] == [victim]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    updated = sf.Contact.updated(now - timedelta(days=1), now + timedelta(minutes=5))
    assert changed in updated["ids"]


def test_get_deleted_refuses_a_window_past_the_recycle_bin(demo_sf):
    now = datetime.now(UTC)
    with pytest.raises(SalesforceError) as info:
        demo_sf.Contact.deleted(now - timedelta(days=20), now)
    assert info.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceError):
        demo_sf.Contact.deleted(now, now - timedelta(hours=1))


def test_the_recycle_bin_forgets_after_15_days(sandbox, sf):
    victim = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    sf.Lead.delete(victim)
    sandbox.clock.advance(days=16)
    sf = salesforce_client(sandbox)
    assert (
        sf.query_all(f"SELECT Id FROM Lead WHERE Id = '{victim}'", include_deleted=True)[
            "totalSize"
        ]
        == 0
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/services/data/v59.0/sobjects/Account/", b"{not json", 400),
        ("POST", "/services/data/v59.0/sobjects/Account/", b"[1, 2]", 400),
        ("POST", "/services/data/v59.0/composite/sobjects", b'{"records": "nope"}', 400),
        ("PATCH", "/services/data/v59.0/sobjects/Account/001Rs0000000001", b"\xff\xfe", 400),
        ("GET", "/services/data/v59.0/nothing/here", b"", 404),
        ("GET", "/services/data/v9.0/sobjects/", b"", 404),
        ("PUT", "/services/data/v59.0/sobjects/", b"", 405),
        ("GET", "/services/data/v59.0/query/?q=" + "x" * 20, b"", 400),
        (
            "GET",
            "/services/data/v59.0/sobjects/Account/deleted/?start=yesterday&end=today",
            b"",
            400,
        ),
    ],
)
def test_bad_input_gets_a_json_error_never_a_traceback(demo_sandbox, method, path, body, status):
    session = trusted_session(demo_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(demo_sandbox, session)}"
    reply = session.request(
        method,
        demo_sandbox.url + path,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == status
    payload = reply.json()
    assert isinstance(payload, list) and payload[0]["errorCode"] and payload[0]["message"]
    assert "Traceback" not in reply.text


def test_garbage_on_the_socket_gets_an_answer_and_no_hang(demo_sandbox):
    context = ssl.create_default_context(cafile=demo_sandbox.ca_file)
    port = int(demo_sandbox.url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        answer = tls.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
    # and the server still serves
    assert (
        trusted_session(demo_sandbox)
        .get(f"{demo_sandbox.url}/services/data/", timeout=30)
        .status_code
        == 200
    )


def test_a_plain_http_client_does_not_hang_the_server(demo_sandbox):
    port = int(demo_sandbox.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(5)
        with contextlib.suppress(ConnectionError, TimeoutError):
            raw.recv(100)
    started = time.monotonic()
    assert trusted_session(demo_sandbox).get(f"{demo_sandbox.url}/services/data/", timeout=30).ok
    assert time.monotonic() - started < 5
