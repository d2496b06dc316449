"""The parts the forms share: filter rows, an order-by list, and typed filter values.

Presentation. :class:`FilterRows` is Campaign's filter editor — rows of field, operator and
value joined by one ``and`` / ``or`` — and turns into the dict form of
:func:`crmframes.filters.from_dict`, each value typed by its field's kind (a number for a
number field, ``{"date": ...}`` for a date). :class:`OrderRows` is the order-by list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import ipywidgets as w

from crmframes.errors import ConfigError
from crmframes.filters import Expr
from crmframes.schema import Field

__all__ = ["OPERATORS", "FilterRows", "OrderRows", "typed_value"]

OPERATORS = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "is_null",
    "not_null",
    "isin",
    "notin",
    "contains",
    "startswith",
    "endswith",
)
_NO_VALUE = ("is_null", "not_null")
_LISTS = ("isin", "notin")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def typed_value(text: str, field: Field) -> Any:
    """Read a value typed in a filter row as its field's kind, for the filter's dict form.

    Raises:
        ConfigError: the text is not a value of that kind (the message says what is).
    """
    value = text.strip()
    try:
        if field.kind == "boolean":
            if value.lower() in _TRUE + _FALSE:
                return value.lower() in _TRUE
            raise ValueError
        if field.kind == "integer":
            return int(value)
        if field.kind == "number":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
        if field.kind == "date":
            return {"date": date.fromisoformat(value).isoformat()}
        if field.kind == "datetime":
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return {"datetime": moment.isoformat()}
    except ValueError:
        expected = {
            "boolean": "true or false",
            "integer": "a whole number",
            "number": "a number",
            "date": "a date such as 2024-01-31",
            "datetime": "a date and time such as 2024-01-31T10:00:00+00:00",
        }[field.kind]
        raise ConfigError(f"{field.name}: {text!r} is not {expected}") from None
    if field.kind == "datetime":
        raise ConfigError(f"{field.name}: {text!r} has no offset; write one, e.g. {value}+00:00")
    return value


class _FilterRow:
    def __init__(self, owner: FilterRows, names: list[str]) -> None:
        self.field = w.Dropdown(options=names, layout=w.Layout(width="220px"))
        self.op = w.Dropdown(options=OPERATORS, value="==", layout=w.Layout(width="110px"))
        self.value = w.Text(placeholder="value (isin: a, b, c)", layout=w.Layout(width="260px"))
        self.remove = w.Button(icon="trash", tooltip="remove", layout=w.Layout(width="40px"))
        self.remove.on_click(lambda _: owner.remove(self))
        self.box = w.HBox([self.field, self.op, self.value, self.remove])

    def condition(self, fields: Mapping[str, Field]) -> dict[str, Any]:
        name, op = str(self.field.value), str(self.op.value)
        if op in _NO_VALUE:
            return {"field": name, "op": op}
        field = fields[name]
        if op in _LISTS:
            parts = [p for p in str(self.value.value).split(",") if p.strip()]
            return {"field": name, "op": op, "values": [typed_value(p, field) for p in parts]}
        return {"field": name, "op": op, "value": typed_value(str(self.value.value), field)}


class FilterRows:
    """Filter rows joined by one operator; :meth:`to_dict` gives the filter's dict form."""

    def __init__(self) -> None:
        self._fields: dict[str, Field] = {}
        self.rows: list[_FilterRow] = []
        self.join = w.ToggleButtons(options=["and", "or"], value="and", description="join")
        self.join.style.button_width = "60px"
        add = w.Button(description="add condition", icon="plus")
        add.on_click(lambda _: self.add())
        self._rows = w.VBox()
        self.widget = w.VBox([w.HBox([self.join, add]), self._rows])

    def set_fields(self, fields: Mapping[str, Field]) -> None:
        """Offer these fields (filterable ones) and clear the rows."""
        self._fields = {name: f for name, f in fields.items() if f.filterable}
        self.rows = []
        self._rows.children = ()

    def add(self, field: str | None = None, op: str = "==", value: Any = "") -> None:
        """Add a row (the first field, ``==`` and no value by default)."""
        if not self._fields:
            raise ConfigError("choose an object first: its fields fill the filter rows")
        row = _FilterRow(self, sorted(self._fields))
        if field is not None:
            if field not in self._fields:
                raise ConfigError(f"{field!r} is not a filterable field of this object")
            row.field.value = field
        row.op.value = op
        row.value.value = _as_text(value)
        self.rows.append(row)
        self._rows.children = tuple(r.box for r in self.rows)

    def remove(self, row: _FilterRow) -> None:
        """Remove a row."""
        self.rows.remove(row)
        self._rows.children = tuple(r.box for r in self.rows)

    def to_dict(self) -> Any:
        """The filter as :func:`~crmframes.filters.from_dict` takes it; None without rows.

        Raises:
            ConfigError: a value does not fit its field.
        """
        conditions = [row.condition(self._fields) for row in self.rows]
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {str(self.join.value): conditions}

    def load(self, where: Expr | None) -> None:
        """Show a filter of one level (conditions joined by one operator) as rows.

        Raises:
            ConfigError: the filter nests ``and`` inside ``or`` (or ``not``): the rows
                cannot show it; edit it in the spec instead.
        """
        self.rows = []
        self._rows.children = ()
        if where is None:
            return
        data = where.to_dict()
        join = next((key for key in ("and", "or") if key in data), None)
        conditions = data[join] if join else [data]
        if any("field" not in c for c in conditions):
            raise ConfigError(
                "this filter nests conditions; the form shows one level: edit it in the spec"
            )
        self.join.value = join or "and"
        for c in conditions:
            self.add(c["field"], c["op"], c.get("values", c.get("value", "")))


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    if isinstance(value, Mapping):  # {"date": ...}, {"datetime": ...}, {"decimal": ...}
        return str(next(iter(value.values())))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class _OrderRow:
    def __init__(self, owner: OrderRows, names: list[str]) -> None:
        self.field = w.Dropdown(options=names, layout=w.Layout(width="220px"))
        self.direction = w.Dropdown(options=["asc", "desc"], layout=w.Layout(width="90px"))
        self.remove = w.Button(icon="trash", tooltip="remove", layout=w.Layout(width="40px"))
        self.remove.on_click(lambda _: owner.remove(self))
        self.box = w.HBox([self.field, self.direction, self.remove])


