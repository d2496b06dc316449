"""The settings of each operation as a spec: what one step of a job does, checked before it runs.

Pure. A spec holds the arguments of its operation under the same names
(:class:`ImportSpec` ↔ ``import_from_crm``, :class:`ExportSpec` ↔ ``export_to_crm``,
:class:`DedupeSpec` ↔ ``CampaignStore.dedupe``, :class:`ReconcileSpec` ↔ ``reconcile``, ...)
plus what a job step needs around it in the campaign store: the table an import merges
into, the rows an export sends (:class:`Source`: a table, a SQL query or a file), the table
deletions are applied to. Filters are written in the dict form of :mod:`crmframes.filters`.

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
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import BeforeValidator, Field, PlainSerializer, Strict, model_validator

from crmframes.errors import FilterError
from crmframes.filters import validate
from crmframes.specs.document import suggest
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
    OptionPart,
    OrderBy,
    PositiveInt,
    Spec,
    TableName,
    TimeZone,
    invalid,
)
from crmframes.specs.handling import RejectsSpec, RetrySpec

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


class Source(Spec):
    """Rows read from the campaign store (or a file) for a step.

    Exactly one of ``table``, ``query`` and ``file``. ``source: contact`` is short for
    ``source: {table: contact}``.

    Attributes:
        table: a store table.
        columns: the table's columns to read (all by default).
        where: a SQL condition on the table, e.g. ``"emailaddress1" IS NOT NULL``.
        query: one DuckDB SQL query on the store.
        file: a CSV or Parquet file (by its suffix), relative to the working directory.
    """

    table: TableName | None = None
    columns: Names | None = None
    where: Name | None = None
    query: Name | None = None
    file: Name | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"table": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        given = [name for name in ("table", "query", "file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a source is exactly one of table, query or file"
                + (f", not {' and '.join(given)}" if given else "")
            )
        for name in ("columns", "where"):
            if getattr(self, name) is not None and self.table is None:
                raise invalid(name, f"{name} only goes with table")
        return self


class AutoIndexSpec(Spec):
    """The automatic index: an option ``LASTIMPORT_<instance>_<activity>`` in the store.

    Attributes:
        activity: the name of the step (``import_contacts``).
        instance: the name of the account / CRM instance.
        fields: last-modified fields to use instead of the CRM's defaults.
        on_new_fields: ``backfill`` (read every record once when the import gains a field)
            or ``refuse`` (stop with an error), as :class:`~crmframes.AutoIndex` takes it.
    """

    activity: OptionPart
    instance: OptionPart = "default"
    fields: Names | None = None
    on_new_fields: Literal["backfill", "refuse"] = "backfill"

    @property
    def option_name(self) -> str:
        """``LASTIMPORT_<instance>_<activity>``, as :class:`~crmframes.AutoIndex` names it."""
        return f"LASTIMPORT_{self.instance}_{self.activity}"


class WriteBack(Spec):
    """Where an export writes the CRM ids back: a column of its source table.

    Attributes:
        key: the source table's identity column, to find the rows again.
        column: the column receiving the CRM id (added if missing).
    """

    key: Name
    column: Name = "crmId"


class ReconcileTables(Spec):
    """The store tables a reconcile step writes what it found into (each replaced per run)."""

    differences: TableName | None = None
    only_store: TableName | None = None
    only_crm: TableName | None = None


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


class ImportSpec(Spec):
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


class ExportSpec(Spec):
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


class DeleteSpec(Spec):
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


class DeletedSpec(Spec):
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


KeepMethod = Literal["recent", "complete", "first", "last", "min", "max", "priority", "notnull"]
_KEEP_NEEDS_COLUMN = ("min", "max", "priority", "notnull")  # as crmframes.dedupe's KeepRule
NormalizerName = Literal["email", "phone", "name", "first_name", "text", "date", "exact"]
Scorer = Literal["jaro_winkler", "levenshtein", "osa", "indel"]
Rules = Name | list[Name | Annotated[list[Name], Field(min_length=1)]]


def _keep_rule(item: Any) -> Any:
    """One keep rule in the form ``deduplicate`` takes: a name or a tuple."""
    if (isinstance(item, Mapping) and len(item) == 1) or (isinstance(item, tuple) and item):
        method = next(iter(item)) if isinstance(item, Mapping) else item[0]
        if method not in get_args(KeepMethod):
            raise ValueError(
                f"unknown keep method {method!r}{suggest(method, get_args(KeepMethod))}"
            )
    if isinstance(item, str):
        if item not in get_args(KeepMethod):
            raise ValueError(f"unknown keep method {item!r}{suggest(item, get_args(KeepMethod))}")
        if item in _KEEP_NEEDS_COLUMN:
            raise ValueError(f"keep rule {item!r} needs a column: write {{{item}: column}}")
        return item
    if isinstance(item, Mapping) and len(item) == 1:
        ((method, value),) = item.items()
        if method == "priority":
            if not (isinstance(value, Mapping) and len(value) == 1):
                raise ValueError("write a priority rule as {priority: {column: [best, next, ...]}}")
            ((column, values),) = value.items()
            if not isinstance(values, list | tuple) or not values:
                raise ValueError(f"priority values of {column!r} are a non-empty list")
            return ("priority", column, tuple(values))
        return (method, value)
    if isinstance(item, tuple) and 2 <= len(item) <= 3:
        return item if len(item) == 2 else (item[0], item[1], tuple(item[2]))
    raise ValueError(
        "a keep rule is a method (recent, complete, first, last), {min|max|recent|notnull: "
        f"column}} or {{priority: {{column: [values]}}}}, not {item!r}"
    )


def _keep(value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise ValueError("keep is a rule or a non-empty list of rules")
        rules = [_keep_rule(item) for item in value]
        return rules[0] if len(rules) == 1 else rules
    return _keep_rule(value)


def _dump_keep(value: Any) -> Any:
    def one(rule: Any) -> Any:
        if isinstance(rule, str):
            return rule
        if rule[0] == "priority":
            return {"priority": {rule[1]: list(rule[2])}}
        return {rule[0]: rule[1]}

    return [one(rule) for rule in value] if isinstance(value, list) else one(value)


KeepRuleValue = (
    KeepMethod | tuple[KeepMethod, Name] | tuple[Literal["priority"], Name, tuple[Any, ...]]
)
Keep = Annotated[
    KeepRuleValue | list[KeepRuleValue],
    BeforeValidator(_keep),
    PlainSerializer(_dump_keep, when_used="json"),
]


class DedupeSpec(Spec):
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
        modified, key, merge, fuzzy, block, normalizers, threshold, scorer, max_pairs:
            as for ``deduplicate``.
        removed_table: a store table receiving the removed rows (with ``survivorKey``), e.g.
            for a later delete step; replaced by each run.
        dry_run: count, remove nothing.
    """

    kind: ClassVar[str] = "dedupe"

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
    removed_table: TableName | None = None
    dry_run: Flag = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.removed_table is not None and self.key is None:
            raise invalid("removed_table", "removed_table needs key: the rows' identity column")
        return self


class ReconcileSpec(Spec):
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
        save: store tables for ``differences`` (key, field, store and CRM values as text),
            ``only_store`` and ``only_crm`` (the rows on one side only).
        rejects: a store table the CRM rows that could not be converted are appended to.
        retry: run the step again after a wait when the CRM is unreachable or limited.
    """

    kind: ClassVar[str] = "reconcile"

    object: Name
    source: Source
    key: Names
    fields: FieldList | None = None
    where: Filter | None = None
    columns: Names | None = None
    timezone: TimeZone = "UTC"
    mode: ReadMode = "auto"
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


class MergeSpec(Spec):
    """Merge rows (from the store or a file) into a store table (``CampaignStore.merge``).

    Attributes:
        table: the table to merge into (created if missing).
        source: the rows.
        key: the identity column(s).
        modified: the last-modified column; older rows never overwrite newer ones.
        dry_run: count, write nothing.
    """

    kind: ClassVar[str] = "merge"

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
