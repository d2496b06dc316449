"""Dataverse $batch machinery: parsing, changesets, Content-ID references, multipart answers.

Every answer is read back twice, by the standard library's ``email`` parser and by the
PowerPlatform-Dataverse-Client's own batch-response parser, and the two must agree.
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid

import orjson
import pytest
import requests
from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.config import DataverseConfig
from PowerPlatform.Dataverse.core.errors import HttpError as PpHttpError
from PowerPlatform.Dataverse.data._batch_base import _BatchBase
from requests.structures import CaseInsensitiveDict

from crmframes.sandbox.database import Database
from crmframes.sandbox.dynamics.batch import (
    BatchError,
    ChangeSet,
    execute_batch,
    parse_batch,
)
from crmframes.sandbox.server import HttpError, Request, Response

BASE = "https://127.0.0.1:4443"
ROOT = "/api/data/v9.2"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ODATA = {"OData-Version": "4.0"}

# reference/dataverse-api.md §6.1, byte for byte.
EXAMPLE = (
    b'--batch_B1\r\nContent-Type: multipart/mixed; boundary="changeset_C1"\r\n\r\n'
    b"--changeset_C1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    b"POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
    b'{"firstname":"Ann","lastname":"Lee"}\r\n'
    b"--changeset_C1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
    b"PATCH $1 HTTP/1.1\r\nContent-Type: application/json; type=entry\r\nIf-Match: *\r\n\r\n"
    b'{"telephone1":"555-0100"}\r\n'
    b"--changeset_C1--\r\n\r\n"
    b"--batch_B1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"GET /api/data/v9.2/contacts?$select=fullname&$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
    b"--batch_B1--\r\n"
)
EXAMPLE_TYPE = 'multipart/mixed; boundary="batch_B1"'
ENTRY = {"Content-Type": "application/json; type=entry"}
EXAMPLE_PARSED = [
    [
        ("POST", f"{ROOT}/contacts", ENTRY, b'{"firstname":"Ann","lastname":"Lee"}', "1"),
        ("PATCH", "$1", {**ENTRY, "If-Match": "*"}, b'{"telephone1":"555-0100"}', "2"),
    ],
    ("GET", f"{ROOT}/contacts?$select=fullname&$top=1", {"Accept": "application/json"}, b"", None),
]
# The §6.1 response, with the boundaries, the new id and the GET body left open.
EXAMPLE_ANSWER = (
    "--{B}\r\nContent-Type: multipart/mixed; boundary={C}\r\n\r\n"
    "--{C}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    "Location: {BASE}/api/data/v9.2/contacts({ID})\r\n"
    "OData-EntityId: {BASE}/api/data/v9.2/contacts({ID})\r\n\r\n\r\n"
    "--{C}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
    "--{C}--\r\n"
    "--{B}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; odata.metadata=minimal; odata.streaming=true\r\n"
    "OData-Version: 4.0\r\n\r\n"
    "{GET}\r\n"
    "--{B}--\r\n"
)


# --- a tiny Web API over a real sandbox Database --------------------------------------------

ROUTE = re.compile(
    r"/api/data/v9\.2/contacts(?:\((?P<id>[0-9a-f-]{36})\))?(?:/(?P<prop>\w+)(?P<ref>/\$ref)?)?"
)


def error(status, code, message):
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response.raw(status, body, "application/json; odata.metadata=minimal", ODATA)


class FakeWebApi:
    """Contacts only: POST creates (204 + OData-EntityId), PATCH/PUT update, GET reads."""

    def __init__(self):
        self.db = Database()
        self.contacts = self.db.create_table("contacts", key="contactid")
        self.seen: list[Request] = []

    def handle(self, request):
        self.seen.append(request)
        match = ROUTE.fullmatch(request.path)
        if match is None:
            return error(404, "0x80060888", f"Resource not found for the segment '{request.path}'.")
        rid, prop = match["id"], match["prop"]
        if rid is None:
            return self.create(request) if request.method == "POST" else self.query(request)
        record = self.contacts.get(rid)
        if record is None:
            return error(404, "0x80040217", f"contact With Id = {rid} Does Not Exist")
        if request.method == "GET":
            return Response.raw(200, orjson.dumps(record), "application/json", ODATA)
        if request.method == "DELETE":
            self.contacts.delete(rid, record)
            return Response.empty(204, ODATA)
        changes = request.json()
        if match["ref"]:
            changes = {f"{prop}@odata.bind": changes["@odata.id"]}
        elif prop:
            changes = {prop: changes["value"]}
        self.contacts.replace({**record, **self.values(changes)})
        return Response.empty(204, ODATA)

    def create(self, request):
        record = {"contactid": str(uuid.uuid4()), **self.values(request.json())}
        self.contacts.insert(record)
        url = f"{BASE}{ROOT}/contacts({record['contactid']})"
        return Response.empty(204, {**ODATA, "Location": url, "OData-EntityId": url})

    def values(self, body):
        if len(body.get("lastname") or "") > 50:
            raise HttpError(
                error(
                    400,
                    "0x80044331",
                    "A validation error occurred.  The length of the 'lastname' attribute of "
                    "the 'contact' entity exceeded the maximum allowed length of '50'.",
                )
            )
        out = {}
        for key, value in body.items():
            if key.endswith("@odata.bind") and isinstance(value, str):
                found = re.fullmatch(rf"{ROOT}/contacts\(({GUID.pattern})\)", value)
                if found is None or self.contacts.get(found[1]) is None:
                    raise HttpError(error(400, "0x80060888", f"Bad bind {value!r}"))
                out["_" + key.removesuffix("@odata.bind") + "_value"] = found[1]
            else:
                out[key] = value
        return out

    def query(self, request):
        top = int(request.arg("$top", "5000"))
        rows = [
            {"fullname": f"{r.get('firstname', '')} {r.get('lastname', '')}".strip(), **r}
            for r in self.contacts.scan()
        ][:top]
        select = request.arg("$select")
        if select:
            keep = [*select.split(","), "contactid"]
            rows = [{k: r[k] for k in keep if k in r} for r in rows]
        context = f"{BASE}{ROOT}/$metadata#contacts({select})"
        body = orjson.dumps({"@odata.context": context, "value": rows})
        content_type = "application/json; odata.metadata=minimal; odata.streaming=true"
        return Response.raw(200, body, content_type, ODATA)


# --- building and running batches ----------------------------------------------------------


def http_part(line, body=None, *, content_id=None, headers=None):
    mime = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id is not None:
        mime += f"Content-ID: {content_id}\r\n"
    head = f"{line} HTTP/1.1\r\n"
    if body is not None:
        head += "Content-Type: application/json; type=entry\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    payload = b"" if body is None else orjson.dumps(body)
    return (mime + "\r\n" + head + "\r\n").encode() + payload


def multipart(boundary, parts):
    delimiter = b"--" + boundary.encode()
    return b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts) + delimiter + b"--\r\n"


def changeset(*parts):
    head = b'Content-Type: multipart/mixed; boundary="changeset_T"\r\n\r\n'
    return head + multipart("changeset_T", parts)


BATCH_TYPE = 'multipart/mixed; boundary="batch_T"'


def batch_of(*parts):
    return multipart("batch_T", parts)


def run(api, *parts, continue_on_error=True, **options):
    items = parse_batch(batch_of(*parts), BATCH_TYPE)
    return execute(api, items, continue_on_error=continue_on_error, **options)


def execute(api, items, **options):
    arguments = {"handle": api.handle, "transaction": api.db.transaction}
    return execute_batch(items, **arguments | {"api_root": ROOT, "base_url": BASE} | options)


def summary(items):
    def one(p):
        return (p.method, p.url, dict(p.headers.items()), p.body, p.content_id)

    return [[one(p) for p in i.parts] if isinstance(i, ChangeSet) else one(i) for i in items]


# --- reading answers back --------------------------------------------------------------------


def requests_response(response):
    out = requests.Response()
    out.status_code = response.status
    out._content = response.body
    out.headers = CaseInsensitiveDict(response.headers)
    out.encoding = "utf-8"
    return out


def boundary(response):
    prefix = "multipart/mixed; boundary="
    assert response.headers["Content-Type"].startswith(prefix)
    return response.headers["Content-Type"].removeprefix(prefix).encode()


def read_with_email(response):
    """(status, content_id, entity_id, in_changeset) per answer, via the stdlib parser."""
    head = f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + response.body, policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/mixed" and not message.defects
    assert message.get_boundary().startswith("batchresponse_")
    answers = []
    for part in message.iter_parts():
        assert not part.defects
        if part.is_multipart():
            assert part.get_boundary().startswith("changesetresponse_")
            answers.extend(read_http(p, in_changeset=True) for p in part.iter_parts())
        else:
            answers.append(read_http(part, in_changeset=False))
    return answers


def read_http(part, *, in_changeset):
    assert part.get_content_type() == "application/http"
    assert part["Content-Transfer-Encoding"] == "binary"
    head, _, _ = part.get_payload(decode=True).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1" and headers["OData-Version"] == "4.0"
    entity = GUID.search(headers.get("OData-EntityId", ""))
    content_id = str(part["Content-ID"]) if part["Content-ID"] is not None else None
    return int(status), content_id, entity and entity[0], in_changeset


def answers(response):
    """Both parsers' reading of a batch answer; they must agree. Returns the stdlib one."""
    assert response.headers["OData-Version"] == "4.0"
    by_email = read_with_email(response)
    result = _BatchBase(None)._parse_batch_response(requests_response(response))
    by_client = [(r.status_code, r.content_id, r.entity_id) for r in result.responses]
    assert by_client == [a[:3] for a in by_email]
    return by_email


