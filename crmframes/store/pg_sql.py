"""Build the SQL text the campaign store runs on PostgreSQL, where it differs from DuckDB's.

Pure. Identifiers go through :func:`quote`; values are bound as ``?`` parameters (turned
into ``$n`` by the session) or read from a temporary table the batch was copied into. A
merge on PostgreSQL works on temporary tables, dropped before its transaction commits:

- ``BATCH``: the batch as copied (binary ``COPY``), with its row number ``SEQ``;
- ``STAGE``: the batch deduped on the key (only built when it had duplicates);
- ``PLAN``: per deduped row, its action (insert, update, unchanged, older).

Then one ``INSERT ... ON CONFLICT (key) DO UPDATE`` writes the inserted and updated rows;
columns the batch lacks keep their stored values because the update never names them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from crmframes.errors import DataError
from crmframes.store import sql as q

__all__ = [
    "CTID_STATEMENTS",
    "INTERNAL_TABLES",
    "advisory_lock",
    "create_schema",
    "create_table",
    "dedupe",
    "duckdb_type",
    "ensure_key_index",
    "has_key_index",
    "instant",
    "list_tables",
    "matched_stamps",
    "normalise_id_sql",
    "pg_type",
    "plan",
    "quote",
    "record_dtypes",
    "record_mark",
    "schema_exists",
    "set_search_path",
    "table_columns",
    "upsert",
    "upsert_option",
]

quote = q.quote

# crmframes' own tables, created in the store's schema when it is opened for writing.
INTERNAL_TABLES = {
    q.OPTIONS_TABLE: q.create_options_table(),
    q.DTYPES_TABLE: q.create_dtypes_table(),
    q.MARKS_TABLE: q.create_marks_table(),
}

# PostgreSQL type (format_type) -> the DuckDB name the store's checks and hints use.
_AS_DUCKDB = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "boolean": "BOOLEAN",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "timestamp without time zone": "TIMESTAMP",
    "date": "DATE",
    "bytea": "BLOB",
    "numeric": "DECIMAL",
}

# DuckDB name of an incoming column -> the PostgreSQL type to create (no unsigned types there).
_AS_POSTGRES = {
    "VARCHAR": "text",
    '"NULL"': "text",
    "TINYINT": "smallint",
    "UTINYINT": "smallint",
    "SMALLINT": "smallint",
    "USMALLINT": "integer",
    "INTEGER": "integer",
    "UINTEGER": "bigint",
    "BIGINT": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "HUGEINT": "numeric(39, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIMESTAMP": "timestamp without time zone",
    "DATE": "date",
    "BLOB": "bytea",
}


def duckdb_type(postgres: str) -> str:
    """Name a PostgreSQL column type as DuckDB does (unknown types upper-cased)."""
    return _AS_DUCKDB.get(postgres, postgres.upper())


def pg_type(duckdb: str, column: str) -> str:
    """The PostgreSQL type to create for an incoming column of this DuckDB type.

    Raises:
        DataError: PostgreSQL has no faithful type for it (lists, structs, intervals).
    """
    if duckdb.startswith("DECIMAL"):
        return duckdb.replace("DECIMAL", "numeric")
    if duckdb not in _AS_POSTGRES:
        raise DataError(
            f"column {column!r} is {duckdb}, which the PostgreSQL store cannot hold; "
            "convert it first, e.g. df[column].astype('str')"
        )
    return _AS_POSTGRES[duckdb]


# --- catalogue and session -------------------------------------------------------------


def schema_exists() -> str:
    """Select whether the schema named by the parameter exists."""
    return "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ?)"


def create_schema(schema: str) -> str:
    """Create the store's schema if it is missing."""
    return f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"


def set_search_path(schema: str) -> str:
    """Put the store's schema first, so unqualified names (and new tables) land there."""
    return f"SET search_path TO {quote(schema)}, public"


def list_tables() -> str:
    """Select the names of the tables in the schema named by the parameter."""
    return (
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind IN ('r', 'p') ORDER BY 1"
    )


def table_columns() -> str:
    """Select ``(name, type)`` of the columns of table (schema, name) given as parameters."""
    return (
        "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum"
    )


def advisory_lock() -> str:
    """Take the transaction-scoped advisory lock named by the parameter (a text)."""
    return "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"


# --- merge -----------------------------------------------------------------------------


