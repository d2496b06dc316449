"""Dataverse write wire format: ``$batch`` bodies built and read, values serialised, outcomes.

Pure (bytes and values in, bytes and values out; no I/O). What
:mod:`crmframes.connectors.dynamics.writer` sends and reads back: a ``$batch`` of one
``application/http`` part per request outside any changeset (reference/dataverse-api.md
§6.1), its multipart answer read with the standard library's ``email`` parser and
``http.client`` header parser, each answer turned into a :class:`WriteOutcome` (symbolic
error names from the HRESULT, transient codes, the column a message names; §7), and the
values: JSON for the body (§3.1), OData literals for alternate keys, and one canonical text
form to compare a value sent with the value read back.
"""

from __future__ import annotations

import dataclasses
import email.policy
import http.client
import io
import math
import numbers
import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from email.message import Message
from email.parser import BytesParser
from typing import Any

import orjson

from crmframes.connectors.base import WriteOp, WriteOutcome
from crmframes.schema import Field, ObjectSchema

__all__ = [
    "BatchAnswer",
    "BatchRequest",
    "aware",
    "batch_body",
    "canonical",
    "error_symbol",
    "guid",
    "json_value",
    "key_literal",
    "logical_name",
    "outcome",
    "parse_time",
    "read_batch",
]

# HRESULT -> name. Microsoft's "Web service error codes" list (powerapps-docs
# data-service-error-codes.md) gives StringLengthTooLong, EntityKeyNotDefined, Throttling and
# the Throttling*Error names; reference §7 gives ObjectDoesNotExist, DuplicateRecord*,
# InvalidArgument, InvalidDateTime; the rest are descriptive names for codes the reference
# lists without one (0x80060882, 0x80060888, 0x8006088a, 0x80048d19, the SQL codes).
_SYMBOLS = {
    "0x80040203": "InvalidArgument",
    "0x80040216": "UnExpected",
    "0x80040217": "ObjectDoesNotExist",
    "0x80040220": "PrivilegeDenied",
    "0x80040237": "DuplicateRecord",
    "0x80040239": "InvalidDateTime",
    "0x80040333": "DuplicateRecordsFound",
    "0x80044150": "GenericSqlError",
    "0x80044151": "SqlTimeout",
    "0x80044331": "StringLengthTooLong",
    "0x8004431a": "PicklistValueOutOfRange",
    "0x80048306": "PrivilegeDenied",
    "0x80048d19": "InvalidPayload",
    "0x80060882": "ConcurrencyVersionMismatch",
    "0x80060888": "ResourceNotFound",
    "0x8006088a": "BadRequestSyntax",
    "0x80060890": "EntityKeyNotDefined",
    "0x80060891": "RecordNotFoundByEntityKey",
    "0x80060892": "DuplicateRecordEntityKey",
    "0x8005f103": "Throttling",
    "0x80072321": "ThrottlingTimeExceededError",
    "0x80072322": "ThrottlingBurstRequestLimitExceededError",
    "0x80072326": "ThrottlingConcurrencyLimitExceededError",
}
# Worth sending again: service protection, and SQL lock contention (a deadlock victim,
# 0x80044150; a lock wait that timed out, 0x80044151).
_TRANSIENT_CODES = frozenset(
    {"0x8005f103", "0x80072321", "0x80072322", "0x80072326", "0x80044150", "0x80044151"}
)
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_NOT_FOUND = "0x80040217"
_DUPLICATE_KEY = "0x80040237"
# Where Dataverse's messages name the attribute at fault (reference §7).
_FIELD_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"length of the '(\w+)' attribute",
        r"The '(\w+)' attribute of the",
        r"of '(\w+)' on record of type",
        r"same value for ([\w, ]+?) already exists",
        r"property named '(\w+)'",
        r"The property '(\w+)'",
        r"undeclared property '(\w+)'",
    )
)
_ENTITY_ID = re.compile(r"\(([^()]*)\)\s*$")
# compat32: the header-object policies parse 1,000 parts an order of magnitude slower.
_PARSER = BytesParser(policy=email.policy.compat32)


