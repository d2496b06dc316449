"""Reconcile two frames of the same records: which rows are only on one side, which fields differ.

Pure: pandas and numpy only. :func:`reconcile` matches rows by key and compares the chosen
columns after the conversions imports apply, so representation is never mistaken for a
difference: timestamps are compared as instants (``10:00+01:00`` equals ``09:00Z``; naive
values are read in ``timezone``), ISO strings against timestamps as timestamps, numbers as
numbers (``1`` equals ``1.0``; floats within a relative tolerance), booleans against
``"true"``/``"false"``, and null equals null (and, by default, the empty string).

Examples:
    >>> import pandas as pd
    >>> store = pd.DataFrame({"Id": ["a", "b"], "City": ["Paris", "Lyon"]})
    >>> crm = pd.DataFrame({"Id": ["b", "c"], "City": ["Nice", "Metz"]})
    >>> result = reconcile(store, crm, key="Id")
    >>> result.differences.to_dict("records")
    [{'Id': 'b', 'field': 'City', 'left': 'Lyon', 'right': 'Nice'}]
    >>> result.only_left["Id"].tolist(), result.only_right["Id"].tolist()
    (['a'], ['c'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmframes import charts, display
from crmframes.arguments import check_bool, check_frame, check_names, check_number
from crmframes.errors import ColumnNotFoundError, DataError
from crmframes.frames import time_zone
from crmframes.writes import canonical

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ReconcileResult", "reconcile"]

_SUFFIXES = ("\x00left", "\x00right")


@dataclass
class ReconcileResult:
    """The outcome of :func:`reconcile`.

    Attributes:
        only_left: rows of the left frame whose key is not on the right.
        only_right: rows of the right frame whose key is not on the left.
        differences: one row per differing field of a matched record: the key column(s),
            ``field``, ``left`` and ``right`` (the values as each frame holds them).
        summary: one row per compared field with the number of records where it differs,
            sorted by that number.
        counts: ``left``, ``right``, ``matched``, ``only_left``, ``only_right``,
            ``identical`` and ``different`` record counts.
    """

    only_left: pd.DataFrame
    only_right: pd.DataFrame
    differences: pd.DataFrame
    summary: pd.DataFrame
    counts: dict[str, int]

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"ReconcileResult({c['matched']:,} matched: {c['identical']:,} identical, "
            f"{c['different']:,} different; {c['only_left']:,} only left, "
            f"{c['only_right']:,} only right)"
        )

    def _repr_html_(self) -> str:
        names = ("left", "right", "matched", "identical", "different", "only_left", "only_right")
        facts = [(name.replace("_", " "), self.counts.get(name, 0)) for name in names]
        summary = self.summary[self.summary["different"] > 0]
        return display.card(
            "reconciliation",
            facts,
            [
                ("differences per field", display.frame(summary, rows=30) if len(summary) else ""),
                (
                    "a sample of differences",
                    display.frame(self.differences, rows=10) if len(self.differences) else "",
                ),
            ],
        )

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the records that differ, per field that differs; return the matplotlib axes."""
        differ = self.summary[self.summary["different"] > 0]
        counts = dict(zip(differ["field"], differ["different"], strict=True))
        title = "records that differ, per field"
        return charts.bars(counts, title=title, xlabel="records", ax=ax, **kwargs)


def _check(frame: pd.DataFrame, side: str, keys: list[str], columns: list[str]) -> None:
    available = [str(c) for c in frame.columns]
    for name in [*keys, *columns]:
        if name not in frame.columns:
            raise ColumnNotFoundError(name, available)
    nulls = frame[keys].isna().any(axis=1)
    if nulls.any():
        raise DataError(
            f"{side} has {int(nulls.sum())} row(s) with an empty key {keys}; "
            "drop or fill them first"
        )
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        sample = frame.loc[duplicated, keys].drop_duplicates().head(3).to_dict("records")
        raise DataError(
            f"{side} has duplicated keys {sample}; deduplicate it first (crmframes.deduplicate)"
        )


def _null(series: pd.Series, empty_is_null: bool) -> np.ndarray:
    nulls = series.isna().to_numpy(dtype=bool).copy()
    if empty_is_null and (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
        text = series.astype("str")
        nulls |= (text.str.strip() == "").to_numpy(dtype=bool, na_value=False)
    return np.asarray(nulls, dtype=bool)


def _instants(series: pd.Series, timezone: str) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):  # a wall time a DST change makes
        # ambiguous or skips has no one instant: NaT, so it is compared as text
        local = series.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        return local.dt.tz_convert("UTC")
    return pd.Series(
        [_one_instant(v, timezone) for v in series.tolist()],
        index=series.index,
        dtype="datetime64[ns, UTC]",
    )


def _one_instant(value: Any, timezone: str) -> Any:
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        return pd.NaT
    if moment is pd.NaT:
        return pd.NaT
    if moment.tzinfo is not None:
        return moment.tz_convert("UTC")
    local = moment.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return pd.NaT if local is pd.NaT else local.tz_convert("UTC")


