"""Keep one DuckDB table per CRM object: merge frames in, read frames out, hold options.

Edge: DuckDB. SQL text comes from :mod:`crmframes.store.sql` and runs through
:class:`~crmframes.store.session.Session`, the one place DuckDB errors become
:class:`~crmframes.errors.StoreError`. Values are bound as parameters or read from a
registered Arrow table, never formatted into SQL.

A merge is one transaction: dedupe the batch on the key, find the stored rows with the
same key (one semi join on the key column), settle an action per matched row, then add
new columns, delete the rows to rewrite and insert the new and rewritten ones. DELETE +
INSERT without a primary key is the fast upsert on a file database; MERGE and primary-key
upserts are slower there (feasibility.md §4). A watermark option passed with the batch is
written inside the same transaction, so the automatic index never moves past data that is
not stored (DESIGN §4.4).

Longer than 500 lines: the CampaignStore class is the store's public surface (merge, read, sql,
options, dedupe, deletions); its steps are already delegated to sql, session, options,
duplicates and deletions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from crmframes import display
from crmframes.arguments import (
    check_bool,
    check_frame,
    check_instance,
    check_literal,
    check_match_options,
    check_names,
    check_optional_str,
    check_order_by,
    check_path,
    check_rules,
    check_stored_values,
    check_str,
)
from crmframes.dedupe import DedupeResult
from crmframes.dedupe.matching import BlockSpec, Method, NormalizerSpec, OnSpec, Scorer
from crmframes.dedupe.survivors import KeepSpec
from crmframes.errors import (
    ArgumentTypeError,
    ConfigError,
    DataError,
    StoreError,
)
from crmframes.store import sql as q
from crmframes.store.checks import (
    Columns,
    OrderBy,
    as_list,
    check_batch,
    check_table_name,
    check_types,
    column_not_in_table,
    is_internal,
    merge_arguments,
    normalise_order_by,
)
from crmframes.store.deletions import apply_deletions_to_table, deleted_ids, deletion_marks
from crmframes.store.dtypes import arrow_to_frame, frame_to_arrow, storage_type
from crmframes.store.duplicates import check_clusters, dedupe_table
from crmframes.store.keys import normalise_key_columns
from crmframes.store.merge import MergeResult, Watermarked
from crmframes.store.options import StoreOptions, companion_options
from crmframes.store.pg_session import is_postgres_url, is_url, mask_url
from crmframes.store.protocols import Deletions
from crmframes.store.session import Session

__all__ = ["CampaignStore"]


class CampaignStore:
    """The campaign database: one DuckDB table per CRM object, plus options.

    Thread-safe: one lock serialises the calls (a DuckDB connection is not thread-safe),
    shared by every store on the same file in this process, so their merges never
    interleave; another process cannot open a file this one writes.

    Args:
        path: the database file, or ``":memory:"`` for a store that lives as long as
            this object.
        read_only: open an existing file without the right to change it (other
            processes may then open it read-only too); dry-run merges still work.

    Raises:
        StoreError: the file cannot be opened (missing, locked by another process, or
            ``read_only`` with ``":memory:"``).

    Examples:
        >>> import pandas as pd
        >>> with CampaignStore() as store:
        ...     print(store.merge("Contact", pd.DataFrame({"Id": ["003A"]}), key="Id"))
        merged 1 row into 'Contact' (new table): 1 inserted, 0 updated, 0 unchanged, 0 skipped as older
    """

    def __new__(cls, path: str | os.PathLike[str] = ":memory:", **options: Any) -> CampaignStore:
        """Open the DuckDB store, or the PostgreSQL one for a ``postgresql://`` URL."""
        if cls is CampaignStore and is_postgres_url(path):
            from crmframes.store.postgres import PostgresCampaignStore

            return super().__new__(PostgresCampaignStore)
        if is_url(path):  # never a DuckDB file name: refused, its password masked
            raise ConfigError(
                f"{mask_url(str(path))} is not a store crmframes opens: give a DuckDB file, "
                "':memory:' or a postgresql:// URL"
            )
        return super().__new__(cls)

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        read_only: bool = False,
        schema: str | None = None,
    ) -> None:
        check_instance("path", path, (str, os.PathLike), "a file path or ':memory:'")
        check_bool("read_only", read_only)
        if schema is not None:
            raise ConfigError("schema= is for a PostgreSQL store (a postgresql:// URL)")
        self._session = Session(path, read_only=read_only)
        self._options = StoreOptions(self._session)

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._session.path

    @property
    def journals(self) -> Path:
        """The folder for this store's export journals: beside the file (``<file>.journals``)."""
        return Path(self.path + ".journals")

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""
        return self._session.read_only

    def __repr__(self) -> str:
        flags = ", read_only=True" if self.read_only else ""
        closed = " (closed)" if self._session.closed else ""
        return f"CampaignStore({self.path!r}{flags}){closed}"

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; closing twice is harmless."""
        self._session.close()

    @property
    def options(self) -> StoreOptions:
        """The store's options (string names to string values), persisted in the file."""
        return self._options

    def tables(self) -> list[str]:
        """Return the names of the tables holding CRM objects, sorted."""
        with self._session.lock:
            return [name for name in self._session.tables() if not is_internal(name)]

    def merge(
        self,
        table: str,
        data: pd.DataFrame | Watermarked,
        *,
        key: str | Sequence[str] | None = None,
        modified: str | None = None,
        dry_run: bool = False,
    ) -> MergeResult:
        """Upsert a frame into a table, in one transaction.

        The batch is deduped on ``key`` first (the last row wins, or the newest
        ``modified``). A row whose key is new is inserted; a stored row is rewritten when an
        incoming column differs (NULL-safe), left alone when none does, and never
        overwritten by an incoming row with an older ``modified`` (text stamps compare as
        instants: offsets honoured, none read as UTC). The first merge creates the table;
        later batches add their new columns; a column a batch lacks keeps its stored values,
        except a deletion mark (see :meth:`apply_deletions`), which a row the batch brings
        clears: the record is live in the CRM again. Key values shaped like GUIDs are
        stored lower-case and match in any case, as Dataverse matches them; other ids
        (Salesforce's are case-sensitive) match exactly. On any error nothing changes:
        rows, columns and options.

        Args:
            table: the table, usually the CRM object name (created if missing).
            data: a frame, or an import result (:class:`Watermarked`) whose ``key`` and
                ``modified_field`` are the defaults and whose ``watermark`` option is
                written with the rows, even when there are none (a plain frame never
                touches an option).
            key: the identity column(s); required for a plain frame.
            modified: the last-modified column used to refuse older rows.
            dry_run: count what would happen and write nothing.

        Returns:
            The counts; ``rows + duplicates`` is the batch length.

        Raises:
            TypeError: ``data`` is neither a frame nor an import result, or a watermark
                is not a pair of strings.
            ConfigError: no key, or a reserved table name.
            ColumnNotFoundError: ``key`` or ``modified`` is not in the frame.
            DataError: null keys, a column whose type conflicts with the stored one, a
                frame Arrow cannot type, a stored table without the key column, or a text
                ``modified`` value (batch or table) that is not a date and time.
            StoreError: the store is read-only, or DuckDB failed (the transaction was
                rolled back).
        """
        check_str("table", table, what="a table name")
        frame = data.frame if isinstance(data, Watermarked) else data
        if not isinstance(frame, pd.DataFrame):
            raise ArgumentTypeError(
                f"merge takes a DataFrame or an import result, not {type(data).__name__}"
            )
        check_frame(frame, "data")
        check_stored_values(frame, "data")
        if key is not None:
            check_names("key", key)
        check_optional_str("modified", modified, what="a column name")
        check_bool("dry_run", dry_run)
        df, keys, modified, watermark = merge_arguments(data, key, modified)
        check_table_name(table)
        check_batch(df, keys, modified)
        df = normalise_key_columns(df, keys)  # GUIDs match in any case, as in the CRM
        written = None if dry_run else watermark
        options = {} if written is None else {**dict([written]), **companion_options(data)}
        return self._merge_checked(table, df, keys, modified, written, options, dry_run=dry_run)

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
        """Merge a checked batch (the backend's part of :meth:`merge`)."""
        batch = frame_to_arrow(df)
        dtypes = {str(column): str(dtype) for column, dtype in df.dtypes.items()}
        if not dry_run:
            self._session.require_writable(f"merge into {table!r}")
        with self._session.lock:
            if batch.num_rows == 0:
                if written is not None:
                    self._options.set_many(options)
                name = self._find_table(table) or table
                return MergeResult(table=name, watermark=written, dry_run=dry_run)
            with (
                self._session.registered(q.BATCH, batch),
                self._session.transaction(commit=not dry_run),
            ):
                result = self._merge_batch(table, batch, keys, modified, dry_run=dry_run)
                if not dry_run:
                    self._record_dtypes(result.table, dtypes)
                if written is not None:
                    self._options.set_many(options)  # joins this transaction
            return replace(result, watermark=written)

    def read(
        self,
        table: str,
        *,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        params: Sequence[Any] | None = None,
        order_by: OrderBy | None = None,
    ) -> pd.DataFrame:
        """Read a table (or some of its columns and rows) into a frame.

        Args:
            table: the table.
            columns: the columns to read; all by default.
            where: a SQL condition, e.g. ``'"MailingCity" = ?'``; put values in ``params``.
            params: values for the ``?`` in ``where``.
            order_by: column names, or ``(name, "asc" | "desc")`` pairs.

        Raises:
            StoreError: no such table (the message lists the tables), or DuckDB failed.
            ColumnNotFoundError: a column in ``columns`` or ``order_by`` is not in the table.
        """
        check_str("table", table, what="a table name")
        if columns is not None:
            check_names("columns", columns)
        if where is not None:
            check_str("where", where, what="a SQL condition")
        if params is not None:
            check_instance("params", params, (list, tuple), "a list of values for the ? in where")
        check_order_by("order_by", order_by)
        wanted = as_list(columns)
        order = normalise_order_by(order_by)
        with self._session.lock:
            name = self._require_table(table)
            available = [column for column, _ in self._session.columns(name)]
            known = {column.lower() for column in available}
            for column in [*wanted, *(column for column, _ in order)]:
                if column.lower() not in known:
                    raise column_not_in_table(column, available, name)
            spelled = {column.lower(): column for column in available}  # as stored
            wanted = [spelled[column.lower()] for column in wanted]
            order = [(spelled[column.lower()], direction) for column, direction in order]
            statement = q.select(name, columns=wanted, where=where, order_by=order)
            result = self._session.execute(statement, params, fetch="arrow")
            return arrow_to_frame(result, self._recorded_dtypes(name))

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run one SQL statement on the store and return its result as a frame.

        Args:
            query: DuckDB SQL; tables are named after the CRM objects (quote mixed-case
                names: ``SELECT * FROM "Contact"``).
            params: values for ``?`` (a sequence) or ``$name`` (a mapping) placeholders.

        Raises:
            StoreError: DuckDB refused or failed the statement.
        """
        check_str("query", query, what="a SQL statement")
        if params is not None:
            check_instance("params", params, (list, tuple, Mapping), "a list or a dict of values")
        with self._session.lock:
            return arrow_to_frame(self._session.execute(query, params, fetch="arrow"))

    def apply_deletions(
        self,
        table: str,
        deleted: pd.DataFrame | Deletions,
        *,
        key: str | None = None,
        mode: Literal["soft", "hard"] = "soft",
        column: str = "crmDeletedDate",
    ) -> int:
        """Apply records deleted in the CRM to a table, in one transaction.

        Args:
            table: the table holding the CRM object's records.
            deleted: a :func:`~crmframes.import_deleted_from_crm` result, or a frame of ids
                (with a ``deletedDate`` column for a soft delete's timestamp, optional).
            key: the id column, in both the table and the frame (default: the result's key).
            mode: ``"soft"`` stamps ``column`` with the deletion time (added if missing) and
                keeps the row; ``"hard"`` removes the row.
            column: the soft-delete column. It is remembered: a later :meth:`merge` that
                brings the record again (restored or re-created in the CRM) clears it.

        Ids compare as the CRM compares them: GUIDs in any case, other ids exactly.

        Returns:
            How many stored rows were marked or removed (ids not in the table are ignored).

        Raises:
            ConfigError: a bad mode, or no key.
            ColumnNotFoundError: the key is not in the frame or the table.
            StoreError: no such table, or DuckDB failed (nothing changed).
        """
        check_str("table", table, what="a table name")
        frame = deleted.frame if isinstance(deleted, Deletions) else deleted
        check_instance(
            "deleted", frame, pd.DataFrame, "an import_deleted_from_crm result or a DataFrame"
        )
        check_frame(frame, "deleted")
        check_optional_str("key", key, what="a column name")
        check_literal("mode", mode, ("soft", "hard"))
        check_str("column", column, what="a column name")
        key = key or (deleted.key if isinstance(deleted, Deletions) else None)
        if key is None:
            raise ConfigError("apply_deletions needs key=: the id column")
        ids = deleted_ids(frame, key)
        self._session.require_writable(f"apply deletions to {table!r}")
        return self._apply_deletions_checked(table, ids, key=key, mode=mode, column=column)

    def _apply_deletions_checked(
        self, table: str, ids: pa.Table, *, key: str, mode: Literal["soft", "hard"], column: str
    ) -> int:
        """Apply checked deletions (the backend's part of :meth:`apply_deletions`)."""
        with self._session.lock:
            name = self._require_table(table)
            return apply_deletions_to_table(
                self._session, name, ids, key=key, mode=mode, column=column
            )

    def dedupe(
        self,
        table: str,
        *,
        on: OnSpec | None = None,
        clusters: pd.DataFrame | None = None,
        keep: KeepSpec = "recent",
        key: str | None = None,
        modified: str | None = None,
        merge: str | Sequence[str | Sequence[str]] | None = None,
        fuzzy: str | Sequence[str] | None = None,
        block: BlockSpec | None = None,
        normalizers: Mapping[str, NormalizerSpec] | None = None,
        threshold: float = 0.9,
        scorer: Scorer = "jaro_winkler",
        max_pairs: int = 25_000_000,
        method: Method = "auto",
        dry_run: bool = False,
    ) -> DedupeResult:
        """Delete duplicate rows of a table, keeping one per cluster, in one transaction.

        Reads the table, runs :func:`~crmframes.dedupe.deduplicate`, then writes the
        fields ``merge`` filled into the survivors and deletes the removed rows. On any
        error, or with ``dry_run``, nothing is written.

        Args:
            table: the table.
            on: the match rules (see :func:`~crmframes.dedupe.find_duplicates`).
            clusters: instead of ``on``, clusters decided (and reviewed) beforehand: a frame
                with ``key`` and ``clusterId`` columns, such as an edited
                :func:`~crmframes.dedupe.find_duplicates` result. Stored rows it does not
                name, or names with a null ``clusterId``, are left alone.
            keep: the survivorship rule(s) (see :func:`~crmframes.dedupe.deduplicate`).
            key: the id column that names survivors in ``removed.survivorKey`` (default:
                the row's position in the table as read).
            modified: the last-modified column for ``keep="recent"``.
            merge: field groups to fill in survivors from their duplicates.
            fuzzy: columns compared by similarity.
            block: which rows fuzzy rules compare.
            normalizers: per-column normalisers.
            threshold: the lowest similarity a fuzzy rule accepts.
            scorer: the string similarity of fuzzy rules.
            max_pairs: the most pairs one fuzzy rule may compare.
            method: score a flat list of columns or apply rules (see ``find_duplicates``).
            dry_run: decide and report, write nothing.

        Returns:
            The :class:`~crmframes.dedupe.DedupeResult`, with ``table`` and ``dry_run`` set.

        Raises:
            ColumnNotFoundError: a column named by the arguments is not in the table.
            ConfigError: a malformed rule or argument (nothing read past the table).
            StoreError: no such table, a read-only store (unless ``dry_run``), or DuckDB
                failed (rolled back).
        """
        check_str("table", table, what="a table name")
        check_match_options(
            on=on,
            fuzzy=fuzzy,
            normalizers=normalizers,
            threshold=threshold,
            max_pairs=max_pairs,
        )
        if clusters is not None:
            check_frame(clusters, "clusters")
        if merge is not None:
            check_rules("merge", merge)
        check_optional_str("key", key, what="a column name")
        check_optional_str("modified", modified, what="a column name")
        check_bool("dry_run", dry_run)
        if (on is None) == (clusters is None):
            raise ConfigError("dedupe needs on= (match rules) or clusters= (reviewed clusters)")
        if clusters is not None:
            clusters = check_clusters(clusters, key)
        options = {
            "on": on,
            "keep": keep,
            "key": key,
            "modified": modified,
            "merge": merge,
            "fuzzy": fuzzy,
            "block": block,
            "normalizers": normalizers,
            "threshold": threshold,
            "scorer": scorer,
            "max_pairs": max_pairs,
            "method": method,
        }
        if not dry_run:
            self._session.require_writable(f"dedupe {table!r}")
        with self._session.lock:
            name = self._require_table(table)
            dtypes = self._recorded_dtypes(name)
            return self._dedupe_table(
                name, dtypes, dry_run=dry_run, options=options, clusters=clusters
            )

    def _dedupe_table(
        self,
        table: str,
        dtypes: Mapping[str, str],
        *,
        dry_run: bool,
        options: Mapping[str, Any],
        clusters: pd.DataFrame | None,
    ) -> DedupeResult:
        """Deduplicate a stored table (the backend's part of :meth:`dedupe`)."""
        return dedupe_table(
            self._session, table, dtypes, dry_run=dry_run, options=options, clusters=clusters
        )

    def to_parquet(self, table: str, path: str | os.PathLike[str]) -> Path:
        """Write a whole table to a Parquet file (timestamps stay UTC-adjusted).

        Returns:
            The path written.

        Raises:
            StoreError: no such table, or the file cannot be written.
        """
        check_str("table", table, what="a table name")
        target = check_path("path", path)
        with self._session.lock:
            name = self._require_table(table)
            self._export_parquet(name, target)
        return target

    def _export_parquet(self, table: str, target: Path) -> None:
        """Write a stored table to ``target`` (the backend's part of :meth:`to_parquet`)."""
        self._session.execute(q.copy_to_parquet(table), [str(target)])

    # --- the merge, inside its transaction -------------------------------------------

    def _merge_batch(
        self, table: str, batch: pa.Table, keys: list[str], modified: str | None, *, dry_run: bool
    ) -> MergeResult:
        existing = self._find_table(table)
        name = existing or table
        stored = self._session.columns(existing) if existing else []
        incoming = self._session.describe(q.BATCH)
        check_types(name, incoming, stored, keys)
        text = _text_stamps(modified, incoming, stored)
        if text and modified is not None:
            self._check_stamps(q.BATCH, modified, "the batch")
        source, duplicates = self._dedupe(batch, keys, modified, text=text)
        rows = batch.num_rows - duplicates
        stored_names = {column.lower() for column, _ in stored}
        added = [(c, t) for c, t in incoming if c.lower() not in stored_names]
        run = self._session.execute
        if existing is None:
            counts = {q.INSERT: rows}
            if not dry_run:
                run(q.create_table(name, [(c, storage_type(t)) for c, t in incoming]))
                run(q.insert_all(name, source))
        else:
            counts = self._plan(name, source, rows, incoming, stored, keys, modified, text=text)
            if not dry_run:
                for column, type_ in added:
                    run(q.add_column(name, column, storage_type(type_)))
                if counts.get(q.UPDATE):
                    run(q.delete_updated(name))
                if counts.get(q.UPDATE) or counts.get(q.INSERT):
                    run(q.insert_changes(name, source, keys))
        for temporary in q.TEMPORARY_TABLES:
            run(q.drop_temporary(temporary))
        return MergeResult(
            table=name,
            inserted=counts.get(q.INSERT, 0),
            updated=counts.get(q.UPDATE, 0),
            unchanged=counts.get(q.UNCHANGED, 0),
            skipped_older=counts.get(q.OLDER, 0),
            duplicates=duplicates,
            columns_added=() if existing is None else tuple(c for c, _ in added),
            created=existing is None,
            dry_run=dry_run,
        )

    def _dedupe(
        self, batch: pa.Table, keys: list[str], modified: str | None, *, text: bool
    ) -> tuple[str, int]:
        """Return the relation holding one row per key, and how many rows were dropped."""
        counted = self._session.execute(q.count_duplicates(q.BATCH, keys), fetch="rows")
        duplicates = int(counted[0][0])
        if not duplicates:
            return q.BATCH, 0
        numbered = batch.append_column(q.SEQ, pa.array(np.arange(batch.num_rows)))
        with self._session.registered(q.BATCH_NUMBERED, numbered):
            self._session.execute(q.dedupe(q.BATCH_NUMBERED, keys, modified, text=text))
        return q.STAGE, duplicates

    def _plan(
        self,
        table: str,
        source: str,
        rows: int,
        incoming: Columns,
        stored: Columns,
        keys: list[str],
        modified: str | None,
        *,
        text: bool,
    ) -> dict[str, int]:
        """Give every deduped batch row an action; return the count per action.

        Only the key and modified columns of the whole table are read; other stored
        columns are fetched by rowid for the few rows that need them (feasibility §4).
        A record the batch brings (not older than the stored row) is live: its deletion
        marks are cleared, even when it is otherwise unchanged (restored in the CRM).
        """
        stored_names = {column.lower() for column, _ in stored}
        incoming_names = {column.lower() for column, _ in incoming}
        for column in keys:
            if column.lower() not in stored_names:
                raise DataError(
                    f"table {table!r} has no key column {column!r} to match on; its columns "
                    f"are: {', '.join(c for c, _ in stored)}"
                )
        stamp = modified if modified and modified.lower() in stored_names else None
        compared = [(c, c.lower() in stored_names) for c, _ in incoming if c not in keys]
        carried = [c for c, _ in stored if c.lower() not in incoming_names]
        cleared = [(c, t) for c, t in deletion_marks(self._session, table, stored) if c in carried]
        run = self._session.execute
        run(q.match_keys(table, source, keys, stamp))
        if stamp is not None and text:
            self._check_stamps(q.MATCHED, stamp, f"table {table!r}")
        run(q.triage(source, keys, stamp, text=text))
        # Stored values are needed to compare same-stamp rows, and to carry the columns the
        # batch lacks into the rows that will be rewritten.
        needed = [c for c, in_table in compared if in_table] + carried
        run(
            q.fetch_stored(table, needed, actions=[q.COMPARE, q.UPDATE] if carried else [q.COMPARE])
        )
        run(q.plan(source, keys, compared=compared, carried=carried, cleared=cleared))
        counts = {str(action): int(n) for action, n in run(q.count_actions(), fetch="rows")}
        counts[q.INSERT] = rows - sum(counts.values())  # the rows that matched nothing
        return counts

    def _check_stamps(self, relation: str, modified: str, where: str) -> None:
        """Refuse text stamps in ``relation`` that are not a date and time (before any cast)."""
        bad = self._session.execute(q.unreadable_stamps(relation, modified), fetch="rows")
        if bad:
            samples = ", ".join(repr(value) for (value,) in bad)
            raise DataError(
                f"{where} has values of the modified column {modified!r} that are not a date "
                f"and time, e.g. {samples}; text stamps are compared as instants (ISO 8601, "
                "an offset honoured, none read as UTC): fix or drop those rows, or merge "
                "without modified="
            )

    # --- dtypes: what read() gives back ------------------------------------------------

    def _record_dtypes(self, table: str, dtypes: Mapping[str, str]) -> None:
        """Remember the pandas dtype of each merged column (inside the merge transaction)."""
        self._session.execute(q.create_dtypes_table())
        self._session.execute(q.record_dtypes(), [table, list(dtypes), list(dtypes.values())])

    def _recorded_dtypes(self, table: str) -> dict[str, str]:
        if q.DTYPES_TABLE not in self._session.tables():
            return {}
        rows = self._session.execute(q.select_dtypes(), [table], fetch="rows")
        return {str(column): str(dtype) for column, dtype in rows}

    # --- catalogue --------------------------------------------------------------------

    def _find_table(self, table: str) -> str | None:
        """The stored name of ``table`` (DuckDB names are case-insensitive), or None."""
        wanted = table.lower()
        return next((name for name in self._session.tables() if name.lower() == wanted), None)

    def _require_table(self, table: str) -> str:
        name = self._find_table(table)
        if name is None:
            tables = self.tables()
            listed = ", ".join(map(repr, tables)) if tables else "none yet (merge a frame first)"
            raise StoreError(
                f"no table {table!r} in the campaign store {self.path!r}; tables: {listed}"
            )
        return name

    def _repr_html_(self) -> str:
        if self._session.closed:
            return display.card(repr(self))
        with self._session.lock:
            names = [name for name in self._session.tables() if not is_internal(name)]
            count = "SELECT count(*) FROM {}"
            counts = [self._session.execute(count.format(q.quote(n)), fetch="rows") for n in names]
            widths = [len(self._session.columns(name)) for name in names]
        rows = [(n, c[0][0], w) for n, c, w in zip(names, counts, widths, strict=True)]
        marks = [(name, v) for name, v in self.options.items() if name.startswith("LASTIMPORT_")]
        tables = display.table(["table", "rows", "columns"], rows) if rows else "none yet"
        watermarks = display.table(["option", "value"], marks) if marks else ""
        title = f"campaign store {self.path}" + (" (read only)" if self.read_only else "")
        return display.card(title, sections=[("tables", tables), ("watermarks", watermarks)])


def _text_stamps(modified: str | None, incoming: Columns, stored: Columns) -> bool:
    """Whether the modified column holds text (in the batch or the table)."""
    if modified is None:
        return False
    wanted = modified.lower()
    types = [t for c, t in [*incoming, *stored] if c.lower() == wanted]
    return "VARCHAR" in types
