"""Find duplicate rows: normalised exact keys, fuzzy names within blocks, clusters by union-find.

Pure: pandas, numpy and rapidfuzz; no I/O.

Two methods. ``"score"`` (the default for a flat list of columns, ``on=["FirstName",
"LastName", "Birthdate", "Phone"]``) weighs how each column of a pair agrees into a match
probability, as record linkage does (:mod:`crmframes.dedupe.scoring`). ``"rules"`` (the
default for one column or a list of rules) links rows that agree on every column of any rule:

Each ``on`` group is a rule "these columns all match"; any rule that links two rows puts them
in one cluster, and clusters are closed transitively (if A matches B by email and B matches C
by name and birthdate, A, B and C are one cluster). Columns are compared after their
normaliser (:mod:`crmframes.dedupe.normalize`); a null never matches.

A group with ``fuzzy`` columns compares those by similarity instead of equality. Its other
columns must still be equal, and they are the blocks: only rows that agree on them (and on
the first letter of one of the fuzzy columns, or on a ``block`` key) are ever compared, so
the work grows with the rows rather than with their square. Scores come from rapidfuzz,
pair by pair in C (``process.cpdist``); a group's score is the mean of its fuzzy columns'
similarities, and a pair matches at ``threshold`` or above. A ``first_name`` column also
rates a nickname as equal to each of its formal names (``Ted`` = Edward = Theodore).

Longer than 500 lines: one matcher (the rules method): normalised keys, blocks, links and
clusters are steps of the one plan.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein

from crmframes.arguments import check_frame, check_match_options
from crmframes.dedupe.nicknames import formal_names
from crmframes.dedupe.normalize import (
    Normalizer,
    count_unreadable,
    day_month_dates,
    encode,
    resolve_normalizer,
)
from crmframes.errors import ColumnNotFoundError, ConfigError, DataError

__all__ = [
    "CLUSTER_ID",
    "MATCH_REASON",
    "BlockSpec",
    "MatchPlan",
    "Method",
    "OnSpec",
    "Scorer",
    "UnreadableValuesWarning",
    "column_error",
    "find_duplicates",
    "match_rows",
    "plan_matching",
]

CLUSTER_ID: Final = "clusterId"
MATCH_REASON: Final = "matchReason"

OnSpec = str | Sequence[str | Sequence[str]]
BlockKey = str | Callable[[pd.DataFrame], pd.Series]
BlockSpec = BlockKey | Sequence[BlockKey | Sequence[BlockKey]]
Scorer = Literal["jaro_winkler", "levenshtein", "osa", "indel"]
Method = Literal["auto", "rules", "score"]
NormalizerSpec = str | Normalizer

_SCORERS: Final[dict[str, Callable[..., float]]] = {
    "jaro_winkler": JaroWinkler.normalized_similarity,  # typos in short names; prefixes count
    "levenshtein": Levenshtein.normalized_similarity,
    "osa": OSA.normalized_similarity,  # Levenshtein where a transposition costs one
    "indel": Indel.normalized_similarity,  # rapidfuzz's fuzz.ratio / 100
}


_PARALLEL_PAIRS: Final = 20_000
_MOSTLY: Final = 0.5  # warn when normalising empties more than this share of a column's values


class UnreadableValuesWarning(UserWarning):
    """Normalising emptied most of a column's values: its rules will match almost nothing."""


@dataclass(frozen=True)
class _Group:
    """One ``on`` rule: all its columns match (the fuzzy ones by similarity)."""

    exact: tuple[str, ...]
    fuzzy: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class MatchPlan:
    """The checked arguments of :func:`find_duplicates`, ready to run on a frame."""

    groups: tuple[_Group, ...]
    normalizers: Mapping[str, tuple[str, Normalizer]]
    passes: tuple[tuple[BlockKey, ...], ...] | None
    threshold: float
    scorer: Scorer
    max_pairs: int
    method: Literal["rules", "score"] = "rules"
    columns: tuple[str, ...] = ()  # the scored columns, in on= order (method "score")


