"""The bottom of a form: what a run is doing, then what it did, in tabs.

Presentation. While a step runs, the panel shows its own bar, moved by the operation's
progress (records read or sent, of how many: :func:`crmframes.progress.watching`), and a
status line with the step's own lines and the counts. After it,
tabs show the report, the frame, the rejects (with **save as CSV** to a path the user
types, by default in the current folder) and a dry run's changes. Every tab is built by
:mod:`crmframes.display`, so the form shows what a cell would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from crmframes import display
from crmframes.errors import ConfigError
from crmframes.operations import DeletedResult, ExportResult, ImportResult
from crmframes.progress import Progress
from crmframes.runner import JobReport
from crmframes.runner.status import StepStatus

__all__ = ["RunPanel"]

_ROWS = 10  # rows of a frame shown in a tab
_MUTED = "color:#555"


class RunPanel:
    """A run's status, progress bar and result tabs (the tabs' titles are in :attr:`titles`)."""

    def __init__(self) -> None:
        self.status = w.HTML()
        self.bar = w.IntProgress(
            value=0, min=0, max=1, layout=w.Layout(width="200px", visibility="hidden")
        )
        self.tabs = w.Tab()
        self.rejects: pd.DataFrame | None = None
        self.rejects_path = w.Text(description="file", layout=w.Layout(width="360px"))
        self.save = w.Button(description="save as CSV", icon="download")
        self.saved = w.HTML()
        self.counts = w.HTML()  # the operation's progress: "import contact: 500/5,003 rec"
        self.widget = w.VBox([w.HBox([self.bar, self.status, self.counts]), self.tabs])

    @property
    def titles(self) -> tuple[str, ...]:
        """The tabs shown, in order."""
        return tuple(self.tabs.titles)

    def start(self, text: str) -> None:
        """A run starts: say what it does, show the bar moving, clear the last run's tabs."""
        self._tabs([])
        self.rejects = None
        self.counts.value = ""
        self.bar.layout.visibility = "visible"
        self.bar.bar_style = "info"
        self.bar.value, self.bar.max = 0, 1
        self.status.value = f"<span style='{_MUTED}'>{display.escape(text)} …</span>"

    def progressed(self, state: Progress) -> None:
        """The operation moved: show its counts and move the bar (when its total is known)."""
        self.counts.value = f"<span style='{_MUTED}'>· {display.escape(state.text())}</span>"
        if state.total:
            self.bar.max = state.total
            self.bar.value = min(state.done, state.total)

    def step_status(self) -> StepStatus:
        """Where the runner shows a run's step lines: this panel's status line."""
        return StepStatus(notebook=True, show=self._said)

    def _said(self, shown: dict[str, str]) -> None:
        last = shown["text/plain"].splitlines()[-1:] or [""]
        self.status.value = f"<span style='{_MUTED}'>{display.escape(last[0])}</span>"

    def failed(self, text: str) -> None:
        """The run stopped with an error (the form shows the error itself)."""
        self.bar.value, self.bar.bar_style = self.bar.max, "danger"
        self.status.value = f"<span style='color:#b71c1c'>failed: {display.escape(text)}</span>"

    def clear(self) -> None:
        """No run yet (a new object was chosen, say)."""
        self._tabs([])
        self.rejects = None
        self.bar.layout.visibility = "hidden"
        self.status.value = ""
        self.counts.value = ""

    def finish(self, report: JobReport, result: Any, *, object_name: str) -> None:
        """Show what the run did: the report, the frame, the rejects, a dry run's changes."""
        step = report.steps[0]
        self.bar.value = self.bar.max
        self.bar.bar_style = "warning" if report.dry_run else "success"
        said = f"{step.status}: {step.summary()} in {display.duration(report.seconds)}"
        self.status.value = display.escape(said)
        tabs: list[tuple[str, w.Widget]] = [("report", w.HTML(report._repr_html_()))]
        preview = result if isinstance(result, pd.DataFrame) else None  # a dry-run delete
        framed = isinstance(result, ImportResult | ExportResult | DeletedResult)
        frame = result.frame if framed else None
        if frame is not None and not report.dry_run:
            tabs.append(("frame", w.HTML(display.frame(frame, rows=_ROWS))))
        rejects = result.rejects if isinstance(result, ImportResult | ExportResult) else None
        if rejects is not None:
            self.rejects = rejects
            self.rejects_path.value = f"rejects_{object_name.lower()}.csv"
            self.saved.value = ""
            tabs.append((f"rejects ({len(rejects):,})", self._rejects_tab(rejects)))
        if report.dry_run:
            changes = result.changes if isinstance(result, ExportResult) else None
            shown = [df for df in (preview, changes, frame) if isinstance(df, pd.DataFrame)]
            if shown:
                tabs.append(("changes", w.HTML(display.frame(shown[0], rows=_ROWS))))
        self._tabs(tabs)

    def save_rejects(self, path: str | Path | None = None) -> Path:
        """Write the last run's rejects as CSV (default: the path typed in the rejects tab).

        Returns:
            The file written, absolute.

        Raises:
            ConfigError: no run with rejects yet, or the file cannot be written.
        """
        if self.rejects is None:
            raise ConfigError("run the form first: its rejects are saved from the last run")
        target = Path(str(self.rejects_path.value if path is None else path).strip() or ".")
        if target.is_dir():
            raise ConfigError(f"{target} is a folder: type a file name such as rejects.csv")
        try:
            self.rejects.to_csv(target, index=False)
        except OSError as exc:
            raise ConfigError(f"cannot write {target}: {exc.strerror}; type another path") from exc
        written = target.resolve()
        self.saved.value = f"<span style='{_MUTED}'>saved {display.escape(written)}</span>"
        return written

    def _rejects_tab(self, rejects: pd.DataFrame) -> w.Widget:
        if not len(rejects):
            return w.HTML("<p>no rejects</p>")
        by_symbol = display.frame(display.rejects_by_symbol(rejects), rows=_ROWS)
        rows = display.frame(rejects, rows=_ROWS)
        return w.VBox(
            [w.HTML(by_symbol + rows), w.HBox([self.rejects_path, self.save]), self.saved]
        )

    def _tabs(self, tabs: list[tuple[str, w.Widget]]) -> None:
        self.tabs.children = tuple(widget for _, widget in tabs)
        self.tabs.titles = tuple(title for title, _ in tabs)
        self.tabs.selected_index = 0 if tabs else None