# --- parse_batch -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [EXAMPLE, EXAMPLE.replace(b"\r\n", b"\n")], ids=["crlf", "lf"])
def test_parse_batch_reads_the_reference_example(body):
    assert summary(parse_batch(body, EXAMPLE_TYPE)) == EXAMPLE_PARSED


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (EXAMPLE.rstrip(b"\r\n"), EXAMPLE_TYPE),  # no final CRLF
        (EXAMPLE, "multipart/mixed;boundary=batch_B1"),  # bare boundary, no space
        (b"preamble\r\n" + EXAMPLE + b"epilogue\r\n", EXAMPLE_TYPE),
        (EXAMPLE.replace(b"binary\r\n", b"binary\r\nContent-Length: 123\r\n"), EXAMPLE_TYPE),
        (EXAMPLE.replace(b"Content-Transfer-Encoding: binary\r\n", b""), EXAMPLE_TYPE),
        (EXAMPLE.replace(b'"changeset_C1"', b"changeset_C1"), EXAMPLE_TYPE),
    ],
    ids=["no-final-crlf", "bare-boundary", "preamble", "content-length", "no-cte", "bare-cs"],
)
def test_parse_batch_tolerates_variants(body, content_type):
    assert summary(parse_batch(body, content_type)) == EXAMPLE_PARSED


