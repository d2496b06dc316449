"""Keep one row per duplicate cluster by a survivorship rule, and fill its gaps from the others.

Pure: pandas and numpy; no I/O.

The keep rules are the seed's Deduplication methods (peers.md §1.3): the most recent row
(``"recent"``, by the last-modified column), the most complete one (``"complete"``, most
non-empty fields), a priority list of values of a column (``("priority", "LeadSource",
["Web", "Partner Referral"])``), the lowest or highest value of a column (``("min",
"CreatedDate")``, ``("max", "AnnualRevenue")``), a non-empty value (``("notnull",
"Email")``), or simply the first or last row. A list of rules breaks ties in order; a tie
left after the last rule goes to the row that comes first in the frame.

Merging follows Adobe Campaign's "merge records" field groups, and the rule is exact: for
each group (a list of columns), when the survivor has a null (or blank) in any of the
group's columns, the whole group is copied from the best other row of its cluster (by the
same keep rules) that has every column of the group filled. A survivor whose group is
complete is never changed, and a group is never assembled from several rows: an address
stays one address.

Longer than 500 lines: one survivorship step: the keep rules rank the rows of the same clusters
the field-group fills then read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

import numpy as np
import pandas as pd

from crmframes import charts, display
from crmframes.arguments import check_frame, check_match_options, check_optional_str, check_rules
from crmframes.dedupe.matching import (
    CLUSTER_ID,
    MATCH_REASON,
    BlockSpec,
    Method,
    NormalizerSpec,
    OnSpec,
    Scorer,
    column_error,
    match_rows,
    plan_matching,
)
from crmframes.errors import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "IS_SURVIVOR",
    "MODIFIED_FIELDS",
    "SURVIVOR_KEY",
    "DedupeResult",
    "KeepMethod",
    "KeepRule",
    "KeepSpec",
    "deduplicate",
]

SURVIVOR_KEY: Final = "survivorKey"
IS_SURVIVOR: Final = "isSurvivor"
# Tried in order when keep="recent" has no modified=: Salesforce, Dataverse, the demo CSVs.
MODIFIED_FIELDS: Final = ("LastModifiedDate", "SystemModstamp", "modifiedon", "modified_at")

KeepMethod = Literal["recent", "complete", "first", "last", "min", "max", "priority", "notnull"]
_NEEDS_COLUMN: Final = frozenset({"min", "max", "priority", "notnull"})


@dataclass(frozen=True)
class KeepRule:
    """One survivorship criterion; in a list, each later rule breaks the earlier ones' ties.

    Attributes:
        method: ``"recent"`` (latest ``column``, the last-modified one by default),
            ``"complete"`` (most non-empty fields), ``"first"`` / ``"last"`` (frame order),
            ``"min"`` / ``"max"`` (lowest / highest ``column``), ``"priority"`` (``column``'s
            value earliest in ``values``; other values after, nulls last), ``"notnull"``
            (``column`` filled).
        column: the column the method reads (not used by complete, first, last).
        values: the priority list, best first (``"priority"`` only).
    """

    method: KeepMethod
    column: str | None = None
    values: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in get_args(KeepMethod):
            raise ConfigError(
                f"unknown keep method {self.method!r}; choose one of: "
                f"{', '.join(get_args(KeepMethod))}"
            )
        if self.method in _NEEDS_COLUMN and not self.column:
            hint = (
                "'LeadSource', ['Web', 'Partner Referral']" if self.method == "priority" else "'X'"
            )
            raise ConfigError(
                f"keep method {self.method!r} needs a column, e.g. keep=({self.method!r}, {hint})"
            )
        if self.method == "priority" and not self.values:
            raise ConfigError("keep=('priority', column, values) needs a non-empty list of values")

    @classmethod
    def parse(cls, spec: str | tuple[Any, ...] | KeepRule) -> KeepRule:
        """Build a rule from ``"recent"``, ``("max", "X")``, ``("priority", "X", [...])``.

        Examples:
            >>> KeepRule.parse(("priority", "LeadSource", ["Web"]))
            KeepRule(method='priority', column='LeadSource', values=('Web',))
        """
        if isinstance(spec, KeepRule):
            return spec
        if isinstance(spec, str):
            return cls(cast(KeepMethod, spec))
        if isinstance(spec, tuple) and 2 <= len(spec) <= 3:
            method, column, *rest = spec
            values = rest[0] if rest else ()
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise ConfigError(f"keep priority values must be a list, not {values!r}")
            return cls(method, column, tuple(values))
        raise ConfigError(
            f"a keep rule is a method name, a (method, column) tuple or ('priority', column, "
            f"values), not {spec!r}"
        )


KeepSpec = str | tuple[Any, ...] | KeepRule | list[str | tuple[Any, ...] | KeepRule]


@dataclass(frozen=True)
class DedupeResult:
    """What :func:`deduplicate` (or :meth:`CampaignStore.dedupe`) kept, removed and filled.

    Attributes:
        survivors: one row per cluster plus every row that has no duplicate, in frame order,
            with the filled groups applied; the frame's own columns only.
        removed: the other rows of each cluster, with ``survivorKey``: the survivor's
            ``key`` value (or index label when there is no key).
        clusters: every row that is in a cluster, with ``clusterId``, ``matchReason`` and
            ``isSurvivor``, sorted by cluster and then by the keep rules (survivor first).
        filled: one row per survivor field changed by ``merge``: ``survivorKey``,
            ``field``, ``old``, ``new`` and ``donorKey`` (the row the group came from).
        table: the store table, for a result of :meth:`CampaignStore.dedupe`.
        dry_run: True when nothing was written (store results only).
    """

    survivors: pd.DataFrame
    removed: pd.DataFrame
    clusters: pd.DataFrame
    filled: pd.DataFrame
    table: str | None = None
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        c = self.counts
        where = f" in {self.table!r}" if self.table else ""
        text = (
            f"deduplicated {c.get('rows', 0):,} rows{where}: {c.get('clusters', 0):,} clusters, "
            f"{c.get('removed', 0):,} removed, {c.get('survivors', 0):,} kept, "
            f"{c.get('filled', 0):,} survivors filled"
        )
        return text + (" (dry run: nothing written)" if self.dry_run else "")

    def __repr__(self) -> str:  # the frames are attributes: a notebook shows the summary
        return f"<DedupeResult: {self}>"

    def _repr_html_(self) -> str:
        inner = {CLUSTER_ID, MATCH_REASON, IS_SURVIVOR}
        columns = [c for c in self.clusters.columns if c not in inner][:12]
        sections = display.clusters_side_by_side(self.clusters, columns=columns)
        sections.append(("filled fields", display.frame(self.filled) if len(self.filled) else ""))
        facts = [(name, self.counts.get(name, 0)) for name in ("rows", "clusters", "removed")]
        facts += [
            ("kept", self.counts.get("survivors", 0)),
            ("filled", self.counts.get("filled", 0)),
        ]
        return display.card(str(self), facts, sections)

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw how many clusters have 2, 3, ... rows as bars; return the matplotlib axes."""
        sizes = self.clusters.groupby(CLUSTER_ID).size().value_counts().sort_index()
        counts = {f"{size} rows": int(n) for size, n in sizes.items()}
        title = "duplicate clusters by size"
        return charts.bars(counts, title=title, xlabel="clusters", ax=ax, **kwargs)


