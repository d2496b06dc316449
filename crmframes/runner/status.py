"""Show a job's step lines: always to ``logging``, and to the person watching when progress is on.

Edge: stderr in a terminal (between tqdm bars, as ``crmframes run`` always printed them),
an HTML status updated in place in a notebook (through IPython's display), where stderr
would show as red error boxes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crmframes import display
from crmframes.progress import in_notebook

__all__ = ["StepStatus", "in_notebook", "logger"]

logger = logging.getLogger("crmframes.runner")


@dataclass
class StepStatus:
    """Where a run's step lines go.

    Attributes:
        notebook: show lines as an HTML status (True), on stderr (False), or detect it
            (None, the default).
        show: what displays the status in a notebook (``text/html`` and ``text/plain``);
            by default one IPython display updated in place (a test passes its own).
        lines: the lines shown so far.
    """

    notebook: bool | None = None
    show: Callable[[dict[str, str]], None] | None = None
    lines: list[str] = field(default_factory=list)
    _handle: Any = field(default=None, repr=False)

    def say(self, text: str, *, visible: bool) -> None:
        """Log ``text`` (``crmframes.runner``, INFO); when ``visible``, show it as well."""
        logger.info(text)
        if not visible:
            return
        notebook = in_notebook() if self.notebook is None else self.notebook
        if not notebook:
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr)
            return
        self.lines.append(text)
        shown = {"text/html": display.status(self.lines), "text/plain": "\n".join(self.lines)}
        (self.show or self._display)(shown)

    def _display(self, data: dict[str, str]) -> None:
        from IPython.display import display as show

        if self._handle is None:
            self._handle = show(data, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(data, raw=True)
