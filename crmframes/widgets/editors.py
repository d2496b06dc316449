"""The parts the forms share: filter rows, an order-by list, and typed filter values.

Presentation. :class:`FilterRows` is Campaign's filter editor — rows of field, operator and
value joined by one ``and`` / ``or`` — and turns into the dict form of
:func:`crmframes.filters.from_dict`, each value typed by its field's kind (a number for a
number field, ``{"date": ...}`` for a date). :class:`OrderRows` is the order-by list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import ipywidgets as w

from crmframes.errors import ConfigError
from crmframes.filters import Expr
from crmframes.schema import Field

__all__ = [
    "OPERATORS",
    "Clicked",
    "FilterRows",
    "OrderRows",
    "first_choice",
    "join_values",
    "split_values",
    "typed_value",
]

Clicked = Callable[[Callable[[], str]], None]
"""How a button runs its action: a form passes the one that shows the text or the error."""

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


def _run(action: Callable[[], str]) -> None:
    action()


def _nothing() -> None:
    pass


def first_choice(names: list[str], preferred: str | None) -> str | None:
    """The field a new row starts on: ``preferred`` if offered, else the first plain field.

    A field whose name starts with ``_`` (a Dataverse lookup value such as
    ``_createdby_value``) is nobody's first choice.

    Examples:
        >>> first_choice(["_createdby_value", "lastname"], None)
        'lastname'
    """
    if preferred in names:
        return preferred
    return next((name for name in names if not name.startswith("_")), names[0] if names else None)


def split_values(text: str) -> list[str]:
    """Split a list typed as ``a, b, "c, d"``: commas part values, double quotes keep one.

    An unquoted value loses the spaces around it; a quoted one keeps everything between
    its quotes (``""`` inside is one ``"``). Empty unquoted values are dropped.

    Examples:
        >>> split_values('Smith, "Doe, John", " Ann ", "6"" tall"')
        ['Smith', 'Doe, John', ' Ann ', '6" tall']

    Raises:
        ConfigError: a quote is not closed.
    """
    values: list[str] = []
    position, length = 0, len(text)
    while position < length:
        while position < length and text[position].isspace():
            position += 1
        if position < length and text[position] == '"':
            chars, position = [], position + 1
            while True:
                if position >= length:
                    raise ConfigError(f"a quote is not closed in {text!r}")
                if text[position] == '"':
                    if text[position + 1 : position + 2] != '"':
                        break
                    position += 1
                chars.append(text[position])
                position += 1
            values.append("".join(chars))
            rest = text.find(",", position + 1)
            if text[position + 1 : length if rest < 0 else rest].strip():
                raise ConfigError(f"put a comma after each quoted value in {text!r}")
        else:
            rest = text.find(",", position)
            value = text[position : length if rest < 0 else rest].strip()
            if value:
                values.append(value)
        if rest < 0:
            break
        position = rest + 1
    return values


def join_values(values: list[str]) -> str:
    """Write values as :func:`split_values` reads them, quoting the ones that need it.

    Examples:
        >>> join_values(["Smith", "Doe, John", " Ann "])
        'Smith, "Doe, John", " Ann "'
    """
    return ", ".join(
        '"' + v.replace('"', '""') + '"'
        if not v or v != v.strip() or "," in v or v.startswith('"')
        else v
        for v in values
    )


def typed_value(text: str, field: Field) -> Any:
    """Read a value typed in a filter row as its field's kind, for the filter's dict form.

    Text is taken as typed (spaces too); other kinds ignore the spaces around the value.

    Raises:
        ConfigError: the text is not a value of that kind (the message says what is).
    """
    if field.kind not in ("boolean", "integer", "number", "date", "datetime"):
        return text
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
    raise ConfigError(f"{field.name}: {text!r} has no offset; write one, e.g. {value}+00:00")


class _FilterRow:
    def __init__(self, owner: FilterRows, names: list[str]) -> None:
        self.field = w.Dropdown(options=names, layout=w.Layout(width="220px"))
        self.op = w.Dropdown(options=OPERATORS, value="==", layout=w.Layout(width="110px"))
        self.value = w.Text(
            placeholder='value (isin: a, b, "c, d")', layout=w.Layout(width="260px")
        )
        self.remove = w.Button(icon="trash", tooltip="remove", layout=w.Layout(width="40px"))
        self.remove.on_click(lambda _: owner.remove(self))
        for control in (self.field, self.op, self.value):
            control.observe(lambda _: owner.changed(), names="value")
        self.box = w.HBox([self.field, self.op, self.value, self.remove])

    def condition(self, fields: Mapping[str, Field]) -> dict[str, Any]:
        name, op = str(self.field.value), str(self.op.value)
        if op in _NO_VALUE:
            return {"field": name, "op": op}
        field = fields[name]
        if op in _LISTS:
            parts = split_values(str(self.value.value))
            return {"field": name, "op": op, "values": [typed_value(p, field) for p in parts]}
        return {"field": name, "op": op, "value": typed_value(str(self.value.value), field)}


class FilterRows:
    """Filter rows joined by one operator; :meth:`to_dict` gives the filter's dict form.

    Args:
        clicked: runs the add button's action (a form shows its error instead of raising).
        changed: called after a row is added, removed or edited.
    """

    def __init__(self, clicked: Clicked = _run, changed: Callable[[], None] = _nothing) -> None:
        self._fields: dict[str, Field] = {}
        self.default: str | None = None
        self.changed = changed
        self.rows: list[_FilterRow] = []
        self.join = w.ToggleButtons(options=["and", "or"], value="and", description="join")
        self.join.style.button_width = "60px"
        add = w.Button(description="add condition", icon="plus")
        add.on_click(lambda _: clicked(self._clicked_add))
        self._rows = w.VBox()
        self.widget = w.VBox([w.HBox([self.join, add]), self._rows])

    def _clicked_add(self) -> str:
        self.add()
        return ""

    def set_fields(self, fields: Mapping[str, Field], default: str | None = None) -> None:
        """Offer these fields (filterable ones), a new row starting on ``default``; clear the rows."""
        self._fields = {name: f for name, f in fields.items() if f.filterable}
        self.default = first_choice(sorted(self._fields), default)
        self.rows = []
        self._rows.children = ()
        self.join.value = "and"

    def add(self, field: str | None = None, op: str = "==", value: Any = "") -> None:
        """Add a row (the default field, ``==`` and no value unless given)."""
        if not self._fields:
            raise ConfigError("choose an object first: its fields fill the filter rows")
        if field is not None and field not in self._fields:
            raise ConfigError(f"{field!r} is not a filterable field of this object")
        row = _FilterRow(self, sorted(self._fields))
        row.field.value = field if field is not None else self.default
        row.op.value = op
        row.value.value = _as_text(value)
        self.rows.append(row)
        self._rows.children = tuple(r.box for r in self.rows)
        self.changed()

    def remove(self, row: _FilterRow) -> None:
        """Remove a row."""
        self.rows.remove(row)
        self._rows.children = tuple(r.box for r in self.rows)
        self.changed()

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
        return join_values([_as_text(v) for v in value])
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
    """The order-by list: fields with a direction, first one first.

    Args:
        clicked: runs the add button's action (a form shows its error instead of raising).
    """

    def __init__(self, clicked: Clicked = _run) -> None:
        self._names: list[str] = []
        self.default: str | None = None
        self.rows: list[_OrderRow] = []
        add = w.Button(description="add sort field", icon="plus")
        add.on_click(lambda _: clicked(self._clicked_add))
        self._rows = w.VBox()
        self.widget = w.VBox([add, self._rows])

    def _clicked_add(self) -> str:
        self.add()
        return ""

    def set_fields(self, fields: Mapping[str, Field], default: str | None = None) -> None:
        """Offer these fields (sortable ones), a new row starting on ``default``; clear the rows."""
        self._names = sorted(name for name, f in fields.items() if f.sortable)
        self.default = first_choice(self._names, default)
        self.rows = []
        self._rows.children = ()

    def add(self, field: str | None = None, direction: str = "asc") -> None:
        """Add a sort field (the default field unless given)."""
        if not self._names:
            raise ConfigError("choose an object first: its fields fill the order")
        if field is not None and field not in self._names:
            raise ConfigError(f"{field!r} is not a sortable field of this object")
        row = _OrderRow(self, self._names)
        row.field.value = field if field is not None else self.default
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
