"""Salesforce wire values: datetime and date formats, and typed coercion of input values.

Edge helper of the Salesforce sandbox (pure functions). Stored records hold wire-format
values (reference/salesforce-api.md §2): datetimes ``YYYY-MM-DDThh:mm:ss.SSS+0000`` in UTC
(so they compare correctly as strings), dates ``YYYY-MM-DD``, numbers, booleans, ids of 18
characters. Input is coerced here once, from JSON (REST) or CSV text (Bulk API 2.0).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from crmframes.sandbox.isotime import parse_iso8601
from crmframes.sandbox.salesforce.schema import SfField

__all__ = ["CoercionError", "coerce_csv", "coerce_json", "format_datetime", "parse_datetime"]

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
INT_LIMIT = 2**31 - 1


class CoercionError(ValueError):
    """A value cannot be read as its field's type."""


def format_datetime(moment: datetime) -> str:
    """Format an aware datetime as Salesforce does: UTC, milliseconds, ``+0000``.

    Examples:
        >>> format_datetime(datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC))
        '2024-05-01T12:00:00.123+0000'
    """
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 datetime as Salesforce accepts it (``Z`` or an offset, optional millis).

    A value without an offset is read as UTC; a bare date is midnight UTC.

    Raises:
        CoercionError: not a datetime.
    """
    moment = parse_iso8601(text)
    if moment is None:
        raise CoercionError(text)
    return moment


def _date(text: str) -> str:
    if not _DATE_RE.fullmatch(text):
        raise CoercionError(text)
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise CoercionError(text) from exc
    return text


def _number(value: Any, field: SfField) -> int | float:
    if isinstance(value, bool):
        raise CoercionError(str(value))
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_RE.fullmatch(text):
            raise CoercionError(value)
        value = float(text)
    if (
        not isinstance(value, int | float)
        or value != value
        or value in (float("inf"), float("-inf"))
    ):
        raise CoercionError(str(value))
    if field.type == "int":
        if value != int(value):
            raise CoercionError(str(value))
        return int(value)
    return float(value)


def coerce_json(field: SfField, value: Any) -> Any:
    """Read a JSON body value as ``field``'s wire value; None stays None.

    Raises:
        CoercionError: the JSON value cannot be deserialised as the field's type (the real
            API answers such a body with ``JSON_PARSER_ERROR``).
    """
    if value is None:
        return None
    kind = field.type
    if field.is_number:
        return _number(value, field)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise CoercionError(str(value))
    if kind == "date":
        if not isinstance(value, str):
            raise CoercionError(str(value))
        return _date(value.strip())
    if kind == "datetime":
        if not isinstance(value, str):
            raise CoercionError(str(value))
        return format_datetime(parse_datetime(value))
    if isinstance(value, bool | dict | list):
        raise CoercionError(str(value))
    if value == "":
        return None  # Salesforce stores an empty text as null
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def coerce_csv(field: SfField, text: str) -> Any:
    """Read a Bulk API 2.0 CSV cell as ``field``'s wire value (``#N/A`` is handled by the caller).

    Raises:
        CoercionError: the text is not of the field's type.
    """
    kind = field.type
    if field.is_number:
        return _number(text, field)
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise CoercionError(text)
    if kind == "date":
        return _date(text.strip()[:10]) if "T" in text else _date(text.strip())
    if kind == "datetime":
        return format_datetime(parse_datetime(text))
    return text


def display(value: Any) -> str:
    """Render a wire value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