def find_duplicates(
    df: pd.DataFrame,
    *,
    on: OnSpec,
    fuzzy: str | Sequence[str] | None = None,
    block: BlockSpec | None = None,
    normalizers: Mapping[str, NormalizerSpec] | None = None,
    threshold: float = 0.9,
    scorer: Scorer = "jaro_winkler",
    max_pairs: int = 25_000_000,
    method: Method = "auto",
) -> pd.DataFrame:
    """Find rows that describe the same record; return the frame with a cluster id per row.

    Args:
        df: the rows to search (any index; it is kept).
        on: what to compare. A flat list of columns (``["FirstName", "LastName",
            "Birthdate", "Phone"]``) is scored (``method="score"``): each column that
            agrees, is similar, differs or is missing adds evidence, and a pair matches when
            the evidence makes it likely enough (``threshold``); rows equal on every column
            always match. A column name, or a list of rules where any one links two rows
            (``on=["Email", ["FirstName", "LastName", "Birthdate"]]``; a bare name is a rule
            of one column), are rules (``method="rules"``): every column of a rule must match.
        fuzzy: columns compared by similarity instead of equality, in every rule that
            contains them (e.g. ``["FirstName", "LastName"]``). The rule's other columns
            must still be equal. When scoring, the columns that may count as "similar"
            (default: all of them).
        block: which rows to compare: a column (or a function ``df -> Series`` of keys), a
            list of them that must all be equal, or a list of such keys where agreeing on
            any one is enough. Rules: rows must also agree on the rule's exact columns;
            default: the first letter of one of the fuzzy columns, or for a rule of several
            fuzzy columns and no exact one, the keys scoring uses. Scoring: default, rows
            equal on any one column or any two (a key's largest blocks left out, so that it
            pairs at most half as many rows as there are).
        normalizers: per column, a built-in normaliser's name (``"email"``, ``"phone"``,
            ``"name"``, ``"first_name"``, ``"text"``, ``"date"``, ``"exact"``) or a function
            ``Series -> Series``. Columns not named get one from their name and dtype
            (:func:`~crmframes.dedupe.normalize.infer_normalizer`).
        threshold: rules: the lowest mean similarity (0 to 1) at which a fuzzy rule
            matches; scoring: the lowest match probability at which a pair matches.
        scorer: the string similarity: ``"jaro_winkler"`` (default, good for names),
            ``"levenshtein"``, ``"osa"`` (a transposition costs one edit) or ``"indel"``.
        max_pairs: the most candidate pairs one fuzzy rule (or one ``block`` key when
            scoring) may compare; past it a :class:`DataError` asks for a more selective
            ``block`` instead of running out of memory.
        method: ``"score"``, ``"rules"``, or ``"auto"``: score a flat list of two or more
            columns, apply rules otherwise.

    Returns:
        A copy of ``df`` with ``clusterId`` (Int64: 0, 1, ... numbered by each cluster's
        first row; null for a row that matches no other) and ``matchReason`` (the rules
        that linked the row, e.g. ``"Email"`` or ``"FirstName+LastName+Birthdate fuzzy
        0.93"`` with the best score of its fuzzy links, joined by ``"; "`` in ``on``
        order; when scoring, the row's likeliest link, e.g. ``"0.99: FirstName=,
        LastName~, Birthdate!=, Phone?"``: equal, similar, different, missing; null when
        there is none); columns of those names are replaced. An empty frame gives an
        empty frame with both columns. ``attrs["unreadable"]`` counts, per column, the
        values its normaliser could not read (they never match); a column that loses
        most of its values also raises an :class:`UnreadableValuesWarning`.

    Raises:
        ColumnNotFoundError: a column in ``on``, ``fuzzy``, ``block`` or ``normalizers``
            is not in ``df`` (the message suggests close names).
        ConfigError: an empty or malformed rule, a fuzzy column in no rule, an unknown
            normaliser, scorer or method, a threshold outside (0, 1], a date column
            written day and month first with no ``date_dmy`` / ``date_mdy`` normaliser.
        DataError: a fuzzy rule would compare more than ``max_pairs`` pairs.

    Examples:
        >>> df = pd.DataFrame({"Email": ["A@x.com", " a@X.com", "b@y.com"]})
        >>> found = find_duplicates(df, on="Email")
        >>> found["clusterId"].tolist(), found["matchReason"].tolist()
        ([0, 0, <NA>], ['Email', 'Email', nan])
    """
    check_frame(df)
    check_match_options(
        on=on, fuzzy=fuzzy, normalizers=normalizers, threshold=threshold, max_pairs=max_pairs
    )
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
    clusters, reasons = match_rows(df, plan)
    found = df.assign(**{CLUSTER_ID: clusters.array, MATCH_REASON: reasons.array})
    found.attrs["unreadable"] = dict(clusters.attrs.get("unreadable", {}))
    return found


