"""Filter validation: a whole tree checked against the filtering rules before any call.

Pure. :func:`validate` walks a tree however it was made (the builder, :func:`from_dict`,
the node classes) and enforces DESIGN §4.3; :data:`RULES` lists the rules a
:class:`~crmframes.errors.FilterError` names. :func:`to_literal` checks one value alone.
"""

from __future__ import annotations

from typing import Any

from crmframes.arguments import check_bool
from crmframes.errors import ArgumentTypeError, FilterError
from crmframes.filters.literals import filter_error as _bad
from crmframes.filters.literals import literal_family
from crmframes.filters.literals import literal_problem as _literal_problem
from crmframes.filters.literals import normalize_literal as _normalize
from crmframes.filters.tree import HINT_COMBINE as _HINT_COMBINE
from crmframes.filters.tree import And, Compare, Expr, F, IsNull, Not
from crmframes.filters.tree import check_node as _check_node

__all__ = ["RULES", "to_literal", "validate"]

RULES = (
    "one-operator-per-level", "no-and-not", "literal-values", "no-joins", "literal-type",
    "operator-type", "empty-in", "not-filterable", "numbers-and-null-only", "malformed",
    "literal-range",
)  # fmt: skip
"""Every rule a :class:`~crmframes.errors.FilterError` can name."""


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


def to_literal(value: Any) -> Any:
    """Return ``value`` as a checked filter literal (numpy scalars unwrapped, datetimes in UTC).

    Raises:
        FilterError: not a literal a CRM can compare (``literal-type``).

    Examples:
        >>> import numpy as np
        >>> from datetime import datetime
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


def _strict_atom(node: Expr) -> bool:
    numeric = isinstance(node, Compare) and literal_family(node.value) == "number"
    return numeric or isinstance(node, IsNull)
