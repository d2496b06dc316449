"""The Dataverse sandbox's write engine: read bodies, validate and apply create/update/delete.

Edge helper of the Dataverse sandbox (no I/O). Single requests and ``$batch`` parts go
through the same engine, so a row fails with the same error whichever way it came. Errors
are :class:`~crmframes.sandbox.dynamics.values.DataverseError` with the codes and message
patterns of reference/dataverse-api.md §7. Every delete writes an ``audits`` row
(operation 3) and cascades from an account to its contacts and opportunities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from crmframes.sandbox.automation import rewrite_on_create, trim_text
from crmframes.sandbox.database import UniqueViolation
from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.dynamics.schema import OPTION_TYPES, DvAttribute, DvEntity
from crmframes.sandbox.dynamics.values import (
    CoercionError,
    DataverseError,
    coerce_json,
    normalize_guid,
)

__all__ = ["Changes", "Writer", "parse_key", "payload_error"]

Record = dict[str, Any]
Key = str | dict[str, Any]  # a primary id, or alternate key column -> value

_KEY_PART = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^,]+?)\s*(?:,|$)")
_ENTITY_REF = re.compile(r"(?:.*/api/data/v\d+\.\d+/|/)?([A-Za-z_][A-Za-z0-9_]*)\((.*)\)")
_DEFAULT_STATUS = {
    "lead": {0: 1, 1: 3, 2: 4},
    "opportunity": {0: 1, 1: 3, 2: 4},
}
_CASCADES = {
    "account": (("contact", "_parentcustomerid_value"), ("opportunity", "_parentaccountid_value"))
}


def payload_error(entity: DvEntity, detail: str) -> DataverseError:
    """The 400 Dataverse gives for a body the OData reader refuses."""
    return DataverseError(
        400,
        "0x80048d19",
        f"Error identified in Payload provided by the user for Entity :'{entity.entity_set}', For more "
        "information on this error please follow this help link "
        f"https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : "
        f"Microsoft.OData.ODataException: {detail}",
    )


def parse_key(entity: DvEntity, text: str) -> Key:
    """Parse the key segment of ``/contacts(<key>)``: a GUID or ``column='value',...``.

    Raises:
        DataverseError: not a GUID and not a declared alternate key of the table.
    """
    guid = normalize_guid(text)
    if guid is not None:
        return guid
    parts: dict[str, Any] = {}
    position = 0
    while position < len(text):
        match = _KEY_PART.match(text, position)
        if match is None:
            raise DataverseError(
                400, "0x8006088a", f"Bad Request - Error in query syntax: key '{text}'."
            )
        name, raw = match.groups()
        if raw.startswith("'"):
            parts[name] = raw[1:-1].replace("''", "'")
        else:
            number = raw.strip()
            parts[name] = (
                int(number) if number.lstrip("-").isdigit() else normalize_guid(number) or number
            )
        position = match.end()
    declared = {frozenset(columns) for _, columns in entity.keys}
    lookup_parts = {name for name in parts if entity.column(name) is not None}
    if not parts or frozenset(parts) not in declared or lookup_parts != set(parts):
        raise DataverseError(
            400,
            "0x80060888",
            f"The key '{text}' is not a primary key or a declared "
            f"alternate key of the '{entity.logical_name}' entity.",
        )
    return parts


@dataclass
class Changes:
    """A parsed request body: column values and lookup binds (None clears a lookup)."""

    values: dict[str, Any] = field(default_factory=dict)
    binds: dict[str, tuple[str, str] | None] = field(
        default_factory=dict
    )  # lookup property -> (table, id)


class Writer:
    """Validates and applies writes against one environment."""

    def __init__(self, org: DataverseOrg) -> None:
        self.org = org

    # --- reading ---------------------------------------------------------------------------------

    def find(self, entity: DvEntity, key: Key) -> Record | None:
        """The live record addressed by a primary id or an alternate key, or None."""
        table = self.org.table(entity.logical_name)
        if isinstance(key, str):
            return table.get(key)
        if len(key) == 1:
            ((column, value),) = key.items()
            if table.is_unique(column):
                found = table.lookup(column, value)
                return None if found is None else table.get(found)
        wanted = {k: str(v).lower() for k, v in key.items()}
        for record in table.scan():
            if all(str(record.get(k)).lower() == v for k, v in wanted.items()):
                return record
        return None

    def not_found(self, entity: DvEntity, key: Key) -> DataverseError:
        """The 404 of a missing record (reference §7)."""
        if isinstance(key, str):
            return DataverseError(
                404, "0x80040217", f"{entity.logical_name} With Id = {key} Does Not Exist"
            )
        return DataverseError(
            404,
            "0x80060891",
            "A record with the specified key values does not exist in "
            f"{entity.logical_name} entity",
        )

    def read_body(self, entity: DvEntity, body: Any) -> Changes:
        """Turn a JSON body into column values and lookup binds.

        Unknown properties and values of the wrong JSON type are refused as the OData reader
        refuses them; columns not valid for the operation are left for the caller to drop.
        """
        if not isinstance(body, dict):
            raise payload_error(entity, "A JSON object was expected for the entity payload.")
        changes = Changes()
        for key, value in body.items():
            if key.startswith("@") or ("@" in key and not key.endswith("@odata.bind")):
                continue  # instance annotations (@odata.type, ...@OData.Community...) are ignored
            if key.endswith("@odata.bind"):
                nav = key[: -len("@odata.bind")]
                target = entity.navigation(nav)
                if target is None:
                    raise payload_error(
                        entity,
                        f"An undeclared property '{nav}' which only has property "
                        "annotations in the payload but no property value was found in the payload.",
                    )
                lookup, table = target
                changes.binds[lookup.odata_name] = (
                    None if value is None else self._bind(table, value)
                )
                continue
            nav_target = entity.navigation(key)
            if nav_target is not None and value is None:
                changes.binds[nav_target[0].odata_name] = None
                continue
            attr = entity.attribute(key)
            if attr is None or attr.is_lookup:
                raise payload_error(
                    entity,
                    f"The property '{key}' does not exist on type "
                    f"'Microsoft.Dynamics.CRM.{entity.logical_name}'. Make sure to only use "
                    "property names that are defined by the type.",
                )
            try:
                changes.values[attr.odata_name] = coerce_json(attr, value)
            except CoercionError as exc:
                raise payload_error(entity, str(exc)) from exc
        return changes

    def _bind(self, table: str, value: Any) -> tuple[str, str]:
        if not isinstance(value, str):
            raise DataverseError(400, "0x80048d19", "An @odata.bind value must be an entity URL.")
        path = unquote(urlsplit(value).path) if value.startswith("http") else value
        match = _ENTITY_REF.fullmatch(path.strip())
        target = self.org.schema.by_set(match.group(1)) if match else None
        if match is None or target is None:
            raise DataverseError(
                400,
                "0x80048d19",
                f"The URL '{value}' in an @odata.bind does not identify a record.",
            )
        if target.logical_name != table:
            raise DataverseError(
                400,
                "0x80048d19",
                f"The entity set '{target.entity_set}' does not match the "
                f"navigation property target '{table}'.",
            )
        key = parse_key(target, match.group(2))
        record = self.find(target, key)
        if record is None:
            raise self.not_found(target, key)
        return target.logical_name, record[target.primary_id]

    # --- writing ---------------------------------------------------------------------------------

    def create(
        self,
        entity: DvEntity,
        changes: Changes,
        *,
        origin: tuple[str, str],
        record_id: str | None = None,
        detect_duplicates: bool = False,
    ) -> Record:
        """Create one record; return it."""
        self._take_lock(entity, origin)
        values = self._automated(
            entity,
            {k: v for k, v in changes.values.items() if self._writable(entity, k, creating=True)},
        )
        new_id = record_id or values.pop(entity.primary_id, None) or self.org.new_guid()
        if self.org.table(entity.logical_name).get(new_id) is not None:
            raise DataverseError(
                412, "0x80040237", "A record with matching key values already exists."
            )
        record = self.org.blank(entity) | values
        record[entity.primary_id] = new_id
        self._apply_binds(entity, record, changes)
        now = self.org.now_wire()
        user = self.org.integration_user_id
        created = record.pop("overriddencreatedon", None) or now
        record.update(
            createdon=created,
            modifiedon=now,
            _createdby_value=user,
            _modifiedby_value=user,
            versionnumber=self.org.next_version(),
            overriddencreatedon=None if created == now else created,
        )
        if "_ownerid_value" in record and record["_ownerid_value"] is None:
            record["_ownerid_value"] = user
        if record.get("statecode") is None and entity.column("statecode") is not None:
            record["statecode"] = 0
        if record.get("statuscode") is None and entity.column("statuscode") is not None:
            record["statuscode"] = 1
        self._derive(entity, record)
        self._validate(entity, record, record)
        self._check_rules(entity, record, None, detect_duplicates)
        if self.org.settings.automation:  # the plug-in registered on create (post-operation)
            rewrite_on_create(
                record, [a.logical_name for a in entity.attributes if a.fmt == "Phone"]
            )
        self._store(entity, record, None)
        return record

    def _automated(self, entity: DvEntity, values: dict[str, Any]) -> dict[str, Any]:
        """The values as the environment keeps them: text trimmed when automation is on."""
        if not self.org.settings.automation:
            return values
        text = {a.logical_name for a in entity.attributes if a.type in ("String", "Memo")}
        return trim_text(values, text)

    def update(
        self,
        entity: DvEntity,
        existing: Record,
        changes: Changes,
        *,
        origin: tuple[str, str],
        detect_duplicates: bool = False,
    ) -> Record:
        """Update one record; return the new version."""
        self._take_lock(entity, origin)
        values = self._automated(
            entity,
            {k: v for k, v in changes.values.items() if self._writable(entity, k, creating=False)},
        )
        record = existing | values
        self._apply_binds(entity, record, changes)
        if "statecode" in values and "statuscode" not in values:
            defaults = _DEFAULT_STATUS.get(entity.logical_name, {0: 1, 1: 2})
            record["statuscode"] = defaults.get(record["statecode"], record.get("statuscode"))
        record.update(
            modifiedon=self.org.now_wire(),
            _modifiedby_value=self.org.integration_user_id,
            versionnumber=self.org.next_version(),
        )
        self._derive(entity, record)
        self._validate(entity, record, values | {k: 1 for k in changes.binds})
        self._check_rules(entity, record, existing, detect_duplicates)
        self._store(entity, record, existing)
        return record

    def delete(self, entity: DvEntity, existing: Record, *, origin: tuple[str, str]) -> None:
        """Delete one record, audit it, and cascade to parental children."""
        self._take_lock(entity, origin)
        with self.org.db.transaction():
            self._delete(entity, existing)

    def _delete(self, entity: DvEntity, existing: Record) -> None:
        record_id = existing[entity.primary_id]
        self.org.table(entity.logical_name).remove(record_id)
        audit = self.org.new_guid()
        self.org.table("audit").insert(
            self.org.blank(self.org.schema.entities["audit"])
            | {
                "auditid": audit,
                "createdon": self.org.now_wire(),
                "operation": 3,
                "action": 3,
                "objecttypecode": entity.logical_name,
                "_objectid_value": record_id,
                "_userid_value": self.org.integration_user_id,
                "transactionid": audit,
                "_version": self.org.next_version(),  # not a column: orders deletions for delta links
            }
        )
        for child_name, column in _CASCADES.get(entity.logical_name, ()):
            child = self.org.schema.entities[child_name]
            for row in [r for r in self.org.table(child_name).scan() if r.get(column) == record_id]:
                self._delete(child, row)

    # --- helpers ---------------------------------------------------------------------------------

    def _take_lock(self, entity: DvEntity, origin: tuple[str, str]) -> None:
        if self.org.faults.take_record(origin[0], origin[1], entity.logical_name) is not None:
            # Dataverse reports a deadlock as 0x80044150 "Generic SQL error." (0x80044151 is
            # the SQL timeout), HTTP 500; the same write succeeds when sent again.
            raise DataverseError(
                500,
                "0x80044150",
                "Generic SQL error. Transaction (Process ID 71) was deadlocked on lock resources with another "
                "process and has been chosen as the deadlock victim. Rerun the transaction.",
            )

    @staticmethod
    def _writable(entity: DvEntity, name: str, *, creating: bool) -> bool:
        # Columns not valid for the operation are silently ignored (reference §4); the
        # primary id and overriddencreatedon may be given on create.
        attr = entity.column(name)
        if attr is None:
            return False
        if creating and (attr.primary_id or name == "overriddencreatedon"):
            return True
        return attr.valid_for_create if creating else attr.valid_for_update

    def _apply_binds(self, entity: DvEntity, record: Record, changes: Changes) -> None:
        for prop, bind in changes.binds.items():
            record[prop] = None if bind is None else bind[1]

    def _derive(self, entity: DvEntity, record: Record) -> None:
        if entity.primary_name == "fullname" and "firstname" in record:
            record["fullname"] = (
                " ".join(p for p in (record.get("firstname"), record.get("lastname")) if p) or None
            )

    def _validate(self, entity: DvEntity, record: Record, sent: dict[str, Any]) -> None:
        for name in sent:
            attr = entity.column(name)
            value = record.get(name)
            if attr is None or value is None:
                continue
            if (
                attr.max_length is not None
                and isinstance(value, str)
                and len(value) > attr.max_length
            ):
                raise DataverseError(
                    400,
                    "0x80044331",
                    f"A validation error occurred.  The length of the '{attr.logical_name}' attribute of the "
                    f"'{entity.logical_name}' entity exceeded the maximum allowed length of '{attr.max_length}'.",
                )
            if attr.type in OPTION_TYPES and attr.option_label(value) is None:
                accepted = ",".join(str(v) for v, _ in attr.options)
                raise DataverseError(
                    400,
                    "0x8004431a",
                    f"A validation error occurred. The value {value} of '{attr.logical_name}' on record of type "
                    f"'{entity.logical_name}' is outside the valid range. Accepted Values: {accepted}",
                )
            if (
                attr.min_value is not None
                and attr.max_value is not None
                and not (attr.min_value <= value <= attr.max_value)
            ):
                raise DataverseError(
                    400,
                    "0x8004431a",
                    f"A validation error occurred. The value {value} of '{attr.logical_name}' on record of type "
                    f"'{entity.logical_name}' is outside the valid range.",
                )
        for attr in entity.attributes:
            if (
                attr.required == "SystemRequired"
                and attr.valid_for_create
                and record.get(attr.odata_name) in (None, "")
            ):
                raise DataverseError(
                    400,
                    "0x80040203",
                    f"The '{attr.logical_name}' attribute of the "
                    f"'{entity.logical_name}' entity is required and cannot be empty.",
                )

    def _check_rules(
        self, entity: DvEntity, record: Record, existing: Record | None, detect: bool
    ) -> None:
        table = self.org.table(entity.logical_name)
        try:
            table.check_unique(record, ignore_id=record[entity.primary_id])
        except UniqueViolation as exc:
            key_name = next(name for name, columns in entity.keys if exc.field in columns)
            raise DataverseError(
                412,
                "0x80060892",
                f"Entity Key {key_name} violated. A record with the same value for {exc.field} already exists. "
                "A duplicate record cannot be created. Try again with a different value.",
            ) from None
        if detect and self.org.settings.duplicate_rule and entity.logical_name == "contact":
            email = (record.get("emailaddress1") or "").lower()
            changed = existing is None or (existing.get("emailaddress1") or "").lower() != email
            if (
                email
                and changed
                and any(
                    (r.get("emailaddress1") or "").lower() == email
                    and r["contactid"] != record["contactid"]
                    for r in table.scan()
                )
            ):
                raise DataverseError(
                    412,
                    "0x80040333",
                    "A record was not created or updated because a "
                    "duplicate of the current record already exists.",
                )

    def _store(self, entity: DvEntity, record: Record, existing: Record | None) -> None:
        table = self.org.table(entity.logical_name)
        with self.org.db.transaction():
            if existing is None:
                table.insert(record)
            else:
                table.replace(record)


def lookup_target(org: DataverseOrg, attr: DvAttribute, value: str) -> str | None:
    """The table a (polymorphic) lookup value points at, for ``lookuplogicalname`` annotations."""
    for target in attr.targets:
        if org.get(target, value) is not None:
            return target
    return attr.targets[0] if attr.targets else None
