"""Keep the campaign store in a PostgreSQL schema, for teams and existing campaign databases.

Edge: PostgreSQL, through :class:`~crmframes.store.pg_session.PostgresSession`.
``CampaignStore("postgresql://...")`` opens this store: the same interface and guarantees as
the DuckDB store, with the tables in one schema (``crmframes`` unless told otherwise) so it
sits beside an existing campaign database without touching its tables.

A merge is one transaction: take the table's advisory lock (two writers of one table queue
up, so counts are exact and nothing is lost or duplicated), copy the batch into a temporary
table (binary ``COPY`` from Arrow), dedupe it on the key, add new columns, plan an action
per row (insert, update, unchanged, older), then one ``INSERT ... ON CONFLICT (key) DO
UPDATE`` writes the inserted and rewritten rows. The watermark option is written inside the
same transaction (DESIGN §4.4); a dropped connection rolls it all back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pyarrow as pa

from crmframes.arguments import check_bool, check_str
from crmframes.dedupe import DedupeResult
from crmframes.errors import ConfigError, DataError, StoreError
from crmframes.store import pg_sql as pq
from crmframes.store import sql as q
from crmframes.store.campaign import CampaignStore
from crmframes.store.checks import (
    Columns,
    check_types,
    column_not_in_table,
    option_name,
    option_value,
)
from crmframes.store.deletions import deletion_marks
from crmframes.store.duplicates import dedupe_table
from crmframes.store.merge import MergeResult
from crmframes.store.options import StoreOptions
from crmframes.store.pg_session import PostgresSession, sqlstate

__all__ = ["DEFAULT_SCHEMA", "PostgresCampaignStore", "PostgresOptions"]

DEFAULT_SCHEMA = "crmframes"
MERGE_WORK_MEM = "256MB"  # PostgreSQL's work_mem inside a merge's transaction
_GONE = "__crmframes_deleted"
_TEMPORARY = (q.BATCH, q.STAGE, q.PLAN)
_YEAR_FIRST = re.compile(r"\s*[0-9]{4}[-/]")
_INVALID_DATETIME = ("22007", "22008")  # invalid_datetime_format, datetime_field_overflow

# Arrow types PostgreSQL has no column type for, and what to copy them as instead.
_WIDER: dict[pa.DataType, pa.DataType] = {
    pa.int8(): pa.int16(),
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
    pa.null(): pa.string(),
}
_DUCKDB_NAMES: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.binary(): "BLOB",
    pa.null(): '"NULL"',
    pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE",
    pa.timestamp("us"): "TIMESTAMP",
}


class PostgresOptions(StoreOptions):
    """The store's options in ``<schema>._crmframes_options`` (created when the store opened)."""

    def set_many(self, values: Mapping[str, str]) -> None:
        """Set several options at once, all or none (joins a running merge's transaction).

        Raises:
            TypeError: a name or value is not a string.
            StoreError: the store is read-only, or PostgreSQL failed.
        """
        checked = {option_name(n): option_value(n, v) for n, v in values.items()}
        self._session.require_writable("set options")
        with self._session.lock, self._session.transaction():
            for name, value in checked.items():
                self._session.execute(pq.upsert_option(), [name, value])


