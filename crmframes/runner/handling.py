"""A step's error processing in a job: retry it on a schedule, append its rejects to a table.

Orchestration. :func:`attempt` runs a step once, or again after ``retry.wait`` for each
failure that may pass (the CRM unreachable or down, an API limit), as the seed's "wait box
and schedule retries"; each failed attempt is kept in the step's report. The wait is a
``sleep`` function handed down from :func:`crmframes.runner.run_job`, so tests and callers
with their own scheduler do not wait. :func:`append_rejects` is the seed's "Reject"
transition: the rows the CRM refused go to a store table with the run's id and time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd

from crmframes.errors import ConnectorError, RateLimitedError, UnavailableError
from crmframes.runner.report import Attempt, StepReport
from crmframes.specs import DeleteSpec, ExportSpec, StepSpec
from crmframes.specs.handling import RejectsSpec
from crmframes.store import CampaignStore

__all__ = ["RUN_COLUMNS", "append_rejects", "attempt", "why_not_retried"]

RUN_COLUMNS = ("crmRunId", "crmRunAt", "crmStep", "crmRejectNo")
_KEY = ["crmRunId", "crmStep", "crmRejectNo"]
_PLACEHOLDER = "-"  # the run id of the row that creates an empty rejects table


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
    retry = getattr(spec, "retry", None)
    number = 1
    while True:
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
            number += 1


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


def _exists(store: CampaignStore, table: str) -> bool:
    return table.lower() in {name.lower() for name in store.tables()}


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return None
    return value.isoformat() if isinstance(value, datetime | pd.Timestamp) else str(value)
