"""What ``crmframes demo`` did, told step by step: the seed workflow job's report as a story.

Orchestration helper of :mod:`crmframes.demo` (pure: it formats what the run collected).
The figures come from the runner's report of each step of the job
(:class:`~crmframes.runner.StepReport`), from the operations' results the runner returns and
from the tables the job wrote in the store; the demo adds what happened around the job
(the CRM's users at work, the campaign side's edits, the same export sent again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmframes import display
from crmframes.operations import DeletedResult, ExportResult, ImportResult
from crmframes.runner import JobReport, StepReport

__all__ = ["DemoReport"]


@dataclass
class DemoReport:
    """What the demo did, step by step, ready to print.

    Attributes:
        url: the sandbox's address.
        store: the campaign store's file.
        job: the runner's report of the seed workflow's steps, in order.
        result: the import.
        activity: what the CRM's users did before the import (``updated``, ``created``).
        total: contacts in the store after the import's merge.
        removed: the duplicates removed from the store (with their ``survivorKey``).
        filled: the survivors' fields the dedupe filled from their duplicates
            (``survivorKey``, ``field``).
        duplicates_deleted: the removed duplicates deleted in the CRM.
        corrections: the campaign side's edits (see :func:`~crmframes.demo.plan_corrections`).
        compared: the fields the reconcile compares.
        differences: the store against the CRM, before the export (``contactid``, ``field``,
            ``store``, ``crm``).
        sent: the rows the export read (the store's values of the contacts that differ).
        export: the export of the differences.
        again: the same export step run a second time with the first one's journal.
        after: the reconcile step run again after the export.
        crm_deletes: what the CRM's users deleted (``deleted``).
        deleted: the deletions imported from the CRM.
        api_calls: API calls of the whole run.
        seconds: wall time of the whole run.
    """

    url: str
    store: Path
    job: JobReport
    result: ImportResult
    activity: dict[str, int]
    total: int
    removed: pd.DataFrame
    filled: pd.DataFrame
    duplicates_deleted: ExportResult
    corrections: pd.DataFrame
    compared: list[str]
    differences: pd.DataFrame
    sent: pd.DataFrame
    export: ExportResult
    again: ExportResult
    after: StepReport
    crm_deletes: dict[str, int]
    deleted: DeletedResult
    api_calls: int
    seconds: float

    def step(self, kind: str) -> StepReport:
        """Return the report of the job's (first) step of ``kind``."""
        return next(step for step in self.job.steps if step.kind == kind)

    @property
    def applied(self) -> int:
        """Store rows the deletions import marked deleted."""
        return self.step("deleted").counts.get("marked", 0)

    def __str__(self) -> str:
        return "\n".join(
            [
                f"crmframes demo: job {self.job.job!r} between the Dynamics 365 sandbox at "
                f"{self.url} and {self.store}",
                "(the sandbox starts afresh from its demo org on every run; the store keeps "
                "what earlier runs did)",
                *self._import_lines(),
                *self._dedupe_lines(),
                *self._reconcile_lines(),
                *self._export_lines(),
                *self._deletion_lines(),
                f"in all               {self.api_calls} API calls, {self.seconds:.2f} s",
                *self._next_run_lines(),
            ]
        )

    def _import_lines(self) -> list[str]:
        variables, stats = self.result.variables, self.result.stats
        merged = self.step("import").counts
        start = variables.get("crmStartImport")
        window = f"from {start} (included)" if start else "from the beginning (first run)"
        return [
            f"1. import, automatic index {variables.get('crmOptionName', '')}",
            f"  CRM activity       {self.activity['updated']} contacts edited, "
            f"{self.activity['created']} created since the sandbox started",
            f"  window             {window} to {variables.get('crmEndDate', '')} (excluded)",
            f"  imported           {stats.rows:,} rows in {stats.pages} page(s), "
            f"{stats.rejected:,} rejected ({_symbols(self.step('import').rejects)})",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  merged             {merged.get('inserted', 0):,} inserted, "
            f"{merged.get('updated', 0):,} updated, {merged.get('unchanged', 0):,} unchanged "
            f"into table 'contact' of {self.store}",
            f"  store now holds    {self.total:,} contacts",
        ]

    def _dedupe_lines(self) -> list[str]:
        counts, deleted = self.step("dedupe").counts, self.duplicates_deleted.stats
        filled = self.filled
        return [
            "2. delete duplicate contacts (email, or fuzzy names + phone / address / birthdate)",
            f"  clusters           {counts.get('clusters', 0):,} groups of the same person, "
            f"{counts.get('removed', 0):,} duplicates removed from the store, one kept each",
            f"  survivors filled   {len(filled):,} field(s) taken from their duplicates "
            f"({', '.join(sorted(set(filled['field']))) if len(filled) else 'none'})",
            f"  deleted in the CRM {deleted.deleted:,} ({deleted.rejected:,} rejected: "
            f"{_symbols(self.step('delete').rejects)}); {deleted.api_calls} API calls",
        ]

    def _reconcile_lines(self) -> list[str]:
        before, after = self.step("reconcile").counts, self.after.counts
        by_field = self.differences["field"].value_counts()
        differing = ", ".join(f"{f}: {by_field[f]}" for f in self.compared if f in by_field)
        df = self.corrections
        matched = before.get("identical", 0) + before.get("different", 0)
        return [
            "3. reconcile the store with the CRM",
            f"  campaign edits     {df['telephone1'].notna().sum()} phone numbers written "
            f"+1 NNN NNN NNNN, {df['address1_city'].notna().sum()} city, "
            f"{df['crmf_externalid'].notna().sum()} external id (in the store)",
            f"  compared           {matched:,} contacts on {len(self.compared)} fields: "
            f"{before.get('identical', 0):,} identical, {before.get('different', 0):,} different",
            f"  differences        {differing or 'none'}",
            f"  one side only      {before.get('only in store', 0):,} only in the store, "
            f"{before.get('only in CRM', 0):,} only in the CRM",
            f"  after the export   {after.get('different', 0):,} different (the rejects below)",
        ]

    def _export_lines(self) -> list[str]:
        export, again, stats = self.export, self.again, self.export.stats
        rejects = export.rejects
        before = rejects[rejects["errorCode"].isna()]  # refused by crmframes, never sent
        by_crm = rejects[rejects["errorCode"].notna()]
        return [
            "4. export the store's values of the contacts that differ: update by contactid, "
            "skip_nulls",
            f"  exported           {stats.created:,} created, {stats.updated:,} updated, "
            f"{stats.rejected:,} rejected; {stats.batches} $batch call(s)",
            f"  rejects            before sending: {_symbols(_by_symbol(before))}; "
            f"by the CRM: {_symbols(_by_symbol(by_crm))}",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  journal            {export.journal}",
            f"  sent again         {again.stats.batches} calls: the journal holds the outcome of "
            f"the {again.stats.resumed} rows sent, none goes twice",
        ]

    def _deletion_lines(self) -> list[str]:
        deleted = self.deleted
        window = f"{deleted.start:%Y/%m/%d %H:%M:%S} to {deleted.end:%Y/%m/%d %H:%M:%S}"
        return [
            "5. import deletions",
            f"  deleted in the CRM {self.crm_deletes['deleted']} by the CRM's users, "
            f"{self.duplicates_deleted.stats.deleted} duplicates by crmframes",
            f"  imported           {len(deleted.frame)} deleted contacts, {window} (end excluded)",
            f"  applied            {self.applied} contacts marked deleted (crmDeletedDate) in "
            "table 'contact'",
            f"  API calls          {deleted.api_calls} in {deleted.seconds:.2f} s",
        ]

    def _next_run_lines(self) -> list[str]:
        end = self.result.variables.get("crmEndDate", "")
        return [
            "Run it again in this folder: the import reads what changed since "
            f"{end}, the export what differs",
            "then (with a journal of its own; a row already written is known by its content "
            "and never sent twice),",
            f"and deletions are read from {self.deleted.end:%Y/%m/%d %H:%M:%S} on.",
        ]


def _by_symbol(rejects: pd.DataFrame) -> dict[str, int]:
    table = display.rejects_by_symbol(rejects)
    return {str(s): int(n) for s, n in zip(table["errorSymbol"], table["rows"], strict=True)}


def _symbols(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{symbol}: {n}" for symbol, n in counts.items()) or "none"
