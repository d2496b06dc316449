"""Turn frames into Arrow tables DuckDB stores faithfully, and query results back into frames.

Pure (pandas and pyarrow, no DuckDB). The round trip keeps what a user merged: pandas 3
``str`` columns come back as ``str``, tz-aware timestamps as ``datetime64[us, UTC]`` (any
zone is stored as the same instant in UTC; DuckDB ``TIMESTAMPTZ`` holds microseconds),
integers and booleans stay exact, numpy where they were numpy and nullable (``Int64``,
``boolean``) where they were merged nullable or now hold nulls (rows from a batch that
lacked the column).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from crmframes.errors import DataError

__all__ = [
    "RESERVED_PREFIX",
    "arrow_to_frame",
    "dtype_hint",
    "frame_to_arrow",
    "is_compatible",
    "storage_type",
]

RESERVED_PREFIX = "__crmframes_"

_NULLABLE: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}

# pandas' masked dtypes: a column merged as one of these comes back nullable.
_MASKED = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    | {"boolean", "Float32", "Float64"}
)

# Incoming DuckDB type -> stored types it can be written into. Exact, except BIGINT into
# DOUBLE beyond 2**53: a pandas int64 batch for a float column is common, such ids are not.
_WIDENS_TO: dict[str, frozenset[str]] = {
    "TINYINT": frozenset({"SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE"}),
    "SMALLINT": frozenset({"INTEGER", "BIGINT", "HUGEINT", "DOUBLE"}),
    "INTEGER": frozenset({"BIGINT", "HUGEINT", "DOUBLE"}),
    "BIGINT": frozenset({"HUGEINT", "DOUBLE"}),
    "UTINYINT": frozenset(
        {"USMALLINT", "UINTEGER", "UBIGINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE"}
    ),
    "USMALLINT": frozenset({"UINTEGER", "UBIGINT", "INTEGER", "BIGINT", "DOUBLE"}),
    "UINTEGER": frozenset({"UBIGINT", "BIGINT", "DOUBLE"}),
    "UBIGINT": frozenset({"DOUBLE"}),
    "FLOAT": frozenset({"DOUBLE"}),
}
_NULL_TYPE = '"NULL"'

# Stored DuckDB type -> the pandas dtype to cast a conflicting column to.
_DTYPE_HINTS = {
    "VARCHAR": "str",
    "BIGINT": "Int64",
    "INTEGER": "Int32",
    "DOUBLE": "float64",
    "BOOLEAN": "boolean",
    "TIMESTAMP WITH TIME ZONE": "datetime64[us, UTC]",
    "TIMESTAMP": "datetime64[us]",
}


def frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """Convert a frame to the Arrow table the store registers with DuckDB.

    Timestamps become microseconds (DuckDB's unit) and tz-aware ones UTC (the same
    instant); categoricals are decoded; the index is dropped.

    Raises:
        DataError: a column label is not a string, is used twice (DuckDB names are
            case-insensitive, so ``Email`` and ``email`` collide) or uses the reserved
            ``__crmframes_`` prefix, or a column mixes values Arrow cannot type.
    """
    seen: dict[str, str] = {}
    for label in df.columns:
        if not isinstance(label, str):
            raise DataError(
                f"column labels must be strings, got {label!r}; rename it, e.g. "
                f"df.rename(columns={{{label!r}: {str(label)!r}}})"
            )
        if label.lower() in seen:
            raise DataError(
                f"columns {seen[label.lower()]!r} and {label!r} collide: the store's column "
                "names are case-insensitive; rename or drop one"
            )
        if label.startswith(RESERVED_PREFIX):
            raise DataError(f"column {label!r} uses the reserved prefix {RESERVED_PREFIX!r}")
        seen[label.lower()] = label
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"the frame cannot be stored: {exc}. Hint: give the column one type, e.g. "
            "df[column].astype('str')"
        ) from exc
    for index, field in enumerate(table.schema):
        wanted = _storable(field.type)
        if wanted is not None:
            column = table.column(index).cast(wanted, safe=False)
            table = table.set_column(index, field.with_type(wanted), column)
    return table.replace_schema_metadata(None)


def arrow_to_frame(table: pa.Table, dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Convert a query result to a frame with the dtypes the columns were merged with.

    Integers and booleans come back nullable (``Int64``, ``boolean``) where they hold
    nulls or were merged nullable, numpy otherwise; ``Float64``, ``string`` and
    ``date32[day][pyarrow]`` columns come back as such when they were merged so.

    Args:
        table: the result.
        dtypes: the pandas dtype each column was last merged with, by lower-case name.
    """
    recorded = dtypes or {}
    df = table.to_pandas()
    for index, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        target = _restored(field.type, recorded.get(field.name.lower()), column.null_count > 0)
        if target is not None:
            df.isetitem(index, column.to_pandas(types_mapper={field.type: target}.get))
    return df


def storage_type(incoming: str) -> str:
    """Return the column type to create for an incoming DuckDB type (all-null -> VARCHAR)."""
    return "VARCHAR" if incoming == _NULL_TYPE else incoming


def is_compatible(incoming: str, stored: str) -> bool:
    """Whether values of the ``incoming`` DuckDB type fit a ``stored`` column.

    Examples:
        >>> is_compatible("BIGINT", "DOUBLE"), is_compatible("DOUBLE", "BIGINT")
        (True, False)
        >>> is_compatible('"NULL"', "TIMESTAMP WITH TIME ZONE")
        True
    """
    return incoming in (stored, _NULL_TYPE) or stored in _WIDENS_TO.get(incoming, ())


def dtype_hint(stored: str) -> str | None:
    """Return the pandas dtype that stores as ``stored``, for an error's hint, if known."""
    return _DTYPE_HINTS.get(stored)


def _restored(type_: pa.DataType, recorded: str | None, nulls: bool) -> Any:
    """The pandas dtype to read an Arrow column as, or None for pyarrow's default."""
    if type_ in _NULLABLE:
        return _NULLABLE[type_] if nulls or recorded in _MASKED else None
    if recorded in _MASKED and pa.types.is_floating(type_):
        return pd.Float32Dtype() if type_ == pa.float32() else pd.Float64Dtype()
    if recorded == "string" and (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
        return pd.StringDtype()  # pd.NA for missing values, not pandas 3's default NaN
    if recorded == "date32[day][pyarrow]" and pa.types.is_date32(type_):
        return pd.ArrowDtype(type_)
    return None


def _storable(type_: pa.DataType) -> pa.DataType | None:
    """The type to cast an Arrow column to before DuckDB sees it, or None to keep it."""
    if pa.types.is_timestamp(type_):
        tz = "UTC" if type_.tz is not None else None
        wanted = pa.timestamp("us", tz=tz)
        return None if type_ == wanted else wanted
    if pa.types.is_dictionary(type_):
        return _storable(type_.value_type) or type_.value_type
    return None
