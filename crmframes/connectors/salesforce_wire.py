"""Salesforce write values: batches checked, values serialised, per-record outcomes read.

Pure (no I/O). What :mod:`crmframes.connectors.salesforce_writes` sends and reads back:
records as sObject Collections JSON or Bulk API 2.0 CSV cells (reference/salesforce-api.md
§5, §8.1), and each result element or result row as a :class:`WriteOutcome` (which codes
are transient, which mean the record is missing; reference §6).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import deque
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, get_args

import numpy as np

from crmframes.connectors.base import WriteBatch, WriteOp, WriteOutcome

__all__ = [
    "MISSING_CODES",
    "NULL_CELL",
    "TRANSIENT_CODES",
    "EchoMatcher",
    "bulk_outcome",
    "check_batch",
    "check_op",
    "collection_outcome",
    "csv_bytes",
    "csv_rows",
    "is_missing",
    "is_transient",
    "json_record",
    "parse_datetime",
    "plain_value",
    "record_id",
    "split_bulk_error",
    "wire_text",
]

NULL_CELL = "#N/A"  # a Bulk API 2.0 CSV cell that sets the field to null (an empty cell: unchanged)
TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "API_CURRENTLY_DISABLED",
        "REQUEST_LIMIT_EXCEEDED",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",  # the record was fine; another one failed
        "PROCESSING_HALTED",
        "UNPROCESSED",
    }
)
MISSING_CODES = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND"})
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_op(op: object) -> None:
    """Refuse an operation that is not a :data:`WriteOp`."""
    if op not in get_args(WriteOp):
        raise ValueError(f"op must be one of {get_args(WriteOp)}, not {op!r}")


def check_batch(batch: WriteBatch, limit: int) -> tuple[Mapping[str, Any], ...]:
    """Refuse, before any call, a batch a Salesforce write cannot carry."""
    check_op(batch.op)
    if not _NAME_RE.fullmatch(batch.object or ""):
        raise ValueError(f"not an sObject name: {batch.object!r}")
    if len(batch.records) > limit:
        raise ValueError(
            f"{len(batch.records)} records in one {batch.op}; the most is {limit} "
            "(see write_limit())"
        )
    if batch.op == "upsert" and not _NAME_RE.fullmatch(batch.key or ""):
        raise ValueError(f"an upsert needs the external-id field as key, not {batch.key!r}")
    for index, record in enumerate(batch.records):
        if batch.op in ("update", "delete") and record_id(record) is None:
            raise ValueError(f"record {index} of the {batch.op} has no Id")
        if batch.op == "upsert" and batch.key not in record:
            raise ValueError(f"record {index} of the upsert has no {batch.key}")
    return batch.records


def record_id(record: Mapping[str, Any]) -> str | None:
    """The record's ``Id`` (any case), as text, or None.

    Examples:
        >>> record_id({"id": "003A"}), record_id({"LastName": "x"})
        ('003A', None)
    """
    for name, value in record.items():
        if name.lower() == "id":
            return None if value is None else str(value)
    return None


def plain_value(value: Any, where: str) -> Any:
    """A value as None, str, bool, int, float, date or aware datetime; refuse the rest."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} cannot be sent; use None for null")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"{where}: the datetime {value} has no time zone")
    if value is None or isinstance(value, str | bool | int | float | date):
        return value
    raise ValueError(f"{where}: a {type(value).__name__} cannot be sent to Salesforce")


def wire_text(value: Any) -> str:
    """A non-null plain value as Salesforce reads it in JSON strings and CSV cells."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # no exponent: 1e16 is 10000000000000000
    return str(value)


def json_record(batch: WriteBatch, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as an sObject Collections element: ``attributes``, an update's ``id``, wire values.

    Examples:
        >>> json_record(WriteBatch("Contact", "update", ()), {"Id": "003A", "Birthdate": date(2024, 1, 2)})
        {'attributes': {'type': 'Contact'}, 'id': '003A', 'Birthdate': '2024-01-02'}
    """
    out: dict[str, Any] = {"attributes": {"type": batch.object}}
    for name, raw in record.items():
        if type(raw) is str and (batch.op != "update" or name.lower() != "id"):  # most values
            out[name] = raw
            continue
        value = plain_value(raw, f"{batch.object}.{name}")
        key = "id" if name.lower() == "id" and batch.op == "update" else name
        plain = value is None or isinstance(value, bool | int | float | str)
        out[key] = value if plain else wire_text(value)
    return out


_ABSENT = object()


