"""Org automation: what real orgs do to the records a client sends, for the sandboxes to model.

Edge: the sandbox's emulated CRMs (no I/O here; each CRM's records module calls it).

A production org rarely stores exactly what it is sent: text is trimmed, a null is filled
with a default (Salesforce ``Opportunity.Probability`` from the stage, Dataverse
``statuscode`` from ``statecode`` — both sandboxes always do these, as the CRMs do), and
record-triggered flows (Salesforce) or plug-ins (Dataverse) rewrite fields after a create.
``Sandbox(..., automation=True)`` turns on the last two here: text values trimmed, and a
flow / plug-in that formats every phone field of a new record the way an admin's flow
typically does (``(415) 555-0100`` for ten digits, ``+<digits>`` otherwise). A client that
compares what it sent with what the CRM stored — as an export settling a lost answer
must — meets what it will meet on a real org.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["format_phone", "rewrite_on_create", "trim_text"]

_DIGIT = re.compile(r"\d")


def format_phone(value: str) -> str:
    """Format a phone number as a typical org flow does.

    Examples:
        >>> format_phone("415.555.0100"), format_phone("+33 6 12 34 56 78"), format_phone("n/a")
        ('(415) 555-0100', '+33612345678', 'n/a')
    """
    digits = "".join(_DIGIT.findall(value))
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"+{digits}" if digits else value


def trim_text(values: Mapping[str, Any], text_fields: Collection[str]) -> dict[str, Any]:
    """The values with the outer whitespace of each text field trimmed (an all-blank text is null)."""
    trimmed = dict(values)
    for name, value in values.items():
        if name in text_fields and isinstance(value, str):
            trimmed[name] = value.strip() or None
    return trimmed


def rewrite_on_create(record: dict[str, Any], phone_fields: Collection[str]) -> None:
    """What the after-create flow / plug-in does to a new record: format its phone fields."""
    for name in phone_fields:
        value = record.get(name)
        if isinstance(value, str) and value:
            record[name] = format_phone(value)
