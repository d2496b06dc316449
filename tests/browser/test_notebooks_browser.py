"""Every notebook opened in JupyterLab in a real Chromium, run whole, and the import form used.

What a new user sees: a notebook that opens without "Error displaying widget", runs with
Run All to the end without an error or a red stderr box, and a form that answers clicks.
A failure saves a screenshot and names its path. Run with ``pytest -m browser tests/browser``;
see ``conftest.py`` for when these tests skip.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import NOTEBOOKS, Lab

pytestmark = pytest.mark.browser

NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
RUN_TIMEOUT_MS = 180_000
# A button's accessible name starts with its Font Awesome icon's glyph: match the words only.
IMPORTED = re.compile(r"\b(\d[\d,]*) (?:rows? )?imported\b")
RESULT_TIMEOUT_MS = 60_000
RUN = re.compile(r"^\W*Run\s*$")
# What JupyterLab or ipywidgets print when a widget cannot show itself.
WIDGET_ERRORS = ("Error displaying widget", "model not found", "Failed to load model class")

# The current notebook, as JupyterLab's own objects see it (window.jupyterapp).
_PANEL = "window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"() => {_PANEL}?.sessionContext?.session?.kernel?.status === 'idle'"
# Every output of every code cell: its type, stream name and first characters.
_OUTPUTS = f"""() => {{
    const cells = {_PANEL}.content.widgets;
    const found = [];
    cells.forEach((cell, index) => {{
        if (cell.model.type !== 'code') return;
        const outputs = cell.model.outputs;
        for (let i = 0; i < outputs.length; i++) {{
            const out = outputs.get(i).toJSON();
            const text = out.text ?? (out.ename ? out.ename + ': ' + out.evalue : '');
            found.push({{cell: index, type: out.output_type, name: out.name ?? '',
                         text: String(Array.isArray(text) ? text.join('') : text).slice(0, 400)}});
        }}
    }});
    return found;
}}"""
# The code cells holding a widget output that shows no rendered widget (text instead).
_UNRENDERED = f"""() => {{
    const unrendered = [];
    {_PANEL}.content.widgets.forEach((cell, index) => {{
        if (cell.model.type !== 'code') return;
        const outputs = cell.model.outputs;
        let widget = false;
        for (let i = 0; i < outputs.length; i++) {{
            widget ||= 'application/vnd.jupyter.widget-view+json' in (outputs.get(i).data ?? {{}});
        }}
        if (widget && !cell.node.querySelector('.jp-OutputArea-output .jupyter-widgets')) {{
            unrendered.push(index);
        }}
    }});
    return unrendered;
}}"""
WIDGET_WAIT_MS = 15_000
FILTER_ROW = ".widget-hbox:has(> .widget-dropdown):has(> .widget-text):has(> .widget-button)"
_UNRUN = f"""() => {{
    return {_PANEL}.content.widgets
        .map((cell, index) => [index, cell])
        .filter(([i, cell]) => cell.model.type === 'code' && cell.model.sharedModel.source.trim()
                && cell.model.executionCount === null)
        .map(([i]) => i);
}}"""


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    page.goto(lab.notebook_url(name))
    page.wait_for_function("window.jupyterapp !== undefined")
    page.wait_for_function(f"() => {_PANEL}?.context?.path === {name!r}")
    page.wait_for_function(_KERNEL_IDLE, timeout=RUN_TIMEOUT_MS)


@pytest.fixture
def notebook(page: Any, lab: Lab) -> Iterator[Callable[[str], None]]:
    """Open a notebook in the page; its kernel is shut down after the test (sandboxes too)."""

    def open_it(name: str) -> None:
        open_notebook(page, lab, name)

    yield open_it
    page.evaluate(f"async () => {{ await {_PANEL}?.sessionContext?.shutdown(); }}")


def run_command(page: Any, command: str) -> None:
    """Run a JupyterLab command and wait until it is done (for cells: all executed)."""
    page.evaluate(f"async () => {{ await window.jupyterapp.commands.execute({command!r}); }}")
    page.wait_for_function(_KERNEL_IDLE, timeout=RUN_TIMEOUT_MS)


def visible_notebook(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel:visible")


def widget_errors(page: Any) -> list[str]:
    """What is wrong with the widgets shown: error messages, or cells not rendering them."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # widgets render asynchronously, a little after their output; then look
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(f"() => ({_UNRENDERED})().length === 0", timeout=WIDGET_WAIT_MS)
    text = visible_notebook(page).inner_text()
    found = [marker for marker in WIDGET_ERRORS if marker in text]
    return found + [f"cell {index}: no widget rendered" for index in page.evaluate(_UNRENDERED)]


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_opens_and_runs_all_without_errors(page, notebook, name):
    notebook(name)
    assert widget_errors(page) == [], f"{name} opens showing a broken widget"

    run_command(page, "notebook:run-all-cells")

    assert page.evaluate(_UNRUN) == [], f"{name}: Run All stopped before these cells"
    outputs = page.evaluate(_OUTPUTS)
    errors = [o for o in outputs if o["type"] == "error"]
    assert errors == [], f"{name}: cells raised"
    stderr = [o for o in outputs if o["type"] == "stream" and o["name"] == "stderr"]
    assert stderr == [], f"{name}: cells wrote to stderr (JupyterLab shows red boxes)"
    assert widget_errors(page) == [], f"{name}: a widget does not render after Run All"
    assert not visible_notebook(page).locator(".jp-OutputArea-output.jp-mod-error").count()


