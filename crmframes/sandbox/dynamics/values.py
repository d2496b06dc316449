"""Dataverse wire values: date formats and typed coercion of JSON input, plus the error shape.

Edge helper of the Dataverse sandbox (pure functions). Stored records hold Web API wire
values (reference/dataverse-api.md §3.1): DateTimeOffset ``2024-01-01T10:00:00Z`` (UTC,
whole seconds, so they compare as strings), Edm.Date ``2024-01-01``, GUIDs in lower case,
ints for whole numbers and option values, floats for money and decimals.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from crmframes.sandbox.dynamics.schema import NUMBER_TYPES, OPTION_TYPES, TEXT_TYPES, DvAttribute
from crmframes.sandbox.isotime import parse_iso8601
from crmframes.sandbox.server import HttpError, Response

__all__ = [
    "CoercionError",
    "DataverseError",
    "coerce_json",
    "error_response",
    "format_datetime",
    "normalize_guid",
    "parse_datetime",
    "wants_annotation",
]

INT32 = 2**31 - 1
INT64 = 2**63 - 1
ODATA_HEADERS = {"OData-Version": "4.0"}


class CoercionError(ValueError):
    """A JSON value cannot be read as its column's type."""


class DataverseError(Exception):
    """A Web API error: ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def response(self, headers: dict[str, str] | None = None) -> Response:
        """The error as a Web API response."""
        return error_response(self.status, self.code, self.message, headers)

    def http(self) -> HttpError:
        """The error as an exception a handler can raise."""
        return HttpError(self.response())


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A Dataverse error response (reference §7)."""
    return Response.json(
        status, {"error": {"code": code, "message": message}}, {**ODATA_HEADERS, **(headers or {})}
    )


def format_datetime(moment: datetime) -> str:
    """Format an aware datetime as the Web API does: UTC, whole seconds, ``Z``.

    Examples:
        >>> format_datetime(datetime(2024, 5, 1, 12, 0, 0, 900000, tzinfo=UTC))
        '2024-05-01T12:00:00Z'
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 value as Dataverse accepts it; no offset means UTC; seconds kept whole.

    Raises:
        CoercionError: not a date or datetime, or before 1753 (SQL Server's datetime range).
    """
    moment = parse_iso8601(text)
    if moment is None or moment.year < 1753:
        raise CoercionError(text)
    return moment.replace(microsecond=0)


def normalize_guid(value: object) -> str | None:
    """Return the lower-case canonical GUID text, or None when ``value`` is not a GUID."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("{}")
    if len(text) != 36:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def coerce_json(attr: DvAttribute, value: Any) -> Any:
    """Read a JSON body value as ``attr``'s wire value; None stays None.

    Raises:
        CoercionError: the value is not of the column's type (the caller answers 400).
    """
    if value is None:
        return None
    kind = attr.type
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.String'."
            )
        return value
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'."
            )
        return value
    if kind in OPTION_TYPES or kind in ("Integer", "BigInt"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Int32'."
            )
        return int(value)
    if kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Decimal'."
            )
        try:
            number = float(value)
        except ValueError as exc:
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Decimal'."
            ) from exc
        if number != number or number in (float("inf"), float("-inf")):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Decimal'."
            )
        return number
    if kind == "DateTime":
        if not isinstance(value, str):
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type '{attr.edm_type}'."
            )
        if attr.date_only:
            try:
                return date.fromisoformat(value.strip()[:10]).isoformat()
            except ValueError as exc:
                raise CoercionError(
                    f"Cannot convert the literal '{value}' to the expected type 'Edm.Date'."
                ) from exc
        return format_datetime(parse_datetime(value))
    if kind == "Uniqueidentifier":
        guid = normalize_guid(value)
        if guid is None:
            raise CoercionError(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'."
            )
        return guid
    raise CoercionError(f"The property '{attr.logical_name}' cannot be set directly.")


def wants_annotation(wanted: str, annotation: str) -> bool:
    """Whether an ``odata.include-annotations`` value (names, ``Ns.*``, ``*``) asks for one."""
    patterns = [p.strip() for p in wanted.split(",")]
    return any(
        p in ("*", annotation) or (p.endswith(".*") and annotation.startswith(p[:-1]))
        for p in patterns
    )
