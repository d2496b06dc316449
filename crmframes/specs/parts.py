"""The parts step specs are built of: the rows a step reads, its automatic index, where ids go.

Pure. :class:`Source` (a store table, a SQL query or a file), :class:`AutoIndexSpec` (the
``LASTIMPORT_<instance>_<activity>`` option), :class:`WriteBack` (an export's CRM ids
written into its source table) and :class:`ReconcileTables` (where a reconcile keeps what it
found). The step specs themselves are in :mod:`crmframes.specs.steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import model_validator

from crmframes.specs.calls import OperationSpec, resolved
from crmframes.specs.fields import Name, Names, OptionPart, Spec, TableName, invalid

__all__ = ["AutoIndexSpec", "ReconcileTables", "Source", "WriteBack"]


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


class AutoIndexSpec(OperationSpec):
    """The automatic index: an option ``LASTIMPORT_<instance>_<activity>`` in the store.

    Attributes:
        activity: the name of the step (``import_contacts``).
        instance: the name of the account / CRM instance.
        fields: last-modified fields to use instead of the CRM's defaults.
        on_new_fields: ``backfill`` (read every record once when the import gains a field)
            or ``refuse`` (stop with an error), as :class:`~crmframes.AutoIndex` takes it.
    """

    calls: ClassVar[tuple[str, ...]] = ("crmframes.operations:AutoIndex",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(store="the job's campaign store")

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