def plan_matching(
    df: pd.DataFrame,
    *,
    on: OnSpec,
    fuzzy: str | Sequence[str] | None,
    block: BlockSpec | None,
    normalizers: Mapping[str, NormalizerSpec] | None,
    threshold: float,
    scorer: Scorer,
    max_pairs: int,
    method: Method = "auto",
) -> MatchPlan:
    """Check and normalise :func:`find_duplicates`' arguments against ``df``, before any work."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, not {type(df).__name__}")
    rules = _rules(on, "on")
    fuzzy_columns = _names(fuzzy, "fuzzy")
    given = dict(normalizers or {})
    passes = None if block is None else _block_passes(block)
    for column in [c for rule in rules for c in rule] + fuzzy_columns + list(given):
        _require(df, column)
    for key in [k for keys in passes or () for k in keys if isinstance(k, str)]:
        _require(df, key)
    for column in fuzzy_columns:
        if not any(column in rule for rule in rules):
            raise ConfigError(
                f"fuzzy column {column!r} is in no on= rule, so it would compare nothing; "
                f"add it to one, e.g. on=[..., [{column!r}, 'Birthdate']]"
            )
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"threshold must be a number, not {type(threshold).__name__}")
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], not {threshold!r}; e.g. 0.9")
    if scorer not in _SCORERS:
        raise ConfigError(f"unknown scorer {scorer!r}; choose one of: {', '.join(_SCORERS)}")
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1:
        raise ConfigError(f"max_pairs must be a positive int, not {max_pairs!r}")
    if method not in ("auto", "rules", "score"):
        raise ConfigError(f"unknown method {method!r}; choose one of: auto, rules, score")
    flat = not isinstance(on, str) and all(isinstance(c, str) for c in on)
    scoring = method == "score" or (method == "auto" and flat and len(rules[0]) >= 2)
    if scoring and len(rules) > 1:
        raise ConfigError(
            "method='score' takes one flat list of columns, e.g. on=['FirstName', "
            "'LastName', 'Birthdate']; for a list of rules use method='rules'"
        )
    if scoring and not fuzzy_columns:
        fuzzy_columns = list(rules[0])
    used = {c for rule in rules for c in rule} | {
        k for keys in passes or () for k in keys if isinstance(k, str)
    }
    resolved = {c: resolve_normalizer(c, df[c], given.get(c)) for c in sorted(used | set(given))}
    for column, (name, _) in resolved.items():
        if name == "date":
            _refuse_day_month(column, df[column])
    groups = tuple(
        _Group(
            exact=tuple(c for c in rule if c not in fuzzy_columns),
            fuzzy=tuple(c for c in rule if c in fuzzy_columns),
            label="+".join(rule),
        )
        for rule in rules
    )
    return MatchPlan(
        groups,
        resolved,
        passes,
        float(threshold),
        scorer,
        max_pairs,
        method="score" if scoring else "rules",
        columns=rules[0] if scoring else (),
    )


def match_rows(df: pd.DataFrame, plan: MatchPlan) -> tuple[pd.Series, pd.Series]:
    """Run a plan on ``df``; return the ``clusterId`` and ``matchReason`` columns."""
    n = len(df)
    normalised = _Normalised(df, plan.normalizers)
    if plan.method == "score":
        from crmframes.dedupe.scoring import score_rows

        left, right, links, texts = score_rows(df, normalised, plan)
        roots = _components(n, left, right)
        clusters, reasons = _number(roots), _best_texts(n, left, right, links, texts)
        return _with_unreadable(df, normalised, clusters, reasons)
    lefts, rights, scores = [], [], []
    for group in plan.groups:
        if group.fuzzy:
            left, right, score = _fuzzy_links(df, normalised, group, plan)
        else:
            left, right = _exact_links(normalised, group.exact)
            score = np.ones(len(left))
        lefts.append(left)
        rights.append(right)
        scores.append(score)
    all_left = np.concatenate(lefts) if lefts else np.empty(0, np.int64)
    all_right = np.concatenate(rights) if rights else np.empty(0, np.int64)
    roots = _components(n, all_left, all_right)
    reasons = _reasons(n, plan.groups, lefts, rights, scores)
    return _with_unreadable(df, normalised, _number(roots), reasons)


def column_error(df: pd.DataFrame, column: str) -> ColumnNotFoundError:
    """A ColumnNotFoundError for ``column`` whose message suggests close column names."""
    available = [str(c) for c in df.columns]
    error = ColumnNotFoundError(column, available)
    folded = {c.lower(): c for c in available}
    close = difflib.get_close_matches(column.lower(), list(folded), n=3, cutoff=0.6)
    if close:
        error.args = (f"{error}; did you mean {', '.join(repr(folded[c]) for c in close)}?",)
    return error


# --- arguments --------------------------------------------------------------------------------


def _rules(on: OnSpec, argument: str) -> list[tuple[str, ...]]:
    """Normalise ``on`` to a list of rules (tuples of column names), duplicates dropped."""
    if isinstance(on, str):
        return [(on,)]
    if not isinstance(on, Sequence) or not on:
        raise ConfigError(
            f"{argument}= must name a column, a list of columns or a list of rules, not {on!r}; "
            f"e.g. {argument}=['Email', ['FirstName', 'LastName', 'Birthdate']]"
        )
    items: list[Any] = list(on)
    rules = [items] if all(isinstance(i, str) for i in items) else items
    out: list[tuple[str, ...]] = []
    for rule in rules:
        columns = (rule,) if isinstance(rule, str) else tuple(_names(rule, argument))
        if not columns:
            raise ConfigError(f"{argument}= has an empty rule; every rule names a column")
        if len(set(columns)) != len(columns):
            raise ConfigError(f"{argument}= rule {list(columns)!r} names a column twice")
        if set(columns) not in [set(r) for r in out]:
            out.append(columns)
    return out


def _names(value: str | Sequence[str] | None, argument: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{argument}= must be a column name or a list of names, not {value!r}")
    return list(names)


def _block_passes(block: BlockSpec) -> tuple[tuple[BlockKey, ...], ...]:
    """Normalise ``block`` to passes: each a tuple of keys that must all be equal."""
    if isinstance(block, str) or callable(block):
        return ((block,),)
    if not isinstance(block, Sequence) or not block:
        raise ConfigError(f"block= must name a column, a function or a list of them, not {block!r}")
    items = list(block)
    if all(isinstance(i, str) or callable(i) for i in items):
        passes = [tuple(items)]
    else:
        passes = [(i,) if isinstance(i, str) or callable(i) else tuple(i) for i in items]
    for keys in passes:
        if not keys or not all(isinstance(k, str) or callable(k) for k in keys):
            raise ConfigError(f"block= keys must be column names or functions, not {keys!r}")
    return tuple(cast(tuple[BlockKey, ...], keys) for keys in passes)


def _require(df: pd.DataFrame, column: object) -> None:
    if not isinstance(column, str):
        raise TypeError(f"column names must be strings, not {column!r}")
    if column not in df.columns:
        raise column_error(df, column)


# --- linking ----------------------------------------------------------------------------------


class _Normalised:
    """Normalised columns, coded as integers over their distinct values, computed once a run."""

    def __init__(self, df: pd.DataFrame, normalizers: Mapping[str, tuple[str, Normalizer]]):
        self._df = df
        self._normalizers = normalizers
        self._coded: dict[str, tuple[np.ndarray, pa.Array | pd.Index]] = {}
        self._derived: dict[tuple[str, str], np.ndarray] = {}
        self._unreadable: dict[str, tuple[int, int, list[str]]] = {}

    def kind(self, column: str) -> str:
        return self._normalizers[column][0]

    def _code(self, column: str) -> tuple[np.ndarray, pa.Array | pd.Index]:
        if column not in self._coded:
            result = self._normalizers[column][1](self._df[column])
            if not isinstance(result, pd.Series) or len(result) != len(self._df):
                raise DataError(
                    f"the normaliser of column {column!r} must return a Series of "
                    f"{len(self._df):,} values, not {type(result).__name__}"
                )
            self._coded[column] = encode(result)
            self._unreadable[column] = count_unreadable(self._df[column], result)
            lost, real, examples = self._unreadable[column]
            if lost and lost > _MOSTLY * real:
                warnings.warn(
                    f"column {column!r}: {lost:,} of {real:,} values could not be read by "
                    f"its {self.kind(column)!r} normaliser (e.g. "
                    f"{', '.join(repr(e) for e in examples)}) and match nothing; choose "
                    f"another with normalizers={{{column!r}: ...}} or clean the column",
                    UnreadableValuesWarning,
                    stacklevel=5,
                )
        return self._coded[column]

    def unreadable(self) -> dict[str, int]:
        """Per column compared so far, how many values its normaliser could not read."""
        return {column: lost for column, (lost, _, _) in self._unreadable.items()}

    def codes(self, column: str) -> np.ndarray:
        """Equal normalised values share a code (first appearance first); null is -1."""
        return self._code(column)[0]

    def texts(self, column: str) -> np.ndarray:
        """The distinct normalised values as strings (an object array), by code."""
        if (column, "texts") not in self._derived:
            uniques = self._code(column)[1]
            values = uniques.to_pylist() if isinstance(uniques, pa.Array) else uniques.tolist()
            self._derived[column, "texts"] = np.array([str(u) for u in values], dtype=object)
        return self._derived[column, "texts"]

    def initials(self, column: str) -> np.ndarray:
        """Codes of each row's first character; -1 for nulls."""
        if (column, "initials") not in self._derived:
            first = _codes(np.array([t[:1] for t in self.texts(column)] + [None], dtype=object))
            self._derived[column, "initials"] = first[self.codes(column)]
        return self._derived[column, "initials"]


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of equal values, in order of first appearance; -1 for nulls."""
    return np.asarray(pd.factorize(values, use_na_sentinel=True)[0], dtype=np.int64)


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """Codes of the tuples of several code arrays; -1 where any part is -1."""
    out = parts[0]
    for part in parts[1:]:
        valid = (out >= 0) & (part >= 0)
        merged = np.full(len(out), -1, dtype=np.int64)
        merged[valid] = _codes(out[valid] * (int(part.max()) + 1) + part[valid])
        out = merged
    return out


def _exact_links(normalised: _Normalised, columns: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Link every row to the first row with the same key: a star per key."""
    codes = _combine([normalised.codes(c) for c in columns])
    rows = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[rows], return_index=True)
    first_row = np.empty(int(codes.max()) + 1 if rows.size else 0, dtype=np.int64)
    first_row[codes[rows[first]]] = rows[first]
    targets = first_row[codes[rows]]
    linked = rows != targets
    return rows[linked], targets[linked]


