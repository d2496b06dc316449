"""The syntax tree of a parsed SOQL query: field paths, literals, conditions, the query.

Edge helper of the Salesforce sandbox (pure): plain frozen dataclasses that :mod:`.soql`'s
parser builds and its planner reads; :mod:`.soql_select` adds the SELECT items beyond field
paths (aggregates, FIELDS(), child subqueries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .soql_eval import LikePart

__all__ = [
    "Comparison",
    "Condition",
    "FieldPath",
    "InList",
    "Logical",
    "Not",
    "OrderItem",
    "SemiJoin",
    "SoqlQuery",
    "Value",
]


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A field or parent-relationship path as written (``Account.Name``) and its offset."""

    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Value:
    """A literal: its kind, its decoded value and, for strings, the LIKE pattern parts.

    ``value`` is a str for strings, int/float for numbers, bool, None, ``YYYY-MM-DD`` for
    dates, the UTC wire form for datetimes, ``(mode, unit, n)`` for relative date literals.
    """

    kind: Literal["string", "number", "boolean", "null", "date", "datetime", "relative"]
    value: Any
    pos: int
    text: str
    like: tuple[LikePart, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value`` with op one of ``= != < <= > >= LIKE`` (``<>`` becomes ``!=``)."""

    field: FieldPath
    op: Literal["=", "!=", "<", "<=", ">", ">=", "LIKE"]
    value: Value


@dataclass(frozen=True, slots=True)
class InList:
    """``field [NOT] IN (v1, v2, ...)``."""

    field: FieldPath
    negate: bool
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class SemiJoin:
    """``field [NOT] IN (SELECT f FROM Obj [WHERE ...])``."""

    field: FieldPath
    negate: bool
    query: SoqlQuery


@dataclass(frozen=True, slots=True)
class Logical:
    """Two or more conditions joined by one operator (SOQL forbids mixing without parens)."""

    op: Literal["AND", "OR"]
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT cond``."""

    item: Condition


Condition = Comparison | InList | SemiJoin | Logical | Not


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ORDER BY key; nulls sort first unless ``NULLS LAST``, in both directions."""

    field: FieldPath
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True, slots=True)
class SoqlQuery:
    """A parsed query (or semi-join subquery); ``text`` is kept for error messages."""

    text: str
    fields: tuple[FieldPath, ...]
    is_count: bool
    object: str
    object_pos: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    items: tuple[Any, ...] = ()  # every SELECT item in order: soql_select.SelectItem
    group_by: tuple[FieldPath, ...] = ()
    having: Condition | None = None