def csv_rows(batch: WriteBatch) -> tuple[list[str], list[list[str]]]:
    """The CSV header (every field any record names) and one row of cells per record."""
    header: dict[str, None] = {}
    for record in batch.records:
        header.update(dict.fromkeys(record))
    if batch.op == "delete":
        names = ["Id"]
        rows = [[record_id(r) or ""] for r in batch.records]
        return names, rows
    names = list(header)
    rows = []
    for record in batch.records:
        row = []
        for name in names:
            value = record.get(name, _ABSENT)
            if type(value) is str and value:  # most cells: text as it is
                row.append(value)
            elif value is _ABSENT:
                row.append("")  # an empty cell leaves the field as it is
            else:
                value = plain_value(value, f"{batch.object}.{name}")
                row.append(NULL_CELL if value is None or value == "" else wire_text(value))
        rows.append(row)
    return names, rows


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """The UTF-8 CSV of a header and rows, LF line endings, RFC 4180 quoting."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def is_transient(code: str, message: str) -> bool:
    """Whether a record failing with ``code`` may succeed if sent again later."""
    # A trigger or flow failure may wrap a lock error (reference §6).
    return code in TRANSIENT_CODES or (
        code == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" and "UNABLE_TO_LOCK_ROW" in message
    )


def is_missing(code: str, fields: str, op: str) -> bool:
    """Whether a record failing with ``code`` does not exist (never did, or is deleted)."""
    # An invalid cross reference without fields is about the record itself, not a lookup.
    return code in MISSING_CODES or (
        op in ("update", "delete") and code == "INVALID_CROSS_REFERENCE_KEY" and not fields
    )


def collection_outcome(
    result: dict[str, Any], op: str, sent_id: str | None, status: str
) -> WriteOutcome:
    """One sObject Collections result element as a :class:`WriteOutcome`.

    ``error_code`` is the HTTP status of the call; a delete's id is the id sent.

    Examples:
        >>> ok = {"id": "003A", "success": True, "created": True}
        >>> outcome = collection_outcome(ok, "upsert", None, "200")
        >>> outcome.ok, outcome.id, outcome.created, outcome.error_symbol
        (True, '003A', True, '')
    """
    if result.get("success"):
        created = {"insert": True, "update": False, "upsert": bool(result.get("created"))}.get(op)
        ident = sent_id if op == "delete" else (result.get("id") or sent_id)
        return WriteOutcome(ok=True, id=ident, created=created)
    errors = result.get("errors") or [{}]
    first = errors[0]
    code = str(first.get("statusCode") or "UNKNOWN_EXCEPTION")
    message = "; ".join(
        [str(first.get("message") or "")]
        + [f"{e.get('statusCode')}: {e.get('message')}" for e in errors[1:]]
    )
    fields = ",".join(str(f) for f in first.get("fields") or ())
    return WriteOutcome(
        ok=False,
        id=sent_id if op in ("update", "delete") else (result.get("id") or None),
        error_symbol=code,
        error_message=message,
        error_code=status,
        error_fields=fields,
        transient=is_transient(code, message),
        missing=is_missing(code, fields, op),
    )


def bulk_outcome(
    which: str, header: list[str], line: list[str], sent: str | None, op: WriteOp
) -> WriteOutcome:
    """One Bulk API 2.0 result row (successful, failed or unprocessed) as a :class:`WriteOutcome`.

    ``sent`` is the id the row carried (updates and deletes), which the outcome keeps.
    """
    if which == "unprocessedrecords":
        return WriteOutcome(
            ok=False,
            id=sent,
            error_symbol="UNPROCESSED",
            error_message="Salesforce did not process this record before the job ended",
            transient=True,
        )
    ident = line[header.index("sf__Id")] or None
    if which == "successfulResults":
        created = line[header.index("sf__Created")].lower() == "true"
        return WriteOutcome(ok=True, id=sent or ident, created=created)
    code, message, fields = split_bulk_error(line[header.index("sf__Error")])
    return WriteOutcome(
        ok=False,
        id=sent or ident,
        error_symbol=code,
        error_message=message,
        error_fields=fields,
        transient=is_transient(code, message),
        missing=is_missing(code, fields, op),
    )


def split_bulk_error(text: str) -> tuple[str, str, str]:
    """``CODE:message:fields --`` (reference §8.1) as its three parts."""
    code, _, rest = text.partition(":")
    rest = rest.strip()
    if rest.endswith("--"):
        message, _, fields = rest[:-2].rstrip().rpartition(":")
        return code.strip(), message.strip(), fields.strip()
    return code.strip(), rest, ""


def parse_datetime(text: str) -> datetime:
    """Salesforce's ``2024-01-02T03:04:05.000+0000`` as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class EchoMatcher:
    """Find which sent row a Bulk API 2.0 result row is, by the cells the result echoes.

    Equal rows are interchangeable (a multiset: each result takes one of them). Salesforce
    does not promise any order, but results mostly come in the order sent, so the next
    unclaimed row is tried first (one list comparison); the first result out of order
    builds the index of the rows still unclaimed, used from then on.

    Examples:
        >>> match = EchoMatcher([["a"], ["b"], ["a"]])
        >>> match(["a"]), match(["a"]), match(["b"]), match(["b"])
        (0, 2, 1, None)
    """

    def __init__(self, rows: list[list[str]]) -> None:
        self.rows = rows
        self.claimed = [False] * len(rows)
        self.next = 0  # the next row in sent order not yet claimed
        self.index: dict[tuple[str, ...], deque[int]] | None = None

    def __call__(self, echoed: list[str]) -> int | None:
        """The position of an unclaimed sent row equal to ``echoed`` (claimed now), or None."""
        if self.index is None:
            while self.next < len(self.rows) and self.claimed[self.next]:
                self.next += 1
            if self.next < len(self.rows) and self.rows[self.next] == echoed:
                self.claimed[self.next] = True
                return self.next
            self.index = {}
            for position, row in enumerate(self.rows):
                if not self.claimed[position]:
                    self.index.setdefault(tuple(row), deque()).append(position)
        queue = self.index.get(tuple(echoed))
        if not queue:
            return None
        position = queue.popleft()
        self.claimed[position] = True
        return position