class PostgresCampaignStore(CampaignStore):
    """The campaign store in a PostgreSQL schema; open it as ``CampaignStore(url)``.

    Several processes may write one store at once: merges into one table queue up on a
    per-table advisory lock, merges into different tables run side by side.

    Args:
        path: a ``postgresql://user:password@host:port/database`` URL (libpq's form; the
            password is masked in every repr and message).
        read_only: refuse writes (a role with SELECT only can read this way).
        schema: the schema holding the tables, created on first open when missing; also
            given as the URL's ``schema`` parameter (``...?schema=campaign``), the way a job
            file's ``store:`` or ``crmframes demo --store`` name it.

    Raises:
        ConfigError: the driver is missing (``pip install 'crmframes[postgres]'``).
        StoreError: the server cannot be reached, the role is refused, or the schema is
            missing and cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "",
        *,
        read_only: bool = False,
        schema: str | None = None,
    ) -> None:
        check_str("path", path, what="a postgresql:// URL")
        check_bool("read_only", read_only)
        if schema is not None:
            check_str("schema", schema, what="a schema name")
        url, in_url = _split_schema(str(path))
        if schema is not None and in_url is not None and schema != in_url:
            raise ConfigError(f"schema={schema!r} contradicts the URL's schema={in_url!r}")
        schema = schema or in_url or DEFAULT_SCHEMA
        self._pg = PostgresSession(url, read_only=read_only, schema=schema)
        self._session = self._pg
        database = urlsplit(url).path.strip("/") or "postgres"
        self._journals = Path(f"{database}.{schema}.journals").absolute()
        self._options = PostgresOptions(self._pg)

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the store's tables."""
        return self._pg.schema

    @property
    def journals(self) -> Path:
        """The folder for export journals: ``<database>.<schema>.journals`` in the working folder.

        The working folder when the store was opened.

        A journal is fsynced line by line on the machine that sends (DESIGN §4.6), so it
        stays a local folder even when the store is on a server.
        """
        return self._journals

    def __repr__(self) -> str:
        flags = ", read_only=True" if self.read_only else ""
        closed = " (closed)" if self._session.closed else ""
        return f"CampaignStore({self.path!r}, schema={self.schema!r}{flags}){closed}"

    # --- merge -------------------------------------------------------------------------

    def _merge_checked(
        self,
        table: str,
        df: pd.DataFrame,
        keys: list[str],
        modified: str | None,
        written: tuple[str, str] | None,
        options: dict[str, str],
        *,
        dry_run: bool,
    ) -> MergeResult:
        from crmframes.store.dtypes import frame_to_arrow

        batch = frame_to_arrow(df)
        dtypes = {str(column): str(dtype) for column, dtype in df.dtypes.items()}
        incoming = [(field.name, _duckdb_name(field.type)) for field in batch.schema]
        if not dry_run:
            self._session.require_writable(f"merge into {table!r}")
        with self._session.lock:
            if batch.num_rows == 0:
                if written is not None:
                    self._options.set_many(options)
                name = self._find_table(table) or table
                return MergeResult(table=name, watermark=written, dry_run=dry_run)
            with self._session.transaction(commit=not dry_run):
                try:
                    # hash joins of a large batch with the table stay in memory (5M + 1M rows:
                    # 10 s instead of 18 s here); for this transaction only
                    self._session.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
                    # the batch is copied before the table's lock: writers copy side by side
                    staged = self._stage(table, batch, incoming)
                    self._pg.advisory_lock(table)
                    result = self._merge_locked(
                        table, batch, incoming, keys, modified, staged=staged, dry_run=dry_run
                    )
                except StoreError as exc:
                    state = sqlstate(exc.__cause__)
                    if state in _INVALID_DATETIME:
                        raise DataError(
                            f"a value of the modified column {modified!r} is not a date and "
                            f"time: {exc}; fix or drop those rows, or merge without modified="
                        ) from exc
                    raise
                if not dry_run:
                    self._record_dtypes(result.table, dtypes)
                if written is not None:
                    self._options.set_many(options)  # joins this transaction
            return replace(result, watermark=written)

    def _merge_locked(
        self,
        table: str,
        batch: pa.Table,
        incoming: Columns,
        keys: list[str],
        modified: str | None,
        *,
        staged: list[str],
        dry_run: bool,
    ) -> MergeResult:
        """Merge under the table's advisory lock, inside the merge transaction.

        ``staged``: the column names the batch was copied with, before the lock.
        """
        run = self._session.execute
        existing = self._find_table(table)
        name = existing or table
        stored = self._session.columns(existing) if existing else []
        check_types(name, incoming, stored, keys)
        # Spell batch columns as the table does: the store's names are case-insensitive.
        spelled = {column.lower(): column for column, _ in stored}
        columns = [spelled.get(c.lower(), c) for c, _ in incoming]
        keys = [spelled.get(k.lower(), k) for k in keys]
        modified = spelled.get(modified.lower(), modified) if modified else None
        types = dict(zip(columns, (t for _, t in incoming), strict=True))
        stored_names = {column for column, _ in stored}
        text = modified is not None and "VARCHAR" in (
            types.get(modified),
            *(t for c, t in stored if c == modified),
        )
        if text and modified is not None:
            stamps = batch.column(columns.index(modified)).unique().to_pylist()
            _check_stamps(stamps, modified, "the batch")
        if columns != staged:  # another writer created the table in between, spelled otherwise
            run(f"DROP TABLE pg_temp.{pq.quote(q.BATCH)}")
            self._copy_batch(batch, columns)
        if text and modified is not None and existing is not None and modified in stored_names:
            matched = pq.matched_stamps(name, q.BATCH, keys, modified)
            values = [value for (value,) in run(matched, fetch="rows")]
            _check_stamps(values, modified, f"table {name!r}")
        duplicates = int(run(q.count_duplicates(q.BATCH, keys), fetch="rows")[0][0])
        source = q.BATCH
        if duplicates:
            run(pq.dedupe(q.BATCH, keys, modified, text=text))
            source = q.STAGE
        rows = batch.num_rows - duplicates
        added = [c for c in columns if c not in stored_names]
        if existing is None:
            counts = {q.INSERT: rows}
            if not dry_run:
                run(pq.create_table(name, [(c, pq.pg_type(types[c], c)) for c in columns]))
                run(pq.ensure_key_index(name, keys))
                run(pq.upsert(name, source, keys, columns, planned=False))
        else:
            for column in keys:
                if column not in stored_names:
                    raise DataError(
                        f"table {name!r} has no key column {column!r} to match on; its "
                        f"columns are: {', '.join(c for c, _ in stored)}"
                    )
            if not dry_run:
                for column in added:
                    run(q.add_column(name, column, pq.pg_type(types[column], column)))
                indexed = [self._pg.schema, name, sorted(keys), len(keys)]
                if not run(pq.has_key_index(), indexed, fetch="rows")[0][0]:
                    run(pq.ensure_key_index(name, keys))
            present = stored_names | (set() if dry_run else set(added))
            compared = [(c, c in present) for c in columns if c not in keys]
            cleared = [c for c, _ in deletion_marks(self._session, name, stored)]
            cleared = [c for c in cleared if c not in columns]
            stamp = modified if modified in stored_names else None
            run(
                pq.plan(
                    name,
                    source,
                    keys,
                    modified=stamp,
                    text=text,
                    compared=compared,
                    cleared=cleared,
                )
            )
            counts = {str(a): int(n) for a, n in run(pq.count_actions(), fetch="rows")}
            if not dry_run and (counts.get(q.UPDATE) or counts.get(q.INSERT)):
                run(pq.upsert(name, source, keys, columns, cleared=cleared, planned=True))
        for temporary in _TEMPORARY:
            run(f"DROP TABLE IF EXISTS pg_temp.{pq.quote(temporary)}")
        return MergeResult(
            table=name,
            inserted=counts.get(q.INSERT, 0),
            updated=counts.get(q.UPDATE, 0),
            unchanged=counts.get(q.UNCHANGED, 0),
            skipped_older=counts.get(q.OLDER, 0),
            duplicates=duplicates,
            columns_added=() if existing is None else tuple(added),
            created=existing is None,
            dry_run=dry_run,
        )

    def _stage(self, table: str, batch: pa.Table, incoming: Columns) -> list[str]:
        """Copy the batch into the temporary table, spelled as the table is now; the names."""
        existing = self._find_table(table)
        stored = self._session.columns(existing) if existing else []
        spelled = {column.lower(): column for column, _ in stored}
        columns = [spelled.get(c.lower(), c) for c, _ in incoming]
        self._copy_batch(batch, columns)
        return columns

    def _copy_batch(self, batch: pa.Table, columns: list[str]) -> None:
        copied = _for_copy(batch.rename_columns(columns))
        copied = copied.append_column(q.SEQ, pa.array(np.arange(batch.num_rows)))
        self._pg.ingest(q.BATCH, copied)

    def _record_dtypes(self, table: str, dtypes: Mapping[str, str]) -> None:
        self._session.execute(pq.record_dtypes(), [table, list(dtypes), list(dtypes.values())])

    # --- deletions, export ---------------------------------------------------------------

    def _apply_deletions_checked(
        self, table: str, ids: pa.Table, *, key: str, mode: Literal["soft", "hard"], column: str
    ) -> int:
        session = self._session
        with session.lock:
            name = self._require_table(table)
            available = [c for c, _ in session.columns(name)]
            if key not in available:
                raise column_not_in_table(key, available, name)
            match = f"{pq.normalise_id_sql(f'CAST(t.{q.quote(key)} AS text)')} = d.id"
            target = f"{q.quote(name)} AS t"
            with session.transaction():
                self._pg.advisory_lock(name)
                self._pg.ingest(_GONE, ids)
                joined = f"SELECT count(*) FROM {target} JOIN {_GONE} AS d ON {match}"
                count = int(session.execute(joined, fetch="rows")[0][0])
                if mode == "hard":
                    session.execute(f"DELETE FROM {target} USING {_GONE} AS d WHERE {match}")
                else:
                    stored = next((c for c in available if c.lower() == column.lower()), None)
                    if stored is None:
                        session.execute(q.add_column(name, column, "timestamp with time zone"))
                    session.execute(pq.record_mark(), [name, stored or column])
                    session.execute(
                        f"UPDATE {target} SET {q.quote(stored or column)} = d.at "
                        f"FROM {_GONE} AS d WHERE {match}"
                    )
                session.execute(f"DROP TABLE pg_temp.{_GONE}")
            return count

    def _dedupe_table(
        self,
        table: str,
        dtypes: Mapping[str, str],
        *,
        dry_run: bool,
        options: Mapping[str, Any],
        clusters: pd.DataFrame | None,
    ) -> DedupeResult:
        # ctids stay put while the table is locked against other writers (our own updates
        # touch survivors, our deletes removed rows: never the same row twice).
        with self._session.transaction(commit=not dry_run):
            self._pg.advisory_lock(table)
            if not dry_run:
                self._session.execute(f"LOCK TABLE {q.quote(table)} IN SHARE ROW EXCLUSIVE MODE")
            return dedupe_table(
                self._session,
                table,
                dtypes,
                dry_run=dry_run,
                options=options,
                clusters=clusters,
                statements=pq.CTID_STATEMENTS,
            )

    def _export_parquet(self, table: str, target: Path) -> None:
        import pyarrow.parquet as parquet

        result = self._session.execute(q.select(table), fetch="arrow")
        try:
            parquet.write_table(result, target)
        except OSError as exc:
            raise StoreError(f"cannot write {str(target)!r}: {exc}") from exc


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take the ``schema`` parameter out of a URL (libpq would refuse it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for name, value in query if name == "schema"]
    if not schemas:
        return url, None
    rest = urlencode(  # %20, not +: libpq reads a + in a parameter as a plus
        [(name, value) for name, value in query if name != "schema"], quote_via=quote
    )
    return urlunsplit(parts._replace(query=rest)), schemas[-1]


