"""Faults, call counts and bad input on the Dataverse sandbox."""

import pytest
import requests

from crmframes import Sandbox
from tests.clients import dynamics_session, trusted_session

API = "/api/data/v9.2"


def test_rate_limit_is_429_with_retry_after(dv):
    session = dynamics_session(dv)
    dv.faults.add("rate_limited", "/contacts", retry_after=7)
    reply = session.get(f"{dv.url}{API}/contacts?$top=1", timeout=30)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["code"] == "0x80072322"
    assert session.get(f"{dv.url}{API}/contacts?$top=1", timeout=30).status_code == 200


def test_unavailable_and_internal_error(dv):
    session = dynamics_session(dv)
    dv.faults.add("unavailable", "/accounts", times=1)
    dv.faults.add("internal_error", "/leads", times=1)
    assert session.get(f"{dv.url}{API}/accounts?$top=1", timeout=30).status_code == 503
    assert (
        session.get(f"{dv.url}{API}/leads?$top=1", timeout=30).json()["error"]["code"]
        == "0x80040216"
    )


def test_session_expired_fault_revokes_the_token(dv):
    session = dynamics_session(dv)
    dv.faults.add("session_expired", "/contacts")
    assert session.get(f"{dv.url}{API}/contacts?$top=1", timeout=30).status_code == 401
    assert session.get(f"{dv.url}{API}/accounts?$top=1", timeout=30).status_code == 401


def test_dropped_connections(dv_empty):
    session = dynamics_session(dv_empty)
    dv_empty.faults.add("drop", "^POST ")
    with pytest.raises(requests.ConnectionError):
        session.post(f"{dv_empty.url}{API}/accounts", json={"name": "lost"}, timeout=30)
    dv_empty.faults.add("drop_after", "^POST ")
    with pytest.raises(requests.ConnectionError):
        session.post(f"{dv_empty.url}{API}/accounts", json={"name": "kept"}, timeout=30)
    names = [
        r["name"] for r in session.get(f"{dv_empty.url}{API}/accounts", timeout=30).json()["value"]
    ]
    assert names == ["kept"]


def test_lock_row_fails_one_batch_part(dv_empty):
    session = dynamics_session(dv_empty)
    dv_empty.faults.add("lock_row", "account", times=1)
    parts = (
        "".join(
            "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f'POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{"name":"A{i}"}}\r\n'
            for i in range(3)
        )
        + "--b--\r\n"
    )
    reply = session.post(
        f"{dv_empty.url}{API}/$batch",
        data=parts.encode(),
        timeout=30,
        headers={
            "Content-Type": "multipart/mixed; boundary=b",
            "Prefer": "odata.continue-on-error",
        },
    )
    assert reply.status_code == 200
    assert reply.text.count("HTTP/1.1 500") == 1 and reply.text.count("HTTP/1.1 204") == 2


def test_calls_are_counted_and_a_batch_counts_once(dv_empty):
    session = dynamics_session(dv_empty)
    dv_empty.reset_api_calls()
    session.get(
        f"{dv_empty.url}{API}/EntityDefinitions?$filter=LogicalName eq 'contact'", timeout=30
    )
    session.post(f"{dv_empty.url}{API}/contacts", json={"lastname": "x"}, timeout=30)
    session.get(f"{dv_empty.url}{API}/contacts", timeout=30)
    body = (
        "--b\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/contacts HTTP/1.1\r\n\r\n\r\n"
        "--b\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/accounts HTTP/1.1\r\n\r\n\r\n--b--\r\n"
    )
    session.post(
        f"{dv_empty.url}{API}/$batch",
        data=body.encode(),
        timeout=30,
        headers={"Content-Type": "multipart/mixed; boundary=b"},
    )
    assert dv_empty.api_calls() == {"batch": 1, "create": 1, "metadata": 1, "query": 1}


def test_request_allocation_runs_out_with_429():
    with Sandbox("dynamics", data="empty", daily_api_limit=2) as sb:
        session = dynamics_session(sb)
        for _ in range(2):
            assert session.get(f"{sb.url}{API}/contacts", timeout=30).status_code == 200
        reply = session.get(f"{sb.url}{API}/contacts", timeout=30)
        assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/contacts", b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", "/contacts", b"[1,2]", {"Content-Type": "application/json"}, 400),
        ("POST", "/$batch", b"no multipart here", {"Content-Type": "text/plain"}, 400),
        ("GET", "/contacts?$top=-1", b"", {}, 400),
        ("GET", "/contacts?$expand=nope", b"", {}, 400),
        ("GET", "/contacts(not-a-guid)", b"", {}, 400),
        ("DELETE", "/contacts", b"", {}, 405),
    ],
)
def test_bad_input_gets_the_dataverse_error_shape(dv_demo, method, path, body, headers, status):
    session = dynamics_session(dv_demo)
    reply = session.request(
        method, f"{dv_demo.url}{API}{path}", data=body, headers=headers, timeout=30
    )
    assert reply.status_code == status
    assert reply.json()["error"]["message"]
    assert "Traceback" not in reply.text


def test_identity_paths_that_do_not_exist(dv_demo):
    reply = trusted_session(dv_demo).get(
        f"{dv_demo.url}/{dv_demo.credentials['tenant_id']}/nothing", timeout=30
    )
    assert reply.status_code == 404 and reply.json()["error"] == "invalid_request"
