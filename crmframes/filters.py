"""Filter expressions: a small immutable tree built with ``F``, checked, and evaluated in pandas.

Pure. Users write ``(F("NumberOfEmployees") > 10) & F("Email").not_null()``; :func:`validate`
enforces the filtering rules (DESIGN §4.3) and :mod:`crmframes.connectors.salesforce.soql_compiler` / :mod:`crmframes.connectors.dynamics.odata_compiler`
compile the tree to a SOQL ``WHERE`` clause or an OData ``$filter``.

**The contract** both compilers honour, and :func:`evaluate` implements on a frame of typed
values (strings, numbers, bools, tz-aware timestamps, dates), is pandas semantics on the CRM's
data:

- A comparison (``== < <= > >=``) with a null field value is False; ``!=`` and ``notin`` are
  True for null values (as ``df.x != v`` is); ``isin`` never matches null; ``contains``,
  ``startswith`` and ``endswith`` are False on null; ``~`` negates the whole mask, so
  ``~(F("x") == v)`` includes the nulls. ``F("x") == None`` is ``F("x").is_null()``.
- Text compares case-insensitively, as both CRMs do: both sides are lower-cased with
  Python's ``str.lower()`` and then compared by code point. ``<`` therefore orders ``'_'``
  (U+005F) before ``'a'`` and ``'Z'`` (``'z'`` is U+007A). Both sandboxes filter exactly
  so; the real CRMs use their collations (user locale, SQL Server), which may order
  punctuation and accents differently.
- Ids compare as written (an 18-character Salesforce id or a GUID, any case); ids cannot be
  ordered (the CRMs order them their own way).
- Literals: ``int``, ``float`` (not NaN or infinite), ``Decimal``, ``bool``, ``str``,
  ``datetime.date``, ``datetime.datetime``, ``pandas.Timestamp`` and numpy scalars (turned
  into the Python type). Datetimes are aware; a naive datetime is read in UTC. Every
  datetime is held in UTC; sub-microsecond timestamps are refused.
- Order (``order_by`` of the query builders) places nulls last in both directions, like
  ``DataFrame.sort_values``; see :mod:`crmframes.connectors.dynamics.odata_compiler` for what Dataverse can do.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args

import numpy as np
import pandas as pd

from crmframes.arguments import check_bool, check_frame
from crmframes.errors import ArgumentTypeError, ColumnNotFoundError, DataError, FilterError

__all__ = [
    "RULES", "And", "Compare", "CompareOp", "Expr", "F", "IsIn", "IsNull", "Not", "NotIn",
    "NotNull", "Or", "StrMatch", "TextFunction", "evaluate", "from_dict", "literal_family",
    "to_literal", "validate",
]  # fmt: skip

CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
TextFunction = Literal["contains", "startswith", "endswith"]
Family = Literal["string", "number", "boolean", "date", "datetime"]
_Logical = TypeVar("_Logical", bound="And")

RULES = (
    "one-operator-per-level", "no-and-not", "literal-values", "no-joins", "literal-type",
    "operator-type", "empty-in", "not-filterable", "numbers-and-null-only", "malformed",
    "literal-range",
)  # fmt: skip
"""Every rule a :class:`~crmframes.errors.FilterError` can name."""

_FAMILIES: tuple[tuple[type | tuple[type, ...], Family], ...] = (
    (bool, "boolean"), ((int, float, Decimal), "number"), (str, "string"),
    (datetime, "datetime"), (date, "date"),
)  # fmt: skip
_ORDERING = frozenset({"<", "<=", ">", ">="})
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith,
}  # fmt: skip
_HINT_COMBINE = (
    "combine filters with & | ~, each comparison in parentheses: (F('a') > 1) & (F('b') == 2)"
)


# --- the tree -----------------------------------------------------------------------------


class Expr:
    """A filter condition. Combine with ``&``, ``|`` and ``~``; compare structurally."""

    def __and__(self, other: object) -> And:
        return _combine(And, self, other)

    def __or__(self, other: object) -> Or:
        return _combine(Or, self, other)

    def __invert__(self) -> Not:
        return Not(self)

    def __bool__(self) -> bool:
        raise TypeError(f"a filter has no truth value (and/or/not/if do not work): {_HINT_COMBINE}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self) -> tuple[Any, ...]:
        # 1 == 1.0 == True == Decimal(1): structural equality also compares literal types
        return tuple(_literal_key(getattr(self, f.name)) for f in dataclass_fields(self))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Return the tree as plain JSON-able data (see :func:`from_dict`).

        Examples:
            >>> (F("a") > 1).to_dict()
            {'field': 'a', 'op': '>', 'value': 1}
        """
        raise NotImplementedError


