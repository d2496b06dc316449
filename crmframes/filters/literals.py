"""Filter literals: the values a filter may compare with, their families and their checks.

Pure. A literal is normalised when a node is built (numpy scalars unwrapped, datetimes held
in UTC), then checked (:func:`literal_problem`); :func:`literal_family` says which family a
checked literal belongs to, which the compilers and :func:`~crmframes.filters.evaluate` use.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from crmframes.errors import ArgumentTypeError, FilterError

__all__ = ["Family", "filter_error", "literal_family", "literal_problem", "normalize_literal"]

Family = Literal["string", "number", "boolean", "date", "datetime"]

_FAMILIES: tuple[tuple[type | tuple[type, ...], Family], ...] = (
    (bool, "boolean"), ((int, float, Decimal), "number"), (str, "string"),
    (datetime, "datetime"), (date, "date"),
)  # fmt: skip


def literal_family(value: Any) -> Family:
    """Return the family of a checked literal: string, number, boolean, date or datetime.

    Examples:
        >>> literal_family(3), literal_family(True), literal_family(date(2024, 1, 1))
        ('number', 'boolean', 'date')
    """
    for kind, family in _FAMILIES:
        if isinstance(value, kind):
            return family
    raise ArgumentTypeError(f"not a filter literal: {value!r}")


def filter_error(rule: str, message: str) -> FilterError:
    """Return the :class:`~crmframes.errors.FilterError` of a broken ``rule``."""
    return FilterError(message, rule=rule)


def normalize_literal(value: Any) -> Any:
    """Return numpy scalars as Python values and datetimes in UTC (anything else as is)."""
    if value is pd.NaT:
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        elif isinstance(value, (np.bool_, np.integer, np.floating, np.str_)):
            return value.item()
    if isinstance(value, pd.Timestamp):
        if value.nanosecond:
            return value  # refused by the check: a Python datetime cannot hold it
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # naive datetimes are read in UTC
        if value.utcoffset() is not None:
            return value.astimezone(UTC)
    return value


def literal_problem(value: Any) -> str | None:
    """Say why ``value`` (normalised) is not a literal a CRM can compare; None when it is."""
    if value is None or value is pd.NaT or value is pd.NA:
        return "null is not a value to compare with: use F(x).is_null() / .not_null()"
    if isinstance(value, (bool, int, date)) and not isinstance(value, (pd.Timestamp, datetime)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a number a CRM can compare"
    if isinstance(value, Decimal):
        return None if value.is_finite() else f"{value!r} is not a number a CRM can compare"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{value!r} is not valid Unicode text (a lone surrogate)"
        return None
    if isinstance(value, pd.Timestamp):
        return f"{value!r} has sub-microsecond precision; round it, e.g. ts.floor('us')"
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return f"{value!r} has a time zone without a UTC offset"
        return None
    return (
        f"a {type(value).__name__} is not a filter literal (use int, float, Decimal, bool, "
        "str, date, datetime or pandas.Timestamp)"
    )
