"""Measure found duplicate clusters against a ground truth: pairwise precision, recall and F1.

Pure: pandas and numpy; no I/O (``plot()`` draws with matplotlib, imported only then).

Quality is counted on **pairs**, as record-linkage benchmarks do: every two rows in one true
cluster are a true pair, every two rows in one found cluster a found pair, so a wrong link
that joins two clusters costs every pair it creates. Precision is the share of found pairs
that are true, recall the share of true pairs found, F1 their harmonic mean.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmframes import charts, display
from crmframes.errors import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ClusterScores", "evaluate_clusters"]


@dataclass(frozen=True)
class ClusterScores:
    """Pairwise quality of found clusters (see the module docstring).

    Attributes:
        precision: correct pairs / found pairs (1.0 when nothing was found).
        recall: correct pairs / true pairs (1.0 when there are none).
        f1: the harmonic mean of the two.
        found_pairs, true_pairs, correct_pairs: the counts behind them.
    """

    precision: float
    recall: float
    f1: float
    found_pairs: int
    true_pairs: int
    correct_pairs: int

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f} "
            f"({self.correct_pairs:,} of {self.found_pairs:,} found pairs true; "
            f"{self.true_pairs:,} true pairs)"
        )

    def _repr_html_(self) -> str:
        facts = [
            ("precision", f"{self.precision:.3f}"),
            ("recall", f"{self.recall:.3f}"),
            ("F1", f"{self.f1:.3f}"),
            ("found pairs", self.found_pairs),
            ("true pairs", self.true_pairs),
            ("correct pairs", self.correct_pairs),
        ]
        return display.card("duplicate clusters against the truth", facts)

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw precision, recall and F1 as bars from 0 to 1; return the matplotlib axes.

        Args:
            ax: the axes to draw on; a new figure's by default.
            **kwargs: passed to ``Axes.barh`` (``color=``, ...).

        Raises:
            ConfigError: matplotlib is not installed (the error says how to install it).
        """
        scores = {"precision": self.precision, "recall": self.recall, "F1": self.f1}
        title = "pairwise quality of the duplicate clusters"
        axes = charts.bars(scores, title=title, xlabel="share", ax=ax, fmt="{:.3f}", **kwargs)
        axes.set_xlim(0, 1.15)  # room for the labels of bars at 1.0
        return axes


def evaluate_clusters(
    found: pd.DataFrame | pd.Series,
    truth: str | pd.Series | Sequence[Hashable] | Sequence[tuple[Hashable, Hashable]],
) -> ClusterScores:
    """Score found clusters against the true ones: pairwise precision, recall and F1.

    Args:
        found: a :func:`~crmframes.dedupe.find_duplicates` result (its ``clusterId``), or
            a Series of cluster ids (null: no duplicate).
        truth: the true clusters: a column of ``found``, a Series of labels with the same
            index, a list of labels in row order (null: no duplicate), or a list of true
            pairs of index labels (``[("rec-1-org", "rec-1-dup-0"), ...]``, a MultiIndex
            works), closed transitively.

    Returns:
        A :class:`ClusterScores`; ``str()`` of it reads as one line.

    Raises:
        ConfigError: ``found`` has no ``clusterId`` column, or ``truth`` names no column.
        DataError: ``truth`` has another length than ``found``, or a pair names a row
            that is not in it.

    Examples:
        >>> found = pd.DataFrame({"clusterId": [0, 0, 0, None]}, dtype="Int64")
        >>> scores = evaluate_clusters(found, truth=[7, 7, None, None])
        >>> round(scores.precision, 3), scores.recall, round(scores.f1, 3)
        (0.333, 1.0, 0.5)
    """
    ids = _found_ids(found)
    labels = _truth_labels(found, truth, len(ids))
    both = (ids >= 0) & (labels >= 0)
    joint = pd.DataFrame({"f": ids[both], "t": labels[both]}).value_counts().to_numpy()
    correct = _pairs(joint)
    found_pairs = _pairs(np.unique(ids[ids >= 0], return_counts=True)[1])
    true_pairs = _pairs(np.unique(labels[labels >= 0], return_counts=True)[1])
    precision = correct / found_pairs if found_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClusterScores(precision, recall, f1, found_pairs, true_pairs, correct)


def _pairs(sizes: np.ndarray) -> int:
    sizes = np.asarray(sizes, dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _found_ids(found: pd.DataFrame | pd.Series) -> np.ndarray:
    if isinstance(found, pd.DataFrame):
        if "clusterId" not in found.columns:
            raise ConfigError(
                "found has no clusterId column; pass the frame find_duplicates returned"
            )
        found = found["clusterId"]
    if not isinstance(found, pd.Series):
        raise TypeError(f"found must be a DataFrame or a Series, not {type(found).__name__}")
    return _codes(found)


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(pd.factorize(values, use_na_sentinel=True)[0], dtype=np.int64)


def _truth_labels(found: pd.DataFrame | pd.Series, truth: object, n: int) -> np.ndarray:
    if isinstance(truth, str):
        if not isinstance(found, pd.DataFrame) or truth not in found.columns:
            raise ConfigError(f"truth={truth!r} names no column of found")
        return _codes(found[truth])
    if isinstance(truth, pd.Series):
        return _codes(truth.reindex(found.index) if truth.index.is_unique else truth)
    if isinstance(truth, pd.MultiIndex):
        truth = list(truth)
    if not isinstance(truth, Sequence | np.ndarray):
        raise TypeError(f"truth must be a column, a Series or a list, not {type(truth).__name__}")
    items = list(truth)
    if items and all(isinstance(i, tuple) and len(i) == 2 for i in items):
        return _pairs_to_labels(found.index, items)
    if len(items) != n:
        raise DataError(f"truth has {len(items):,} labels for {n:,} rows; give one per row")
    return _codes(pd.Series(items, dtype=object))


def _pairs_to_labels(index: pd.Index, pairs: list[tuple[Hashable, Hashable]]) -> np.ndarray:
    """Cluster labels from true pairs of index labels, closed transitively (union-find)."""
    position = pd.Series(np.arange(len(index)), index=index)
    left = position.reindex([a for a, _ in pairs]).to_numpy(dtype=float)
    right = position.reindex([b for _, b in pairs]).to_numpy(dtype=float)
    missing = np.isnan(left) | np.isnan(right)
    if missing.any():
        bad = pairs[int(np.flatnonzero(missing)[0])]
        raise DataError(f"the true pair {bad!r} names a row that is not in found's index")
    parent = np.arange(len(index))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b in zip(left.astype(np.int64), right.astype(np.int64), strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(i) for i in range(len(index))])
    sizes = np.bincount(roots, minlength=len(index))
    return np.where(sizes[roots] >= 2, roots, -1)
