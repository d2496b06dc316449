r"""Compile filters to Dataverse OData ``$filter`` text and build a query's options.

Pure. :func:`compile_odata` turns a :mod:`crmframes.filters` tree into a ``$filter`` that
selects exactly what :func:`crmframes.filters.evaluate` selects (the contract in that
module); :func:`build_query` adds ``$select``, ``$orderby`` and ``$top``. Rules follow
reference/dataverse-api.md §3.4:

- Dataverse runs on SQL Server, whose logic has three values: ``x ne 'a'`` is UNKNOWN, not
  TRUE, for a null ``x``, and ``not`` keeps it UNKNOWN. Pandas is two-valued, so negations
  are pushed down to the atoms (De Morgan) and every atom that pandas makes True on nulls
  says so: ``x != v`` becomes ``(x ne v or x eq null)``, ``~(x < v)`` becomes
  ``(x ge v or x eq null)``, ``notin`` becomes ``(Microsoft.Dynamics.CRM.NotIn(...) or x eq
  null)``, ``~contains`` becomes ``(not contains(x,'v') or x eq null)``. With no ``not`` left
  above them, UNKNOWN atoms behave as FALSE, which is what pandas says.
- Strings are ``'...'`` with ``'`` doubled (the only escape). In ``contains``,
  ``startswith`` and ``endswith`` Dataverse reads ``%``, ``_`` and ``[`` as SQL ``LIKE``
  wildcards, so they are bracket-escaped: ``[%]``, ``[_]``, ``[[]``. Text compares
  case-insensitively on Dataverse already.
- ``isin`` is ``Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a","b"])``: the
  values are a JSON array of strings (quotes inside stay as they are; JSON escapes ``"`` and
  ``\``). Lookups go by their logical name there (``parentcustomerid``). Chunking a long
  list to fit the URL is the caller's job.
- GUIDs (id and lookup fields) are unquoted and lower-case, and checked to be GUIDs. Dates
  are ``2024-01-31`` (date-only columns), datetimes UTC ``2024-01-31T10:00:00Z``; a fraction
  of a second is kept (``...T10:00:00.5Z``): Dataverse stores whole seconds and compares the
  literal exactly. Option sets are ints.
- Order: SQL Server sorts nulls first ascending and last descending, and ``$orderby`` has no
  ``NULLS LAST`` nor any expression to sort by. So the "nulls last" contract holds on
  Dataverse for descending keys only; with an ascending key on a column holding nulls, the
  rows come back nulls first and the caller must sort the frame again (stable, nulls last)
  when it needs the contract, and ``$top`` then picks the null rows first.
  :func:`build_query` appends the primary key as a last key, the unique tiebreaker the
  Dataverse docs recommend for stable paging.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from crmframes.errors import ArgumentTypeError, ConfigError, FilterError
from crmframes.filters import (
    And,
    Compare,
    Expr,
    IsIn,
    IsNull,
    Not,
    NotIn,
    NotNull,
    Or,
    StrMatch,
    literal_family,
    validate,
)
from crmframes.query_terms import literal_for, order_items
from crmframes.schema import Field, ObjectSchema

__all__ = ["build_query", "compile_odata", "odata_literal", "odata_string"]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GUID_RE = re.compile(
    r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?"
)
_LOOKUP_RE = re.compile(r"_(\w+)_value")
_WILDCARDS = str.maketrans({"[": "[[]", "%": "[%]", "_": "[_]"})
_OPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_COMPLEMENT = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_CRM = "Microsoft.Dynamics.CRM."


def compile_odata(expr: Expr, schema: ObjectSchema) -> str:
    """Return the ``$filter`` text of a filter (not yet URL-encoded).

    Args:
        expr: the filter (validated first).
        schema: the table the filter reads; names are exact-case, as Dataverse wants.

    Returns:
        The filter text; URL-encode it (``urllib.parse.quote``) before sending.

    Raises:
        FilterError: a broken rule; a literal of the wrong type for its column
            (``literal-type``, also a malformed GUID); an operator the column's kind does
            not have (``operator-type``: ``<`` on ids or booleans, ``contains`` on numbers).
        UnknownFieldError: the table has no such column (close matches named).

    Examples:
        >>> schema = ObjectSchema("contact", {
        ...     "contactid": Field("contactid", "id"),
        ...     "lastname": Field("lastname", "string"),
        ...     "numberofemployees": Field("numberofemployees", "integer")},
        ...     "contactid", case_sensitive=True)
        >>> from crmframes.filters import F
        >>> compile_odata((F("lastname") == "O'Neil") | (F("numberofemployees") != 3), schema)
        "lastname eq 'O''Neil' or (numberofemployees ne 3 or numberofemployees eq null)"
        >>> compile_odata(~((F("numberofemployees") < 5) | F("lastname").contains("50%")), schema)
        "(numberofemployees ge 5 or numberofemployees eq null) and (not contains(lastname,'50[%]') or lastname eq null)"
    """
    validate(expr)
    return _compile(expr, schema, positive=True, nested=False)


def odata_literal(value: Any, field: Field) -> str:
    """Return ``value`` as an OData literal for ``field``, type-checked against its kind.

    Raises:
        FilterError: ``literal-type``: a value of the wrong type for the field, a string
            that is not a GUID for an id or lookup field, or a value that is no literal.

    Examples:
        >>> odata_literal("O'Neil", Field("lastname", "string"))
        "'O''Neil'"
        >>> odata_literal("{49B0BE2E-D01C-ED11-B83E-000D3A572421}", Field("accountid", "id"))
        '49b0be2e-d01c-ed11-b83e-000d3a572421'
        >>> odata_literal(datetime(2024, 1, 2, 3, 4, 5, 500000), Field("createdon", "datetime"))
        '2024-01-02T03:04:05.5Z'
    """
    value = literal_for(value, field)
    if field.kind in ("id", "reference"):
        return _guid(value, field)
    if isinstance(value, str):
        return odata_string(value)
    return _plain(value)


def odata_string(text: str, *, like: bool = False) -> str:
    """Return ``text`` as a quoted OData string (``like``: bracket-escape ``% _ [``).

    Examples:
        >>> print(odata_string("it's 100%_[x]", like=True))
        'it''s 100[%][_][[]x]'
    """
    if like:
        text = text.translate(_WILDCARDS)
    return "'" + text.replace("'", "''") + "'"


def build_query(
    schema: ObjectSchema,
    fields: str | Iterable[str],
    *,
    where: Expr | None = None,
    order_by: str | Iterable[str | tuple[str, Any]] | None = None,
    top: int | None = None,
) -> dict[str, str]:
    """Return the query options of a collection GET: ``$select``, ``$filter``, ``$orderby``, ``$top``.

    Args:
        schema: the table.
        fields: the columns to return (lookups as ``_x_value``).
        where: a filter.
        order_by: names, ``(name, "asc"|"desc")`` or ``(name, descending: bool)``. The
            primary key is appended as a tiebreaker. Dataverse sorts nulls first in
            ascending keys (see the module docstring).
        top: the most rows to return.

    Returns:
        The options, values not yet URL-encoded.

    Raises:
        ValueError: no fields, a bad ``top``.
        UnknownFieldError: a column the table does not have (whatever its spelling).
        FilterError: the filter breaks a rule.

    Examples:
        >>> schema = ObjectSchema("contact", {
        ...     "contactid": Field("contactid", "id"),
        ...     "lastname": Field("lastname", "string")}, "contactid", case_sensitive=True)
        >>> build_query(schema, ["lastname"], order_by=[("lastname", "desc")], top=5)
        {'$select': 'lastname', '$orderby': 'lastname desc,contactid asc', '$top': '5'}
    """
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names:
        raise ValueError("build_query needs at least one column to select")
    selected = dict.fromkeys(_column(schema, name).name for name in names)
    options = {"$select": ",".join(selected)}
    if where is not None:
        options["$filter"] = compile_odata(where, schema)
    keys = {_column(schema, name).name: descending for name, descending in order_items(order_by)}
    if keys:
        keys.setdefault(schema.id_field, False)
        options["$orderby"] = ",".join(
            f"{name} {'desc' if descending else 'asc'}" for name, descending in keys.items()
        )
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or top < 0:
            raise ValueError(f"top must be a non-negative int, not {top!r}")
        options["$top"] = str(top)
    return options


# --- private helpers ----------------------------------------------------------------------


def _compile(node: Expr, schema: ObjectSchema, *, positive: bool, nested: bool) -> str:
    """Return the text that is TRUE where ``node`` (or, not ``positive``, ``~node``) holds."""
    if isinstance(node, And):  # Or too; De Morgan swaps them under a negation
        conjunctive = isinstance(node, Or) != positive
        parts = [_compile(item, schema, positive=positive, nested=True) for item in node.items]
        text = (" and " if conjunctive else " or ").join(parts)
        return f"({text})" if nested and len(parts) > 1 else text
    if isinstance(node, Not):
        return _compile(node.item, schema, positive=not positive, nested=nested)
    field = _column(schema, node.field)  # type: ignore[attr-defined]
    name = field.name
    # Each atom has a TRUE form (pandas selects the row) and a form with the nulls added:
    # under SQL's logic, `x op v` and `not (x op v)` both skip a null x.
    if isinstance(node, IsNull):  # NotNull too
        return f"{name} {'ne' if isinstance(node, NotNull) == positive else 'eq'} null"
    if isinstance(node, StrMatch):
        if field.kind != "string":
            raise FilterError(
                f"{node.function}() needs a text field; {name} is a {field.kind} field",
                rule="operator-type",
            )
        call = f"{node.function}({name},{odata_string(literal_for(node.value, field), like=True)})"
        return call if positive else _or_null(f"not {call}", field, schema)
    if isinstance(node, IsIn):  # NotIn too
        inside = isinstance(node, NotIn) != positive
        return _membership(node.values, field, schema, inside=inside)
    assert isinstance(node, Compare)
    if node.op not in ("==", "!=") and field.kind in ("id", "reference", "boolean"):
        raise FilterError(
            f"{name} is a {field.kind} field: compare it with == or != only, not {node.op}",
            rule="operator-type",
        )
    op = node.op if positive else _COMPLEMENT[node.op]
    text = f"{name} {_OPS[op]} {odata_literal(node.value, field)}"
    # pandas is True on nulls for !=, and for every negated comparison but ~(x != v)
    with_nulls = op == "!=" or (not positive and op != "==")
    return _or_null(text, field, schema) if with_nulls else text


def _membership(
    values: tuple[Any, ...], field: Field, schema: ObjectSchema, *, inside: bool
) -> str:
    texts: dict[str, None] = {}
    for value in values:
        text = _in_value(value, field)
        if text is not None:
            texts[text] = None
    name = field.name
    if not texts:  # no value can match (a fraction for a whole-number column)
        return (
            f"({name} eq null and {name} ne null)"
            if inside
            else f"({name} eq null or {name} ne null)"
        )
    match = _LOOKUP_RE.fullmatch(name) if field.kind == "reference" else None
    prop = match[1] if match else name  # the query functions take a lookup's logical name
    array = json.dumps(list(texts), ensure_ascii=False, separators=(",", ":"))
    function = "In" if inside else "NotIn"
    call = f"{_CRM}{function}(PropertyName='{prop}',PropertyValues={array})"
    return call if inside else _or_null(call, field, schema)


def _in_value(value: Any, field: Field) -> str | None:
    value = literal_for(value, field)
    if field.kind in ("id", "reference"):
        return _guid(value, field)
    if isinstance(value, str):
        return value
    if field.kind == "integer" and not isinstance(value, bool) and value != int(value):
        return None  # Dataverse refuses a fraction for an option set; pandas matches nothing
    if field.kind == "integer" and not isinstance(value, bool):
        return str(int(value))
    return _plain(value)


def _or_null(text: str, field: Field, schema: ObjectSchema) -> str:
    if field.name == schema.id_field:  # the primary key is never null
        return text
    return f"({text} or {field.name} eq null)"


def _column(schema: ObjectSchema, name: str) -> Field:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"a column name is a str, not {type(name).__name__} {name!r}")
    field = schema.resolve(name)  # an unknown name, an identifier or not: close matches named
    if not _NAME_RE.fullmatch(field.name):
        raise ConfigError(f"{schema.name}.{field.name} is not a column name OData can carry")
    return field


def _guid(value: str, field: Field) -> str:
    match = _GUID_RE.fullmatch(value)
    if match is None:
        raise FilterError(
            f"{value!r} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) for {field.name}",
            rule="literal-type",
        )
    return match[1].lower()


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
    return "0" if text.lstrip("-").strip("0.") == "" else text  # no exponent, no -0


def _plain(value: Any) -> str:
    family = literal_family(value)
    if family == "boolean":
        return "true" if value else "false"
    if family == "number":
        return _number(value)
    day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if not isinstance(value, datetime):
        return day
    fraction = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    return f"{day}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}{fraction}Z"