def test_parse_batch_takes_content_id_from_the_inner_request_and_cuts_at_content_length():
    part = (
        b"Content-Type: application/http\r\n\r\n"
        b"DELETE contacts(00000000-0000-0000-0000-000000000001) HTTP/1.1\r\n"
        b"Content-ID: 7\r\nContent-Length: 2\r\n\r\n{}\r\n\r\n"
    )
    [changes] = parse_batch(batch_of(changeset(part)), BATCH_TYPE)
    assert (changes.parts[0].content_id, changes.parts[0].body) == ("7", b"{}")


NO_ID = http_part("POST contacts", {"lastname": "A"})
GET = http_part("GET contacts")


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json", "The content type 'application/json' is not valid for a $batch"),
        ("multipart/mixed", "does not include a batch boundary"),
        ("multipart/mixed; boundary=other", "contains no part delimited by '--other'"),
        ("multipart/mixed; boundary=b\r\nX: y", "The content type 'multipart/mixed; boundary"),
    ],
)
def test_parse_batch_refuses_a_bad_content_type(content_type, message):
    with pytest.raises(BatchError, match=re.escape(message)):
        parse_batch(EXAMPLE, content_type)


def cs(*parts):
    return changeset(*(http_part(*p[:2], content_id=p[2]) for p in parts))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (batch_of(GET).removesuffix(b"--batch_T--\r\n"), "unexpected end of input"),
        (b"--batch_T--\r\n", "The batch payload contains no part delimited by '--batch_T'."),
        (
            batch_of(b"Content-Type: multipart/mixed; boundary=cs\r\n\r\n--cs--"),
            "The change set payload contains no part delimited by '--cs'.",
        ),
        (
            batch_of(b"Content-Type: text/plain\r\n\r\nhello"),
            "The 'Content-Type' header value 'text/plain' is invalid.",
        ),
        (batch_of(b"X-Other: 1\r\n\r\nGET contacts HTTP/1.1"), "'Content-Type' header is missing"),
        (
            batch_of(changeset(GET)),
            "An invalid HTTP method 'GET' was detected for a request in a change set. Requests in "
            "change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.",
        ),
        (
            batch_of(changeset(changeset(NO_ID).replace(b"changeset_T", b"inner"))),
            "Nested change sets in a batch payload are not supported.",
        ),
        (
            batch_of(changeset(NO_ID, http_part("PATCH $1", {"firstname": "B"}, content_id="2"))),
            "Request 1 of the change set at position 1 has no Content-ID header, so request 2 "
            "cannot refer to it as '$1'.",
        ),
        (
            batch_of(
                GET,
                cs(
                    ("POST contacts", {}, "1"),
                    ("POST contacts", {}, None),
                    ("POST contacts", {"p@odata.bind": "$2"}, "3"),
                ),
            ),
            "Request 2 of the change set at position 2 has no Content-ID header",
        ),
        (
            batch_of(cs(("POST contacts", {}, "1"), ("POST contacts", {}, "1"))),
            "The content ID '1' was found more than once in the same change set.",
        ),
        (
            batch_of(b"Content-Type: application/http\r\n\r\nPOST contacts"),
            "The request line 'POST contacts' is invalid.",
        ),
        (
            batch_of(b"Content-Type: application/http\r\n\r\nGET contacts HTTP/2"),
            "The HTTP version 'HTTP/2'",
        ),
    ],
)
def test_parse_batch_refuses_malformed_batches(body, message):
    with pytest.raises(BatchError) as caught:
        parse_batch(body, BATCH_TYPE)
    assert message in caught.value.message