def _fuzzy_links(
    df: pd.DataFrame, normalised: _Normalised, group: _Group, plan: MatchPlan
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs within blocks, scored; return the pairs at or above the threshold."""
    n = len(df)
    exact = [normalised.codes(c) for c in group.exact]
    present = np.ones(n, dtype=bool)
    for column in group.fuzzy:
        present &= normalised.codes(column) >= 0
    lefts, rights = [], []
    for keys in _pass_keys(df, normalised, group, plan):
        codes = _combine([*exact, *keys]) if exact else _combine(keys)
        codes = np.where(present, codes, -1)
        total = _pair_count(codes)
        if total > plan.max_pairs:
            raise DataError(
                f"the fuzzy rule {group.label!r} would compare {total:,} pairs (over "
                f"max_pairs={plan.max_pairs:,}); its blocks are too large: give a more "
                "selective block=, e.g. a postal code or a birthdate, or an exact column in "
                "the rule"
            )
        left, right = _pairs_within(codes)
        lefts.append(left)
        rights.append(right)
    left = np.concatenate(lefts)
    right = np.concatenate(rights)
    if len(lefts) > 1 and left.size:  # the passes overlap: keep each pair once
        unique = np.unique(left * n + right)
        left, right = unique // n, unique % n
    score = np.zeros(left.size)
    for column in group.fuzzy:
        score += _similarity(normalised, column, left, right, plan.scorer)
    score /= len(group.fuzzy)
    keep = score >= plan.threshold - 1e-9
    return left[keep], right[keep], score[keep]


def _pass_keys(
    df: pd.DataFrame, normalised: _Normalised, group: _Group, plan: MatchPlan
) -> list[list[np.ndarray]]:
    """The key codes of each blocking pass of a fuzzy group."""
    if plan.passes is None and len(group.fuzzy) >= 2 and not group.exact:
        # first letters of several fuzzy columns alone make blocks of thousands of rows:
        # use the keys scoring uses, each column's value and each two columns' values
        from crmframes.dedupe.scoring import automatic_keys

        return [[key] for key in automatic_keys(normalised, group.fuzzy)]
    if plan.passes is None:  # one pass per fuzzy column: its first letter
        return [[normalised.initials(c)] for c in group.fuzzy]
    passes = []
    for keys in plan.passes:
        parts = []
        for key in keys:
            if isinstance(key, str):
                parts.append(normalised.codes(key))
                continue
            values = key(df)
            if not isinstance(values, pd.Series) or len(values) != len(df):
                raise DataError(
                    f"a block= function must return a Series of {len(df):,} keys, "
                    f"not {type(values).__name__}"
                )
            parts.append(_codes(values.to_numpy()))
        passes.append(parts)
    return passes


def _pair_count(codes: np.ndarray) -> int:
    sizes = np.bincount(codes[codes >= 0])
    return int((sizes * (sizes - 1) // 2).sum())


def _pairs_within(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of rows with the same code (-1: none), left < right, vectorised."""
    rows = np.flatnonzero(codes >= 0)
    order = rows[np.argsort(codes[rows], kind="stable")]
    sorted_codes = codes[order]
    if order.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, order.size])
    block = np.repeat(np.arange(starts.size), sizes)
    later = sizes[block] - 1 - (np.arange(order.size) - starts[block])  # rows after this one
    first = np.repeat(np.arange(order.size), later)
    step = np.arange(first.size) - np.repeat(np.cumsum(later) - later, later)
    left, right = order[first], order[first + 1 + step]
    return np.minimum(left, right), np.maximum(left, right)


