r"""Compile filters to SOQL and build whole SOQL queries, every value escaped.

Pure. :func:`compile_soql` turns a :mod:`crmframes.filters` tree into the text of a ``WHERE``
clause that selects exactly what :func:`crmframes.filters.evaluate` selects (the contract
in that module); :func:`build_soql` wraps it in ``SELECT ... FROM ... ORDER BY ... LIMIT``.
Rules follow reference/salesforce-api.md §3:

- Strings are single-quoted with ``\``, ``'``, ``"``, ``\n \r \t \b \f`` escaped (other
  control characters as ``\uXXXX``); in ``LIKE`` values ``%`` and ``_`` are escaped too, so
  no value can change the query's structure. Identifiers cannot be quoted: they come from
  the schema and must match ``[A-Za-z][A-Za-z0-9_]*``.
- Dates are ``YYYY-MM-DD``; datetimes are UTC ``YYYY-MM-DDThh:mm:ssZ``. SOQL datetime literals
  have no fraction and Salesforce stores milliseconds, so rounding a literal with a fraction
  would change which records match: such a literal is refused (``literal-type``).
- Ids are quoted strings; a 15-character id becomes its 18-character form.
- SOQL is two-valued on nulls, as pandas is: ``!=``, ``NOT IN`` and ``NOT (...)`` include
  the nulls, ``<``/``LIKE`` never match them. One quirk needs care: Salesforce stores ``''``
  as null and ``Field = ''`` matches nulls, so comparisons with ``''`` get an explicit null
  test. Text comparisons are case-insensitive on Salesforce already.
- ``ORDER BY`` emits ``NULLS LAST`` in both directions (SOQL's default is nulls first), the
  order ``DataFrame.sort_values`` gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crmframes.errors import ConfigError, FilterError
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

__all__ = [
    "build_soql",
    "compile_soql",
    "soql_literal",
    "soql_string",
]  # fmt: skip

_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_OBJECT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_ID_RE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Z0-5]{3})?")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ESCAPES = {
    "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
    "\f": "\\f",
}  # fmt: skip
_QUOTED = str.maketrans(
    {**{chr(c): f"\\u{c:04x}" for c in (*range(32), 127)}, **_ESCAPES}
)  # one pass, so a backslash is escaped before anything adds one
_LIKE = str.maketrans(
    {**{chr(c): f"\\u{c:04x}" for c in (*range(32), 127)}, **_ESCAPES, "%": "\\%", "_": "\\_"}
)
_OPERATORS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LIKE_SHAPES = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}


def compile_soql(expr: Expr, schema: ObjectSchema) -> str:
    r"""Return the SOQL ``WHERE`` clause text (without ``WHERE``) of a filter.

    Args:
        expr: the filter (validated first).
        schema: the object the filter reads; names resolve case-insensitively.

    Returns:
        The condition text.

    Raises:
        FilterError: a broken rule; a literal of the wrong type for its field
            (``literal-type``); an operator the field's kind does not have
            (``operator-type``: ``<`` on ids or booleans, ``contains`` on numbers);
            a field Salesforce cannot filter on (``not-filterable``).
        UnknownFieldError: the object has no such field (close matches named).

    Examples:
        >>> schema = ObjectSchema("Contact", {
        ...     "LastName": Field("LastName", "string"),
        ...     "NumberOfEmployees": Field("NumberOfEmployees", "integer"),
        ...     "Email": Field("Email", "string")}, "Id")
        >>> from crmframes.filters import F
        >>> compile_soql((F("lastname") == "O'Brien") | F("Email").is_null(), schema)
        "LastName = 'O\\'Brien' OR Email = null"
        >>> compile_soql((F("NumberOfEmployees") > 10) & F("Email").contains("50%"), schema)
        "NumberOfEmployees > 10 AND Email LIKE '%50\\%%'"
        >>> compile_soql(~F("LastName").isin(["a", "b"]), schema)
        "(NOT LastName IN ('a', 'b'))"
    """
    validate(expr)
    return _compile(expr, schema, nested=False)


def soql_literal(value: Any, field: Field) -> str:
    r"""Return ``value`` as a SOQL literal for ``field``, type-checked against its kind.

    Raises:
        FilterError: ``literal-type``: a value of the wrong type for the field (a date for
            a datetime field, a str for a number...), a malformed id, a datetime with a
            fraction of a second, or a value that is no literal at all.

    Examples:
        >>> soql_literal("it's", Field("Name", "string"))
        "'it\\'s'"
        >>> soql_literal(datetime(2024, 1, 2, 3, 4, 5), Field("CreatedDate", "datetime"))
        '2024-01-02T03:04:05Z'
        >>> soql_literal(1e16, Field("Amount", "number"))
        '10000000000000000'
    """
    value = literal_for(value, field)
    if field.kind in ("id", "reference"):
        return "'" + _record_id(value, field) + "'"
    family = literal_family(value)
    if family == "string":
        return soql_string(value)
    if family == "boolean":
        return "true" if value else "false"
    if family == "number":
        return _number(value)
    if family == "datetime":
        if value.microsecond:
            raise FilterError(
                f"{value.isoformat()} has a fraction of a second, which SOQL datetime literals "
                f"cannot hold, and {field.name} stores milliseconds, so rounding would change "
                "which records match; give whole seconds, e.g. value.replace(microsecond=0)",
                rule="literal-type",
            )
        return _datetime(value)
    return _date(value)


def soql_string(text: str, *, like: bool = False) -> str:
    r"""Return ``text`` as a quoted SOQL string literal (``like``: also escape ``%`` and ``_``).

    Examples:
        >>> print(soql_string("a\\b'c\nd"))
        'a\\b\'c\nd'
        >>> print(soql_string("50%_off", like=True))
        '50\%\_off'
    """
    return "'" + text.translate(_LIKE if like else _QUOTED) + "'"


def build_soql(
    object_name: str,
    fields: str | Iterable[str],
    *,
    where: Expr | None = None,
    order_by: str | Iterable[str | tuple[str, Any]] | None = None,
    limit: int | None = None,
    schema: ObjectSchema | None = None,
) -> str:
    """Return a whole ``SELECT`` query.

    Args:
        object_name: the sObject (``Contact``).
        fields: the fields to select; relationship paths (``Account.Name``) are allowed here.
        where: a filter; needs ``schema``.
        order_by: names, ``(name, "asc"|"desc")`` or ``(name, descending: bool)``; nulls
            sort last in both directions.
        limit: the most records to return.
        schema: the object's schema: names are checked against it and written as it spells
            them. Without it, names are only checked to be identifiers.

    Raises:
        ValueError: a name that is not an identifier, no fields, a bad limit, a ``where``
            without ``schema``, or a field Salesforce cannot sort on.
        UnknownFieldError: a field the schema does not have.
        FilterError: the filter breaks a rule.

    Examples:
        >>> build_soql("Contact", ["Id", "LastName"], order_by=[("LastName", "desc")], limit=5)
        'SELECT Id, LastName FROM Contact ORDER BY LastName DESC NULLS LAST LIMIT 5'
    """
    if not isinstance(object_name, str) or not _OBJECT_RE.fullmatch(object_name):
        raise ValueError(f"not an sObject name: {object_name!r}")
    if schema is not None and schema.name.lower() != object_name.lower():
        raise ValueError(f"schema= describes {schema.name!r}, not {object_name!r}")
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names:
        raise ValueError("build_soql needs at least one field to select")
    selected: dict[str, str] = {}
    for name in names:
        canonical = _identifier(name, schema, "select").name
        selected.setdefault(canonical.lower(), canonical)  # SOQL refuses duplicates
    text = f"SELECT {', '.join(selected.values())} FROM {object_name}"
    if where is not None:
        if schema is None:
            raise ValueError("where= needs schema= to type-check and spell its fields")
        text += f" WHERE {compile_soql(where, schema)}"
    keys = [
        f"{_identifier(name, schema, 'order').name} {'DESC' if descending else 'ASC'} NULLS LAST"
        for name, descending in order_items(order_by)
    ]
    if keys:
        text += f" ORDER BY {', '.join(keys)}"
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, not {limit!r}")
        text += f" LIMIT {limit}"
    return text


# --- private helpers ----------------------------------------------------------------------


def _compile(node: Expr, schema: ObjectSchema, *, nested: bool) -> str:
    if isinstance(node, And):  # Or too; SOQL needs parentheses when AND and OR mix
        joiner = " OR " if isinstance(node, Or) else " AND "
        text = joiner.join(_compile(item, schema, nested=True) for item in node.items)
        return f"({text})" if nested and len(node.items) > 1 else text
    if isinstance(node, Not):  # two-valued, like pandas' ~ (the sandbox agrees)
        return f"(NOT {_compile(node.item, schema, nested=True)})"
    return _atom(node, schema)


def _atom(node: Expr, schema: ObjectSchema) -> str:
    field = _filter_field(node, schema)
    name = field.name
    if isinstance(node, IsNull):  # NotNull too
        return f"{name} != null" if isinstance(node, NotNull) else f"{name} = null"
    if isinstance(node, StrMatch):
        if field.kind != "string":
            raise FilterError(
                f"{node.function}() needs a text field; {name} is a {field.kind} field",
                rule="operator-type",
            )
        pattern = soql_string(literal_for(node.value, field), like=True)[1:-1]
        return f"{name} LIKE '{_LIKE_SHAPES[node.function].format(pattern)}'"
    if isinstance(node, IsIn):  # NotIn too
        negate = isinstance(node, NotIn)
        literals = dict.fromkeys(soql_literal(value, field) for value in node.values)
        text = f"{name} {'NOT IN' if negate else 'IN'} ({', '.join(literals)})"
        if field.kind == "string" and "''" in literals:  # '' matches nulls on Salesforce
            return f"({text} OR {name} = null)" if negate else f"({text} AND {name} != null)"
        return text
    assert isinstance(node, Compare)
    if node.op not in ("==", "!=") and field.kind in ("id", "reference", "boolean"):
        raise FilterError(
            f"{name} is a {field.kind} field: compare it with == or != only, not {node.op}",
            rule="operator-type",
        )
    literal = soql_literal(node.value, field)
    op = _OPERATORS[node.op]
    if field.kind == "string" and literal == "''" and op in ("=", "!="):
        # Salesforce stores '' as null and `Field = ''` matches the nulls (§3)
        if op == "=":
            return f"({name} = '' AND {name} != null)"
        return f"({name} != '' OR {name} = null)"
    return f"{name} {op} {literal}"


def _filter_field(node: Expr, schema: ObjectSchema) -> Field:
    field = schema.resolve(node.field)  # type: ignore[attr-defined]
    if not _FIELD_RE.fullmatch(field.name):
        raise ConfigError(f"{field.name!r} is not an identifier SOQL can carry unquoted")
    if not field.filterable:
        raise FilterError(
            f"{schema.name}.{field.name} cannot be filtered in Salesforce (long text, "
            "encrypted or compound fields cannot)",
            rule="not-filterable",
        )
    return field


def _identifier(name: str, schema: ObjectSchema | None, purpose: str) -> Field:
    if not isinstance(name, str) or not _FIELD_RE.fullmatch(name):
        if isinstance(name, str) and schema is not None:
            schema.resolve(name)  # an unknown field: UnknownFieldError with close matches
        raise ConfigError(f"not a field name SOQL can carry: {name!r}")
    if schema is None or "." in name:  # relationship paths: the connector resolves them
        return Field(name, "string")
    field = schema.resolve(name)
    if purpose == "order" and not field.sortable:
        raise ConfigError(f"{schema.name}.{field.name} cannot be sorted in Salesforce")
    return field


def _record_id(value: str, field: Field) -> str:
    if not _ID_RE.fullmatch(value) or (len(value) == 18 and _id_suffix(value) != value[15:]):
        raise FilterError(
            f"{value!r} is not a Salesforce record id (15 or 18 letters and digits) for "
            f"{field.name}",
            rule="literal-type",
        )
    return value if len(value) == 18 else value + _id_suffix(value)


def _id_suffix(record_id: str) -> str:
    # Three characters, one per group of five: bit i is set when character i is upper case.
    groups = (record_id[start : start + 5] for start in (0, 5, 10))
    return "".join(
        _SUFFIX_ALPHABET[sum(1 << i for i, char in enumerate(group) if "A" <= char <= "Z")]
        for group in groups
    )


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
    return "0" if text.lstrip("-").strip("0.") == "" else text  # no exponent, no -0


def _date(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _datetime(value: datetime) -> str:
    return f"{_date(value)}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
