"""A step's error processing in a job: retry it on a schedule, append its rejects to a table.

Orchestration. :func:`attempt` runs a step once, or again after ``retry.wait`` for each
failure that may pass (the CRM unreachable or down, an API limit), as the seed's "wait box
and schedule retries"; each failed attempt is kept in the step's report. The wait is a
``sleep`` function handed down from :func:`crmframes.runner.run_job`, so tests and callers
with their own scheduler do not wait. :func:`append_rejects` is the seed's "Reject"
transition: the rows the CRM refused go to a store table with the run's id and time.

An export or a delete does not fail when the CRM is down: the connector's quick retries
given up, the rows of the failed calls come back as rejects (HTTP 429 / 503,
``CONNECTION_LOST``, or a symbol the CRM declares in its registry entry,
:attr:`~crmframes.registry.CrmKind.for_now_symbols`) that were not applied.
:func:`resend_transient` sends just those rows again after the wait, so the rows that went
through are never sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from crmframes import registry
from crmframes.errors import ConnectorError, RateLimitedError, UnavailableError
from crmframes.operations.export_result import ExportResult
from crmframes.runner.report import Attempt, StepReport
from crmframes.specs import (
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    MergeSpec,
    ReconcileSpec,
    StepSpec,
)
from crmframes.specs.handling import RejectsSpec, RetrySpec
from crmframes.store import CampaignStore

__all__ = [
    "RUN_COLUMNS",
    "Resent",
    "append_rejects",
    "attempt",
    "dry_run_of",
    "for_now_symbols",
    "rejects_of",
    "resend_transient",
    "retry_of",
    "transient_rejects",
    "why_not_retried",
]

RUN_COLUMNS = ("crmRunId", "crmRunAt", "crmStep", "crmRejectNo")
# The steps whose spec has ``rejects:``, ``retry:`` and ``dry_run:`` (a test keeps these in
# step with the specs' fields): read through isinstance, never getattr.
WITH_REJECTS = (ImportSpec, ExportSpec, DeleteSpec, ReconcileSpec)
WITH_RETRY = (ImportSpec, ExportSpec, DeleteSpec, DeletedSpec, ReconcileSpec)
WITH_DRY_RUN = (ExportSpec, DedupeSpec, MergeSpec)
# Rejects of a whole call that failed for now (after the connector's own retries): the CRM
# down, an API limit, the connection lost before the CRM took the call. An insert whose
# answer was lost is looked up by the export and, unsettled, is OUTCOME_UNKNOWN: never here.
# These are any CRM's; each CRM adds its own symbols (CrmKind.for_now_symbols).
_FOR_NOW_CODES = frozenset({"429", "502", "503", "504"})
_FOR_NOW_SYMBOLS = frozenset(
    {
        "CONNECTION_LOST",  # a keyed write or delete whose answer was lost: safe to resend
        "UnavailableError",  # no CRM code: the connection was refused or dropped
        "RateLimitedError",
    }
)
_KEY = ["crmRunId", "crmStep", "crmRejectNo"]
_PLACEHOLDER = "-"  # the run id of the row that creates an empty rejects table


def rejects_of(spec: StepSpec) -> RejectsSpec | None:
    """The step's ``rejects:`` rules, or None (none given, or a step that has none)."""
    return spec.rejects if isinstance(spec, WITH_REJECTS) else None


def retry_of(spec: StepSpec) -> RetrySpec | None:
    """The step's ``retry:`` rules, or None (none given, or a step that has none)."""
    return spec.retry if isinstance(spec, WITH_RETRY) else None


def dry_run_of(spec: StepSpec) -> bool:
    """Whether the step itself says ``dry_run: true`` (whatever the job says)."""
    return isinstance(spec, WITH_DRY_RUN) and spec.dry_run


