"""Dataverse's bulk actions in the sandbox: ``CreateMultiple``, ``UpdateMultiple``, ``UpsertMultiple``.

Edge: ``POST /api/data/v9.2/<set>/Microsoft.Dynamics.CRM.<Action>`` with ``{"Targets": [...]}``
(reference/dataverse-api.md §5, "Bulk actions"). Every target goes through the same
:class:`~crmframes.sandbox.dynamics.records.Writer` as a single create or update, so it
meets the same validations, org automation and faults. The action is one transaction: the
first failing target undoes every write of the call and its error is the answer.

Shapes, as Microsoft documents them (learn.microsoft.com/power-apps/developer/data-platform/
webapi/reference/createmultiple, .../updatemultiple, .../upsertmultiple):

- every target names its table with ``"@odata.type": "Microsoft.Dynamics.CRM.<logical name>"``;
- ``CreateMultiple`` answers 200 with ``CreateMultipleResponse`` ``{"Ids": [...]}``; a target
  may carry its own primary id (a taken id is 412 ``0x80040237``);
- ``UpdateMultiple`` targets carry their primary id; the answer is 204;
- ``UpsertMultiple`` targets name their record with ``"@odata.id": "<set>(<key>)"`` (a primary
  id or an alternate key, as in a URL) or with their primary id; the answer is 204.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.dynamics.records import Changes, Key, Writer, parse_key, payload_error
from crmframes.sandbox.dynamics.schema import DvEntity
from crmframes.sandbox.dynamics.values import ODATA_HEADERS, DataverseError
from crmframes.sandbox.server import Request, Response

__all__ = ["ACTIONS", "BulkActions"]

CRM = "Microsoft.Dynamics.CRM."
ACTIONS = frozenset(
    f"{CRM}{name}" for name in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
)
"""The bound action segments answered here (``/<set>/<segment>``)."""


class BulkActions:
    """The ``*Multiple`` actions of one environment, over its write engine."""

    def __init__(self, org: DataverseOrg, writer: Writer) -> None:
        self.org = org
        self.writer = writer

    def handle(self, request: Request, entity: DvEntity, action: str, *, root: str) -> Response:
        """Answer ``POST /<set>/Microsoft.Dynamics.CRM.<action>`` (``root``: the service root).

        Raises:
            HttpError: a malformed body, a target of another table, or the first target
                that fails (nothing of the call is then written).
        """
        if request.method != "POST":  # an action answers POST only
            raise DataverseError(
                405,
                "0x80060888",
                f"The HTTP verb '{request.method}' is not allowed on this resource.",
            ).http()
        name = action[len(CRM) :]
        if not entity.writable or entity.single_row:
            raise DataverseError(
                400,
                "0x80040800",
                f"The '{name}' message does not support entities of type '{entity.logical_name}'.",
            ).http()
        targets = self._targets(request, entity)
        origin = (request.method, request.target)
        detect = (
            request.header("MSCRM.SuppressDuplicateDetection") or ""
        ).strip().lower() == "false"
        try:
            with self.org.db.transaction():
                ids = [
                    self._write(name, entity, target, origin=origin, detect=detect)
                    for target in targets
                ]
        except DataverseError as exc:
            raise exc.http() from exc
        if name == "CreateMultiple":
            return Response.json(
                200,
                {
                    "@odata.context": f"{root}$metadata#{CRM}CreateMultipleResponse",
                    "Ids": ids,
                },
                {**ODATA_HEADERS, "Content-Type": "application/json; odata.metadata=minimal"},
            )
        return Response.empty(204, ODATA_HEADERS)

    # --- one target ---------------------------------------------------------------------------

    def _write(
        self,
        action: str,
        entity: DvEntity,
        target: dict[str, Any],
        *,
        origin: tuple[str, str],
        detect: bool,
    ) -> str:
        changes = self.writer.read_body(entity, target)
        if action == "CreateMultiple":
            return self._create(entity, changes, None, origin=origin, detect=detect)
        key = self._key(entity, target)
        existing = None if key is None else self.writer.find(entity, key)
        if action == "UpdateMultiple":
            if key is None:
                raise DataverseError(
                    400,
                    "0x80040203",
                    f"Every target of UpdateMultiple needs its primary id "
                    f"'{entity.primary_id}' (or an '@odata.id' naming the record).",
                )
            if existing is None:
                raise self.writer.not_found(entity, key)
        if existing is not None:
            record = self.writer.update(
                entity, existing, changes, origin=origin, detect_duplicates=detect
            )
            return str(record[entity.primary_id])
        return self._create(entity, changes, key, origin=origin, detect=detect)

    def _create(
        self,
        entity: DvEntity,
        changes: Changes,
        key: Key | None,
        *,
        origin: tuple[str, str],
        detect: bool,
    ) -> str:
        if isinstance(key, dict):  # an upsert creates with its alternate key's values
            changes.values = {**key, **changes.values}
        record = self.writer.create(
            entity,
            changes,
            origin=origin,
            record_id=key if isinstance(key, str) else None,
            detect_duplicates=detect,
        )
        return str(record[entity.primary_id])

    def _key(self, entity: DvEntity, target: dict[str, Any]) -> Key | None:
        """The record a target of UpdateMultiple / UpsertMultiple names, or None."""
        reference = target.get("@odata.id")
        if reference is None:
            primary = target.get(entity.primary_id)
            return None if primary is None else parse_key(entity, str(primary))
        if not isinstance(reference, str):
            raise payload_error(entity, "The '@odata.id' annotation must be a string.")
        path = unquote(urlsplit(reference).path) if "://" in reference else reference
        path = path.rsplit("/", 1)[-1]
        set_name, _, rest = path.partition("(")
        if set_name != entity.entity_set or not rest.endswith(")"):
            raise payload_error(
                entity,
                f"The '@odata.id' value '{reference}' does not name a record of the entity set "
                f"'{entity.entity_set}', such as \"{entity.entity_set}(<key>)\".",
            )
        return parse_key(entity, rest[:-1])

    # --- the body -----------------------------------------------------------------------------

    def _targets(self, request: Request, entity: DvEntity) -> list[dict[str, Any]]:
        try:
            body = request.json()
        except orjson.JSONDecodeError as exc:
            raise payload_error(entity, f"Invalid JSON. {exc}").http() from exc
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list) or not targets:
            raise DataverseError(
                400,
                "0x80040203",
                'The request needs a non-empty "Targets" array of records: '
                '{"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.'
                f'{entity.logical_name}", ...}}, ...]}}.',
            ).http()
        wanted = f"{CRM}{entity.logical_name}"
        for target in targets:
            if not isinstance(target, dict):
                raise payload_error(entity, "Every item of Targets must be a JSON object.").http()
            kind = target.get("@odata.type")
            if kind is None:  # Microsoft: "You must specify the @odata.type annotation"
                raise DataverseError(
                    400,
                    "0x80040203",
                    f'Every item of Targets needs "@odata.type": "{wanted}".',
                ).http()
            if str(kind).lstrip("#") != wanted:
                raise DataverseError(
                    400,
                    "0x80040203",
                    f"The target of type '{kind}' does not belong to the entity set "
                    f"'{entity.entity_set}' ({wanted}).",
                ).http()
        return targets
