"""ISO 8601 timestamps as the CRMs accept them on input, read into aware UTC datetimes.

Edge helper of the sandbox (pure function), shared by the Salesforce and Dataverse value
modules: a date, or a date and time with optional seconds and fraction, and an optional
``Z`` or ``±hh:mm`` / ``±hhmm`` offset (no offset means UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["parse_iso8601"]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def parse_iso8601(text: str) -> datetime | None:
    """Return the UTC datetime ``text`` denotes, or None when it is not ISO 8601.

    Examples:
        >>> parse_iso8601("2024-01-02T03:04:05.5+01:00").isoformat()
        '2024-01-02T02:04:05.500000+00:00'
        >>> parse_iso8601("2024-02-30") is None
        True
    """
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment
