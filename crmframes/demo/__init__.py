"""``crmframes demo``: the seed workflow job, run on the Dynamics 365 sandbox, told as a story.

Orchestration. The workflow exists once, as the job file bundled with crmframes
(``crmframes/jobs/seed_workflow.yaml``; ``examples/seed_workflow.yaml`` is a copy a test keeps
identical): import contacts with the automatic index and merge them into the store; delete
duplicate contacts in the store (one kept per cluster, its empty field groups filled from
the others) and in the CRM; reconcile the store with the CRM; export the store's values of
the contacts that differ (updates by ``contactid``, journaled); import the deletions made in
the CRM and mark them in the store. The demo runs those steps through the runner
(:func:`~crmframes.runner.run_step`, one connector and one store for all), on a new sandbox
and its own store instead of the job's, and plays the world around them: the CRM's users
edit, create and delete contacts, the campaign's users edit the store before the reconcile
(:mod:`crmframes.demo.edits`). It then sends the same export again with its journal (nothing
goes twice) and reconciles once more. Run it twice in the same folder: the second run
imports only what changed, exports only what differs, and reads deletions from where the
first run stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from crmframes.demo.edits import edit_store, normalise_phone, plan_corrections
from crmframes.demo.narration import DemoReport
from crmframes.runner import JobReport, StepReport, run_step
from crmframes.sandbox import Clock, Sandbox
from crmframes.specs import DedupeSpec, DeleteSpec, ExportSpec, Job, ReconcileSpec, StepSpec
from crmframes.store import CampaignStore

__all__ = ["DemoReport", "load_seed_workflow", "normalise_phone", "plan_corrections", "run_demo"]

SEED_WORKFLOW = "jobs/seed_workflow.yaml"  # in the package: the job the demo runs
_Spec = TypeVar("_Spec", ExportSpec, ReconcileSpec)


def load_seed_workflow() -> Job:
    """Return the seed workflow job bundled with crmframes (what ``crmframes demo`` runs).

    Examples:
        >>> [step.kind for step in load_seed_workflow().steps]
        ['import', 'dedupe', 'delete', 'reconcile', 'export', 'deleted']
    """
    text = resources.files("crmframes").joinpath(SEED_WORKFLOW).read_text(encoding="utf-8")
    return Job.from_yaml(text, source=f"crmframes/{SEED_WORKFLOW}")


def run_demo(
    store_path: str | Path = "campaign.duckdb",
    *,
    scale: float = 1.0,
    progress: bool = True,
    sandbox: Sandbox | None = None,
) -> DemoReport:
    """Run the seed workflow job against ``store_path`` on the sandbox; return the story.

    Args:
        store_path: the campaign store (created on the first run).
        scale: the demo org's size (1.0: 5,000 contacts).
        progress: show each step's lines and progress bars.
        sandbox: a running Dynamics sandbox with the demo org to use instead of a new one
            (its clock is set back two seconds, as for a new one); the caller inspects it.
    """
    started = time.perf_counter()
    path = Path(store_path)
    job = load_seed_workflow()
    with _demo_sandbox(sandbox, scale) as sb, CampaignStore(path) as store:
        # The sandbox's users make their changes two seconds before the import starts: an
        # import's window ends at the (whole) second it began, so changes made in that very
        # second belong to the next run.
        sb.clock.set(datetime.now(UTC) - timedelta(seconds=2))
        calls = sb.api_call_count()
        activity = sb.simulate_activity("contact", updates=25, creates=5)
        sb.clock.set(datetime.now(UTC))
        conn = sb.connector()
        report = JobReport(job=job.name, account=sb.url, store=str(path), dry_run=False)
        run = _Run(conn, store, progress, report)
        try:
            seen: dict[str, Any] = {}
            for spec in job.steps:
                seen |= _before(spec, sb, store)
                result = run.step(_journal_beside(spec, store, seen))
                seen |= _after(spec, store, result, seen)
            export = _only(job, ExportSpec)
            again = run.step(  # a re-executed cell, a restarted job: the journal answers
                export.model_copy(update={"journal": str(seen["export"].journal), "rejects": None}),
                keep=False,
            )
            reconcile = _only(job, ReconcileSpec)
            run.step(reconcile.model_copy(update={"save": None}), keep=False)
            after = run.extra[-1]
        finally:
            conn.close()
        return DemoReport(
            url=sb.url,
            store=path,
            job=run.report,
            result=seen["import"],
            activity=activity,
            total=seen["total"],
            removed=seen["removed"],
            filled=seen["filled"],
            duplicates_deleted=seen["delete"],
            corrections=seen["corrections"],
            compared=[c for c in reconcile.source.columns or () if c not in reconcile.key],
            differences=seen["differences"],
            sent=store.sql(str(export.source.query)),
            export=seen["export"],
            again=again,
            after=after,
            crm_deletes=seen["crm_deletes"],
            deleted=seen["deleted"],
            api_calls=sb.api_call_count() - calls,
            seconds=time.perf_counter() - started,
        )


class _Run:
    """The job's steps run one by one through the runner, with one connector and one store."""

    def __init__(self, conn: Any, store: CampaignStore, progress: bool, report: JobReport):
        self.conn, self.store, self.progress, self.report = conn, store, progress, report
        self.extra: list[StepReport] = []  # steps the demo adds after the job

    def step(self, spec: StepSpec, *, keep: bool = True) -> Any:
        ran, result = run_step(spec, self.conn, store=self.store, progress=self.progress)
        (step,) = ran.steps
        if keep:
            step.index = len(self.report.steps) + 1
            self.report.steps.append(step)
        else:
            self.extra.append(step)
        return result


def _before(spec: StepSpec, sb: Sandbox, store: CampaignStore) -> dict[str, Any]:
    """The world before a step: what the demo's CRM and campaign users do, what it notes."""
    if spec.kind == "dedupe":
        return {"before_dedupe": store.read("contact")}
    if spec.kind == "reconcile":  # the campaign side edits some contacts in the store
        corrections = plan_corrections(store.read("contact"))
        edit_store(store, corrections)
        return {"corrections": corrections}
    if spec.kind == "deleted":  # what the CRM's users deleted since the last run
        return {"crm_deletes": sb.simulate_activity("contact", updates=0, creates=0, deletes=2)}
    return {}


def _after(
    spec: StepSpec, store: CampaignStore, result: Any, seen: dict[str, Any]
) -> dict[str, Any]:
    """What the demo keeps of a step for its story."""
    if spec.kind == "import":
        return {"import": result, "total": len(store.read("contact", columns=["contactid"]))}
    if isinstance(spec, DedupeSpec):
        removed = store.read(str(spec.removed_table))
        after = store.read("contact")
        return {"removed": removed, "filled": _filled(seen["before_dedupe"], after, removed)}
    if isinstance(spec, ReconcileSpec):
        table = spec.save.differences if spec.save is not None else None
        return {"differences": store.read(table) if table else pd.DataFrame({"field": []})}
    return {spec.kind: result}


def _journal_beside(spec: StepSpec, store: CampaignStore, seen: dict[str, Any]) -> StepSpec:
    """A write step without a journal of its own journals beside the store, one per run.

    (A job's default journal lives under ``.crmframes/journals/`` in the working folder; the
    demo keeps its journals with its store, named after the run's import.)
    """
    if not isinstance(spec, ExportSpec | DeleteSpec) or spec.journal is not None:
        return spec
    stamp = re.sub(r"\D", "", seen["import"].variables.get("crmEndDate", "")) or "first"
    name = f"{spec.object}-{spec.kind}-{stamp}.jsonl"
    return spec.model_copy(update={"journal": str(Path(store.path + ".journals") / name)})


def _filled(before: pd.DataFrame, after: pd.DataFrame, removed: pd.DataFrame) -> pd.DataFrame:
    """The survivors' fields the dedupe changed: one row per ``survivorKey`` and ``field``."""
    survivors = set(removed["survivorKey"]) if len(removed) else set()
    old = before[before["contactid"].isin(survivors)].set_index("contactid").sort_index()
    new = after[after["contactid"].isin(survivors)].set_index("contactid").sort_index()
    new = new.loc[old.index, old.columns]
    both = old.notna() & new.notna()
    changed = (old.isna() != new.isna()) | (both & (old.astype("str") != new.astype("str")))
    pairs = changed.stack()
    pairs = pairs[pairs]
    keys = [str(key) for key, _ in pairs.index]
    fields = [str(field) for _, field in pairs.index]
    return pd.DataFrame({"survivorKey": keys, "field": fields}, dtype="str")


def _only(job: Job, kind: type[_Spec]) -> _Spec:
    return next(spec for spec in job.steps if isinstance(spec, kind))


@contextmanager
def _demo_sandbox(sandbox: Sandbox | None, scale: float) -> Iterator[Sandbox]:
    if sandbox is not None:
        yield sandbox
        return
    with Sandbox("dynamics", data="demo", scale=scale, clock=Clock()) as started:
        yield started