class OrderRows:
    """The order-by list: fields with a direction, first one first."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self.rows: list[_OrderRow] = []
        add = w.Button(description="add sort field", icon="plus")
        add.on_click(lambda _: self.add())
        self._rows = w.VBox()
        self.widget = w.VBox([add, self._rows])

    def set_fields(self, fields: Mapping[str, Field]) -> None:
        """Offer these fields (sortable ones) and clear the rows."""
        self._names = sorted(name for name, f in fields.items() if f.sortable)
        self.rows = []
        self._rows.children = ()

    def add(self, field: str | None = None, direction: str = "asc") -> None:
        """Add a sort field."""
        if not self._names:
            raise ConfigError("choose an object first: its fields fill the order")
        row = _OrderRow(self, self._names)
        if field is not None:
            if field not in self._names:
                raise ConfigError(f"{field!r} is not a sortable field of this object")
            row.field.value = field
        row.direction.value = direction
        self.rows.append(row)
        self._rows.children = tuple(r.box for r in self.rows)

    def remove(self, row: _OrderRow) -> None:
        """Remove a sort field."""
        self.rows.remove(row)
        self._rows.children = tuple(r.box for r in self.rows)

    def value(self) -> list[tuple[str, str]] | None:
        """The order as ``(field, direction)`` pairs; None without rows."""
        return [(str(r.field.value), str(r.direction.value)) for r in self.rows] or None

    def load(self, order: list[tuple[str, str]] | None) -> None:
        """Show an order as rows."""
        self.rows = []
        self._rows.children = ()
        for name, direction in order or []:
            self.add(name, direction)
