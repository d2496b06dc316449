"""What every form shares: the object list, errors beside controls, the buttons, the run panel.

Presentation. A form is built on an open connector and campaign store. Its controls build
the same spec a job file holds; **Show spec** prints that spec as YAML (paste it into a
job), **Run** hands it to :func:`crmframes.runner.run_step` — the step runs exactly as
``crmframes run`` would run it — and shows the outcome in tabs (:mod:`.outcome`). Every
button is a method, so a form can be driven from code and tested without a browser. A
click's text goes to the form's output area (and :attr:`~_Form.message`); its error goes
beside the control it concerns, in red, and is never raised out of a click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import ipywidgets as w
from IPython.display import display

from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError, CrmframesError
from crmframes.progress import watching
from crmframes.runner import JobReport, run_step
from crmframes.runner.summary import label
from crmframes.schema import ObjectSchema
from crmframes.store import CampaignStore
from crmframes.widgets.messages import FieldProblem, Problem, error_html, problems_of
from crmframes.widgets.outcome import RunPanel

__all__ = [
    "LABELS",
    "NOT_SENT",
    "NO_KEY",
    "NO_TABLE",
    "TICK",
    "WIDE",
    "Form",
    "list_layout",
    "name_field",
]

_NAMES = ("name", "fullname", "lastname", "subject", "title")  # a record's name, most likely
NOT_SENT = "(not sent)"
NO_KEY = "(none: insert)"
NO_TABLE = "(none: only count)"
WIDE = w.Layout(width="420px")
LABELS = {"description_width": "140px"}
TICK: dict[str, Any] = {"indent": False, "layout": w.Layout(width="420px")}


def list_layout(column: int) -> w.Layout:
    """A scrolling grid of rows that shows whole rows (fixed height, ten rows before scrolling)."""
    return w.Layout(
        grid_template_columns=f"repeat(auto-fill, {column}px)",
        grid_auto_rows="32px",
        max_height="320px",
        overflow="auto",
    )


def name_field(schema: ObjectSchema | None) -> str | None:
    """The field that names a record (``Name``, ``fullname``, ``LastName`` ...), if any."""
    if schema is None:
        return None
    by_lower = {name.lower(): name for name in schema.fields}
    return next((by_lower[n] for n in _NAMES if n in by_lower), schema.modified_field)


class Form:
    """What every form shares: the object list, errors beside controls, buttons, the run panel.

    ``widget`` is the whole form. ``paths`` maps a spec path that an error names to the
    control it concerns (by default the path's last part, when the form has an error line
    of that name).
    """

    title = ""
    paths: ClassVar[dict[str, str]] = {}
    _quiet = False  # True while a list is refreshed, so its reset value is not a choice

    def __init__(self, conn: Connector, store: CampaignStore, object_name: str | None) -> None:
        self.conn = conn
        self.store = store
        self.schema: ObjectSchema | None = None
        self.report: JobReport | None = None
        self.result: Any = None
        self.message = ""  # what the output area shows after the last click
        self.errors: dict[str, str] = {}  # control name ("" for the form) -> its error
        self._error_lines: dict[str, w.HTML] = {"": w.HTML()}
        self.object = w.Dropdown(
            options=conn.objects(), value=None, description="CRM object", style=LABELS
        )
        self.output = w.Output()
        self.panel = RunPanel()
        show = w.Button(description="Show spec", icon="file-text")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        show.on_click(lambda _: self._shown(lambda: self.spec().to_yaml().rstrip()))
        self.run_button.on_click(lambda _: self._shown(self._clicked_run))
        self.panel.save.on_click(lambda _: self._shown(self._clicked_save))
        self.buttons = w.HBox([show, self.run_button])
        self.object.observe(lambda change: self._chose(change["new"]), names="value")
        self._build()  # now: its error lines say which controls an error can stand beside
        if object_name is not None:
            self.object.value = self._known_object(object_name)

    def _clicked_run(self) -> str:
        self.run()
        return ""  # the panel's tabs show the outcome

    def _clicked_save(self) -> str:
        return f"rejects saved to {self.panel.save_rejects()}"

    def _beside(self, control: w.Widget, name: str) -> w.HBox:
        """``control`` with its error line (red, empty until a click finds a problem)."""
        return w.HBox([control, self._error_line(name)])

    def _error_line(self, name: str) -> w.HTML:
        return self._error_lines.setdefault(name, w.HTML())

    def _watch(self, *controls: w.Widget) -> None:
        """Re-check the form when these controls change, so a fixed error goes away."""
        for control in controls:
            control.observe(lambda _: self.recheck(), names="value")

    def recheck(self) -> None:
        """Check the spec again while errors show: each error stays only while it holds."""
        if not self.errors or self._quiet:
            return
        try:
            self.spec()
        except (CrmframesError, ValueError) as exc:
            self._show_problems(problems_of(exc))
            return
        self._show_problems([])
        self.output.outputs = ()
        self.message = ""

    def _control_of(self, path: str | None) -> str:
        if path is None:
            return ""
        name = self.paths.get(path, path.rsplit(".", 1)[-1])
        return name if name in self._error_lines else ""

    def _show_problems(self, problems: Sequence[Problem]) -> None:
        errors: dict[str, str] = {}
        for path, text in problems:
            control = self._control_of(path)
            said = text if control or path is None else f"{path}: {text}"
            errors[control] = f"{errors[control]}; {said}" if control in errors else said
        self.errors = errors
        for name, line in self._error_lines.items():
            line.value = error_html(errors.get(name, ""))

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
        """Do what a button does; put its text in the output area, its errors beside controls.

        An error's plain words (pydantic's boilerplate left out) go beside the control it
        concerns, in red; one that concerns no control goes under the form's title.
        """
        try:
            text = action()
            self._show_problems([])
        except (CrmframesError, ValueError) as exc:  # pydantic's errors are ValueErrors
            problems = problems_of(exc)
            self._show_problems([(self._where(exc) or path, said) for path, said in problems])
            named = not isinstance(exc, FieldProblem)  # a spec's path says what it concerns
            text = "error: " + "; ".join(
                f"{path}: {said}" if path and named else said for path, said in problems
            )
        self.message = text
        self.output.outputs = ()
        if text:
            self.output.append_stdout(text + "\n")

    def _where(self, exc: BaseException) -> str | None:
        """The control a run's error concerns when its type says so (a table form's SQL)."""
        return None

    def _ipython_display_(self) -> None:
        display(self.widget)  # type: ignore[no-untyped-call]

    def _build(self) -> None:
        """Lay the whole form out in :attr:`widget` (displaying the form displays it)."""
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{self.title}</b>"),
                self._error_line(""),
                *self._controls(),
                self.buttons,
                self.output,
                self.panel.widget,
            ]
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
        self.panel.clear()
        spec = self.spec()
        self.run_button.disabled = True  # one run at a time; the bar shows this one
        self.panel.start(f"running {label(spec)}")
        try:
            with watching(self.panel.progressed, quiet=True):  # the form's bar, not a cell's
                self.report, self.result = run_step(
                    spec,
                    self.conn,
                    store=self.store,
                    dry_run=self._dry_run(),
                    progress=True,
                    status=self.panel.step_status(),
                )
        except CrmframesError as exc:
            self.panel.failed(problems_of(exc)[0][1])
            raise
        finally:
            self.run_button.disabled = False
        self.panel.finish(self.report, self.result, object_name=spec.object)
        self._ran()
        return self.report, self.result

    def _ran(self) -> None:
        """Refresh what a run changes (the watermark line)."""

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