@dataclasses.dataclass
class BatchRequest:
    """One request of a ``$batch``, for the record at ``index`` of the write batch.

    Attributes:
        index: the record's position in the :class:`~crmframes.connectors.base.WriteBatch`.
        method: ``POST``, ``PATCH``, ``DELETE`` or ``GET``.
        path: below the service root, URL-encoded (``contacts(<guid>)``).
        sent_id: the record id the request names, when it names one.
        body: the JSON body, if any.
        headers: request headers beyond the content type (``If-Match``, ``Prefer``).
    """

    index: int
    method: str
    path: str
    sent_id: str | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class BatchAnswer:
    """One response inside a ``$batch`` answer: status, headers, body."""

    status: int
    headers: Message
    body: bytes


def error_symbol(code: str, status: int) -> str:
    """The symbolic name of a Dataverse error code, or ``HTTP_<status>`` when unknown.

    Examples:
        >>> error_symbol("0x80040217", 404), error_symbol("", 412)
        ('ObjectDoesNotExist', 'HTTP_412')
    """
    return _SYMBOLS.get(code.lower(), f"HTTP_{status}")


# --- the batch ----------------------------------------------------------------------------


def batch_body(boundary: str, requests: Sequence[BatchRequest], prefix: str) -> bytes:
    r"""The ``$batch`` body: one ``application/http`` part per request, no changeset (§6.1).

    Args:
        boundary: the multipart boundary (also in the ``Content-Type`` header).
        requests: the requests, in order.
        prefix: the service root path, ``/api/data/v9.2/``.

    Examples:
        >>> batch_body("b", [BatchRequest(0, "DELETE", "contacts(1)")], "/api/data/v9.2/")
        b'--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nDELETE /api/data/v9.2/contacts(1) HTTP/1.1\r\n\r\n\r\n--b--\r\n'
    """
    chunks: list[bytes] = []
    for request in requests:
        lines = [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"{request.method} {prefix}{request.path} HTTP/1.1",
        ]
        body = b""
        if request.body is not None:
            lines.append("Content-Type: application/json; type=entry")
            body = orjson.dumps(request.body)
        lines.extend(f"{name}: {value}" for name, value in request.headers.items())
        chunks.append("\r\n".join(lines).encode() + b"\r\n\r\n" + body + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def read_batch(content_type: str, content: bytes) -> list[BatchAnswer] | None:
    """The answers of a ``$batch`` response, changesets flattened; None if not multipart.

    The body is split on its boundaries directly: the parts of a ``$batch`` answer are
    ``application/http`` (binary, one HTTP response each) or a changeset (a nested
    ``multipart/mixed``), and the standard library's MIME parser spent a third of a
    1,000-record write's client time on them. Anything else falls back to that parser.
    """
    boundary = _BOUNDARY.search(content_type or "")
    if not content_type.lower().startswith("multipart/") or boundary is None:
        return None
    try:
        return list(_split_answers(content, boundary[1].encode("latin-1")))
    except ValueError:
        message = _PARSER.parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + content
        )
        if not message.is_multipart():
            return None
        return [_read_answer(mime) for mime in _leaves(message)]


def _split_answers(content: bytes, boundary: bytes) -> Iterator[BatchAnswer]:
    """The answers in one multipart body (recursing into changesets)."""
    delimiter = b"--" + boundary
    chunks = content.split(delimiter)
    if len(chunks) < 3:
        raise ValueError("not a multipart body")
    for chunk in chunks[1:-1]:  # before the first delimiter: preamble; after "--": epilogue
        head, sep, body = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = chunk.lstrip(b"\n").partition(b"\n\n")
        if not sep:
            raise ValueError("a part without headers")
        headers = _headers(head)
        kind = headers.get("Content-Type") or ""
        nested = _BOUNDARY.search(kind)
        if kind.lower().startswith("multipart/") and nested:
            yield from _split_answers(body, nested[1].encode("latin-1"))
        else:
            yield _answer(body.rstrip(b"\r\n"))


def _headers(block: bytes) -> Message:
    message = Message()
    for line in block.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            message[name.strip()] = value.strip()
    return message


