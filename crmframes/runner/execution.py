"""Run one step of a job, by kind, with the campaign store as the place steps hand data over.

Orchestration: each kind calls its operation (imported when the step runs) with the
keyword arguments its spec gives (``spec.call_kwargs``), reads its rows from the store (a
table, a query) or a file, writes what it produced back to the store, and fills the step's
report: counts, rejects by ``errorSymbol``, notes. In a dry run nothing is written to the
CRM or the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError, CrmframesError, StoreError
from crmframes.runner.handling import (
    append_rejects,
    attempt,
    dry_run_of,
    for_now_symbols,
    rejects_of,
    resend_transient,
)
from crmframes.runner.report import JobReport, StepReport
from crmframes.runner.status import StepStatus
from crmframes.runner.summary import by_symbol, counts_of, nonzero, source_label
from crmframes.runner.tables import as_text, find_table, read_file, replace_table
from crmframes.specs import (
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    MergeSpec,
    ReconcileSpec,
    Source,
    StepSpec,
)
from crmframes.store import CampaignStore

__all__ = ["RUNNERS", "StepContext"]

# How a dry run counts what it would do (an export's ``crmAction``, a delete's preview).
_WOULD = {
    "insert": "would insert",
    "update": "would update",
    "delete": "would delete",
    "unchanged": "unchanged",
    "missing": "not in the CRM",
}


@dataclass
class StepContext:
    """What every step of one run shares: the connector, the store, the run's options.

    ``result`` is the last step's operation result (of an import, export, delete or
    deleted import that ran for real), for a caller that runs one step and wants its
    frames (the widgets do); ``rejects`` is that step's reject frame. ``run_id`` and
    ``run_at`` name the run in rejects tables; ``sleep`` waits between a step's attempts.
    """

    conn: Connector
    store: CampaignStore
    dry_run: bool
    progress: bool
    total: int
    result: Any = None
    rejects: pd.DataFrame | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    run_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    sleep: Callable[[float], None] = time.sleep
    status: StepStatus = field(default_factory=StepStatus)

    def run(self, spec: StepSpec, step: StepReport, report: JobReport) -> None:
        """Run one step, filling its report; a crmframes error fails the step and the job."""
        self.say(f"[{step.index}/{self.total}] {step.label} ...")
        calls = self.conn.api_calls
        started = time.perf_counter()
        try:
            attempt(lambda: self._once(spec, step), spec, step, sleep=self.sleep, say=self.say)
            if step.status == "ok" and self.dry_run:
                step.status = "dry run"
        except CrmframesError as exc:
            step.status = "failed"
            step.error = " ".join(str(exc).split())
            report.error = f"step {step.index} ({step.label}): {step.error}"
            report.exception = exc
        finally:
            step.api_calls = self.conn.api_calls - calls
            step.seconds = time.perf_counter() - started
        outcome = step.error or (f"skipped: {step.notes[-1]}" if step.status == "skipped" else "")
        self.say(
            f"[{step.index}/{self.total}] {step.label}: {outcome or step.summary()} "
            f"({step.seconds:.2f} s)"
        )

    def _once(self, spec: StepSpec, step: StepReport) -> None:
        """One attempt of a step: run it, then append its rejects where ``rejects:`` says."""
        self._forget_rejects()
        RUNNERS[spec.kind](spec, self, step)
        rules = rejects_of(spec)
        skipped = step.status in ("skipped", "dry run") or dry_run_of(spec)
        if rules is None or self.rejects is None or self.dry_run or skipped:
            return
        n = append_rejects(
            self.store,
            rules,
            self.rejects,
            run_id=self.run_id,
            run_at=self.run_at,
            step=step.index,
        )
        step.notes.append(f"{n:,} rejects appended to {rules.table}")

    def resend(
        self,
        send: Callable[[pd.DataFrame], Any],
        df: pd.DataFrame,
        spec: StepSpec,
        step: StepReport,
    ) -> Any:
        """Write ``df`` with ``send``, sending rows rejected for now again per ``retry:``."""
        symbols = for_now_symbols(self.conn.system)  # the CRM's own, and any CRM's
        resent = resend_transient(
            send, df, spec, step, symbols=symbols, sleep=self.sleep, say=self.say
        )
        return resent.combined(len(df))

    def _forget_rejects(self) -> None:
        self.rejects = None  # an earlier attempt's or step's

    def say(self, text: str) -> None:
        """Log a step line; with progress on, show it too (stderr, or a notebook status)."""
        self.status.say(text, visible=self.progress)

    def read(self, source: Source, step: StepReport) -> pd.DataFrame | None:
        """Read a step's rows; None (the step is skipped) when a dry run finds nothing yet."""
        # A dry run skips a step only when its table is missing (an earlier step would have
        # made it); any other error, a bad condition or query, fails the step as a run would.
        try:
            if source.table is not None:
                if self.dry_run and find_table(self.store, source.table) is None:
                    raise StoreError(f"table {source.table!r} does not exist yet")
                return self.store.read(source.table, columns=source.columns, where=source.where)
            if source.query is not None:
                return self.store.sql(source.query)
        except StoreError as exc:
            if not self.dry_run or "does not exist" not in str(exc):
                raise
            step.status = "skipped"
            step.notes.append(" ".join(f"nothing to read in a dry run: {exc}".split()))
            return None
        return read_file(Path(str(source.file)))


