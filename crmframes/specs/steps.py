"""The settings of each operation as a spec: what one step of a job does, checked before it runs.

Pure. A spec holds the arguments of its operation under the same names
(:class:`ImportSpec` ↔ ``import_from_crm``, :class:`ExportSpec` ↔ ``export_to_crm``,
:class:`DedupeSpec` ↔ ``CampaignStore.dedupe``, :class:`ReconcileSpec` ↔ ``reconcile``, ...)
plus what a job step needs around it in the campaign store: the table an import merges
into, the rows an export sends (:class:`Source`: a table, a SQL query or a file), the table
deletions are applied to. Filters are written in the dict form of :mod:`crmframes.filters`.
Each spec names the functions it configures (``calls``) and the few names the runner
resolves itself (``resolved_by_runner``); the runner gets every other option from
:meth:`~crmframes.specs.calls.OperationSpec.call_kwargs`, so an option is spelled here only.
The parts steps share are in :mod:`crmframes.specs.parts`, a dedupe's rules in
:mod:`crmframes.specs.dedupe_rules`.

Examples:
    >>> spec = ImportSpec(object="contact", fields=["lastname"], table="contact")
    >>> print(spec.to_yaml(), end="")
    object: contact
    fields:
    - lastname
    table: contact
    >>> ImportSpec.from_yaml(spec.to_yaml()) == spec
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, Field, Strict, model_validator

from crmframes.errors import FilterError
from crmframes.filters import validate
from crmframes.specs.calls import CRM_CALL, STEP_HANDLING, OperationSpec, resolved
from crmframes.specs.dedupe_rules import Keep, Method, NormalizerName, Rules, Scorer
from crmframes.specs.fields import (
    Conversion,
    Count,
    Duration,
    FieldList,
    Filter,
    Flag,
    Moment,
    Name,
    Names,
    OrderBy,
    PositiveInt,
    TableName,
    TimeZone,
    invalid,
)
from crmframes.specs.handling import RejectsSpec, RetrySpec
from crmframes.specs.parts import AutoIndexSpec, ReconcileTables, Source, WriteBack

__all__ = [
    "STEP_KINDS",
    "AutoIndexSpec",
    "DedupeSpec",
    "DeleteSpec",
    "DeletedSpec",
    "ExportSpec",
    "ImportSpec",
    "MergeSpec",
    "ReconcileSpec",
    "ReconcileTables",
    "Source",
    "StepSpec",
    "WriteBack",
]

ReadMode = Literal["auto", "rest", "bulk"]
WriteMode = Literal["auto", "batch", "bulk"]
OnError = Literal["reject", "raise"]
DeletionMode = Literal["soft", "hard"]


def _mapping(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for column, target in value.items():
        if isinstance(target, list | tuple) and len(target) == 2 and target[1] == "default":
            target = target[0]
        out[column] = tuple(target) if isinstance(target, list) else target
    return out


WriteMapping = Annotated[dict[Name, Name | tuple[Name, Conversion]], BeforeValidator(_mapping)]


class ImportSpec(OperationSpec):
    """Import from the CRM (``import_from_crm``), then merge into a store table.

    Attributes:
        object: the CRM object (``Contact``, ``contact``).
        fields: field names, or ``name: conversion`` (``default``, ``date_only``,
            ``no_offset``, ``raw``); all fields when absent.
        where: a filter in the dict form of :func:`crmframes.filters.from_dict`.
        order_by: fields, ``field: desc`` or ``[field, desc]``.
        auto_index: import only what changed since the last run (the watermark lives in the
            store and moves only with the merged rows).
        population: rows whose ``id_column`` holds the ids of the records to fetch.
        id_column: the column of ``population`` holding the CRM ids.
        timezone, mode, limit, strict: as for ``import_from_crm``.
        table: the store table to merge into; the object's name when absent.
        rejects: a store table the rows that could not be converted are appended to.
        retry: run the step again after a wait when the CRM is unreachable or limited.
    """

    kind: ClassVar[str] = "import"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.operations:import_from_crm",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        CRM_CALL,
        STEP_HANDLING,
        auto_index="an AutoIndex on the job's store, built from auto_index",
        population="the rows read from the population source",
        table="the store table the runner merges the result into",
    )

    object: Name
    fields: FieldList | None = None
    where: Filter | None = None
    order_by: OrderBy | None = None
    auto_index: AutoIndexSpec | None = None
    population: Source | None = None
    id_column: Name | None = None
    timezone: TimeZone = "UTC"
    mode: ReadMode = "auto"
    limit: Count | None = None
    strict: Flag = False
    table: TableName | None = None
    rejects: RejectsSpec | None = None
    retry: RetrySpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.where is not None:
            try:
                validate(self.where, strict=self.strict)
            except FilterError as exc:
                raise invalid("where", str(exc)) from None
        if (self.population is None) != (self.id_column is None):
            name = "id_column" if self.population is not None else "population"
            raise ValueError(f"population and id_column go together: add {name}")
        if self.limit is not None and self.auto_index is not None:
            raise invalid(
                "limit", "does not go with auto_index (the watermark would pass unread records)"
            )
        return self

    @property
    def target(self) -> str:
        """The store table the records are merged into."""
        return self.table or self.object


class ExportSpec(OperationSpec):
    """Export rows of the store to the CRM (``export_to_crm``).

    Attributes:
        object: the CRM object.
        source: the rows to send.
        mapping: ``column: field`` or ``column: [field, conversion]``; same names when absent.
        key: the column identifying records: the id ⇒ update, an external id / alternate key
            ⇒ upsert, absent ⇒ insert.
        journal: the journal file; absent for the default one, ``false`` for none.
        write_back: after a real run, write the CRM ids into the source table.
        batch_size, mode, dry_run, only_changed, skip_nulls, timezone, on_error,
            max_retries, max_parallel: as for ``export_to_crm``.
        rejects: a store table the rejected rows are appended to, with the run's id.
        retry: run the step again after a wait when the CRM is unreachable or limited
            (the journal makes the rerun send only what has no outcome yet).
    """

    kind: ClassVar[str] = "export"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.operations:export_to_crm",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        CRM_CALL,
        STEP_HANDLING,
        source="the runner reads the rows, passed as df",
        df="the rows read from source",
        write_back="the runner merges the CRM ids into the source table after the call",
        sleep="the run's sleep (run_job sleep=): how the retry rounds of the write wait",
    )

    object: Name
    source: Source
    mapping: WriteMapping | None = None
    key: Name | None = None
    journal: Name | Literal[False] | None = None
    batch_size: PositiveInt | None = None
    mode: WriteMode = "auto"
    dry_run: Flag = False
    only_changed: Flag = False
    skip_nulls: Flag = False
    timezone: TimeZone = "UTC"
    on_error: OnError = "reject"
    max_retries: Count = 4
    max_parallel: Annotated[int, Strict(), Field(ge=1, le=52)] | None = None
    write_back: WriteBack | None = None
    rejects: RejectsSpec | None = None
    retry: RetrySpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.only_changed and self.key is None:
            raise invalid("only_changed", "only_changed needs key: without it every row is new")
        if self.write_back is not None and self.source.table is None:
            raise invalid("write_back", "write_back needs a source table to write into")
        return self


class DeleteSpec(OperationSpec):
    """Delete in the CRM the records named by rows of the store (``delete_in_crm``).

    Attributes:
        object: the CRM object.
        source: the rows naming the records.
        key: the column holding the CRM ids (the object's id field by default).
        journal, batch_size, mode, on_error, max_retries, max_parallel: as for
            ``delete_in_crm``.
        rejects: a store table the rejected rows are appended to, with the run's id.
        retry: run the step again after a wait when the CRM is unreachable or limited.
    """

    kind: ClassVar[str] = "delete"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.operations:delete_in_crm",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        CRM_CALL,
        STEP_HANDLING,
        source="the runner reads the rows, passed as df",
        df="the rows read from source",
        sleep="the run's sleep (run_job sleep=): how the retry rounds of the delete wait",
    )

    object: Name
    source: Source
    key: Name | None = None
    journal: Name | Literal[False] | None = None
    batch_size: PositiveInt | None = None
    mode: WriteMode = "batch"
    on_error: OnError = "reject"
    max_retries: Count = 4
    max_parallel: Annotated[int, Strict(), Field(ge=1, le=52)] | None = None
    rejects: RejectsSpec | None = None
    retry: RetrySpec | None = None


class DeletedSpec(OperationSpec):
    """Import the records deleted in the CRM (``import_deleted_from_crm``) and apply them.

    The window ends at ``end`` (the CRM's clock when absent) and starts at ``start``, or
    ``lookback`` before the end; with ``auto_index`` a later run starts where the last one
    ended (the option is written once the deletions are applied).

    Attributes:
        object: the CRM object.
        start: the window's start (included), an ISO date or date and time.
        end: the window's end (excluded; the next window starts there).
        lookback: the window's length instead of ``start``: ``7d``, ``12h``, ``1d12h``.
        timezone: the zone of naive ``start`` / ``end`` values.
        auto_index: continue from the last run (``start`` / ``lookback`` serve the first).
        table: the store table to apply the deletions to; none to only count them.
        apply: ``soft`` stamps ``crmDeletedDate``, ``hard`` removes the rows.
        key: the id column of the table (the object's id field by default).
        retry: run the step again after a wait when the CRM is unreachable or limited.
    """

    kind: ClassVar[str] = "deleted"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.operations:import_deleted_from_crm",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        conn=CRM_CALL["conn"],
        retry=STEP_HANDLING["retry"],
        start="the auto_index option, else start, else lookback before end (or the CRM clock)",
        lookback="the runner turns it into start",
        auto_index="the runner reads start from this option and writes the window's end",
        table="the runner applies the deletions to it (CampaignStore.apply_deletions)",
        apply="apply_deletions' mode",
        key="apply_deletions' key",
    )

    object: Name
    start: Moment | None = None
    end: Moment | None = None
    lookback: Duration | None = None
    timezone: TimeZone = "UTC"
    auto_index: AutoIndexSpec | None = None
    table: TableName | None = None
    apply: DeletionMode = "soft"
    key: Name | None = None
    retry: RetrySpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.start is None and self.lookback is None:
            raise ValueError("give the window's start: start (a date) or lookback (e.g. 7d)")
        if self.start is not None and self.lookback is not None:
            raise invalid("lookback", "give start or lookback, not both")
        return self


class DedupeSpec(OperationSpec):
    """Remove duplicate rows from a store table (``CampaignStore.dedupe`` / ``deduplicate``).

    Attributes:
        table: the store table.
        on: a list of columns, scored by how they agree (``find_duplicates``' default for
            a flat list), or rules: a column, or a list of rules any one of which links two
            rows (``[email, [firstname, lastname]]``; ``[[a, b]]``: a and b must both match).
        keep: which row of a cluster survives: ``recent``, ``complete``, ``first``,
            ``last``, ``{min: column}``, ``{max: column}``, ``{recent: column}``,
            ``{notnull: column}``, ``{priority: {column: [best, next]}}``, or a list of them
            (later ones break ties).
        modified, key, merge, fuzzy, block, normalizers, threshold, scorer, max_pairs,
            method: as for ``deduplicate``.
        removed_table: a store table receiving the removed rows (with ``survivorKey``), e.g.
            for a later delete step; replaced by each run.
        dry_run: count, remove nothing.
    """

    kind: ClassVar[str] = "dedupe"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.store:CampaignStore.dedupe",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        clusters="not in a job file (a reviewed frame): a dedupe step matches by on",
        removed_table="the runner replaces this table with the result's removed rows",
    )

    table: TableName
    on: Rules
    keep: Keep = "recent"
    modified: Name | None = None
    key: Name | None = None
    merge: Rules | None = None
    fuzzy: Names | None = None
    block: Rules | None = None
    normalizers: dict[Name, NormalizerName] | None = None
    threshold: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.9
    scorer: Scorer = "jaro_winkler"
    max_pairs: PositiveInt = 25_000_000
    method: Method = "auto"
    removed_table: TableName | None = None
    dry_run: Flag = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.removed_table is not None and self.key is None:
            raise invalid("removed_table", "removed_table needs key: the rows' identity column")
        return self


class ReconcileSpec(OperationSpec):
    """Compare rows of the store with the same records freshly read from the CRM (``reconcile``).

    The CRM side is imported (``object``, ``fields``, ``where``) but not merged; the store
    side is ``source``. ``save`` keeps what was found in store tables, replaced by each
    run, so later steps can act on it (export the store's values of the differing records).

    Attributes:
        object: the CRM object.
        source: the store rows (the left side).
        key: the identity column(s), named alike on both sides.
        fields: the CRM fields to read (all when absent).
        where: a filter on the CRM side.
        columns: the columns to compare (those both sides have, by default).
        timezone: the zone of naive timestamps.
        mode: how the CRM side is read, as for ``import_from_crm``.
        rtol, empty_is_null: as for ``reconcile``.
        save: store tables for ``differences`` (key, field, store and CRM values as text),
            ``only_store`` and ``only_crm`` (the rows on one side only).
        rejects: a store table the CRM rows that could not be converted are appended to.
        retry: run the step again after a wait when the CRM is unreachable or limited.
    """

    kind: ClassVar[str] = "reconcile"
    calls: ClassVar[tuple[str, ...]] = (
        "crmframes.operations:import_from_crm",
        "crmframes.reconcile:reconcile",
    )
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        CRM_CALL,
        STEP_HANDLING,
        source="the runner reads the store rows, passed as left",
        left="the rows read from source",
        right="the records imported from the CRM",
        save="the runner replaces these tables with what was found",
        # the CRM side reads every record the filter matches: an order, a window, a
        # population or a limit would only make records look missing
        order_by="left at import_from_crm's default",
        auto_index="left at import_from_crm's default",
        population="left at import_from_crm's default",
        id_column="left at import_from_crm's default",
        limit="left at import_from_crm's default",
        strict="left at import_from_crm's default (where is checked in the default form)",
    )

    object: Name
    source: Source
    key: Names
    fields: FieldList | None = None
    where: Filter | None = None
    columns: Names | None = None
    timezone: TimeZone = "UTC"
    mode: ReadMode = "auto"
    rtol: Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)] = 1e-9
    empty_is_null: Flag = True
    save: ReconcileTables | None = None
    rejects: RejectsSpec | None = None
    retry: RetrySpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.where is not None:
            try:
                validate(self.where)
            except FilterError as exc:
                raise invalid("where", str(exc)) from None
        return self


class MergeSpec(OperationSpec):
    """Merge rows (from the store or a file) into a store table (``CampaignStore.merge``).

    Attributes:
        table: the table to merge into (created if missing).
        source: the rows.
        key: the identity column(s).
        modified: the last-modified column; older rows never overwrite newer ones.
        dry_run: count, write nothing.
    """

    kind: ClassVar[str] = "merge"
    calls: ClassVar[tuple[str, ...]] = ("crmframes.store:CampaignStore.merge",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        source="the runner reads the rows, passed as data",
        data="the rows read from source",
    )

    table: TableName
    source: Source
    key: Names
    modified: Name | None = None
    dry_run: Flag = False


StepSpec = (
    ImportSpec | ExportSpec | DeleteSpec | DeletedSpec | DedupeSpec | MergeSpec | ReconcileSpec
)
STEP_KINDS: dict[str, type[StepSpec]] = {
    spec.kind: spec
    for spec in (
        ImportSpec, ExportSpec, DeleteSpec, DeletedSpec, DedupeSpec, MergeSpec, ReconcileSpec
    )
}  # fmt: skip
"""Each step's key in a job file, and its spec."""
