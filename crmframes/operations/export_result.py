"""What an export or a delete reports: its counts (:class:`ExportStats`) and its rows.

Orchestration helper of :mod:`crmframes.operations.exporting` and
:mod:`crmframes.operations.deleting` (pure dataclasses): the rows that went through, the
rejects, the counts, and how they show in a notebook, in 80 columns and as a chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from crmframes import charts, display

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ExportResult", "ExportStats"]


@dataclass(frozen=True)
class ExportStats:
    """What a write cost and did.

    Attributes:
        rows: input rows.
        created, updated, deleted, unchanged: successful rows by action.
        rejected: rows in the rejects (before any call, or by the CRM).
        resumed: rows whose outcome came from an earlier run's journal.
        batches: write calls or bulk jobs sent.
        api_calls: API calls made, counted as the CRM counts them.
        retries: rows sent again after a transient failure.
        seconds: wall time.
        mode: ``"batch"`` or ``"bulk"`` (``"dry run"`` when nothing was written).
        parallel: the most write calls that were in flight at once.
        throttles: throttles the CRM answered (429, ``REQUEST_LIMIT_EXCEEDED``), each
            retried after its ``Retry-After`` and lowering the calls in flight.
        waited: seconds calls spent waiting on throttles (summed over calls in flight).
    """

    rows: int
    created: int
    updated: int
    deleted: int
    unchanged: int
    rejected: int
    resumed: int
    batches: int
    api_calls: int
    retries: int
    seconds: float
    mode: str
    parallel: int = 1
    throttles: int = 0
    waited: float = 0.0

    def __str__(self) -> str:
        done = ", ".join(
            f"{n:,} {label}"
            for n, label in (
                (self.created, "created"),
                (self.updated, "updated"),
                (self.deleted, "deleted"),
                (self.unchanged, "unchanged"),
            )
            if n
        )
        resumed = f" ({self.resumed:,} already done per the journal)" if self.resumed else ""
        parallel = f", {self.parallel} in parallel" if self.parallel > 1 else ""
        throttled = (
            f", {self.throttles} throttled ({self.waited:.1f} s waited)" if self.throttles else ""
        )
        return (
            f"{self.rows:,} rows: {done or 'none written'}{resumed}, {self.rejected:,} rejected; "
            f"{self.batches} batches{parallel}, {self.api_calls} API calls{throttled}, "
            f"{self.seconds:.2f} s ({self.mode})"
        )

    def __repr__(self) -> str:
        return f"ExportStats({self})"

    def _repr_html_(self) -> str:
        return display.card(f"{self.rows:,} rows ({self.mode})", self._facts())

    def _counts(self) -> list[tuple[str, int]]:
        counts = [("created", self.created), ("updated", self.updated), ("deleted", self.deleted)]
        counts.append(("unchanged", self.unchanged))
        return [(name, n) for name, n in counts if n] + [("rejected", self.rejected)]

    def _facts(self) -> list[tuple[str, Any]]:
        calls = [("already done (journal)", self.resumed), ("batches", self.batches)]
        calls += [("API calls", self.api_calls), ("retries", self.retries)]
        calls += [("calls in parallel", self.parallel if self.parallel > 1 else 0)]
        calls += [("throttles", self.throttles)]
        shown: list[tuple[str, Any]] = [(name, n) for name, n in calls if n]
        if self.throttles:
            shown.append(("waited on throttles", display.duration(self.waited)))
        return [*self._counts(), *shown, ("time", display.duration(self.seconds))]


@dataclass
class ExportResult:
    """The outcome of :func:`export_to_crm` or :func:`delete_in_crm`.

    Attributes:
        frame: the rows that succeeded (or, in a dry run, every planned row), with ``crmId``
            and ``crmAction`` (``created``, ``updated``, ``deleted``, ``unchanged``; in a dry
            run ``insert``, ``update``, ``unchanged``, ``missing``).
        rejects: rows that failed, with ``errorSymbol``, ``errorMessage``, ``errorCode``,
            ``errorFields`` and ``inputIndex`` (the row's position in the input frame).
        stats: counts, calls and time.
        changes: for a dry run or ``only_changed``: one row per field that would change
            (``inputIndex``, ``crmId``, ``field``, ``old``, ``new``).
        journal: the journal file, when there is one.
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame
    stats: ExportStats
    object: str
    system: str
    op: str
    key: str | None
    changes: pd.DataFrame | None = None
    journal: Path | None = None
    dry_run: bool = False

    def __repr__(self) -> str:
        what = "dry run of " if self.dry_run else ""
        done = ", ".join(f"{n:,} {name}" for name, n in self.stats._counts())
        time = display.duration(self.stats.seconds)
        s = self.stats
        parallel = f", {s.parallel} in parallel" if s.parallel > 1 else ""
        if s.throttles:
            parallel += f", {s.throttles} throttled ({display.duration(s.waited)} waited)"
        return (
            f"ExportResult({what}{self.op} {self.system} {self.object}: {done}, {time}{parallel})"
        )

    def _repr_html_(self) -> str:
        what = "dry run of " if self.dry_run else ""
        symbols = display.rejects_by_symbol(self.rejects)
        journal = [("journal", str(self.journal))] if self.journal is not None else []
        return display.card(
            f"{what}{self.op} of {self.system} {self.object}: {self.stats.rows:,} rows",
            [*self.stats._facts(), *journal],
            [
                ("rejects by errorSymbol", display.frame(symbols, rows=20) if len(symbols) else ""),
                ("changes", display.frame(self.changes) if self.changes is not None else ""),
                ("first rows", display.frame(self.frame)),
            ],
        )

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the rejected rows by ``errorSymbol`` as bars; return the matplotlib axes."""
        counts = display.rejects_by_symbol(self.rejects).set_index("errorSymbol")["rows"]
        title = f"rejects of the {self.object} {self.op}"
        return charts.bars(counts.to_dict(), title=title, xlabel="rows", ax=ax, **kwargs)