def deduplicate(
    df: pd.DataFrame,
    *,
    on: OnSpec | None,
    keep: KeepSpec = "recent",
    modified: str | None = None,
    key: str | None = None,
    merge: str | Sequence[str | Sequence[str]] | None = None,
    fuzzy: str | Sequence[str] | None = None,
    block: BlockSpec | None = None,
    normalizers: Mapping[str, NormalizerSpec] | None = None,
    threshold: float = 0.9,
    scorer: Scorer = "jaro_winkler",
    max_pairs: int = 25_000_000,
    method: Method = "auto",
) -> DedupeResult:
    """Keep one row per cluster of duplicates; return the survivors and the removed rows.

    Args:
        df: the rows.
        on: the match rules, as in :func:`~crmframes.dedupe.find_duplicates`; ``None`` uses
            the frame's own ``clusterId`` column (a ``find_duplicates`` result, perhaps
            edited after review).
        keep: which row survives: ``"recent"``, ``"complete"``, ``"first"``, ``"last"``,
            ``("min", column)``, ``("max", column)``, ``("recent", column)``,
            ``("notnull", column)``, ``("priority", column, [values, best first])``, a
            :class:`KeepRule`, or a list of them (later ones break ties).
        modified: the last-modified column ``"recent"`` reads; default: the first of
            :data:`MODIFIED_FIELDS` in the frame.
        key: the identity column whose value names the survivor in ``survivorKey`` (default:
            the index label).
        merge: field groups to fill in each survivor from its duplicates: a column, a list
            of columns (one group), or a list of groups (``[["MailingStreet",
            "MailingCity", "MailingPostalCode"], ["Phone"]]``; a bare name is a group of one).
            See the module docstring for the exact rule.
        fuzzy: columns compared by similarity (see ``find_duplicates``).
        block: which rows a fuzzy rule compares (see ``find_duplicates``).
        normalizers: per-column normalisers (see ``find_duplicates``).
        threshold: the lowest similarity a fuzzy rule accepts, or the lowest match
            probability when scoring (see ``find_duplicates``).
        scorer: the string similarity (see ``find_duplicates``).
        max_pairs: the most pairs one fuzzy rule may compare (see ``find_duplicates``).
        method: ``"score"``, ``"rules"`` or ``"auto"`` (see ``find_duplicates``).

    Returns:
        The survivors, the removed rows, the clusters and the filled fields. An empty frame
        gives empty frames.

    Raises:
        ColumnNotFoundError: a column named by ``on``, ``keep``, ``modified``, ``key`` or
            ``merge`` is not in ``df``.
        ConfigError: a malformed keep rule or merge group, ``"recent"`` without a modified
            column, the key inside a merge group, or a bad matching argument.
        DataError: a keep column whose values cannot be ordered (e.g. unparseable
            timestamps for ``"recent"``).

    Examples:
        >>> df = pd.DataFrame({"Id": ["a", "b", "c"], "Email": ["x@y.com", "X@y.com", "z@y.com"],
        ...                    "Phone": [None, "555-0100", None]})
        >>> result = deduplicate(df, on="Email", keep="first", key="Id", merge="Phone")
        >>> result.survivors["Phone"].tolist()
        ['555-0100', nan]
        >>> result.removed[["Id", "survivorKey"]].to_dict("list")
        {'Id': ['b'], 'survivorKey': ['a']}
    """
    check_frame(df)
    check_match_options(
        on=on, fuzzy=fuzzy, normalizers=normalizers, threshold=threshold, max_pairs=max_pairs
    )
    check_optional_str("key", key, what="one column name")
    check_optional_str("modified", modified, what="a column name")
    if merge is not None:
        check_rules("merge", merge)
    plan = None
    if on is not None:
        plan = plan_matching(
            df,
            on=on,
            fuzzy=fuzzy,
            block=block,
            normalizers=normalizers,
            threshold=threshold,
            scorer=scorer,
            max_pairs=max_pairs,
            method=method,
        )
    elif CLUSTER_ID not in df.columns:
        raise ConfigError(
            "deduplicate needs on= (the match rules, e.g. on='Email'), or a frame with the "
            f"{CLUSTER_ID!r} column that find_duplicates adds"
        )
    rules = _keep_rules(df, keep, modified)
    groups = _merge_groups(df, merge)
    if key is not None:
        if not isinstance(key, str):
            raise TypeError(f"key must be one column name, not {key!r}")
        if key not in df.columns:
            raise column_error(df, key)
        if any(key in group for group in groups):
            raise ConfigError(f"the key {key!r} cannot be in a merge group: it names the row")
    if plan is not None:
        cluster_ids, reasons = match_rows(df, plan)
        found = df.assign(**{CLUSTER_ID: cluster_ids.array, MATCH_REASON: reasons.array})
    else:
        found = df
    cluster = np.asarray(pd.array(found[CLUSTER_ID], dtype="Int64").fillna(-1), dtype=np.int64)
    ranks = [_rank(df, rule) for rule in rules]
    return _keep(df, found, cluster, ranks, key, groups)


