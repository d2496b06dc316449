"""The forms whose rows come from a store table: export to the CRM, delete in the CRM.

Presentation. Both read a store table (with an optional SQL condition) and start as a dry
run: the export says what it would insert, update or leave, the delete reads the ids back
and says how many records it would delete and how many the CRM does not have.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError, StoreError
from crmframes.specs import DeleteSpec, ExportSpec, Source
from crmframes.specs.calls import choices, default
from crmframes.store import CampaignStore
from crmframes.widgets.base import LABELS, NO_KEY, NOT_SENT, TICK, WIDE, Form, list_layout
from crmframes.widgets.messages import FieldProblem

__all__ = ["DeleteForm", "ExportForm"]


class TableForm(Form):
    """A form whose rows come from a store table (export, delete): the table and a condition."""

    where_hint = ""
    dry_run_label = ""

    def __init__(
        self, conn: Connector, store: CampaignStore, object_name: str | None, table: str | None
    ) -> None:
        self.source = w.Dropdown(
            options=store.tables(), value=None, description="store table", style=LABELS
        )
        self.reload_button = w.Button(
            icon="refresh", tooltip="list the store's tables again", layout=w.Layout(width="40px")
        )
        self.reload_button.on_click(lambda _: self._shown(self._reloaded))
        self.dry_run = w.Checkbox(value=True, description=self.dry_run_label, **TICK)
        self.where = w.Text(
            description="rows where (SQL)",
            placeholder=self.where_hint,
            style=LABELS,
            layout=WIDE,
        )
        self.source.observe(self._chose_table, names="value")
        super().__init__(conn, store, object_name)
        self._watch(self.source, self.where)
        if table is not None:
            self.use(table)

    def use(self, table: str) -> None:
        """Read the rows from this store table (one made since the form was built, too).

        Raises:
            ConfigError: the store has no such table (the message lists its tables).
        """
        self._refresh()
        tables = {name.lower(): name for name in self.store.tables()}
        if table.lower() not in tables:
            known = ", ".join(tables.values()) or "none yet"
            raise ConfigError(f"the store has no table {table!r} (tables: {known})")
        self.source.value = tables[table.lower()]

    def _chose_table(self, _: Any) -> None:
        if not self._quiet:
            self._fill()
            self.panel.clear()

    def _where(self, exc: BaseException) -> str | None:
        """A store error while the condition is set is about the condition (its SQL)."""
        return "where" if isinstance(exc, StoreError) and str(self.where.value).strip() else None

    def _dry_run(self) -> bool:
        return bool(self.dry_run.value)

    def _reloaded(self) -> str:
        self._offer_tables(self.source)
        return ""

    def _refresh(self) -> None:
        self._offer_tables(self.source)

    def _columns(self) -> list[str]:
        """The chosen table's columns (none before a table is chosen)."""
        if self.source.value is None:
            return []
        return list(self.store.read(str(self.source.value), where="FALSE").columns)

    def _source(self, missing: str) -> Source:
        """The rows to read; ``missing`` is the error when no table is chosen."""
        if self.source.value is None:
            raise FieldProblem("source", missing)
        where = str(self.where.value).strip() or None
        return Source(table=str(self.source.value), where=where)


