"""Run a job: connect to its account, open its store, run its steps in order, and report.

Orchestration. Steps hand data to each other through the campaign store: an import merges
into a table (its automatic index moves with the rows), a dedupe cleans a table, an export
or a delete reads its rows from a table, a query or a file, a deletions import applies what
the CRM deleted to a table. The first step that fails stops the job; the report says what
each step did (counts, rejects by ``errorSymbol``, API calls, seconds) and why it stopped.

A dry run writes nothing to the CRM or the store: imports read the CRM and merge as dry
runs (the watermark stays), exports run with ``dry_run=True``, deletes and dedupes only
count, and a store file is opened read-only (a missing one is not created). Later steps
therefore see the store as it was: a table an earlier step would have created is missing,
and the step reading it is reported as skipped.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from crmframes.accounts import connect, load_accounts
from crmframes.errors import ConfigError, CrmframesError, StoreError
from crmframes.specs import (
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    Job,
    MergeSpec,
    SandboxAccount,
    Source,
    StepSpec,
)
from crmframes.specs.accounts import Account, Accounts
from crmframes.specs.document import Loc
from crmframes.store import CampaignStore

__all__ = ["JobReport", "StepReport", "load_job", "run_job"]

Status = Literal["ok", "dry run", "skipped", "failed"]


@dataclass
class StepReport:
    """What one step did.

    Attributes:
        index: the step's position, from 1.
        kind: ``import``, ``export``, ``delete``, ``deleted``, ``dedupe`` or ``merge``.
        label: what the step works on, e.g. ``import contact → contact``.
        status: ``ok``, ``dry run``, ``skipped`` (nothing to read in a dry run, or an
            earlier step failed) or ``failed``.
        counts: rows read and what happened to them, by name, in order.
        rejects: rejected rows by ``errorSymbol``.
        api_calls: CRM API calls the step made.
        seconds: wall time.
        notes: the window of an import, why a step was skipped, ...
        error: the one-line error of a failed step.
    """

    index: int
    kind: str
    label: str
    status: Status = "ok"
    counts: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return sum(self.rejects.values())

    def summary(self) -> str:
        """Return the counts as one phrase: ``5,000 imported, 4,990 inserted, 10 updated``."""
        return ", ".join(f"{n:,} {name}" for name, n in self.counts.items()) or "-"


@dataclass
class JobReport:
    """What a job did, step by step; ``str()`` is a table, :meth:`to_dict` is JSON-able.

    Attributes:
        job: the job's name.
        account: the account's name (or what an inline account is); never a secret.
        store: the store file.
        dry_run: whether nothing was written.
        steps: one report per step, in order.
        seconds: wall time.
        error: the error that stopped the job, if one did.
        exception: that error itself (not serialised).
    """

    job: str
    account: str
    store: str
    dry_run: bool
    steps: list[StepReport] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    exception: CrmframesError | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every step ran (or was skipped in a dry run) without error."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data (``crmframes run --json`` prints it)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("exception", "steps")}
        out["ok"] = self.ok
        out["seconds"] = round(self.seconds, 3)
        out["steps"] = [asdict(step) | {"seconds": round(step.seconds, 3)} for step in self.steps]
        return out

    def __str__(self) -> str:
        mode = " (dry run: nothing written)" if self.dry_run else ""
        head = f"job {self.job!r} on {self.account}, store {self.store}{mode}"
        rows = [("#", "step", "status", "result", "rejected", "API calls", "seconds")]
        for s in self.steps:
            rows.append(
                (
                    str(s.index),
                    s.label,
                    s.status,
                    s.summary(),
                    f"{s.rejected:,}",
                    str(s.api_calls),
                    f"{s.seconds:.2f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [head]
        for row in rows:
            cells = [
                cell.rjust(w) if i in (0, 4, 5, 6) else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        for s in self.steps:
            if s.rejects:
                shown = ", ".join(f"{symbol} {n:,}" for symbol, n in s.rejects.items())
                lines.append(f"  rejects of step {s.index}: {shown}")
            lines.extend(f"  step {s.index}: {note}" for note in s.notes)
        ending = f"failed: {self.error}" if self.error else "done"
        lines.append(f"{ending} in {self.seconds:.2f} s")
        return "\n".join(lines)


def load_job(path: str | os.PathLike[str]) -> Job:
    """Read and check a job file.

    Raises:
        ConfigError: the file cannot be read, or a one-line error naming the place of the
            first mistake in it (``job.yaml:12: steps[2].export: unknown key ...``).
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise ConfigError(f"{target}: cannot read the job file: {reason}") from None
    return Job.from_yaml(text, source=str(path))


