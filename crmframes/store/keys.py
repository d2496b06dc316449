"""Compare record ids as the CRMs do: GUIDs in any case, every other id exactly.

Pure (pandas, pyarrow). Dataverse ids are GUIDs, which Dataverse matches case-insensitively and its Web API
writes in lower case; Salesforce's 15-character ids differ by case alone, so they (and any
other id) compare exactly. One rule for the store's merge keys and its deletions: a
GUID-shaped value is lower-cased, every other value is kept as it is.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_string_dtype

__all__ = ["GUID_PATTERN", "normalise_id_sql", "normalise_ids", "normalise_key_columns"]

GUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def normalise_ids(values: pd.Series) -> pd.Series:
    """Lower-case the GUID-shaped values of a text column; return other columns as they are.

    Examples:
        >>> normalise_ids(pd.Series(["0F8FAD5B-D9CB-469F-A165-70867728950E", "003AbC", None]))
        0    0f8fad5b-d9cb-469f-a165-70867728950e
        1                                  003AbC
        2                                     NaN
        dtype: str
    """
    if not is_string_dtype(values.dtype) or values.empty:
        return values
    try:
        texts = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return values  # mixed values: the store refuses the column when it types the frame
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        return values
    # Arrow compute, the regex only for values of a GUID's length with upper case: a
    # 500,000-row batch of lower-case GUIDs (what imports give) or Salesforce ids costs
    # tens of milliseconds
    upper = pc.and_(
        pc.equal(pc.binary_length(texts), 36),  # a GUID's length: Salesforce ids skip the regex
        pc.not_equal(texts, pc.utf8_lower(texts)),
    ).fill_null(False)
    if not pc.any(upper).as_py():
        return values
    upper = pc.and_(upper, pc.match_substring_regex(texts, f"^{GUID_PATTERN}$")).fill_null(False)
    if not pc.any(upper).as_py():
        return values
    return values.mask(upper.to_numpy(zero_copy_only=False), values.str.lower())


def normalise_key_columns(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Return ``df`` with the GUIDs of its ``keys`` columns lower-cased (a copy if any was not)."""
    changed = {}
    for key in keys:
        column = df[key]
        normalised = normalise_ids(column)
        if normalised is not column:
            changed[key] = normalised
    return df.assign(**changed) if changed else df


def normalise_id_sql(expression: str) -> str:
    """The SQL (DuckDB) form of :func:`normalise_ids` for one text ``expression``.

    Examples:
        >>> normalise_id_sql("t.id").startswith("(CASE WHEN regexp_full_match(t.id, ")
        True
    """
    return (
        f"(CASE WHEN regexp_full_match({expression}, '{GUID_PATTERN}') "
        f"THEN lower({expression}) ELSE {expression} END)"
    )
