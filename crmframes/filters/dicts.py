"""The plain-data form of filters: JSON and YAML specs, and Campaign's rows of conditions.

Pure. :meth:`Expr.to_dict <crmframes.filters.Expr.to_dict>` writes it; :func:`from_dict`
reads it back (and Campaign's flat lists of conditions joined by ``and`` / ``or``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from crmframes.filters.literals import filter_error as _bad
from crmframes.filters.tree import (
    And,
    Compare,
    CompareOp,
    Expr,
    F,
    IsIn,
    IsNull,
    Not,
    NotIn,
    NotNull,
    Or,
    StrMatch,
    TextFunction,
)

__all__ = ["from_dict"]

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