def test_batch_error_answers_dataverse_json_that_the_client_raises():
    error = BatchError("Nested change sets in a batch payload are not supported.")
    response = error.response()
    assert response.status == 400
    assert orjson.loads(response.body) == {
        "error": {
            "code": error.code,
            "message": "Nested change sets in a batch payload are not supported.",
        }
    }
    with pytest.raises(PpHttpError, match="Nested change sets") as caught:
        _BatchBase(None)._parse_batch_response(requests_response(response))
    assert caught.value.status_code == 400


def test_parse_batch_limits_the_number_of_requests():
    assert len(parse_batch(batch_of(*[GET] * 1000), BATCH_TYPE)) == 1000
    with pytest.raises(BatchError) as caught:
        parse_batch(batch_of(*[GET] * 1001), BATCH_TYPE)
    assert caught.value.message == "The number of requests in the batch exceeds the maximum (1000)."
    writes = changeset(*(http_part("POST contacts", {}, content_id=str(i)) for i in (1, 2)))
    with pytest.raises(BatchError, match=r"exceeds the maximum \(3\)"):
        parse_batch(batch_of(GET, writes, GET), BATCH_TYPE, max_requests=3)
    with pytest.raises(ValueError, match="max_requests"):
        parse_batch(batch_of(GET), BATCH_TYPE, max_requests=0)