def _answer(payload: bytes) -> BatchAnswer:
    payload = payload.lstrip(b"\r\n")
    line, _, rest = payload.partition(b"\n")
    words = line.decode("latin-1").split(" ", 2)  # HTTP/1.1 204 No Content
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 500
    head, sep, body = rest.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = rest.partition(b"\n\n")
    if not sep:  # headers only
        head, body = rest, b""
    return BatchAnswer(status, _headers(head), body.strip())


def outcome(
    schema: ObjectSchema, op: WriteOp, request: BatchRequest, answer: BatchAnswer | None
) -> WriteOutcome:
    """What one answer says about its record (None: the server never ran the request)."""
    if answer is None:  # the server stopped early: this request never ran
        return WriteOutcome(
            ok=False,
            id=request.sent_id,
            error_symbol="NotProcessed",
            error_message="Dataverse answered the $batch without this request; send it again",
            transient=True,
        )
    if answer.status >= 300:
        return _failure(schema, op, request, answer)
    data: Any = orjson.loads(answer.body) if answer.body.strip() else {}
    found = data.get(schema.id_field) if isinstance(data, dict) else None
    entity = answer.headers.get("OData-EntityId") or answer.headers.get("Location")
    if found is None and entity and op == "insert":  # 204 + OData-EntityId (reference §5)
        match = _ENTITY_ID.search(str(entity))
        found = match[1] if match else None
    created = {"insert": True, "update": False, "delete": None}.get(op)
    if op == "upsert":  # with return=representation: 201 created, 200 updated
        created = {201: True, 200: False}.get(answer.status)
    return WriteOutcome(ok=True, id=guid(found) or request.sent_id, created=created)


def _failure(
    schema: ObjectSchema, op: WriteOp, request: BatchRequest, answer: BatchAnswer
) -> WriteOutcome:
    try:
        data: Any = orjson.loads(answer.body) if answer.body.strip() else {}
    except orjson.JSONDecodeError:
        data = {}
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or "").lower()
    message = str(error.get("message") or answer.body.decode("utf-8", "replace")[:500])
    return WriteOutcome(
        ok=False,
        id=request.sent_id,
        error_symbol=error_symbol(code, answer.status),
        error_message=message,
        error_code=code or str(answer.status),
        error_fields=_fields_named(message, schema),
        transient=answer.status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES,
        missing=_missing(op, request, code, message),
        # a create naming its own id found that id taken (reference §7: 0x80040237, "Cannot
        # insert duplicate key"); alternate-key duplicates are 0x80060892
        exists=op == "insert" and request.sent_id is not None and code == _DUPLICATE_KEY,
    )


def _missing(op: WriteOp, request: BatchRequest, code: str, message: str) -> bool:
    """Whether a 0x80040217 is about the record itself, not about a lookup's target."""
    if code != _NOT_FOUND or request.sent_id is None:
        return False
    # "contact With Id = <guid> Does Not Exist" (reference §7); a delete has no binds.
    return op == "delete" or request.sent_id.lower() in message.lower()


def _fields_named(message: str, schema: ObjectSchema) -> str:
    """The columns an error message names, as frames name them (``_x_value`` for lookups)."""
    names: list[str] = []
    for pattern in _FIELD_PATTERNS:
        match = pattern.search(message)
        if match is None:
            continue
        for name in (n.strip() for n in match[1].split(",")):
            lookup = f"_{name}_value"
            names.append(lookup if lookup in schema.fields else name)
        break
    return ",".join(dict.fromkeys(n for n in names if n))


def _leaves(message: Message) -> Iterator[Message]:
    for part in message.get_payload():
        assert isinstance(part, Message)
        if part.is_multipart():
            yield from _leaves(part)
        else:
            yield part


def _read_answer(mime: Message) -> BatchAnswer:
    raw = mime.get_payload(decode=True)
    payload = (raw if isinstance(raw, bytes) else b"").lstrip(b"\r\n")
    line, _, rest = payload.partition(b"\n")
    words = line.decode("latin-1").split(" ", 2)  # HTTP/1.1 204 No Content
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 500
    stream = io.BytesIO(rest)
    headers = http.client.parse_headers(stream)
    return BatchAnswer(status, headers, stream.read().strip())