def _import(spec: ImportSpec, ctx: StepContext, step: StepReport) -> None:
    from crmframes.operations import AutoIndex, import_from_crm

    population = None
    if spec.population is not None:
        population = ctx.read(spec.population, step)
        if population is None:
            return
    index = None
    if spec.auto_index is not None:
        index = AutoIndex(**spec.auto_index.call_kwargs(AutoIndex, store=ctx.store))
    result = import_from_crm(
        ctx.conn,
        **spec.call_kwargs(
            import_from_crm, auto_index=index, population=population, progress=ctx.progress
        ),
    )
    ctx.result = result
    merged = ctx.store.merge(spec.target, result, dry_run=ctx.dry_run)
    step.counts = nonzero(
        {"imported": result.stats.rows},
        inserted=merged.inserted,
        updated=merged.updated,
        unchanged=merged.unchanged,
        **{"older, kept stored": merged.skipped_older, "duplicates": merged.duplicates},
    )
    step.rejects = by_symbol(result.rejects)
    ctx.rejects = result.rejects
    if result.variables:
        v = result.variables
        start = v["crmStartImport"] or "the beginning"
        moved = "kept (dry run)" if ctx.dry_run else "moved"
        step.notes.append(
            f"window {start} to {v['crmEndDate']} (excluded); {v['crmOptionName']} {moved}"
        )


def _export(spec: ExportSpec, ctx: StepContext, step: StepReport) -> None:
    from crmframes.operations import export_to_crm

    df = ctx.read(spec.source, step)
    if df is None:
        return
    if spec.write_back is not None and spec.write_back.key not in df.columns:
        raise ConfigError(
            f"write_back key {spec.write_back.key!r} is not a column of {source_label(spec.source)}"
        )
    dry_run = ctx.dry_run or spec.dry_run

    def send(rows: pd.DataFrame) -> Any:
        return export_to_crm(
            ctx.conn,
            **spec.call_kwargs(
                export_to_crm, df=rows, dry_run=dry_run, progress=ctx.progress, sleep=ctx.sleep
            ),
        )

    result = send(df) if dry_run else ctx.resend(send, df, spec, step)
    ctx.result = result
    step.rejects = by_symbol(result.rejects)
    ctx.rejects = result.rejects
    if dry_run:
        would = result.frame["crmAction"].value_counts().to_dict() if len(result.frame) else {}
        step.counts = {"rows": len(df)} | {
            _WOULD.get(a, f"would {a}"): int(n) for a, n in would.items()
        }
        step.status = "dry run"
        return
    s = result.stats
    step.counts = nonzero(
        {"rows": s.rows},
        created=s.created,
        updated=s.updated,
        unchanged=s.unchanged,
        resumed=s.resumed,
    )
    if spec.write_back is not None and spec.source.table is not None and len(result.frame):
        wb = spec.write_back
        ids = result.frame.loc[result.frame["crmId"].notna(), [wb.key, "crmId"]]
        ids = ids.rename(columns={"crmId": wb.column})
        # only rows still in the table: a merge would insert a key it does not hold
        stored = ctx.store.read(spec.source.table, columns=[wb.key])[wb.key]
        ids = ids[ids[wb.key].isin(stored)]
        ctx.store.merge(spec.source.table, ids, key=wb.key)
        step.counts["ids written back"] = len(ids)
        step.notes.append(f"CRM ids written to {spec.source.table}.{wb.column}")