@dataclass(frozen=True, eq=False, repr=False)
class Compare(Expr):
    """``F(field) op value``: a comparison with a literal."""

    field: str
    op: CompareOp
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _normalize(self.value))

    def __repr__(self) -> str:
        return f"F({self.field!r}) {self.op} {self.value!r}"

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"field": self.field, "op": self.op, "value": _encode(self.value)}


@dataclass(frozen=True, eq=False, repr=False)
class IsNull(Expr):
    """``F(field).is_null()``."""

    field: str

    def __repr__(self) -> str:
        return f"F({self.field!r}).{_OP_NAMES[type(self)]}()"

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"field": self.field, "op": _OP_NAMES[type(self)]}


@dataclass(frozen=True, eq=False, repr=False)
class NotNull(IsNull):
    """``F(field).not_null()``."""


@dataclass(frozen=True, eq=False, repr=False)
class IsIn(Expr):
    """``F(field).isin(values)``: never matches null."""

    field: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(_normalize(v) for v in self.values))

    def __repr__(self) -> str:
        return f"F({self.field!r}).{_OP_NAMES[type(self)]}({list(self.values)!r})"

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        values = [_encode(v) for v in self.values]
        return {"field": self.field, "op": _OP_NAMES[type(self)], "values": values}


@dataclass(frozen=True, eq=False, repr=False)
class NotIn(IsIn):
    """``F(field).notin(values)``: ``~isin``, so True for null."""


@dataclass(frozen=True, eq=False, repr=False)
class StrMatch(Expr):
    """``F(field).contains(value)`` (or ``startswith``, ``endswith``): False on null."""

    field: str
    function: TextFunction
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _normalize(self.value))

    def __repr__(self) -> str:
        return f"F({self.field!r}).{self.function}({self.value!r})"

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"field": self.field, "op": self.function, "value": _encode(self.value)}