class ExportForm(TableForm):
    """Export a store table to the CRM: column → field mapping, key, mode, dry run.

    Args:
        conn: an open connector.
        store: the campaign store holding the rows.
        object: the CRM object to start with.
        table: the store table to start with.
    """

    title = "Export to the CRM"
    where_hint = '"emailaddress1" IS NOT NULL'
    dry_run_label = "dry run (send nothing)"

    def __init__(
        self,
        conn: Connector,
        store: CampaignStore,
        *,
        object: str | None = None,
        table: str | None = None,
    ) -> None:
        self.mapping: dict[str, w.Dropdown] = {}
        self._mapping = w.GridBox(layout=list_layout(480))
        self.key = w.Dropdown(options=[NO_KEY], description="key", style=LABELS)
        self.mode = w.Dropdown(
            options=choices(ExportSpec, "mode"),
            value=default(ExportSpec, "mode"),
            description="write mode",
            style=LABELS,
        )
        self.only_changed = w.Checkbox(description="only rows that differ from the CRM", **TICK)
        self.skip_nulls = w.Checkbox(
            description="leave a field unchanged where the value is null", **TICK
        )
        self.key.observe(lambda _: self._key_changed(), names="value")
        super().__init__(conn, store, object, table)
        self._watch(self.key, self.mode)
        self._key_changed()

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HBox([self.source, self.reload_button, self._error_line("source")]),
            self._beside(self.where, "where"),
            w.HTML("mapping: store column → CRM field"),
            self._beside(self._mapping, "mapping"),
            self._beside(self.key, "key"),
            self.mode,
            self.dry_run,
            self.only_changed,
            self.skip_nulls,
        ]

    def _key_changed(self) -> None:
        """Only keyed rows can be compared with the CRM: no key, no "only rows that differ"."""
        keyed = self.key.value != NO_KEY
        self.only_changed.disabled = not keyed
        if not keyed:
            self.only_changed.value = False

    def _fill(self) -> None:
        schema = self.schema
        writable = (
            sorted(n for n, f in schema.fields.items() if f.createable or f.updateable)
            if schema
            else []
        )
        by_lower = {name.lower(): name for name in writable}
        self.mapping = {}
        rows = []
        columns = self._columns()
        for column in columns:
            choice = w.Dropdown(
                options=[NOT_SENT, *writable],
                value=by_lower.get(column.lower(), NOT_SENT),
                layout=w.Layout(width="260px"),
            )
            choice.observe(lambda _: self.recheck(), names="value")
            self.mapping[column] = choice
            rows.append(w.HBox([w.Label(column, layout=w.Layout(width="200px")), choice]))
        self._mapping.children = tuple(rows)
        self.key.options = [NO_KEY, *columns]
        self.key.value = NO_KEY

    def map(self, mapping: dict[str, str | None]) -> None:
        """Send these columns to these fields (None: not sent); other columns keep theirs.

        Raises:
            ConfigError: a column the table does not have, or a field that cannot be written.
        """
        for column, field in mapping.items():
            if column not in self.mapping:
                raise ConfigError(f"the table has no column {column!r}")
            target = NOT_SENT if field is None else field
            if target not in self.mapping[column].options:
                raise ConfigError(f"{field!r} is not a writable field of {self._schema().name}")
            self.mapping[column].value = target

    def spec(self) -> ExportSpec:
        """The :class:`~crmframes.ExportSpec` the controls describe.

        Raises:
            ConfigError: no object or table, or nothing mapped.
            ValueError: the spec does not validate (pydantic says where).
        """
        schema = self._schema()
        source = self._source("choose the store table to export")
        mapping = {c: str(d.value) for c, d in self.mapping.items() if d.value != NOT_SENT}
        key = None if self.key.value == NO_KEY else str(self.key.value)
        if key is not None and key not in mapping:
            raise FieldProblem("key", f"the key column {key!r} must be mapped to a CRM field")
        if not mapping:
            raise FieldProblem("mapping", "map at least one column to a CRM field")
        return ExportSpec.model_validate(
            {
                "object": schema.name,
                "source": source,
                "mapping": mapping,
                "key": key,
                "mode": self.mode.value,
                "dry_run": bool(self.dry_run.value),
                "only_changed": bool(self.only_changed.value),
                "skip_nulls": bool(self.skip_nulls.value),
            }
        )


class DeleteForm(TableForm):
    """Delete in the CRM the records whose ids a store table holds; a dry run by default.

    Args:
        conn: an open connector.
        store: the campaign store holding the ids.
        object: the CRM object to start with.
        table: the store table to start with.
    """

    title = "Delete in the CRM"
    where_hint = '"crmDeletedDate" IS NULL'
    dry_run_label = "dry run (count, delete nothing)"

    def __init__(
        self,
        conn: Connector,
        store: CampaignStore,
        *,
        object: str | None = None,
        table: str | None = None,
    ) -> None:
        self.key = w.Dropdown(options=[], description="id column", style=LABELS)
        self.mode = w.Dropdown(
            options=choices(DeleteSpec, "mode"),
            value=default(DeleteSpec, "mode"),
            description="write mode",
            style=LABELS,
        )
        super().__init__(conn, store, object, table)
        self._watch(self.key)

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HBox([self.source, self.reload_button, self._error_line("source")]),
            self._beside(self.where, "where"),
            self._beside(self.key, "key"),
            self.mode,
            self.dry_run,
        ]

    def _fill(self) -> None:
        columns = self._columns()
        self.key.options = columns
        id_field = self.schema.id_field if self.schema else None
        by_lower = {column.lower(): column for column in columns}
        self.key.value = by_lower.get(id_field.lower()) if id_field else None

    def spec(self) -> DeleteSpec:
        """The :class:`~crmframes.DeleteSpec` the controls describe.

        Raises:
            ConfigError: no object, table or id column.
        """
        schema = self._schema()
        missing = "choose the store table and its column of CRM ids"
        source = self._source(missing)
        if self.key.value is None:
            raise FieldProblem("key", "choose the column that holds the CRM ids")
        return DeleteSpec.model_validate(
            {
                "object": schema.name,
                "source": source,
                "key": str(self.key.value),
                "mode": self.mode.value,
            }
        )