# --- arguments --------------------------------------------------------------------------------


def _keep_rules(df: pd.DataFrame, keep: KeepSpec, modified: str | None) -> list[KeepRule]:
    specs = keep if isinstance(keep, list) else [keep]
    if not specs:
        raise ConfigError("keep= is an empty list; e.g. keep='recent'")
    rules = []
    for spec in specs:
        rule = KeepRule.parse(spec)
        if rule.method == "recent" and rule.column is None:
            column = modified or next((c for c in MODIFIED_FIELDS if c in df.columns), None)
            if column is None:
                raise ConfigError(
                    "keep='recent' needs the last-modified column: pass modified='...' (none of "
                    f"{', '.join(MODIFIED_FIELDS)} is in the frame), or choose another keep rule"
                )
            rule = KeepRule("recent", column)
        if rule.column is not None and rule.column not in df.columns:
            raise column_error(df, rule.column)
        rules.append(rule)
    if modified is not None and modified not in df.columns:
        raise column_error(df, modified)
    return rules


def _merge_groups(
    df: pd.DataFrame, merge: str | Sequence[str | Sequence[str]] | None
) -> list[list[str]]:
    if merge is None:
        return []
    if isinstance(merge, str):
        groups = [[merge]]
    elif isinstance(merge, Sequence) and merge and all(isinstance(m, str) for m in merge):
        groups = [list(cast(Sequence[str], merge))]
    elif isinstance(merge, Sequence) and merge:
        groups = [[m] if isinstance(m, str) else list(m) for m in merge]
    else:
        raise ConfigError(f"merge= must be a column, a list of columns or of groups, not {merge!r}")
    for group in groups:
        if not group or not all(isinstance(c, str) for c in group):
            raise ConfigError(f"a merge group is a non-empty list of column names, not {group!r}")
        for column in group:
            if column not in df.columns:
                raise column_error(df, column)
    return groups


