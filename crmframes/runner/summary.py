"""How a step names itself and counts what it did, for its report.

Orchestration (runner side): a step's label (``import contact → contact``), its source's
name, rejects counted by ``errorSymbol``, and the non-zero counts of an operation's result.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmframes.dedupe import DedupeResult
from crmframes.specs import (
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    MergeSpec,
    Source,
    StepSpec,
)

__all__ = ["by_symbol", "counts_of", "label", "nonzero", "source_label"]


def label(spec: StepSpec) -> str:
    """Say in a few words what a step works on: ``import contact → contact``."""
    if isinstance(spec, ImportSpec):
        return f"import {spec.object} → {spec.target}"
    if isinstance(spec, ExportSpec):
        return f"export {source_label(spec.source)} → {spec.object}"
    if isinstance(spec, DeleteSpec):
        return f"delete {spec.object} of {source_label(spec.source)}"
    if isinstance(spec, DeletedSpec):
        return f"import deleted {spec.object}" + (f" → {spec.table}" if spec.table else "")
    if isinstance(spec, DedupeSpec):
        return f"dedupe {spec.table}"
    if isinstance(spec, MergeSpec):
        return f"merge {source_label(spec.source)} → {spec.table}"
    return f"reconcile {source_label(spec.source)} with {spec.object}"


def source_label(source: Source) -> str:
    """Name a step's source: its table, ``query``, or its file's name."""
    if source.table is not None:
        return source.table
    return "query" if source.query is not None else Path(str(source.file)).name


def by_symbol(rejects: pd.DataFrame) -> dict[str, int]:
    """Count rejects by ``errorSymbol``, most frequent first."""
    if not len(rejects) or "errorSymbol" not in rejects.columns:
        return {}
    return _count(rejects["errorSymbol"].fillna("UNKNOWN").astype("str").tolist())


def _count(symbols: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for symbol in symbols:
        counts[symbol] = counts.get(symbol, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def nonzero(first: dict[str, int], **counts: int) -> dict[str, int]:
    """Return ``first`` and those of ``counts`` that are not zero."""
    return first | {name: n for name, n in counts.items() if n}


def counts_of(result: DedupeResult) -> dict[str, int]:
    """The integer counts of a dedupe's result (``survivors``, ``removed``, ``clusters``...)."""
    return {str(k): int(v) for k, v in result.counts.items() if isinstance(v, int)}
