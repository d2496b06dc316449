"""Run-time half of the sandbox's SOQL engine: the compiled plan and the closures it runs.

Edge helper of the Salesforce sandbox (pure functions). :mod:`.soql` parses and type-checks a
query once and assembles these pieces into a :class:`QueryPlan`: getters along relationship
paths, predicates per operator, relative date ranges, the ORDER BY passes and the JSON
projection, plus the decoding of string and dateTime literals. Nothing here walks a syntax
tree, so the per-record cost is a few Python calls (reference/salesforce-api.md §2 and §3).
Values are wire values: strings for text, ids, dates (``YYYY-MM-DD``) and datetimes
(``YYYY-MM-DDTHH:MM:SS.mmm+0000``, always UTC, so they order correctly as strings).

Longer than 500 lines: the run-time closures of the one SOQL engine; their shapes are one
contract with soql.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import compress, islice
from operator import methodcaller, not_
from typing import Any, Literal, Protocol

from .schema import SfField, SfObject

__all__ = [
    "AggregateRunner",
    "Env",
    "Getter",
    "GetterFactory",
    "OrderKey",
    "Pred",
    "PredFactory",
    "Projection",
    "QueryPlan",
    "Record",
    "Resolver",
    "address_getter",
    "combine",
    "compare_pred",
    "datetime_to_wire",
    "decode_string",
    "field_getter",
    "in_pred",
    "like_pred",
    "negate",
    "order_rows",
    "range_pred",
    "relative_range",
    "relative_spec",
    "sort_normalizer",
]

Record = dict[str, Any]
Getter = Callable[[Record], Any]
Pred = Callable[[Record], bool]
Op = Literal["=", "!=", "<", "<=", ">", ">="]
RelativeMode = Literal["THIS", "LAST", "NEXT", "LAST_N", "NEXT_N", "AGO"]
LikePart = tuple[Literal["text", "any", "one"], str]

_ADDRESS_KEYS = ("street", "city", "state", "postalCode", "country")


class Resolver(Protocol):
    """Where a query finds parent records (relationship paths) and semi-join rows."""

    def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """Return the live record ``record_id`` of ``object_name``, or None."""
        ...

    def scan(self, object_name: str, *, include_deleted: bool) -> Iterable[dict[str, Any]]:
        """Return every record of ``object_name`` (and the recycle bin's when asked)."""
        ...


class AggregateRunner(Protocol):
    """Computes the ``AggregateResult`` records of an aggregate query."""

    def run(self, records: Iterable[Record], resolver: Resolver, *, now: datetime) -> list[Record]:
        """Return the wire records, one per group, after HAVING, ORDER BY, OFFSET, LIMIT."""
        ...


@dataclass(frozen=True, slots=True)
class Env:
    """What a compiled WHERE clause is bound to for one execution."""

    now: datetime
    resolver: Resolver


GetterFactory = Callable[[Resolver], Getter]
Normalizer = Callable[[list[Any]], list[Any]]
PredFactory = Callable[[Env], Pred]


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ORDER BY item, bound to a resolver: value getter, direction, null placement."""

    get: Getter
    descending: bool
    nulls_last: bool
    normalize: Normalizer | None


class QueryPlan:
    """A compiled query (from :func:`.soql.plan_query`): filter, order, window and project.

    Attributes:
        object: the queried sObject.
        is_count: ``SELECT COUNT() FROM ...``.
        columns: canonical selected paths (``["Id", "Account.Name"]``), the Bulk CSV header.
        limit: the LIMIT, or None.
        offset: the OFFSET, or None.
        aggregate: for ``GROUP BY`` / aggregate functions, what computes the
            ``AggregateResult`` rows (:mod:`.soql_aggregate`); None for a record query.
        children: the child relationships selected by subqueries (``["Contacts"]``).
    """

    def __init__(
        self,
        *,
        object: SfObject,
        is_count: bool,
        columns: list[str],
        limit: int | None,
        offset: int | None,
        where: PredFactory | None,
        order: list[tuple[GetterFactory, bool, bool, Normalizer | None]],
        projection: Projection,
        flat: list[GetterFactory],
    ) -> None:
        self.object = object
        self.is_count = is_count
        self.columns = columns
        self.limit = limit
        self.offset = offset
        self._where = where
        self._order = order
        self._projection = projection
        self._flat = flat
        self._flat_bound: tuple[Resolver, list[Callable[[Record], Any]]] | None = None
        self.aggregate: AggregateRunner | None = None
        self.children: list[str] = []

    def execute(
        self, records: Iterable[Record], resolver: Resolver, *, now: datetime
    ) -> list[Record]:
        """Return the matching records, ordered, after OFFSET and LIMIT (the same dicts)."""
        rows: Iterable[Record] = records
        if self._where is not None:
            rows = filter(self._where(Env(now, resolver)), rows)
        start = self.offset or 0
        stop = None if self.limit is None else start + self.limit
        if not self._order:
            return list(islice(rows, start, stop))
        keys = [OrderKey(get(resolver), desc, last, norm) for get, desc, last, norm in self._order]
        return order_rows(list(rows), keys)[start:stop]

    def count(self, records: Iterable[Record], resolver: Resolver, *, now: datetime) -> int:
        """Return how many records match, ignoring OFFSET and LIMIT."""
        if self._where is None:
            return len(records) if isinstance(records, Sized) else sum(1 for _ in records)
        return len(list(filter(self._where(Env(now, resolver)), records)))

    def project(self, record: Record, resolver: Resolver, version: str) -> dict[str, Any]:
        """Return the JSON wire record: ``attributes`` first, then fields in SELECT order."""
        return self._projection(record, resolver, version)

    def project_many(
        self, records: Sequence[Record], resolver: Resolver, version: str
    ) -> list[dict[str, Any]]:
        """Project a page of records with the compiled builder (the paging hot path)."""
        return self._projection.many(records, resolver, version)

    def project_flat(self, record: Record, resolver: Resolver) -> list[Any]:
        """Return one value per :attr:`columns` entry (parent values flattened, for Bulk CSV)."""
        bound = self._flat_bound
        if bound is None or bound[0] is not resolver:
            bound = (resolver, [factory(resolver) for factory in self._flat])
            self._flat_bound = bound
        return [get(record) for get in bound[1]]


# --- getters ------------------------------------------------------------------------------


def address_getter(components: tuple[str, ...]) -> Getter:
    """Return ``record -> address dict`` built from the compound field's components.

    Compound fields are not stored: Salesforce assembles them from their components (§2),
    and the whole value is null when every component is.
    """
    pairs = tuple(zip(_ADDRESS_KEYS, components, strict=True))

    def get(record: Record) -> Any:
        parts = {key: record.get(name) for key, name in pairs}
        if all(value is None for value in parts.values()):
            return None
        return {
            "city": parts["city"],
            "country": parts["country"],
            "geocodeAccuracy": None,
            "latitude": None,
            "longitude": None,
            "postalCode": parts["postalCode"],
            "state": parts["state"],
            "street": parts["street"],
        }

    return get


def field_getter(
    lookups: tuple[tuple[str, str], ...], name: str, components: tuple[str, ...] = ()
) -> GetterFactory:
    """Return a factory of getters for a (possibly parent-relationship) field path.

    Args:
        lookups: ``(lookup field, target object)`` per relationship hop, root first.
        name: the final field's API name.
        components: for a compound address field, its component fields.

    Returns:
        A function that binds a resolver and returns ``record -> value`` (None along a
        null or dangling lookup).
    """
    leaf: Getter = address_getter(components) if components else methodcaller("get", name)
    if not lookups:
        return lambda resolver: leaf

    def bind(resolver: Resolver) -> Getter:
        fetch = resolver.get

        def get(record: Record) -> Any:
            current: Record | None = record
            for lookup, target in lookups:
                ref = current.get(lookup)  # type: ignore[union-attr]
                if ref is None:
                    return None
                current = fetch(target, ref)
                if current is None:
                    return None
            return leaf(current)  # type: ignore[arg-type]

        return get

    return bind


# --- predicates ---------------------------------------------------------------------------


def compare_pred(get: Getter, op: Op, value: Any, *, fold: bool) -> Pred:
    """Return ``record -> field op value``; SOQL's ``!=`` matches nulls, ``<``/``>`` never do.

    Args:
        get: the field's getter.
        op: the comparison operator (``<>`` already mapped to ``!=``).
        value: the literal, already coerced (lower-cased when ``fold``); None for ``null``.
        fold: compare strings case-insensitively.
    """
    if value is None:
        if op == "=":
            return lambda r: get(r) is None
        if op == "!=":
            return lambda r: get(r) is not None
        return lambda r: False
    if fold:
        if value == "" and op in ("=", "!="):  # Salesforce stores '' as null: '' means empty
            return (lambda r: not get(r)) if op == "=" else (lambda r: bool(get(r)))
        if op == "=":
            return lambda r: (v := get(r)) is not None and v.lower() == value
        if op == "!=":
            return lambda r: (v := get(r)) is None or v.lower() != value
        if op == "<":
            return lambda r: (v := get(r)) is not None and v.lower() < value
        if op == "<=":
            return lambda r: (v := get(r)) is not None and v.lower() <= value
        if op == ">":
            return lambda r: (v := get(r)) is not None and v.lower() > value
        return lambda r: (v := get(r)) is not None and v.lower() >= value
    if op == "=":
        return lambda r: get(r) == value
    if op == "!=":
        return lambda r: get(r) != value
    if op == "<":
        return lambda r: (v := get(r)) is not None and v < value
    if op == "<=":
        return lambda r: (v := get(r)) is not None and v <= value
    if op == ">":
        return lambda r: (v := get(r)) is not None and v > value
    return lambda r: (v := get(r)) is not None and v >= value


def range_pred(get: Getter, op: Op, low: str, high: str) -> Pred:
    """Return the predicate of ``field op LITERAL`` for a date literal covering [low, high).

    ``=`` means inside the range, ``<`` before its start, ``>`` after its end (§3).
    """
    if op == "=":
        return lambda r: (v := get(r)) is not None and low <= v < high
    if op == "!=":
        return lambda r: (v := get(r)) is None or not low <= v < high
    if op == "<":
        return lambda r: (v := get(r)) is not None and v < low
    if op == "<=":
        return lambda r: (v := get(r)) is not None and v < high
    if op == ">":
        return lambda r: (v := get(r)) is not None and v >= high
    return lambda r: (v := get(r)) is not None and v >= low


def in_pred(get: Getter, values: frozenset[Any], *, negate: bool, fold: bool, nulls: bool) -> Pred:
    """Return ``record -> field [NOT] IN values``; ``NOT IN`` matches nulls unless listed.

    Args:
        get: the field's getter.
        values: the coerced, non-null literals (lower-cased when ``fold``).
        negate: ``NOT IN``.
        fold: compare strings case-insensitively.
        nulls: whether ``null`` is one of the listed values.
    """
    if fold:
        if negate:
            return lambda r: (
                ((v := get(r)) is None and not nulls) or (v is not None and v.lower() not in values)
            )
        return lambda r: (
            ((v := get(r)) is None and nulls) or (v is not None and v.lower() in values)
        )
    if negate:
        return lambda r: (
            ((v := get(r)) is None and not nulls) or (v is not None and v not in values)
        )
    return lambda r: ((v := get(r)) is None and nulls) or (v is not None and v in values)


def like_pred(get: Getter, parts: Sequence[LikePart]) -> Pred:
    """Return ``record -> field LIKE pattern`` (case-insensitive; ``%`` any run, ``_`` one char).

    Common shapes (``'abc'``, ``'abc%'``, ``'%abc'``, ``'%abc%'``) avoid the regex engine.
    """
    kinds = "".join("t" if kind == "text" else "%" if kind == "any" else "_" for kind, _ in parts)
    texts = [text.lower() for kind, text in parts if kind == "text"]
    shapes: dict[str, Callable[[str], bool]] = {
        "": lambda v: v == "",
        "t": lambda v: v == texts[0],
        "t%": lambda v: v.startswith(texts[0]),
        "%t": lambda v: v.endswith(texts[0]),
        "%t%": lambda v: texts[0] in v,
        "%": lambda v: True,
    }
    shape = re.sub("%+", "%", kinds)
    if shape in shapes and "_" not in kinds:
        test = shapes[shape]
        return lambda r: (v := get(r)) is not None and test(v.lower())
    source = "".join(
        re.escape(text) if kind == "text" else ".*" if kind == "any" else "."
        for kind, text in parts
    )
    match = re.compile(source, re.IGNORECASE | re.DOTALL).fullmatch
    return lambda r: (v := get(r)) is not None and match(v) is not None


def combine(op: Literal["AND", "OR"], factories: list[PredFactory]) -> PredFactory:
    """Return the factory of ``p1 AND p2 ...`` (or OR), short-circuiting left to right."""

    def bind(env: Env) -> Pred:
        preds = [factory(env) for factory in factories]
        pred = preds[0]
        for other in preds[1:]:
            pred = _both(pred, other) if op == "AND" else _either(pred, other)
        return pred

    return bind


def _both(a: Pred, b: Pred) -> Pred:
    return lambda r: a(r) and b(r)


def _either(a: Pred, b: Pred) -> Pred:
    return lambda r: a(r) or b(r)


def negate(factory: PredFactory) -> PredFactory:
    """Return the factory of ``NOT p`` (which matches the rows ``p`` rejects, nulls included)."""
    return lambda env: _not(factory(env))


def _not(a: Pred) -> Pred:
    return lambda r: not a(r)


# --- literals ---------------------------------------------------------------------------

_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))"
)
# Quoted-string escapes (§3); \% and \_ are kept for LIKE and mean themselves elsewhere.
_ESCAPES = {
    "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t",
    "b": "\b", "B": "\b", "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\",
}  # fmt: skip


def decode_string(body: str) -> tuple[str, tuple[LikePart, ...]]:
    r"""Decode the inside of a quoted literal into its value and its LIKE parts.

    Escapes follow §3; ``\%`` and ``\_`` are literal wildcards in the LIKE parts and stay
    two characters in the value (they only mean something in LIKE).

    Raises:
        ValueError: an unknown escape sequence (the message is Salesforce's wording).
    """
    value: list[str] = []
    parts: list[LikePart] = []
    chunk: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            hex4 = body[i + 2 : i + 6]
            if nxt in _ESCAPES:
                char, i = _ESCAPES[nxt], i + 2
            elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", hex4):
                char, i = chr(int(hex4, 16)), i + 6
            elif nxt in "%_":
                value.append("\\" + nxt)
                chunk.append(nxt)
                i += 2
                continue
            else:
                detail = (
                    f"Invalid string literal '{body}'. Illegal character sequence "
                    f"'\\{nxt}' in string literal."
                )
                raise ValueError(detail)
            value.append(char)
            chunk.append(char)
            continue
        if char in "%_":
            if chunk:
                parts.append(("text", "".join(chunk)))
                chunk = []
            parts.append(("any" if char == "%" else "one", ""))
        else:
            chunk.append(char)
        value.append(char)
        i += 1
    if chunk:
        parts.append(("text", "".join(chunk)))
    return "".join(value), tuple(parts)


def datetime_to_wire(text: str) -> str | None:
    """Return the UTC wire form of a SOQL dateTime literal, or None for an impossible date."""
    m = _DATETIME_RE.fullmatch(text)
    assert m is not None
    offset = timedelta(0)
    if m[8]:
        offset = timedelta(hours=int(m[9]), minutes=int(m[10])) * (-1 if m[8] == "-" else 1)
    try:
        year, month, day, hour, minute, second = (int(part) for part in m.groups()[:6])
        micros = int((m[7] or "0")[:6].ljust(6, "0"))
        moment = datetime(year, month, day, hour, minute, second, micros, timezone(offset))
        moment = moment.astimezone(UTC)
    except ValueError:
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


# --- relative date literals ---------------------------------------------------------------

_UNITS = {
    "DAY": "day",
    "WEEK": "week",
    "MONTH": "month",
    "QUARTER": "quarter",
    "YEAR": "year",
    # The sandbox org keeps the default fiscal year (January start), so fiscal = calendar.
    "FISCAL_QUARTER": "quarter",
    "FISCAL_YEAR": "year",
}
_FIXED: dict[str, tuple[RelativeMode, str, int | None]] = {
    "YESTERDAY": ("LAST", "day", None),
    "TODAY": ("THIS", "day", None),
    "TOMORROW": ("NEXT", "day", None),
    "LAST_90_DAYS": ("LAST_N", "day", 90),
    "NEXT_90_DAYS": ("NEXT_N", "day", 90),
}
_UNIT = "(DAY|WEEK|MONTH|QUARTER|YEAR|FISCAL_QUARTER|FISCAL_YEAR)"
_THIS_RE = re.compile(rf"(THIS|LAST|NEXT)_{_UNIT}")
_LAST_N_RE = re.compile(rf"(LAST|NEXT)_N_{_UNIT}S")
_AGO_RE = re.compile(rf"N_{_UNIT}S_AGO")


def relative_spec(name: str) -> tuple[RelativeMode, str, int | None, bool] | None:
    """Return ``(mode, unit, fixed n, needs ':n')`` for a date literal name, or None.

    Examples:
        >>> relative_spec("last_n_days")
        ('LAST_N', 'day', None, True)
        >>> relative_spec("THIS_QUARTER")
        ('THIS', 'quarter', None, False)
        >>> relative_spec("LastName") is None
        True
    """
    upper = name.upper()
    if upper in _FIXED:
        mode, unit, n = _FIXED[upper]
        return mode, unit, n, False
    if m := _THIS_RE.fullmatch(upper):
        return m[1], _UNITS[m[2]], None, False  # type: ignore[return-value]
    if m := _LAST_N_RE.fullmatch(upper):
        return f"{m[1]}_N", _UNITS[m[2]], None, True  # type: ignore[return-value]
    if m := _AGO_RE.fullmatch(upper):
        return "AGO", _UNITS[m[1]], None, True
    return None


def _start(today: date, unit: str) -> date:
    if unit == "day":
        return today
    if unit == "week":  # weeks start on Sunday (en_US locale)
        return today - timedelta(days=(today.weekday() + 1) % 7)
    if unit == "month":
        return today.replace(day=1)
    if unit == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return date(today.year, 1, 1)


def _shift(start: date, unit: str, k: int) -> date:
    # A range past the calendar (LAST_N_DAYS:2000000000) reaches its end: date.min / max.
    try:
        if unit == "day":
            return start + timedelta(days=k)
        if unit == "week":
            return start + timedelta(days=7 * k)
        months = k * {"month": 1, "quarter": 3, "year": 12}[unit]
        year, month = divmod(start.month - 1 + months, 12)
        return date(start.year + year, month + 1, 1)
    except (OverflowError, ValueError):
        return date.min if k < 0 else date.max


def relative_range(mode: RelativeMode, unit: str, n: int, now: datetime) -> tuple[date, date]:
    """Return the half-open day range [start, end) a relative date literal covers at ``now``.

    ``LAST_N_DAYS:n`` includes today (so ``n + 1`` days); ``NEXT_N_DAYS:n`` starts tomorrow;
    ``LAST_N_WEEKS:n`` and the like end where the current period starts (SOQL reference,
    "Date Formats and Date Literals"). ``now`` is read in UTC.

    Examples:
        >>> now = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)  # a Wednesday
        >>> relative_range("THIS", "week", 1, now)
        (datetime.date(2024, 3, 10), datetime.date(2024, 3, 17))
        >>> relative_range("LAST_N", "day", 2, now)
        (datetime.date(2024, 3, 11), datetime.date(2024, 3, 14))
    """
    today = (now if now.tzinfo is None else now.astimezone(UTC)).date()
    start = _start(today, unit)
    if mode == "THIS":
        return start, _shift(start, unit, 1)
    if mode == "LAST":
        return _shift(start, unit, -1), start
    if mode == "NEXT":
        return _shift(start, unit, 1), _shift(start, unit, 2)
    if mode == "LAST_N":
        return _shift(start, unit, -n), (_shift(start, unit, 1) if unit == "day" else start)
    if mode == "NEXT_N":
        return _shift(start, unit, 1), _shift(start, unit, 1 + n)
    return _shift(start, unit, -n), _shift(start, unit, 1 - n)


# --- ORDER BY -----------------------------------------------------------------------------


def order_rows(rows: list[Record], keys: Sequence[OrderKey]) -> list[Record]:
    """Return ``rows`` sorted by ``keys`` (stable; nulls placed per key, first by default).

    One stable pass per key, least significant first. Each pass reads every value once and
    sorts indexes by the precomputed keys with C-level callables only; it creates no tuples,
    whose allocation would wake the cyclic GC over a million tracked record dicts.
    """
    for key in reversed(keys):
        values = list(map(key.get, rows))
        nulls: list[Record] = []
        if None in values:
            present = [value is not None for value in values]
            nulls = list(compress(rows, map(not_, present)))
            rows = list(compress(rows, present))
            values = list(compress(values, present))
        if key.normalize is not None:
            values = key.normalize(values)
        values = _ranked(values)
        order = sorted(range(len(values)), key=values.__getitem__, reverse=key.descending)
        ordered = list(map(rows.__getitem__, order))
        rows = ordered + nulls if key.nulls_last else nulls + ordered
    return rows


def _ranked(values: list[Any]) -> list[Any]:
    # Few distinct values (dates, picklists, names): sort them once and compare small ints,
    # which avoids chasing a million string pointers through memory on every comparison.
    sample = values[:: max(1, len(values) // 512)]
    if len(values) < 4096 or len(set(sample)) * 4 > len(sample):
        return values
    rank = {value: i for i, value in enumerate(sorted(set(values)))}
    return list(map(rank.__getitem__, values))


def sort_normalizer(field: SfField) -> Normalizer | None:
    """Return the sort-key transform for a field's values: picklist order, upper-cased text.

    Salesforce sorts picklists in their defined value order and text by the upper-cased
    value (SOQL reference, "ORDER BY"); other types sort by their wire value. Picklist
    values become small int ranks (values outside the list rank after it, alphabetically).
    """
    if field.type == "picklist" and field.picklist:
        defined = {value.upper(): i for i, value in enumerate(field.picklist)}
        last = len(defined)

        def ranks(values: list[Any]) -> list[Any]:
            distinct = sorted(set(values), key=lambda v: (defined.get(v.upper(), last), v.upper()))
            rank = {value: i for i, value in enumerate(distinct)}
            return list(map(rank.__getitem__, values))

        return ranks
    if field.is_string:
        return lambda values: list(map(str.upper, values))
    return None


# --- projection ---------------------------------------------------------------------------


class Projection:
    """Builds the JSON record of one object level: ``attributes``, then fields in order.

    Paging serialises up to 2,000 records a call, so the record builder is generated once
    per API version as a single dict display (``{'attributes': ..., 'Id': r['Id'], ...}``):
    Python then builds each record presized, without a loop or a call per field. Names
    come from the schema (identifiers) and enter the source only through ``repr``.
    """

    def __init__(self, object_name: str) -> None:
        self.type = object_name
        self.steps: list[tuple[str, Callable[[Record, Resolver, str], Any] | None]] = []
        self.children: dict[str, Projection] = {}
        self._compiled: dict[tuple[str, int], Callable[[Record], dict[str, Any]]] = {}

    def add(self, hops: tuple[tuple[SfField, SfObject], ...], leaf: SfField) -> None:
        """Add a selected field reached through ``hops`` (nested under its relationship)."""
        self._compiled.clear()
        if not hops:
            if leaf.type == "address":
                build = address_getter(leaf.components)
                self.steps.append((leaf.name, lambda record, resolver, version: build(record)))
            else:
                self.steps.append((leaf.name, None))
            return
        lookup, target = hops[0]
        relationship = str(lookup.relationship_name)
        child = self.children.get(relationship)
        if child is None:
            child = self.children[relationship] = Projection(target.name)
            self.steps.append((relationship, _nested(lookup.name, target.name, child)))
        child.add(hops[1:], leaf)

    def __call__(self, record: Record, resolver: Resolver, version: str) -> dict[str, Any]:
        """Return the wire record of ``record`` (``attributes`` first)."""
        build = self._compiled.get((version, id(resolver)))
        if build is None:
            build = self._compile(resolver, version)
        try:
            return build(record)
        except KeyError:  # a partial record (not one the sandbox stores): the slow, lenient way
            return self._lenient(record, resolver, version)

    def many(
        self, records: Sequence[Record], resolver: Resolver, version: str
    ) -> list[dict[str, Any]]:
        """Return the wire records of a page: one C-level map over the compiled builder."""
        build = self._compiled.get((version, id(resolver))) or self._compile(resolver, version)
        try:
            return list(map(build, records))
        except KeyError:
            return [self(record, resolver, version) for record in records]

    def _compile(self, resolver: Resolver, version: str) -> Callable[[Record], dict[str, Any]]:
        env: dict[str, Any] = {
            "T": self.type,
            "P": f"/services/data/v{version}/sobjects/{self.type}/",
            "R": resolver,
            "V": version,
        }
        items = ["'attributes': {'type': T, 'url': P + r['Id']}"]
        for index, (name, build) in enumerate(self.steps):
            if build is None:
                items.append(f"{name!r}: r[{name!r}]")
            else:
                env[f"B{index}"] = build
                items.append(f"{name!r}: B{index}(r, R, V)")
        function: Callable[[Record], dict[str, Any]] = eval(
            "lambda r: {" + ", ".join(items) + "}", {"__builtins__": {}, **env}
        )
        self._compiled[(version, id(resolver))] = function
        return function

    def _lenient(self, record: Record, resolver: Resolver, version: str) -> dict[str, Any]:
        kind = self.type
        url = f"/services/data/v{version}/sobjects/{kind}/{record.get('Id')}"
        out: dict[str, Any] = {"attributes": {"type": kind, "url": url}}
        get = record.get
        for name, build in self.steps:
            out[name] = get(name) if build is None else build(record, resolver, version)
        return out


def _nested(lookup: str, target: str, child: Projection) -> Callable[[Record, Resolver, str], Any]:
    # A null or dangling lookup makes the whole relationship value null, not a dict of nulls (§2).
    def build(record: Record, resolver: Resolver, version: str) -> Any:
        ref = record.get(lookup)
        parent = None if ref is None else resolver.get(target, ref)
        return None if parent is None else child(parent, resolver, version)

    return build
