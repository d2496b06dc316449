"""The pandas reference of filters: the rows of a frame a filter selects, by the contract.

Pure. :func:`evaluate` implements the contract of :mod:`crmframes.filters` on a frame of
typed values; the sandboxes filter exactly so, and the compilers' tests compare with it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from crmframes.arguments import check_frame
from crmframes.errors import ColumnNotFoundError, DataError
from crmframes.filters.literals import Family, literal_family
from crmframes.filters.tree import (
    And,
    Compare,
    Expr,
    IsIn,
    IsNull,
    Not,
    NotIn,
    NotNull,
    Or,
    StrMatch,
)
from crmframes.filters.validation import validate

__all__ = ["evaluate"]

_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith,
}  # fmt: skip


def evaluate(expr: Expr, df: pd.DataFrame) -> pd.Series:
    """Return the boolean mask of the rows of ``df`` the filter selects (the contract above).

    ``df`` holds typed values: strings, numbers, bools, dates (``datetime.date``), datetimes
    (tz-aware timestamps; naive ones are read in UTC). Column names are the field names.

    Raises:
        ColumnNotFoundError: the filter reads a column ``df`` does not have.
        DataError: a column's values cannot be compared with the literal.
        FilterError: the filter breaks a rule (it is validated first).

    Examples:
        >>> from crmframes.filters import F
        >>> df = pd.DataFrame({"a": [1, None, 3], "b": ["X", "y", None]})
        >>> evaluate((F("a") > 1) | (F("b") == "x"), df).tolist()
        [True, False, True]
        >>> evaluate(F("b") != "x", df).tolist()
        [False, True, True]
    """
    validate(expr)
    check_frame(df)
    return pd.Series(_mask(expr, df), index=df.index, dtype=bool)


def _mask(node: Expr, df: pd.DataFrame) -> np.ndarray:
    if isinstance(node, And):
        masks = [_mask(item, df) for item in node.items]
        reduce = np.logical_or.reduce if isinstance(node, Or) else np.logical_and.reduce
        return np.asarray(reduce(masks), dtype=bool)
    if isinstance(node, Not):
        return ~_mask(node.item, df)
    name: str = node.field  # type: ignore[attr-defined]
    if name not in df.columns:
        raise ColumnNotFoundError(name, [str(c) for c in df.columns])
    column = df[name]
    present: np.ndarray = np.asarray(column.notna(), dtype=bool)
    if isinstance(node, IsNull):
        return present if isinstance(node, NotNull) else ~present
    if isinstance(node, Compare) and node.op == "!=":  # pandas: != is ~(==), True on null
        return ~_mask(Compare(node.field, "==", node.value), df)
    if isinstance(node, NotIn):
        return ~_mask(IsIn(node.field, node.values), df)
    out = np.zeros(len(column), dtype=bool)
    values = column[present].tolist()
    if isinstance(node, IsIn):
        family = literal_family(node.values[0])
        members = {_comparable(v, family, name) for v in node.values}
        members |= {float(v) for v in members if isinstance(v, Decimal)}  # float cells
        out[present] = [_comparable(v, family, name) in members for v in values]
    elif isinstance(node, StrMatch):
        text, match = node.value.lower(), _TEXT_TESTS[node.function]
        out[present] = [match(_comparable(v, "string", name), text) for v in values]
    else:
        assert isinstance(node, Compare)
        family = literal_family(node.value)
        right = _comparable(node.value, family, name)
        compare = _PY_OPS[node.op]
        try:
            cells = [_comparable(v, family, name) for v in values]
            # A Decimal literal means the decimal number: compare float cells with its float
            low = float(right) if isinstance(right, Decimal) else right
            out[present] = [compare(c, low if isinstance(c, float) else right) for c in cells]
        except TypeError as exc:
            raise DataError(
                f"column {name!r} cannot be compared with {node.value!r}: {exc}"
            ) from exc
    return out


def _comparable(value: Any, family: Family, column: str) -> Any:
    """Return a cell (or literal) as the contract compares it: text lower-cased, UTC times."""
    if family == "string" and isinstance(value, str):
        return value.lower()
    if family == "datetime" and isinstance(value, (datetime, np.datetime64)):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    if family == "date" and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value  # midnights: dates
    if family == "boolean":
        return bool(value)
    if family == "number" and not isinstance(value, (str, date)):
        return value
    raise DataError(f"column {column!r} holds {value!r}, which is not a {family}")
