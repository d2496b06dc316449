"""Find duplicate records and keep one per cluster: normalised keys, fuzzy names, survivorship.

Pure: pandas, numpy and rapidfuzz; no I/O (DESIGN §4.8).

- :func:`find_duplicates` adds ``clusterId`` and ``matchReason`` to a frame: rows linked by
  any ``on`` rule, after normalising emails, phones, names and dates
  (:mod:`~crmframes.dedupe.normalize`), optionally comparing names by similarity within
  blocks (:mod:`~crmframes.dedupe.matching`).
- With a flat list of columns, :func:`find_duplicates` scores each pair's field agreement
  into a match probability (:mod:`~crmframes.dedupe.scoring`); :func:`explain_pair` shows
  why two rows match or not, and :func:`evaluate_clusters` scores the clusters against a
  ground truth (pairwise precision, recall, F1); :func:`cluster_counts` and
  :func:`cluster_of` read a result (how many clusters; the one a row is in).
- :func:`deduplicate` keeps one row per cluster by the seed's keep rules and can fill field
  groups of the survivor from its duplicates (:mod:`~crmframes.dedupe.survivors`).

Examples:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Id": ["1", "2", "3"],
    ...                    "Email": ["ana@x.org", " ANA@x.org", "bo@y.org"],
    ...                    "LastModifiedDate": ["2024-01-02", "2025-05-06", "2024-03-04"]})
    >>> find_duplicates(df, on="Email")["clusterId"].tolist()
    [0, 0, <NA>]
    >>> deduplicate(df, on="Email", key="Id").removed[["Id", "survivorKey"]].to_dict("list")
    {'Id': ['1'], 'survivorKey': ['2']}
"""

from __future__ import annotations

from crmframes.dedupe.clusters import ClusterCounts, cluster_counts, cluster_of
from crmframes.dedupe.evaluate import ClusterScores, evaluate_clusters
from crmframes.dedupe.matching import UnreadableValuesWarning, find_duplicates
from crmframes.dedupe.nicknames import NICKNAMES
from crmframes.dedupe.normalize import NORMALIZERS, infer_normalizer
from crmframes.dedupe.scoring import PairExplanation, explain_pair
from crmframes.dedupe.survivors import DedupeResult, KeepRule, deduplicate

__all__ = [
    "NICKNAMES",
    "NORMALIZERS",
    "ClusterCounts",
    "ClusterScores",
    "DedupeResult",
    "KeepRule",
    "PairExplanation",
    "UnreadableValuesWarning",
    "cluster_counts",
    "cluster_of",
    "deduplicate",
    "evaluate_clusters",
    "explain_pair",
    "find_duplicates",
    "infer_normalizer",
]
