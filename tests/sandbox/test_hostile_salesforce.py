"""Hostile input against the Salesforce sandbox: framing, sizes, nesting, encodings, slow clients.

Every answer must be Salesforce's own (status, ``[{"errorCode", "message"}]``), never a 500,
a hang or a body read without bound.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message

import orjson
import pytest
import requests

from crmframes import Sandbox
from crmframes.sandbox.clock import Clock
from crmframes.sandbox.faults import Faults
from crmframes.sandbox.salesforce.auth import Sessions
from crmframes.sandbox.salesforce.bulk import MAX_JOB_BASE64_BYTES, BulkApi
from crmframes.sandbox.salesforce.org import OrgSettings, SalesforceOrg
from crmframes.sandbox.salesforce.rest import RestApi
from crmframes.sandbox.server import HttpError, Request
from tests.clients import access_token, trusted_session
from tests.sandbox.hostile import (
    BAD_REQUEST_LINES,
    FRAMING_CASES,
    Answer,
    connect,
    exchange,
    read_answer,
)

ACCOUNTS = "/services/data/v59.0/sobjects/Account/"
# Nine levels of ten entities each: 10^9 "a"s if expanded (expat refuses the amplification).
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a0 "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b"]><l>&a9;</l>"
)


@pytest.fixture(scope="module")
def api(demo_sandbox: Sandbox) -> requests.Session:
    session = trusted_session(demo_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(demo_sandbox, session)}"
    return session


def assert_salesforce_error(payload: object, code: str | None = None) -> None:
    assert isinstance(payload, list) and len(payload) == 1
    assert set(payload[0]) == {"errorCode", "message"} and payload[0]["message"]
    if code is not None:
        assert payload[0]["errorCode"] == code


# --- framing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rest", "status"), [c[1:] for c in FRAMING_CASES], ids=[c[0] for c in FRAMING_CASES]
)
def test_malformed_framing_is_refused_in_salesforce_shape(demo_sandbox, rest, status):
    answer = exchange(demo_sandbox, f"POST {ACCOUNTS} HTTP/1.1\r\nHost: x\r\n".encode() + rest)
    assert answer.status == status
    assert answer.headers["Connection"] == "close"
    assert_salesforce_error(answer.json())


@pytest.mark.parametrize(
    ("data", "status"), [c[1:] for c in BAD_REQUEST_LINES], ids=[c[0] for c in BAD_REQUEST_LINES]
)
def test_bad_request_lines_are_refused_in_salesforce_shape(demo_sandbox, data, status):
    answer = exchange(demo_sandbox, data)
    assert answer.status == status
    assert_salesforce_error(answer.json())


def test_negative_content_length_is_refused_before_reading_the_body(demo_sandbox):
    # It used to lift the body cap: the body was read until the client closed, so this
    # open connection got no answer at all.
    with connect(demo_sandbox) as tls:
        head = f"POST {ACCOUNTS} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        tls.sendall(head.encode() + b"x" * 1000)
        answer = read_answer(tls)
    assert answer.status == 400
    assert_salesforce_error(answer.json(), "BAD_REQUEST")


def test_the_server_still_serves_after_hostile_framing(demo_sandbox, api):
    for _, rest, _ in FRAMING_CASES:
        exchange(demo_sandbox, f"POST {ACCOUNTS} HTTP/1.1\r\nHost: x\r\n".encode() + rest)
    assert api.get(f"{demo_sandbox.url}/services/data/v59.0/limits/", timeout=30).ok


# --- media types ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml"])
def test_a_json_body_sent_as_another_type_is_415(demo_sandbox, api, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = api.post(
        demo_sandbox.url + ACCOUNTS, data=b'{"Name": "Acme"}', headers=headers, timeout=30
    )
    assert reply.status_code == 415
    assert_salesforce_error(reply.json(), "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_a_bulk_upload_that_is_not_csv_is_415(empty_sandbox, content_type):
    session = trusted_session(empty_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(empty_sandbox, session)}"
    jobs = f"{empty_sandbox.url}/services/data/v59.0/jobs/ingest"
    job = session.post(jobs, json={"object": "Account", "operation": "insert"}, timeout=30).json()
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = session.put(
        f"{jobs}/{job['id']}/batches", data=b'[{"Name": "Acme"}]', headers=headers, timeout=30
    )
    assert reply.status_code == 415
    assert_salesforce_error(reply.json(), "UNSUPPORTED_MEDIA_TYPE")


# --- sizes and nesting in SOQL -------------------------------------------------------------


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact LIMIT 99999999999999999999999",
        "SELECT Id FROM Contact LIMIT 2147483648",
        "SELECT Id FROM Contact OFFSET 99999999999999999999999",
        "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:999999999999",
        "SELECT Id FROM Contact WHERE " + "(" * 5000 + "LastName = 'x'" + ")" * 5000,
        "SELECT Id FROM Contact WHERE " + "NOT " * 5000 + "LastName = 'x'",
        "SELECT Id FROM Contact WHERE NumberOfEmployees = 1" + "0" * 5000,
    ],
    ids=["limit", "limit-2^31", "offset", "last-n-days", "parentheses", "nots", "long-number"],
)
def test_oversized_or_deep_soql_is_malformed_query(demo_sandbox, api, soql):
    reply = api.get(
        f"{demo_sandbox.url}/services/data/v59.0/query/", params={"q": soql}, timeout=30
    )
    assert reply.status_code == 400
    assert_salesforce_error(reply.json(), "MALFORMED_QUERY")


def test_a_relative_date_range_past_the_calendar_reaches_its_end(demo_sandbox, api):
    soql = "SELECT COUNT() FROM Contact WHERE CreatedDate = LAST_N_DAYS:2000000000"
    reply = api.get(
        f"{demo_sandbox.url}/services/data/v59.0/query/", params={"q": soql}, timeout=30
    )
    assert reply.status_code == 200
    assert reply.json()["totalSize"] == len(demo_sandbox.records("Contact"))


def test_conditions_nested_100_deep_still_run(demo_sandbox, api):
    soql = "SELECT COUNT() FROM Contact WHERE " + "(" * 99 + "LastName = 'x'" + ")" * 99
    reply = api.get(
        f"{demo_sandbox.url}/services/data/v59.0/query/", params={"q": soql}, timeout=30
    )
    assert reply.status_code == 200 and reply.json()["totalSize"] == 0


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"Name": "x"}'.encode("utf-16"), "JSON_PARSER_ERROR"),
        (b'{"Name": "\xed\xa0\x80"}', "JSON_PARSER_ERROR"),  # a UTF-8 encoded surrogate
        (b"[" * 100_000, "JSON_PARSER_ERROR"),
        (b'{"Name": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001, "JSON_PARSER_ERROR"),
    ],
    ids=["utf-16", "surrogate", "deep-array", "deep-object"],
)
def test_badly_encoded_or_deep_json_is_a_parser_error(demo_sandbox, api, body, code):
    reply = api.post(
        demo_sandbox.url + ACCOUNTS,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400
    assert_salesforce_error(reply.json(), code)


def test_a_query_of_invalid_utf8_is_malformed(demo_sandbox, api):
    reply = api.get(f"{demo_sandbox.url}/services/data/v59.0/query/?q=%FF%FE", timeout=30)
    assert reply.status_code == 400
    assert_salesforce_error(reply.json(), "MALFORMED_QUERY")


@pytest.mark.parametrize(
    "body",
    [b"<not xml", b"\xff\xfe<\x00", b"<l>&undefined;</l>", BILLION_LAUGHS],
    ids=["truncated", "utf-16-garbage", "undefined-entity", "billion-laughs"],
)
def test_a_malformed_soap_login_is_a_soap_client_fault(demo_sandbox, body):
    reply = trusted_session(demo_sandbox).post(
        f"{demo_sandbox.url}/services/Soap/u/59.0",
        data=body,
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        timeout=30,
    )
    assert reply.status_code == 500
    assert "<faultcode>soapenv:Client</faultcode>" in reply.text
    assert "INVALID_LOGIN" not in reply.text


# --- Bulk ingest size per job --------------------------------------------------------------


@pytest.fixture
def bulk() -> BulkApi:
    org = SalesforceOrg(clock=Clock(), faults=Faults())
    return BulkApi(org, RestApi(org))


def _request(method: str, path: str, body: bytes, content_type: str, **params: str) -> Request:
    headers = Message()
    headers["Content-Type"] = content_type
    request = Request(method=method, target=path, path=path, query={}, headers=headers, body=body)
    request.params = {"version": "59.0", **params}
    return request


def _open_job(bulk: BulkApi) -> str:
    body = b'{"object": "Account", "operation": "insert"}'
    created = bulk.create_ingest(_request("POST", "/jobs/ingest", body, "application/json"))
    return str(orjson.loads(created.body)["id"])


def _upload(bulk: BulkApi, job: str, data: bytes) -> int:
    path = f"/jobs/ingest/{job}/batches"
    try:
        return bulk.upload(_request("PUT", path, data, "text/csv", job=job)).status
    except HttpError as exc:
        assert_salesforce_error(orjson.loads(exc.response.body), "ClientInputError")
        return exc.response.status


def test_a_job_holds_at_most_150_mb_of_base64_data(bulk):
    sixty_mb = b"Name\n" + b"x" * (60_000_000 - 5)
    job = _open_job(bulk)
    assert _upload(bulk, job, sixty_mb) == 201
    assert _upload(bulk, job, sixty_mb) == 400  # 120 MB of CSV is 160 MB in base64
    assert _upload(bulk, job, b"Name\nsmall\n") == 201  # the job keeps what it had


def test_a_single_upload_over_the_job_limit_is_refused(bulk):
    raw_limit = MAX_JOB_BASE64_BYTES // 4 * 3
    assert _upload(bulk, _open_job(bulk), b"x" * raw_limit) == 201
    assert _upload(bulk, _open_job(bulk), b"x" * (raw_limit + 1)) == 400


# --- sessions ------------------------------------------------------------------------------


def test_expired_sessions_are_purged():
    clock = Clock(datetime(2024, 1, 1, tzinfo=UTC), frozen=True)
    org = SalesforceOrg(clock=clock, faults=Faults(), settings=OrgSettings(session_seconds=60))
    sessions = Sessions(org)
    for _ in range(Sessions.PURGE_AT):
        sessions.issue()
    clock.advance(timedelta(seconds=61))
    live = [sessions.issue() for _ in range(Sessions.PURGE_AT * 3)]
    assert len(sessions) == len(live)  # the expired first 1,024 are gone
    assert all(sessions.check(token) for token in live[-10:])


# --- slow clients and many connections -----------------------------------------------------


@pytest.fixture
def strict_sandbox() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="empty", request_timeout=1) as sb:
        yield sb


@pytest.fixture
def capped_sandbox() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="empty", max_connections=2) as sb:
        yield sb


def _trickle(tls: ssl.SSLSocket, first: bytes) -> Answer:
    """Send ``first``, then a byte every 0.2 s until the server answers (at most 10 s)."""
    tls.sendall(first)
    tls.settimeout(0.2)
    for _ in range(50):
        try:
            return read_answer(tls)
        except TimeoutError:
            tls.sendall(b"a")
    raise AssertionError("the server never answered a client trickling its request")


def test_headers_trickled_past_the_deadline_get_408(strict_sandbox):
    with connect(strict_sandbox) as tls:
        answer = _trickle(tls, b"GET /services/data/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert answer.status == 408
    assert_salesforce_error(answer.json(), "BAD_REQUEST")


def test_a_body_trickled_past_the_deadline_gets_408(strict_sandbox):
    head = f"POST {ACCOUNTS} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
    with connect(strict_sandbox) as tls:
        answer = _trickle(tls, head)
    assert answer.status == 408


def test_connections_past_the_cap_wait_for_a_free_slot(capped_sandbox):
    url = f"{capped_sandbox.url}/services/data/"
    busy = [connect(capped_sandbox) for _ in range(2)]
    for tls in busy:
        tls.sendall(b"GET /services/data/ HTTP/1.1\r\nHost: x\r\n")  # headers not finished
    answered = threading.Event()
    statuses: list[int] = []

    def third() -> None:
        statuses.append(trusted_session(capped_sandbox).get(url, timeout=30).status_code)
        answered.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not answered.wait(0.5)  # both slots are held by requests under way
    busy[0].sendall(b"\r\n")
    assert read_answer(busy[0]).status == 200  # now idle: closed to make room
    thread.join(30)
    assert statuses == [200]
    for tls in busy:
        tls.close()


def test_idle_keep_alive_connections_make_room_at_the_cap(capped_sandbox):
    url = f"{capped_sandbox.url}/services/data/"
    sessions = [trusted_session(capped_sandbox) for _ in range(3)]
    for _ in range(2):
        for session in sessions:  # three keep-alive clients, two slots: none waits for
            # another's idle timeout (120 s, past the 30 s this call allows)
            assert session.get(url, timeout=30).status_code == 200