@dataclass(frozen=True, eq=False, repr=False)
class And(Expr):
    """All of ``items`` hold."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def __repr__(self) -> str:
        joiner = " & " if type(self) is And else " | "
        return joiner.join(f"({item!r})" for item in self.items)

    def _key(self) -> tuple[Any, ...]:
        return self.items

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {_OP_NAMES[type(self)]: [_to_dict(item) for item in self.items]}


@dataclass(frozen=True, eq=False, repr=False)
class Or(And):
    """Any of ``items`` holds."""


@dataclass(frozen=True, eq=False, repr=False)
class Not(Expr):
    """``~item``: the rows ``item`` does not select, nulls included."""

    item: Expr

    def __repr__(self) -> str:
        return f"~({self.item!r})"

    def _key(self) -> tuple[Any, ...]:
        return (self.item,)

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"not": _to_dict(self.item)}


_OP_NAMES: dict[type[Expr], str] = {
    IsNull: "is_null", NotNull: "not_null", IsIn: "isin", NotIn: "notin", And: "and", Or: "or",
}  # fmt: skip


class F:
    """A field of the CRM object, the left side of every condition.

    Args:
        name: the field's API name (``LastName``, ``lastname``, ``_parentcustomerid_value``).

    Raises:
        TypeError: ``name`` is not a str.
        FilterError: ``name`` is empty (``malformed``) or a relationship path such as
            ``Account.Name`` (``no-joins``).

    Examples:
        >>> F("NumberOfEmployees") > 10
        F('NumberOfEmployees') > 10
        >>> (F("a") > 1) & F("b").isin(["x", "y"])
        (F('a') > 1) & (F('b').isin(['x', 'y']))
    """

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a condition

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise ArgumentTypeError(f"F() takes a field name (str), not {type(name).__name__}")
        _check_field(name)
        self.name = name

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def __eq__(self, value: object) -> Expr:  # type: ignore[override]
        return self._build(IsNull(self.name) if value is None else Compare(self.name, "==", value))

    def __ne__(self, value: object) -> Expr:  # type: ignore[override]
        return self._build(NotNull(self.name) if value is None else Compare(self.name, "!=", value))

    def __lt__(self, value: object) -> Expr:
        return self._build(Compare(self.name, "<", value))

    def __le__(self, value: object) -> Expr:
        return self._build(Compare(self.name, "<=", value))

    def __gt__(self, value: object) -> Expr:
        return self._build(Compare(self.name, ">", value))

    def __ge__(self, value: object) -> Expr:
        return self._build(Compare(self.name, ">=", value))

    def is_null(self) -> Expr:
        """Return the condition "the field is null"."""
        return IsNull(self.name)

    def not_null(self) -> Expr:
        """Return the condition "the field is not null"."""
        return NotNull(self.name)

    def isin(self, values: Iterable[Any]) -> Expr:
        """Return the condition "the field equals one of ``values``" (never null)."""
        return self._build(IsIn(self.name, _as_tuple(values, "isin")))

    def notin(self, values: Iterable[Any]) -> Expr:
        """Return ``~isin(values)``: True for null values too."""
        return self._build(NotIn(self.name, _as_tuple(values, "notin")))

    def contains(self, text: str) -> Expr:
        """Return the condition "the text holds ``text``" (case-insensitive, no wildcards)."""
        return self._build(StrMatch(self.name, "contains", text))

    def startswith(self, text: str) -> Expr:
        """Return the condition "the text starts with ``text``" (case-insensitive)."""
        return self._build(StrMatch(self.name, "startswith", text))

    def endswith(self, text: str) -> Expr:
        """Return the condition "the text ends with ``text``" (case-insensitive)."""
        return self._build(StrMatch(self.name, "endswith", text))

    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} is a field, not a condition: compare it, e.g. {self!r} == True")

    def __and__(self, other: object) -> Expr:
        raise ArgumentTypeError(f"{self!r} is a field, not a condition: {_HINT_COMBINE}")

    __rand__ = __or__ = __ror__ = __and__

    def __invert__(self) -> Expr:
        raise ArgumentTypeError(f"{self!r} is a field, not a condition: {_HINT_COMBINE}")

    @staticmethod
    def _build(node: Expr) -> Expr:
        _check_node(node)  # the builder checks as you write; validate() checks any tree
        return node


# --- validation ---------------------------------------------------------------------------


def validate(expr: Expr, *, strict: bool = False) -> Expr:
    """Check a filter against the filtering rules (DESIGN §4.3) and return it.

    Args:
        expr: the filter.
        strict: also apply the seed's narrower rule ``numbers-and-null-only``: comparisons
            with numbers and null checks only (for workflows ported from Campaign).

    Returns:
        ``expr`` itself.

    Raises:
        TypeError: ``expr`` is not a filter (a field alone, a bool from ``and``/``or``).
        FilterError: a broken rule, named in ``rule`` (see :data:`RULES`).

    Examples:
        >>> validate((F("a") > 1) | ~(F("b") == "x"))
        (F('a') > 1) | (~(F('b') == 'x'))
        >>> validate(F("a") == "x", strict=True)
        Traceback (most recent call last):
        ...
        crmframes.errors.FilterError: strict mode allows only comparisons with numbers and null checks, not F('a') == 'x' (rule: numbers-and-null-only)
    """
    check_bool("strict", strict)
    given: object = expr  # callers' code is not always type-checked
    if not isinstance(given, Expr):
        hint = f": {_HINT_COMBINE}" if isinstance(given, (F, bool)) else ""
        raise ArgumentTypeError(
            f"a filter must be built with F(...), not {type(given).__name__}{hint}"
        )
    stack: list[Expr] = [given]
    while stack:
        node = stack.pop()
        _check_node(node)
        if isinstance(node, And):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        elif strict and not _strict_atom(node):
            raise _bad(
                "numbers-and-null-only",
                f"strict mode allows only comparisons with numbers and null checks, not {node!r}",
            )
    return expr


def literal_family(value: Any) -> Family:
    """Return the family of a checked literal: string, number, boolean, date or datetime.

    Examples:
        >>> literal_family(3), literal_family(True), literal_family(date(2024, 1, 1))
        ('number', 'boolean', 'date')
    """
    for kind, family in _FAMILIES:
        if isinstance(value, kind):
            return family
    raise ArgumentTypeError(f"not a filter literal: {value!r}")


def to_literal(value: Any) -> Any:
    """Return ``value`` as a checked filter literal (numpy scalars unwrapped, datetimes in UTC).

    Raises:
        FilterError: not a literal a CRM can compare (``literal-type``).

    Examples:
        >>> to_literal(np.int64(3)), to_literal(datetime(2024, 1, 1, 10))
        (3, datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.timezone.utc))
    """
    value = _normalize(value)
    if isinstance(value, (F, Expr)):
        raise _bad("literal-values", f"{value!r} is not a literal value")
    problem = _literal_problem(value)
    if problem:
        raise FilterError(problem, rule="literal-type")
    return value


def _check_field(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise _bad("malformed", f"a field name must be a non-empty str, not {name!r}")
    if "." in name:
        raise _bad(
            "no-joins",
            f"{name!r} follows a relationship; filters read the object's own fields only "
            "(filter the parent object, or import it and merge)",
        )


def _check_node(node: Expr) -> None:
    """Check one node's own level (not its children)."""
    if isinstance(node, And):
        if not node.items or not all(isinstance(item, Expr) for item in node.items):
            raise _bad(
                "malformed",
                f"{type(node).__name__} needs one or more conditions, not {node.items!r}",
            )
        if type(node) is And and any(isinstance(_unwrap(item), Not) for item in node.items):
            raise _bad(
                "no-and-not",
                "a negation cannot be a direct part of an AND (no AND NOT); state the "
                "condition positively, e.g. (F('x') >= 3) instead of ~(F('x') < 3)",
            )
        return
    if isinstance(node, Not):
        if not isinstance(node.item, Expr):
            raise _bad("malformed", f"~ needs a condition, not {node.item!r}")
        return
    if not isinstance(node, (Compare, IsNull, NotNull, IsIn, StrMatch)):
        raise _bad("malformed", f"not a filter node: {node!r}")
    _check_field(node.field)
    if isinstance(node, Compare):
        if node.op not in get_args(CompareOp):
            raise _bad("malformed", f"unknown comparison operator {node.op!r}")
        _check_literal(node.value, node)
        if node.op in _ORDERING and isinstance(node.value, bool):
            raise _bad("operator-type", f"booleans cannot be ordered; use == or != in {node!r}")
    elif isinstance(node, IsIn):
        if not node.values:
            raise _bad(
                "empty-in",
                f"{type(node).__name__.lower()}() of no values on {node.field!r}: drop the "
                "condition (or, for isin, select nothing another way)",
            )
        for value in node.values:
            _check_literal(value, node)
        families = {literal_family(v) for v in node.values}
        if len(families) > 1:
            raise _bad(
                "literal-type",
                f"the values of {node!r} mix {', '.join(sorted(families))}; give one type",
            )
    elif isinstance(node, StrMatch):
        if node.function not in get_args(TextFunction):
            raise _bad("malformed", f"unknown text function {node.function!r}")
        _check_literal(node.value, node)
        if not isinstance(node.value, str):
            raise _bad(
                "literal-type",
                f"{node.function}() takes a str, not {type(node.value).__name__}: {node!r}",
            )


