"""Score pairs of rows by how their fields agree, as record linkage does (Fellegi–Sunter).

Pure: pandas, numpy and rapidfuzz; no I/O.

:func:`~crmframes.dedupe.find_duplicates` uses this when ``on`` is a flat list of columns
(``method="score"``). No rule says which columns must agree; each column adds evidence:

1. **Candidates** (blocking): only rows that agree exactly on one of the columns, or on two of
   them, are compared. A key's largest blocks (a common surname, a state) are left out of
   it until it pairs no more rows than there are, so the work grows with the rows and not
   with their square, and a typo in one field leaves the other keys to bring a pair together.
2. **Levels**: per pair, each column is *equal* (after normalising), *similar* (names and
   text: Jaro–Winkler at least ``0.88``; emails, phones, dates, codes: one edit apart),
   *different*, or *missing* on either side.
3. **Weights**: ``log2(m / u)`` per level. ``u`` is the share of random pairs at the level,
   measured on the frame; for equal values it is the value's own frequency, so two rows
   sharing a rare surname count for more than two Smiths. ``m`` is the share of true
   duplicates at the level: it starts generic (equal 0.9, similar 0.07, different 0.03; for
   names different 0.01, similar 0.09, as a person's names are rarely wholly different in
   two records of them) and is learned on the candidates by expectation–maximisation, which
   may not raise "different" past three times its start (else colleagues at one address
   become one person: EM's classic collapse). Missing adds 0. A first name and a last name
   typed in each other's field are rated similar.
4. **Dependence**: columns are not independent (a street implies its postal code and city;
   colleagues share an office phone and an address). An equal column that a more telling
   equal column already implies, among pairs the other columns call unrelated, counts by
   that conditional share instead of its own frequency.
5. **Probability**: the weights' sum plus the prior log-odds that two rows of the frame
   match (over all pairs of rows, estimated with the weights by EM). A pair matches at
   ``threshold`` (0.9 by default) or above; rows equal on every column always do.

References: Fellegi & Sunter (1969), "A theory for record linkage", JASA 64(328); ``u`` of an
exact match set to the value's term frequency and left out of EM, as Splink does
(github.com/moj-analytical-services/splink/issues/2035).

Longer than 500 lines: one model (Fellegi–Sunter): blocking, field comparison and the estimation
of the weights feed each other's arrays.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Final

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA

# matching imports this module only inside match_rows, so this import is not circular
from crmframes.dedupe.matching import (
    MatchPlan,
    NormalizerSpec,
    Scorer,
    _combine,
    _exact_links,
    _Normalised,
    _pair_count,
    _pairs_within,
    _pass_keys,
    _similarity,
    plan_matching,
)
from crmframes.errors import DataError

__all__ = [
    "LEVELS",
    "PairExplanation",
    "ScoredPairs",
    "automatic_keys",
    "candidate_pairs",
    "describe_pairs",
    "explain_pair",
    "score_pairs",
    "score_rows",
]

LEVELS: Final = ("missing", "different", "similar", "equal")
MISSING, DIFFERENT, SIMILAR, EQUAL = range(4)
_SYMBOLS: Final = ("?", "!=", "~", "=")
_M: Final = np.array([1.0, 0.03, 0.07, 0.9])  # P(level | same record); missing: no evidence
# A person's names are rarely wholly different in two records of them (a typo is "similar",
# a nickname is normalised): two rows whose names differ are most likely two people who
# share an office phone or an address.
_M_NAMES: Final = np.array([1.0, 0.01, 0.09, 0.9])
_NAME_KINDS: Final = frozenset({"name", "first_name"})
_PAIRS_PER_ROW: Final = 0.5  # the most candidate pairs one blocking key may make, per row
_MAX_BLOCK: Final = 30  # rows sharing a key past which the key says too little to compare
_SIMILAR_TEXT: Final = 0.88  # Jaro-Winkler of names and text at which they are "similar"
_TEXT_KINDS: Final = frozenset({"name", "first_name", "text"})
_SAMPLE: Final = 10_000  # random pairs that measure how often unrelated rows are similar
_MIN_U: Final = 1e-6
_MIN_M: Final = 1e-3  # the rarest a level may be among duplicates: no evidence is final
_EM_ROUNDS: Final = 8
_EM_MAX_RISE: Final = 3.0  # how far EM may raise the share of duplicates that differ
_EM_MIN_MATCHES: Final = 10.0  # likely matches needed before m is learned from the frame
_UNRELATED: Final = -10.0  # bits of evidence under which a pair is surely two records
_MIN_DEPENDENT: Final = 20  # unrelated pairs equal on a column needed to measure what it implies


@dataclass(frozen=True)
class ScoredPairs:
    """Candidate pairs with their per-column levels and weights (row positions, left < right).

    Attributes:
        left, right: row positions of each pair.
        columns: the compared columns, in ``on`` order.
        levels: ``(pairs, columns)`` indices into :data:`LEVELS`.
        weights: ``(pairs, columns)`` evidence in bits (log2 of the likelihood ratio).
        weight: the sum of a pair's weights plus the prior log-odds.
        probability: the match probability, ``1 / (1 + 2 ** -weight)``.
    """

    left: np.ndarray
    right: np.ndarray
    columns: tuple[str, ...]
    levels: np.ndarray
    weights: np.ndarray
    weight: np.ndarray
    probability: np.ndarray


@dataclass(frozen=True)
class PairExplanation:
    """How two rows compare when scored: each column's level and weight, and the verdict.

    Attributes:
        fields: one row per column: ``left`` and ``right`` (the values as given),
            ``level`` (equal, similar, different or missing) and ``weight`` (bits of
            evidence for a match; negative: against).
        prior: the prior log-odds (bits) of a candidate pair matching, estimated on the frame.
        weight: the sum of the column weights and the prior.
        probability: the match probability; the pair matches at ``threshold`` or above.
    """

    fields: pd.DataFrame
    prior: float
    weight: float
    probability: float

    def __str__(self) -> str:
        return (
            f"match probability {self.probability:.3f} (weight {self.weight:+.1f} bits, "
            f"prior {self.prior:+.1f})\n{self.fields.to_string()}"
        )


def explain_pair(
    df: pd.DataFrame,
    left: Hashable,
    right: Hashable,
    *,
    on: Sequence[str],
    fuzzy: str | Sequence[str] | None = None,
    normalizers: Mapping[str, NormalizerSpec] | None = None,
    scorer: Scorer = "jaro_winkler",
) -> PairExplanation:
    """Explain how :func:`~crmframes.dedupe.find_duplicates` scores two rows of ``df``.

    The weights are those ``find_duplicates(df, on=on)`` uses (they depend on the whole
    frame: how common each value is), so call it on the same frame.

    Args:
        df: the frame given to ``find_duplicates``.
        left: the index label of one row.
        right: the index label of the other.
        on: the scored columns (a flat list), as given to ``find_duplicates``.
        fuzzy: the columns that may count as similar, as given to ``find_duplicates``.
        normalizers: per-column normalisers, as given to ``find_duplicates``.
        scorer: the string similarity, as given to ``find_duplicates``.

    Returns:
        A :class:`PairExplanation`; ``print()`` shows it as a table.

    Raises:
        DataError: ``left`` or ``right`` is not a label of ``df`` (or names several rows).

    Examples:
        >>> df = pd.DataFrame({"First": ["Ann", "Anne", "Bo"], "Last": ["Lee", "Lee", "Ng"]})
        >>> explain_pair(df, 0, 1, on=["First", "Last"]).fields["level"].tolist()
        ['similar', 'equal']
    """
    plan = plan_matching(
        df,
        on=list(on),
        fuzzy=fuzzy,
        block=None,
        normalizers=normalizers,
        threshold=0.9,
        scorer=scorer,
        max_pairs=25_000_000,
        method="score",
    )
    i, j = sorted((_position(df, left), _position(df, right)))
    normalised = _Normalised(df, plan.normalizers)
    pair_left, pair_right = candidate_pairs(normalised, plan, None)
    at = np.flatnonzero((pair_left == i) & (pair_right == j))
    if not at.size:  # not a candidate: score it with the others all the same
        pair_left, pair_right = np.append(pair_left, i), np.append(pair_right, j)
        at = np.array([pair_left.size - 1])
    scored = score_pairs(normalised, plan, pair_left, pair_right)
    k = int(at[0])
    fields = pd.DataFrame(
        {
            "left": [df[c].iloc[i] for c in scored.columns],
            "right": [df[c].iloc[j] for c in scored.columns],
            "level": [LEVELS[level] for level in scored.levels[k]],
            "weight": np.round(scored.weights[k], 2),
        },
        index=pd.Index(scored.columns, name="column"),
    )
    prior = float(scored.weight[k] - scored.weights[k].sum())
    return PairExplanation(fields, prior, float(scored.weight[k]), float(scored.probability[k]))


def score_rows(
    df: pd.DataFrame, normalised: _Normalised, plan: MatchPlan
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The links of a scored plan: pairs at ``threshold`` or above, and rows equal on all.

    Returns the links' left and right rows, their probabilities and their descriptions.
    """
    if len(df) < 2:
        nothing = np.empty(0, np.int64)
        return nothing, nothing, np.empty(0), []
    passes = None if plan.passes is None else _pass_keys(df, normalised, plan.groups[0], plan)
    left, right = candidate_pairs(normalised, plan, passes)
    scored = score_pairs(normalised, plan, left, right)
    keep = np.flatnonzero(scored.probability >= plan.threshold - 1e-9)
    equal_left, equal_right = _exact_links(normalised, plan.columns)
    equal = "1.00: " + ", ".join(f"{c}=" for c in plan.columns)
    return (
        np.concatenate([left[keep], equal_left]),
        np.concatenate([right[keep], equal_right]),
        np.concatenate([scored.probability[keep], np.ones(equal_left.size)]),
        describe_pairs(scored, keep) + [equal] * equal_left.size,
    )


