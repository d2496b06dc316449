"""Deduplicate a stored table in place: read it, keep one row per cluster, write back at once.

Edge: DuckDB, through :class:`~crmframes.store.session.Session`. The table is read with
each row's rowid inside one transaction; :func:`~crmframes.dedupe.deduplicate` decides (pure);
then the filled survivors are updated and the removed rows deleted, by rowid, in the same
transaction. A dry run or any error rolls it all back, so the table is either deduplicated
whole or untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from crmframes.dedupe import DedupeResult, deduplicate
from crmframes.dedupe.matching import CLUSTER_ID
from crmframes.dedupe.survivors import SURVIVOR_KEY
from crmframes.errors import ColumnNotFoundError, ConfigError, DataError
from crmframes.store import sql as q
from crmframes.store.checks import refuse_rowid
from crmframes.store.dtypes import arrow_to_frame, frame_to_arrow
from crmframes.store.session import Session

__all__ = ["check_clusters", "dedupe_table"]

_UPDATES = "__crmframes_dedupe_updates"
_REMOVED = "__crmframes_dedupe_removed"


def dedupe_table(
    session: Session,
    table: str,
    dtypes: Mapping[str, str],
    *,
    dry_run: bool,
    options: Mapping[str, Any],
    clusters: pd.DataFrame | None = None,
    statements: Any = q,
) -> DedupeResult:
    """Deduplicate ``table`` with :func:`deduplicate` ``options``, in one transaction.

    Args:
        session: the store's session; the caller holds its lock.
        table: the stored table's name, as the catalogue spells it.
        dtypes: the pandas dtypes its columns were merged with (so the frame reads back
            as it was merged).
        dry_run: decide and return, write nothing.
        options: keyword arguments for :func:`deduplicate` (``on``, ``keep``, ``key``, ...).
        clusters: reviewed clusters (``key`` and ``clusterId``; see :func:`check_clusters`)
            used instead of ``on``.
        statements: what builds the row-id statements (``select_with_rowid``,
            ``update_by_rowid``, ``delete_by_rowid``): DuckDB's rowid by default,
            PostgreSQL's ctid in :data:`crmframes.store.pg_sql.CTID_STATEMENTS`.

    Raises:
        DataError: the table has a column named ``rowid``, or no reviewed key is in it.
        StoreError: DuckDB failed (rolled back).
    """
    columns = [column for column, _ in session.columns(table)]
    refuse_rowid(columns, f"table {table!r}")
    with session.transaction(commit=not dry_run):
        stored = session.execute(statements.select_with_rowid(table), fetch="arrow")
        rowids = stored.column(q.ROWID).to_numpy()
        frame = arrow_to_frame(stored.drop_columns([q.ROWID]), dtypes)
        if clusters is not None:
            key = str(options["key"])
            if key not in frame.columns:
                raise ColumnNotFoundError(key, [str(c) for c in frame.columns])
            ids = clusters.set_index(key)[CLUSTER_ID]
            frame[CLUSTER_ID] = frame[key].map(ids).astype("Int64")
            if len(ids) and frame[CLUSTER_ID].isna().all():
                raise DataError(
                    f"none of the {len(ids):,} reviewed keys is in table {table!r} ({key} is "
                    f"{clusters[key].dtype} in clusters, {frame[key].dtype} in the table); "
                    "cast the clusters' key like the table's"
                )
            options = {**options, "on": None}
        result = deduplicate(frame, **options)  # index = position in ``stored``
        if not dry_run:
            _update_filled(session, table, result, rowids, options.get("key"), statements)
            if len(result.removed):
                gone = pa.table({q.ROWID: rowids[result.removed.index.to_numpy()]})
                with session.registered(_REMOVED, gone):
                    session.execute(statements.delete_by_rowid(table, _REMOVED))
    return replace(result, table=table, dry_run=dry_run)


def check_clusters(clusters: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """Reviewed clusters as ``dedupe`` takes them: ``key`` and ``clusterId``, one row per key.

    Raises:
        ConfigError: no ``key`` given, or a key listed twice.
        ColumnNotFoundError: ``key`` or ``clusterId`` is not a column of ``clusters``.
    """
    if not isinstance(clusters, pd.DataFrame):
        raise TypeError("clusters must be a DataFrame with the key and clusterId columns")
    if key is None:
        raise ConfigError("clusters= needs key=: the id column that names the stored rows")
    for column in (key, CLUSTER_ID):
        if column not in clusters.columns:
            raise ColumnNotFoundError(column, [str(c) for c in clusters.columns])
    picked = clusters[[key, CLUSTER_ID]].dropna(subset=[key])
    twice = picked[key].duplicated(keep=False)
    if twice.any():
        raise ConfigError(
            f"clusters lists {picked.loc[twice, key].nunique()} key(s) more than once, e.g. "
            f"{picked.loc[twice, key].iloc[0]!r}: each row belongs to one cluster"
        )
    return picked


def _update_filled(
    session: Session,
    table: str,
    result: DedupeResult,
    rowids: np.ndarray,
    key: str | None,
    statements: Any,
) -> None:
    """Write the fields ``merge`` filled into the survivors' stored rows."""
    if not len(result.filled):
        return
    fields = [str(f) for f in dict.fromkeys(result.filled["field"])]
    names = set(result.filled[SURVIVOR_KEY])
    survivors = result.survivors
    labels = survivors.index if key is None else survivors[key]
    changed = survivors[labels.isin(names)]
    batch = frame_to_arrow(changed[fields].reset_index(drop=True))
    batch = batch.append_column(q.ROWID, pa.array(rowids[changed.index.to_numpy()]))
    with session.registered(_UPDATES, batch):
        session.execute(statements.update_by_rowid(table, _UPDATES, fields))
