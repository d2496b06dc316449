"""Run SQL on one DuckDB connection: the one place the campaign store talks to DuckDB.

Edge: DuckDB. Every statement goes through :meth:`Session.execute`, where a
``duckdb.Error`` becomes a :class:`~crmframes.errors.StoreError` (``raise ... from exc``).
DuckDB connections are not thread-safe, so callers hold :attr:`Session.lock` (re-entrant)
around each public operation. Every session on one database file in this process holds the
same lock (keyed by the file's resolved path): two connections to one file are two DuckDB
transactions that cannot see each other's uncommitted rows, so interleaved merges of new keys
would both insert them. Other processes are refused by DuckDB's file lock. Transactions nest: an inner :meth:`Session.transaction`
joins the outer one, which is how a merge writes its watermark option atomically.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Literal, overload

import duckdb
import pyarrow as pa

from crmframes.errors import StoreError
from crmframes.store import sql as q
from crmframes.store.checks import Columns

__all__ = ["MEMORY", "Params", "Session", "file_lock"]

Params = Sequence[Any] | Mapping[str, Any] | None

MEMORY = ":memory:"


class _FileLock:
    """A re-entrant lock shared by the sessions of one database file (weakly registered)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


_file_locks: weakref.WeakValueDictionary[str, _FileLock] = weakref.WeakValueDictionary()
_file_locks_guard = threading.Lock()


def file_lock(path: str) -> _FileLock:
    """Return the lock every session on ``path`` in this process shares.

    ``":memory:"`` is a new database per connection, so it gets a lock of its own; other
    paths are keyed by their resolved form (symlinks, ``..`` and relative spellings of one
    file share one lock). The lock lives as long as a session holds it.
    """
    if path in (MEMORY, ""):  # DuckDB reads an empty path as ":memory:"
        return _FileLock()
    name = path if path.startswith(":") else os.path.realpath(path)
    with _file_locks_guard:
        lock = _file_locks.get(name)
        if lock is None:
            lock = _file_locks[name] = _FileLock()
        return lock


class Session:
    """One DuckDB connection, its lock, its transactions and its error translation.

    Args:
        path: the database file, or ``":memory:"``.
        read_only: open the file without the right to change it.

    Raises:
        StoreError: the database cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self.lock = file_lock(self.path)
        self._depth = 0  # nesting of transaction()
        self._con: duckdb.DuckDBPyConnection | None = None
        with self._translated(f"open {self.path}"):
            self._con = duckdb.connect(self.path, read_only=read_only)
        # DuckDB returns TIMESTAMPTZ in the session zone; UTC gives back what was merged.
        self.execute("SET TimeZone = 'UTC'")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._con is None

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self.lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    @overload
    def execute(self, statement: str, params: Params = None, *, fetch: None = None) -> None: ...
    @overload
    def execute(
        self, statement: str, params: Params = None, *, fetch: Literal["rows"]
    ) -> list[tuple[Any, ...]]: ...
    @overload
    def execute(
        self, statement: str, params: Params = None, *, fetch: Literal["arrow"]
    ) -> pa.Table: ...

    def execute(
        self,
        statement: str,
        params: Params = None,
        *,
        fetch: Literal["rows", "arrow"] | None = None,
    ) -> Any:
        """Run one statement; return nothing, its rows, or its result as an Arrow table.

        Raises:
            StoreError: the store is closed, or DuckDB refused or failed the statement.
        """
        con = self._connection()
        with self._translated(statement):
            if fetch == "arrow":
                # duckdb 2: Arrow output of a DB-API result makes an extra copy (and warns),
                # a relation's does not; .arrow() is now a reader (feasibility.md §1).
                return con.sql(statement, params=params).to_arrow_table()
            cursor = con.execute(statement, params)
            return cursor.fetchall() if fetch == "rows" else None

    @contextmanager
    def registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """Make an Arrow table readable as ``name`` in SQL for the block (no copy)."""
        con = self._connection()
        with self._translated(f"register {name}"):
            con.register(name, table)
        try:
            yield
        except BaseException:
            # inside a failed transaction DuckDB refuses even this: keep the first error
            with suppress(StoreError), self._translated(f"unregister {name}"):
                con.unregister(name)
            raise
        with self._translated(f"unregister {name}"):
            con.unregister(name)

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[None]:
        """Run the block in one transaction, rolled back on any error.

        A nested call joins the outer transaction. ``commit=False`` rolls back at the end
        (a dry run: everything is computed, nothing is kept).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
            self.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException:
            with suppress(StoreError):  # the failed statement may have ended it already
                self.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def require_writable(self, doing: str) -> None:
        """Raise a clear StoreError before ``doing`` a write on a read-only store."""
        if self.read_only:
            raise StoreError(
                f"cannot {doing}: the campaign store {self.path!r} is open read-only; "
                "open it with CampaignStore(path) to write"
            )

    def tables(self) -> list[str]:
        """Return the names of all tables in the database (crmframes' own included)."""
        return [str(row[0]) for row in self.execute(q.list_tables(), fetch="rows")]

    def columns(self, table: str) -> Columns:
        """Return the columns of a stored table."""
        rows = self.execute(q.table_columns(), [table], fetch="rows")
        return [(str(name), str(type_)) for name, type_ in rows]

    def describe(self, relation: str) -> Columns:
        """Return the columns of any relation (e.g. a registered batch), as DuckDB types them."""
        return [
            (str(row[0]), str(row[1])) for row in self.execute(q.describe(relation), fetch="rows")
        ]

    @contextmanager
    def _translated(self, statement: str) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            what = " ".join(statement.split())
            what = what if len(what) <= 160 else what[:157] + "..."
            raise StoreError(
                f"campaign store {self.path!r}: {exc} (while running: {what})"
            ) from exc

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError(
                f"the campaign store {self.path!r} is closed; open a new CampaignStore"
            )
        return self._con