def automatic_keys(normalised: _Normalised, columns: Sequence[str]) -> list[np.ndarray]:
    """Blocking keys from columns: each column's value, and each two columns' values.

    Each key's largest blocks are left out (``-1``) until it pairs at most half as many
    rows as there are, so that every key costs linear work.
    """
    singles = [normalised.codes(c) for c in columns]
    keys = singles + [_combine([a, b]) for a, b in combinations(singles, 2)]
    return [_without_big_blocks(k) for k in keys]


def candidate_pairs(
    normalised: _Normalised, plan: MatchPlan, passes: list[list[np.ndarray]] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs to score: rows agreeing on any blocking key (``passes``, or automatic ones)."""
    columns = plan.columns
    keys: list[np.ndarray]
    if passes is None:
        keys = automatic_keys(normalised, columns)
    else:
        keys = [_combine(parts) for parts in passes]
    n = len(normalised.codes(columns[0]))
    lefts, rights = [], []
    for codes in keys:
        total = _pair_count(codes)
        if total > plan.max_pairs:
            raise DataError(
                f"a block= key would compare {total:,} pairs (over max_pairs="
                f"{plan.max_pairs:,}); give a more selective block=, or leave block= out to "
                "let find_duplicates choose keys"
            )
        left, right = _pairs_within(codes)
        lefts.append(left)
        rights.append(right)
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    unique = np.unique(np.concatenate(lefts) * n + np.concatenate(rights))
    return unique // max(n, 1), unique % max(n, 1)


def score_pairs(
    normalised: _Normalised,
    plan: MatchPlan,
    left: np.ndarray,
    right: np.ndarray,
) -> ScoredPairs:
    """Levels, weights and match probabilities of the pairs ``left[i], right[i]``."""
    group = plan.groups[0]
    columns = plan.columns
    levels = np.zeros((left.size, len(columns)), dtype=np.int8)
    u_pairs = np.ones((left.size, len(columns)))  # each pair's u at its level, by column
    u_similar_of = np.ones(len(columns))
    m = np.zeros((len(columns), 4))
    information = np.zeros(len(columns))
    for j, column in enumerate(columns):
        codes = normalised.codes(column)
        fuzzy = column in group.fuzzy
        a, b = codes[left], codes[right]
        level = np.where((a >= 0) & (b >= 0), DIFFERENT, MISSING).astype(np.int8)
        level[(a == b) & (a >= 0)] = EQUAL
        unequal = np.flatnonzero(level == DIFFERENT)
        if fuzzy and unequal.size:
            similar = _similar(normalised, column, left[unequal], right[unequal], plan)
            level[unequal[similar]] = SIMILAR
        u_equal, u_value, u_similar = _unrelated(normalised, column, fuzzy, plan)
        u_similar_of[j] = max(u_similar, _MIN_U)
        u = np.array([1.0, max(1.0 - u_equal - u_similar, 0.01), u_similar_of[j], 1.0])
        u_pairs[:, j] = u[level]
        at_equal = level == EQUAL
        u_pairs[at_equal, j] = u_value[a[at_equal]]
        levels[:, j] = level
        m[j] = _M_NAMES if normalised.kind(column) in _NAME_KINDS else _M
        information[j] = -np.log2(max(u_equal, _MIN_U))
    _forgive_swapped_names(normalised, columns, left, right, levels, u_pairs, u_similar_of)
    rows = len(normalised.codes(columns[0])) if columns else 0
    all_pairs = rows * (rows - 1) / 2
    m = _estimate_m(levels, u_pairs, m, all_pairs)
    weights = np.log2(np.take_along_axis(m.T, levels.astype(np.intp), axis=0) / u_pairs)
    _discount_dependent(levels, weights, u_pairs, information, all_pairs, m[:, EQUAL])
    total = weights.sum(axis=1)
    weight = total + _prior_log_odds(total, all_pairs)
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))
    return ScoredPairs(left, right, columns, levels, weights, weight, probability)


def describe_pairs(scored: ScoredPairs, rows: np.ndarray) -> list[str]:
    """A short text per pair ``rows`` of ``scored``: its probability and each field's level.

    ``"0.99: given_name=, surname~, date_of_birth!=, phone?"``: ``=`` equal, ``~`` similar,
    ``!=`` different, ``?`` missing on one side.
    """
    out = []
    for i in rows:
        fields = ", ".join(
            f"{column}{_SYMBOLS[level]}"
            for column, level in zip(scored.columns, scored.levels[i], strict=True)
        )
        out.append(f"{np.floor(scored.probability[i] * 100) / 100:.2f}: {fields}")
    return out


# --- helpers ----------------------------------------------------------------------------------


def _position(df: pd.DataFrame, label: Hashable) -> int:
    """The row position of an index label; the label must name exactly one row."""
    try:
        found = df.index.get_loc(label)
    except KeyError:
        raise DataError(
            f"{label!r} is not an index label of the frame; give the labels of two rows"
        ) from None
    if not isinstance(found, int | np.integer):
        raise DataError(f"the index label {label!r} names several rows; reset the index first")
    return int(found)


def _without_big_blocks(codes: np.ndarray) -> np.ndarray:
    """The key codes, with the rows of its largest blocks set to -1 (no block).

    Blocks over ``_MAX_BLOCK`` rows go, and then the largest others until the key pairs no
    more rows than there are (a common first name alone says little): every key costs at
    most one pair per row, so the work grows linearly with the rows.
    """
    valid = codes >= 0
    if not valid.any():
        return codes
    sizes = np.bincount(codes[valid])
    pairs_by_size = np.bincount(sizes, weights=sizes * (sizes - 1) / 2)[: _MAX_BLOCK + 1]
    within = np.flatnonzero(np.cumsum(pairs_by_size) <= valid.size * _PAIRS_PER_ROW)
    largest = max(int(within[-1]) if within.size else 2, 2)
    big = np.zeros(codes.size, dtype=bool)
    big[valid] = sizes[codes[valid]] > largest
    return np.where(big, -1, codes)


def _similar(
    normalised: _Normalised, column: str, left: np.ndarray, right: np.ndarray, plan: MatchPlan
) -> np.ndarray:
    """Whether each pair's two (unequal, present) values are similar enough to be one."""
    codes = normalised.codes(column)
    a, b = codes[left], codes[right]
    # names repeat: compare each pair of distinct values once
    width = int(codes.max()) + 1
    distinct, back = np.unique(np.minimum(a, b) * width + np.maximum(a, b), return_inverse=True)
    first, second = distinct // width, distinct % width
    if normalised.kind(column) in _TEXT_KINDS:
        scores = _similarity(normalised, column, first, second, plan.scorer, coded=True)
        return np.asarray(scores >= _SIMILAR_TEXT)[back]
    texts = normalised.texts(column)
    distance = process.cpdist(
        texts[first], texts[second], scorer=OSA.distance, score_cutoff=2, workers=1
    )
    return (np.asarray(distance) <= 1)[back]


def _unrelated(
    normalised: _Normalised, column: str, fuzzy: bool, plan: MatchPlan
) -> tuple[float, np.ndarray, float]:
    """How often unrelated rows agree on a column: any equal value, each value, similar.

    Returns the chance that two random rows (both with a value) are equal, that chance for
    each value (its frequency) by code, and the chance that they are similar but not equal
    (measured on up to ``_SAMPLE`` random pairs; 0 when the column is not fuzzy).
    """
    codes = normalised.codes(column)
    present = np.flatnonzero(codes >= 0)
    if not present.size:
        return 0.0, np.ones(1), 0.0
    frequency = np.bincount(codes[present]) / present.size
    u_equal = float((frequency**2).sum())
    if not fuzzy or present.size < 2:
        return u_equal, np.maximum(frequency, _MIN_U), 0.0
    rng = np.random.default_rng(0)  # the same sample every run: results repeat
    count = min(_SAMPLE, present.size * (present.size - 1) // 2)
    a = present[rng.integers(0, present.size, count)]
    b = present[rng.integers(0, present.size, count)]
    unequal = codes[a] != codes[b]
    similar = _similar(normalised, column, a[unequal], b[unequal], plan)
    u_similar = (float(similar.sum()) + 0.5) / (count + 1)  # never 0: a pseudo-count
    return u_equal, np.maximum(frequency, _MIN_U), u_similar


def _forgive_swapped_names(
    normalised: _Normalised,
    columns: tuple[str, ...],
    left: np.ndarray,
    right: np.ndarray,
    levels: np.ndarray,
    u_pairs: np.ndarray,
    u_similar: np.ndarray,
) -> None:
    """Rate a first name and a last name typed in each other's field as similar, not different.

    Forms and imports swap them often enough (FEBRL plants it) that two rows whose first
    name is the other's last name and the reverse are better read as one person mistyped.
    """
    kinds = [normalised.kind(c) for c in columns]
    if "first_name" not in kinds or "name" not in kinds:
        return
    f, last = kinds.index("first_name"), kinds.index("name")
    first_texts = normalised.texts(columns[f])[normalised.codes(columns[f])]
    last_texts = normalised.texts(columns[last])[normalised.codes(columns[last])]
    unequal = np.flatnonzero(
        (levels[:, f] != EQUAL) & (levels[:, f] != MISSING) & (levels[:, last] != MISSING)
    )
    a, b = left[unequal], right[unequal]
    swapped = unequal[(first_texts[a] == last_texts[b]) & (last_texts[a] == first_texts[b])]
    for j in (f, last):
        levels[swapped, j] = SIMILAR
        u_pairs[swapped, j] = u_similar[j]


def _estimate_m(
    levels: np.ndarray, u_pairs: np.ndarray, m: np.ndarray, all_pairs: float
) -> np.ndarray:
    """Per column, P(level | same record), by expectation-maximisation on the candidates.

    Starts from the generic shares and keeps them when too few pairs look like matches to
    learn from; each share stays at least ``_MIN_M``, so that no level is ever final.
    """
    index = levels.astype(np.intp)
    log_u = np.log2(u_pairs).sum(axis=1)  # u stays fixed: only m moves
    learned = m.copy()
    for _ in range(_EM_ROUNDS):
        log_m = np.log2(learned)
        total = -log_u
        for j in range(levels.shape[1]):
            total = total + log_m[j][index[:, j]]
        weight = total + _prior_log_odds(total, all_pairs)
        posterior = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))
        if posterior.sum() < _EM_MIN_MATCHES:
            return m
        for j in range(levels.shape[1]):
            per_level = np.bincount(index[:, j], weights=posterior, minlength=4)[1:]
            if per_level.sum() < _EM_MIN_MATCHES:
                continue
            shares = np.maximum(per_level / per_level.sum(), _MIN_M)
            # never learn that duplicates differ more often than the generic share says:
            # that way lies the classic collapse, colleagues at one address taken as one
            shares[0] = min(shares[0], _EM_MAX_RISE * m[j, DIFFERENT])
            shares[1:] *= (1.0 - shares[0]) / shares[1:].sum()
            learned[j, 1:] = shares
    return learned