def run_job(
    job: Job | str | os.PathLike[str],
    *,
    dry_run: bool = False,
    progress: bool = True,
    accounts: Accounts | str | os.PathLike[str] | None = None,
    store: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> JobReport:
    """Run a job's steps in order against its account and store, and report what they did.

    Args:
        job: a :class:`~crmframes.specs.Job`, or the path of a job file.
        dry_run: write nothing to the CRM or the store (see the module docs).
        progress: print each step as it starts and ends (stderr) and show progress bars.
        accounts: the accounts (or the accounts file) a named account is looked up in; by
            default ``$CRMFRAMES_ACCOUNTS`` or ``~/.config/crmframes/accounts.yaml``.
        store: a store file to use instead of the job's.
        environ: the environment secrets are read from (``os.environ`` by default).

    Returns:
        The report. A step that fails stops the job: ``report.ok`` is False,
        ``report.error`` says why in one line and the later steps are ``skipped``.

    Raises:
        ConfigError: the job file is invalid, the account is unknown, or a secret cannot
            be read (before any step runs).
        SandboxError: a sandbox account's sandbox cannot start.
    """
    if not isinstance(job, Job):
        job = load_job(job)
    account, label, place = _account(job, accounts, environ)
    report = JobReport(job=job.name, account=label, store=store or job.store, dry_run=dry_run)
    started = time.perf_counter()
    with (
        connect(account, place=place, environ=environ) as conn,
        _open_store(report.store, dry_run=dry_run) as campaign,
    ):
        context = _Context(conn, campaign, dry_run, progress, len(job.steps))
        for index, spec in enumerate(job.steps, start=1):
            step = StepReport(index=index, kind=spec.kind, label=_label(spec))
            report.steps.append(step)
            if report.error is not None:
                step.status = "skipped"
                step.notes.append("not run: an earlier step failed")
                continue
            context.run(spec, step, report)
    report.seconds = time.perf_counter() - started
    return report


# --- running one step -----------------------------------------------------------------------


@dataclass
class _Context:
    conn: Any
    store: CampaignStore
    dry_run: bool
    progress: bool
    total: int

    def run(self, spec: StepSpec, step: StepReport, report: JobReport) -> None:
        self.say(f"[{step.index}/{self.total}] {step.label} ...")
        calls = self.conn.api_calls
        started = time.perf_counter()
        try:
            _RUNNERS[spec.kind](spec, self, step)
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

    def say(self, text: str) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr)

    def read(self, source: Source, step: StepReport) -> pd.DataFrame | None:
        """Read a step's rows; None (the step is skipped) when a dry run finds nothing yet."""
        try:
            if source.table is not None:
                if self.dry_run and _stored(self.store, source.table) is None:
                    raise StoreError(f"table {source.table!r} does not exist yet")
                return self.store.read(source.table, columns=source.columns, where=source.where)
            if source.query is not None:
                return self.store.sql(source.query)
        except StoreError as exc:
            if not self.dry_run:
                raise
            step.status = "skipped"
            step.notes.append(" ".join(f"nothing to read in a dry run: {exc}".split()))
            return None
        return _read_file(Path(str(source.file)))


def _import(spec: ImportSpec, ctx: _Context, step: StepReport) -> None:
    from crmframes.operations import AutoIndex, import_from_crm

    population = None
    if spec.population is not None:
        population = ctx.read(spec.population, step)
        if population is None:
            return
    index = None
    if spec.auto_index is not None:
        a = spec.auto_index
        index = AutoIndex(ctx.store, activity=a.activity, instance=a.instance, fields=a.fields)
    result = import_from_crm(
        ctx.conn,
        spec.object,
        fields=spec.fields,
        where=spec.where,
        order_by=spec.order_by,
        auto_index=index,
        population=population,
        id_column=spec.id_column,
        timezone=spec.timezone,
        mode=spec.mode,
        limit=spec.limit,
        strict=spec.strict,
        progress=ctx.progress,
    )
    merged = ctx.store.merge(spec.target, result, dry_run=ctx.dry_run)
    step.counts = _nonzero(
        {"imported": result.stats.rows},
        inserted=merged.inserted,
        updated=merged.updated,
        unchanged=merged.unchanged,
        **{"older, kept stored": merged.skipped_older, "duplicates": merged.duplicates},
    )
    step.rejects = _by_symbol(result.rejects)
    if result.variables:
        v = result.variables
        start = v["crmStartImport"] or "the beginning"
        moved = "kept (dry run)" if ctx.dry_run else "moved"
        step.notes.append(
            f"window {start} to {v['crmEndDate']} (excluded); {v['crmOptionName']} {moved}"
        )