def _similarity(
    normalised: _Normalised,
    column: str,
    left: np.ndarray,
    right: np.ndarray,
    scorer: Scorer,
    *,
    coded: bool = False,
) -> np.ndarray:
    """Similarity (0 to 1) of the column's normalised values for each pair (both non-null).

    ``left`` and ``right`` are rows, or with ``coded`` the codes of the values themselves.
    """
    if not left.size:
        return np.zeros(0)
    codes, texts = normalised.codes(column), normalised.texts(column)
    a, b = (left, right) if coded else (codes[left], codes[right])
    workers = -1 if a.size >= _PARALLEL_PAIRS else 1  # threads cost more than small jobs
    scores = process.cpdist(
        texts[a], texts[b], scorer=_SCORERS[scorer], workers=workers, dtype=np.float64
    )
    scores = np.asarray(scores, dtype=np.float64)
    if normalised.kind(column) == "first_name":
        scores = np.where(_nickname_equal(texts, a, b), 1.0, scores)
    return scores


def _nickname_equal(names: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether names ``a`` and ``b`` (codes into ``names``) may be one name: nickname, formal."""
    formal = formal_names()
    tokens: dict[str, int] = {}
    meanings = [  # per distinct name: itself and the formal names it may stand for
        [tokens.setdefault(o, len(tokens)) for o in sorted({name, *formal.get(name, ())})]
        for name in names
    ]
    width = max((len(m) for m in meanings), default=1)
    table = np.full((len(meanings), width), -1, dtype=np.int64)
    for i, m in enumerate(meanings):
        table[i, : len(m)] = m
    left, right = table[a], table[b]
    equal = np.zeros(a.size, dtype=bool)
    for i in range(width):
        for j in range(width):
            equal |= (left[:, i] == right[:, j]) & (left[:, i] >= 0)
    return equal


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over the links, vectorised: each row's root is its cluster's first row.

    Hook and compress: every root reached by a link is hooked under the smallest root it is
    linked to, then paths are halved until every row points at its root; repeat until both
    ends of every link share a root. A parent is never larger than its row, so there are no
    cycles, and each round at least halves the roots that links still join.
    """
    parent = np.arange(n, dtype=np.int64)
    while left.size:
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        a, b = parent[left], parent[right]
        apart = a != b
        left, right, a, b = left[apart], right[apart], a[apart], b[apart]
        np.minimum.at(parent, np.maximum(a, b), np.minimum(a, b))
    return parent


def _reasons(
    n: int,
    groups: Sequence[_Group],
    lefts: list[np.ndarray],
    rights: list[np.ndarray],
    scores: list[np.ndarray],
) -> pd.api.extensions.ExtensionArray:
    """Per row, the rules that linked it (with the best fuzzy score), joined by "; "."""
    bests = []
    linked = np.zeros(n, dtype=bool)
    for left, right, score in zip(lefts, rights, scores, strict=True):
        best = np.full(n, -1.0)
        np.maximum.at(best, left, score)
        np.maximum.at(best, right, score)
        bests.append(best)
        linked |= best >= 0
    rows = np.flatnonzero(linked)  # only the linked rows get text: often a small share
    reasons = np.full(rows.size, "", dtype=object)
    for group, best in zip(groups, bests, strict=True):
        score = best[rows]
        text = np.where(score >= 0, group.label, "").astype(object)
        partial = (score >= 0) & (score < 1 - 1e-9)
        if partial.any():  # floor: a score shown as 1.00 is always an exact match
            shown = np.char.mod("%.2f", np.floor(score[partial] * 100) / 100)
            text[partial] = group.label + " fuzzy " + shown.astype(object)
        joiner = np.where((reasons != "") & (text != ""), "; ", "").astype(object)
        reasons = reasons + joiner + text
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    texts = pa.array(reasons.tolist(), pa.large_string())
    return pd.array(texts.take(pa.array(position, mask=position < 0)), dtype="str")


def _number(roots: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Cluster ids from union-find roots: 0, 1, ... by first row; null for a lone row."""
    n = roots.size
    sizes = np.bincount(roots, minlength=n)
    in_cluster = sizes[roots] >= 2
    ids = np.full(n, -1, dtype=np.int64)
    if in_cluster.any():  # roots are each cluster's first row, so this numbers by first row
        ids[in_cluster] = np.unique(roots[in_cluster], return_inverse=True)[1]
    clusters = pd.array(np.where(ids >= 0, ids, 0), dtype="Int64")
    clusters[ids < 0] = pd.NA
    return clusters


def _best_texts(
    n: int, left: np.ndarray, right: np.ndarray, scores: np.ndarray, texts: list[str]
) -> pd.api.extensions.ExtensionArray:
    """Per row, the text of its highest-scoring link (null for a row with none)."""
    ends = np.concatenate([left, right])
    links = np.concatenate([np.arange(left.size)] * 2)
    order = np.lexsort((-np.concatenate([scores, scores]), ends))  # by row, best first
    ends, links = ends[order], links[order]
    first = np.r_[True, ends[1:] != ends[:-1]] if ends.size else np.zeros(0, dtype=bool)
    best = np.full(n, -1, dtype=np.int64)
    best[ends[first]] = links[first]
    chosen = np.array([*texts, None], dtype=object)[best]
    return pd.array(chosen, dtype="str")


def _with_unreadable(
    df: pd.DataFrame,
    normalised: _Normalised,
    clusters: pd.api.extensions.ExtensionArray,
    reasons: pd.api.extensions.ExtensionArray,
) -> tuple[pd.Series, pd.Series]:
    """The two result columns; the cluster one carries the unreadable counts in its attrs."""
    out = pd.Series(clusters, index=df.index)
    out.attrs["unreadable"] = normalised.unreadable()
    return out, pd.Series(reasons, index=df.index)


def _refuse_day_month(column: str, series: pd.Series) -> None:
    """Ask which order a date column's ``17/05/1990``-like values are in, rather than guess."""
    count, examples, order = day_month_dates(series)
    if not count:
        return
    proof = f"; they look {'day' if order == 'dmy' else 'month'}-first" if order else ""
    raise ConfigError(
        f"column {column!r} has {count:,} dates written day and month first (e.g. "
        f"{', '.join(repr(e) for e in examples)}){proof}, and '03/04/1990' may be 3 April or "
        f"March 4: say which with normalizers={{{column!r}: 'date_dmy'}} (day first) or "
        f"'date_mdy' (month first)"
    )
