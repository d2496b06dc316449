"""Validate and normalise the campaign store's arguments, before any I/O.

Pure. Every check here raises the error a user would catch (``ConfigError`` for a bad
argument, ``ColumnNotFoundError`` for a missing column, ``DataError`` for unusable data,
``TypeError`` for a value of the wrong kind) with a message that says what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import pandas as pd

from crmframes.errors import ArgumentTypeError, ColumnNotFoundError, ConfigError, DataError
from crmframes.store.dtypes import dtype_hint, is_compatible
from crmframes.store.merge import Watermarked

__all__ = [
    "Columns",
    "Direction",
    "OrderBy",
    "as_list",
    "check_batch",
    "check_table_name",
    "check_types",
    "column_not_in_table",
    "is_internal",
    "merge_arguments",
    "normalise_order_by",
    "option_name",
    "option_value",
]

Direction = Literal["asc", "desc"]
OrderBy = str | Sequence[str | tuple[str, Direction]]
Columns = list[tuple[str, str]]  # (name, DuckDB type) in table order


def merge_arguments(
    data: pd.DataFrame | Watermarked, key: str | Sequence[str] | None, modified: str | None
) -> tuple[pd.DataFrame, list[str], str | None, tuple[str, str] | None]:
    """Split ``data`` into (frame, key columns, modified column, watermark), checked."""
    watermark: tuple[str, str] | None = None
    if isinstance(data, pd.DataFrame):
        df = data
    elif isinstance(data, Watermarked):
        df = data.frame
        key = data.key if key is None else key
        modified = data.modified_field if modified is None else modified
        watermark = data.watermark
        if not isinstance(df, pd.DataFrame):
            raise ArgumentTypeError(
                f"the import result's frame is a {type(df).__name__}, not a DataFrame"
            )
        if watermark is not None:
            name, value = watermark
            watermark = (option_name(name), option_value(name, value))
    else:
        raise ArgumentTypeError(
            f"merge takes a DataFrame or an import result, not {type(data).__name__}"
        )
    keys = as_list(key)
    if not keys:
        raise ConfigError("merge needs key=: the column(s) that identify a record, e.g. key='Id'")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"key names a column twice: {keys!r}")
    return df, keys, modified, watermark


def check_table_name(table: str) -> None:
    """Refuse an empty table name or one reserved for crmframes' own tables."""
    if not isinstance(table, str) or not table:
        raise ConfigError(f"a table name must be a non-empty string, not {table!r}")
    if is_internal(table):
        raise ConfigError(f"table name {table!r} is reserved for crmframes; choose another")


def refuse_rowid(columns: Iterable[str], where: str) -> None:
    """Refuse a column named ``rowid``: it hides DuckDB's row ids, which the merge goes by.

    Raises:
        DataError: one of ``columns`` is ``rowid`` (in any case).
    """
    for column in columns:
        if str(column).lower() == "rowid":
            raise DataError(
                f"{where} has a column named {column!r}, which hides DuckDB's row ids that "
                "the merge goes by; rename it first, e.g. df.rename(columns={'rowid': 'row_id'})"
            )


def check_batch(df: pd.DataFrame, keys: list[str], modified: str | None) -> None:
    """Check that the key and modified columns exist, that no key is null, and no ``rowid``."""
    refuse_rowid(map(str, df.columns), "the batch")
    for column in [*keys, *([modified] if modified else [])]:
        if column not in df.columns:
            raise ColumnNotFoundError(column, [str(c) for c in df.columns])
    nulls = int(df[keys].isna().any(axis=1).sum())
    if nulls:
        raise DataError(
            f"{nulls:,} rows have a null key ({', '.join(keys)}); a record without an id "
            f"cannot be merged: drop them first, e.g. df.dropna(subset={keys!r})"
        )


def check_types(table: str, incoming: Columns, stored: Columns, keys: list[str]) -> None:
    """Check that each incoming column fits the stored column of the same name (keys first)."""
    refuse_rowid((column for column, _ in stored), f"table {table!r}")
    stored_types = {column.lower(): type_ for column, type_ in stored}
    key_first = sorted(incoming, key=lambda column: column[0] not in keys)
    for column, type_ in key_first:
        stored_type = stored_types.get(column.lower())
        if stored_type is None or is_compatible(type_, stored_type):
            continue
        what = "key column" if column in keys else "column"
        hint = dtype_hint(stored_type)
        cast = f"; cast it first, e.g. df[{column!r}].astype({hint!r})" if hint else ""
        raise DataError(
            f"{what} {column!r} is {type_} in the batch but {stored_type} in table {table!r}{cast}"
        )


def as_list(names: str | Sequence[str] | None) -> list[str]:
    """Normalise None, one name or several names to a list."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


def normalise_order_by(order_by: OrderBy | None) -> list[tuple[str, str]]:
    """Normalise ``order_by`` to ``(column, "asc" | "desc")`` pairs."""
    items: Sequence[str | tuple[str, Direction]] = (
        [] if order_by is None else [order_by] if isinstance(order_by, str) else order_by
    )
    order: list[tuple[str, str]] = []
    for item in items:
        column, direction = (item, "asc") if isinstance(item, str) else item
        if direction not in ("asc", "desc"):
            raise ConfigError(f"order_by direction must be 'asc' or 'desc', not {direction!r}")
        order.append((column, direction))
    return order


def option_name(name: object) -> str:
    """Return ``name`` if it can name an option, else raise TypeError."""
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"an option name must be a non-empty string, not {name!r}")
    return name


def option_value(name: str, value: object) -> str:
    """Return ``value`` if it can be an option's value (a string), else raise TypeError."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"option {name!r} must be a string, not {type(value).__name__}")
    return value


def is_internal(table: str) -> bool:
    """Whether ``table`` is one of crmframes' own tables (``_crmframes_...``)."""
    return table.startswith("_") and table.lstrip("_").lower().startswith("crmframes_")


def column_not_in_table(column: str, available: list[str], table: str) -> ColumnNotFoundError:
    """A ColumnNotFoundError whose message names the table rather than a frame."""
    error = ColumnNotFoundError(column, available)
    error.args = (str(error).replace("the frame", f"table {table!r}", 1),)
    return error
