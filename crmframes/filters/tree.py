"""The filter tree: immutable condition nodes, built with ``F`` and checked as they are built.

Pure. ``F("x") > 3`` builds a :class:`Compare`; ``&``, ``|`` and ``~`` build :class:`And`,
:class:`Or` and :class:`Not`. Each node checks its own level when the builder makes it
(:func:`check_node`: the field, the literal, AND NOT); :func:`~crmframes.filters.validate`
walks a whole tree however it was made. :meth:`Expr.to_dict` is the plain-data form that
:func:`~crmframes.filters.from_dict` reads back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args

from crmframes.errors import ArgumentTypeError
from crmframes.filters.literals import filter_error as _bad
from crmframes.filters.literals import literal_family
from crmframes.filters.literals import literal_problem as _literal_problem
from crmframes.filters.literals import normalize_literal as _normalize

__all__ = [
    "HINT_COMBINE", "And", "Compare", "CompareOp", "Expr", "F", "IsIn", "IsNull", "Not", "NotIn",
    "NotNull", "Or", "StrMatch", "TextFunction", "check_field", "check_node",
]  # fmt: skip

CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
TextFunction = Literal["contains", "startswith", "endswith"]
_Logical = TypeVar("_Logical", bound="And")

_ORDERING = frozenset({"<", "<=", ">", ">="})
HINT_COMBINE = (
    "combine filters with & | ~, each comparison in parentheses: (F('a') > 1) & (F('b') == 2)"
)
_HINT_COMBINE = HINT_COMBINE


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
        check_field(name)
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
        check_node(node)  # the builder checks as you write; validate() checks any tree
        return node


# --- each node checks its own level --------------------------------------------------------


def check_field(name: Any) -> None:
    """Check a field name: a non-empty str, no relationship path."""
    if not isinstance(name, str) or not name.strip():
        raise _bad("malformed", f"a field name must be a non-empty str, not {name!r}")
    if "." in name:
        raise _bad(
            "no-joins",
            f"{name!r} follows a relationship; filters read the object's own fields only "
            "(filter the parent object, or import it and merge)",
        )


def check_node(node: Expr) -> None:
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
    check_field(node.field)
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


def _check_literal(value: Any, node: Expr) -> None:
    if isinstance(value, (F, Expr)):
        raise _bad(
            "literal-values",
            f"the right side must be a literal value, not a field or a condition: {node!r}",
        )
    problem = _literal_problem(value)
    if problem:
        raise _bad("literal-type", f"{problem} in {node!r}")


def _combine(kind: type[_Logical], left: object, right: object) -> _Logical:
    items: list[Expr] = []
    for side in (left, right):
        if not isinstance(side, Expr):
            raise ArgumentTypeError(f"cannot combine a filter with {side!r}: {_HINT_COMBINE}")
        items.extend(side.items if isinstance(side, kind) and type(side) is kind else (side,))
    node = kind(tuple(items))
    check_node(node)
    return node


def _as_tuple(values: Iterable[Any], name: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ArgumentTypeError(f"{name}() takes a list of values, not {type(values).__name__}")
    return tuple(values)


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