# --- execute_batch -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [EXAMPLE, EXAMPLE.replace(b"\r\n", b"\n")], ids=["crlf", "lf"])
def test_execute_batch_answers_the_reference_example_in_its_exact_shape(body):
    api = FakeWebApi()
    response = execute(api, parse_batch(body, EXAMPLE_TYPE), continue_on_error=True)
    [contact] = api.contacts.scan()
    assert contact == {
        "contactid": contact["contactid"],
        "firstname": "Ann",
        "lastname": "Lee",
        "telephone1": "555-0100",
    }
    assert response.status == 200
    changeset_boundary = re.search(rb"boundary=(changesetresponse_\S+)", response.body)[1]
    get_body = api.handle(api.seen[-1]).body
    expected = EXAMPLE_ANSWER.format(
        B=boundary(response).decode(),
        C=changeset_boundary.decode(),
        BASE=BASE,
        ID=contact["contactid"],
        GET=get_body.decode(),
    )
    assert response.body == expected.encode()
    assert answers(response) == [
        (204, "1", contact["contactid"], True),
        (204, "2", None, True),
        (200, None, None, False),
    ]
    assert orjson.loads(get_body)["value"] == [
        {"fullname": "Ann Lee", "contactid": contact["contactid"]}
    ]


def test_execute_batch_resolves_absolute_root_relative_and_relative_urls():
    api = FakeWebApi()
    response = run(
        api,
        http_part(f"GET {BASE}{ROOT}/contacts?$select=fullname&$top=2"),
        http_part(f"GET {ROOT}/contacts?$top=2"),
        http_part("GET contacts?$top=2", headers={"Prefer": "odata.maxpagesize=1"}),
    )
    assert [(r.method, r.path, r.target, r.query) for r in api.seen] == [
        (
            "GET",
            f"{ROOT}/contacts",
            f"{ROOT}/contacts?$select=fullname&$top=2",
            {"$select": ["fullname"], "$top": ["2"]},
        ),
        ("GET", f"{ROOT}/contacts", f"{ROOT}/contacts?$top=2", {"$top": ["2"]}),
        ("GET", f"{ROOT}/contacts", f"{ROOT}/contacts?$top=2", {"$top": ["2"]}),
    ]
    assert api.seen[2].header("prefer") == "odata.maxpagesize=1"
    assert [a[0] for a in answers(response)] == [200, 200, 200]


def test_execute_batch_substitutes_content_ids_in_urls_and_bodies():
    api = FakeWebApi()
    response = run(
        api,
        changeset(
            http_part("POST contacts", {"lastname": "Parent"}, content_id="1"),
            http_part(
                "POST contacts",
                {"lastname": "Kid", "parentcustomerid_contact@odata.bind": "$1"},
                content_id="2",
            ),
            http_part("PUT $1/lastname", {"value": "Renamed"}, content_id="3"),
            http_part("PUT $2/parent_contact/$ref", {"@odata.id": "$1"}, content_id="4"),
            http_part("PATCH $2", {"firstname": "Kim"}, content_id="5"),
        ),
    )
    parent, kid = api.contacts.scan()
    assert parent == {"contactid": parent["contactid"], "lastname": "Renamed"}
    assert kid == {
        "contactid": kid["contactid"],
        "lastname": "Kid",
        "firstname": "Kim",
        "_parentcustomerid_contact_value": parent["contactid"],
        "_parent_contact_value": parent["contactid"],
    }
    parent_url = f"{ROOT}/contacts({parent['contactid']})"
    kid_url = f"{ROOT}/contacts({kid['contactid']})"
    assert [(r.method, r.target) for r in api.seen] == [
        ("POST", f"{ROOT}/contacts"),
        ("POST", f"{ROOT}/contacts"),
        ("PUT", f"{parent_url}/lastname"),
        ("PUT", f"{kid_url}/parent_contact/$ref"),
        ("PATCH", kid_url),
    ]
    assert api.seen[1].json()["parentcustomerid_contact@odata.bind"] == parent_url
    assert api.seen[3].json() == {"@odata.id": parent_url}
    assert answers(response) == [
        (204, "1", parent["contactid"], True),
        (204, "2", kid["contactid"], True),
        (204, "3", None, True),
        (204, "4", None, True),
        (204, "5", None, True),
    ]