def create_table(table: str, columns: Sequence[tuple[str, str]]) -> str:
    """Create a table with these ``(name, PostgreSQL type)`` columns."""
    body = ", ".join(f"{quote(name)} {type_}" for name, type_ in columns)
    return f"CREATE TABLE {quote(table)} ({body})"


def ensure_key_index(table: str, key: Sequence[str]) -> str:
    """Create the unique index ``ON CONFLICT`` needs on the key, if it is missing.

    The name is derived from the table and key, under the reserved prefix, within
    PostgreSQL's 63-byte limit.
    """
    digest = hashlib.sha1("\0".join([table, *key]).encode()).hexdigest()[:20]
    name = f"__crmframes_key_{digest}"
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({q_names(key)})"


def has_key_index() -> str:
    """Select whether table (schema, name) has a unique index on exactly the key columns.

    Parameters: schema, table, the key columns sorted, their count. Any unique index counts
    (a primary key of an existing table too), so a role that may write but not own the
    table never needs to create one.
    """
    return (
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
        "JOIN pg_catalog.pg_class c ON c.oid = i.indrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ? AND c.relname = ? AND i.indisunique AND i.indpred IS NULL "
        "AND (SELECT array_agg(CAST(a.attname AS text) ORDER BY a.attname) "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) "
        "= CAST(? AS text[]) AND i.indnatts = ?)"
    )


def q_names(columns: Sequence[str], prefix: str = "") -> str:
    """Quote and join column names, each with an optional alias prefix."""
    return ", ".join(prefix + quote(c) for c in columns)


def instant(column: str, *, text: bool) -> str:
    """Compare a modified column as instants (text cast to ``timestamptz``, UTC if no offset)."""
    return f"CAST({column} AS timestamptz)" if text else column


def matched_stamps(table: str, source: str, key: Sequence[str], modified: str) -> str:
    """Select the distinct stored text stamps of the rows whose key is in ``source``."""
    match = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in key)
    return (
        f"SELECT DISTINCT t.{quote(modified)} FROM {quote(table)} AS t "
        f"JOIN {quote(source)} AS s ON {match} WHERE t.{quote(modified)} IS NOT NULL"
    )


def dedupe(source: str, key: Sequence[str], modified: str | None, *, text: bool) -> str:
    """Keep one row per key in ``STAGE``: the newest ``modified``, then the last one."""
    newest = f"{instant(quote(modified), text=text)} DESC NULLS LAST, " if modified else ""
    return (
        f"CREATE TEMP TABLE {quote(q.STAGE)} AS SELECT DISTINCT ON ({q_names(key)}) * "
        f"FROM {quote(source)} ORDER BY {q_names(key)}, {newest}{quote(q.SEQ)} DESC"
    )


def plan(
    table: str,
    source: str,
    key: Sequence[str],
    *,
    modified: str | None,
    text: bool,
    compared: Sequence[tuple[str, bool]],
    cleared: Sequence[str],
) -> str:
    """Give every deduped batch row its action in ``PLAN`` (the row and its action).

    ``compared``: the batch's other columns, each with whether the table has it (a dry run
    adds no column: there an incoming NULL is unchanged); ``cleared``:
    deletion marks the batch lacks, which make a marked but otherwise equal row an update.
    """
    match = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in key)
    same = [
        f"s.{quote(c)} IS NOT DISTINCT FROM t.{quote(c)}" if stored else f"s.{quote(c)} IS NULL"
        for c, stored in compared
    ]
    same += [f"t.{quote(c)} IS NULL" for c in cleared]
    verdict = f"WHEN {' AND '.join(same) or 'true'} THEN '{q.UNCHANGED}' ELSE '{q.UPDATE}'"
    if modified:
        s_mod = instant(f"s.{quote(modified)}", text=text)
        t_mod = instant(f"t.{quote(modified)}", text=text)
        verdict = (
            f"WHEN {s_mod} < {t_mod} OR ({s_mod} IS NULL AND {t_mod} IS NOT NULL) "
            f"THEN '{q.OLDER}' WHEN {s_mod} > {t_mod} THEN '{q.UPDATE}' {verdict}"
        )
    return (
        f"CREATE TEMP TABLE {quote(q.PLAN)} AS SELECT s.*, "
        f"CASE WHEN t.ctid IS NULL THEN '{q.INSERT}' {verdict} END AS {quote(q.ACTION)} "
        f"FROM {quote(source)} AS s LEFT JOIN {quote(table)} AS t ON {match}"
    )


