"""Check a whole job against its store before its first step runs: every table it reads exists.

Orchestration. A step reads store tables (a source table, the tables a source query names,
the table a dedupe cleans) and writes others (an import's or merge's table, a dedupe's
removed rows, a reconcile's findings, a rejects table). Each table a step reads must be in
the store already or be written by an earlier step; a source file must exist. Otherwise the
job is refused with one line naming the place (``job.yaml:14: steps[2].export.source.table:
...``) before any CRM call or store write, instead of failing half-way after earlier steps
already changed the CRM and the store. Reserved table names and control characters are
refused earlier still, when the job file is read (:mod:`crmframes.specs`).

Query sources are parsed, never run: DuckDB's own parser (``json_serialize_sql``) lists the
tables a query reads, so what counts as a table is exactly what DuckDB would look up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from crmframes.errors import ConfigError, StoreError
from crmframes.runner.handling import rejects_of
from crmframes.specs import (
    DedupeSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    Job,
    MergeSpec,
    ReconcileSpec,
    Source,
    StepSpec,
)
from crmframes.specs.document import Loc, suggest
from crmframes.store import CampaignStore

__all__ = ["check_job", "query_tables", "tables_read", "tables_written"]

_SHOWN = 12  # store tables listed in a message


def check_job(
    job: Job, stored: list[str], *, parser: CampaignStore, views: Sequence[str] = ()
) -> None:
    """Refuse a job a step of which reads a table that neither the store nor an earlier step has.

    Args:
        job: the job.
        stored: the store's tables now.
        parser: a store used only to parse query sources (an empty in-memory one will do).
        views: the store's views, which a query source may read too.

    Raises:
        ConfigError: ``file:line: path: table 'x' is not in the store ...`` for the first
            such table, a source query DuckDB cannot parse, or a source file that is missing.
    """
    known = {name.lower() for name in stored}
    viewed = {name.lower() for name in views}
    later = _first_writers(job.steps)
    for position, spec in enumerate(job.steps):
        loc: Loc = ("steps", position, spec.kind)
        for where, table in tables_read(spec, parser=parser, place=_placer(job, loc)):
            if table.lower() in known or (where[-1] == "query" and table.lower() in viewed):
                continue
            writer = later.get(table.lower())
            if writer is not None and writer > position:
                hint = f"step {writer + 1} writes it: move this step after that one"
            else:
                hint = "no earlier step writes it" + suggest(table, [*stored, *_names(job)])
                if stored:
                    shown = ", ".join(sorted(stored)[:_SHOWN])
                    more = f", ... ({len(stored)} in all)" if len(stored) > _SHOWN else ""
                    hint += f"; the store has {shown}{more}"
                else:
                    hint += "; the store has no tables yet"
            raise ConfigError(
                f"{job.place((*loc, *where))}: table {table!r} is not in the store and {hint}"
            )
        known |= {name.lower() for name in tables_written(spec)}


def tables_read(
    spec: StepSpec, *, parser: CampaignStore, place: Any = str
) -> Iterator[tuple[Loc, str]]:
    """Yield (path within the step, table) for each store table the step reads.

    Raises:
        ConfigError: a source query DuckDB cannot parse, or a source file that is missing
            (named by ``place`` of its path within the step).
    """
    if isinstance(spec, DedupeSpec):
        yield ("table",), spec.table
        return
    sources: list[tuple[str, Source]] = []
    if isinstance(spec, ImportSpec) and spec.population is not None:
        sources.append(("population", spec.population))
    if isinstance(spec, ExportSpec | DeleteSpec | ReconcileSpec | MergeSpec):
        sources.append(("source", spec.source))
    for name, source in sources:
        if source.table is not None:
            yield (name, "table"), source.table
        elif source.query is not None:
            for table in query_tables(source.query, parser=parser, place=place((name, "query"))):
                yield (name, "query"), table
        elif source.file is not None and not Path(source.file).is_file():
            raise ConfigError(f"{place((name, 'file'))}: no such file {source.file!r}")


def tables_written(spec: StepSpec) -> list[str]:
    """The store tables a step creates or writes (when it is not a dry-run step)."""
    out: list[str] = []
    rejects = rejects_of(spec)
    if rejects is not None:
        out.append(rejects.table)
    if isinstance(spec, ImportSpec):
        out.append(spec.target)
    elif isinstance(spec, MergeSpec) and not spec.dry_run:
        out.append(spec.table)
    elif isinstance(spec, DedupeSpec) and spec.removed_table and not spec.dry_run:
        out.append(spec.removed_table)
    elif isinstance(spec, ReconcileSpec) and spec.save is not None:
        saved = (spec.save.differences, spec.save.only_store, spec.save.only_crm)
        out.extend(table for table in saved if table is not None)
    return out


def query_tables(query: str, *, parser: CampaignStore, place: str = "query") -> list[str]:
    """The tables of the ``main`` schema a DuckDB query reads (CTE names left out), unsorted.

    A statement other than a SELECT (which DuckDB cannot serialise) yields nothing: the step
    finds out when it runs.

    Raises:
        ConfigError: DuckDB cannot parse the query (``place: DuckDB cannot parse it: ...``).
    """
    try:
        answer = parser.sql("SELECT json_serialize_sql(?) AS tree", [query])
    except StoreError:
        return []  # no JSON serialiser here: leave the query to the step
    tree = orjson.loads(str(answer["tree"].iloc[0]))
    if tree.get("error"):
        if tree.get("error_type") == "parser":
            message = str(tree.get("error_message", "syntax error"))
            raise ConfigError(f"{place}: DuckDB cannot parse the query: {message}")
        return []
    tables: dict[str, str] = {}
    ctes: set[str] = set()
    _walk(tree, tables, ctes)
    return [name for lowered, name in tables.items() if lowered not in ctes]


# --- private helpers ------------------------------------------------------------------------


def _walk(node: Any, tables: dict[str, str], ctes: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, tables, ctes)
        return
    if not isinstance(node, dict):
        return
    in_main = node.get("schema_name", "") in ("", "main") and node.get("catalog_name", "") == ""
    if node.get("type") == "BASE_TABLE" and in_main:
        name = str(node.get("table_name", ""))
        tables.setdefault(name.lower(), name)
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map", ()):
            ctes.add(str(entry.get("key", "")).lower())
    for value in node.values():
        _walk(value, tables, ctes)


def _placer(job: Job, loc: Loc) -> Callable[[Loc], str]:
    return lambda within: job.place((*loc, *within))


def _first_writers(steps: Any) -> dict[str, int]:
    """The position of the first step writing each table (lower-cased)."""
    found: dict[str, int] = {}
    for position, spec in enumerate(steps):
        for table in tables_written(spec):
            found.setdefault(table.lower(), position)
    return found


def _names(job: Job) -> list[str]:
    return [table for spec in job.steps for table in tables_written(spec)]