def form_cell_index(page: Any, form: str) -> int:
    sources = page.evaluate(
        f"() => {_PANEL}.content.widgets.map(cell => cell.model.sharedModel.source)"
    )
    for index, source in enumerate(sources):
        if re.search(rf"\b{form}\(", source):
            return index
    raise AssertionError(f"no cell builds a {form}")


def show_form(page: Any, form_class: str) -> Any:
    """Run the notebook down to where a form of ``form_class`` shows; return its output.

    The cells above run first, as a user reading from the top would; then the cell that
    builds the form and the next ones until one shows a form with a Run button.
    """
    start = form_cell_index(page, form_class)
    page.evaluate(f"() => {{ {_PANEL}.content.activeCellIndex = {start}; }}")
    run_command(page, "notebook:run-all-above")
    for index in range(start, start + 3):
        page.evaluate(f"() => {{ {_PANEL}.content.activeCellIndex = {index}; }}")
        run_command(page, "notebook:run-cell")
        assert [o for o in page.evaluate(_OUTPUTS) if o["type"] == "error"] == []
        cell = visible_notebook(page).locator(".jp-Cell").nth(index)
        form = cell.locator(".jp-OutputArea-output").filter(
            has=page.get_by_role("button", name=RUN)
        )
        if form.count() == 1:
            return form
    raise AssertionError(f"no cell shows the {form_class} with a Run button")


def test_import_form_answers_clicks(page, notebook):
    notebook("04_forms.ipynb")
    form = show_form(page, "ImportForm")
    run = form.get_by_role("button", name=RUN)

    # tick two fields
    for field in ("lastname", "emailaddress1"):
        box = form.get_by_role("checkbox", name=re.compile(rf"^{field}\b"))
        box.check()
        assert box.is_checked()

    # add a filter: address1_country == France
    form.get_by_role("button", name=re.compile("add condition")).click()
    # a filter row: field and operator menus, a value box and a remove button
    row = form.locator(FILTER_ROW).last
    row.locator("select").first.select_option("address1_country")
    row.locator("input[type='text']").fill("France")

    run.click()
    # the form shows the step's outcome: how many rows it imported (the filter kept some)
    count = form.get_by_text(IMPORTED).first
    count.wait_for(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_function(_KERNEL_IDLE, timeout=RUN_TIMEOUT_MS)
    imported = IMPORTED.search(count.inner_text())
    assert imported is not None, count.inner_text()
    # the demo org has 5,000 contacts; those in France are a few hundred
    assert 0 < int(imported[1].replace(",", "")) < 5000, count.inner_text()
    shown = form.inner_text()
    assert "error" not in shown.lower(), shown

    # the frame tab shows the imported rows, with the ticked fields as columns
    form.get_by_role("tab", name=re.compile(r"^\W*frame\b")).click()
    table = form.locator("table:visible").filter(has_text="emailaddress1")
    table.first.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert table.first.locator("tbody tr").count() > 0
    # only the cells run so far: a later cell's saved widget has no model in this live kernel
    # until that cell runs too ("model not found" there is JupyterLab's answer, not a fault)
    shown = form.inner_text()
    assert not [marker for marker in WIDGET_ERRORS if marker in shown], shown


def test_export_form_dry_run_shows_the_changes(page, notebook):
    notebook("04_forms.ipynb")
    form = show_form(page, "ExportForm")  # the cells above import the contacts it exports
    dry_run = form.get_by_role("checkbox", name=re.compile(r"dry run", re.IGNORECASE))
    assert dry_run.is_checked(), "an export form starts as a dry run"

    form.get_by_role("button", name=RUN).click()
    changes = form.get_by_role("tab", name=re.compile(r"^\W*changes\b"))
    changes.wait_for(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_function(_KERNEL_IDLE, timeout=RUN_TIMEOUT_MS)
    changes.click()
    table = form.locator("table:visible")
    table.first.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert table.first.locator("tbody tr").count() > 0
    assert "error" not in form.inner_text().lower(), form.inner_text()
    assert not [marker for marker in WIDGET_ERRORS if marker in form.inner_text()]
