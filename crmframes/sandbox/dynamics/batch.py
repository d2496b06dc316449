"""Dataverse ``$batch``: read a multipart/mixed batch, run its requests, write the answer.

Edge helper of the Dataverse sandbox (no sockets, no files). The protocol only: what each
inner request does is the ``handle`` callable's business (the Web API handler passes its own
dispatcher). Wire format and rules follow reference/dataverse-api.md §6: changesets are
atomic, ``$n`` stands for the entity created by the request with ``Content-ID: n`` of the
same changeset, and without ``odata.continue-on-error`` the batch stops at the first failure.

The multipart layer is the standard library's ``email`` parser (it copes with CRLF or LF,
quoted or bare boundaries, preamble and epilogue); the inner HTTP request headers are read
with ``http.client.parse_headers``, exactly as the sandbox server reads real requests.

Longer than 500 lines: one wire protocol ($batch multipart) read, run and written back in one
place.
"""

from __future__ import annotations

import email.errors
import email.policy
import http.client
import io
import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import orjson

from crmframes.sandbox.server import HttpError, Request, Response

__all__ = [
    "MAX_BATCH_REQUESTS",
    "BatchError",
    "BatchPart",
    "ChangeSet",
    "Rollback",
    "execute_batch",
    "parse_batch",
]

MAX_BATCH_REQUESTS = 1000  # reference §6; the PowerPlatform client's _MAX_BATCH_SIZE too
CHANGESET_METHODS = ("POST", "PUT", "DELETE", "PATCH")  # ODataLib's list, in its order
ERROR_CODE = "0x80040203"  # InvalidArgument; the code Dataverse uses here is unverified
ERROR_CONTENT_TYPE = "application/json; odata.metadata=minimal"

# compat32 is the policy the sandbox server's own header parsing uses; the header-object
# policies (default/HTTP) parse the same multipart structure ~12x slower on 1000 parts.
_PARSER = BytesParser(policy=email.policy.compat32)
_CRLF = b"\r\n"
# ``$1``, ``$1/lastname``, ``$1/primarycontactid/$ref``: a Content-ID, then the rest.
_REFERENCE_RE = re.compile(r"\$([^/?#()\s]+)(.*)", re.DOTALL)
# OData system resources that also start with ``$`` and are not Content-ID references.
_SYSTEM_RESOURCES = frozenset({"metadata", "batch", "entity", "crossjoin", "all", "root"})
# What requests leaves unescaped in a URL (requests.utils.requote_uri): quoting the rest makes
# an inner request's target look like the same call made outside a batch.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


