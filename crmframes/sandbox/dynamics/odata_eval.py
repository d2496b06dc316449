"""Run-time half of the sandbox's OData engine: the compiled plan and the closures it runs.

Edge helper of the Dataverse sandbox (pure functions). :mod:`.odata` parses and type-checks
``$select``, ``$filter``, ``$orderby`` and ``$top`` once and assembles these pieces into a
:class:`QueryPlan`: getters along navigation paths, predicates, SQL Server ``LIKE``
patterns, the date ranges of Dataverse's query functions, the ``$orderby`` passes and the
compiled JSON projection. Nothing here walks a syntax tree, so the per-record cost is a few
Python calls (reference/dataverse-api.md §3). Values are wire values: text, lowercase GUIDs,
ints, floats, bools, ``YYYY-MM-DD`` dates and ``YYYY-MM-DDTHH:MM:SSZ`` datetimes (UTC, whole
seconds, so they order correctly as strings).

Dataverse runs on SQL Server, whose logic has three values: a comparison with a null operand
is UNKNOWN, and ``not UNKNOWN`` is UNKNOWN too. Every condition is therefore compiled in one
of two polarities, *holds* (the condition is TRUE) or *fails* (it is FALSE); ``not`` swaps
them and a null operand satisfies neither, so ``ne 'x'`` and ``not (p eq 'x')`` skip nulls.

Longer than 500 lines: the run-time closures of the one OData engine; their shapes are one
contract with odata.py.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import compress, islice, repeat
from operator import eq, ge, gt, is_not, itemgetter, le, lt, ne, not_
from typing import Any, Literal, Protocol

from .schema import NUMBER_TYPES, OPTION_TYPES, TEXT_TYPES, DvAttribute, DvEntity, DvSchema

__all__ = [
    "COMPLEMENT", "GUID_RE", "MIRROR", "RELATIVE_FUNCTIONS", "Env", "Getter", "GetterFactory",
    "Normalizer", "Op", "OrderKey", "Pred", "PredFactory", "Projection", "QueryPlan", "Record",
    "Resolver", "all_of", "any_of", "between_pred", "collate_all", "collation_key", "columns_pred",
    "compare_pred", "constant", "day_range", "decode_literal", "decode_value", "equality_value",
    "guid_all", "guid_order_key", "in_pred", "label_ranks", "like_pred", "moment_bounds",
    "null_pred", "order_rows", "parse_datetime", "path_getter", "reference_name_getter",
    "relative_range", "sort_transform", "to_wire",
]  # fmt: skip

Record = dict[str, Any]
Getter = Callable[[Record], Any]
Pred = Callable[[Record], bool]
Op = Literal["eq", "ne", "gt", "ge", "lt", "le"]
Normalizer = Callable[[list[Any]], list[Any]]
Range = tuple[datetime | None, bool, datetime | None, bool]  # low, inclusive, high, inclusive

COMPLEMENT: dict[Op, Op] = {"eq": "ne", "ne": "eq", "gt": "le", "le": "gt", "ge": "lt", "lt": "ge"}
"""The operator whose TRUE is this one's FALSE (both are UNKNOWN on nulls)."""
MIRROR: dict[Op, Op] = {"eq": "eq", "ne": "ne", "gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}
"""The operator to use when the operands swap sides (``5 lt p`` is ``p gt 5``)."""
_OPERATORS: dict[Op, Callable[[Any, Any], bool]] = {
    "eq": eq, "ne": ne, "gt": gt, "ge": ge, "lt": lt, "le": le,
}  # fmt: skip
RELATIVE_FUNCTIONS: dict[str, bool] = {
    "Today": False, "Yesterday": False, "Tomorrow": False,
    "LastXDays": True, "NextXDays": True, "LastXHours": True, "NextXHours": True,
    "Last7Days": False, "Next7Days": False,
    "ThisWeek": False, "LastWeek": False, "NextWeek": False,
    "ThisMonth": False, "LastMonth": False, "NextMonth": False,
    "ThisYear": False, "LastYear": False, "NextYear": False,
}  # fmt: skip
"""Dataverse's relative date functions the sandbox evaluates -> whether they take PropertyValue."""

_LOWEST, _HIGHEST = "", "\U0010ffff"  # open ends of a range of wire strings
_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
_MAX_DAYS = 3_660_000  # more than the whole datetime range: larger counts clamp to it
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
_GUID_ORDER = itemgetter(*(slice(a, b) for a, b in (
    (24, 36), (19, 23), (16, 18), (14, 16), (11, 13), (9, 11), (6, 8), (4, 6), (2, 4), (0, 2),
)))  # fmt: skip
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_INTEGER_RE = re.compile(r"[+-]?\d{1,19}", re.ASCII)
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
GUID_RE = re.compile(r"\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?", re.I)
"""A GUID, optionally in braces (as .NET's ``Guid.Parse`` takes it); group 1 is the bare GUID."""


class Resolver(Protocol):
    """Where a query finds the records a navigation path leads to."""

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        """Return the live record of table ``entity`` (logical name) by primary id, or None."""


GetterFactory = Callable[[Resolver], Getter]


@dataclass(frozen=True, slots=True)
class Env:
    """What a compiled ``$filter`` is bound to for one execution (``now`` in UTC)."""

    now: datetime
    resolver: Resolver


PredFactory = Callable[[Env], Pred]


OrderKey = tuple[Getter, bool, Normalizer | None]  # value getter, descending, sort transform


class QueryPlan:
    """A compiled query (from :func:`.odata.plan_query`): filter, order, top and project.

    Attributes:
        entity: the queried table.
        columns: the property names each row carries, in ``$select`` order with the primary
            id appended when not selected (every property without ``$select``).
        top: the ``$top``, or None.
    """

    def __init__(
        self,
        *,
        entity: DvEntity,
        columns: list[str],
        top: int | None,
        where: PredFactory | None,
        order: list[tuple[GetterFactory, bool, Normalizer | None]],
        tree: Any = None,
    ) -> None:
        self.entity = entity
        self.tree = tree  # the parsed $filter, for an index seek (.id_index)
        self.columns = columns
        self.top = top
        self._where = where
        self._order = order
        self._projection = Projection(columns)

    def execute(
        self, records: Iterable[Record], resolver: Resolver, *, now: datetime, seek: bool = False
    ) -> list[Record]:
        """Return the matching records, ordered (``seek``: they come in order), cut at ``$top``."""
        rows: Iterable[Record] = records
        if self._where is not None:
            rows = filter(self._where(Env(_utc(now), resolver)), rows)
        if not self._order or seek:
            return list(rows if self.top is None else islice(rows, self.top))
        keys = [(get(resolver), descending, norm) for get, descending, norm in self._order]
        ordered = order_rows(list(rows), keys)
        return ordered if self.top is None else ordered[: self.top]

    def count(self, records: Iterable[Record], resolver: Resolver, *, now: datetime) -> int:
        """Return how many records match, ignoring ``$top``."""
        if self._where is None:
            return len(records) if isinstance(records, Sized) else sum(1 for _ in records)
        return len(list(filter(self._where(Env(_utc(now), resolver)), records)))

    def project_many(
        self, records: Sequence[Record], etag: Callable[[Record], str] | None = None
    ) -> list[dict[str, Any]]:
        """Return the wire rows of a page: ``@odata.etag`` (when given), then the columns."""
        return self._projection.many(records, etag)


# --- getters ------------------------------------------------------------------------------


def path_getter(hops: tuple[tuple[str, str], ...], name: str) -> GetterFactory:
    """Return a factory of getters along single-valued navigation properties.

    Args:
        hops: ``(lookup property, target table)`` per navigation segment, root first, e.g.
            ``(("_parentcustomerid_value", "account"),)`` for ``parentcustomerid_account``.
        name: the property read on the last record.

    Returns:
        A function that binds a resolver and returns ``record -> value``: None along a
        null lookup, or one that points at another table (a polymorphic lookup) or nowhere.
    """
    if not hops:
        get = itemgetter(name)  # the record carries every property
        return lambda resolver: get

    def bind(resolver: Resolver) -> Getter:
        fetch = resolver.get

        def get(record: Record) -> Any:
            current: Record | None = record
            for lookup, target in hops:
                ref = current[lookup]  # type: ignore[index]
                if ref is None:
                    return None
                current = fetch(target, ref)
                if current is None:
                    return None
            return current[name]  # type: ignore[index]

        return get

    return bind


def reference_name_getter(
    base: GetterFactory, targets: tuple[tuple[str, str | None], ...]
) -> GetterFactory:
    """Return a factory of ``record -> primary name of the record a lookup points at``.

    Dataverse orders lookup columns by the related record's primary name, not by the GUID
    (FetchXML docs, "Order rows": lookup columns). ``targets`` holds ``(table, primary
    name column)`` per possible target; a table without one orders by the id itself.
    """

    def bind(resolver: Resolver) -> Getter:
        get, fetch = base(resolver), resolver.get

        def name(record: Record) -> Any:
            ref = get(record)
            if ref is None:
                return None
            for table, column in targets:
                parent = fetch(table, ref)
                if parent is not None:
                    return ref if column is None else parent.get(column)
            return None

        return name

    return bind


# --- predicates ---------------------------------------------------------------------------


def constant(value: bool) -> Pred:
    """Return the predicate that answers ``value`` for every record."""
    return lambda r: value


def null_pred(get: Getter, *, is_null: bool) -> Pred:
    """Return ``record -> value is null`` (or is not null): never UNKNOWN."""
    if is_null:
        return lambda r: get(r) is None
    return lambda r: get(r) is not None


def compare_pred(
    get: Getter, op: Op, value: Any, *, fold: bool = False, key: Callable[[Any], Any] | None = None
) -> Pred:
    """Return ``record -> value op literal``, False when the record's value is null.

    Args:
        get: the property's getter.
        op: the operator, already complemented for the *fails* polarity.
        value: the non-null literal, already coerced (lower-cased when ``fold``).
        fold: compare text case-insensitively.
        key: an order-preserving transform for ``gt``/``ge``/``lt``/``le`` (GUIDs).
    """
    if fold:
        if op == "eq":
            return lambda r: (v := get(r)) is not None and v.lower() == value
        if op == "ne":
            return lambda r: (v := get(r)) is not None and v.lower() != value
        test = _OPERATORS[op]
        return lambda r: (v := get(r)) is not None and test(v.lower(), value)
    if op == "eq":
        return lambda r: get(r) == value
    if op == "ne":
        return lambda r: (v := get(r)) is not None and v != value
    test = _OPERATORS[op]
    if key is guid_order_key:
        # A GUID's last group leads SQL Server's order: compared alone it settles all but
        # the rare ties, without building the whole key per row (range reads scan a table)
        head, bound = value[24:36], key(value)
        return lambda r: (
            (v := get(r)) is not None
            and (test(h, head) if (h := v[24:36]) != head else test(key(v), bound))
        )
    if key is not None:
        transform, bound = key, key(value)
        return lambda r: (v := get(r)) is not None and test(transform(v), bound)
    return lambda r: (v := get(r)) is not None and test(v, value)


def columns_pred(
    left: Getter, op: Op, right: Getter, *, fold: bool, key: Callable[[Any], Any] | None
) -> Pred:
    """Return ``record -> left op right`` for two properties, False when either is null."""
    test, transform = _OPERATORS[op], str.lower if fold else key
    if transform is None or (not fold and op in ("eq", "ne")):
        return lambda r: (a := left(r)) is not None and (b := right(r)) is not None and test(a, b)
    return lambda r: (
        (a := left(r)) is not None
        and (b := right(r)) is not None
        and test(transform(a), transform(b))
    )


def in_pred(get: Getter, values: frozenset[Any], *, inside: bool, fold: bool) -> Pred:
    """Return ``record -> value [NOT] IN values``; nulls match neither (SQL ``IN``)."""
    if fold:
        if inside:
            return lambda r: (v := get(r)) is not None and v.lower() in values
        return lambda r: (v := get(r)) is not None and v.lower() not in values
    if inside:
        return lambda r: get(r) in values
    return lambda r: (v := get(r)) is not None and v not in values


def between_pred(get: Getter, low: Any, high: Any, *, inside: bool, fold: bool = False) -> Pred:
    """Return ``record -> low <= value <= high`` (or its negation); nulls match neither."""
    if fold:
        if inside:
            return lambda r: (v := get(r)) is not None and low <= v.lower() <= high
        return lambda r: (v := get(r)) is not None and not low <= v.lower() <= high
    if inside:
        return lambda r: (v := get(r)) is not None and low <= v <= high
    return lambda r: (v := get(r)) is not None and not low <= v <= high


def like_pred(get: Getter, pattern: str, *, holds: bool) -> Pred:
    """Return ``record -> value LIKE pattern`` as SQL Server runs it, case-insensitively.

    ``%`` is any run, ``_`` one character, ``[abc]``/``[a-c]`` one of a set and ``[^abc]``
    one outside it; ``[%]``, ``[_]`` and ``[[]`` are how a literal wildcard is written. An
    unclosed ``[`` makes the pattern match nothing. ``holds=False`` returns the non-null
    values that do not match (``not contains(...)``).
    """
    match = _like_matcher(pattern.lower())
    if match is None:
        return (lambda r: False) if holds else (lambda r: get(r) is not None)
    if isinstance(match, str):  # contains(p,'x'), the usual case: one call less per record
        if holds:
            return lambda r: (v := get(r)) is not None and match in v.lower()
        return lambda r: (v := get(r)) is not None and match not in v.lower()
    if holds:
        return lambda r: (v := get(r)) is not None and match(v.lower())
    return lambda r: (v := get(r)) is not None and not match(v.lower())


def _like_matcher(pattern: str) -> Callable[[str], bool] | str | None:
    # None: matches nothing; a str: the pattern is %text%; else a function of the value.
    segments: list[str] = [""]  # regex source of each run between two %
    texts: list[str | None] = [""]  # the run's plain text, None once it holds a wildcard
    i = 0
    while i < len(pattern):
        char, i = pattern[i], i + 1
        if char == "%":
            if len(segments) == 1 or segments[-1]:  # %% is %
                segments.append("")
                texts.append("")
            continue
        if char == "[":
            close = pattern.find("]", i)
            if close < 0:
                return None
            body, i = pattern[i:close], close + 1
            if len(body) != 1:  # [%], [_], [[] and [x] are the character itself
                segments[-1] += _char_class(body)
                texts[-1] = None
                continue
            char = body
        elif char == "_":
            segments[-1] += "."
            texts[-1] = None
            continue
        segments[-1] += re.escape(char)
        texts[-1] = None if texts[-1] is None else texts[-1] + char
    first, last = texts[0], texts[-1]
    if len(texts) == 1 and first is not None:
        return lambda v: v == first
    if len(texts) == 2 and first is not None and last is not None:
        return lambda v: len(v) >= len(first + last) and v.startswith(first) and v.endswith(last)
    if len(texts) == 3 and first == last == "" and texts[1] is not None:
        return texts[1]
    # Each middle run is matched at its leftmost place and kept there (an atomic group):
    # exact for these patterns, and immune to the backtracking blow-up of many .* runs.
    inner = "".join(f"(?>.*?{segment})" for segment in segments[1:-1])
    tail = f".*{segments[-1]}" if len(segments) > 1 else ""
    whole = re.compile(segments[0] + inner + tail, re.DOTALL).fullmatch
    return lambda v: whole(v) is not None


def _char_class(body: str) -> str:
    negate = body.startswith("^")
    items = body[1:] if negate else body
    pieces: list[str] = []
    j = 0
    while j < len(items):
        if j + 2 < len(items) and items[j + 1] == "-":  # a range; reversed, it is empty
            if items[j] <= items[j + 2]:
                pieces.append(f"{re.escape(items[j])}-{re.escape(items[j + 2])}")
            j += 3
        else:
            pieces.append(re.escape(items[j]))
            j += 1
    if not pieces:
        return "." if negate else "(?!)"
    return "[" + ("^" if negate else "") + "".join(pieces) + "]"


def all_of(factories: Sequence[PredFactory]) -> PredFactory:
    """Return the factory of ``p1 and p2 ...``, short-circuiting left to right."""
    return lambda env: _join([factory(env) for factory in factories], True)


def any_of(factories: Sequence[PredFactory]) -> PredFactory:
    """Return the factory of ``p1 or p2 ...``, short-circuiting left to right."""
    return lambda env: _join([factory(env) for factory in factories], False)


def _join(preds: list[Pred], conjunctive: bool) -> Pred:
    while len(preds) > 3:  # a shallow tree: a long chain must not nest calls deeply
        preds = [_join(preds[i : i + 3], conjunctive) for i in range(0, len(preds), 3)]
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return (lambda r: a(r) and b(r)) if conjunctive else (lambda r: a(r) or b(r))
    a, b, c = preds
    return (lambda r: a(r) and b(r) and c(r)) if conjunctive else (lambda r: a(r) or b(r) or c(r))


# --- GUIDs, datetimes and date ranges -----------------------------------------------------


def guid_order_key(guid: str) -> str:
    """Return a string that sorts like SQL Server sorts ``uniqueidentifier`` values.

    SQL Server compares bytes 10-15 first, then 8-9, then the first three groups with
    their bytes reversed (``SqlGuid.CompareTo``), so ``ORDER BY contactid`` is not text order.

    Examples:
        >>> guid_order_key("00112233-4455-6677-8899-aabbccddeeff")
        'aabbccddeeff88997766554433221100'
    """
    return "".join(_GUID_ORDER(guid))


def to_wire(moment: datetime) -> str:
    """Return the wire form of an aware datetime: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    m = moment.astimezone(UTC) if moment.tzinfo is not UTC else moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def parse_datetime(text: str, *, offset_required: bool) -> tuple[datetime, bool] | None:
    """Return ``(UTC datetime, whole second?)`` for an ISO datetime, or None when invalid.

    Accepts ``YYYY-MM-DDTHH:MM[:SS[.fff...]]`` with ``Z`` or ``+HH:MM``/``-HH:MM`` (read as
    UTC when the offset is missing and not required) and a bare ``YYYY-MM-DD`` (midnight
    UTC) when no offset is required. The fraction is kept to the microsecond.
    """
    if not offset_required and len(text) == 10:
        try:
            return _midnight(date.fromisoformat(text)), True
        except ValueError:
            return None
    m = _DATETIME_RE.fullmatch(text)
    if m is None or (offset_required and not m[8]):
        return None
    fraction = m[7] or ""
    zone = UTC
    try:
        if m[8] and m[8] != "Z":
            hours, minutes = int(m[8][1:3]), int(m[8][4:6])
            if minutes >= 60:
                return None
            sign = -1 if m[8][0] == "-" else 1
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        year, month, day, hour, minute = (int(m[i]) for i in range(1, 6))
        micros = int(fraction[:6].ljust(6, "0"))
        moment = datetime(year, month, day, hour, minute, int(m[6] or 0), micros, zone)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment, not fraction.strip("0")


def decode_literal(kind: str, text: str) -> tuple[str, Any]:
    """Return ``(Edm type, wire value)`` of a ``$filter`` literal token.

    ``kind`` is the token's: string (quotes doubled inside), guid, date, datetime (the value
    is ``(UTC datetime, whole second?)``) or number (Int32, Int64, Decimal or Double).

    Raises:
        ValueError: an impossible date or time or an infinite number; the message is the
            Edm type the literal was read as.
    """
    if kind == "string":
        return "Edm.String", text[1:-1].replace("''", "'")
    if kind == "guid":
        return "Edm.Guid", text.lower()
    if kind == "date":
        try:
            return "Edm.Date", date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("Edm.Date") from None
    if kind == "datetime":
        parsed = parse_datetime(text, offset_required=True)
        if parsed is None:
            raise ValueError("Edm.DateTimeOffset")
        return "Edm.DateTimeOffset", parsed
    if _INTEGER_RE.fullmatch(text):
        number = int(text)
        if -(2**31) <= number < 2**31:
            return "Edm.Int32", number
        if -(2**63) <= number < 2**63:
            return "Edm.Int64", number
    edm = "Edm.Double" if "e" in text.lower() else "Edm.Decimal"
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(edm)
    return edm, value


def decode_value(attr: DvAttribute, text: str) -> Any:
    """Return a query function's string value as a value of ``attr``, or None if invalid.

    Text is lower-cased (it compares case-insensitively), GUIDs may carry braces, booleans
    are ``true``/``false``/``1``/``0``, and date columns get an aware UTC datetime.
    """
    if attr.type in TEXT_TYPES:
        return text.lower()
    if attr.type in ("Decimal", "Double", "Money"):
        value = float(text) if _DECIMAL_RE.fullmatch(text) else math.inf
        return value if math.isfinite(value) else None
    if attr.type in NUMBER_TYPES or attr.type in OPTION_TYPES:
        return int(text) if _INTEGER_RE.fullmatch(text) else None
    if attr.type == "Boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    if attr.type == "DateTime":
        parsed = parse_datetime(text, offset_required=False)
        return parsed and parsed[0]
    match = GUID_RE.fullmatch(text)  # Uniqueidentifier and lookups
    return match[1].lower() if match else None


def equality_value(attr: DvAttribute, value: Any) -> Any:
    """Return the wire value ``value`` equals, or None when no stored value can equal it.

    Datetimes are stored in whole seconds, date-only columns as midnights (``YYYY-MM-DD``).
    """
    if not isinstance(value, datetime):
        return value
    if value.microsecond:
        return None
    if attr.date_only:
        return value.date().isoformat() if value.hour == value.minute == value.second == 0 else None
    return to_wire(value)


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _plus(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return _MAX if delta > timedelta(0) else _MIN


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    if year < 1:
        return _MIN
    if year > 9999:
        return _MAX
    return datetime(year, month, 1, tzinfo=UTC)


def relative_range(name: str, n: int, now: datetime) -> Range:
    """Return the range a relative date function covers at ``now`` (read in UTC).

    ``Today``/``Yesterday``/``Tomorrow`` and the calendar periods (weeks start on Sunday,
    the en-US default) are whole days; ``LastXDays`` runs from midnight ``n`` days ago up
    to now, ``NextXDays`` from now to the end of the ``n``-th day ahead, and the ``XHours``
    functions ``n`` hours back or ahead of now.

    Examples:
        >>> low, _, high, _ = relative_range("ThisMonth", 0, datetime(2024, 2, 10, tzinfo=UTC))
        >>> to_wire(low), to_wire(high)
        ('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z')
    """
    now = _utc(now)
    today = _midnight(now)
    days = timedelta(days=min(n, _MAX_DAYS))
    if name in ("Today", "Yesterday", "Tomorrow"):
        start = _plus(today, _DAY * {"Today": 0, "Yesterday": -1, "Tomorrow": 1}[name])
        return start, True, _plus(start, _DAY), False
    if name in ("LastXDays", "Last7Days"):
        return _plus(today, -(days if name == "LastXDays" else 7 * _DAY)), True, now, True
    if name in ("NextXDays", "Next7Days"):
        ahead = days if name == "NextXDays" else 7 * _DAY
        return now, True, _plus(_plus(today, ahead), _DAY), False
    if name == "LastXHours":
        return _plus(now, -timedelta(hours=min(n, 24 * _MAX_DAYS))), True, now, True
    if name == "NextXHours":
        return now, True, _plus(now, timedelta(hours=min(n, 24 * _MAX_DAYS))), True
    shift = {"This": 0, "Last": -1, "Next": 1}[name[:4]]
    if name.endswith("Week"):
        start = _plus(_plus(today, -_DAY * ((now.weekday() + 1) % 7)), 7 * _DAY * shift)
        return start, True, _plus(start, 7 * _DAY), False
    if name.endswith("Month"):
        low = _month_start(now.year, now.month + shift)
        return low, True, _month_start(now.year, now.month + shift + 1), False
    return _month_start(now.year + shift, 1), True, _month_start(now.year + shift + 1, 1), False


def day_range(name: str, day: date) -> Range:
    """Return the range of ``On``, ``OnOrAfter`` or ``OnOrBefore`` a day (whole UTC days)."""
    start = _midnight(day)
    end = _plus(start, _DAY)
    if name == "On":
        return start, True, end, False
    if name == "OnOrAfter":
        return start, True, None, False
    return None, False, end, False


def moment_bounds(span: Range, *, date_only: bool) -> tuple[str, str]:
    """Return the inclusive wire bounds of the stored values that fall inside ``span``.

    Stored datetimes are whole seconds and a date-only value stands for its midnight, so a
    bound with a fraction rounds inward; an open end becomes the lowest or highest string.
    """
    low, low_inclusive, high, high_inclusive = span
    lo, hi = _LOWEST, _HIGHEST
    if low is not None:
        floor = low.replace(microsecond=0)
        first = floor if (low_inclusive and floor == low) else _plus(floor, _SECOND)
        if date_only:
            day = first.date() if first == _midnight(first) else _plus(first, _DAY).date()
            lo = day.isoformat() if first < _MAX else _HIGHEST
        else:
            lo = to_wire(first) if first < _MAX else _HIGHEST
    if high is not None:
        floor = high.replace(microsecond=0)
        last = floor if (high_inclusive or floor != high) else _plus(floor, -_SECOND)
        if date_only:
            hi = last.date().isoformat() if last > _MIN else _LOWEST
        else:
            hi = to_wire(last) if last > _MIN else _LOWEST
    return lo, hi


# --- $orderby -----------------------------------------------------------------------------


def order_rows(rows: list[Record], keys: Sequence[OrderKey]) -> list[Record]:
    """Return ``rows`` sorted by ``keys`` (stable; nulls first ascending, last descending).

    One stable pass per key, least significant first, over row *indexes*: every key's values
    are read once, in the rows' own order (reading a million dicts in shuffled order costs
    more than the sorting), and sorting uses C-level callables only. Nothing creates tuples,
    whose allocation would wake the cyclic GC over a million tracked record dicts.
    """
    order = list(range(len(rows)))
    for get, descending, normalize in reversed(keys):
        values = list(map(get, rows))
        nulls: list[int] = []
        if None in values:  # normalise and rank the present values; nulls sort lowest
            present = list(map(is_not, values, repeat(None)))
            known = list(compress(range(len(rows)), present))
            found = list(compress(values, present))
            found = _ranked(normalize(found) if normalize is not None else found)
            deque(map(values.__setitem__, known, found), maxlen=0)
            mask = list(map(present.__getitem__, order))
            nulls = list(compress(order, map(not_, mask)))
            order = list(compress(order, mask))
        else:
            values = _ranked(normalize(values) if normalize is not None else values)
        order.sort(key=values.__getitem__, reverse=descending)
        order = order + nulls if descending else nulls + order
    return list(map(rows.__getitem__, order))


def sort_transform(
    attr: DvAttribute, getter: GetterFactory, schema: DvSchema
) -> tuple[GetterFactory, Normalizer | None]:
    """Return how Dataverse orders a column: its getter and its sort transform.

    SQL Server's collation ignores case and accents; Dataverse orders choices by label and
    lookups by the related record's primary name (FetchXML docs, "Order rows").
    """
    if attr.is_lookup:
        targets = tuple(
            (target.logical_name, target.primary_name)
            for name in attr.targets
            if (target := schema.get(name)) is not None
        )
        return reference_name_getter(getter, targets), collate_all
    if attr.type in TEXT_TYPES:
        return getter, collate_all
    if attr.type == "Uniqueidentifier":
        return getter, guid_all
    if attr.type in OPTION_TYPES:
        return getter, label_ranks(attr.options)
    return getter, None


def _ranked(values: list[Any]) -> list[Any]:
    # Few distinct values (dates, picklists, names): sort them once and compare small ints,
    # which avoids chasing a million string pointers through memory on every comparison.
    sample = values[:: max(1, len(values) // 512)]
    if len(values) < 4096 or len(set(sample)) * 4 > len(sample):
        return values
    rank = {value: i for i, value in enumerate(sorted(set(values)))}
    return list(map(rank.__getitem__, values))


def collation_key(text: str) -> str:
    """Return the key text sorts by in Dataverse: accent- and case-insensitively.

    Dataverse orders text with its SQL collation, ``Latin1_General_CI_AI`` by default, so
    ``Çelik`` sorts among the C's and ``şahin`` with ``Sahin``, not after ``Zimmermann``.
    The key decomposes (NFKD), drops combining marks and case-folds (``ß`` is ``ss``).

    Examples:
        >>> sorted(["Zimmermann", "Şahin", "çelik", "Adams"], key=collation_key)
        ['Adams', 'çelik', 'Şahin', 'Zimmermann']
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def collate_all(values: list[Any]) -> list[Any]:
    """Sort transform of text: SQL Server's default collation ignores case and accents."""
    return list(map(collation_key, values))


