"""Write Dataverse records with the bulk messages ``CreateMultiple`` and ``UpdateMultiple``.

Edge: Dataverse Web API over requests, through the connector's ``_send``. Microsoft calls
these "the most performant way" to write many rows of one table (learn.microsoft.com/
power-apps/developer/data-platform/bulk-operations; reference/dataverse-api.md §11): one
operation over all the targets instead of one per record as in a ``$batch``.

- ``POST /<set>/Microsoft.Dynamics.CRM.CreateMultiple`` ``{"Targets": [...]}`` answers
  ``{"Ids": [...]}`` in order; a target carries its primary id when the export chose one
  (ids by construction, DESIGN §4.6) or the row named one: sent again (by the caller)
  after a lost answer, the request fails on the first id already taken (``0x80040237``):
  the ids of the request that exist are then read (one query per 400 ids), their rows
  answer ``exists`` (created before: by the lost send, or, for an id the row named, perhaps
  by someone else; the export decides), and the others are sent again.
- ``POST /<set>/Microsoft.Dynamics.CRM.UpdateMultiple``: every target names its primary id;
  a missing record fails the request (never an accidental create, as ``If-Match: *`` in a
  ``$batch``).
- Both are **transactional**: one bad target fails the whole request and nothing of it is
  written. As Microsoft advises, a failed request is split in halves and sent again until
  each failing target stands alone, whose error is then that row's reject; the rows beside
  it are written. A row that fails costs about ``2 × log2(batch)`` calls more.

Upserts stay in ``$batch`` (:mod:`crmframes.connectors.dynamics.writer`): the Web API's
``UpsertMultiple`` answers 204 without saying which targets it created, and an export
reports ``created`` or ``updated`` per row. Deletes too: ``DeleteMultiple`` serves only
elastic tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.message import Message
from typing import TYPE_CHECKING, Any

import orjson

from crmframes.connectors.base import WriteOp, WriteOutcome
from crmframes.connectors.dynamics.wire import BatchAnswer, BatchRequest, guid, outcome
from crmframes.errors import ConnectorError

if TYPE_CHECKING:
    import requests

    from crmframes.schema import ObjectSchema

__all__ = ["MULTIPLE_OPS", "write_multiple"]

MULTIPLE_OPS: dict[str, str] = {"insert": "CreateMultiple", "update": "UpdateMultiple"}
_CRM = "Microsoft.Dynamics.CRM."
# Statuses of a request refused for what its targets hold (split to find the row); a
# throttle, an outage or a lost answer is the whole call's, handled by the caller.
_ROW_STATUSES = frozenset({400, 403, 404, 409, 412, 413})

_DUPLICATE_KEY = "0x80040237"

Send = Callable[..., "requests.Response"]
Taken = Callable[[list[str]], set[str]]


def write_multiple(
    send: Send,
    schema: ObjectSchema,
    op: WriteOp,
    parts: Sequence[BatchRequest],
    *,
    idempotent: bool,
    taken: Taken | None = None,
) -> list[WriteOutcome]:
    """Write ``parts`` (prepared as for a ``$batch``) with one bulk message; split on failure.

    ``taken`` reads which of some record ids exist (lower-case GUIDs): used when a create
    with client-chosen ids finds one of them taken.

    Returns one outcome per part, in order.

    Raises:
        ConnectorError: the call failed as a whole (throttled, unavailable, lost answer).
    """
    if not parts:
        return []
    action = MULTIPLE_OPS[op]
    entity_set = schema.entity_set or schema.name
    targets = [_target(schema, op, part) for part in parts]
    try:
        response = send(
            "POST",
            f"{entity_set}/{_CRM}{action}",
            operation=f"{op} {schema.name} ({action})",
            data=orjson.dumps({"Targets": targets}),
            headers={"Content-Type": "application/json; charset=utf-8"},
            idempotent=idempotent,
        )
    except ConnectorError as exc:
        if exc.retryable or exc.outcome_unknown or exc.status not in _ROW_STATUSES:
            raise
        if len(parts) == 1:
            return [outcome(schema, op, parts[0], _answer(exc))]
        again: dict[str, Any] = {"idempotent": idempotent, "taken": taken}
        sent = [part.sent_id for part in parts]
        if exc.code == _DUPLICATE_KEY and taken is not None and all(sent):
            found = taken([str(i) for i in sent])
            if found:
                rest = [p for p in parts if str(p.sent_id).lower() not in found]
                written = iter(write_multiple(send, schema, op, rest, **again))
                return [
                    outcome(schema, op, p, _answer(exc))
                    if str(p.sent_id).lower() in found
                    else next(written)
                    for p in parts
                ]
        half = len(parts) // 2
        first = write_multiple(send, schema, op, parts[:half], **again)
        return first + write_multiple(send, schema, op, parts[half:], **again)
    if op == "insert":
        body: Any = orjson.loads(response.content) if response.content.strip() else {}
        ids = body.get("Ids") if isinstance(body, dict) else None
        if not (isinstance(ids, list) and len(ids) == len(parts)):
            if not all(part.sent_id for part in parts):  # the new ids are nowhere else
                raise ConnectorError(
                    f"CreateMultiple on {entity_set} answered without the ids of the "
                    f"{len(parts)} records it created",
                    system="dynamics",
                    operation=f"{action} {entity_set}",
                    status=response.status_code,
                    payload=response.content[:500],
                    outcome_unknown=True,  # they were created: sent again, they would be twice
                )
            ids = [None] * len(parts)  # each record carries the id we chose
        return [
            WriteOutcome(ok=True, id=guid(new) or part.sent_id, created=True)
            for new, part in zip(ids, parts, strict=True)
        ]
    return [WriteOutcome(ok=True, id=part.sent_id, created=False) for part in parts]


def _target(schema: ObjectSchema, op: WriteOp, part: BatchRequest) -> dict[str, Any]:
    """One item of ``Targets``: the record's body, its table, and for an update its id."""
    target: dict[str, Any] = {"@odata.type": f"{_CRM}{schema.name}", **(part.body or {})}
    if op == "update":
        target[schema.id_field] = part.sent_id
    return target


def _answer(exc: ConnectorError) -> BatchAnswer:
    """The failed request as a ``$batch`` part's answer, so one reader makes the reject."""
    error = {"code": exc.code or "", "message": str(exc.args[0]) if exc.args else str(exc)}
    return BatchAnswer(exc.status or 400, Message(), orjson.dumps({"error": error}))
