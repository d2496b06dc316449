"""Hostile input against the Dataverse sandbox: framing, sizes, nesting, encodings, slow clients.

Every answer must be Dataverse's own (status, ``{"error": {"code", "message"}}``), never a
500, a hang or a body read without bound.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from crmframes import Sandbox
from tests.clients import dynamics_session
from tests.sandbox.hostile import (
    BAD_REQUEST_LINES,
    FRAMING_CASES,
    Answer,
    connect,
    exchange,
    read_answer,
)

API = "/api/data/v9.2"
CONTACTS = f"{API}/contacts"

Call = Callable[..., requests.Response]


@pytest.fixture(scope="module")
def api(dv_demo: Sandbox) -> Call:
    session = dynamics_session(dv_demo)

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, dv_demo.url + API + path, timeout=60, **kwargs)

    return call


def assert_dataverse_error(payload: Any, code: str | None = None) -> None:
    assert isinstance(payload, dict) and set(payload) == {"error"}
    assert set(payload["error"]) == {"code", "message"} and payload["error"]["message"]
    if code is not None:
        assert payload["error"]["code"] == code


# --- framing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rest", "status"), [c[1:] for c in FRAMING_CASES], ids=[c[0] for c in FRAMING_CASES]
)
def test_malformed_framing_is_refused_in_dataverse_shape(dv_demo, rest, status):
    answer = exchange(dv_demo, f"POST {CONTACTS} HTTP/1.1\r\nHost: x\r\n".encode() + rest)
    assert answer.status == status
    assert answer.headers["Connection"] == "close"
    assert answer.headers["OData-Version"] == "4.0"
    assert_dataverse_error(answer.json(), "")


@pytest.mark.parametrize(
    ("data", "status"), [c[1:] for c in BAD_REQUEST_LINES], ids=[c[0] for c in BAD_REQUEST_LINES]
)
def test_bad_request_lines_are_refused_in_dataverse_shape(dv_demo, data, status):
    answer = exchange(dv_demo, data)
    assert answer.status == status
    assert_dataverse_error(answer.json(), "")


def test_negative_content_length_is_refused_before_reading_the_body(dv_demo):
    # It used to lift the body cap: the body was read until the client closed, so this
    # open connection got no answer at all.
    with connect(dv_demo) as tls:
        head = f"POST {CONTACTS} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        tls.sendall(head.encode() + b"x" * 1000)
        answer = read_answer(tls)
    assert answer.status == 400
    assert_dataverse_error(answer.json(), "")


# --- media types and methods ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        (None, "application/octet-stream"),
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
    ],
)
def test_a_json_body_sent_as_another_type_is_415(api, content_type, named):
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = api("POST", "/contacts", data=b'{"lastname": "Doe"}', headers=headers)
    assert reply.status_code == 415
    assert_dataverse_error(reply.json(), "")
    assert f"'{named}'" in reply.json()["error"]["message"]


def test_json_with_a_charset_is_accepted(api):
    reply = api(
        "PATCH",
        "/contacts(00000000-0000-0000-0000-000000000001)",
        data=b'{"lastname": "Doe"}',
        headers={"Content-Type": "application/json; charset=utf-8", "If-Match": "*"},
    )
    assert reply.status_code == 404  # past the media type check: no such contact


def test_post_to_who_am_i_is_not_found(api, dv_demo):
    reply = api("POST", "/WhoAmI", json={})
    assert reply.status_code == 404
    assert_dataverse_error(reply.json(), "")
    assert reply.json()["error"]["message"] == (
        f"No HTTP resource was found that matches the request URI '{dv_demo.url}{API}/WhoAmI'."
    )


@pytest.mark.parametrize("path", ["/$metadata", "/"])
def test_post_to_the_service_documents_is_405(api, path):
    reply = api("POST", path, json={})
    assert reply.status_code == 405
    assert_dataverse_error(reply.json(), "")


# --- $batch nesting and targets ------------------------------------------------------------


def _nested(levels: int) -> bytes:
    return b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(levels)
    )


@pytest.mark.parametrize("levels", [3, 3000])
def test_batch_nested_deeper_than_a_changeset_is_400(api, levels):
    reply = api(
        "POST",
        "/$batch",
        data=_nested(levels),
        headers={"Content-Type": "multipart/mixed; boundary=b0"},
    )
    assert reply.status_code == 400
    assert_dataverse_error(reply.json(), "0x80040203")


def test_a_batch_request_to_another_host_is_refused(api):
    body = (
        b"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b"GET https://elsewhere.example/api/data/v9.2/contacts?$top=1 HTTP/1.1\r\n"
        b"Accept: application/json\r\n\r\n\r\n--b--\r\n"
    )
    reply = api(
        "POST", "/$batch", data=body, headers={"Content-Type": "multipart/mixed; boundary=b"}
    )
    assert reply.status_code == 400
    assert b"HTTP/1.1 400 Bad Request" in reply.content
    assert b"is not valid because it is not based on" in reply.content
    assert b'"@odata.context"' not in reply.content  # the request did not run


def test_a_batch_request_with_the_sandboxs_own_absolute_url_runs(api, dv_demo):
    body = (
        b"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        + f"GET {dv_demo.url}{CONTACTS}?$top=1 HTTP/1.1\r\n".encode()
        + b"Accept: application/json\r\n\r\n\r\n--b--\r\n"
    )
    reply = api(
        "POST", "/$batch", data=body, headers={"Content-Type": "multipart/mixed; boundary=b"}
    )
    assert reply.status_code == 200 and b"HTTP/1.1 200 OK" in reply.content


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"lastname": "Doe"}'.encode("utf-16"),
        b'{"lastname": "\xed\xa0\x80"}',
        b"[" * 100_000,
        b'{"lastname": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
    ],
    ids=["utf-16", "surrogate", "deep-array", "deep-object"],
)
def test_badly_encoded_or_deep_json_is_400(api, body):
    reply = api("POST", "/contacts", data=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert_dataverse_error(reply.json())


@pytest.mark.parametrize(
    "query", ["$filter=%FF%FE", "$filter=" + "(" * 5000 + "lastname eq 'x'" + ")" * 5000]
)
def test_a_broken_or_deep_filter_is_400(api, query):
    reply = api("GET", f"/contacts?{query}")
    assert reply.status_code == 400
    assert_dataverse_error(reply.json())


# --- slow clients --------------------------------------------------------------------------


@pytest.fixture
def strict_dv() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="empty", request_timeout=1) as sb:
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


def test_headers_trickled_past_the_deadline_get_408_in_dataverse_shape(strict_dv):
    with connect(strict_dv) as tls:
        answer = _trickle(tls, f"GET {CONTACTS} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
    assert answer.status == 408
    assert_dataverse_error(answer.json(), "")
