"""The import form's field list: tick fields, pick a conversion, search, select all or none.

Presentation. An object may have hundreds of fields: a search box narrows the list (by
name, label or kind), **all** / **none** tick or untick the fields shown, and a summary
line says what is ticked. A date or datetime field has a conversion menu beside its box.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import get_args

import ipywidgets as w

from crmframes import display
from crmframes.schema import Field
from crmframes.specs.fields import Conversion

__all__ = ["CONVERSIONS", "FieldList"]

CONVERSIONS: tuple[str, ...] = get_args(Conversion)
_ROW = 30  # px: rows keep this height, and the box shows whole rows only
_SHOWN = 10  # rows visible before the list scrolls
_NAMED = 4  # ticked fields named in the summary before "and N more"


class FieldList:
    """Checkboxes (with a conversion each) for an object's fields.

    Args:
        changed: called after the ticks change (the form re-checks its errors, say).
    """

    def __init__(self, changed: Callable[[], None] = lambda: None) -> None:
        self.picks: dict[str, tuple[w.Checkbox, w.Dropdown]] = {}
        self._fields: dict[str, Field] = {}
        self._rows: dict[str, w.HBox] = {}
        self._changed = changed
        self.search = w.Text(placeholder="search fields", layout=w.Layout(width="220px"))
        self.search.observe(lambda change: self.find(str(change["new"])), names="value")
        everything = w.Button(description="all", tooltip="tick the fields shown")
        nothing = w.Button(description="none", tooltip="untick the fields shown")
        for button in (everything, nothing):
            button.layout = w.Layout(width="60px")
        everything.on_click(lambda _: self.select_all())
        nothing.on_click(lambda _: self.select_none())
        self.summary = w.HTML()
        self._grid = w.GridBox(
            layout=w.Layout(
                grid_template_columns="repeat(auto-fill, 430px)",
                grid_auto_rows=f"{_ROW}px",
                max_height=f"{_ROW * _SHOWN}px",
                overflow="auto",
            )
        )
        self.widget = w.VBox([w.HBox([self.search, everything, nothing, self.summary]), self._grid])

    def set_fields(self, fields: Mapping[str, Field]) -> None:
        """Offer these fields, none ticked, the search cleared."""
        self._fields = dict(fields)
        self.picks, self._rows = {}, {}
        for name, f in fields.items():
            tick = w.Checkbox(
                description=f"{name} ({f.kind})", indent=False, layout=w.Layout(width="300px")
            )
            tick.observe(lambda _: self._ticked(), names="value")
            shown = "visible" if f.kind in ("date", "datetime") else "hidden"
            conversion = w.Dropdown(
                options=CONVERSIONS,
                value="default",
                layout=w.Layout(width="110px", visibility=shown),
            )
            conversion.observe(lambda _: self._ticked(), names="value")
            self.picks[name] = (tick, conversion)
            self._rows[name] = w.HBox([tick, conversion])
        self.search.value = ""
        self.find("")
        self._ticked()

    def find(self, text: str) -> list[str]:
        """Show only the fields whose name, label or kind holds ``text``; return their names."""
        words = text.lower().split()
        shown = [
            name
            for name, f in self._fields.items()
            if all(word in f"{name} {f.label} {f.kind}".lower() for word in words)
        ]
        self._grid.children = tuple(self._rows[name] for name in shown)
        return shown

    def shown(self) -> list[str]:
        """The fields the list shows now (all of them, or those the search found)."""
        rows = set(map(id, self._grid.children))
        return [name for name, row in self._rows.items() if id(row) in rows]

    def select_all(self) -> None:
        """Tick every field shown."""
        self._tick(self.shown(), True)

    def select_none(self) -> None:
        """Untick every field shown."""
        self._tick(self.shown(), False)

    def ticked(self) -> list[str]:
        """The ticked fields, in the object's order."""
        return [name for name, (tick, _) in self.picks.items() if tick.value]

    def describe(self) -> str:
        """Say what is ticked: ``2 of 40 fields: lastname, birthdate (date_only)``."""
        ticked = self.ticked()
        if not ticked:
            return "no field ticked: every field is read"
        named = [
            name
            if self.picks[name][1].value == "default"
            else f"{name} ({self.picks[name][1].value})"
            for name in ticked[:_NAMED]
        ]
        more = f" and {len(ticked) - _NAMED} more" if len(ticked) > _NAMED else ""
        return f"{len(ticked)} of {len(self.picks)} fields: {', '.join(named)}{more}"

    def _tick(self, names: list[str], value: bool) -> None:
        for name in names:
            self.picks[name][0].value = value

    def _ticked(self) -> None:
        self.summary.value = f"<span style='color:#555'>{display.escape(self.describe())}</span>"
        self._changed()
