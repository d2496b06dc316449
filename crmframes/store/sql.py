"""Build the SQL text of every statement the campaign store runs.

Pure. Identifiers always go through :func:`quote`; values never enter the text: they are
bound as parameters (``?``) or read from an Arrow table registered under a fixed name.
The merge works on temporary tables, all dropped before its transaction commits:

- ``STAGE``: the batch deduped on the key (only built when the batch had duplicates);
- ``MATCHED``: rowid, key and modified stamp of the stored rows whose key is in the batch;
- ``TRIAGE``: per matched batch row, the verdict the modified stamps give (older, newer
  so updated, or the same so the columns must be compared);
- ``STORED``: the stored values needed to compare or to carry over, for those rows only;
- ``PLAN``: per matched batch row, its final action, the stored rowid, the batch values
  and the carried stored values. Batch rows that match nothing are inserted as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ACTION",
    "BATCH",
    "BATCH_NUMBERED",
    "COMPARE",
    "DTYPES_TABLE",
    "INSERT",
    "MARKS_TABLE",
    "MATCHED",
    "OLDER",
    "OPTIONS_TABLE",
    "PLAN",
    "ROWID",
    "SEQ",
    "STAGE",
    "STORED",
    "TEMPORARY_TABLES",
    "TRIAGE",
    "UNCHANGED",
    "UPDATE",
    "add_column",
    "copy_to_parquet",
    "count_actions",
    "count_duplicates",
    "create_dtypes_table",
    "create_marks_table",
    "create_options_table",
    "create_table",
    "dedupe",
    "delete_by_rowid",
    "delete_option",
    "delete_updated",
    "describe",
    "drop_temporary",
    "fetch_stored",
    "insert_all",
    "insert_changes",
    "instant",
    "list_tables",
    "match_keys",
    "plan",
    "quote",
    "record_dtypes",
    "record_mark",
    "select",
    "select_dtypes",
    "select_marks",
    "select_options",
    "select_with_rowid",
    "table_columns",
    "triage",
    "unreadable_stamps",
    "update_by_rowid",
    "upsert_option",
]

OPTIONS_TABLE = "_crmframes_options"
DTYPES_TABLE = "_crmframes_dtypes"  # the pandas dtype each column was last merged with
MARKS_TABLE = "_crmframes_deletion_marks"  # the soft-delete column of each table

# Names the merge gives its registered relations, temporary tables and helper columns; the
# ``__crmframes_`` prefix is reserved, so a user's table or column can never collide.
BATCH = "__crmframes_batch"
BATCH_NUMBERED = "__crmframes_batch_numbered"
STAGE = "__crmframes_stage"
MATCHED = "__crmframes_matched"
TRIAGE = "__crmframes_triage"
STORED = "__crmframes_stored"
PLAN = "__crmframes_plan"
SEQ = "__crmframes_seq"
ROWID = "__crmframes_rowid"
ACTION = "__crmframes_action"

INSERT, UPDATE, UNCHANGED, OLDER = "insert", "update", "unchanged", "older"
COMPARE = "compare"  # same modified stamp (or none): the columns decide
TEMPORARY_TABLES = (STAGE, MATCHED, TRIAGE, STORED, PLAN)


def quote(name: str) -> str:
    """Quote an identifier for DuckDB, doubling any ``"`` inside it.

    Examples:
        >>> quote('Account.Name')
        '"Account.Name"'
        >>> quote('a"b')
        '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def _names(columns: Iterable[str], prefix: str = "") -> str:
    return ", ".join(prefix + quote(c) for c in columns)


def _temporary(name: str) -> str:
    return f"temp.main.{quote(name)}"


# --- catalogue -------------------------------------------------------------------------


def list_tables() -> str:
    """Select the names of the store's own tables (temporary tables excluded)."""
    return (
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    )


def describe(relation: str) -> str:
    """Describe a relation: ``(column_name, column_type, ...)`` per column."""
    return f"DESCRIBE {quote(relation)}"


def table_columns() -> str:
    """Select ``(column_name, data_type)`` of the table bound to the one parameter."""
    return (
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = ? ORDER BY column_index"
    )


# --- merge -----------------------------------------------------------------------------


def create_table(table: str, columns: Sequence[tuple[str, str]]) -> str:
    """Create a table with these ``(name, type)`` columns and no key constraint.

    No PRIMARY KEY on purpose: on a file database PK upserts are 2-3x slower than the
    DELETE + INSERT the merge uses (reference/feasibility.md §4).
    """
    body = ", ".join(f"{quote(name)} {type_}" for name, type_ in columns)
    return f"CREATE TABLE {quote(table)} ({body})"


