"""Bulk API 2.0 results as text columns, from a columnar copy of each table kept between jobs.

Edge helper of the Salesforce sandbox (no I/O). Salesforce prepares a query job's result
while the job runs; the sandbox does the same, and for plain fields it renders each column
of a table once — every live record's value as the CSV text Bulk API 2.0 sends (booleans
``true``/``false``, datetimes ending in ``Z``, reference/salesforce-api.md §8.2) — then takes
the job's rows out of it. The copy belongs to one version of the table: any write makes the
next job build it again, column by column as jobs ask for them. Records are never mutated
in place (sandbox/database.py), so a record's identity names its values: a job row is found in
the copy by identity, and a row the copy does not hold (a recycle-bin row of ``queryAll``, a
record written since) is rendered from the record itself.

Without the copy a 1,000,000-row job spends ~2.5 s turning dicts into Arrow, more than the
client spends reading the result, so a benchmark of the client would mostly time the
sandbox. :meth:`BulkColumns.warm` renders the large tables when the demo org is loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crmframes.sandbox.database import Database
from crmframes.sandbox.salesforce.schema import NUMBER_TYPES, SfObject

__all__ = ["BulkColumns", "render_texts"]

Record = dict[str, Any]
COMPOUND = ("address", "location")  # not in Bulk results: rendered from the records instead
SELECTIVE = 4  # a job of under 1/4 of a table is rendered from its records, not from columns


def _arrow_type(kind: str) -> pa.DataType:
    if kind == "boolean":
        return pa.bool_()
    if kind in ("int", "long"):
        return pa.int64()
    return pa.float64() if kind in NUMBER_TYPES else pa.string()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_text(array: pa.Array, kind: str) -> pa.Array:
    text = array if array.type == pa.string() else array.cast(pa.string())
    if kind == "datetime":
        text = pc.replace_substring_regex(text, r"\+0000$", "Z")
    return text


def render_texts(values: Sequence[Any], kind: str) -> pa.Array:
    """One column's wire values as Bulk CSV text (``kind`` is the field's describe type)."""
    try:
        array = pa.array(values, type=_arrow_type(kind))
    except (TypeError, pa.ArrowException):  # a value of another type: render it as it is
        array = pa.array([_text(value) for value in values], type=pa.string())
    return _as_text(array, kind)


class _Copy:
    """The rendered columns of one version of one table."""

    def __init__(self, version: int, records: list[Record]) -> None:
        self.version = version
        self.records = records  # held, so no other object can take a record's id()
        self._position: dict[int, int] | None = None
        self.texts: dict[str, pa.Array] = {}
        self.lock = threading.Lock()  # two jobs may render the same column

    def is_whole(self, rows: Sequence[Record]) -> bool:
        """Whether ``rows`` are exactly the copy's records, in the same order."""
        records = self.records
        return len(rows) == len(records) and all(a is b for a, b in zip(rows, records, strict=True))

    def indexes(self, rows: Sequence[Record]) -> np.ndarray | None:
        """Where each row sits in the copy; None if any row is not in it."""
        if self._position is None:
            self._position = {id(record): index for index, record in enumerate(self.records)}
        position = self._position
        found = np.fromiter((position.get(id(row), -1) for row in rows), np.int64, len(rows))
        return None if len(found) and int(found.min()) < 0 else found

    def columns(self, obj: SfObject, names: Sequence[str]) -> list[pa.Array]:
        """The text columns ``names`` (plain fields of ``obj``), rendering the missing ones."""
        kinds = {f.name: f.type for f in map(obj.field, names) if f is not None}
        missing = [name for name in dict.fromkeys(names) if name not in self.texts]
        if len(missing) > 1:  # all at once: Arrow reads the records' values in one pass
            struct = pa.struct([(n, _arrow_type(kinds.get(n, "string"))) for n in missing])
            try:
                arrays = pa.array(self.records, type=struct).flatten()
            except (TypeError, pa.ArrowException):  # a value of another type somewhere
                pass
            else:
                for name, array in zip(missing, arrays, strict=True):
                    self.texts[name] = _as_text(array, kinds.get(name, "string"))
        for name in missing:
            if name not in self.texts:
                values = [record.get(name) for record in self.records]
                self.texts[name] = render_texts(values, kinds.get(name, "string"))
        return [self.texts[name] for name in names]


class BulkColumns:
    """Rendered columns of the org's tables, rebuilt after writes (one copy per table).

    ``_lock`` guards the copies' list; each copy's own lock guards its columns, so jobs on
    different tables render at the same time.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._copies: dict[str, _Copy] = {}
        self._lock = threading.Lock()

    def _copy(self, object_name: str) -> _Copy:
        table = self._db[object_name]
        with self._lock:
            copy = self._copies.get(object_name)
            if copy is None or copy.version != table.version:
                with self._db.lock:
                    copy = _Copy(table.version, list(table.rows.values()))
                self._copies[object_name] = copy
            return copy

    def render(
        self, obj: SfObject, names: Sequence[str], rows: Sequence[Record]
    ) -> pa.Table | None:
        """The plain fields ``names`` of ``rows`` as text columns; None if a row is not live.

        Rows must be records of ``obj``'s table (not projections); columns come out in
        ``names`` order.
        """
        if any(f is None or f.type in COMPOUND for f in map(obj.field, names)):
            return None
        copy = self._copy(obj.name)
        if len(rows) * SELECTIVE < len(copy.records) and any(n not in copy.texts for n in names):
            return None  # a few rows: rendering them costs less than the table's columns
        whole = copy.is_whole(rows)
        indexes = None if whole else copy.indexes(rows)
        if not whole and indexes is None:
            return None
        with copy.lock:
            columns = copy.columns(obj, names)
        if indexes is not None:
            columns = [column.take(indexes) for column in columns]
        return pa.Table.from_arrays(columns, names=list(names))

    def warm(self, objects: Sequence[SfObject], *, min_rows: int) -> None:
        """Render every field of the tables holding at least ``min_rows`` live records."""
        for obj in objects:
            if obj.name in self._db and len(self._db[obj.name]) >= min_rows:
                copy = self._copy(obj.name)
                with copy.lock:
                    copy.columns(obj, [f.name for f in obj.fields if f.type not in COMPOUND])
