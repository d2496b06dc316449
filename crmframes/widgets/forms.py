"""The import and export forms: pick, check, see the spec, run it.

Presentation. A form is built on an open connector and campaign store. Its controls build
the same spec a job file holds; **Show spec** prints that spec as YAML (paste it into a
job), **Run** hands it to :func:`crmframes.runner.run_step` — the step runs exactly as
``crmframes run`` would run it — and prints the step's report. Every button is a method
(:meth:`~ImportForm.spec`, :meth:`~ImportForm.run`, :meth:`~ImportForm.load`), so a form
can be driven from code and tested without a browser. A click's text, or its error, goes
to the form's output area (and :attr:`message`); an error is never raised out of a click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, get_args

import ipywidgets as w
from IPython.display import display

from crmframes.errors import ConfigError, CrmframesError
from crmframes.runner import JobReport, run_step
from crmframes.schema import Field, ObjectSchema
from crmframes.specs import AutoIndexSpec, DeletedSpec, DeleteSpec, ExportSpec, ImportSpec, Source
from crmframes.specs.fields import Conversion
from crmframes.store import CampaignStore
from crmframes.widgets.editors import FilterRows, OrderRows

__all__ = ["DeleteForm", "DeletedForm", "ExportForm", "ImportForm"]

CONVERSIONS: tuple[str, ...] = get_args(Conversion)
NOT_SENT = "(not sent)"
NO_KEY = "(none: insert)"
NO_TABLE = "(none: only count)"
_WIDE = w.Layout(width="420px")
_LABELS = {"description_width": "140px"}
_TICK: dict[str, Any] = {"indent": False, "layout": w.Layout(width="420px")}


def _list_layout(column: int) -> w.Layout:
    """A scrolling grid of rows (grid rows keep their height where a VBox squashes them)."""
    return w.Layout(
        grid_template_columns=f"repeat(auto-fill, {column}px)", max_height="300px", overflow="auto"
    )


class _Form:
    """What both forms share: the object list, the output area and the two buttons."""

    title = ""
    _quiet = False  # True while a list is refreshed, so its reset value is not a choice

    def __init__(self, conn: Any, store: CampaignStore, object_name: str | None) -> None:
        self.conn = conn
        self.store = store
        self.schema: ObjectSchema | None = None
        self.report: JobReport | None = None
        self.result: Any = None
        self.message = ""  # what the output area shows after the last click
        self.object = w.Dropdown(
            options=conn.objects(), value=None, description="CRM object", style=_LABELS
        )
        self.output = w.Output()
        show = w.Button(description="Show spec", icon="file-text")
        run = w.Button(description="Run", icon="play", button_style="primary")
        show.on_click(lambda _: self._shown(lambda: self.spec().to_yaml().rstrip()))
        run.on_click(lambda _: self._shown(lambda: str(self.run()[0])))
        self.buttons = w.HBox([show, run])
        self.object.observe(lambda change: self._chose(change["new"]), names="value")
        if object_name is not None:
            self.object.value = self._known_object(object_name)

    def _known_object(self, name: str) -> str:
        for option in self.object.options:
            if str(option).lower() == name.lower():
                return str(option)
        raise ConfigError(f"the CRM has no object {name!r}")

    def _chose(self, name: str | None) -> None:
        """A new object: its fields fill the controls (a failed describe shows its error)."""
        self.schema = None

        def describe() -> str:
            self.schema = None if name is None else self.conn.describe(name)
            return ""

        self._shown(describe)
        self._refresh()
        self._fill()

    def _refresh(self) -> None:
        """Reload the lists that come from the store (tables made since the form was built)."""

    def _fill(self) -> None:
        raise NotImplementedError

    def _schema(self) -> ObjectSchema:
        if self.schema is None:
            raise ConfigError("choose a CRM object first")
        return self.schema

    def _shown(self, action: Callable[[], str]) -> None:
        """Do what a button does; put its text, or its error, in the output area."""
        try:
            text = action()
        except (CrmframesError, ValueError) as exc:  # pydantic's errors are ValueErrors
            text = f"error: {' '.join(str(exc).split())}"
        self.message = text
        self.output.outputs = ()
        if text:
            self.output.append_stdout(text + "\n")

    def _ipython_display_(self) -> None:
        display(self.widget)  # type: ignore[no-untyped-call]

    @cached_property
    def widget(self) -> w.Widget:
        """The whole form (displaying the form displays this)."""
        return w.VBox(
            [w.HTML(f"<b>{self.title}</b>"), *self._controls(), self.buttons, self.output]
        )

    def _controls(self) -> list[w.Widget]:
        raise NotImplementedError

    def spec(self) -> Any:
        """The spec the controls describe."""
        raise NotImplementedError

    def run(self) -> tuple[JobReport, Any]:
        """Run the spec as one job step; return its report and the operation's result.

        Raises:
            CrmframesError: the step failed.
        """
        self.report, self.result = None, None  # a failed run leaves no older run's results
        spec = self.spec()
        self.report, self.result = run_step(
            spec, self.conn, store=self.store, dry_run=self._dry_run()
        )
        return self.report, self.result

    def _dry_run(self) -> bool:
        """Whether Run only counts or simulates (the forms with a dry-run check box)."""
        return False

    def _offer_tables(self, dropdown: w.Dropdown, first: Sequence[str] = ()) -> None:
        """List the store's tables (now) in ``dropdown``, keeping its choice if still there."""
        options = [*first, *self.store.tables()]
        if list(dropdown.options) == options:
            return
        current = dropdown.value
        self._quiet = True  # a new option list resets the value: not a user's choice
        try:
            dropdown.options = options
            dropdown.value = current if current in options else (first[0] if first else None)
        finally:
            self._quiet = False
        if dropdown.value != current:
            self._fill()