# --- survivorship -----------------------------------------------------------------------------


def _rank(df: pd.DataFrame, rule: KeepRule) -> np.ndarray:
    """A float per row, lower is better, for one keep rule."""
    n = len(df)
    if rule.method == "first":
        return np.arange(n, dtype=np.float64)
    if rule.method == "last":
        return -np.arange(n, dtype=np.float64)
    if rule.method == "complete":
        return np.asarray(-_present(df).sum(axis=1), dtype=np.float64)
    column = cast(str, rule.column)
    values = df[column]
    if rule.method == "notnull":
        return np.asarray(~_present(df[[column]]).iloc[:, 0], dtype=np.float64)
    if rule.method == "priority":
        order = {value: i for i, value in reversed(list(enumerate(rule.values)))}
        positions = [
            order.get(v, len(order)) if not _missing(v) else len(order) + 1 for v in values
        ]
        return np.asarray(positions, dtype=np.float64)
    if rule.method == "recent":
        values = _timestamps(values, column)
    try:
        # a dense rank by sorted codes: Series.rank on Arrow strings warns under pyarrow 26
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError as exc:
        raise DataError(
            f"keep={rule.method!r} cannot order column {column!r}: its values are of mixed "
            f"types ({exc}); convert it first, e.g. df[{column!r}].astype(...)"
        ) from exc
    codes = np.asarray(codes, dtype=np.float64)
    ranked = codes + 1 if rule.method == "min" else len(uniques) - codes
    return np.where(codes < 0, len(uniques) + 1, ranked)