def add_column(table: str, column: str, type_: str) -> str:
    """Add one column (NULL in every existing row)."""
    return f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {type_}"


def count_duplicates(source: str, key: Sequence[str]) -> str:
    """Count the rows of ``source`` beyond the first for each key."""
    distinct = _names(key) if len(key) == 1 else f"({_names(key)})"
    return f"SELECT count(*) - count(DISTINCT {distinct}) FROM {quote(source)}"


def instant(column: str, *, text: bool) -> str:
    """The expression comparing a modified column's values as instants.

    A text stamp is cast to ``TIMESTAMPTZ``: its offset is honoured and a text without one is
    read in the session zone, UTC. Comparing the texts themselves would put
    ``"2024-01-02T10:00:00+01:00"`` after ``"2024-01-02T09:30:00Z"``, an hour earlier.
    :func:`unreadable_stamps` is checked first, so the cast cannot fail halfway.
    """
    return f"CAST({column} AS TIMESTAMPTZ)" if text else column


def unreadable_stamps(relation: str, column: str) -> str:
    """Select up to five distinct values of a text column that are not a date and time.

    Besides what the cast refuses, a value must start with a year (``2024-`` or ``2024/``):
    DuckDB also reads words such as ``epoch`` and ``infinity`` as timestamps.
    """
    name = quote(column)
    return (
        f"SELECT DISTINCT {name} FROM {quote(relation)} WHERE {name} IS NOT NULL AND "
        f"(NOT regexp_full_match({name}, '\\s*[0-9]{{4}}[-/].*') "
        f"OR TRY_CAST({name} AS TIMESTAMPTZ) IS NULL) ORDER BY 1 LIMIT 5"
    )


def dedupe(source: str, key: Sequence[str], modified: str | None, *, text: bool = False) -> str:
    """Keep one row per key in ``STAGE``: the newest ``modified``, then the last one.

    DuckDB upserts do not dedupe within a batch (feasibility.md §4), so this runs first.
    ``source`` must carry the row number ``SEQ``; ``text``: the stamps are text (see
    :func:`instant`).
    """
    newest = f"{instant(quote(modified), text=text)} DESC NULLS LAST, " if modified else ""
    return (
        f"CREATE OR REPLACE TEMP TABLE {quote(STAGE)} AS "
        f"SELECT * EXCLUDE ({quote(SEQ)}) FROM {quote(source)} "
        f"QUALIFY row_number() OVER (PARTITION BY {_names(key)} "
        f"ORDER BY {newest}{quote(SEQ)} DESC) = 1"
    )


def match_keys(table: str, source: str, key: Sequence[str], modified: str | None) -> str:
    """Find the stored rows whose key is in ``source``: ``MATCHED`` (rowid, key, modified).

    A semi join that reads only the key (and modified) columns of the table: reading every
    column of a 5M-row file table costs more than the rest of the merge (feasibility §4).
    """
    stamp = f", t.{quote(modified)}" if modified else ""
    return (
        f"CREATE OR REPLACE TEMP TABLE {quote(MATCHED)} AS "
        f"SELECT t.rowid AS {quote(ROWID)}, {_names(key, 't.')}{stamp} FROM {quote(table)} AS t "
        f"SEMI JOIN {quote(source)} AS s USING ({_names(key)})"
    )


def triage(source: str, key: Sequence[str], modified: str | None, *, text: bool = False) -> str:
    """Give each matched batch row a first verdict in ``TRIAGE`` (rowid, key, action).

    With a modified column, an older incoming row is ``OLDER`` and a newer one ``UPDATE``
    (its modified value differs, so it cannot be unchanged); an incoming row without a
    stamp cannot be shown newer than a stored row with one, so it is ``OLDER`` too; only
    rows with the same stamp (or none on either side) need the full comparison, ``COMPARE``.
    ``text``: the stamps are text, compared as instants (see :func:`instant`).
    """
    verdict = f"'{COMPARE}'"
    if modified:
        s_mod = instant(f"s.{quote(modified)}", text=text)
        m_mod = instant(f"m.{quote(modified)}", text=text)
        verdict = (
            f"CASE WHEN {s_mod} < {m_mod} OR ({s_mod} IS NULL AND {m_mod} IS NOT NULL) "
            f"THEN '{OLDER}' WHEN {s_mod} > {m_mod} THEN '{UPDATE}' ELSE '{COMPARE}' END"
        )
    return (
        f"CREATE OR REPLACE TEMP TABLE {quote(TRIAGE)} AS "
        f"SELECT m.{quote(ROWID)}, {_names(key, 's.')}, {verdict} AS {quote(ACTION)} "
        f"FROM {quote(source)} AS s JOIN {quote(MATCHED)} AS m USING ({_names(key)})"
    )