class ImportForm(_Form):
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

    def __init__(self, conn: Any, store: CampaignStore, *, object: str | None = None) -> None:
        self.picks: dict[str, tuple[w.Checkbox, w.Dropdown]] = {}
        self._fields = w.GridBox(layout=_list_layout(430))
        self.filter = FilterRows(clicked=self._shown)
        self.order = OrderRows(clicked=self._shown)
        self._order: list[str] = []  # the picked fields' order, as pick() or load() gave it
        self.auto_index = w.Checkbox(
            description="automatic index (only what changed)",
            indent=False,
            layout=w.Layout(width="300px"),
        )
        self.activity = w.Text(description="activity", style=_LABELS, layout=_WIDE)
        self.instance = w.Text(
            value="default", description="instance (account)", style=_LABELS, layout=_WIDE
        )
        self.index_fields = w.Text(
            description="index fields",
            placeholder="the CRM's last-modified field",
            style=_LABELS,
            layout=_WIDE,
        )
        self.strict = w.Checkbox(
            description="strict filter (numbers and null checks only)", **_TICK
        )
        self.timezone = w.Text(
            value="UTC", description="time zone", style=_LABELS, layout=_WIDE
        )  # of default datetimes and of date_only days
        self.mode = w.Dropdown(
            options=["auto", "rest", "bulk"], description="read mode", style=_LABELS
        )
        self.limit = w.BoundedIntText(
            value=0, min=0, max=10**9, description="limit (0: none)", style=_LABELS
        )
        self.table = w.Text(description="store table", style=_LABELS, layout=_WIDE)
        super().__init__(conn, store, object)

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HTML("fields (none ticked: every field; the id and last-modified are always read)"),
            self._fields,
            w.HTML("filter"),
            self.filter.widget,
            self.strict,
            w.HTML("order by"),
            self.order.widget,
            w.HBox([self.auto_index, self.activity]),
            self.instance,
            self.index_fields,
            self.timezone,
            self.mode,
            self.limit,
            self.table,
        ]

    def _fill(self) -> None:
        schema = self.schema
        fields: dict[str, Field] = dict(schema.fields) if schema else {}
        self.picks = {}
        rows = []
        for name, f in fields.items():
            tick = w.Checkbox(
                description=f"{name} ({f.kind})", indent=False, layout=w.Layout(width="300px")
            )
            shown = "visible" if f.kind in ("date", "datetime") else "hidden"
            conversion = w.Dropdown(
                options=CONVERSIONS,
                value="default",
                layout=w.Layout(width="110px", visibility=shown),
            )
            self.picks[name] = (tick, conversion)
            rows.append(w.HBox([tick, conversion]))
        self._fields.children = tuple(rows)
        self._order = []
        self.filter.set_fields(fields)
        self.order.set_fields(fields)
        name = schema.name if schema else ""
        self.table.value = name
        self.activity.value = f"import_{name.lower()}" if name else ""

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
            ValueError: the spec does not validate (pydantic says where).
        """
        schema = self._schema()
        ticked = [name for name, (tick, _) in self.picks.items() if tick.value]
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
                "instance": str(self.instance.value).strip() or "default",
                "fields": [name for name in named if name] or None,
            }
        return ImportSpec.model_validate(
            {
                "object": schema.name,
                "fields": fields or None,
                "where": self.filter.to_dict(),
                "order_by": self.order.value(),
                "auto_index": index,
                "timezone": str(self.timezone.value).strip() or "UTC",
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


class _TableForm(_Form):
    """A form whose rows come from a store table (export, delete): the table and a condition."""

    where_hint = ""
    dry_run_label = ""

    def __init__(
        self, conn: Any, store: CampaignStore, object_name: str | None, table: str | None
    ) -> None:
        self.source = w.Dropdown(
            options=store.tables(), value=None, description="store table", style=_LABELS
        )
        self._reload = w.Button(
            icon="refresh", tooltip="list the store's tables again", layout=w.Layout(width="40px")
        )
        self._reload.on_click(lambda _: self._shown(self._reloaded))
        self.dry_run = w.Checkbox(value=True, description=self.dry_run_label, **_TICK)
        self.where = w.Text(
            description="rows where (SQL)",
            placeholder=self.where_hint,
            style=_LABELS,
            layout=_WIDE,
        )
        self.source.observe(self._chose_table, names="value")
        super().__init__(conn, store, object_name)
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
            raise ConfigError(missing)
        where = str(self.where.value).strip() or None
        return Source(table=str(self.source.value), where=where)


class ExportForm(_TableForm):
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
        conn: Any,
        store: CampaignStore,
        *,
        object: str | None = None,
        table: str | None = None,
    ) -> None:
        self.mapping: dict[str, w.Dropdown] = {}
        self._mapping = w.GridBox(layout=_list_layout(480))
        self.key = w.Dropdown(options=[NO_KEY], description="key", style=_LABELS)
        self.mode = w.Dropdown(
            options=["auto", "batch", "bulk"], description="write mode", style=_LABELS
        )
        self.only_changed = w.Checkbox(description="only rows that differ from the CRM", **_TICK)
        self.skip_nulls = w.Checkbox(
            description="leave a field unchanged where the value is null", **_TICK
        )
        super().__init__(conn, store, object, table)

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HBox([self.source, self._reload]),
            self.where,
            w.HTML("mapping: store column → CRM field"),
            self._mapping,
            self.key,
            self.mode,
            self.dry_run,
            self.only_changed,
            self.skip_nulls,
        ]

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
            raise ConfigError(f"the key column {key!r} must be mapped to a CRM field")
        if not mapping:
            raise ConfigError("map at least one column to a CRM field")
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


class DeleteForm(_TableForm):
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
        conn: Any,
        store: CampaignStore,
        *,
        object: str | None = None,
        table: str | None = None,
    ) -> None:
        self.key = w.Dropdown(options=[], description="id column", style=_LABELS)
        self.mode = w.Dropdown(
            options=["batch", "bulk", "auto"], description="write mode", style=_LABELS
        )
        super().__init__(conn, store, object, table)

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            w.HBox([self.source, self._reload]),
            self.where,
            self.key,
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
            raise ConfigError(missing)
        return DeleteSpec.model_validate(
            {
                "object": schema.name,
                "source": source,
                "key": str(self.key.value),
                "mode": self.mode.value,
            }
        )


class DeletedForm(_Form):
    """Import the records deleted in the CRM over a window and apply them to a store table.

    Args:
        conn: an open connector.
        store: the campaign store.
        object: the CRM object to start with.
    """

    title = "Import records deleted in the CRM"

    def __init__(self, conn: Any, store: CampaignStore, *, object: str | None = None) -> None:
        self.lookback = w.Text(
            value="7d", description="since (lookback)", style=_LABELS, layout=_WIDE
        )
        self.auto_index = w.Checkbox(
            description="automatic index (continue from the last run)", **_TICK
        )
        self.activity = w.Text(description="activity", style=_LABELS, layout=_WIDE)
        self.table = w.Dropdown(
            options=[NO_TABLE, *store.tables()], description="apply to", style=_LABELS
        )
        self.apply = w.ToggleButtons(
            options=["soft", "hard"],
            description="apply as",
            tooltips=["stamp crmDeletedDate and keep the row", "remove the row"],
            style=_LABELS,
        )
        super().__init__(conn, store, object)

    def _controls(self) -> list[w.Widget]:
        return [
            self.object,
            self.lookback,
            w.HBox([self.auto_index, self.activity]),
            self.table,
            self.apply,
        ]

    def _refresh(self) -> None:
        self._offer_tables(self.table, [NO_TABLE])

    def _fill(self) -> None:
        name = self.schema.name if self.schema else ""
        self.activity.value = f"deleted_{name.lower()}" if name else ""
        tables = {str(table).lower(): table for table in self.table.options}
        self.table.value = tables.get(name.lower(), NO_TABLE)

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
