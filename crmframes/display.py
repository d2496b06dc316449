"""Build what results show in Jupyter (HTML) and in a terminal (plain text that fits 80 columns).

Pure: strings and frames in, strings out; no I/O. Every value is escaped with
:func:`html.escape` on its way into HTML, so a CRM value such as ``<script>`` shows as
text and never runs. Results hold counts, names and frames only (secrets stay in
:class:`~crmframes.settings.Secret`, whose ``str()`` is masked), so nothing here can
reveal one. The result classes keep a few lines each: they pick the facts and tables,
these functions lay them out.
"""

from __future__ import annotations

import html
import math
import numbers
import textwrap
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

__all__ = [
    "WIDTH",
    "card",
    "clusters_side_by_side",
    "duration",
    "escape",
    "fit",
    "frame",
    "number",
    "rejects_by_symbol",
    "status",
    "table",
    "text_table",
    "value",
    "wrap",
]

WIDTH = 80  # columns of a terminal; plain-text reports never go wider
# Jupyter styles tables itself (and right-aligns every cell): only the alignment is set here.
_LEFT = "style='text-align:left'"
_RIGHT = "style='text-align:right'"


def escape(text: object) -> str:
    """Return ``text`` as HTML-escaped text (quotes included).

    Examples:
        >>> escape("<script>alert('x')</script>")
        '&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;'
    """
    return html.escape(str(text), quote=True)


def number(n: float) -> str:
    """Return a count with thousands separators, a float with at most two decimals.

    Examples:
        >>> number(12345), number(0.04856794), number(2.0)
        ('12,345', '0.05', '2')
    """
    if isinstance(n, bool):
        return str(n)
    if isinstance(n, int) or float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.2f}"


