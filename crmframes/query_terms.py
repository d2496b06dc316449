"""Typed query literals and order-by items, shared by the SOQL and OData compilers.

Pure. :func:`literal_for` checks a filter value against the kind of the field it is compared
with (and the range of an integer field); :func:`order_items` reads the ``order_by``
argument every import takes. Both CRMs' compilers (``connectors/salesforce/soql_compiler``,
``connectors/dynamics/odata_compiler``) and the operations use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crmframes.errors import ArgumentTypeError, ConfigError, FilterError
from crmframes.filters import literal_family, to_literal
from crmframes.schema import Field

__all__ = ["integer_range", "literal_for", "order_items"]

_WANTED: dict[str, tuple[str, str]] = {
    "string": ("string", "a str"), "id": ("string", "a record id (str)"),
    "reference": ("string", "a record id (str)"), "boolean": ("boolean", "a bool"),
    "integer": ("number", "a number"), "number": ("number", "a number"),
    "date": ("date", "a datetime.date"), "datetime": ("datetime", "an aware datetime"),
}  # fmt: skip


def literal_for(value: Any, field: Field) -> Any:
    """Return ``value`` as a checked literal of the type ``field``'s kind holds.

    Raises:
        FilterError: ``literal-type``: not a literal, or not of the field's type (a date
            for a datetime field, a str for a number field...).

    Examples:
        >>> from decimal import Decimal
        >>> literal_for(Decimal('1.5'), Field("Amount", "number"))
        Decimal('1.5')
    """
    value = to_literal(value)
    wanted, described = _WANTED[field.kind]
    if literal_family(value) != wanted:
        raise FilterError(
            f"{field.name} is a {field.kind} field: give {described}, not "
            f"{type(value).__name__} {value!r}",
            rule="literal-type",
        )
    if field.kind == "integer" and not isinstance(value, bool):
        low, high = integer_range(field)
        if not low <= value <= high:
            # no record holds it; Dataverse answers HTTP 400 to it in In(), so both CRMs
            # and every operator refuse it here, before any call
            raise FilterError(
                f"{value!r} is out of the range of {field.name} ({low:,} to {high:,}): "
                "no record can hold it",
                rule="literal-range",
            )
    return value


def integer_range(field: Field) -> tuple[int, int]:
    """The values an integer field holds: 64-bit for Salesforce ``long`` and Dataverse ``BigInt``.

    Every other whole-number type of both CRMs is 32-bit (Salesforce ``int``; Dataverse
    ``Integer``, option sets, state and status). A field whose type is not known gets 64 bits.

    Examples:
        >>> integer_range(Field("NumberOfEmployees", "integer", crm_type="int"))
        (-2147483648, 2147483647)
    """
    if not field.crm_type or field.crm_type.lower() in ("long", "bigint"):
        return -(2**63), 2**63 - 1
    return -(2**31), 2**31 - 1


def order_items(order_by: str | Iterable[str | tuple[str, Any]] | None) -> list[tuple[str, bool]]:
    """Return ``order_by`` as ``(field, descending)`` pairs: the one reader of ``order_by``.

    Items are a field name, ``(name, "asc" | "desc")`` or ``(name, descending: bool)``; a
    two-item list stands for a pair (YAML has no tuples).

    Raises:
        ArgumentTypeError: ``order_by`` or an item of another shape (a ``ValueError`` too).
        ConfigError: an unknown direction.

    Examples:
        >>> order_items(["LastName", ("CreatedDate", "desc")])
        [('LastName', False), ('CreatedDate', True)]
    """
    if order_by is None:
        return []
    if not isinstance(order_by, str | list | tuple):
        raise ArgumentTypeError(
            "order_by must be a field or a list of fields / (field, 'asc'|'desc') pairs, "
            f"not {type(order_by).__name__}"
        )
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    out: list[tuple[str, bool]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, False))
            continue
        if not isinstance(item, tuple | list) or len(item) != 2 or not isinstance(item[0], str):
            raise ArgumentTypeError(
                f"an order_by item is a field or a (field, 'asc'|'desc') pair, not {item!r}"
            )
        name, direction = item
        if isinstance(direction, bool):
            out.append((name, direction))
        elif isinstance(direction, str) and direction.lower() in ("asc", "desc"):
            out.append((name, direction.lower() == "desc"))
        else:
            raise ConfigError(
                f"order direction of {name!r} must be 'asc' or 'desc', not {direction!r}"
            )
    return out
