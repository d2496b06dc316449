"""Read a :func:`~crmframes.dedupe.find_duplicates` result: how many clusters, and one cluster.

Pure: pandas only.

Examples:
    >>> import pandas as pd
    >>> found = pd.DataFrame({"ref": ["a", "b", "c", "d", "e"],
    ...                       "clusterId": pd.array([0, 0, None, 1, 1], dtype="Int64")})
    >>> cluster_counts(found)
    2 clusters of 4 rows
    >>> cluster_of(found, ref="b")["ref"].tolist()
    ['a', 'b']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmframes.arguments import check_frame
from crmframes.errors import ConfigError, DataError

__all__ = ["ClusterCounts", "cluster_counts", "cluster_of"]

_CLUSTER = "clusterId"


@dataclass(frozen=True)
class ClusterCounts:
    """How many clusters a result has, and how many rows are in one.

    Attributes:
        clusters: distinct cluster ids.
        rows: rows with a cluster id (rows without a duplicate have none).
        total: rows in all.
    """

    clusters: int
    rows: int
    total: int

    def __str__(self) -> str:
        return f"{self.clusters:,} clusters of {self.rows:,} rows"

    __repr__ = __str__


def cluster_counts(found: pd.DataFrame) -> ClusterCounts:
    """Count the clusters of a :func:`~crmframes.dedupe.find_duplicates` result.

    Raises:
        ConfigError: ``found`` has no ``clusterId`` column.
    """
    ids = _cluster_ids(found, "cluster_counts")
    linked = ids.notna()
    return ClusterCounts(int(ids[linked].nunique()), int(linked.sum()), len(found))


def cluster_of(found: pd.DataFrame, **where: object) -> pd.DataFrame:
    """Return the rows of the cluster that the row matching ``where`` is in.

    Args:
        found: a :func:`~crmframes.dedupe.find_duplicates` (or ``DedupeResult.clusters``) frame.
        **where: one ``column=value`` naming the row, e.g. ``crmf_externalid="CT-0000028"``.

    Returns:
        The cluster's rows in their order in ``found``; the row alone when it has no duplicate.

    Raises:
        ConfigError: no ``clusterId`` column, not exactly one ``column=value``, or no such column.
        DataError: no row, or several rows in different clusters, have that value.
    """
    ids = _cluster_ids(found, "cluster_of")
    if len(where) != 1:
        raise ConfigError("cluster_of takes one column=value naming the row, e.g. Id='003…'")
    ((column, value),) = where.items()
    if column not in found.columns:
        raise ConfigError(f"cluster_of: no column {column!r} in the frame")
    rows = (found[column] == value).fillna(False).astype(bool)
    if not rows.any():
        raise DataError(f"cluster_of: no row has {column} = {value!r}")
    clusters = ids[rows].dropna().unique()
    if len(clusters) > 1:
        raise DataError(f"cluster_of: rows with {column} = {value!r} are in several clusters")
    if not len(clusters):
        return found[rows]
    return found[(ids == clusters[0]).fillna(False).astype(bool)]


def _cluster_ids(found: pd.DataFrame, name: str) -> pd.Series:
    check_frame(found, "found")
    if _CLUSTER not in found.columns:
        raise ConfigError(f"{name} reads a find_duplicates result: the frame has no clusterId")
    return found[_CLUSTER]
