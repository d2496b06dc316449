"""Draw the bar charts that results offer through ``result.plot()``, as pandas does.

Presentation: matplotlib, an optional extra (``pip install 'crmframes[plot]'``), imported
only when a chart is drawn. Each function returns the matplotlib ``Axes`` it drew on
(a new figure's unless ``ax=`` is given), like ``DataFrame.plot``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmframes.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PLOT_INSTALL", "bars"]

PLOT_INSTALL = "pip install 'crmframes[plot]'"


def bars(
    counts: Mapping[str, float],
    *,
    title: str,
    xlabel: str,
    ax: Axes | None = None,
    fmt: str = "{:,.0f}",
    **kwargs: Any,
) -> Axes:
    """Draw one horizontal bar per name (the first on top), labelled with its value.

    Args:
        counts: the bars, name to value, in the order to show.
        title: the chart's title.
        xlabel: what the values count.
        ax: the axes to draw on; a new figure's by default.
        fmt: how each bar's label shows its value: counts by default (``"{:,.0f}"``);
            another format (``"{:.3f}"`` for shares) also lets the axis have fractional ticks.
        **kwargs: passed to ``Axes.barh`` (``color=``, ...).

    Returns:
        The axes.

    Raises:
        ConfigError: matplotlib is not installed (the error says how to install it).
    """
    names = [str(n) for n in counts]
    values = [float(v) for v in counts.values()]
    axes = _axes(ax, bars=len(names))
    from matplotlib.ticker import MaxNLocator  # installed: _axes said so

    container = axes.barh(names, values, **kwargs)
    axes.bar_label(container, labels=[fmt.format(v) for v in values], padding=3)
    axes.invert_yaxis()  # the first (largest) bar on top, as a table reads
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.margins(x=0.15)
    if fmt == "{:,.0f}":
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ticks
    if not names:
        axes.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=axes.transAxes)
    return axes


def _axes(ax: Axes | None, *, bars: int) -> Axes:
    if ax is not None:
        return ax
    figure = _pyplot().figure(figsize=(6.4, max(2.4, 1.2 + 0.3 * bars)), layout="constrained")
    axes: Axes = figure.add_subplot()
    return axes


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(f"charts need matplotlib: {PLOT_INSTALL}") from None
    return plt