def attempt(
    run: Callable[[], None],
    spec: StepSpec,
    step: StepReport,
    *,
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> None:
    """Run a step; with ``retry:``, run it again after a wait while it fails in a way that may pass.

    Between attempts the step's counts, rejects and notes are cleared: the report shows the
    last attempt's outcome, and each failed one in ``step.attempts``.

    Raises:
        CrmframesError: the last attempt's error.
    """
    retry = retry_of(spec)
    while True:
        number = len(step.attempts) + 1  # resent rows of an export count as attempts too
        try:
            run()
            return
        except ConnectorError as exc:
            if retry is None:
                raise
            error = " ".join(str(exc).split())
            reason = why_not_retried(spec, exc)
            if reason is None and number > retry.times:
                reason = f"{retry.times} {'retry' if retry.times == 1 else 'retries'} done"
            if reason is not None:
                step.attempts.append(Attempt(number=number, error=error, reason=reason))
                raise
            wait = max(retry.wait.total_seconds(), float(exc.retry_after or 0))
            step.attempts.append(Attempt(number=number, error=error, wait=wait))
            say(f"  attempt {number} failed: {error}; retrying in {wait:g} s")
            sleep(wait)
            step.counts, step.rejects, step.notes = {}, {}, []
            step.status = "ok"


def why_not_retried(spec: StepSpec, exc: ConnectorError) -> str | None:
    """Say why an error must not be retried, or None when a retry may succeed.

    Retried: the CRM or the network down for now (``UnavailableError``, a lost connection
    included) and API limits (``RateLimitedError``), or any error the connector marks
    retryable. Not retried: refused credentials, permissions, bad requests and data (they
    come back the same), and a write whose outcome is unknown when no journal can settle it.

    Examples:
        >>> from crmframes.errors import NotFoundError
        >>> why_not_retried(None, NotFoundError("no", system="dynamics", operation="x"))
        'NotFoundError would fail again'
    """
    if not (exc.retryable or isinstance(exc, UnavailableError | RateLimitedError)):
        return f"{type(exc).__name__} would fail again"
    if exc.outcome_unknown and isinstance(spec, ExportSpec | DeleteSpec) and spec.journal is False:
        return "the call's outcome is unknown and the step has no journal to settle it"
    return None


@dataclass
class Resent:
    """The results of an export or delete and of its resends, as one.

    Attributes:
        results: each attempt's result, in order.
        frame: the rows that succeeded, over all attempts.
        rejects: the rows rejected for good, then those still rejected by the last attempt;
            ``inputIndex`` is the row's position in the step's input.
    """

    results: list[ExportResult] = field(default_factory=list)
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def combined(self, rows: int) -> ExportResult:
        """One result as the operation returns it: the first, with all attempts' rows and counts."""
        first = self.results[0]
        if len(self.results) == 1:
            return first
        each = [result.stats for result in self.results]  # the counts that add up over resends
        stats = replace(
            first.stats,
            rows=rows,
            rejected=len(self.rejects),
            created=sum(s.created for s in each),
            updated=sum(s.updated for s in each),
            deleted=sum(s.deleted for s in each),
            unchanged=sum(s.unchanged for s in each),
            resumed=sum(s.resumed for s in each),
            batches=sum(s.batches for s in each),
            api_calls=sum(s.api_calls for s in each),
            retries=sum(s.retries for s in each),
            seconds=sum(s.seconds for s in each),
        )
        return replace(first, frame=self.frame, rejects=self.rejects, stats=stats)


def for_now_symbols(system: str) -> frozenset[str]:
    """The ``errorSymbol`` values that mean "failed for now" in the rejects of ``system``.

    Those of any CRM (a lost connection, an unavailable service, a rate limit) and those the
    CRM declares in its registry entry; a connector of a CRM nobody registered gets the
    former only.

    Examples:
        >>> sorted(for_now_symbols("salesforce") - for_now_symbols("no such crm"))
        ['REQUEST_LIMIT_EXCEEDED', 'SERVER_UNAVAILABLE']
    """
    if system not in registry.crm_names():
        return _FOR_NOW_SYMBOLS
    return _FOR_NOW_SYMBOLS | registry.crm_kind(system).for_now_symbols


def transient_rejects(
    rejects: pd.DataFrame, *, symbols: Collection[str] = _FOR_NOW_SYMBOLS
) -> pd.Series:
    """Which rejects failed only for now (the CRM down, an API limit, a lost connection).

    A reject is for now when its ``errorSymbol`` is one of ``symbols`` (see
    :func:`for_now_symbols`) or its ``errorCode`` is HTTP 429, 502, 503 or 504.

    Examples:
        >>> df = pd.DataFrame({"errorSymbol": ["MEMBERS_BUSY", "CONNECTION_LOST", "TOO_LONG"],
        ...                    "errorCode": ["409", None, "400"]})
        >>> transient_rejects(df, symbols={"MEMBERS_BUSY", "CONNECTION_LOST"}).tolist()
        [True, True, False]
    """
    if not len(rejects) or "errorSymbol" not in rejects.columns:
        return pd.Series(False, index=rejects.index, dtype="bool")
    found = rejects["errorSymbol"].astype("str")
    codes = rejects.get("errorCode", pd.Series(None, index=rejects.index)).astype("str")
    return (found.isin(list(symbols)) | codes.isin(_FOR_NOW_CODES)).astype("bool")


def resend_transient(
    send: Callable[[pd.DataFrame], ExportResult],
    df: pd.DataFrame,
    spec: StepSpec,
    step: StepReport,
    *,
    symbols: Collection[str],
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> Resent:
    """Write ``df`` with ``send``; with ``retry:``, send the rows rejected for now again.

    After each wait only the rows whose rejects are :func:`transient_rejects` (with the
    CRM's ``symbols``, :func:`for_now_symbols`) are sent: they were not applied, while the
    others either went through or failed for good, so nothing is written twice. Each round
    that left rows rejected for now is an attempt in the report.
    """
    retry = retry_of(spec)
    positions = np.arange(len(df))  # the input positions of the rows sent last
    out = Resent()
    kept: list[pd.DataFrame] = []
    frames: list[pd.DataFrame] = []
    batch = df
    while True:
        result = send(batch)
        out.results.append(result)
        frames.append(result.frame)
        rejects = _renumbered(result.rejects, positions)
        later = transient_rejects(rejects, symbols=symbols)
        if retry is None or not later.any():
            break
        number = len(step.attempts) + 1
        error = _summary(rejects[later])
        if number > retry.times:
            reason = f"{retry.times} {'retry' if retry.times == 1 else 'retries'} done"
            step.attempts.append(Attempt(number=number, error=error, reason=reason))
            break
        wait = retry.wait.total_seconds()
        step.attempts.append(Attempt(number=number, error=error, wait=wait))
        say(f"  attempt {number}: {error}; sending them again in {wait:g} s")
        sleep(wait)
        kept.append(rejects[~later])
        positions = rejects.loc[later, "inputIndex"].astype("int64").to_numpy()
        batch = df.iloc[positions]
    out.frame = _concat(frames)
    out.rejects = _concat([*kept, rejects]).reset_index(drop=True)
    return out


def append_rejects(
    store: CampaignStore,
    rules: RejectsSpec,
    rejects: pd.DataFrame,
    *,
    run_id: str,
    run_at: datetime,
    step: int,
) -> int:
    """Append a step's rejects to ``rules.table`` with the run's columns; return how many.

    The rows get ``crmRunId``, ``crmRunAt``, ``crmStep`` and ``crmRejectNo`` (from 1);
    ``crmRunId``, ``crmStep`` and ``crmRejectNo`` are the table's key, so each run appends
    and never overwrites an earlier run's rows.
    Columns of mixed Python objects are kept as text. The table is created even when there
    are no rejects, so a later step can read it.

    Raises:
        DataError: a column's type conflicts with the one stored by an earlier run.
        StoreError: the store failed.
    """
    frame = rejects.reset_index(drop=True).infer_objects()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_text).astype("str")
    frame = frame.drop(columns=[c for c in RUN_COLUMNS if c in frame.columns])
    n = len(frame)
    placeholder = n == 0
    if placeholder:
        if _exists(store, rules.table):
            return 0
        frame = frame.reindex([0])  # one row of nulls, with the columns' types
    run_columns = pd.DataFrame(
        {
            "crmRunId": pd.Series(
                [_PLACEHOLDER if placeholder else run_id] * len(frame), dtype="str"
            ),
            "crmRunAt": pd.Series([pd.Timestamp(run_at)] * len(frame), dtype="datetime64[us, UTC]"),
            "crmStep": pd.Series([step] * len(frame), dtype="Int64"),
            "crmRejectNo": pd.Series(range(1, len(frame) + 1), dtype="Int64"),
        }
    )
    frame = pd.concat([run_columns, frame], axis=1)
    store.merge(rules.table, frame, key=_KEY)
    if placeholder:
        from crmframes.store.sql import quote

        store.sql(f'DELETE FROM {quote(rules.table)} WHERE "crmRunId" = ?', [_PLACEHOLDER])
    return n


def _renumbered(rejects: pd.DataFrame, positions: np.ndarray[Any, Any]) -> pd.DataFrame:
    """Rejects whose ``inputIndex`` points into the step's input, not into a resent part."""
    if not len(rejects) or "inputIndex" not in rejects.columns:
        return rejects
    out = rejects.copy()
    index = out["inputIndex"]
    known = index.notna()
    mapped = positions[index[known].astype("int64").to_numpy()]
    out["inputIndex"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.loc[known, "inputIndex"] = mapped
    return out


def _summary(rejects: pd.DataFrame) -> str:
    """``3 rows rejected for now: SERVER_UNAVAILABLE (HTTP 503): the message``."""
    first = rejects.iloc[0]
    code = first.get("errorCode")
    http = f" (HTTP {code})" if isinstance(code, str) and code.isdigit() else ""
    message = " ".join(str(first.get("errorMessage") or "").split())
    n = len(rejects)
    rows = f"{n:,} {'row' if n == 1 else 'rows'}"
    return f"{rows} rejected for now: {first['errorSymbol']}{http}: {message}"


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    shown = [frame for frame in frames if len(frame)] or frames[-1:]
    return pd.concat(shown, ignore_index=True) if len(shown) > 1 else shown[0]


def _exists(store: CampaignStore, table: str) -> bool:
    return table.lower() in {name.lower() for name in store.tables()}


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return None
    return value.isoformat() if isinstance(value, datetime | pd.Timestamp) else str(value)
