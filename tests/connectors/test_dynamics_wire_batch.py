"""The fast $batch answer splitter reads what the standard library's MIME parser reads."""

from __future__ import annotations

from crmframes.connectors.dynamics import wire as dynamics_wire
from crmframes.connectors.dynamics.wire import read_batch

ANSWER = (
    b"--batchresponse_1\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\nOData-EntityId: https://x/api/data/v9.2/contacts(0001)\r\n\r\n\r\n"
    b"--batchresponse_1\r\n"
    b"Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    b"--changesetresponse_2\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n"
    b'{"contactid":"0002"}\r\n'
    b"--changesetresponse_2--\r\n"
    b"--batchresponse_1\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
    b'{"error":{"code":"0x80044331","message":"too long"}}\r\n'
    b"--batchresponse_1--\r\n"
)
KIND = "multipart/mixed; boundary=batchresponse_1"


def _fallback(content_type: str, content: bytes) -> list[dynamics_wire.BatchAnswer]:
    message = dynamics_wire._PARSER.parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + content
    )
    return [dynamics_wire._read_answer(m) for m in dynamics_wire._leaves(message)]


def test_fast_split_equals_the_mime_parser():
    fast = read_batch(KIND, ANSWER)
    slow = _fallback(KIND, ANSWER)
    assert fast is not None
    assert [(a.status, a.body) for a in fast] == [(a.status, a.body) for a in slow]
    assert [a.status for a in fast] == [204, 201, 400]
    assert fast[0].headers["OData-EntityId"] == slow[0].headers["OData-EntityId"]
    assert fast[1].body == b'{"contactid":"0002"}'


def test_not_multipart_is_none():
    assert read_batch("application/json", b"{}") is None
