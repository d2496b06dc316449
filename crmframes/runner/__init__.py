"""Run a job's steps against its account and campaign store, and report what they did.

Orchestration. Steps hand data to each other through the campaign store: an import merges
into a table (its automatic index moves with the rows), a dedupe cleans a table, a
reconcile compares a table with the CRM and keeps the differences, an export or a delete
reads its rows from a table, a query or a file, a deletions import applies what the CRM
deleted to a table. The whole job is checked against the store before its first step
(:mod:`crmframes.runner.checks`). A step may append its rejects to a store table and be
retried on a schedule (:mod:`crmframes.runner.handling`). The first step that fails stops
the job; the report says what each step did (counts, rejects by ``errorSymbol``, failed
attempts, API calls, seconds) and why it stopped.

A dry run writes nothing to the CRM or the store: imports read the CRM and merge as dry
runs (the watermark stays), exports run with ``dry_run=True``, deletes, dedupes and
reconciles only count, and a store file is opened read-only (a missing one is not
created). Later steps therefore see the store as it was: a table an earlier step would
have created is missing, and the step reading it is reported as skipped.
"""

from __future__ import annotations

from crmframes.runner.jobs import load_job, run_job, run_step
from crmframes.runner.report import JobReport, StepReport

__all__ = ["JobReport", "StepReport", "load_job", "run_job", "run_step"]