def _export(spec: ExportSpec, ctx: _Context, step: StepReport) -> None:
    from crmframes.operations import export_to_crm

    df = ctx.read(spec.source, step)
    if df is None:
        return
    if spec.write_back is not None and spec.write_back.key not in df.columns:
        raise ConfigError(
            f"write_back key {spec.write_back.key!r} is not a column of {_source_label(spec.source)}"
        )
    dry_run = ctx.dry_run or spec.dry_run
    result = export_to_crm(
        ctx.conn,
        spec.object,
        df,
        mapping=spec.mapping,
        key=spec.key,
        journal=spec.journal,
        batch_size=spec.batch_size,
        mode=spec.mode,
        dry_run=dry_run,
        only_changed=spec.only_changed,
        skip_nulls=spec.skip_nulls,
        timezone=spec.timezone,
        on_error=spec.on_error,
        max_retries=spec.max_retries,
        progress=ctx.progress,
    )
    step.rejects = _by_symbol(result.rejects)
    if dry_run:
        would = result.frame["crmAction"].value_counts().to_dict() if len(result.frame) else {}
        step.counts = {"rows": len(df)} | {f"would {a}": int(n) for a, n in would.items()}
        step.status = "dry run"
        return
    s = result.stats
    step.counts = _nonzero(
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
        merged = ctx.store.merge(spec.source.table, ids, key=wb.key)
        step.counts["ids written back"] = merged.updated
        step.notes.append(f"CRM ids written to {spec.source.table}.{wb.column}")


def _delete(spec: DeleteSpec, ctx: _Context, step: StepReport) -> None:
    df = ctx.read(spec.source, step)
    if df is None:
        return
    if ctx.dry_run:
        from crmframes.writes import plan_deletes

        schema = ctx.conn.describe(spec.object)
        plan = plan_deletes(df, schema, key=spec.key, normalize_id=ctx.conn.normalize_id)
        step.counts = {"rows": len(df), "would delete": len(plan.positions)}
        step.rejects = _count([r.symbol for r in plan.rejects])
        return
    from crmframes.operations import delete_in_crm

    result = delete_in_crm(
        ctx.conn,
        spec.object,
        df,
        key=spec.key,
        journal=spec.journal,
        batch_size=spec.batch_size,
        mode=spec.mode,
        on_error=spec.on_error,
        max_retries=spec.max_retries,
        progress=ctx.progress,
    )
    step.counts = _nonzero({"rows": result.stats.rows}, deleted=result.stats.deleted)
    step.rejects = _by_symbol(result.rejects)


def _deleted(spec: DeletedSpec, ctx: _Context, step: StepReport) -> None:
    from crmframes.operations import AutoIndex, import_deleted_from_crm
    from crmframes.operations.autoindex import format_option

    index = None
    if spec.auto_index is not None:
        a = spec.auto_index
        index = AutoIndex(ctx.store, activity=a.activity, instance=a.instance)
    start: Any = index.start() if index is not None else None
    end: Any = spec.end
    if start is None and spec.start is not None:
        start = spec.start
    elif start is None and spec.lookback is not None:
        zone = ZoneInfo(spec.timezone)
        end = ctx.conn.server_time() if end is None else _aware(end, zone)
        start = end - spec.lookback
    result = import_deleted_from_crm(
        ctx.conn, spec.object, start=start, end=end, timezone=spec.timezone
    )
    step.counts = {"deleted in CRM": len(result.frame)}
    step.notes.append(
        f"window {result.start:%Y-%m-%d %H:%M:%S} to {result.end:%Y-%m-%d %H:%M:%S} UTC"
    )
    if spec.table is not None:
        table = _stored(ctx.store, spec.table)
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


def _dedupe(spec: DedupeSpec, ctx: _Context, step: StepReport) -> None:
    dedupe: Callable[..., Any] | None = getattr(ctx.store, "dedupe", None)
    if dedupe is None:  # pragma: no cover - until CampaignStore.dedupe lands
        raise ConfigError("this version of crmframes has no CampaignStore.dedupe")
    if _stored(ctx.store, spec.table) is None and ctx.dry_run:
        step.status = "skipped"
        step.notes.append(f"nothing to read in a dry run: table {spec.table!r} does not exist yet")
        return
    options = {
        name: getattr(spec, name)
        for name in ("modified", "key", "merge", "fuzzy")
        if getattr(spec, name) is not None
    }
    result = dedupe(
        spec.table, on=spec.on, keep=spec.keep, dry_run=ctx.dry_run or spec.dry_run, **options
    )
    step.counts = _counts_of(result)


def _merge(spec: MergeSpec, ctx: _Context, step: StepReport) -> None:
    df = ctx.read(spec.source, step)
    if df is None:
        return
    merged = ctx.store.merge(
        spec.table, df, key=spec.key, modified=spec.modified, dry_run=ctx.dry_run or spec.dry_run
    )
    step.counts = _nonzero(
        {"rows": len(df)},
        inserted=merged.inserted,
        updated=merged.updated,
        unchanged=merged.unchanged,
        **{"older, kept stored": merged.skipped_older, "duplicates": merged.duplicates},
    )


_RUNNERS: dict[str, Callable[[Any, _Context, StepReport], None]] = {
    "import": _import,
    "export": _export,
    "delete": _delete,
    "deleted": _deleted,
    "dedupe": _dedupe,
    "merge": _merge,
}


# --- private helpers ------------------------------------------------------------------------


def _account(
    job: Job, accounts: Accounts | str | os.PathLike[str] | None, environ: Mapping[str, str] | None
) -> tuple[Account, str, Callable[[Loc], str]]:
    if not isinstance(job.account, str):
        account = job.account
        if isinstance(account, SandboxAccount):
            label = f"sandbox ({account.crm}, {account.data} data)"
        else:
            label = f"{account.crm} at {account.url}"
        return account, label, lambda loc: job.place(("account", *loc))
    found = accounts if isinstance(accounts, Accounts) else load_accounts(accounts, environ=environ)
    try:
        account = found.find(job.account)
    except ConfigError as exc:
        raise ConfigError(f"{job.place(('account',))}: {exc}") from None
    name = job.account
    return account, repr(name), lambda loc: found.doc.place((name, *loc))


@contextmanager
def _open_store(path: str, *, dry_run: bool) -> Iterator[CampaignStore]:
    if dry_run and (path == ":memory:" or not Path(path).exists()):
        store = CampaignStore(":memory:")  # a dry run creates no file
    else:
        store = CampaignStore(path, read_only=dry_run)
    with store:
        yield store


def _stored(store: CampaignStore, table: str) -> str | None:
    wanted = table.lower()
    return next((name for name in store.tables() if name.lower() == wanted), None)


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(
            f"source file {path}: read .csv or .parquet files, not {suffix or 'this'}"
        )
    if not path.is_file():
        raise ConfigError(f"source file {path}: no such file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype_backend="pyarrow")
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"source file {path}: cannot be read: {exc}") from exc


def _aware(moment: datetime | date, zone: ZoneInfo) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _label(spec: StepSpec) -> str:
    if isinstance(spec, ImportSpec):
        return f"import {spec.object} → {spec.target}"
    if isinstance(spec, ExportSpec):
        return f"export {_source_label(spec.source)} → {spec.object}"
    if isinstance(spec, DeleteSpec):
        return f"delete {spec.object} of {_source_label(spec.source)}"
    if isinstance(spec, DeletedSpec):
        return f"import deleted {spec.object}" + (f" → {spec.table}" if spec.table else "")
    if isinstance(spec, DedupeSpec):
        return f"dedupe {spec.table} on {', '.join(spec.on)}"
    return f"merge {_source_label(spec.source)} → {spec.table}"


def _source_label(source: Source) -> str:
    if source.table is not None:
        return source.table
    return "query" if source.query is not None else Path(str(source.file)).name


def _by_symbol(rejects: pd.DataFrame) -> dict[str, int]:
    if not len(rejects) or "errorSymbol" not in rejects.columns:
        return {}
    return _count(rejects["errorSymbol"].fillna("UNKNOWN").astype("str").tolist())


def _count(symbols: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for symbol in symbols:
        counts[symbol] = counts.get(symbol, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _nonzero(first: dict[str, int], **counts: int) -> dict[str, int]:
    return first | {name: n for name, n in counts.items() if n}


def _counts_of(result: Any) -> dict[str, int]:
    """The counts of a result whose shape this module does not fix (a dedupe's)."""
    found = getattr(result, "counts", None)
    if isinstance(found, Mapping):
        return {str(k): int(v) for k, v in found.items() if isinstance(v, int)}
    counts: dict[str, int] = {}
    for name, value in vars(result).items() if hasattr(result, "__dict__") else ():
        if name.startswith("_"):
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            counts[name] = value
        elif isinstance(value, pd.DataFrame):
            counts[name] = len(value)
    return counts
