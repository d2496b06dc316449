"""Export to the CRM: batches, retries, rejects, and a journal for exactly once.

Orchestration: written once over the Connector protocol. :func:`export_to_crm` (and
:func:`~crmframes.operations.deleting.delete_in_crm`, which sends through
:func:`write_planned`) plan the writes first (:mod:`crmframes.writes`: mapping, key, dtypes,
values; everything checkable is checked before any call), then send them in batches —
Salesforce sObject Collections (200) or Bulk API 2.0 jobs, Dataverse ``CreateMultiple`` /
``UpdateMultiple`` or ``$batch`` (1000) — several calls in flight at once
(:mod:`crmframes.operations.parallel`).

Delivery is exactly once, or a reject (:mod:`crmframes.operations.delivery`). Every call is
written to the journal before it leaves and its outcome after it returns
(:mod:`crmframes.operations.journal`). Re-running the same call with the same journal sends
only rows without an outcome; a call whose outcome is unknown is settled by construction
where the CRM allows it: Dataverse inserts carry client-chosen ids and are simply sent again,
keyed writes are sent again, bulk jobs are collected, and an insert that maps an external id
goes as an upsert on it where the CRM assigns ids itself (Salesforce). Only a Salesforce
insert without an external id is looked up, and that lookup never guesses: a row it cannot
settle is an ``OUTCOME_UNKNOWN`` reject, never sent twice. Per-record transient failures (a
locked row, throttling) are retried with exponential backoff; what still fails becomes a
reject with the CRM's error, and is sent again by a later run with the journal.
``rows in = succeeded + rejected``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from crmframes.arguments import check_int, check_write_arguments
from crmframes.connectors.base import Connector, WriteOutcome
from crmframes.errors import ConfigError, DataError
from crmframes.frames import reject_frame
from crmframes.operations.delivery import Delivery, OnError, assign_journal
from crmframes.operations.export_result import ExportResult, ExportStats
from crmframes.operations.journal import Journal, default_journal_path
from crmframes.operations.parallel import (
    MAX_PARALLEL,
    Gate,
    batch_share,
    bulk_job_share,
    deliver,
    write_degree,
)
from crmframes.operations.preview import compare
from crmframes.progress import Bar
from crmframes.schema import ObjectSchema
from crmframes.store.protocols import JournalStore
from crmframes.writes import MappingSpec, PlannedWrites, plan_writes

__all__ = [
    "BULK_EXPORT_THRESHOLD",
    "ExportResult",
    "ExportStats",
    "export_to_crm",
    "write_planned",
]

logger = logging.getLogger("crmframes.export")

BULK_EXPORT_THRESHOLD = (
    10_000  # mode="auto" uses a bulk job above this many rows, when the CRM has one
)
JournalArg = str | os.PathLike[str] | Literal[False] | JournalStore | None
WriteMode = Literal["auto", "batch", "bulk"]


# --- the public operations ------------------------------------------------------------------------


def _journal_path(
    journal: JournalArg, plan: PlannedWrites, target: str
) -> tuple[Path | None, bool]:
    """The journal file, and whether it is a default one (retired once the export is done)."""
    if journal is False:
        return None, False
    if journal is None:
        return default_journal_path(None, plan.object, plan.op, target), True
    if isinstance(journal, JournalStore):  # a CampaignStore: its journals folder (beside a
        # DuckDB file; named after a PostgreSQL database and schema)
        folder = None if journal.path == ":memory:" else Path(journal.journals)
        return default_journal_path(folder, plan.object, plan.op, target), True
    if isinstance(journal, str | os.PathLike):
        return Path(journal), False
    raise TypeError(
        "journal must be None (the default file), False (none), a path, or a CampaignStore"
    )


def _run(
    conn: Connector,
    df: pd.DataFrame,
    plan: PlannedWrites,
    *,
    journal: JournalArg,
    batch_size: int | None,
    mode: WriteMode,
    on_error: OnError,
    max_retries: int,
    progress: bool,
    max_parallel: int | None = None,
    skip: set[int] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Delivery:
    if mode not in ("auto", "batch", "bulk"):
        raise ConfigError(f"mode must be 'auto', 'batch' or 'bulk', not {mode!r}")
    if on_error not in ("reject", "raise"):
        raise ConfigError(f"on_error must be 'reject' or 'raise', not {on_error!r}")
    if mode == "bulk" and not conn.supports_bulk_write:
        raise ConfigError(f"{conn.system} has no bulk write; use mode='batch' or 'auto'")
    todo = [i for i in range(len(plan.positions)) if not skip or i not in skip]
    bulk = mode == "bulk" or (
        mode == "auto" and conn.supports_bulk_write and len(todo) > BULK_EXPORT_THRESHOLD
    )
    limit = conn.write_limit(plan.op, bulk=bulk)
    if batch_size is not None and not (isinstance(batch_size, int) and 0 < batch_size <= limit):
        raise ConfigError(f"batch_size must be between 1 and {limit:,} for {conn.system}")
    instance = conn.instance
    target = hashlib.sha256(f"{instance}\n{plan.target()}".encode()).hexdigest()
    path, retire = _journal_path(journal, plan, target)
    header = {
        "operation": "delete" if plan.op == "delete" else "export",
        "system": conn.system,
        "instance": instance,
        "object": plan.object,
        "op": plan.op,
        "key": plan.key,
        "target": target,
        "created": datetime.now(UTC).isoformat(),
        "export": uuid.uuid4().hex,  # an existing journal keeps the export it names
    }
    opened = Journal.open(path, header) if path is not None else None
    run = Delivery(
        conn,
        plan,
        bulk,
        batch_size or limit,
        on_error,
        max_retries,
        opened,
        export_id=str((opened.header if opened is not None else header)["export"]),
        sleep=sleep,
    )
    finished = False
    try:
        if opened is not None:
            for pending, indexes in assign_journal(run, opened, todo):
                run.resolve(pending, indexes)
        remaining = [i for i in todo if i not in run.outcomes]
        run.bar = Bar(
            f"{plan.op} {plan.object}",
            total=len(todo),
            unit="rows",
            initial=len(todo) - len(remaining),
            show=progress and len(remaining) > run.size,
        )
        deliver_all(run, remaining, max_parallel=max_parallel, batch_size=batch_size)
        finished = True
    finally:
        if run.bar is not None:
            run.bar.close()
        if opened is not None:
            if finished and retire and not (run.unsettled or run.kept_open):  # open calls stay
                opened.retire()
            opened.close()
    return run


def deliver_all(
    run: Delivery, remaining: list[int], *, max_parallel: int | None, batch_size: int | None
) -> None:
    """Send the rows left in batches, several calls in flight (:mod:`.parallel`).

    An insert that only a lookup can settle (Salesforce, no external id) goes one call at a
    time: a lookup for a lost call must never see the records of a call still in flight.
    Without ``batch_size``, a large bulk export is split into one job per call in flight, and
    a Dataverse export into enough calls to fill the degree (:func:`.parallel.batch_share`).
    """
    lookup = run.plan.op == "insert" and not run.client_ids
    degree = 1 if lookup else write_degree(run.conn, max_parallel)
    size = run.size
    if run.bulk and batch_size is None and degree > 1:
        size = bulk_job_share(run.conn, len(remaining), degree, run.size)
    elif batch_size is None:
        size = batch_share(run.conn, len(remaining), degree, run.size)
    throttling = run.conn.throttling
    before = throttling.snapshot()
    gate = Gate(degree, throttling)
    batches = [remaining[start : start + size] for start in range(0, len(remaining), size)]
    try:
        deliver(run.send, batches, gate)
    finally:
        after = throttling.snapshot()
        run.parallel = max(gate.peak, 1)
        run.throttles = after[0] - before[0]
        run.waited = after[1] - before[1]


def _result(
    conn: Connector,
    df: pd.DataFrame,
    plan: PlannedWrites,
    outcomes: dict[int, WriteOutcome],
    *,
    run: Delivery | None,
    resumed: int,
    calls_before: int,
    started: float,
    changes: pd.DataFrame | None = None,
    dry_actions: dict[int, tuple[str, str | None]] | None = None,
    unchanged: dict[int, str | None] | None = None,
) -> ExportResult:
    ok_positions, ids, actions = [], [], []
    bad: list[tuple[int, str, str, str, str]] = [
        (r.position, r.symbol, r.message, "", r.fields) for r in plan.rejects
    ]
    counts = dict.fromkeys(("created", "updated", "deleted", "unchanged"), 0)
    if dry_actions is not None:
        for index, (action, crm_id) in sorted(dry_actions.items()):
            ok_positions.append(plan.positions[index])
            ids.append(crm_id)
            actions.append(action)
    for index, crm_id in sorted((unchanged or {}).items()):
        counts["unchanged"] += 1
        ok_positions.append(plan.positions[index])
        ids.append(crm_id)
        actions.append("unchanged")
    for index, outcome in sorted(outcomes.items()):
        position = plan.positions[index]
        if outcome.ok:
            action = _action(plan.op, outcome)
            counts[action] += 1
            ok_positions.append(position)
            ids.append(outcome.id)
            actions.append(action)
        else:
            bad.append(
                (
                    position,
                    outcome.error_symbol,
                    outcome.error_message,
                    outcome.error_code,
                    outcome.error_fields,
                )
            )
    order = sorted(range(len(ok_positions)), key=lambda k: ok_positions[k])
    frame = df.iloc[[ok_positions[k] for k in order]].copy()
    frame["crmId"] = pd.Series([ids[k] for k in order], index=frame.index, dtype="str")
    frame["crmAction"] = pd.Series([actions[k] for k in order], index=frame.index, dtype="str")
    bad.sort()
    rejects = reject_frame(
        (df.iloc[p].to_dict() for p, *_ in bad),
        symbols=[b[1] for b in bad],
        messages=[b[2] for b in bad],
        codes=[b[3] or None for b in bad],
        fields=[b[4] for b in bad],
        indexes=[b[0] for b in bad],
        columns=[str(c) for c in df.columns],
    )
    if len(frame) + len(rejects) != len(df):  # conservation: never report a partial picture
        raise AssertionError(
            f"internal error: {len(df)} rows in, {len(frame)} succeeded + {len(rejects)} rejected"
        )
    stats = ExportStats(
        rows=len(df),
        rejected=len(rejects),
        resumed=resumed,
        batches=run.batches if run else 0,
        api_calls=conn.api_calls - calls_before,
        retries=run.retries if run else 0,
        seconds=time.perf_counter() - started,
        mode="dry run" if dry_actions is not None else ("bulk" if run and run.bulk else "batch"),
        parallel=run.parallel if run else 1,
        throttles=run.throttles if run else 0,
        waited=run.waited if run else 0.0,
        **counts,
    )
    journal = run.journal.path if run and run.journal else None
    return ExportResult(
        frame,
        rejects,
        stats,
        plan.object,
        conn.system,
        plan.op,
        plan.key,
        changes=changes,
        journal=journal,
        dry_run=dry_actions is not None,
    )


def _action(op: str, outcome: WriteOutcome) -> str:
    if op == "delete":
        return "deleted"
    if op == "insert":
        return "created"
    return "created" if outcome.created else "updated"


def export_to_crm(
    conn: Connector,
    object: str,
    df: pd.DataFrame,
    *,
    mapping: MappingSpec | None = None,
    key: str | None = None,
    journal: JournalArg = None,
    batch_size: int | None = None,
    mode: WriteMode = "auto",
    dry_run: bool = False,
    only_changed: bool = False,
    skip_nulls: bool = False,
    timezone: str = "UTC",
    on_error: OnError = "reject",
    max_retries: int = 4,
    max_parallel: int | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> ExportResult:
    """Export the rows of ``df`` to a CRM object: insert, update by id, or upsert by key.

    Args:
        conn: a connector.
        object: the object's API name (``"Contact"``, ``"contact"``).
        df: the rows to write.
        mapping: ``{frame column: CRM field}`` or ``{column: (field, conversion)}``
            (conversions as on import, DESIGN §4.2). None maps every column to the field of
            the same name (read-only system columns such as the modified date are left out;
            reject columns of an earlier result are ignored, so rejects can be resubmitted).
        key: the column (or its CRM field) identifying records: the object's id ⇒ update;
            an external id (Salesforce) or alternate key (Dataverse) ⇒ upsert; None ⇒ insert.
        journal: the journal file (DESIGN §4.6): None for the default file under
            ``.crmframes/journals/`` named after what is sent (so re-running the same call
            resumes), a path, a ``CampaignStore`` (a folder beside it), or False for none.
            A journal that belongs to another export is refused (``JournalError``).
        batch_size: records per call (at most the CRM's limit: 200 collections, 1000 ``$batch``).
        mode: ``"batch"``, ``"bulk"`` (Salesforce Bulk API 2.0) or ``"auto"`` (bulk above
            :data:`BULK_EXPORT_THRESHOLD` rows when the CRM has it).
        dry_run: write nothing; ``result.frame`` says what each row would do and
            ``result.changes`` lists old → new values of keyed rows, read from the CRM.
        only_changed: read the keyed rows first and send only those that differ.
        skip_nulls: leave fields whose value is null unchanged instead of setting them to null.
        timezone: the zone in which naive datetimes are read (``default`` conversion).
        on_error: ``"reject"`` (rejects in the result) or ``"raise"`` (``WriteRejectedError``
            at the first rejected row; the journal keeps what was done).
        max_retries: rounds of re-sending rows that failed transiently before rejecting them.
        max_parallel: the most write calls in flight at once (1 to 52). None: Dataverse at
            the degree its ``x-ms-dop-hint`` header recommends, Salesforce 4 calls. Lowered
            by itself on throttling; each call is journaled on its own, so exactly-once holds.
        progress: show a progress bar when there is more than one batch.
        sleep: how to wait between rounds of retries, given the seconds (None:
            ``time.sleep``); a scheduler or a test passes its own.

    Returns:
        The succeeded rows with ``crmId`` and ``crmAction``, the rejects, the stats.
    """
    check_write_arguments(**locals())  # every argument, before any call
    if max_parallel is not None:
        check_int("max_parallel", max_parallel, min=1, max=MAX_PARALLEL)
    started = time.perf_counter()
    calls_before = conn.api_calls
    schema = conn.describe(object)
    plan = plan_writes(
        df,
        schema,
        mapping=mapping,
        key=key,
        normalize_id=conn.normalize_id,
        timezone=timezone,
        skip_nulls=skip_nulls,
    )
    if only_changed and plan.op == "insert":
        raise ConfigError("only_changed needs key=: without a key every row is an insert")
    if plan.op == "insert":
        plan = _insert_as_upsert(conn, df, schema, plan, mapping, timezone, skip_nulls)
    changes = None
    unchanged: dict[int, str | None] = {}
    if dry_run or only_changed:
        if plan.op == "insert":
            actions: dict[int, tuple[str, str | None]] = {
                i: ("insert", None) for i in range(len(plan.positions))
            }
        else:
            actions, changes = compare(conn, plan)
        if dry_run:
            return _result(
                conn,
                df,
                plan,
                {},
                run=None,
                resumed=0,
                calls_before=calls_before,
                started=started,
                changes=changes,
                dry_actions=actions,
            )
        unchanged = {i: crm_id for i, (action, crm_id) in actions.items() if action == "unchanged"}
    return write_planned(
        conn,
        df,
        plan,
        journal=journal,
        batch_size=batch_size,
        mode=mode,
        on_error=on_error,
        max_retries=max_retries,
        max_parallel=max_parallel,
        progress=progress,
        sleep=sleep,
        unchanged=unchanged,
        changes=changes,
        calls_before=calls_before,
        started=started,
    )


def _insert_as_upsert(
    conn: Connector,
    df: pd.DataFrame,
    schema: ObjectSchema,
    plan: PlannedWrites,
    mapping: MappingSpec | None,
    timezone: str,
    skip_nulls: bool,
) -> PlannedWrites:
    """An insert that maps an external-id field goes as an upsert on it: idempotent by key.

    Only where the CRM cannot take client-chosen ids (Salesforce), and only when every row
    has a value and the values are distinct: otherwise the rows stay an insert, whose lost
    answers are looked up.
    """
    if conn.new_record_ids(plan.object, []) is not None:
        return plan  # ids by construction (Dataverse)
    for target in plan.targets:
        name = target.field.name
        if not target.field.external_id or any(
            record.get(name) in (None, "") for record in plan.records
        ):
            continue
        try:
            keyed = plan_writes(
                df,
                schema,
                mapping=mapping,
                key=target.column,
                normalize_id=conn.normalize_id,
                timezone=timezone,
                skip_nulls=skip_nulls,
            )
        except DataError:  # duplicated values: each row must still create its own record
            continue
        logger.info("insert into %s sent as an upsert on %s (an external id)", plan.object, name)
        return keyed
    return plan


def write_planned(
    conn: Connector,
    df: pd.DataFrame,
    plan: PlannedWrites,
    *,
    calls_before: int,
    started: float,
    changes: pd.DataFrame | None = None,
    unchanged: dict[int, str | None] | None = None,
    **options: Any,
) -> ExportResult:
    """Send planned writes (with ``options`` as :func:`_run` takes them) and build the result.

    The one sending path of :func:`export_to_crm` and
    :func:`~crmframes.operations.deleting.delete_in_crm`.
    """
    run = _run(conn, df, plan, skip=set(unchanged or ()), **options)
    unchanged = {i: v for i, v in (unchanged or {}).items() if i not in run.outcomes}
    return _result(
        conn,
        df,
        plan,
        run.outcomes,
        run=run,
        resumed=run.resumed,
        calls_before=calls_before,
        started=started,
        changes=changes,
        unchanged=unchanged,
    )
