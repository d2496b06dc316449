"""The import forms: what the CRM holds, and what it deleted, into the campaign store.

Presentation. :class:`ImportForm` picks an object's fields (with their conversions), a
filter, an order and the automatic index; :class:`DeletedForm` imports the records the
CRM deleted over a window and applies them to a store table. Both are :class:`~.base.Form`
subclasses: **Show spec**, **Run**, errors beside their controls, result tabs. The export
and delete forms are in :mod:`.tableforms`.
"""

from __future__ import annotations

from typing import ClassVar

import ipywidgets as w

from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError
from crmframes.schema import Field
from crmframes.specs import AutoIndexSpec, DeletedSpec, ImportSpec
from crmframes.specs.calls import choices, default
from crmframes.store import CampaignStore
from crmframes.widgets.base import LABELS, NO_TABLE, TICK, WIDE, Form, name_field
from crmframes.widgets.editors import FilterRows, OrderRows
from crmframes.widgets.fieldlist import FieldList
from crmframes.widgets.messages import about
from crmframes.widgets.tableforms import DeleteForm, ExportForm
from crmframes.widgets.watermark import Watermark

__all__ = ["DeleteForm", "DeletedForm", "ExportForm", "ImportForm"]


class ImportForm(Form):
    """Import from the CRM into a store table: fields and conversions, filter, order, index.

    Args:
        conn: an open connector.
        store: the campaign store the import merges into.
        object: the object to start with.

    Examples:
        In a notebook cell (show ``form`` to click, or drive it from code)::

            form = ImportForm(sb.connector(), store, object="contact")
            form.pick(["lastname", "emailaddress1"])
            form.filter.add("lastname", "==", "Smith")
            report, result = form.run()  # the spec's step, as a job runs it
    """

    title = "Import from the CRM"
    paths: ClassVar[dict[str, str]] = {
        "where": "filter",
        "order_by": "order",
        "auto_index.fields": "index_fields",
        "auto_index": "activity",
    }

    def __init__(self, conn: Connector, store: CampaignStore, *, object: str | None = None) -> None:
        self.fields = FieldList(changed=lambda: self.recheck())
        self.filter = FilterRows(clicked=self._shown, changed=lambda: self.recheck())
        self.order = OrderRows(clicked=self._shown)
        self._order: list[str] = []  # the picked fields' order, as pick() or load() gave it
        self.auto_index = w.Checkbox(
            description="automatic index (only what changed)",
            indent=False,
            layout=w.Layout(width="300px"),
        )
        self.activity = w.Text(description="activity", style=LABELS, layout=WIDE)
        self.instance = w.Text(
            value=default(AutoIndexSpec, "instance"),
            description="instance (account)",
            style=LABELS,
            layout=WIDE,
        )
        self.index_fields = w.Text(
            description="index fields",
            placeholder="the CRM's last-modified field",
            style=LABELS,
            layout=WIDE,
        )
        self.watermark = Watermark(store)
        self.watermark.reset_button.on_click(lambda _: self._shown(self.reset_watermark))
        self.strict = w.Checkbox(description="strict filter (numbers and null checks only)", **TICK)
        self.timezone = w.Text(
            value=default(ImportSpec, "timezone"),
            description="time zone",
            style=LABELS,
            layout=WIDE,
        )  # of default datetimes and of date_only days
        self.mode = w.Dropdown(
            options=choices(ImportSpec, "mode"),
            value=default(ImportSpec, "mode"),
            description="read mode",
            style=LABELS,
        )
        self.limit = w.BoundedIntText(
            value=0, min=0, max=10**9, description="limit (0: none)", style=LABELS
        )
        self.table = w.Text(description="store table", style=LABELS, layout=WIDE)
        for control in (self.auto_index, self.activity, self.instance):
            control.observe(lambda _: self._index_changed(), names="value")
        self._watch(self.index_fields, self.strict, self.timezone, self.limit, self.table)
        super().__init__(conn, store, object)
        self._index_changed()

    @property
    def picks(self) -> dict[str, tuple[w.Checkbox, w.Dropdown]]:
        """Each field's check box and conversion menu, by name."""
        return self.fields.picks

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HTML("fields (none ticked: every field; the id and last-modified are always read)"),
            self._beside(self.fields.widget, "fields"),
            w.HTML("filter"),
            self._beside(self.filter.widget, "filter"),
            self.strict,
            w.HTML("order by"),
            self._beside(self.order.widget, "order"),
            self.auto_index,
            self._beside(self.activity, "activity"),
            self._beside(self.instance, "instance"),
            self._beside(self.index_fields, "index_fields"),
            self.watermark.widget,
            self._beside(self.timezone, "timezone"),
            self.mode,
            self._beside(self.limit, "limit"),
            self._beside(self.table, "table"),
        ]

    def _index_changed(self) -> None:
        """The automatic index's fields count only while its box is ticked."""
        on = bool(self.auto_index.value)
        for control in (self.activity, self.instance, self.index_fields):
            control.disabled = not on
        self.watermark.show(
            str(self.activity.value).strip(), str(self.instance.value).strip(), on=on
        )
        self.recheck()

    def _ran(self) -> None:
        self._index_changed()

    def reset_watermark(self) -> str:
        """Forget the automatic index's watermark: the next run reads every record."""
        return self.watermark.reset()

    def _fill(self) -> None:
        schema = self.schema
        fields: dict[str, Field] = dict(schema.fields) if schema else {}
        self.fields.set_fields(fields)
        self._order = []
        self.filter.set_fields(fields, default=name_field(schema))
        self.order.set_fields(fields, default=schema.modified_field if schema else None)
        name = schema.name if schema else ""
        self.table.value = name
        self.activity.value = f"import_{name.lower()}" if name else ""
        self.panel.clear()

    def pick(self, fields: list[str] | dict[str, str]) -> None:
        """Tick these fields (only these), with a conversion each when given a dict.

        Raises:
            ConfigError: a field the object does not have.
        """
        wanted = dict.fromkeys(fields, "default") if isinstance(fields, list) else dict(fields)
        unknown = [name for name in wanted if name not in self.picks]
        if unknown:
            raise ConfigError(f"{self._schema().name} has no field {', '.join(map(repr, unknown))}")
        for name, (tick, conversion) in self.picks.items():
            tick.value = name in wanted
            conversion.value = wanted.get(name, "default")
        self._order = list(wanted)

    def spec(self) -> ImportSpec:
        """The :class:`~crmframes.ImportSpec` the controls describe.

        Raises:
            ConfigError: no object, or a filter value that does not fit its field.
            ValueError: the spec does not validate (its message says which field is wrong).
        """
        schema = self._schema()
        ticked = self.fields.ticked()
        first = [name for name in self._order if name in ticked]  # as picked, then the others
        fields = {
            name: str(self.picks[name][1].value)
            for name in [*first, *(name for name in ticked if name not in first)]
        }
        index = None
        if self.auto_index.value:
            named = [part.strip() for part in str(self.index_fields.value).split(",")]
            index = {
                "activity": str(self.activity.value).strip(),
                "instance": str(self.instance.value).strip() or default(AutoIndexSpec, "instance"),
                "fields": [name for name in named if name] or None,
            }
        with about("filter"):
            where = self.filter.to_dict()
        return ImportSpec.model_validate(
            {
                "object": schema.name,
                "fields": fields or None,
                "where": where,
                "order_by": self.order.value(),
                "auto_index": index,
                "timezone": str(self.timezone.value).strip() or default(ImportSpec, "timezone"),
                "mode": self.mode.value,
                "limit": int(self.limit.value) or None,
                "strict": bool(self.strict.value),
                "table": str(self.table.value) or None,
            }
        )

    def load(self, spec: ImportSpec) -> None:
        """Set the controls from a spec (one read from a job file, say).

        Raises:
            ConfigError: the spec has what the form cannot show (a population, a nested
                filter), or names what the CRM does not have.
        """
        if spec.population is not None:
            raise ConfigError("the form has no population; run this spec in a job instead")
        self.object.value = self._known_object(spec.object)
        self.pick(dict(spec.fields or {}))
        self.filter.load(spec.where)
        self.order.load(list(spec.order_by or []))
        self.strict.value = spec.strict
        self.auto_index.value = spec.auto_index is not None
        if spec.auto_index is not None:
            self.activity.value = spec.auto_index.activity
            self.instance.value = spec.auto_index.instance
            self.index_fields.value = ", ".join(spec.auto_index.fields or [])
        self.timezone.value = spec.timezone
        self.mode.value = spec.mode
        self.limit.value = spec.limit or 0
        self.table.value = spec.target


