"""Export planning: frame columns mapped to CRM fields, values converted for the wire, pre-flight rejects.

Pure: pandas only. :func:`plan_writes` turns a DataFrame into the records an export or a
delete sends — one ``dict`` of Python wire values per row (see
:class:`~crmframes.connectors.base.WriteBatch`) — after checking everything that can be
checked before any call: the mapping (unknown columns and fields fail with close matches),
the key (an id, an external id or an alternate key; no duplicates), the dtypes (a column
whose dtype cannot hold the field's values fails), and each value (one that cannot be
converted, an over-long string, a missing key or a malformed id becomes a reject row).
Nothing is dropped silently: every input row is either planned or rejected.

Null versus "leave unchanged": a null value (``None``, ``NaN``, ``NaT``, ``pd.NA``) sets the
field to null in the CRM; with ``skip_nulls=True`` it is left out of the record, so the CRM
leaves the field as it is. A column that is not mapped is never sent.

Longer than 500 lines: one planner: mapping, key, dtypes and wire values are checked in the one
pass that plan_writes and plan_deletes share.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd

from crmframes.arguments import INT64_RANGE, is_encodable
from crmframes.errors import ArgumentTypeError, ColumnNotFoundError, ConfigError, DataError
from crmframes.frames import CONVERSIONS, REJECT_COLUMNS, Conversion, time_zone
from crmframes.schema import Field, ObjectSchema

__all__ = [
    "EXPORT_COLUMNS",
    "MappingSpec",
    "PlannedWrites",
    "Rejected",
    "Target",
    "canonical",
    "plan_deletes",
    "plan_writes",
    "same_values",
    "wire_value",
]

MappingSpec = Mapping[str, str | tuple[str, Conversion]]
PlanOp = Literal["insert", "update", "upsert", "delete"]
EXPORT_COLUMNS = ("crmId", "crmAction")  # added to the frame of an export's result
_IGNORED = frozenset(REJECT_COLUMNS) | frozenset(EXPORT_COLUMNS)


@dataclass(frozen=True)
class Target:
    """One mapped column: the frame column, the CRM field it feeds, and its conversion."""

    column: str
    field: Field
    conversion: Conversion = "default"


@dataclass(frozen=True)
class Rejected:
    """An input row refused before any call."""

    position: int
    symbol: str
    message: str
    fields: str = ""


@dataclass
class PlannedWrites:
    """What an export or a delete will send.

    Attributes:
        object: the object's API name.
        op: ``insert``, ``update`` (by id), ``upsert`` (by ``key``) or ``delete``.
        key: the CRM field that identifies records (the id field for update and delete,
            the external id / alternate key for upsert), None for insert.
        key_column: the frame column holding ``key`` values.
        targets: the mapped columns (empty for a delete).
        positions: the row positions (0-based) of the records, in order.
        records: the records, aligned with ``positions``.
        rejects: the rows refused before any call.
        skipped_columns: read-only system columns left out of an unmapped export.
        id_field: the object's id field (where an insert puts a client-chosen id).
    """

    object: str
    op: PlanOp
    key: str | None
    key_column: str | None
    targets: list[Target]
    positions: list[int] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    skipped_columns: list[str] = field(default_factory=list)
    id_field: str = ""

    def target(self) -> str:
        """What the writes go to: the object, the operation, the key and the mapped fields."""
        head = [self.object, self.op, self.key, sorted(t.field.name for t in self.targets)]
        return hashlib.sha256(orjson.dumps(head)).hexdigest()

    def row_digests(self) -> list[str]:
        """A digest of each record's content, whatever its position in the frame.

        The journal records outcomes by these, so an export re-run with rows added, removed,
        reordered or fixed still recognises the rows that were already written.
        """
        return [
            hashlib.sha256(orjson.dumps(r, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[
                :32
            ]
            for r in self.records
        ]


# --- mapping and key -------------------------------------------------------------------------


def _targets(
    df: pd.DataFrame, schema: ObjectSchema, mapping: MappingSpec | None
) -> tuple[list[Target], list[str]]:
    columns = [str(c) for c in df.columns]
    if mapping is None:
        system = {schema.id_field, *schema.modified_fields, schema.created_field}
        targets, skipped = [], []
        for column in columns:
            if column in _IGNORED:
                continue
            found = schema.resolve(column)
            if found.name in system or not (found.createable or found.updateable):
                skipped.append(column)
                continue
            targets.append(Target(column, found))
        return targets, skipped
    targets = []
    for column, (name, conversion) in _mapping_items(mapping).items():
        if column not in df.columns:
            raise ColumnNotFoundError(column, columns)
        if conversion not in CONVERSIONS:
            raise ConfigError(
                f"unknown conversion {conversion!r} for {column!r}; use one of {CONVERSIONS}"
            )
        targets.append(Target(column, schema.resolve(name), cast(Conversion, conversion)))
    seen: dict[str, str] = {}
    for target in targets:
        if target.field.name in seen:
            raise ConfigError(
                f"columns {seen[target.field.name]!r} and {target.column!r} both map to "
                f"{schema.name}.{target.field.name}"
            )
        seen[target.field.name] = target.column
    return targets, []


def _mapping_items(mapping: object) -> dict[str, tuple[str, object]]:
    """``mapping`` as ``{column: (field, conversion)}``, its shape checked.

    Raises:
        ArgumentTypeError: not a dict, a column that is not a string, or a value that is
            neither a field name nor a ``(field, conversion)`` pair.
    """
    shape = "a dict {frame column: CRM field or (field, conversion)}"
    if not isinstance(mapping, Mapping):
        raise ArgumentTypeError(f"mapping must be {shape}, not {type(mapping).__name__}")
    items: dict[str, tuple[str, object]] = {}
    for column, spec in mapping.items():
        if not isinstance(column, str):
            raise ArgumentTypeError(f"mapping keys are frame column names, not {column!r}")
        if isinstance(spec, str):
            items[column] = (spec, "default")
        elif isinstance(spec, tuple | list) and len(spec) == 2 and isinstance(spec[0], str):
            items[column] = (spec[0], spec[1])
        else:
            raise ArgumentTypeError(
                f"mapping[{column!r}] must be a CRM field name or a (field, conversion) pair "
                f"such as ('Birthdate', 'date_only'), not {spec!r}"
            )
    return items


def _key(
    schema: ObjectSchema, targets: list[Target], key: str | None
) -> tuple[PlanOp, Target | None]:
    if key is None:
        return "insert", None
    for target in targets:
        if key in (target.column, target.field.name):
            chosen = target
            break
    else:
        raise ConfigError(
            f"key {key!r} is not a mapped column; map the column holding "
            f"{schema.name}'s id or external id (mapped: {[t.column for t in targets]})"
        )
    if chosen.field.name == schema.id_field:
        return "update", chosen
    keys = {k[0] for k in schema.keys if len(k) == 1}
    if chosen.field.external_id or chosen.field.name in keys:
        return "upsert", chosen
    usable = sorted(
        {schema.id_field} | keys | {f.name for f in schema.fields.values() if f.external_id}
    )
    raise ConfigError(
        f"{schema.name}.{chosen.field.name} cannot identify records; use the id "
        f"or an external id / alternate key: {usable}"
    )


def _writable(target: Target, op: PlanOp, key: Target | None, schema: ObjectSchema) -> None:
    f = target.field
    if key is not None and target is key:
        return
    allowed = {
        "insert": f.createable,
        "update": f.updateable,
        "upsert": f.createable or f.updateable,
    }.get(op, True)
    if not allowed:
        verb = {"insert": "created", "update": "updated"}.get(op, "written")
        raise ConfigError(f"{schema.name}.{f.name} cannot be {verb} (read-only in the CRM)")


# --- values ----------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, symbol: str, message: str) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.message = message


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, np.datetime64) and bool(np.isnat(value))


def _check_dtype(series: pd.Series, target: Target) -> None:
    dtype, kind = series.dtype, target.field.kind
    if target.conversion == "raw" or series.isna().all():
        return
    problem = None
    if pd.api.types.is_bool_dtype(dtype) and kind not in ("boolean",):
        problem = "booleans"
    elif pd.api.types.is_datetime64_any_dtype(dtype) and kind not in ("date", "datetime"):
        problem = "timestamps"
    elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if kind in ("boolean", "date", "datetime"):
            problem = "numbers"
        elif kind not in ("integer", "number") and pd.api.types.is_float_dtype(dtype):
            problem = "decimal numbers"
    if problem:
        raise DataError(
            f"column {target.column!r} holds {problem} ({dtype}) but "
            f"{target.field.name} is a {target.field.crm_type or kind} field; convert the column "
            "or map it with the 'raw' conversion"
        )


def _datetime(value: Any, conversion: Conversion, zone: ZoneInfo) -> datetime:
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except ValueError as exc:
            raise _Bad("INVALID_VALUE", f"{value!r} is not a date and time") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise _Bad("INVALID_VALUE", f"{value!r} is not a date and time")
    moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if conversion == "date_only":
        local = moment.astimezone(zone) if moment.tzinfo else moment
        return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC if conversion == "no_offset" else zone).astimezone(UTC)
    if conversion == "no_offset":
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _date(value: Any, zone: ZoneInfo) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError as exc:
            raise _Bad("INVALID_VALUE", f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if isinstance(value, datetime):
        moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        return (moment.astimezone(zone) if moment.tzinfo else moment).date()
    if isinstance(value, date):
        return value
    raise _Bad("INVALID_VALUE", f"{value!r} is not a date")


def wire_value(value: Any, target: Target, zone: ZoneInfo) -> Any:
    """One frame value as the Python wire value a connector sends; raise ``_Bad`` if impossible."""
    f, conversion = target.field, target.conversion
    if _is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if conversion == "raw":
        return _text(value if isinstance(value, str) else str(value))
    if f.is_text:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _Bad("INVALID_VALUE", f"{value!r} is not text")
        text = _text(str(value))
        if f.length and len(text) > f.length:
            raise _Bad(
                "STRING_TOO_LONG",
                f"{len(text)} characters, the most is {f.length}",
            )
        return text
    if f.kind in ("integer", "number"):
        if isinstance(value, Decimal) and value.is_finite():
            value = int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad("INVALID_VALUE", f"{value!r} is not a number")
        if not math.isfinite(value):
            raise _Bad("INVALID_VALUE", f"{value!r} is not a finite number")
        if f.kind == "integer":
            if value != int(value):
                raise _Bad("INVALID_VALUE", f"{value!r} is not a whole number")
            return _whole(int(value))
        return _whole(value) if isinstance(value, int) else float(value)
    if f.kind == "boolean":
        if not isinstance(value, bool):
            raise _Bad("INVALID_VALUE", f"{value!r} is not a boolean")
        return value
    if f.kind == "date":
        return _date(value, zone)
    return _datetime(value, conversion, zone)


def _text(text: str) -> str:
    if not is_encodable(text):  # a lone surrogate ('\ud800'): no UTF-8 body can carry it
        raise _Bad("INVALID_VALUE", f"{text[:40]!r} holds a lone surrogate, which is not text")
    return text


def _whole(number: int) -> int:
    low, high = INT64_RANGE
    if not low <= number <= high:  # no CRM field holds more; JSON encoders refuse it
        raise _Bad("INVALID_VALUE", f"{number!r} is past the 64-bit integer range")
    return number


def _checked(value: Any, check: Callable[[Any], Any]) -> Any:
    try:
        return check(value)
    except _Bad as bad:
        return bad


def _column_values(series: pd.Series, target: Target, zone: ZoneInfo) -> list[Any]:
    """A column's wire values (a :class:`_Bad` where one cannot be converted).

    The usual dtypes take vectorised paths (text, numbers, booleans, timestamps); any
    other column, and the ``raw`` conversion, go value by value through :func:`wire_value`
    (same results, ~10x slower).
    """
    f, dtype, conversion = target.field, series.dtype, target.conversion
    nulls = series.isna().to_numpy(dtype=bool)
    if conversion != "raw":
        if f.is_text and isinstance(dtype, pd.StringDtype):
            values: list[Any] = series.astype(object).where(~nulls, None).tolist()
            if f.length:
                too_long = (series.str.len() > f.length).to_numpy(dtype=bool, na_value=False)
                for i in np.flatnonzero(too_long):
                    values[i] = _Bad(
                        "STRING_TOO_LONG",
                        f"{len(values[i])} characters, the most is {f.length}",
                    )
            if dtype.storage == "python":  # Arrow-backed strings cannot hold a surrogate
                values = [v if not isinstance(v, str) else _checked(v, _text) for v in values]
            return values
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if f.kind in ("integer", "number") and pd.api.types.is_integer_dtype(dtype):
            # exact: through float64 a whole number past 2**53 would change
            whole = series.astype(object).tolist()  # Series.map would infer float64 again
            return [
                None if n else _checked(int(v), _whole) for v, n in zip(whole, nulls, strict=True)
            ]
        if f.kind in ("integer", "number") and numeric:
            floats = series.to_numpy(dtype="float64", na_value=np.nan)
            values = [None if n else v for v, n in zip(floats.tolist(), nulls, strict=True)]
            bad = ~nulls & ~np.isfinite(floats)
            if f.kind == "integer":
                whole = ~nulls & ~bad & (floats != np.floor(np.where(bad | nulls, 0, floats)))
                values = [
                    None if v is None or b else _checked(int(v), _whole)
                    for v, b in zip(values, bad, strict=True)
                ]
                for i in np.flatnonzero(whole):
                    values[i] = _Bad("INVALID_VALUE", f"{float(floats[i])!r} is not a whole number")
            for i in np.flatnonzero(bad):
                values[i] = _Bad("INVALID_VALUE", f"{float(floats[i])!r} is not a finite number")
            return values
        if f.kind == "boolean" and pd.api.types.is_bool_dtype(dtype):
            return [None if n else bool(v) for v, n in zip(series.tolist(), nulls, strict=True)]
        if f.kind in ("date", "datetime") and pd.api.types.is_datetime64_any_dtype(dtype):
            return _timestamps(series, nulls, target, zone)
    values = series.tolist()
    out: list[Any] = []
    for value in values:
        try:
            out.append(wire_value(value, target, zone))
        except _Bad as bad:
            out.append(bad)
    return out


def _localize(series: pd.Series, zone: ZoneInfo) -> pd.Series:
    """Naive wall-clock times read in ``zone`` as ``datetime.replace(tzinfo=zone)`` reads them."""
    ambiguous = np.ones(len(series), dtype=bool)  # fold=0: the first of a repeated hour
    # a skipped wall time moves on by the usual 1 h gap, as fold=0 reads it (02:30 -> 03:30)
    return series.dt.tz_localize(zone, ambiguous=ambiguous, nonexistent=pd.Timedelta(hours=1))


def _timestamps(series: pd.Series, nulls: Any, target: Target, zone: ZoneInfo) -> list[Any]:
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    if target.field.kind == "date":
        local = series.dt.tz_convert(zone) if aware else series
        return [None if n else d for d, n in zip(local.dt.date.tolist(), nulls, strict=True)]
    if target.conversion == "date_only":
        local = series.dt.tz_convert(zone) if aware else series
        moments = local.dt.normalize()
        moments = _localize(moments, zone) if not aware else moments
    elif target.conversion == "no_offset":
        moments = series.dt.tz_localize(None) if aware else series
        moments = moments.dt.tz_localize("UTC")
    else:
        moments = series if aware else _localize(series, zone)
    utc = moments.dt.tz_convert("UTC")
    return [None if n else t.to_pydatetime() for t, n in zip(utc.tolist(), nulls, strict=True)]


# --- plans -----------------------------------------------------------------------------------


def _key_values(
    df: pd.DataFrame,
    column: str,
    is_id: bool,
    normalize_id: Callable[[object], str | None],
    plan: PlannedWrites,
    prefix: str | None = None,
    *,
    case_sensitive: bool = True,
) -> dict[int, str]:
    """Checked key values by position; rows without a usable key go to the plan's rejects.

    ``prefix``: what every id of the object starts with (Salesforce's key prefix), so that
    an id of another object is refused (a Salesforce delete by id takes no object type).
    """
    values: dict[int, str] = {}
    owners: dict[str, list[int]] = {}
    # the CRM's own key semantics: ids and case-insensitive text keys (Dataverse alternate
    # keys, most Salesforce external ids) name one record in any case
    fold = is_id or not case_sensitive
    for position, raw in enumerate(df[column].tolist()):
        if _is_null(raw) or (isinstance(raw, str) and not raw.strip()):
            plan.rejects.append(Rejected(position, "MISSING_KEY", f"{column} is empty", column))
            continue
        if is_id:
            normal = normalize_id(raw)
            if normal is None:
                plan.rejects.append(
                    Rejected(position, "MALFORMED_ID", f"{raw!r} is not a valid id", column)
                )
                continue
            if prefix and not normal.startswith(prefix):
                message = f"{normal} is not an id of {plan.object} (its ids start with {prefix})"
                plan.rejects.append(Rejected(position, "INVALID_ID_FIELD", message, column))
                continue
        else:
            normal = raw.item() if isinstance(raw, np.generic) else raw
            normal = normal if isinstance(normal, str) else str(normal)
        values[position] = normal
        owners.setdefault(normal.casefold() if fold else normal, []).append(position)
    duplicated = {v: p for v, p in owners.items() if len(p) > 1}
    if duplicated:
        sample = ", ".join(f"{v!r} (rows {p[:3]})" for v, p in list(duplicated.items())[:3])
        raise DataError(
            f"key column {column!r} has {len(duplicated)} duplicated value(s): {sample}; "
            "deduplicate the frame first (crmframes.deduplicate) so each record is written once"
        )
    return values


def plan_writes(
    df: pd.DataFrame,
    schema: ObjectSchema,
    *,
    mapping: MappingSpec | None = None,
    key: str | None = None,
    normalize_id: Callable[[object], str | None],
    timezone: str = "UTC",
    skip_nulls: bool = False,
) -> PlannedWrites:
    """Plan an export of ``df`` to ``schema``'s object (see the module docstring).

    Raises:
        ColumnNotFoundError: a mapped column, a mapped field or (unmapped) a column is unknown.
        ConfigError: a bad conversion, a key that cannot identify records, a read-only field.
        DataError: a column whose dtype cannot hold its field's values; duplicated keys.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    zone = time_zone(timezone)
    targets, skipped = _targets(df, schema, mapping)
    keyed = key is not None and key in df.columns and schema.find(key) is not None
    if keyed and not any(key in (t.column, t.field.name) for t in targets):
        assert key is not None
        # the key column, left out as a system column or not mapped: it must be sent
        targets.insert(0, Target(key, schema.resolve(key)))
        skipped = [c for c in skipped if c != key]
    if not targets:
        raise ConfigError(
            f"nothing to export: no column of the frame maps to a {schema.name} field"
        )
    op, key_target = _key(schema, targets, key)
    for target in targets:
        _writable(target, op, key_target, schema)
        _check_dtype(df[target.column], target)
    plan = PlannedWrites(
        schema.name,
        op,
        key_target.field.name if key_target else None,
        key_target.column if key_target else None,
        targets,
        skipped_columns=skipped,
        id_field=schema.id_field,
    )
    keys: dict[int, str] | None = None
    if key_target is not None:
        keys = _key_values(
            df,
            key_target.column,
            op == "update",
            normalize_id,
            plan,
            schema.id_prefix,
            case_sensitive=key_target.field.case_sensitive,
        )
    sent = [t for t in targets if t is not key_target]
    columns = [_column_values(df[t.column], t, zone) for t in sent]
    names = [t.field.name for t in sent]
    for position in range(len(df)):
        if keys is not None and position not in keys:
            continue
        record: dict[str, Any] = {}
        problems: list[tuple[Target, _Bad]] = []
        for target, name, values in zip(sent, names, columns, strict=True):
            value = values[position]
            if isinstance(value, _Bad):
                problems.append((target, value))
            elif value is not None or not skip_nulls:
                record[name] = value
        if problems:
            plan.rejects.append(
                Rejected(
                    position,
                    problems[0][1].symbol,
                    "; ".join(f"{t.column}: {b.message}" for t, b in problems),
                    ",".join(t.field.name for t, _ in problems),
                )
            )
            continue
        if key_target is not None and keys is not None:
            record[key_target.field.name] = keys[position]
        plan.positions.append(position)
        plan.records.append(record)
    plan.rejects.sort(key=lambda r: r.position)
    return plan


def plan_deletes(
    df: pd.DataFrame,
    schema: ObjectSchema,
    *,
    key: str | None,
    normalize_id: Callable[[object], str | None],
) -> PlannedWrites:
    """Plan deleting the records whose ids are in column ``key`` (default: the id field's name)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    column = key or schema.id_field
    if column not in df.columns:
        raise ColumnNotFoundError(column, [str(c) for c in df.columns])
    plan = PlannedWrites(
        schema.name, "delete", schema.id_field, column, [], id_field=schema.id_field
    )
    ids = _key_values(df, column, True, normalize_id, plan, schema.id_prefix)
    for position in sorted(ids):
        plan.positions.append(position)
        plan.records.append({schema.id_field: ids[position]})
    plan.rejects.sort(key=lambda r: r.position)
    return plan


def canonical(value: Any) -> str | None:
    """One text form for comparing a sent value with the value read back from the CRM.

    Dates as ``YYYY-MM-DD``, datetimes as UTC to the second, numbers without a trailing
    ``.0``, booleans as ``true``/``false``; text as is.

    Examples:
        >>> canonical(1.0), canonical("2024-01-02T03:04:05.000+0000"), canonical(True)
        ('1', '2024-01-02T03:04:05Z', 'true')
    """
    if _is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        try:
            return canonical(pd.Timestamp(text).to_pydatetime())
        except ValueError:
            return text
    return text


def same_values(sent: Mapping[str, Any], current: Mapping[str, Any], names: Sequence[str]) -> bool:
    """Whether every field of ``names`` has the same canonical value in both records."""
    return all(canonical(sent.get(n)) == canonical(current.get(n)) for n in names)
