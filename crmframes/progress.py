"""Progress of a long call: a bar for the person watching, counts for whoever listens.

An operation opens one :class:`Bar` per read or write and moves it as records go. Who sees
it depends on where the code runs:

- in a terminal, a ``tqdm`` bar on stderr, as before;
- in a notebook, one HTML bar updated in place (IPython display) that ends as a short
  summary line (``import Contact: 5,003 rec ✓``). No widget and no timing stays in the saved
  notebook, so it renders when opened and reads the same on every run;
- to every listener registered with :func:`watching` (a form's own bar, a test), a
  :class:`Progress` on each step and at the end, whether or not a bar shows.

Core: no I/O but the display of the bar itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from crmframes import display

__all__ = ["Bar", "Progress", "in_notebook", "listening", "watching"]

_EVERY = 0.2  # seconds between two redraws of a notebook bar (the last state always shows)


@dataclass(frozen=True)
class Progress:
    """Where a bar stands.

    Attributes:
        task: what runs, e.g. ``"import Contact"`` or ``"insert contact"``.
        done: records read or sent so far.
        total: how many in all, when known.
        unit: what ``done`` counts (``"rec"``, ``"rows"``).
        finished: the bar closed (the call ended, well or not).
    """

    task: str
    done: int
    total: int | None
    unit: str
    finished: bool = False

    def text(self) -> str:
        """One plain line: ``import Contact: 500/5,003 rec`` (``✓`` once finished)."""
        shown = display.number(self.done)
        if self.total is not None and not (self.finished and self.done == self.total):
            shown += f"/{display.number(self.total)}"
        mark = " ✓" if self.finished and (self.total is None or self.done >= self.total) else ""
        return f"{self.task}: {shown} {self.unit}{mark}"

    def html(self) -> str:
        """The bar as HTML: a ``<progress>`` while it runs, the summary line at the end."""
        line = display.escape(self.text())
        if self.finished:
            return f"<div class='crmframes-progress' style='color:#555'>{line}</div>"
        bar = (
            f"<progress value='{self.done}' max='{self.total}' style='width:16em'></progress>"
            if self.total
            else "<progress style='width:16em'></progress>"  # indeterminate
        )
        return f"<div class='crmframes-progress'>{bar} {line}</div>"


Listener = Callable[[Progress], None]
_listeners: ContextVar[tuple[tuple[Listener, bool], ...]] = ContextVar(
    "crmframes_progress_listeners", default=()
)


@contextmanager
def watching(listener: Listener, *, quiet: bool = False) -> Iterator[None]:
    """Send every bar opened inside the block to ``listener``.

    Args:
        listener: called with a :class:`Progress` on each step and when a bar closes.
        quiet: also hide the bars themselves (a form shows its own bar instead).

    Examples:
        >>> seen = []
        >>> with watching(seen.append, quiet=True):
        ...     with Bar("import Contact", total=2, unit="rec", show=True) as bar:
        ...         bar.update(2)
        >>> seen[-1].text()
        'import Contact: 2 rec ✓'
    """
    token = _listeners.set((*_listeners.get(), (listener, quiet)))
    try:
        yield
    finally:
        _listeners.reset(token)


def listening() -> bool:
    """Whether a listener waits for bars opened here (:func:`watching`)."""
    return bool(_listeners.get())


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (JupyterLab, Notebook, VS Code), not a terminal."""
    shell = _shell()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _shell() -> Any:
    ipython = sys.modules.get("IPython")  # never import IPython just to ask
    return None if ipython is None else ipython.get_ipython()


class Bar:
    """One read's or write's progress (see the module's documentation for who sees it).

    Args:
        task: what runs, shown before the counts.
        total: how many records in all, or None when unknown.
        unit: what is counted.
        initial: records already done (a resumed export).
        show: show a bar to the person watching (the operation's ``progress=`` and its
            own rule, e.g. not for a single page); listeners hear either way.
    """

    def __init__(
        self, task: str, *, total: int | None, unit: str, initial: int = 0, show: bool
    ) -> None:
        self.state = Progress(task, initial, total, unit)
        registered = _listeners.get()
        self._listeners = [listener for listener, _ in registered]
        show = show and not any(quiet for _, quiet in registered)
        self._tqdm: Any = None
        self._handle: Any = None
        self._drawn = 0.0
        if show and in_notebook():
            from IPython.display import display as ipython_display

            self._handle = ipython_display(self._shown(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        elif show:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=total, initial=initial, desc=task, unit=unit, file=sys.stderr)
        self._tell()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int) -> None:
        """``n`` more records are done."""
        self.state = Progress(
            self.state.task, self.state.done + n, self.state.total, self.state.unit
        )
        if self._tqdm is not None:
            self._tqdm.update(n)
        now = time.monotonic()
        if now - self._drawn >= _EVERY:
            self._drawn = now
            self._draw()
            self._tell()

    def close(self) -> None:
        """The call ended: show the summary line, tell the listeners (once)."""
        if self.state.finished:
            return
        self.state = Progress(
            self.state.task, self.state.done, self.state.total, self.state.unit, finished=True
        )
        if self._tqdm is not None:
            self._tqdm.close()
        self._draw()
        self._tell()

    def _shown(self) -> dict[str, str]:
        return {"text/html": self.state.html(), "text/plain": self.state.text()}

    def _draw(self) -> None:
        if self._handle is not None:
            self._handle.update(self._shown(), raw=True)

    def _tell(self) -> None:
        for listener in self._listeners:
            listener(self.state)