def _discount_dependent(
    levels: np.ndarray,
    weights: np.ndarray,
    u_values: np.ndarray,
    information: np.ndarray,
    all_pairs: float,
    m_equal: np.ndarray,
) -> None:
    """Count an equal column less when a more telling equal column already implies it.

    Fellegi–Sunter adds columns as if independent, but an office phone, a street and its
    postal code and city are not: colleagues would agree on all four and look like one
    person. For columns A (more telling) and B, ``P(B equal | A equal)`` is measured on the
    candidate pairs that the *other* columns say are surely two records (their weights and
    the prior sum below ``_UNRELATED``), and B's equal weight uses it instead of B's own frequency when it is
    larger. Leaving A and B out keeps the pairs they would wrongly join in the measurement.
    """
    equal = levels == EQUAL
    total = weights.sum(axis=1)
    total = total + _prior_log_odds(total, all_pairs)
    original = weights.copy()
    agreeing = [np.flatnonzero(equal[:, a]) for a in range(levels.shape[1])]
    order = np.argsort(-information, kind="stable")
    for rank, b in enumerate(order):
        u_given = np.zeros(levels.shape[0])
        for a in order[:rank]:
            rows = agreeing[a]
            rest = total[rows] - original[rows, a] - original[rows, b]
            unrelated = rows[rest < _UNRELATED]
            if unrelated.size < _MIN_DEPENDENT:  # too few unrelated pairs agree on A
                continue
            implied = float(equal[unrelated, b].mean())
            u_given[rows] = np.maximum(u_given[rows], implied)
        raise_u = equal[:, b] & (u_given > u_values[:, b])
        weights[raise_u, b] = np.log2(m_equal[b] / u_given[raise_u])


def _prior_log_odds(evidence: np.ndarray, all_pairs: float) -> float:
    """log2 of the prior odds that two rows match, by EM with the weights fixed.

    The prior is over *all* pairs of rows, not the candidates: the weights already count the
    agreement that made a pair a candidate, so a prior over candidates would count it twice
    (two common names alone would match in a large frame). Pairs outside the candidates are
    taken as non-matches.
    """
    if not evidence.size or all_pairs <= 0:
        return 0.0
    ratio = np.exp2(np.clip(evidence, -60, 60))
    share = min(0.1, evidence.size / all_pairs)
    for _ in range(100):
        posterior = share * ratio / (share * ratio + 1.0 - share)
        new = float(np.clip(posterior.sum() / all_pairs, 1e-15, 0.5))
        if abs(new - share) <= 1e-4 * share:
            share = new
            break
        share = new
    return float(np.log2(share / (1.0 - share)))
