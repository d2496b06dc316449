"""Preview an export: read the keyed rows' current values from the CRM and compare them.

Orchestration helper of :mod:`crmframes.operations.exporting` (``dry_run`` and
``only_changed``): the rows an export would update are read back by their key, in as few
calls as the connector's id chunks allow, and compared field by field in the canonical
text form of :func:`crmframes.writes.canonical` (an empty text as null, ids of reference
fields in one form: a 15-character Salesforce id equals its 18-character form) — so ``1``
equals ``1.0`` and a datetime equals its ISO string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from crmframes.connectors.base import Connector, ReadRequest
from crmframes.filters import F
from crmframes.writes import PlannedWrites, canonical

__all__ = ["compare"]


def _current(
    conn: Connector, plan: PlannedWrites, indexes: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The CRM's current values of the mapped fields for the keyed rows, by plan index."""
    schema = conn.describe(plan.object)
    key = plan.key
    if key is None:
        return {}
    names = tuple(dict.fromkeys([schema.id_field, key, *(t.field.name for t in plan.targets)]))
    wanted: dict[str, int] = {}
    for i in indexes:
        value = plan.records[i][key]
        wanted[str(value).lower()] = i
    found: dict[int, dict[str, Any]] = {}
    values = [plan.records[i][key] for i in indexes]
    size = max(1, conn.id_chunk_size)
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        request = ReadRequest(plan.object, names, where=F(key).isin(chunk), mode="rest")
        for page in conn.read(request):
            for row in page.table.to_pylist():
                index = wanted.get(str(row.get(key)).lower())
                if index is not None:
                    found[index] = row
    return found


def compare(
    conn: Connector, plan: PlannedWrites
) -> tuple[dict[int, tuple[str, str | None]], pd.DataFrame]:
    """What an export would do to each planned row: insert, update, unchanged or missing."""
    current = _current(conn, plan, range(len(plan.positions)))
    schema = conn.describe(plan.object)
    id_field = schema.id_field
    ids = {
        name
        for name in (t.field.name for t in plan.targets)
        if schema.fields.get(name) is not None and schema.fields[name].kind in ("id", "reference")
    }

    def seen(name: str, value: Any) -> str | None:
        """The value as the CRM holds it: an empty text is null, ids in one form."""
        if name in ids and isinstance(value, str):
            value = conn.normalize_id(value) or value
        text = canonical(value)
        return None if text == "" else text

    actions: dict[int, tuple[str, str | None]] = {}
    changes: list[dict[str, Any]] = []
    for index, record in enumerate(plan.records):
        row = current.get(index)
        if row is None:
            actions[index] = ("missing" if plan.op == "update" else "insert", None)
            continue
        crm_id = row.get(id_field)
        diff = [
            (name, row.get(name), value)
            for name, value in record.items()
            if name != plan.key and seen(name, value) != seen(name, row.get(name))
        ]
        actions[index] = ("update" if diff else "unchanged", crm_id)
        for name, old, new in diff:
            changes.append(
                {
                    "inputIndex": plan.positions[index],
                    "crmId": crm_id,
                    "field": name,
                    "old": canonical(old),
                    "new": canonical(new),
                }
            )
    columns = ["inputIndex", "crmId", "field", "old", "new"]
    frame = pd.DataFrame(changes, columns=columns).astype({"inputIndex": "Int64"})
    return actions, frame