def guid_all(values: list[Any]) -> list[Any]:
    """Sort transform of GUIDs: SQL Server's ``uniqueidentifier`` order (C-level maps only)."""
    return list(map("".join, map(_GUID_ORDER, values)))


def label_ranks(options: tuple[tuple[int, str], ...]) -> Normalizer:
    """Return the sort transform of a choice column: by label, case-insensitively.

    Dataverse orders choice columns by their label, not their value (FetchXML docs,
    "Order rows"); values without a label order by their digits among the labels.
    """
    labels = {value: collation_key(label) for value, label in options}

    def ranks(values: list[Any]) -> list[Any]:
        distinct = sorted(set(values), key=lambda v: (labels.get(v, str(v)), v))
        rank = {value: i for i, value in enumerate(distinct)}
        return list(map(rank.__getitem__, values))

    return ranks


# --- projection ---------------------------------------------------------------------------


class Projection:
    """Builds the wire rows of a page: ``@odata.etag``, then the selected properties.

    Paging serialises up to 5,000 rows a call, so the row builder is generated once as a
    single dict display (``{'@odata.etag': E(r), 'firstname': r['firstname'], ...}``):
    Python then builds each row presized, without a loop or a call per property. Names
    come from the schema, are checked to be identifiers and enter the source via ``repr``.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        for name in columns:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"not a property name: {name!r}")
        self.columns = tuple(columns)
        items = ", ".join(f"{name!r}: r[{name!r}]" for name in self.columns)
        scope: dict[str, Any] = {"__builtins__": {}}
        self._plain: Callable[[Record], dict[str, Any]] = eval(f"lambda r: {{{items}}}", scope)
        self._tagged: Callable[[Callable[[Record], str]], Callable[[Record], dict[str, Any]]] = (
            eval(f"lambda E: lambda r: {{'@odata.etag': E(r), {items}}}", scope)
        )

    def many(
        self, records: Sequence[Record], etag: Callable[[Record], str] | None
    ) -> list[dict[str, Any]]:
        """Return the wire rows of ``records``: one C-level map over the compiled builder."""
        build = self._plain if etag is None else self._tagged(etag)
        try:
            return list(map(build, records))
        except KeyError:  # a partial record (not one the sandbox stores): the lenient way
            return [self._lenient(record, etag) for record in records]

    def _lenient(self, record: Record, etag: Callable[[Record], str] | None) -> dict[str, Any]:
        row: dict[str, Any] = {} if etag is None else {"@odata.etag": etag(record)}
        get = record.get
        for name in self.columns:
            row[name] = get(name)
        return row
