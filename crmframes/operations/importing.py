"""Import from the CRM: fields with conversions, a filter, an order, a window, a population of ids.

Orchestration: written once over the Connector protocol. Arguments are validated and
normalised before any call; the object and every field are resolved through ``describe``
(unknown names fail with the close matches listed); pages are converted one at a time into
typed Arrow columns (memory stays flat); values that cannot be converted, and population
ids the CRM does not return, become reject rows — nothing is dropped silently.

Longer than 500 lines: one operation: its argument checks, windows, population matching and
ordering are steps of the one import.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast, get_args

import pandas as pd
import pyarrow as pa

from crmframes import charts, display
from crmframes.arguments import (
    check_bool,
    check_connector,
    check_frame,
    check_instance,
    check_int,
    check_literal,
    check_optional_str,
    check_str,
)
from crmframes.connectors.base import Connector, ReadMode, ReadRequest
from crmframes.errors import ArgumentTypeError, ColumnNotFoundError, ConfigError
from crmframes.filters import Expr, F, validate
from crmframes.frames import (
    Collation,
    Conversion,
    convert_page,
    reject_frame,
    text_order_key,
    time_zone,
    to_pandas,
    wire_schema,
)
from crmframes.operations.autoindex import AutoIndex, StaleFieldWarning, format_option
from crmframes.progress import Bar, listening
from crmframes.query_terms import order_items
from crmframes.schema import Field, ObjectSchema

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ImportResult", "ImportStats", "import_from_crm"]

FieldSpec = str | tuple[str, Conversion]
_CONVERSIONS: tuple[str, ...] = get_args(Conversion)


@dataclass(frozen=True)
class ImportStats:
    """What an import cost: rows, rejects, pages, API calls, seconds, and how it read."""

    rows: int
    rejected: int
    pages: int
    api_calls: int
    seconds: float
    mode: str
    resumed: int = 0  # reads restarted past their last id after the CRM's cursor died

    def __str__(self) -> str:
        resumed = f", resumed {self.resumed}x after a dead cursor" if self.resumed else ""
        return (
            f"{self.rows:,} rows, {self.rejected:,} rejected, {self.pages} pages, "
            f"{self.api_calls} API calls, {self.seconds:.2f} s ({self.mode}{resumed})"
        )

    def __repr__(self) -> str:
        return f"ImportStats({self})"


@dataclass
class ImportResult:
    """The outcome of :func:`import_from_crm`.

    Attributes:
        frame: the imported records, one column per field, typed from describe.
        rejects: rows that could not be imported, with ``errorSymbol``, ``errorMessage``,
            ``errorCode``, ``errorFields`` and ``inputIndex`` (DESIGN §4.1).
        variables: ``crmOptionName``, ``crmStartImport`` (included) and ``crmEndDate``
            (excluded) of the automatic index, as the seed names them (empty without one);
            ``crmBackfilled`` names the fields a backfill read for every record, and
            ``crmStaleFields`` the fields the index no longer refreshes (when there are some).
        stats: rows, pages, API calls, seconds.
        object: the object's API name.
        system: ``"salesforce"`` or ``"dynamics"``.
        key: the CRM id column.
        modified_field: the last-modified column.
        watermark: ``(option name, new value)`` to store with the rows (``CampaignStore.merge``).
        index_options: options written in the same transaction as the watermark: the
            fields the window covers, and the stale ones (``<option name>:fields``, ``:stale``).
        stale_fields: stored fields this automatic index no longer refreshes.
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame
    variables: dict[str, str]
    stats: ImportStats
    object: str
    system: str
    key: str
    modified_field: str | None
    watermark: tuple[str, str] | None = None
    schema: ObjectSchema | None = field(default=None, repr=False)
    index_options: dict[str, str] = field(default_factory=dict, repr=False)
    stale_fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        s = self.stats
        counts = f"{s.rows:,} rows, {s.rejected:,} rejected, {display.duration(s.seconds)}"
        return f"ImportResult({self.system} {self.object}: {counts})"

    def _repr_html_(self) -> str:
        s = self.stats
        facts = [*self.variables.items(), ("rows", s.rows), ("rejected", s.rejected)]
        facts += [
            ("API calls", s.api_calls),
            ("pages", s.pages),
            ("time", display.duration(s.seconds)),
        ]
        symbols = display.rejects_by_symbol(self.rejects)
        return display.card(
            f"import of {self.system} {self.object} ({s.mode})",
            facts,
            [
                ("rejects by errorSymbol", display.frame(symbols, rows=20) if len(symbols) else ""),
                ("first rows", display.frame(self.frame)),
            ],
        )

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the rejected rows by ``errorSymbol`` as bars; return the matplotlib axes."""
        counts = display.rejects_by_symbol(self.rejects).set_index("errorSymbol")["rows"]
        title = f"rejects of the {self.object} import"
        return charts.bars(counts.to_dict(), title=title, xlabel="rows", ax=ax, **kwargs)


def _field_specs(
    fields: Iterable[FieldSpec] | Mapping[str, Conversion] | None,
) -> list[tuple[str, Conversion]]:
    if fields is None:
        return []
    if isinstance(fields, str) or not isinstance(fields, Iterable):
        raise ArgumentTypeError(
            "fields must be a list of names (or (name, conversion) pairs), not "
            f"{'a single string' if isinstance(fields, str) else type(fields).__name__}"
        )
    items = (
        list(fields.items())
        if isinstance(fields, Mapping)
        else [(f, "default") if isinstance(f, str) else f for f in fields]
    )
    specs: list[tuple[str, Conversion]] = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ArgumentTypeError(
                f"a field must be a name or a (name, conversion) pair, not {item!r}"
            )
        name, conversion = item
        check_str("a field name", name)
        if conversion not in _CONVERSIONS:
            raise ConfigError(
                f"unknown conversion {conversion!r} for {name!r}; use one of {_CONVERSIONS}"
            )
        specs.append((str(name), cast(Conversion, conversion)))
    return specs


def _order(order_by: str | Sequence[str | tuple[str, str]] | None) -> list[tuple[str, bool]]:
    items = order_items(order_by)
    for name, _ in items:
        check_str("order_by", name, what="a field name")
    return items


def import_from_crm(
    conn: Connector,
    object: str,
    *,
    fields: Iterable[FieldSpec] | Mapping[str, Conversion] | None = None,
    where: Expr | None = None,
    order_by: str | Sequence[str | tuple[str, str]] | None = None,
    auto_index: AutoIndex | None = None,
    population: pd.DataFrame | None = None,
    id_column: str | None = None,
    timezone: str = "UTC",
    mode: ReadMode = "auto",
    limit: int | None = None,
    strict: bool = False,
    progress: bool = True,
) -> ImportResult:
    """Import records of a CRM object into a DataFrame.

    Args:
        conn: a connector (``SalesforceConnector``, ``DynamicsConnector``, ``sandbox.connector()``).
        object: the object's API name (``"Contact"``, ``"contact"``).
        fields: names, or ``(name, conversion)`` pairs, or ``{name: conversion}``; the
            conversions are ``default``, ``date_only``, ``no_offset``, ``raw`` (DESIGN §4.2).
            None imports every field. The id and the last-modified field are always added.
        where: a filter built with :class:`~crmframes.F` (checked before any call).
        order_by: a field, or a list of fields / ``(field, "asc"|"desc")`` pairs.
        auto_index: import only what changed since the last run of this activity.
        population: a frame of record ids to fetch (record identification).
        id_column: the column of ``population`` holding the ids.
        timezone: the zone of ``default`` datetimes and ``date_only`` days.
        mode: ``"auto"``, ``"rest"`` or ``"bulk"`` (Salesforce Bulk API 2.0).
        limit: the most records to import (with a population, across all its ids: the ids
            a limited import did not reach are not rejected). Not with ``auto_index``.
        strict: apply the seed's narrower filter rule (numbers and null checks only).
        progress: show a progress bar on imports of several pages.

    Returns:
        The frame, the rejects, the automatic-index variables and the stats.

    Raises:
        NotFoundError: the object does not exist (close matches listed).
        ColumnNotFoundError: a field or ``id_column`` does not exist (close matches listed).
        FilterError: the filter breaks a filtering rule.
        ConfigError: ``auto_index`` does not cover a field asked for and was built with
            ``on_new_fields="refuse"`` (nothing is read).
        ConnectorError: the CRM failed for good (transient failures are retried first;
            a read whose cursor died resumes, unless it is ordered and limited).

    Warns:
        StaleFieldWarning: a field ``auto_index`` covered is no longer asked for.
    """
    check_connector(conn)
    check_str("object", object, what="an object's API name")
    for name, flag in (("strict", strict), ("progress", progress)):
        check_bool(name, flag)
    check_literal("mode", mode, get_args(ReadMode))
    started = time.perf_counter()
    calls_before = conn.api_calls
    resumes_before = conn.cursor_resumes
    specs = _field_specs(fields)
    orders = _order(order_by)
    if auto_index is not None:
        check_instance("auto_index", auto_index, AutoIndex, "None or an AutoIndex(store, ...)")
    check_optional_str("id_column", id_column, what="a column name")
    if population is not None:
        check_frame(population, "population")
        if id_column is None:
            raise ConfigError("population needs id_column=: the column that holds the CRM ids")
        if id_column not in population.columns:
            raise ColumnNotFoundError(id_column, [str(c) for c in population.columns])
    elif id_column is not None:
        raise ConfigError("id_column= is only meaningful with population=")
    time_zone(timezone)
    if where is not None:
        where = validate(where, strict=strict)
    if limit is not None:
        check_int("limit", limit, min=0)
    if limit is not None and auto_index is not None:
        raise ConfigError(
            "limit and auto_index do not go together: the watermark would move past the "
            "records the limit left unread; narrow the import with where= instead"
        )

    schema = conn.describe(object)
    chosen: dict[str, tuple[Field, Conversion]] = {}
    if not specs:
        specs = [(name, "default") for name in schema.fields]
    for name, conversion in specs:
        resolved = conn.field(schema.name, name)
        chosen[resolved.name] = (resolved, conversion)
    for extra in (schema.id_field, schema.modified_field):
        if extra and extra not in chosen:
            chosen[extra] = (schema.fields[extra], "default")
    # what the stored rows hold: a date_only day depends on the zone it was cut in
    covers = {
        name: f"{conversion} {timezone}" if conversion == "date_only" else conversion
        for name, (_, conversion) in chosen.items()
    }
    order = tuple((conn.field(schema.name, n).name, d) for n, d in orders)
    hidden = [name for name, _ in order if name not in chosen]  # fetched to sort by, dropped after
    for name in hidden:
        chosen[name] = (conn.field(schema.name, name), "default")

    variables: dict[str, str] = {}
    watermark: tuple[str, str] | None = None
    window: Expr | None = None
    index_options: dict[str, str] = {}
    stale_fields: tuple[str, ...] = ()
    if auto_index is not None:
        modified = auto_index.pick_field(schema)
        start = auto_index.start()
        change = auto_index.compare(covers)
        if change.added and auto_index.on_new_fields == "refuse":
            raise ConfigError(
                f"the automatic index {auto_index.option_name} does not cover "
                f"{', '.join(change.added)} (new, or in another conversion): the rows stored "
                "earlier would keep them empty or stale; Hint: pass "
                "AutoIndex(..., on_new_fields='backfill') to read every record once, or name "
                "a new activity= for a fresh import"
            )
        if change.added:
            start = None  # backfill: every record up to the end, so stored rows get them too
        if change.dropped:
            warnings.warn(
                f"{', '.join(change.dropped)} no longer imported by {auto_index.option_name}: "
                "the store keeps their last values but this import stops refreshing them "
                f"(recorded in the option {auto_index.stale_option_name!r})",
                StaleFieldWarning,
                stacklevel=2,
            )
        index_options = auto_index.companions(covers, change.dropped)
        stale_fields = auto_index.stale_after(covers, change.dropped)
        end = conn.server_time().replace(microsecond=0)
        window = F(modified) < end
        if start is not None:
            window = (F(modified) >= start) & window
        variables = {
            "crmOptionName": auto_index.option_name,
            "crmStartImport": "" if start is None else format_option(start),
            "crmEndDate": format_option(end),
        }
        if change.added:
            variables["crmBackfilled"] = ",".join(change.added)
        if stale_fields:
            variables["crmStaleFields"] = ",".join(stale_fields)
        watermark = (auto_index.option_name, format_option(end))
    combined = where if window is None else window if where is None else where & window

    # The CRM orders only a limited read (which records come depends on it; the id breaks
    # ties); otherwise the frame is sorted here and the CRM reads in id order, which lets a
    # read whose cursor died resume past the last id it read (connectors/salesforce/paging.py).
    sent_order: tuple[tuple[str, bool], ...] = ()
    if limit is not None and order:
        sent_order = order if schema.id_field in dict(order) else (*order, (schema.id_field, False))
    field_list = [f for f, _ in chosen.values()]
    conversions = {name: conversion for name, (_, conversion) in chosen.items()}
    pieces: list[pa.Table] = []
    rejects: list[pd.DataFrame] = []
    pages = 0
    rows = 0
    used_mode: str = mode
    bar: Bar | None = None
    try:
        for chunk_filter, _ in _chunks(conn, schema, combined, population, id_column):
            if limit is not None and rows >= limit:
                break
            request = ReadRequest(
                object=schema.name,
                fields=tuple(chosen),
                where=chunk_filter,
                order_by=sent_order,
                limit=None if limit is None else limit - rows,
                mode=mode if population is None else "rest",
            )
            for page in conn.read(request):
                pages += 1
                used_mode = page.mode
                converted = convert_page(
                    page.table, field_list, conversions, timezone=timezone, first_index=rows
                )
                rows += page.table.num_rows
                pieces.append(converted.table)
                if converted.rejected:
                    rejects.append(converted.rejects)
                several = pages > 1 or (page.total or 0) > page.table.num_rows
                if bar is None and ((progress and several) or listening()):
                    bar = Bar(
                        f"import {schema.name}",
                        total=page.total,
                        unit="rec",
                        initial=rows - page.table.num_rows,
                        show=progress and several,
                    )
                if bar is not None:
                    bar.update(page.table.num_rows)
                del page, converted  # the page's wire text goes before the next one comes
    finally:
        if bar is not None:
            bar.close()

    table = pa.concat_tables(pieces) if pieces else wire_schema(field_list).empty_table()
    frame = (
        to_pandas(table)
        if pieces
        else to_pandas(convert_page(table, field_list, conversions, timezone=timezone).table)
    )
    if population is not None and id_column is not None:
        limited = limit is not None and rows >= limit  # ids past the limit were not asked for
        frame, missing = _match_population(
            conn, schema, frame, population, id_column, orders, limited=limited
        )
        rejects.append(missing)
    if order and len(frame) > 1:
        frame = _sort(frame, order, conn.collation)
    if hidden:
        frame = frame.drop(columns=hidden)
    all_rejects = (
        pd.concat(rejects, ignore_index=True)
        if rejects
        else reject_frame(
            [], symbols=[], messages=[], codes=[], fields=[], indexes=[], columns=list(chosen)
        )
    )
    stats = ImportStats(
        rows=len(frame),
        rejected=len(all_rejects),
        pages=pages,
        api_calls=conn.api_calls - calls_before,
        seconds=time.perf_counter() - started,
        mode=used_mode,
        resumed=conn.cursor_resumes - resumes_before,
    )
    return ImportResult(
        frame=frame,
        rejects=all_rejects,
        variables=variables,
        stats=stats,
        object=schema.name,
        system=conn.system,
        key=schema.id_field,
        modified_field=schema.modified_field,
        watermark=watermark,
        schema=schema,
        index_options=index_options,
        stale_fields=stale_fields,
    )


def _sort(
    frame: pd.DataFrame, order: tuple[tuple[str, bool], ...], collation: Collation
) -> pd.DataFrame:
    """Sort as the CRM orders: text by its collation, nulls last; stable.

    Dataverse cannot put nulls last in ascending order, population chunks arrive one after
    the other, and an unlimited read comes in id order (so a dead cursor can be resumed):
    sorting here gives both CRMs the order the contract promises.
    """

    def key(column: pd.Series) -> pd.Series:
        if pd.api.types.is_string_dtype(column.dtype):
            return text_order_key(column, collation)
        return column

    return frame.sort_values(
        by=[n for n, _ in order],
        ascending=[not d for _, d in order],
        na_position="last",
        key=key,
        kind="stable",
    ).reset_index(drop=True)


def _chunks(
    conn: Connector,
    schema: ObjectSchema,
    where: Expr | None,
    population: pd.DataFrame | None,
    id_column: str | None,
) -> Iterable[tuple[Expr | None, list[str]]]:
    if population is None or id_column is None:
        yield where, []
        return
    ids = list(dict.fromkeys(i for i in (conn.normalize_id(v) for v in population[id_column]) if i))
    size = conn.id_chunk_size
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        selection = F(schema.id_field).isin(chunk)
        yield (selection if where is None else where & selection), chunk


def _match_population(
    conn: Connector,
    schema: ObjectSchema,
    frame: pd.DataFrame,
    population: pd.DataFrame,
    id_column: str,
    orders: list[tuple[str, bool]],
    *,
    limited: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order the fetched records like the population; reject the ids that did not come back.

    ``limited``: the import stopped at its limit, so an id that did not come back may not
    have been asked for; only malformed ids are rejected then.
    """
    normalized = [conn.normalize_id(v) for v in population[id_column]]
    found = set(frame[schema.id_field].tolist()) if len(frame) else set()
    bad_rows, symbols, messages, codes, indexes = [], [], [], [], []
    for position, (raw, norm) in enumerate(zip(population[id_column], normalized, strict=True)):
        if norm is None:
            symbols.append("MALFORMED_ID")
            messages.append(f"{raw!r} is not a well-formed {conn.system} record id")
            codes.append("400")
        elif norm not in found and not limited:
            symbols.append("NOT_FOUND")
            messages.append(
                f"no {schema.name} record with {schema.id_field} {norm} (deleted, never existed, "
                "or outside the filter)"
            )
            codes.append("404")
        else:
            continue
        bad_rows.append(population.iloc[position].to_dict())
        indexes.append(position)
    missing = reject_frame(
        bad_rows,
        symbols=symbols,
        messages=messages,
        codes=codes,
        fields=[id_column] * len(bad_rows),
        indexes=indexes,
        columns=[str(c) for c in population.columns],
    )
    if not orders and len(frame):
        rank = {norm: i for i, norm in reversed(list(enumerate(normalized))) if norm}
        frame = frame.iloc[frame[schema.id_field].map(rank).argsort(kind="stable")].reset_index(
            drop=True
        )
    return frame, missing