def _delete(spec: DeleteSpec, ctx: StepContext, step: StepReport) -> None:
    df = ctx.read(spec.source, step)
    if df is None:
        return
    if ctx.dry_run:
        ctx.result = _preview_deletes(spec, ctx, df)
        actions = ctx.result["crmAction"].value_counts().to_dict()
        step.counts = {"rows": len(df)} | {
            _WOULD[a]: int(actions[a]) for a in ("delete", "missing") if actions.get(a)
        }
        step.rejects = by_symbol(ctx.result[ctx.result["crmAction"] == "rejected"])
        return
    from crmframes.operations import delete_in_crm

    def send(rows: pd.DataFrame) -> Any:
        return delete_in_crm(
            ctx.conn,
            **spec.call_kwargs(delete_in_crm, df=rows, progress=ctx.progress, sleep=ctx.sleep),
        )

    result = ctx.resend(send, df, spec, step)
    ctx.result = result
    step.counts = nonzero({"rows": result.stats.rows}, deleted=result.stats.deleted)
    step.rejects = by_symbol(result.rejects)
    ctx.rejects = result.rejects


def _preview_deletes(spec: DeleteSpec, ctx: StepContext, df: pd.DataFrame) -> pd.DataFrame:
    """What a delete would do to each row: ``delete``, ``missing`` (not in the CRM), ``rejected``.

    The ids are read back from the CRM (in the connector's id chunks), so a dry run says how
    many records exist, as the real delete will find them.
    """
    from crmframes.connectors.base import ReadRequest
    from crmframes.filters import F
    from crmframes.writes import plan_deletes

    schema = ctx.conn.describe(spec.object)
    plan = plan_deletes(df, schema, key=spec.key, normalize_id=ctx.conn.normalize_id)
    ids = [str(record[schema.id_field]) for record in plan.records]
    found: set[str] = set()
    size = max(1, ctx.conn.id_chunk_size)
    for start in range(0, len(ids), size):
        request = ReadRequest(
            spec.object,
            (schema.id_field,),
            where=F(schema.id_field).isin(ids[start : start + size]),
            mode="rest",
        )
        for page in ctx.conn.read(request):
            found.update(str(v).lower() for v in page.table.column(schema.id_field).to_pylist())
    rows = [
        {"inputIndex": p, "crmId": i, "crmAction": "delete" if i.lower() in found else "missing"}
        for p, i in zip(plan.positions, ids, strict=True)
    ] + [
        {"inputIndex": r.position, "crmId": None, "crmAction": "rejected", "errorSymbol": r.symbol}
        for r in plan.rejects
    ]
    columns = ["inputIndex", "crmId", "crmAction", "errorSymbol"]
    preview = pd.DataFrame(rows, columns=columns).sort_values("inputIndex", kind="stable")
    return preview.astype({"inputIndex": "Int64", "crmId": "str", "crmAction": "str"}).reset_index(
        drop=True
    )