def _timestamps(values: pd.Series, column: str) -> pd.Series:
    """The modified column as timestamps: ISO strings are parsed (any zone, compared as UTC)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_numeric_dtype(
        values.dtype
    ):
        return values
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"keep='recent' reads {column!r} as timestamps, but {exc}; parse the column first "
            "or pass modified= naming the last-modified column"
        ) from exc


def _keep(
    df: pd.DataFrame,
    found: pd.DataFrame,
    cluster: np.ndarray,
    ranks: list[np.ndarray],
    key: str | None,
    groups: list[list[str]],
) -> DedupeResult:
    n = len(df)
    position = np.arange(n)
    clustered = np.flatnonzero(cluster >= 0)
    # sort the clustered rows by cluster, then by each rule, then by frame order
    keys = [position[clustered], *(r[clustered] for r in reversed(ranks)), cluster[clustered]]
    order = clustered[np.lexsort(keys)] if clustered.size else clustered
    leader = np.r_[True, cluster[order][1:] != cluster[order][:-1]] if order.size else order
    survivor_of = np.full(n, -1, dtype=np.int64)
    heads = order[leader.astype(bool)]
    survivor_of[order] = np.repeat(heads, np.diff(np.r_[np.flatnonzero(leader), order.size]))
    removed_rows = order[~leader.astype(bool)]
    kept = np.sort(np.r_[np.flatnonzero(cluster < 0), heads]).astype(np.int64)
    names = df.index.to_numpy() if key is None else df[key].to_numpy()

    work, filled = _fill(df, order, survivor_of, groups, names) if groups else (df, _no_fills())
    survivors = work.iloc[kept]
    removed = df.iloc[removed_rows].assign(**{SURVIVOR_KEY: names[survivor_of[removed_rows]]})
    removed = removed.iloc[np.argsort(removed_rows, kind="stable")]
    clusters = found.iloc[order].assign(**{IS_SURVIVOR: np.isin(order, heads)})
    counts = {
        "rows": n,
        "clusters": int(heads.size),
        "survivors": int(kept.size),
        "removed": int(removed_rows.size),
        "filled": int(filled[SURVIVOR_KEY].nunique()) if len(filled) else 0,
    }
    return DedupeResult(survivors, removed, clusters, filled, counts=counts)


def _fill(
    df: pd.DataFrame,
    order: np.ndarray,
    survivor_of: np.ndarray,
    groups: list[list[str]],
    names: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copy whole field groups from the best complete duplicate into incomplete survivors."""
    work = df.copy()
    is_head = survivor_of[order] == order
    records: list[dict[str, Any]] = []
    for group in groups:
        complete = _present(df[group]).all(axis=1).to_numpy()
        # donors: non-survivors with the whole group, first one per cluster in keep order
        candidates = order[~is_head & complete[order]]
        if not candidates.size:
            continue
        owners = survivor_of[candidates]
        owners, first = np.unique(owners, return_index=True)
        donors = candidates[first]
        needy = ~complete[owners]
        owners, donors = owners[needy], donors[needy]
        if not owners.size:
            continue
        for column in group:
            before = df[column].iloc[owners].to_numpy(dtype=object)
            after = df[column].iloc[donors].to_numpy(dtype=object)
            series = work[column].copy()
            series.iloc[owners] = df[column].iloc[donors].array
            work[column] = series
            for owner, donor, old, new in zip(owners, donors, before, after, strict=True):
                if _missing(old) or old != new:
                    records.append(
                        {
                            SURVIVOR_KEY: names[owner],
                            "field": column,
                            "old": None if _missing(old) else old,
                            "new": new,
                            "donorKey": names[donor],
                        }
                    )
    filled = pd.DataFrame.from_records(records, columns=list(_no_fills().columns))
    return work, filled.astype(object) if len(filled) else _no_fills()


def _no_fills() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object) for c in (SURVIVOR_KEY, "field", "old", "new", "donorKey")}
    )


def _present(frame: pd.DataFrame) -> pd.DataFrame:
    """Whether each value is filled: not null and, for text, not blank."""
    filled = frame.notna()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            text = values.astype("str").str.strip()
            filled[column] &= (text != "").fillna(False).to_numpy(dtype=bool)
    return filled


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()