def fetch_stored(table: str, columns: Sequence[str], *, actions: Sequence[str]) -> str:
    """Copy ``columns`` of the triaged rows with these actions into ``STORED``, by rowid."""
    wanted = ", ".join(f"'{action}'" for action in actions)
    extra = "".join(f", {quote(c)}" for c in columns)
    return (
        f"CREATE OR REPLACE TEMP TABLE {quote(STORED)} AS "
        f"SELECT rowid AS {quote(ROWID)}{extra} FROM {quote(table)} WHERE rowid IN "
        f"(SELECT {quote(ROWID)} FROM {quote(TRIAGE)} WHERE {quote(ACTION)} IN ({wanted}))"
    )


def plan(
    source: str,
    key: Sequence[str],
    *,
    compared: Sequence[tuple[str, bool]],
    carried: Sequence[str],
    cleared: Sequence[tuple[str, str]] = (),
) -> str:
    """Settle the action of every matched batch row in ``PLAN``.

    Args:
        source: the deduped batch.
        key: the key columns.
        compared: the batch's other columns, each with whether the table has it (a column
            the table lacks is NULL there, so an incoming NULL leaves the row unchanged).
            A ``COMPARE`` row equal on all of them (NULL-safe) is ``UNCHANGED``.
        carried: stored columns the batch lacks; their stored values are carried into the
            rewritten row so that a batch never blanks a column it did not bring.
        cleared: ``(column, type)`` of deletion marks the batch lacks (also in ``STORED``):
            a record the batch brings is live, so a rewritten row gets NULL there, and a
            row that would be unchanged but is marked is rewritten.
    """
    same = [
        f"s.{quote(c)} IS NOT DISTINCT FROM st.{quote(c)}" if stored else f"s.{quote(c)} IS NULL"
        for c, stored in compared
    ]
    same += [f"st.{quote(c)} IS NULL" for c, _ in cleared]
    action = f"tr.{quote(ACTION)}"
    blank = {c for c, _ in cleared}
    carry = "".join(f", st.{quote(c)}" for c in carried if c not in blank)
    carry += "".join(f", CAST(NULL AS {type_}) AS {quote(c)}" for c, type_ in cleared)
    return (
        f"CREATE OR REPLACE TEMP TABLE {quote(PLAN)} AS SELECT "
        f"CASE WHEN {action} <> '{COMPARE}' THEN {action} "
        f"WHEN {' AND '.join(same) or 'true'} THEN '{UNCHANGED}' ELSE '{UPDATE}' END "
        f"AS {quote(ACTION)}, tr.{quote(ROWID)}, s.*{carry} "
        f"FROM {quote(source)} AS s JOIN {quote(TRIAGE)} AS tr USING ({_names(key)}) "
        f"LEFT JOIN {quote(STORED)} AS st ON st.{quote(ROWID)} = tr.{quote(ROWID)}"
    )


def count_actions() -> str:
    """Select ``(action, rows)`` from ``PLAN``."""
    return f"SELECT {quote(ACTION)}, count(*) FROM {quote(PLAN)} GROUP BY ALL"


def delete_updated(table: str) -> str:
    """Delete the stored rows the plan rewrites, by rowid (no second join on the key)."""
    return (
        f"DELETE FROM {quote(table)} WHERE rowid IN "
        f"(SELECT {quote(ROWID)} FROM {quote(PLAN)} WHERE {quote(ACTION)} = '{UPDATE}')"
    )


def insert_changes(table: str, source: str, key: Sequence[str]) -> str:
    """Insert the new rows (keys not stored) and the plan's updated rows, by column name."""
    return (
        f"INSERT INTO {quote(table)} BY NAME ("
        f"SELECT s.* FROM {quote(source)} AS s ANTI JOIN {quote(MATCHED)} USING ({_names(key)}) "
        f"UNION ALL BY NAME SELECT * EXCLUDE ({_names([ACTION, ROWID])}) "
        f"FROM {quote(PLAN)} WHERE {quote(ACTION)} = '{UPDATE}')"
    )


def insert_all(table: str, source: str) -> str:
    """Insert every row of ``source`` (the first merge into a new table)."""
    return f"INSERT INTO {quote(table)} BY NAME SELECT * FROM {quote(source)}"


