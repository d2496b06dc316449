"""How steps find, replace and read tables of the store, and read source files.

Orchestration (runner side): a table found by name in any case, a table made to hold
exactly one frame (a reconcile's saved differences, a dedupe's removed rows), values kept
as text, and a step's ``source: {file: ...}`` read as CSV or Parquet.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from crmframes.errors import ConfigError
from crmframes.store import CampaignStore

__all__ = ["as_text", "find_table", "read_file", "replace_table"]


def find_table(store: CampaignStore, table: str) -> str | None:
    """Return the stored name of ``table`` in any case; None when the store has no such table."""
    wanted = table.lower()
    return next((name for name in store.tables() if name.lower() == wanted), None)


def replace_table(store: CampaignStore, table: str, frame: pd.DataFrame, key: list[str]) -> None:
    """Make ``table`` hold exactly ``frame``; an empty frame leaves an empty table.

    An empty table still exists, so a later step reading it finds no rows rather than an
    error. A merge creates no table from no rows: one placeholder row (text columns) is
    merged and deleted again.
    """
    from crmframes.store.sql import quote

    existing = find_table(store, table)
    if existing is not None:
        store.sql(f"DROP TABLE {quote(existing)}")
    if len(frame):
        store.merge(table, frame.reset_index(drop=True), key=key)
        return
    row = {c: pd.Series(["-" if c in key else None], dtype="str") for c in map(str, frame.columns)}
    store.merge(table, pd.DataFrame(row), key=key)
    store.sql(f"DELETE FROM {quote(table)}")


def as_text(value: Any) -> str | None:
    """Return a value as text (timestamps in ISO form); None for a missing value."""
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return None
    return value.isoformat() if isinstance(value, datetime | pd.Timestamp) else str(value)


def read_file(path: Path) -> pd.DataFrame:
    """Read a step's source file, CSV or Parquet by its suffix.

    Raises:
        ConfigError: another suffix, no such file, or a file that cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(
            f"source file {path}: read .csv or .parquet files, not {suffix or 'this'}"
        )
    if not path.is_file():
        raise ConfigError(f"source file {path}: no such file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"source file {path}: cannot be read: {exc}") from exc