def test_execute_batch_leaves_dollar_values_outside_urls_alone():
    api = FakeWebApi()
    part = http_part("POST contacts", {"lastname": "$1", "tags@odata.bind": ["x"]})
    items = parse_batch(batch_of(part), BATCH_TYPE)
    execute(api, items, continue_on_error=True)
    assert api.seen[0].body == items[0].body


@pytest.mark.parametrize(
    ("first", "second", "ref"),
    [
        (("POST contacts", {"lastname": "A"}, "1"), ("PATCH $7", {"firstname": "B"}, "2"), "$7"),
        # the documented case: a body refers to a Content-ID declared further down
        (("POST contacts", {"p@odata.bind": "$1"}, "2"), ("POST contacts", {}, "1"), "$1"),
    ],
    ids=["unknown", "forward"],
)
def test_execute_batch_fails_an_unknown_content_id_reference(first, second, ref):
    api = FakeWebApi()
    response = run(api, cs(first, second))
    assert answers(response) == [(400, "2", None, True)]
    result = _BatchBase(None)._parse_batch_response(requests_response(response))
    message = f"Content-ID Reference: '{ref}' does not exist in the batch context."
    assert result.responses[0].error_message == message
    assert len(api.contacts) == 0


def test_execute_batch_refuses_references_outside_a_changeset():
    api = FakeWebApi()
    response = run(api, http_part("PATCH $1", {"firstname": "B"}, content_id="9"))
    assert answers(response) == [(400, "9", None, False)]
    assert api.seen == []


TOO_LONG = {"lastname": "x" * 51}


def test_failed_changeset_rolls_back_and_answers_only_the_failing_request():
    api = FakeWebApi()
    response = run(
        api,
        changeset(
            http_part("POST contacts", {"lastname": "Kept?"}, content_id="1"),
            http_part("PATCH $1", {"firstname": "Ann"}, content_id="2"),
            http_part("POST contacts", TOO_LONG, content_id="3"),
            http_part("POST contacts", {"lastname": "Never run"}, content_id="4"),
        ),
        http_part("GET contacts"),
    )
    assert len(api.contacts) == 0
    assert len(api.seen) == 4  # three changeset requests, then the GET
    assert response.status == 200
    assert answers(response) == [(400, "3", None, True), (200, None, None, False)]
    result = _BatchBase(None)._parse_batch_response(requests_response(response))
    assert result.responses[0].error_code == "0x80044331"
    assert result.responses[1].data["value"] == []


@pytest.mark.parametrize(
    ("continue_on_error", "status", "answered", "kept"),
    [
        (False, 400, [(400, None)], ["One"]),  # only the failure is answered
        (True, 200, [(204, "One"), (400, None), (204, "Three")], ["One", "Three"]),
    ],
)
def test_continue_on_error_decides_whether_the_batch_stops(
    continue_on_error, status, answered, kept
):
    api = FakeWebApi()
    parts = [
        http_part("POST contacts", {"lastname": "One"}),
        http_part("POST contacts", TOO_LONG),
        http_part("POST contacts", {"lastname": "Three"}),
    ]
    response = run(api, *parts, continue_on_error=continue_on_error)
    ids = {r["lastname"]: r["contactid"] for r in api.contacts.scan()}
    assert (response.status, list(ids)) == (status, kept)
    assert answers(response) == [(code, None, ids.get(name), False) for code, name in answered]