def drop_temporary(name: str) -> str:
    """Drop one of the merge's temporary tables."""
    return f"DROP TABLE IF EXISTS {_temporary(name)}"


# --- dedupe ----------------------------------------------------------------------------


def select_with_rowid(table: str) -> str:
    """Select a whole table with each row's rowid first, as ``ROWID``."""
    return f"SELECT rowid AS {quote(ROWID)}, * FROM {quote(table)}"


def update_by_rowid(table: str, source: str, columns: Sequence[str]) -> str:
    """Set ``columns`` of the rows whose rowid is in ``source`` to ``source``'s values."""
    assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
    return (
        f"UPDATE {quote(table)} SET {assignments} FROM {quote(source)} AS s "
        f"WHERE {quote(table)}.rowid = s.{quote(ROWID)}"
    )


def delete_by_rowid(table: str, source: str) -> str:
    """Delete the rows whose rowid is in ``source``'s ``ROWID`` column."""
    return f"DELETE FROM {quote(table)} WHERE rowid IN (SELECT {quote(ROWID)} FROM {quote(source)})"


# --- reads -----------------------------------------------------------------------------


def select(
    table: str,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    order_by: Sequence[tuple[str, str]] = (),
) -> str:
    """Select from one table; ``where`` is the caller's SQL, its values bound as ``?``."""
    text = f"SELECT {_names(columns) if columns else '*'} FROM {quote(table)}"
    if where:
        text += f" WHERE ({where})"
    if order_by:
        text += " ORDER BY " + ", ".join(f"{quote(c)} {d.upper()}" for c, d in order_by)
    return text


def copy_to_parquet(table: str) -> str:
    """Copy a whole table to the Parquet file whose path is bound to the one parameter."""
    return f"COPY (SELECT * FROM {quote(table)}) TO ? (FORMAT parquet)"


# --- options ---------------------------------------------------------------------------


def create_options_table() -> str:
    """Create the options table (the automatic index lives there) if it is missing."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(OPTIONS_TABLE)} "
        "(name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL)"
    )


def select_options(*, one: bool) -> str:
    """Select ``(name, value)`` of every option, or of the one named by the parameter."""
    where = " WHERE name = ?" if one else ""
    return f"SELECT name, value FROM {quote(OPTIONS_TABLE)}{where} ORDER BY name"


def upsert_option() -> str:
    """Set the option ``(name, value)`` given as parameters."""
    return (
        f"INSERT OR REPLACE INTO {quote(OPTIONS_TABLE)} (name, value, updated_at) "
        "VALUES (?, ?, current_timestamp)"
    )


def delete_option() -> str:
    """Delete the option named by the parameter; returns the deleted count."""
    return f"DELETE FROM {quote(OPTIONS_TABLE)} WHERE name = ?"


# --- dtypes ----------------------------------------------------------------------------


def create_dtypes_table() -> str:
    """Create the table remembering each column's pandas dtype, if it is missing.

    Names are kept lower-case: DuckDB table and column names are case-insensitive.
    """
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(DTYPES_TABLE)} (table_name VARCHAR, "
        "column_name VARCHAR, dtype VARCHAR NOT NULL, PRIMARY KEY (table_name, column_name))"
    )


def record_dtypes() -> str:
    """Set the dtypes of one table's columns: parameters table, [columns], [dtypes]."""
    return (
        f"INSERT OR REPLACE INTO {quote(DTYPES_TABLE)} "
        "SELECT lower(?), lower(unnest(?::VARCHAR[])), unnest(?::VARCHAR[])"
    )


def select_dtypes() -> str:
    """Select ``(column, dtype)`` of the table named (lower-case) by the parameter."""
    return f"SELECT column_name, dtype FROM {quote(DTYPES_TABLE)} WHERE table_name = lower(?)"


# --- deletion marks --------------------------------------------------------------------


def create_marks_table() -> str:
    """Create the table naming each table's soft-delete columns, if it is missing."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(MARKS_TABLE)} (table_name VARCHAR, "
        "column_name VARCHAR, PRIMARY KEY (table_name, column_name))"
    )


def record_mark() -> str:
    """Record a soft-delete column: parameters table, column (kept lower-case)."""
    return f"INSERT OR IGNORE INTO {quote(MARKS_TABLE)} VALUES (lower(?), lower(?))"


def select_marks() -> str:
    """Select the soft-delete columns of the table named by the parameter."""
    return f"SELECT column_name FROM {quote(MARKS_TABLE)} WHERE table_name = lower(?)"