class DeletedForm(Form):
    """Import the records deleted in the CRM over a window and apply them to a store table.

    Args:
        conn: an open connector.
        store: the campaign store.
        object: the CRM object to start with.
    """

    title = "Import records deleted in the CRM"
    paths: ClassVar[dict[str, str]] = {"auto_index": "activity"}

    def __init__(self, conn: Connector, store: CampaignStore, *, object: str | None = None) -> None:
        self.lookback = w.Text(
            value="7d", description="since (lookback)", style=LABELS, layout=WIDE
        )
        self.auto_index = w.Checkbox(
            description="automatic index (continue from the last run)", **TICK
        )
        self.activity = w.Text(description="activity", style=LABELS, layout=WIDE)
        self.table = w.Dropdown(
            options=[NO_TABLE, *store.tables()], description="apply to", style=LABELS
        )
        self.apply = w.ToggleButtons(
            options=choices(DeletedSpec, "apply"),
            value=default(DeletedSpec, "apply"),
            description="apply as",
            tooltips=["stamp crmDeletedDate and keep the row", "remove the row"],
            style=LABELS,
        )
        self.watermark = Watermark(store)
        self.watermark.reset_button.on_click(lambda _: self._shown(self.watermark.reset))
        for control in (self.auto_index, self.activity):
            control.observe(lambda _: self._index_changed(), names="value")
        self.table.observe(lambda _: self._table_changed(), names="value")
        super().__init__(conn, store, object)
        self._watch(self.lookback)
        self._index_changed()
        self._table_changed()

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            self._beside(self.lookback, "lookback"),
            self.auto_index,
            self._beside(self.activity, "activity"),
            self.watermark.widget,
            self.table,
            self.apply,
        ]

    def _index_changed(self) -> None:
        """The activity counts only while the automatic index is on."""
        on = bool(self.auto_index.value)
        self.activity.disabled = not on
        self.watermark.show(str(self.activity.value).strip(), "default", on=on)
        self.recheck()

    def _table_changed(self) -> None:
        """Soft or hard applies to a table: without one, there is nothing to choose."""
        self.apply.disabled = self.table.value == NO_TABLE

    def _ran(self) -> None:
        self._index_changed()

    def _refresh(self) -> None:
        self._offer_tables(self.table, [NO_TABLE])

    def _fill(self) -> None:
        name = self.schema.name if self.schema else ""
        self.activity.value = f"deleted_{name.lower()}" if name else ""
        tables = {str(table).lower(): table for table in self.table.options}
        self.table.value = tables.get(name.lower(), NO_TABLE)
        self.panel.clear()

    def spec(self) -> DeletedSpec:
        """The :class:`~crmframes.DeletedSpec` the controls describe.

        Raises:
            ConfigError: no object.
            ValueError: the spec does not validate (a lookback such as ``7d``, ``12h``).
        """
        schema = self._schema()
        index = AutoIndexSpec(activity=str(self.activity.value)) if self.auto_index.value else None
        return DeletedSpec.model_validate(
            {
                "object": schema.name,
                "lookback": str(self.lookback.value).strip(),
                "auto_index": index,
                "table": None if self.table.value == NO_TABLE else str(self.table.value),
                "apply": self.apply.value,
            }
        )
