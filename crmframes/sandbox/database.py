"""The sandbox's record database: in-memory tables with unique indexes, a recycle bin and undo.

Edge helper of the sandbox (no I/O). Records are plain dicts holding wire-ready values and
are never mutated in place: an update stores a new dict, so a query cursor that holds a
snapshot of record references keeps seeing the rows as they were when it was opened (as a
CRM cursor does). All writes happen under one lock; :meth:`Database.transaction` records an
undo log so an all-or-none batch can roll back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Database", "Table", "UniqueViolation"]

Record = dict[str, Any]


class UniqueViolation(Exception):
    """A write would give two live records the same value in a unique field."""

    def __init__(self, field: str, value: Any, other_id: str) -> None:
        super().__init__(f"{field}={value!r} already used by {other_id}")
        self.field = field
        self.value = value
        self.other_id = other_id


def _normal(value: Any, case_sensitive: bool) -> Any:
    return value.lower() if isinstance(value, str) and not case_sensitive else value


class Table:
    """Live records by id, a recycle bin, and unique indexes on chosen fields.

    Args:
        name: the object name.
        key: the id field name (``"Id"``, ``"contactid"``).
        unique: unique fields and whether each is case-sensitive.
    """

    def __init__(self, db: Database, name: str, key: str, unique: dict[str, bool]) -> None:
        self._db = db
        self.name = name
        self.key = key
        self.rows: dict[str, Record] = {}
        self.bin: dict[str, Record] = {}
        self._unique = dict(unique)
        self._index: dict[str, dict[Any, str]] = {f: {} for f in unique}
        self.version = 0  # moves on every change of the live records (caches compare it)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, record_id: str) -> Record | None:
        """Return the live record with this id, or None."""
        return self.rows.get(record_id)

    def lookup(self, field: str, value: Any) -> str | None:
        """Return the id of the live record whose unique ``field`` equals ``value``."""
        return self._index[field].get(_normal(value, self._unique[field]))

    def is_unique(self, field: str) -> bool:
        """Whether ``field`` has a unique index."""
        return field in self._unique

    def scan(self) -> Iterator[Record]:
        """Iterate over the live records (insertion order)."""
        return iter(list(self.rows.values()))

    def check_unique(self, record: Record, *, ignore_id: str | None = None) -> None:
        """Raise :class:`UniqueViolation` if ``record`` collides with another live record."""
        for field, case_sensitive in self._unique.items():
            value = record.get(field)
            if value is None:
                continue
            other = self._index[field].get(_normal(value, case_sensitive))
            if other is not None and other != ignore_id:
                raise UniqueViolation(field, value, other)

    def insert(self, record: Record) -> None:
        """Add a new live record (unique fields are checked)."""
        record_id = record[self.key]
        self.check_unique(record)
        self.rows[record_id] = record
        self._index_add(record)
        self.version += 1
        self._db._log(lambda: self._undo_insert(record_id))

    def replace(self, record: Record) -> Record:
        """Replace a live record by a new version; return the old one."""
        record_id = record[self.key]
        old = self.rows[record_id]
        self.check_unique(record, ignore_id=record_id)
        self._index_remove(old)
        self.rows[record_id] = record
        self._index_add(record)
        self.version += 1
        self._db._log(lambda: self._undo_replace(old))
        return old

    def delete(self, record_id: str, tombstone: Record) -> Record:
        """Move a live record to the recycle bin as ``tombstone``; return the live version."""
        old = self.rows.pop(record_id)
        self._index_remove(old)
        self.bin[record_id] = tombstone
        self.version += 1
        self._db._log(lambda: self._undo_delete(old))
        return old

    def restore(self, record: Record) -> None:
        """Bring a record back from the recycle bin as ``record`` (unique fields are checked)."""
        record_id = record[self.key]
        self.check_unique(record)
        tombstone = self.bin.pop(record_id)
        self.rows[record_id] = record
        self._index_add(record)
        self.version += 1
        self._db._log(lambda: self._undo_restore(tombstone))

    def remove(self, record_id: str) -> Record:
        """Hard-delete a live record (no recycle bin); return it."""
        old = self.rows.pop(record_id)
        self._index_remove(old)
        self.version += 1
        self._db._log(lambda: self._undo_remove(old))
        return old

    def purge(self, keep: Callable[[Record], bool]) -> int:
        """Drop recycle-bin entries for which ``keep`` is false; return how many went."""
        gone = [rid for rid, rec in self.bin.items() if not keep(rec)]
        for rid in gone:
            del self.bin[rid]
        return len(gone)

    def load(self, records: Iterable[Record]) -> None:
        """Load many records at once, without uniqueness checks or undo (demo data)."""
        for record in records:
            self.rows[record[self.key]] = record
            self._index_add(record)
        self.version += 1

    def _index_add(self, record: Record) -> None:
        for field, case_sensitive in self._unique.items():
            value = record.get(field)
            if value is not None:
                self._index[field][_normal(value, case_sensitive)] = record[self.key]

    def _index_remove(self, record: Record) -> None:
        for field, case_sensitive in self._unique.items():
            value = record.get(field)
            if value is not None:
                self._index[field].pop(_normal(value, case_sensitive), None)

    def _undo_insert(self, record_id: str) -> None:
        self._index_remove(self.rows.pop(record_id))
        self.version += 1

    def _undo_replace(self, old: Record) -> None:
        self._index_remove(self.rows[old[self.key]])
        self.rows[old[self.key]] = old
        self._index_add(old)
        self.version += 1

    def _undo_remove(self, old: Record) -> None:
        self.rows[old[self.key]] = old
        self._index_add(old)
        self.version += 1

    def _undo_restore(self, tombstone: Record) -> None:
        self._index_remove(self.rows.pop(tombstone[self.key]))
        self.bin[tombstone[self.key]] = tombstone
        self.version += 1

    def _undo_delete(self, old: Record) -> None:
        self.bin.pop(old[self.key], None)
        self.rows[old[self.key]] = old
        self._index_add(old)
        self.version += 1


class Database:
    """A set of tables sharing one write lock and one undo log."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self._undo: list[Callable[[], None]] | None = None

    def create_table(self, name: str, *, key: str, unique: dict[str, bool] | None = None) -> Table:
        """Create (or return the existing) table ``name``."""
        if name not in self.tables:
            self.tables[name] = Table(self, name, key, unique or {})
        return self.tables[name]

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the write lock; undo every write if the block raises or calls ``rollback()``."""
        with self.lock:
            outer = self._undo
            undo: list[Callable[[], None]] = []
            self._undo = undo
            tx = Transaction(undo)
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            finally:
                self._undo = outer
            if outer is not None and not tx.rolled_back:
                outer.extend(undo)

    def _log(self, undo: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(undo)


class Transaction:
    """The undo log of one :meth:`Database.transaction` block."""

    def __init__(self, undo: list[Callable[[], None]]) -> None:
        self._undo = undo
        self.rolled_back = False

    def rollback(self) -> None:
        """Undo every write made in this block so far, newest first."""
        while self._undo:
            self._undo.pop()()
        self.rolled_back = True

    def savepoint(self) -> int:
        """Return a marker to :meth:`rollback_to` later."""
        return len(self._undo)

    def rollback_to(self, mark: int) -> None:
        """Undo the writes made since ``mark``."""
        while len(self._undo) > mark:
            self._undo.pop()()
