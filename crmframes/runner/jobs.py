"""Run a job: check it whole, connect to its account, open its store, run its steps, report.

Orchestration. Before the first step, the job is checked against the store (every table a
step reads exists or is written by an earlier step: :mod:`crmframes.runner.checks`), so a
mistake costs no CRM call and no store write. The first step that fails (after its
``retry:`` schedule, if it has one) stops the job; the report says what each step did and
why it stopped. A dry run opens an existing store read-only and does not create a missing
one (see :mod:`crmframes.runner`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmframes.accounts import connect, load_accounts, store_url
from crmframes.arguments import check_bool, check_instance, check_optional_str, check_path
from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError, SchemaNotFoundError
from crmframes.runner.checks import check_job
from crmframes.runner.execution import StepContext
from crmframes.runner.report import JobReport, StepReport
from crmframes.runner.status import StepStatus
from crmframes.runner.summary import label
from crmframes.specs import Job, SandboxAccount, StepSpec
from crmframes.specs.account_file import Account, Accounts
from crmframes.specs.document import Loc
from crmframes.store import CampaignStore
from crmframes.store.pg_session import is_postgres_url, mask_url

__all__ = ["load_job", "run_job", "run_step"]

STORE_ACCOUNT = "account:"  # a job's store: account:NAME names a store entry of the accounts file
_VIEWS = "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"


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
    sleep: Callable[[float], None] = time.sleep,
) -> JobReport:
    """Run a job's steps in order against its account and store, and report what they did.

    Args:
        job: a :class:`~crmframes.specs.Job`, or the path of a job file.
        dry_run: write nothing to the CRM or the store (see the module docs).
        progress: show each step as it starts and ends (on stderr in a terminal, as an HTML
            status in a notebook) and progress bars; the lines always go to the
            ``crmframes.runner`` logger.
        accounts: the accounts (or the accounts file) a named account is looked up in; by
            default ``$CRMFRAMES_ACCOUNTS`` or ``~/.config/crmframes/accounts.yaml``.
        store: a store file to use instead of the job's.
        environ: the environment secrets are read from (``os.environ`` by default).
        sleep: waits between the attempts of a step with ``retry:`` and between the retry
            rounds inside an export or a delete (``time.sleep``; a scheduler or a test
            passes its own).

    Returns:
        The report. A step that fails stops the job: ``report.ok`` is False,
        ``report.error`` says why in one line and the later steps are ``skipped``.

    Raises:
        ConfigError: the job file is invalid, a step reads a table that neither the store
            nor an earlier step has, the account is unknown, or a secret cannot be read
            (before any step runs, any CRM call or any store write).
        SandboxError: a sandbox account's sandbox cannot start.
        StoreError: the store file cannot be opened.
    """
    check_instance("job", job, (Job, str, os.PathLike), "a Job or the path of a job file")
    check_bool("dry_run", dry_run)
    check_bool("progress", progress)
    check_optional_str("store", store, what="a store file")
    if environ is not None:
        check_instance("environ", environ, Mapping, "a mapping of environment variables")
    if accounts is not None:
        check_instance("accounts", accounts, (Accounts, str, os.PathLike), "accounts or a path")
    if not isinstance(job, Job):
        job = load_job(check_path("job", job))
    path = _store_path(store or job.store, job, accounts, environ)
    _check_tables(job, path, dry_run=dry_run)
    account, shown, place = _account(job, accounts, environ)
    run_at = datetime.now(UTC).replace(microsecond=0)
    report = JobReport(
        job=job.name,
        account=shown,
        store=mask_url(path) if is_postgres_url(path) else path,
        dry_run=dry_run,
        run_id=uuid.uuid4().hex,
        run_at=run_at.isoformat(),
    )
    started = time.perf_counter()
    with (
        connect(account, place=place, environ=environ) as conn,
        _open_store(path, dry_run=dry_run) as campaign,
    ):
        context = StepContext(
            conn,
            campaign,
            dry_run,
            progress,
            len(job.steps),
            run_id=report.run_id,
            run_at=run_at,
            sleep=sleep,
        )
        for index, spec in enumerate(job.steps, start=1):
            step = StepReport(index=index, kind=spec.kind, label=label(spec))
            report.steps.append(step)
            if report.error is not None:
                step.status = "skipped"
                step.notes.append("not run: an earlier step failed")
                continue
            context.run(spec, step, report)
    report.seconds = time.perf_counter() - started
    return report


# --- private helpers ------------------------------------------------------------------------


def _account(
    job: Job, accounts: Accounts | str | os.PathLike[str] | None, environ: Mapping[str, str] | None
) -> tuple[Account, str, Callable[[Loc], str]]:
    if not isinstance(job.account, str):
        account = job.account
        if isinstance(account, SandboxAccount):
            shown = f"sandbox ({account.crm}, {account.data} data)"
        else:
            shown = f"{account.crm} at {account.url}"
        return account, shown, lambda loc: job.place(("account", *loc))
    found = accounts if isinstance(accounts, Accounts) else load_accounts(accounts, environ=environ)
    try:
        account = found.find(job.account)
    except ConfigError as exc:
        raise ConfigError(f"{job.place(('account',))}: {exc}") from None
    name = job.account
    return account, repr(name), lambda loc: found.doc.place((name, *loc))


def _store_path(
    path: str,
    job: Job,
    accounts: Accounts | str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None,
) -> str:
    """The store to open: a file or URL as written, or an accounts file's ``account:NAME`` entry."""
    if not path.startswith(STORE_ACCOUNT):
        return path
    name = path.removeprefix(STORE_ACCOUNT)
    found = accounts if isinstance(accounts, Accounts) else load_accounts(accounts, environ=environ)
    try:
        entry = found.find_store(name)
    except ConfigError as exc:
        raise ConfigError(f"{job.place(('store',))}: {exc}") from None
    return store_url(entry, place=lambda loc: found.doc.place((name, *loc)), environ=environ)