def test_a_failed_changeset_without_continue_on_error_sets_the_batch_status():
    api = FakeWebApi()
    missing = "00000000-0000-0000-0000-000000000404"
    response = run(
        api,
        http_part("POST contacts", {"lastname": "Before"}),
        changeset(
            http_part("POST contacts", {"lastname": "Rolled back"}, content_id="1"),
            http_part(f"PATCH contacts({missing})", {"lastname": "X"}, content_id="2"),
        ),
        http_part("POST contacts", {"lastname": "After"}),
        continue_on_error=False,
    )
    assert response.status == 404
    assert answers(response) == [(404, "2", None, True)]
    assert [r["lastname"] for r in api.contacts.scan()] == ["Before"]


@pytest.mark.parametrize(("stops", "after"), [(False, ["After"]), (True, [])])
def test_changeset_failure_stops_is_an_option(stops, after):
    api = FakeWebApi()
    response = run(
        api,
        changeset(http_part("POST contacts", TOO_LONG, content_id="1")),
        http_part("POST contacts", {"lastname": "After"}),
        changeset_failure_stops=stops,
    )
    assert response.status == 200
    assert [a[:2] for a in answers(response)] == [(400, "1"), *[(204, None)] * len(after)]
    assert [r["lastname"] for r in api.contacts.scan()] == after


def test_execute_batch_runs_after_hooks_of_committed_answers_only():
    api = FakeWebApi()
    ran = []

    def handle(request):
        response = api.handle(request)
        response.after = lambda: ran.append(request.json()["lastname"])
        return response

    items = parse_batch(
        batch_of(
            http_part("POST contacts", {"lastname": "Solo"}),
            changeset(
                http_part("POST contacts", {"lastname": "Undone"}, content_id="1"),
                http_part("POST contacts", TOO_LONG, content_id="2"),
            ),
            changeset(http_part("POST contacts", {"lastname": "Kept"}, content_id="1")),
        ),
        BATCH_TYPE,
    )
    response = execute(api, items, continue_on_error=True, handle=handle)
    assert ran == []
    response.after()
    assert ran == ["Solo", "Kept"]


def test_execute_batch_answers_an_empty_batch_and_checks_its_arguments():
    api = FakeWebApi()
    response = execute(api, [], continue_on_error=False)
    assert (response.status, response.body) == (200, b"--" + boundary(response) + b"--\r\n")
    with pytest.raises(ValueError, match="base_url"):
        execute(api, [], continue_on_error=False, base_url="127.0.0.1:4443")
    with pytest.raises(TypeError, match="BatchPart or ChangeSet"):
        execute(api, ["GET contacts"], continue_on_error=False)


# --- the PowerPlatform client, end to end without a network ------------------------------


class FakeCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("token", 4_102_444_800)


class FakeSession:
    """Stands in for the client's requests.Session: metadata answers, $batch runs here."""

    def __init__(self, api):
        self.api = api
        self.sent: list[tuple[dict, bytes]] = []

    def request(self, method, url, **kwargs):
        if "PicklistAttributeMetadata" in url:
            return requests_response(Response.json(200, {"value": []}))
        if url == f"{BASE}{ROOT}/EntityDefinitions":
            entity = {
                "LogicalName": "contact",
                "EntitySetName": "contacts",
                "PrimaryIdAttribute": "contactid",
            }
            return requests_response(Response.json(200, {"value": [entity]}))
        assert (method, url) == ("post", f"{BASE}{ROOT}/$batch")
        headers, body = kwargs["headers"], kwargs["data"]
        self.sent.append((headers, body))
        items = parse_batch(body, headers["Content-Type"])
        continue_on_error = headers.get("Prefer") == "odata.continue-on-error"
        return requests_response(execute(self.api, items, continue_on_error=continue_on_error))

    def close(self):
        pass


@pytest.fixture
def client_and_api():
    api = FakeWebApi()
    client = DataverseClient(BASE, FakeCredential(), DataverseConfig())
    client._session = FakeSession(api)
    yield client, api
    client.close()