def duration(seconds: float) -> str:
    """Return a wall time for people: ``0.05 s``, ``12.3 s``, ``2 min 5 s``.

    Examples:
        >>> duration(0.04856794), duration(12.34), duration(125.2)
        ('0.05 s', '12.3 s', '2 min 5 s')
    """
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def value(v: Any) -> str:
    """Return one cell as text: numbers formatted, null empty, timestamps to the second."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    if _is_number(v):
        return number(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _is_number(v: object) -> bool:
    """Whether ``v`` is a number to format (numpy's too), not a bool or a null."""
    if isinstance(v, bool):
        return False
    return isinstance(v, numbers.Real) and not pd.isna(v)


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending with ``…`` when it was longer."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Return an HTML table; numbers are right-aligned and formatted, every cell escaped."""
    head = "".join(f"<th {_LEFT}>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for v in row:
            align = _RIGHT if _is_number(v) else _LEFT
            cells.append(f"<td {align}>{escape(value(v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if header else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def frame(df: pd.DataFrame, *, rows: int = 5, columns: Sequence[str] | None = None) -> str:
    """Return the first ``rows`` rows of ``df`` as an HTML table, saying how many there are."""
    shown = df if columns is None else df[[c for c in columns if c in df.columns]]
    head = shown.head(rows)
    more = (
        f"<p style='margin:0;color:#666'>first {number(len(head))} of {number(len(df))} rows</p>"
        if len(df) > rows
        else ""
    )
    data = [list(r) for r in head.itertuples(index=False, name=None)]
    return table([str(c) for c in head.columns], data) + more


def card(
    title: str,
    facts: Sequence[tuple[str, Any]] = (),
    sections: Sequence[tuple[str, str]] = (),
) -> str:
    """Return a titled block: a two-column table of facts, then each (heading, HTML) section.

    Section bodies are HTML built by :func:`table` or :func:`frame` (already escaped);
    a section with an empty body is left out.
    """
    parts = [f"<div><p style='margin:0.2em 0;font-weight:bold'>{escape(title)}</p>"]
    if facts:
        rows = "".join(
            f"<tr><th {_LEFT}>{escape(name)}</th><td {_LEFT}>{escape(value(v))}</td></tr>"
            for name, v in facts
        )
        parts.append(f"<table><tbody>{rows}</tbody></table>")
    for heading, body in sections:
        if body:
            parts.append(f"<p style='margin:0.4em 0 0 0'>{escape(heading)}</p>{body}")
    parts.append("</div>")
    return "".join(parts)


def rejects_by_symbol(rejects: pd.DataFrame) -> pd.DataFrame:
    """Return one row per ``errorSymbol``: ``rows`` and the first ``errorMessage``, most first.

    Examples:
        >>> rejects = pd.DataFrame(
        ...     {"errorSymbol": ["A", "B", "A"], "errorMessage": ["a1", "b", "a2"]}
        ... )
        >>> rejects_by_symbol(rejects).to_dict("records")
        [{'errorSymbol': 'A', 'rows': 2, 'errorMessage': 'a1'}, {'errorSymbol': 'B', 'rows': 1, 'errorMessage': 'b'}]
    """
    columns = ["errorSymbol", "rows", "errorMessage"]
    if rejects.empty or "errorSymbol" not in rejects.columns:
        return pd.DataFrame(columns=columns)
    symbols = rejects["errorSymbol"].astype("object").fillna("(none)")
    messages = (
        rejects["errorMessage"]
        if "errorMessage" in rejects.columns
        else pd.Series("", index=rejects.index)
    )
    grouped = pd.DataFrame({"errorSymbol": symbols, "errorMessage": messages.astype("object")})
    out = grouped.groupby("errorSymbol", sort=False).agg(
        rows=("errorMessage", "size"), errorMessage=("errorMessage", "first")
    )
    out = out.reset_index().sort_values("rows", ascending=False, kind="stable")
    out["rows"] = out["rows"].astype(int)
    return out[columns].reset_index(drop=True)


def clusters_side_by_side(
    clusters: pd.DataFrame, *, columns: Sequence[str], limit: int = 3
) -> list[tuple[str, str]]:
    """Return the first ``limit`` clusters as (heading, HTML) sections, members side by side.

    Each cluster is a table with one row per field and one column per member, the
    survivor first (``clusters`` is sorted so, with ``clusterId`` and ``isSurvivor``).
    """
    sections: list[tuple[str, str]] = []
    if clusters.empty or "clusterId" not in clusters.columns:
        return sections
    fields = [c for c in columns if c in clusters.columns]
    for cluster_id, members in list(clusters.groupby("clusterId", sort=False))[:limit]:
        kept = members["isSurvivor"].tolist() if "isSurvivor" in members.columns else []
        header = ["field"] + [
            "kept" if i < len(kept) and kept[i] else f"removed {i}" for i in range(len(members))
        ]
        rows = [[name, *members[name].tolist()] for name in fields]
        reason = members["matchReason"].iloc[0] if "matchReason" in members.columns else ""
        heading = f"cluster {value(cluster_id)}: {number(len(members))} rows"
        sections.append((f"{heading} ({reason})" if reason else heading, table(header, rows)))
    return sections


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Iterable[int] = (),
    squeeze: int = 1,
    indent: int = 2,
    width: int = WIDTH,
) -> list[str]:
    """Return the lines of a plain-text table no wider than ``width``.

    Columns are as wide as their widest cell; when the table would be too wide, column
    ``squeeze`` (the free-text one, a label) is narrowed and its cells cut with ``…``.
    """
    aligned_right = set(right)
    grid = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in grid) for i in range(len(header))]
    spare = width - indent - sum(widths) - 2 * (len(widths) - 1)
    if spare < 0:
        widths[squeeze] = max(widths[squeeze] + spare, len(header[squeeze]), 4)
    lines = []
    for row in grid:
        cells = [
            fit(cell, w).rjust(w) if i in aligned_right else fit(cell, w).ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(fit(" " * indent + "  ".join(cells).rstrip(), width))
    return lines


def wrap(text: str, *, indent: int = 2, hang: int = 4, width: int = WIDTH) -> list[str]:
    """Return ``text`` wrapped to ``width``, continuation lines indented by ``hang`` more."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + hang),
        break_long_words=True,
        break_on_hyphens=False,
    ) or [" " * indent]


def status(lines: Sequence[str], *, keep: int = 12) -> str:
    """Return a job's latest step lines as a small grey HTML block (a notebook status)."""
    shown = list(lines)[-keep:]
    body = "<br>".join(escape(line) for line in shown)
    return f"<div style='font-family:monospace;font-size:90%;color:#555'>{body}</div>"