def _unwrap(node: Expr) -> Expr:
    # a group of one is its item: (a) & (~b) in one-item parentheses is still AND NOT
    while isinstance(node, And) and len(node.items) == 1:
        node = node.items[0]
    return node


def _bad(rule: str, message: str) -> FilterError:
    return FilterError(message, rule=rule)


def _check_literal(value: Any, node: Expr) -> None:
    if isinstance(value, (F, Expr)):
        raise _bad(
            "literal-values",
            f"the right side must be a literal value, not a field or a condition: {node!r}",
        )
    problem = _literal_problem(value)
    if problem:
        raise _bad("literal-type", f"{problem} in {node!r}")


def _literal_problem(value: Any) -> str | None:
    if value is None or value is pd.NaT or value is pd.NA:
        return "null is not a value to compare with: use F(x).is_null() / .not_null()"
    if isinstance(value, (bool, int, date)) and not isinstance(value, (pd.Timestamp, datetime)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a number a CRM can compare"
    if isinstance(value, Decimal):
        return None if value.is_finite() else f"{value!r} is not a number a CRM can compare"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{value!r} is not valid Unicode text (a lone surrogate)"
        return None
    if isinstance(value, pd.Timestamp):
        return f"{value!r} has sub-microsecond precision; round it, e.g. ts.floor('us')"
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return f"{value!r} has a time zone without a UTC offset"
        return None
    return (
        f"a {type(value).__name__} is not a filter literal (use int, float, Decimal, bool, "
        "str, date, datetime or pandas.Timestamp)"
    )


def _strict_atom(node: Expr) -> bool:
    numeric = isinstance(node, Compare) and literal_family(node.value) == "number"
    return numeric or isinstance(node, IsNull)


def _combine(kind: type[_Logical], left: object, right: object) -> _Logical:
    items: list[Expr] = []
    for side in (left, right):
        if not isinstance(side, Expr):
            raise ArgumentTypeError(f"cannot combine a filter with {side!r}: {_HINT_COMBINE}")
        items.extend(side.items if isinstance(side, kind) and type(side) is kind else (side,))
    node = kind(tuple(items))
    _check_node(node)
    return node


def _as_tuple(values: Iterable[Any], name: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ArgumentTypeError(f"{name}() takes a list of values, not {type(values).__name__}")
    return tuple(values)


# --- literals -----------------------------------------------------------------------------


def _normalize(value: Any) -> Any:
    """Return numpy scalars as Python values and datetimes in UTC (anything else as is)."""
    if value is pd.NaT:
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        elif isinstance(value, (np.bool_, np.integer, np.floating, np.str_)):
            return value.item()
    if isinstance(value, pd.Timestamp):
        if value.nanosecond:
            return value  # refused by the check: a Python datetime cannot hold it
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # naive datetimes are read in UTC
        if value.utcoffset() is not None:
            return value.astimezone(UTC)
    return value


def _literal_key(value: Any) -> tuple[str, Any]:
    # 1 == 1.0 == True == Decimal(1): structural equality keeps the literal's type
    return (type(value).__name__, value if not isinstance(value, (F, Expr)) else repr(value))


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, date):  # datetime too
        return {literal_family(value): value.isoformat()}
    if isinstance(value, F):
        return {"field": value.name}
    if isinstance(value, Expr):
        return {"expr": value.to_dict()}
    return value


def _to_dict(node: Any) -> Any:
    return node.to_dict() if isinstance(node, Expr) else node


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((tag, text),) = value.items()
            try:
                if tag == "decimal":
                    return Decimal(str(text))
                if tag == "datetime":
                    return datetime.fromisoformat(str(text))
                if tag == "date":
                    return date.fromisoformat(str(text))
            except (ValueError, ArithmeticError) as exc:
                raise _bad("literal-type", f"bad {tag} literal {text!r}: {exc}") from exc
            if tag == "field":  # a field as a right side: validate() names the rule
                ref = object.__new__(F)
                ref.name = str(text)
                return ref
            if tag == "expr":
                return from_dict(text)
        raise _bad("malformed", f"not a literal: {dict(value)!r}")
    if isinstance(value, list):
        raise _bad("malformed", f"a list is not a literal here: {value!r}")
    return value


# --- dict form ----------------------------------------------------------------------------

_LOGICAL = ("and", "or")


def from_dict(data: Any) -> Expr:
    """Build a filter from the plain data of :meth:`Expr.to_dict` (JSON or YAML specs).

    Accepted shapes: ``{"field": f, "op": "==", "value": v}`` (ops ``== != < <= > >=``,
    ``is_null``, ``not_null``, ``isin``/``notin`` with ``"values"``, ``contains``,
    ``startswith``, ``endswith``); ``{"and": [...]}``, ``{"or": [...]}``, ``{"not": {...}}``;
    and a flat list of conditions joined by ``"and"``/``"or"`` strings, as Campaign's filter
    rows are (``[c1, "and", c2]``). Literals are JSON values, plus ``{"date": "2024-01-31"}``,
    ``{"datetime": "2024-01-31T10:00:00+00:00"}`` and ``{"decimal": "1.10"}``.

    The tree is returned as written; call :func:`validate` on it (the compilers do).

    Raises:
        FilterError: ``malformed`` data, or a flat list mixing ``and`` and ``or``
            (``one-operator-per-level``; add a level of nesting instead).

    Examples:
        >>> from_dict([{"field": "a", "op": ">", "value": 1}, "and",
        ...            {"field": "b", "op": "is_null"}])
        (F('a') > 1) & (F('b').is_null())
    """
    if isinstance(data, list):
        return _from_rows(data)
    if not isinstance(data, Mapping):
        raise _bad("malformed", f"a filter is a dict or a list, not {data!r}")
    logical = [key for key in (*_LOGICAL, "not") if key in data]
    if len(logical) > 1:
        raise _bad(
            "one-operator-per-level",
            f"one level mixes {' and '.join(map(repr, logical))}; nest one inside the other",
        )
    if logical:
        key = logical[0]
        if len(data) != 1:
            raise _bad("malformed", f"{key!r} must be alone in its dict: {dict(data)!r}")
        if key == "not":
            return Not(from_dict(data[key]))
        items = data[key]
        if not isinstance(items, list) or not items:
            raise _bad("malformed", f"{key!r} takes a non-empty list, not {items!r}")
        parts = tuple(from_dict(item) for item in items)
        return parts[0] if len(parts) == 1 else (And if key == "and" else Or)(parts)
    return _from_condition(data)


def _from_condition(data: Mapping[str, Any]) -> Expr:
    field, op = data.get("field"), data.get("op")
    extra = set(data) - {"field", "op", "value", "values"}
    if not isinstance(field, str) or not isinstance(op, str) or extra:
        raise _bad("malformed", f"a condition is {{field, op, value}}, not {dict(data)!r}")
    if op in ("is_null", "not_null"):
        return IsNull(field) if op == "is_null" else NotNull(field)
    if op in ("isin", "notin"):
        values = data.get("values")
        if not isinstance(values, list):
            raise _bad("malformed", f"{op} takes a list of 'values', not {values!r}")
        return (IsIn if op == "isin" else NotIn)(field, tuple(_decode(v) for v in values))
    if "value" not in data:
        raise _bad("malformed", f"condition {dict(data)!r} has no 'value'")
    value = _decode(data["value"])
    if op in get_args(TextFunction):
        return StrMatch(field, op, value)  # type: ignore[arg-type]
    if op not in get_args(CompareOp):
        raise _bad("malformed", f"unknown operator {op!r}")
    if value is None and op in ("==", "!="):
        return IsNull(field) if op == "==" else NotNull(field)
    return Compare(field, op, value)  # type: ignore[arg-type]


def _from_rows(rows: list[Any]) -> Expr:
    if len(rows) % 2 == 0:
        raise _bad("malformed", f"a list of rows alternates conditions and 'and'/'or': {rows!r}")
    joiners = {str(word).lower() for word in rows[1::2]}
    if not joiners <= set(_LOGICAL):
        raise _bad("malformed", f"rows are joined by 'and' or 'or', not {joiners}")
    if len(joiners) > 1:
        raise _bad(
            "one-operator-per-level",
            "the rows of one level mix 'and' and 'or'; group them in a nested list or dict",
        )
    items = tuple(from_dict(item) for item in rows[::2])
    if len(items) == 1:
        return items[0]
    return (And if joiners == {"and"} else Or)(items)


# --- pandas reference ---------------------------------------------------------------------


def evaluate(expr: Expr, df: pd.DataFrame) -> pd.Series:
    """Return the boolean mask of the rows of ``df`` the filter selects (the contract above).

    ``df`` holds typed values: strings, numbers, bools, dates (``datetime.date``), datetimes
    (tz-aware timestamps; naive ones are read in UTC). Column names are the field names.

    Raises:
        ColumnNotFoundError: the filter reads a column ``df`` does not have.
        DataError: a column's values cannot be compared with the literal.
        FilterError: the filter breaks a rule (it is validated first).

    Examples:
        >>> df = pd.DataFrame({"a": [1, None, 3], "b": ["X", "y", None]})
        >>> evaluate((F("a") > 1) | (F("b") == "x"), df).tolist()
        [True, False, True]
        >>> evaluate(F("b") != "x", df).tolist()
        [False, True, True]
    """
    validate(expr)
    check_frame(df)
    return pd.Series(_mask(expr, df), index=df.index, dtype=bool)


def _mask(node: Expr, df: pd.DataFrame) -> np.ndarray:
    if isinstance(node, And):
        masks = [_mask(item, df) for item in node.items]
        reduce = np.logical_or.reduce if isinstance(node, Or) else np.logical_and.reduce
        return np.asarray(reduce(masks), dtype=bool)
    if isinstance(node, Not):
        return ~_mask(node.item, df)
    name: str = node.field  # type: ignore[attr-defined]
    if name not in df.columns:
        raise ColumnNotFoundError(name, [str(c) for c in df.columns])
    column = df[name]
    present: np.ndarray = np.asarray(column.notna(), dtype=bool)
    if isinstance(node, IsNull):
        return present if isinstance(node, NotNull) else ~present
    if isinstance(node, Compare) and node.op == "!=":  # pandas: != is ~(==), True on null
        return ~_mask(Compare(node.field, "==", node.value), df)
    if isinstance(node, NotIn):
        return ~_mask(IsIn(node.field, node.values), df)
    out = np.zeros(len(column), dtype=bool)
    values = column[present].tolist()
    if isinstance(node, IsIn):
        family = literal_family(node.values[0])
        members = {_comparable(v, family, name) for v in node.values}
        members |= {float(v) for v in members if isinstance(v, Decimal)}  # float cells
        out[present] = [_comparable(v, family, name) in members for v in values]
    elif isinstance(node, StrMatch):
        text, match = node.value.lower(), _TEXT_TESTS[node.function]
        out[present] = [match(_comparable(v, "string", name), text) for v in values]
    else:
        assert isinstance(node, Compare)
        family = literal_family(node.value)
        right = _comparable(node.value, family, name)
        compare = _PY_OPS[node.op]
        try:
            cells = [_comparable(v, family, name) for v in values]
            # A Decimal literal means the decimal number: compare float cells with its float
            low = float(right) if isinstance(right, Decimal) else right
            out[present] = [compare(c, low if isinstance(c, float) else right) for c in cells]
        except TypeError as exc:
            raise DataError(
                f"column {name!r} cannot be compared with {node.value!r}: {exc}"
            ) from exc
    return out


def _comparable(value: Any, family: Family, column: str) -> Any:
    """Return a cell (or literal) as the contract compares it: text lower-cased, UTC times."""
    if family == "string" and isinstance(value, str):
        return value.lower()
    if family == "datetime" and isinstance(value, (datetime, np.datetime64)):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    if family == "date" and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value  # midnights: dates
    if family == "boolean":
        return bool(value)
    if family == "number" and not isinstance(value, (str, date)):
        return value
    raise DataError(f"column {column!r} holds {value!r}, which is not a {family}")