def test_powerplatform_client_batch_round_trip(client_and_api):
    client, api = client_and_api
    batch = client.batch.new()
    with batch.changeset() as cs:
        ref = cs.records.create("contact", {"firstname": "Ann", "lastname": "Lée"})
        cs.records.update("contact", ref, {"telephone1": "555-0100"})
        cs.records.create(
            "contact", {"lastname": "Kid", "parentcustomerid_contact@odata.bind": ref}
        )
    batch.records.list("contact", select=["lastname"], top=5)
    result = batch.execute()

    [(headers, body)] = client._session.sent
    assert "Prefer" not in headers
    assert summary(parse_batch(body, headers["Content-Type"])) == [
        [
            (
                "POST",
                f"{BASE}{ROOT}/contacts",
                ENTRY,
                '{"firstname": "Ann", "lastname": "Lée"}'.encode(),
                "1",
            ),
            ("PATCH", "$1", {**ENTRY, "If-Match": "*"}, b'{"telephone1": "555-0100"}', "2"),
            (
                "POST",
                f"{BASE}{ROOT}/contacts",
                ENTRY,
                b'{"lastname": "Kid", "parentcustomerid_contact@odata.bind": "$1"}',
                "3",
            ),
        ],
        ("GET", f"{BASE}{ROOT}/contacts?$select=lastname&$top=5", {}, b"", None),
    ]
    ann, kid = api.contacts.scan()
    assert (ann["lastname"], ann["telephone1"]) == ("Lée", "555-0100")
    assert kid["_parentcustomerid_contact_value"] == ann["contactid"]
    assert [(r.status_code, r.content_id, r.entity_id) for r in result.responses] == [
        (204, "1", ann["contactid"]),
        (204, "2", None),
        (204, "3", kid["contactid"]),
        (200, None, None),
    ]
    assert [row["lastname"] for row in result.responses[3].data["value"]] == ["Lée", "Kid"]


def test_powerplatform_client_sees_failures_with_and_without_continue_on_error(client_and_api):
    client, api = client_and_api
    for continue_on_error in (True, False):
        batch = client.batch.new()
        batch.records.create("contact", {"lastname": "x" * 51})
        batch.records.create("contact", {"lastname": "Fine"})
        result = batch.execute(continue_on_error=continue_on_error)
        statuses = [r.status_code for r in result.responses]
        assert statuses == ([400, 204] if continue_on_error else [400])
        assert result.responses[0].error_code == "0x80044331"
    headers = [h for h, _ in client._session.sent]
    assert [h.get("Prefer") for h in headers] == ["odata.continue-on-error", None]
    assert [r["lastname"] for r in api.contacts.scan()] == ["Fine"]


def test_powerplatform_client_deletes_without_a_blank_line_after_the_headers(client_and_api):
    client, api = client_and_api
    api.contacts.insert({"contactid": "00000000-0000-0000-0000-000000000001", "lastname": "Gone"})
    batch = client.batch.new()
    batch.records.delete("contact", "00000000-0000-0000-0000-000000000001", use_bulk_delete=False)
    result = batch.execute()
    [(_, body)] = client._session.sent
    assert b"If-Match: *\r\n\r\n--batch_" in body  # the part ends right after its headers
    assert [r.status_code for r in result.responses] == [204]
    assert len(api.contacts) == 0


def test_powerplatform_client_filters_arrive_unescaped_and_reach_the_handler(client_and_api):
    client, api = client_and_api
    batch = client.batch.new()
    batch.records.list("contact", filter="lastname eq 'Lée'", select=["lastname"])
    result = batch.execute()
    [(_, body)] = client._session.sent
    assert (
        f"GET {BASE}{ROOT}/contacts?$select=lastname&$filter=lastname eq 'Lée' HTTP/1.1".encode()
        in body
    )
    [request] = api.seen
    assert request.query == {"$select": ["lastname"], "$filter": ["lastname eq 'Lée'"]}
    assert request.target == f"{ROOT}/contacts?$select=lastname&$filter=lastname%20eq%20'L%C3%A9e'"
    assert [r.status_code for r in result.responses] == [200]