def _check_tables(job: Job, path: str, *, dry_run: bool) -> None:
    """Check the job against the store's tables, opening an existing file read-only."""
    stored: list[str] = []
    views: list[str] = []
    if is_postgres_url(path):  # read-only: a job that fails its checks writes nothing
        try:
            with CampaignStore(path, read_only=True) as existing:
                stored = existing.tables()
        except SchemaNotFoundError:
            if dry_run:
                raise  # a dry run reads the store as it is: there is none to read
            # a run creates the schema: check the job against no tables
    elif path != ":memory:" and Path(path).exists():
        with CampaignStore(path, read_only=True) as existing:
            stored = existing.tables()
            found = existing.sql(_VIEWS)  # a query source may read a view the user made
            views = [str(name) for name in found["view_name"]]
    with CampaignStore(":memory:") as parser:
        check_job(job, stored, parser=parser, views=views)


@contextmanager
def _open_store(path: str, *, dry_run: bool) -> Iterator[CampaignStore]:
    if dry_run and not is_postgres_url(path) and (path == ":memory:" or not Path(path).exists()):
        store = CampaignStore(":memory:")  # a dry run creates no file
    else:
        store = CampaignStore(path, read_only=dry_run)
    with store:
        yield store


def run_step(
    spec: StepSpec,
    conn: Connector,
    *,
    store: CampaignStore,
    dry_run: bool = False,
    progress: bool = False,
    status: StepStatus | None = None,
) -> tuple[JobReport, Any]:
    """Run one step with a connector and a store already open (a widget's Run button).

    ``status`` is where the step lines go when ``progress`` is on (a form passes one that
    shows them inside the form); by default stderr, or an HTML status in a notebook.

    The step runs exactly as in a job. Returns the report and the operation's result (of an
    import, an export, a delete or a deleted import; None for the other kinds). A dry-run
    delete returns its preview: a frame of ``inputIndex``, ``crmId`` and ``crmAction``
    (``delete``, ``missing`` when the CRM has no such record, ``rejected``).

    Raises:
        CrmframesError: the step failed (the report is not returned then).
    """
    report = JobReport(
        job=f"one {spec.kind} step", account=repr(conn), store=store.path, dry_run=dry_run
    )
    context = StepContext(conn, store, dry_run, progress, 1, status=status or StepStatus())
    report.run_id, report.run_at = context.run_id, context.run_at.isoformat()
    step = StepReport(index=1, kind=spec.kind, label=label(spec))
    report.steps.append(step)
    started = time.perf_counter()
    context.run(spec, step, report)
    report.seconds = time.perf_counter() - started
    if report.exception is not None:
        raise report.exception
    return report, context.result
