"""The rules of a dedupe step: match rules, keep rules, normaliser and scorer names.

Pure. Each type reads the YAML spelling of a rule (``{max: LastModifiedDate}``,
``{priority: {LeadSource: [Web, Phone]}}``) and holds it in the form
:func:`crmframes.dedupe.deduplicate` takes (``("max", "LastModifiedDate")``), and dumps it
back for YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, PlainSerializer

from crmframes.specs.document import suggest
from crmframes.specs.fields import Name

__all__ = ["Keep", "KeepMethod", "Method", "NormalizerName", "Rules", "Scorer"]

KeepMethod = Literal["recent", "complete", "first", "last", "min", "max", "priority", "notnull"]
_KEEP_NEEDS_COLUMN = ("min", "max", "priority", "notnull")  # as crmframes.dedupe's KeepRule
NormalizerName = Literal["email", "phone", "name", "first_name", "text", "date", "exact"]
Scorer = Literal["jaro_winkler", "levenshtein", "osa", "indel"]
Method = Literal["auto", "rules", "score"]
Rules = Name | list[Name | Annotated[list[Name], Field(min_length=1)]]


def _keep_rule(item: Any) -> Any:
    """One keep rule in the form ``deduplicate`` takes: a name or a tuple."""
    if (isinstance(item, Mapping) and len(item) == 1) or (isinstance(item, tuple) and item):
        method = next(iter(item)) if isinstance(item, Mapping) else item[0]
        if method not in get_args(KeepMethod):
            raise ValueError(
                f"unknown keep method {method!r}{suggest(method, get_args(KeepMethod))}"
            )
    if isinstance(item, str):
        if item not in get_args(KeepMethod):
            raise ValueError(f"unknown keep method {item!r}{suggest(item, get_args(KeepMethod))}")
        if item in _KEEP_NEEDS_COLUMN:
            raise ValueError(f"keep rule {item!r} needs a column: write {{{item}: column}}")
        return item
    if isinstance(item, Mapping) and len(item) == 1:
        ((method, value),) = item.items()
        if method == "priority":
            if not (isinstance(value, Mapping) and len(value) == 1):
                raise ValueError("write a priority rule as {priority: {column: [best, next, ...]}}")
            ((column, values),) = value.items()
            if not isinstance(values, list | tuple) or not values:
                raise ValueError(f"priority values of {column!r} are a non-empty list")
            return ("priority", column, tuple(values))
        return (method, value)
    if isinstance(item, tuple) and 2 <= len(item) <= 3:
        return item if len(item) == 2 else (item[0], item[1], tuple(item[2]))
    raise ValueError(
        "a keep rule is a method (recent, complete, first, last), {min|max|recent|notnull: "
        f"column}} or {{priority: {{column: [values]}}}}, not {item!r}"
    )


def _keep(value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise ValueError("keep is a rule or a non-empty list of rules")
        rules = [_keep_rule(item) for item in value]
        return rules[0] if len(rules) == 1 else rules
    return _keep_rule(value)


def _dump_keep(value: Any) -> Any:
    def one(rule: Any) -> Any:
        if isinstance(rule, str):
            return rule
        if rule[0] == "priority":
            return {"priority": {rule[1]: list(rule[2])}}
        return {rule[0]: rule[1]}

    return [one(rule) for rule in value] if isinstance(value, list) else one(value)


KeepRuleValue = (
    KeepMethod | tuple[KeepMethod, Name] | tuple[Literal["priority"], Name, tuple[Any, ...]]
)
Keep = Annotated[
    KeepRuleValue | list[KeepRuleValue],
    BeforeValidator(_keep),
    PlainSerializer(_dump_keep, when_used="json"),
]
