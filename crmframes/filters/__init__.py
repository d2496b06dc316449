"""Filter expressions: a small immutable tree built with ``F``, checked, and evaluated in pandas.

Pure. Users write ``(F("NumberOfEmployees") > 10) & F("Email").not_null()``; :func:`validate`
enforces the filtering rules (DESIGN §4.3) and :mod:`crmframes.soql` / :mod:`crmframes.odata`
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
  ``DataFrame.sort_values``; see :mod:`crmframes.odata` for what Dataverse can do.
"""

from __future__ import annotations

from crmframes.filters.dicts import from_dict
from crmframes.filters.evaluation import evaluate
from crmframes.filters.literals import Family, literal_family
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
from crmframes.filters.validation import RULES, to_literal, validate

__all__ = [
    "RULES", "And", "Compare", "CompareOp", "Expr", "F", "Family", "IsIn", "IsNull", "Not", "NotIn",
    "NotNull", "Or", "StrMatch", "TextFunction", "evaluate", "from_dict", "literal_family",
    "to_literal", "validate",
]  # fmt: skip