def count_actions() -> str:
    """Select ``(action, rows)`` from ``PLAN``."""
    return f"SELECT {quote(q.ACTION)}, count(*) FROM {quote(q.PLAN)} GROUP BY 1"


def upsert(
    table: str,
    source: str,
    key: Sequence[str],
    columns: Sequence[str],
    *,
    cleared: Sequence[str] = (),
    planned: bool,
) -> str:
    """Insert the new rows and rewrite the updated ones with ``INSERT ... ON CONFLICT``.

    ``planned``: the rows ``PLAN`` marks insert or update, read from the plan (else every
    ``source`` row, the first merge into a new table). A deletion mark in ``cleared`` is set to NULL.
    """
    names = [*columns, *cleared]
    values = [f"s.{quote(c)}" for c in columns] + ["NULL" for _ in cleared]
    rows = f"SELECT {', '.join(values)} FROM {quote(q.PLAN if planned else source)} AS s"
    if planned:  # the plan carries the batch's columns: no second join
        rows += f" WHERE s.{quote(q.ACTION)} IN ('{q.INSERT}', '{q.UPDATE}')"
    keys = {c.lower() for c in key}
    sets = [f"{quote(c)} = EXCLUDED.{quote(c)}" for c in names if c.lower() not in keys]
    action = f"UPDATE SET {', '.join(sets)}" if sets else "NOTHING"
    return (
        f"INSERT INTO {quote(table)} ({q_names(names)}) {rows} "
        f"ON CONFLICT ({q_names(key)}) DO {action}"
    )


# --- crmframes' own tables -------------------------------------------------------------


def upsert_option() -> str:
    """Set the option ``(name, value)`` given as parameters."""
    return (
        f"INSERT INTO {quote(q.OPTIONS_TABLE)} (name, value, updated_at) "
        "VALUES (?, ?, current_timestamp) ON CONFLICT (name) DO UPDATE "
        "SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at"
    )


def record_dtypes() -> str:
    """Set the dtypes of one table's columns: parameters table, [columns], [dtypes]."""
    return (
        f"INSERT INTO {quote(q.DTYPES_TABLE)} SELECT lower(?), lower(c), d "
        "FROM unnest(CAST(? AS text[]), CAST(? AS text[])) AS u(c, d) "
        "ON CONFLICT (table_name, column_name) DO UPDATE SET dtype = EXCLUDED.dtype"
    )


def record_mark() -> str:
    """Record a soft-delete column: parameters table, column (kept lower-case)."""
    return f"INSERT INTO {quote(q.MARKS_TABLE)} VALUES (lower(?), lower(?)) ON CONFLICT DO NOTHING"


class _CtidStatements:
    """Dedupe's row-id statements on PostgreSQL: ``ctid`` (stable while the table is locked)."""

    @staticmethod
    def select_with_rowid(table: str) -> str:
        """Select a whole table in physical order, each row's ctid (as text) first."""
        return f"SELECT CAST(ctid AS text) AS {quote(q.ROWID)}, * FROM {quote(table)} ORDER BY ctid"

    @staticmethod
    def update_by_rowid(table: str, source: str, columns: Sequence[str]) -> str:
        """Set ``columns`` of the rows whose ctid is in ``source`` to ``source``'s values."""
        assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
        return (
            f"UPDATE {quote(table)} AS t SET {assignments} FROM {quote(source)} AS s "
            f"WHERE t.ctid = CAST(s.{quote(q.ROWID)} AS tid)"
        )

    @staticmethod
    def delete_by_rowid(table: str, source: str) -> str:
        """Delete the rows whose ctid is in ``source``'s ``ROWID`` column."""
        return (
            f"DELETE FROM {quote(table)} WHERE ctid IN "
            f"(SELECT CAST({quote(q.ROWID)} AS tid) FROM {quote(source)})"
        )


CTID_STATEMENTS = _CtidStatements()


def normalise_id_sql(expression: str) -> str:
    """The PostgreSQL form of :func:`crmframes.store.keys.normalise_ids` for one expression."""
    from crmframes.store.keys import GUID_PATTERN

    return (
        f"(CASE WHEN {expression} ~ '^{GUID_PATTERN}$' "
        f"THEN lower({expression}) ELSE {expression} END)"
    )
