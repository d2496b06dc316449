"""Apply records deleted in the CRM to a stored table, and know which columns mark them.

Edge: DuckDB, through :class:`~crmframes.store.session.Session`. A soft delete stamps a
column (``crmDeletedDate`` unless told otherwise) and records its name in
``_crmframes_deletion_marks``, so that a later merge of the same record (restored from the
recycle bin, or re-created with the same id) clears the mark: the store must call a live
record live. Ids compare as the CRM compares them (:mod:`crmframes.store.keys`).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import pyarrow as pa

from crmframes.errors import ColumnNotFoundError
from crmframes.store import sql as q
from crmframes.store.checks import Columns, column_not_in_table
from crmframes.store.keys import normalise_id_sql, normalise_ids
from crmframes.store.session import Session

__all__ = ["DEFAULT_MARK", "apply_deletions_to_table", "deleted_ids", "deletion_marks"]

DEFAULT_MARK = "crmDeletedDate"
_GONE = "__crmframes_deleted"


def deleted_ids(frame: pd.DataFrame, key: str) -> pa.Table:
    """The ids of ``frame`` (normalised, once each) with their deletion time, as Arrow.

    A ``deletedDate`` column gives the time; rows without one (or frames without the
    column) get the current time. The last row of an id listed twice wins.

    Raises:
        ColumnNotFoundError: ``key`` is not a column of ``frame``.
    """
    if key not in frame.columns:
        raise ColumnNotFoundError(key, [str(c) for c in frame.columns])
    now = pd.Timestamp.now(tz="UTC")
    stamps = (
        pd.to_datetime(frame["deletedDate"], utc=True).fillna(now)
        if "deletedDate" in frame.columns
        else pd.Series(now, index=frame.index)
    )
    ids = pd.DataFrame({"id": normalise_ids(frame[key].astype("str")), "at": stamps})
    ids = ids.dropna(subset=["id"]).drop_duplicates("id", keep="last")
    return pa.table(
        {
            "id": pa.array(ids["id"].tolist(), pa.string()),
            "at": pa.array(ids["at"].tolist(), pa.timestamp("us", tz="UTC")),
        }
    )


def apply_deletions_to_table(
    session: Session,
    table: str,
    ids: pa.Table,
    *,
    key: str,
    mode: Literal["soft", "hard"],
    column: str,
) -> int:
    """Mark (``soft``) or remove (``hard``) the rows of ``table`` whose ``key`` is in ``ids``.

    The caller holds the session's lock; one transaction.

    Returns:
        How many stored rows matched.

    Raises:
        ColumnNotFoundError: the key is not a column of the table.
        StoreError: DuckDB failed (nothing changed).
    """
    available = [c for c, _ in session.columns(table)]
    if key not in available:
        raise column_not_in_table(key, available, table)
    match = f"{normalise_id_sql(f'CAST(t.{q.quote(key)} AS VARCHAR)')} = d.id"
    with session.registered(_GONE, ids), session.transaction():
        count = session.execute(
            f"SELECT count(*) FROM {q.quote(table)} t JOIN {_GONE} d ON {match}", fetch="rows"
        )[0][0]
        if mode == "hard":
            session.execute(f"DELETE FROM {q.quote(table)} t USING {_GONE} d WHERE {match}")
        else:
            stored = next((c for c in available if c.lower() == column.lower()), None)
            if stored is None:
                session.execute(q.add_column(table, column, "TIMESTAMP WITH TIME ZONE"))
            session.execute(q.create_marks_table())
            session.execute(q.record_mark(), [table, stored or column])
            session.execute(
                f"UPDATE {q.quote(table)} t SET {q.quote(column)} = d.at "
                f"FROM {_GONE} d WHERE {match}"
            )
    return int(count)


def deletion_marks(session: Session, table: str, stored: Columns) -> Columns:
    """The stored columns of ``table`` that mark deleted records: recorded, or the default.

    ``crmDeletedDate`` counts even when unrecorded (a store soft-deleted into before marks
    were recorded).
    """
    marks = {DEFAULT_MARK.lower()}
    if q.MARKS_TABLE in session.tables():
        rows = session.execute(q.select_marks(), [table], fetch="rows")
        marks |= {str(column).lower() for (column,) in rows}
    return [(column, type_) for column, type_ in stored if column.lower() in marks]