def _deleted(spec: DeletedSpec, ctx: StepContext, step: StepReport) -> None:
    from crmframes.operations import AutoIndex, import_deleted_from_crm
    from crmframes.operations.autoindex import format_option

    index = None
    if spec.auto_index is not None:  # only its option (the window's start) is used
        index = AutoIndex(**spec.auto_index.call_kwargs(AutoIndex, store=ctx.store))
    start: Any = index.start() if index is not None else None
    end: Any = spec.end
    if start is None and spec.start is not None:
        start = spec.start
    elif start is None and spec.lookback is not None:
        zone = ZoneInfo(spec.timezone)
        # end stays None: the operation ends the window at a second the CRM has closed
        start = (ctx.conn.server_time() if end is None else _aware(end, zone)) - spec.lookback
    result = import_deleted_from_crm(
        ctx.conn, **spec.call_kwargs(import_deleted_from_crm, start=start)
    )
    ctx.result = result
    step.counts = {"deleted in CRM": len(result.frame)}
    step.notes.append(
        f"window {result.start:%Y-%m-%d %H:%M:%S} to {result.end:%Y-%m-%d %H:%M:%S} UTC"
    )
    if spec.table is not None:
        table = find_table(ctx.store, spec.table)
        key = spec.key or result.key
        verb = "marked" if spec.apply == "soft" else "removed"
        if table is None:
            step.notes.append(f"table {spec.table!r} does not exist yet: nothing to apply")
        elif ctx.dry_run:
            ids = {str(i).lower() for i in result.frame[result.key]}
            stored = ctx.store.read(table, columns=[key])[key].astype("str").str.lower()
            step.counts[f"would be {verb}"] = int(stored.isin(ids).sum())
        else:
            applied = ctx.store.apply_deletions(table, result, key=key, mode=spec.apply)
            step.counts[verb] = applied
    if index is not None and not ctx.dry_run:
        ctx.store.options[index.option_name] = format_option(result.end)


def _dedupe(spec: DedupeSpec, ctx: StepContext, step: StepReport) -> None:
    if find_table(ctx.store, spec.table) is None and ctx.dry_run:
        step.status = "skipped"
        step.notes.append(f"nothing to read in a dry run: table {spec.table!r} does not exist yet")
        return
    dry_run = ctx.dry_run or spec.dry_run
    result = ctx.store.dedupe(**spec.call_kwargs(ctx.store.dedupe, dry_run=dry_run))
    step.counts = counts_of(result)
    removed = result.removed
    if spec.removed_table is not None and not dry_run:
        replace_table(ctx.store, spec.removed_table, removed, [str(spec.key)])
        step.notes.append(f"{len(removed):,} removed rows kept in {spec.removed_table}")


def _reconcile(spec: ReconcileSpec, ctx: StepContext, step: StepReport) -> None:
    from crmframes.operations import import_from_crm
    from crmframes.reconcile import reconcile

    left = ctx.read(spec.source, step)
    if left is None:
        return
    right = import_from_crm(ctx.conn, **spec.call_kwargs(import_from_crm, progress=ctx.progress))
    result = reconcile(**spec.call_kwargs(reconcile, left=left, right=right.frame))
    c = result.counts
    step.counts = {
        "store rows": c["left"],
        "CRM rows": c["right"],
        "identical": c["identical"],
        "different": c["different"],
        "only in store": c["only_left"],
        "only in CRM": c["only_right"],
    }
    step.rejects = by_symbol(right.rejects)
    ctx.rejects = right.rejects
    if spec.save is None or ctx.dry_run:
        return
    differences = result.differences.rename(columns={"left": "store", "right": "crm"})
    for column in ("store", "crm"):  # values of every type in one column: kept as text
        differences[column] = differences[column].map(as_text).astype("str")
    outputs = (
        (spec.save.differences, differences, [*spec.key, "field"]),
        (spec.save.only_store, result.only_left, spec.key),
        (spec.save.only_crm, result.only_right, spec.key),
    )
    for table, frame, key in outputs:
        if table is not None:
            replace_table(ctx.store, table, frame, key)
            step.notes.append(f"{len(frame):,} rows saved in {table}")


def _merge(spec: MergeSpec, ctx: StepContext, step: StepReport) -> None:
    df = ctx.read(spec.source, step)
    if df is None:
        return
    dry_run = ctx.dry_run or spec.dry_run
    merged = ctx.store.merge(**spec.call_kwargs(ctx.store.merge, data=df, dry_run=dry_run))
    step.counts = nonzero(
        {"rows": len(df)},
        inserted=merged.inserted,
        updated=merged.updated,
        unchanged=merged.unchanged,
        **{"older, kept stored": merged.skipped_older, "duplicates": merged.duplicates},
    )


RUNNERS: dict[str, Callable[[Any, StepContext, StepReport], None]] = {
    "reconcile": _reconcile,
    "import": _import,
    "export": _export,
    "delete": _delete,
    "deleted": _deleted,
    "dedupe": _dedupe,
    "merge": _merge,
}


def _aware(moment: datetime | date, zone: ZoneInfo) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)