def _differs(
    a: pd.Series, b: pd.Series, *, timezone: str, rtol: float, empty_is_null: bool
) -> np.ndarray:
    """Whether each pair of values differs, after the conversions of the module docstring."""
    null_a, null_b = _null(a, empty_is_null), _null(b, empty_is_null)
    both = ~null_a & ~null_b
    differ = np.asarray(null_a != null_b, dtype=bool)
    if not both.any():
        return differ
    timelike = any(pd.api.types.is_datetime64_any_dtype(s.dtype) for s in (a, b))
    numeric = all(
        pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
        for s in (a, b)
    )
    if timelike:
        left, right = _instants(a[both], timezone), _instants(b[both], timezone)
        unparsed = left.isna().to_numpy() | right.isna().to_numpy()
        same = (left.to_numpy() == right.to_numpy()) & ~unparsed
        fallback = _canonical_differs(a[both][unparsed], b[both][unparsed])
        result = ~same
        result[unparsed] = fallback
        differ[both] = result
    elif numeric and all(pd.api.types.is_integer_dtype(s.dtype) for s in (a, b)):
        # whole numbers exactly: through float64 a 1 in 10**9 (or any past 2**53) vanishes
        differ[both] = a[both].to_numpy(dtype="int64") != b[both].to_numpy(dtype="int64")
    elif numeric:
        left = a[both].to_numpy(dtype="float64")
        right = b[both].to_numpy(dtype="float64")
        differ[both] = ~np.isclose(left, right, rtol=rtol, atol=0.0)
    else:
        differ[both] = _canonical_differs(a[both], b[both])
    return np.asarray(differ, dtype=bool)


def _canonical_differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    left = [canonical(v) for v in a.tolist()]
    right = [canonical(v) for v in b.tolist()]
    return np.array([x != y for x, y in zip(left, right, strict=True)], dtype=bool)


def reconcile(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    key: str | Sequence[str],
    columns: Sequence[str] | None = None,
    timezone: str = "UTC",
    rtol: float = 1e-9,
    empty_is_null: bool = True,
) -> ReconcileResult:
    """Compare two frames of the same records (e.g. the campaign store and a fresh CRM import).

    Args:
        left: one side (conventionally the campaign store).
        right: the other side (conventionally the CRM).
        key: the column(s) identifying a record on both sides (no nulls, no duplicates).
        columns: the columns to compare; by default every column both frames have.
        timezone: the zone in which naive timestamps are read.
        rtol: the relative tolerance of float comparisons.
        empty_is_null: whether an empty string equals null.

    Returns:
        Rows only on each side, the field-level differences (a long frame), a per-field
        summary and the counts.

    Raises:
        ColumnNotFoundError: a key or a column is missing on one side (close matches listed).
        DataError: empty or duplicated keys on one side, or keys of kinds that cannot match.
    """
    check_frame(left, "left")
    check_frame(right, "right")
    keys = check_names("key", key)
    if columns is not None:
        columns = check_names("columns", columns, empty=True)
    time_zone(timezone)
    check_number("rtol", rtol, min=0.0, max=1.0)
    check_bool("empty_is_null", empty_is_null)
    if columns is None:
        compared = [c for c in left.columns if c in right.columns and c not in keys]
    else:
        compared = [c for c in columns if c not in keys]
    _check(left, "left", keys, compared)
    _check(right, "right", keys, compared)
    try:
        joined = left[keys + compared].merge(
            right[keys + compared], on=keys, how="outer", suffixes=_SUFFIXES, indicator=True
        )
    except ValueError as exc:  # keys of kinds that cannot be matched (numbers and text)
        kinds = ", ".join(f"{k}: {left[k].dtype} vs {right[k].dtype}" for k in keys)
        raise DataError(
            f"the keys cannot be matched ({kinds}); cast one side first, e.g. "
            f"df[{keys[0]!r}].astype('str')"
        ) from exc
    side = joined["_merge"]
    left_keys = joined.loc[side == "left_only", keys]
    right_keys = joined.loc[side == "right_only", keys]
    only_left = left.merge(left_keys, on=keys, how="inner")
    only_right = right.merge(right_keys, on=keys, how="inner")
    matched = joined[side == "both"].reset_index(drop=True)

    parts, counts_by_field = [], {}
    any_diff = np.zeros(len(matched), dtype=bool)
    for column in compared:
        a, b = matched[str(column) + _SUFFIXES[0]], matched[str(column) + _SUFFIXES[1]]
        differ = _differs(a, b, timezone=timezone, rtol=rtol, empty_is_null=empty_is_null)
        counts_by_field[column] = int(differ.sum())
        if differ.any():
            any_diff |= differ
            part = matched.loc[differ, keys].copy()
            part["field"] = column
            part["left"] = pd.Series(a[differ].tolist(), index=part.index, dtype=object)
            part["right"] = pd.Series(b[differ].tolist(), index=part.index, dtype=object)
            parts.append(part)
    differences = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            {**{k: pd.Series(dtype=object) for k in keys}, "field": [], "left": [], "right": []}
        )
    )
    if parts:
        order = {c: i for i, c in enumerate(compared)}
        differences = differences.sort_values(
            [*keys, "field"], key=lambda s: s.map(order) if s.name == "field" else s, kind="stable"
        ).reset_index(drop=True)
    summary = (
        pd.DataFrame({"field": list(counts_by_field), "different": list(counts_by_field.values())})
        .sort_values("different", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    counts = {
        "left": len(left),
        "right": len(right),
        "matched": len(matched),
        "only_left": len(only_left),
        "only_right": len(only_right),
        "identical": int((~any_diff).sum()),
        "different": int(any_diff.sum()),
    }
    return ReconcileResult(only_left, only_right, differences, summary, counts)