class BatchError(Exception):
    """The batch as a whole is malformed; answer it with :meth:`response` (HTTP 400).

    Args:
        message: what is wrong, worded as Dataverse (ODataLib) words it.
        code: the Dataverse error code of the JSON body.
    """

    def __init__(self, message: str, *, code: str = ERROR_CODE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def response(self) -> Response:
        """The top-level 400 answer (plain Dataverse JSON, never multipart; §6, §7)."""
        return _error_response(400, self.code, self.message)


@dataclass
class BatchPart:
    """One request inside a batch, as written.

    ``url`` is verbatim from the request line: absolute, root-relative, relative to the
    service root, or a ``$n`` Content-ID reference.
    """

    method: str
    url: str
    headers: Message
    body: bytes = b""
    content_id: str | None = None


@dataclass
class ChangeSet:
    """Requests that succeed or fail together."""

    parts: list[BatchPart]


class Rollback(Protocol):
    """What ``transaction()`` yields: something that can undo the changeset's writes."""

    def rollback(self) -> None:
        """Undo every write made since the transaction began."""


def parse_batch(
    body: bytes, content_type: str, *, max_requests: int = MAX_BATCH_REQUESTS
) -> list[BatchPart | ChangeSet]:
    r"""Split a ``$batch`` body into requests and changesets, in order.

    Args:
        body: the request body.
        content_type: the request's ``Content-Type`` (``multipart/mixed; boundary=...``).
        max_requests: the most requests allowed, counting each changeset request.

    Returns:
        One :class:`BatchPart` per standalone request and one :class:`ChangeSet` per
        changeset.

    Raises:
        BatchError: the body is not a well-formed Dataverse batch.
        ValueError: ``max_requests`` is below 1.

    Examples:
        >>> body = (
        ...     b"--b\r\nContent-Type: application/http\r\n\r\n"
        ...     b"GET contacts?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n"
        ...     b"\r\n--b--\r\n"
        ... )
        >>> [part] = parse_batch(body, "multipart/mixed; boundary=b")
        >>> part.method, part.url, part.headers["Accept"]
        ('GET', 'contacts?$top=1', 'application/json')
    """
    if max_requests < 1:
        raise ValueError(f"max_requests must be at least 1, got {max_requests}")
    if not content_type.isprintable() or not content_type.isascii():
        raise BatchError(f"The content type {content_type!r} is not valid.")
    try:
        message = _PARSER.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    except RecursionError:
        # The email parser recurses once per multipart level; Dataverse allows two
        # (batch, changeset), so a body nested past Python's recursion limit is refused.
        raise BatchError("Nested change sets in a batch payload are not supported.") from None
    if message.get_content_type() != "multipart/mixed":
        raise BatchError(
            f"The content type '{content_type}' is not valid for a $batch request. "
            "Batch requests must use 'multipart/mixed' with a 'boundary' parameter."
        )
    items: list[BatchPart | ChangeSet] = []
    count = 0
    for position, mime in enumerate(_subparts(message, "batch"), start=1):
        kind = _part_kind(mime, in_changeset=False)
        if kind == "changeset":
            changeset = ChangeSet([_read_request(p, in_changeset=True) for p in _changeset(mime)])
            _check_content_ids(changeset, position)
            items.append(changeset)
            count += len(changeset.parts)
        else:
            items.append(_read_request(mime, in_changeset=False))
            count += 1
        if count > max_requests:
            raise BatchError(
                f"The number of requests in the batch exceeds the maximum ({max_requests})."
            )
    return items


def execute_batch(
    items: Sequence[BatchPart | ChangeSet],
    *,
    handle: Callable[[Request], Response],
    transaction: Callable[[], AbstractContextManager[Rollback]],
    api_root: str,
    continue_on_error: bool,
    base_url: str,
    changeset_failure_stops: bool = False,
) -> Response:
    """Run the batch's requests in order and answer with a multipart/mixed response.

    Args:
        items: what :func:`parse_batch` returned.
        handle: answers one inner request (the Web API dispatcher).
        transaction: opens the all-or-nothing scope of one changeset (the sandbox's
            ``Database.transaction``).
        api_root: the service root path, ``/api/data/v9.2``.
        continue_on_error: the batch carried ``Prefer: odata.continue-on-error``.
        base_url: ``https://host:port`` of the sandbox (resolves relative URLs).
        changeset_failure_stops: stop after a failed changeset even with
            ``continue_on_error`` (users report Dataverse doing so: powerapps-docs#2735,
            #2843).

    Returns:
        200 with every answer; without ``continue_on_error``, the first failure's status
        with only that answer (reference §6 "Errors").
    """
    root = "/" + api_root.strip("/")
    split = urlsplit(base_url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ValueError(f"base_url must be like 'https://host:port', got {base_url!r}")
    for item in items:
        if not isinstance(item, BatchPart | ChangeSet):
            raise TypeError(f"batch items are BatchPart or ChangeSet, got {type(item).__name__}")
    runner = _Runner(handle, f"{split.scheme}://{split.netloc}{root}/")
    bodies: list[bytes] = []
    for item in items:
        if isinstance(item, ChangeSet):
            body, failure = runner.run_changeset(item, transaction)
        else:
            response = runner.run(item, {})
            if response.after is not None:
                runner.afters.append(response.after)
            body = _http_part(response, item.content_id)
            failure = response.status if response.status >= 400 else None
        if failure is not None and not continue_on_error:
            return _batch_response(failure, [body], runner.afters)
        bodies.append(body)
        if failure is not None and changeset_failure_stops and isinstance(item, ChangeSet):
            break
    return _batch_response(200, bodies, runner.afters)


class _UnknownReference(Exception):
    def __init__(self, content_id: str) -> None:
        super().__init__(content_id)
        self.content_id = content_id


class _Runner:
    """Builds inner :class:`Request` objects, calls ``handle``, keeps ``after`` hooks."""

    def __init__(self, handle: Callable[[Request], Response], service_root: str) -> None:
        self.handle = handle
        self.service_root = service_root
        root = urlsplit(service_root)
        self.origin = (root.scheme, root.netloc.lower())
        self.afters: list[Callable[[], None]] = []

    def run(self, part: BatchPart, entities: dict[str, str]) -> Response:
        """Answer one part; ``entities`` maps Content-IDs to root-relative entity URLs."""
        try:
            url = _substitute(part.url, entities)
            body = _map_urls(part.body, lambda value: _substitute(value, entities))
        except _UnknownReference as exc:
            return _error_response(
                400,
                ERROR_CODE,
                f"Content-ID Reference: '${exc.content_id}' does not exist in the batch context.",
            )
        absolute = urlsplit(urljoin(self.service_root, quote(url, safe=_URL_SAFE)))
        if (absolute.scheme, absolute.netloc.lower()) != self.origin:
            # ODataLib refuses an absolute URL outside the batch's service root.
            return _error_response(
                400,
                ERROR_CODE,
                f"The URI '{url}' is not valid because it is not based on '{self.service_root}'.",
            )
        request = Request(
            method=part.method,
            target=absolute.path + (f"?{absolute.query}" if absolute.query else ""),
            path=absolute.path,
            query=parse_qs(absolute.query, keep_blank_values=True),
            headers=part.headers,
            body=body,
        )
        try:
            return self.handle(request)
        except HttpError as exc:
            return exc.response

    def run_changeset(
        self,
        changeset: ChangeSet,
        transaction: Callable[[], AbstractContextManager[Rollback]],
    ) -> tuple[bytes, int | None]:
        """Run a changeset atomically; return its encoded part and the failing status."""
        entities: dict[str, str] = {}
        answers: list[tuple[BatchPart, Response]] = []
        with transaction() as tx:
            for part in changeset.parts:
                response = self.run(part, entities)
                if response.status >= 400:
                    # Dataverse answers a failed changeset with the failing request alone
                    # and commits nothing of it (reference §6, powerapps-docs#2843).
                    tx.rollback()
                    failed = _http_part(response, part.content_id)
                    return _changeset_part([failed]), response.status
                answers.append((part, response))
                if part.content_id is not None:
                    entity = _entity_url(response, self.service_root)
                    if entity is not None:
                        entities[part.content_id] = entity
        self.afters.extend(r.after for _, r in answers if r.after is not None)
        return _changeset_part([_http_part(r, p.content_id) for p, r in answers]), None


# --- parsing -------------------------------------------------------------------------------


def _subparts(message: Message, what: str) -> list[Message]:
    boundary = message.get_boundary()
    if not boundary:
        raise BatchError(
            f"The content type '{message.get('Content-Type')}' specifies a batch payload; "
            "however, the payload either does not include a batch boundary or includes more "
            "than one boundary. In OData, batch payload content types must specify exactly "
            "one batch boundary in the 'boundary' parameter of the content type."
        )
    if any(isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in message.defects):
        raise BatchError(
            f"Encountered an unexpected end of input while reading the {what} payload: "
            f"the closing delimiter '--{boundary}--' is missing."
        )
    if not message.is_multipart():
        # Also a batch or changeset of no part at all: MIME requires one (RFC 2046 §5.1.1),
        # and no client sends it (the PowerPlatform client skips empty changesets).
        raise BatchError(f"The {what} payload contains no part delimited by '--{boundary}'.")
    parts: list[Message] = message.get_payload()  # type: ignore[assignment]
    return parts


def _part_kind(mime: Message, *, in_changeset: bool) -> str:
    declared = mime.get("Content-Type")
    if declared is None:
        raise BatchError(
            "The 'Content-Type' header is missing. The 'Content-Type' header must be "
            "specified for each MIME part of a batch message."
        )
    content_type = mime.get_content_type()
    if content_type == "application/http":
        return "request"
    if content_type == "multipart/mixed":
        if in_changeset:
            raise BatchError("Nested change sets in a batch payload are not supported.")
        return "changeset"
    raise BatchError(
        f"The 'Content-Type' header value '{declared}' is invalid. When this is the start "
        "of the change set, the value must be 'multipart/mixed'; otherwise it must be "
        "'application/http'."
    )


def _changeset(mime: Message) -> list[Message]:
    parts = _subparts(mime, "change set")
    for part in parts:
        _part_kind(part, in_changeset=True)
    return parts


def _read_request(mime: Message, *, in_changeset: bool) -> BatchPart:
    raw = mime.get_payload(decode=True)
    payload = (raw if isinstance(raw, bytes) else b"").lstrip(b"\r\n")
    line, _, rest = payload.partition(b"\n")
    request_line = _decode(line.rstrip(b"\r"))
    # Split at the first and last space only: the PowerPlatform client writes $filter
    # expressions unescaped, spaces and non-ASCII letters included.
    tokens = request_line.split(" ")
    if len(tokens) < 3 or not tokens[0] or not tokens[1]:
        raise BatchError(
            f"The request line '{request_line}' is invalid. The request line at the start of "
            "each operation must be of the format 'HttpMethod RequestUrl HttpVersion'."
        )
    method, url, version = tokens[0].upper(), " ".join(tokens[1:-1]), tokens[-1]
    if version != "HTTP/1.1":
        raise BatchError(
            f"The HTTP version '{version}' used in a batch operation request or response is "
            "not valid. The value must be 'HTTP/1.1'."
        )
    if in_changeset and method not in CHANGESET_METHODS:
        raise BatchError(
            f"An invalid HTTP method '{method}' was detected for a request in a change set. "
            "Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', "
            "and 'PATCH'."
        )
    stream = io.BytesIO(rest)
    try:
        # The headers end at a blank line or at the end of the part: the PowerPlatform
        # client writes body-less requests (DELETE, GET) without the blank line.
        headers = http.client.parse_headers(stream)
    except http.client.HTTPException as exc:
        raise BatchError(f"The headers of the request '{request_line}' are invalid: {exc}") from exc
    body = stream.read()
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) <= len(body):
        body = body[: int(length)]
    # Content-ID belongs on the MIME part (OData 4.0); some clients put it on the request.
    content_id = mime.get("Content-ID") or headers.get("Content-ID")
    content_id = str(content_id).strip() if content_id is not None else None
    return BatchPart(method, url, headers, body, content_id or None)


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _check_content_ids(changeset: ChangeSet, position: int) -> None:
    declared: set[str] = set()
    for index, part in enumerate(changeset.parts, start=1):
        for ref in _references(part):
            if ref in declared or not ref.isdigit() or not 1 <= int(ref) < index:
                continue  # an unknown reference fails that request alone, when it runs
            if changeset.parts[int(ref) - 1].content_id is None:
                raise BatchError(
                    f"Request {ref} of the change set at position {position} has no "
                    f"Content-ID header, so request {index} cannot refer to it as '${ref}'. "
                    f"Add 'Content-ID: {ref}' to the MIME headers of request {ref}."
                )
        if part.content_id is not None:
            if part.content_id in declared:
                raise BatchError(
                    f"The content ID '{part.content_id}' was found more than once in the same "
                    "change set. Content IDs have to be unique across all operations of a "
                    "change set."
                )
            declared.add(part.content_id)


def _references(part: BatchPart) -> list[str]:
    refs: list[str] = []

    def note(value: str) -> str:
        reference = _reference(value)
        if reference is not None:
            refs.append(reference[0])
        return value

    note(part.url)
    _map_urls(part.body, note)
    return refs


# --- Content-ID references -----------------------------------------------------------------


def _reference(value: str) -> tuple[str, str] | None:
    match = _REFERENCE_RE.fullmatch(value)
    if match is None or match.group(1) in _SYSTEM_RESOURCES:
        return None
    return match.group(1), match.group(2)


def _substitute(value: str, entities: dict[str, str]) -> str:
    reference = _reference(value)
    if reference is None:
        return value
    content_id, rest = reference
    if content_id not in entities:
        raise _UnknownReference(content_id)
    return entities[content_id] + rest


def _map_urls(body: bytes, replace: Callable[[str], str]) -> bytes:
    """Apply ``replace`` to the URLs of a JSON body; return the body (re-encoded if changed)."""
    # Only where a URL is expected: "<nav>@odata.bind" values and "@odata.id" (reference
    # §6); a column value that happens to read "$100" is data, not a reference.
    if b'"$' not in body:
        return body
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # not JSON: the handler answers that
    changed = _walk(payload, replace)
    return orjson.dumps(payload) if changed else body


def _walk(node: Any, replace: Callable[[str], str]) -> bool:
    changed = False
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("@odata.bind") or key == "@odata.id":
                if isinstance(value, str):
                    node[key] = replace(value)
                elif isinstance(value, list):
                    node[key] = [replace(v) if isinstance(v, str) else v for v in value]
                changed = changed or node[key] != value
            else:
                changed = _walk(value, replace) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _walk(value, replace) or changed
    return changed


def _entity_url(response: Response, service_root: str) -> str | None:
    """The root-relative URL of the entity a response names (OData-EntityId, Location)."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    value = headers.get("odata-entityid") or headers.get("location")
    if not value:
        return None
    split = urlsplit(urljoin(service_root, value))
    return split.path + (f"?{split.query}" if split.query else "")


# --- writing -------------------------------------------------------------------------------


def _http_part(response: Response, content_id: str | None) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}")
    status = response.status
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines.extend(f"{k}: {v}" for k, v in response.headers.items())
    if not any(k.lower() == "odata-version" for k in response.headers):
        lines.append("OData-Version: 4.0")
    return (
        "\r\n".join(head).encode("latin-1")
        + _CRLF * 2
        + "\r\n".join(lines).encode("latin-1")
        + _CRLF * 2
        + response.body
    )


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    """Parts between delimiters, up to the closing delimiter (no CRLF after it)."""
    delimiter = b"--" + boundary.encode("ascii")
    chunks = [delimiter + _CRLF + part + _CRLF for part in parts]
    return b"".join(chunks) + delimiter + b"--"


def _changeset_part(parts: list[bytes]) -> bytes:
    boundary = f"changesetresponse_{uuid.uuid4()}"
    head = f"Content-Type: multipart/mixed; boundary={boundary}".encode("ascii")
    return head + _CRLF * 2 + _multipart(boundary, parts)


def _batch_response(status: int, parts: list[bytes], afters: list[Callable[[], None]]) -> Response:
    boundary = f"batchresponse_{uuid.uuid4()}"
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    response = Response(status, _multipart(boundary, parts) + _CRLF, headers)
    if afters:

        def run_afters() -> None:
            for after in afters:
                after()

        response.after = run_afters
    return response


def _error_response(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response.raw(status, body, ERROR_CONTENT_TYPE, {"OData-Version": "4.0"})