# --- values -------------------------------------------------------------------------------


def guid(value: object) -> str | None:
    """The lower-case GUID, or None when ``value`` is not one (braces allowed).

    Examples:
        >>> guid("{49B0BE2E-D01C-ED11-B83E-000D3A572421}"), guid("x")
        ('49b0be2e-d01c-ed11-b83e-000d3a572421', None)
    """
    if not isinstance(value, str):
        return None
    text = value.strip().strip("{}")
    try:
        return str(uuid.UUID(text)) if len(text) == 36 else None
    except ValueError:
        return None


def logical_name(column: Field) -> str:
    """A column's logical name: ``parentcustomerid`` for ``_parentcustomerid_value``.

    Examples:
        >>> logical_name(Field("_parentcustomerid_value", "reference"))
        'parentcustomerid'
    """
    name = column.name
    if column.kind == "reference" and name.startswith("_") and name.endswith("_value"):
        return name[1:-6]
    return name


def aware(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC; raise for a naive datetime (``name`` says which argument)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), not naive: {moment.isoformat()}")
    return moment.astimezone(UTC)


def json_value(value: Any, name: str) -> Any:
    """A Python value as Dataverse JSON (reference §3.1): dates ISO, datetimes UTC ``Z``.

    Raises:
        ValueError: a naive datetime, NaN or infinity.
        TypeError: a value of a type JSON cannot carry.

    Examples:
        >>> json_value(datetime(2024, 5, 1, 12, 30, 5, 900, tzinfo=UTC), "x"), json_value(date(2024, 5, 1), "x")
        ('2024-05-01T12:30:05Z', '2024-05-01')
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, datetime):
        return aware(value, name).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{name}: {number} cannot be sent to Dataverse; give None for null")
        return number
    raise TypeError(f"{name}: Dataverse has no JSON for {type(value).__name__} {value!r}")


def key_literal(key: Field, value: Any) -> str | None:
    """The OData literal of an alternate-key value, or None when there is no value.

    Examples:
        >>> key_literal(Field("crmf_externalid", "string"), "O'Neil"), key_literal(Field("n", "integer"), 42)
        ("'O''Neil'", '42')
    """
    if value is None or value == "":
        return None
    if key.kind in ("id", "reference"):
        return guid(str(value).rpartition(":")[2])
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | numbers.Real):
        literal = json_value(value, key.name)
        return None if literal is None else str(literal)
    return "'" + str(value).replace("'", "''") + "'"


def canonical(column: Field, value: Any) -> str | None:
    """One text form for a value sent and the same value read back (None for no value).

    Dates as ``YYYY-MM-DD``, datetimes in UTC to the second, numbers without a trailing
    ``.0``, booleans ``true``/``false``, GUIDs in lower case (``table:`` prefix dropped).

    Examples:
        >>> canonical(Field("createdon", "datetime"), "2024-05-01T12:00:00Z")
        '2024-05-01T12:00:00'
        >>> canonical(Field("revenue", "number"), 20000.0), canonical(Field("x", "string"), "")
        ('20000', None)
    """
    if value is None or value == "":
        return None
    kind = column.kind
    if kind in ("id", "reference"):
        return str(value).rpartition(":")[2].strip().strip("{}").lower()
    if kind == "boolean":
        return "true" if value is True or str(value).lower() == "true" else "false"
    if kind in ("integer", "number") and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if kind == "date":
        if isinstance(value, datetime):
            value = value.astimezone(UTC).date() if value.tzinfo else value.date()
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if kind == "datetime":
        moment = parse_time(value) if isinstance(value, str) else value
        if isinstance(moment, datetime):
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if isinstance(moment, date):
            return f"{moment.isoformat()}T00:00:00"
    return str(value)


def parse_time(text: str) -> datetime:
    """Read a Web API DateTimeOffset (``2024-05-01T12:00:00Z``) as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
