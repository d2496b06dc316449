"""What a campaign-store merge takes and what it reports.

Pure. :class:`Watermarked` is the shape of an import result (``crmframes.operations``
defines the concrete class; the store only needs these four attributes), and
:class:`MergeResult` counts what a merge did, or would do on a dry run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

__all__ = ["MergeResult", "Watermarked"]


@runtime_checkable
class Watermarked(Protocol):
    """A frame to merge plus the automatic-index option that covers it (DESIGN §4.4).

    Attributes:
        frame: the rows.
        key: the CRM id column.
        modified_field: the last-modified column, if the object has one.
        watermark: ``(option name, new value)`` to store in the same transaction as the
            rows, or None to leave the options alone.
    """

    @property
    def frame(self) -> pd.DataFrame: ...  # noqa: D102

    @property
    def key(self) -> str: ...  # noqa: D102

    @property
    def modified_field(self) -> str | None: ...  # noqa: D102

    @property
    def watermark(self) -> tuple[str, str] | None: ...  # noqa: D102


@dataclass(frozen=True)
class MergeResult:
    """What :meth:`CampaignStore.merge` did (or, with ``dry_run``, would do) to one table.

    Every incoming row is counted exactly once: ``rows + duplicates`` is the batch length.

    Attributes:
        table: the table merged into.
        inserted: rows whose key was not stored yet.
        updated: stored rows rewritten because an incoming column differed.
        unchanged: incoming rows equal to the stored row on every incoming column.
        skipped_older: incoming rows older (by the modified column) than the stored row.
        duplicates: incoming rows dropped because a later (or newer) row had the same key.
        columns_added: columns the table gained.
        created: whether this merge created the table.
        watermark: the option ``(name, value)`` written with the rows, if any.
        dry_run: True when nothing was written.
    """

    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_older: int = 0
    duplicates: int = 0
    columns_added: tuple[str, ...] = ()
    created: bool = False
    watermark: tuple[str, str] | None = None
    dry_run: bool = False

    @property
    def rows(self) -> int:
        """Incoming rows after dedupe: inserted + updated + unchanged + skipped_older."""
        return self.inserted + self.updated + self.unchanged + self.skipped_older

    def _counts(self) -> list[tuple[str, str]]:
        counts = [
            ("inserted", self.inserted),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("skipped as older", self.skipped_older),
        ]
        if self.duplicates:
            counts.append(("duplicates dropped", self.duplicates))
        return [(name, f"{count:,}") for name, count in counts]

    def _notes(self) -> list[tuple[str, str]]:
        notes = []
        if self.columns_added:
            notes.append(("columns added", ", ".join(self.columns_added)))
        if self.watermark is not None:
            notes.append(("watermark", f"{self.watermark[0]} = {self.watermark[1]}"))
        return notes

    def _title(self) -> str:
        verb = "dry run: would merge" if self.dry_run else "merged"
        created = " (new table)" if self.created else ""
        rows = "row" if self.rows == 1 else "rows"
        return f"{verb} {self.rows:,} {rows} into {self.table!r}{created}"

    def __str__(self) -> str:
        counts = ", ".join(f"{value} {name}" for name, value in self._counts())
        notes = "".join(f"; {name}: {value}" for name, value in self._notes())
        return f"{self._title()}: {counts}{notes}"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:right'>{html.escape(value)}</td></tr>"
            for name, value in self._counts() + self._notes()
        )
        return f"<p>{html.escape(self._title())}</p><table>{rows}</table>"