def _check_stamps(values: list[object], modified: str, where: str) -> None:
    """Refuse text stamps that are not a date and time (before PostgreSQL casts them).

    A stamp must start with a year (``2024-`` or ``2024/``) and parse as an instant.

    Raises:
        DataError: up to five such values, named.
    """
    bad = sorted(
        str(value)
        for value in values
        if value is not None
        and (
            not _YEAR_FIRST.match(str(value))
            or pd.isna(pd.to_datetime(str(value), utc=True, format="mixed", errors="coerce"))
        )
    )[:5]
    if bad:
        samples = ", ".join(map(repr, bad))
        raise DataError(
            f"{where} has values of the modified column {modified!r} that are not a date "
            f"and time, e.g. {samples}; text stamps are compared as instants (ISO 8601, an "
            "offset honoured, none read as UTC): fix or drop those rows, or merge without "
            "modified="
        )


def _duckdb_name(type_: pa.DataType) -> str:
    """The DuckDB name of an Arrow type (the store's checks speak DuckDB's names)."""
    if pa.types.is_decimal(type_):
        return f"DECIMAL({type_.precision},{type_.scale})"
    return _DUCKDB_NAMES.get(type_, str(type_).upper())


def _for_copy(batch: pa.Table) -> pa.Table:
    """Cast the Arrow columns PostgreSQL has no type for to the nearest wider one."""
    for index, field in enumerate(batch.schema):
        wider = _WIDER.get(field.type)
        if wider is not None:
            batch = batch.set_column(index, field.with_type(wider), batch.column(index).cast(wider))
    return batch
