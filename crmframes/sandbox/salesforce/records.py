"""The Salesforce sandbox's write engine: validate and apply insert, update, upsert, delete.

Edge helper of the Salesforce sandbox (no I/O). One engine serves single-record REST,
sObject Collections and Bulk API 2.0 ingest, so a record is judged the same way whatever
road it came by. Failures come back as :class:`RecordError` with the real status codes and
message shapes (reference/salesforce-api.md §5-6); problems with the request as a whole
(an unknown field, a value that cannot be deserialised) raise :class:`RequestError`.

Longer than 500 lines: one write engine that REST, collections and Bulk share, so a record is
judged one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crmframes.sandbox.automation import rewrite_on_create, trim_text
from crmframes.sandbox.database import UniqueViolation
from crmframes.sandbox.demo_org import OPPORTUNITY_STAGES as STAGES
from crmframes.sandbox.salesforce.ids import normalize_id
from crmframes.sandbox.salesforce.org import SalesforceOrg
from crmframes.sandbox.salesforce.schema import SfField, SfObject
from crmframes.sandbox.salesforce.values import INT_LIMIT, CoercionError, coerce_json, display

__all__ = ["Origin", "RecordError", "RequestError", "WriteOutcome", "Writer"]

Record = dict[str, Any]
Origin = tuple[str, str]  # (HTTP method, request target): what lock_row faults match against

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_JSON_TYPE_NAMES = {
    "int": "int",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}


class RequestError(Exception):
    """The request as a whole is refused (top-level ``[{"errorCode","message"}]`` body)."""

    def __init__(
        self, code: str, message: str, *, status: int = 400, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The REST error body."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]


class RecordError(Exception):
    """One record failed (collections ``{"statusCode","message","fields"}``)."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.fields = fields or []

    def as_dict(self) -> dict[str, Any]:
        """The entry in a collections result's ``errors`` list."""
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


@dataclass
class WriteOutcome:
    """What happened to one record."""

    id: str | None
    created: bool | None = None
    errors: list[RecordError] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Whether the record was written."""
        return not self.errors

    def as_result(self, *, upsert: bool = False) -> dict[str, Any]:
        """The sObject Collections result entry."""
        result: dict[str, Any] = {
            "id": self.id,
            "success": self.success,
            "errors": [e.as_dict() for e in self.errors],
        }
        if upsert:
            result["created"] = bool(self.created) if self.success else False
        return result


class Writer:
    """Validates and applies record writes against one org."""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org

    # --- request-level parsing ---------------------------------------------------------------

    def read_json_record(self, obj: SfObject, body: Any) -> Record:
        """Turn a JSON record (any key case) into canonical field names and wire values.

        Relationship keys holding an external id (``"Account": {"External_Id__c": "A-1"}``)
        become ``("ref", field, key field, value)`` markers resolved per record.

        Raises:
            RequestError: not an object, an unknown field, or a value of the wrong JSON type.
        """
        if not isinstance(body, dict):
            raise RequestError(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {obj.name} from {type(body).__name__} value",
            )
        values: Record = {}
        for key, value in body.items():
            if key == "attributes":
                continue
            target = obj.field(key)
            if target is None:
                lookup = obj.relationship(key)
                if lookup is not None and isinstance(value, dict):
                    values[lookup.name] = self._external_ref(lookup, value)
                    continue
                raise RequestError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            try:
                values[target.name] = coerce_json(target, value)
            except CoercionError as exc:
                kind = _JSON_TYPE_NAMES.get(target.type, "string")
                raise RequestError(
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of {kind} from VALUE_STRING value {display(value)} "
                    "or request may be missing a required field",
                ) from exc
        return values

    def _external_ref(self, lookup: SfField, value: dict[str, Any]) -> tuple[str, str, Any]:
        keys = [k for k in value if k != "attributes"]
        parent = self.org.schema.get(lookup.reference_to[0])
        key_field = parent.field(keys[0]) if parent is not None and len(keys) == 1 else None
        if (
            parent is None
            or key_field is None
            or not (key_field.external_id or key_field.name == "Id")
        ):
            raise RequestError(
                "INVALID_FIELD",
                f"The relationship {lookup.relationship_name} must name "
                "exactly one external id field of the parent object",
            )
        return ("ref", key_field.name, value[keys[0]])

    # --- operations ----------------------------------------------------------------------------

    def insert(self, obj: SfObject, values: Record, *, origin: Origin) -> WriteOutcome:
        """Create one record."""
        try:
            self._take_lock(obj, origin, None)
            values = self._resolve_refs(obj, values)
            self._check_access(obj, values, creating=True)
            record = self.org.blank(obj)
            for f in obj.fields:
                if f.defaulted_on_create and f.default_value is not None:
                    record[f.name] = f.default_value
            values = self._automated(obj, values)
            record.update(values)
            self._check_values(obj, values)
            self._check_required(obj, record, creating=True)
            record = self._stamp(obj, record, created=True)
            if self.org.settings.automation:  # the record-triggered flow, after the save
                rewrite_on_create(record, [f.name for f in obj.fields if f.type == "phone"])
            self._check_rules(obj, record, None)
            with self.org.db.transaction():
                self._store(obj, record, None)
            return WriteOutcome(record["Id"], created=True)
        except RecordError as exc:
            return WriteOutcome(None, errors=[exc])

    def update(
        self, obj: SfObject, record_id: Any, values: Record, *, origin: Origin
    ) -> WriteOutcome:
        """Update one record by id."""
        key = normalize_id(record_id)
        try:
            existing = self._existing(obj, record_id)
            self._take_lock(obj, origin, key)
            values = self._resolve_refs(obj, {k: v for k, v in values.items() if k != "Id"})
            values = self._automated(obj, values)
            self._check_access(obj, values, creating=False)
            self._check_values(obj, values)
            record = existing | values
            self._check_required(obj, record, creating=False)
            record = self._stamp(obj, record, created=False)
            self._check_rules(obj, record, existing)
            with self.org.db.transaction():
                self._store(obj, record, existing)
            return WriteOutcome(existing["Id"], created=False)
        except RecordError as exc:
            return WriteOutcome(key if key and key[:3] == obj.key_prefix else None, errors=[exc])

    def upsert(
        self, obj: SfObject, key_field: SfField, key_value: Any, values: Record, *, origin: Origin
    ) -> WriteOutcome:
        """Insert or update one record matched on an external id (or Id) field."""
        if key_field.name == "Id":
            if key_value in (None, ""):
                return self.insert(obj, values, origin=origin)
            return self.update(obj, key_value, values, origin=origin)
        if key_value in (None, ""):
            return WriteOutcome(
                None,
                errors=[
                    RecordError(
                        "MISSING_ARGUMENT", f"{key_field.name} not specified", [key_field.name]
                    )
                ],
            )
        matches = self.find_by(obj, key_field, key_value)
        if len(matches) > 1:
            return WriteOutcome(
                None,
                errors=[
                    RecordError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"{key_field.label}: more than one record found for external id field: "
                        f"[{', '.join(matches)}]",
                        [key_field.name],
                    )
                ],
            )
        values = {**values, key_field.name: values.get(key_field.name, key_value)}
        if matches:
            return self.update(obj, matches[0], values, origin=origin)
        return self.insert(obj, values, origin=origin)

    def delete(
        self, record_id: Any, *, origin: Origin, obj: SfObject | None = None
    ) -> WriteOutcome:
        """Delete one record (to the recycle bin), cascading to children that cascade."""
        key = normalize_id(record_id)
        try:
            if key is None:
                raise RecordError("MALFORMED_ID", f"malformed id {display(record_id)}")
            target = obj or self.org.object_of_id(key)
            if target is None or (obj is not None and key[:3] != obj.key_prefix):
                raise RecordError("MALFORMED_ID", f"malformed id {display(record_id)}")
            existing = self._existing(target, key)
            if target.name == "User":
                raise RecordError(
                    "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"
                )
            self._take_lock(target, origin, key)
            with self.org.db.transaction():
                self._delete_cascade(target, existing)
            return WriteOutcome(key)
        except RecordError as exc:
            return WriteOutcome(key, errors=[exc])

    def undelete(self, record_id: Any, *, origin: Origin) -> WriteOutcome:
        """Restore a record from the recycle bin, with the children its delete cascaded to.

        SOAP ``undelete()``: the record is live again under its id, stamped as modified now
        by the calling user; an id not in the bin fails with ``UNDELETE_FAILED``.
        """
        key = normalize_id(record_id)
        try:
            target = None if key is None else self.org.object_of_id(key)
            if key is None or target is None:
                raise RecordError("MALFORMED_ID", f"malformed id {display(record_id)}")
            tombstone = self.org.find_deleted(target.name, key)
            if tombstone is None:
                raise RecordError("UNDELETE_FAILED", "Entity is not in the recycle bin")
            self._take_lock(target, origin, key)
            with self.org.db.transaction():
                self._undelete_cascade(target, tombstone)
            return WriteOutcome(key)
        except UniqueViolation as exc:
            message = (
                f"duplicate value found: {exc.field} duplicates value on record with id: "
                f"{exc.other_id}"
            )
            return WriteOutcome(None, errors=[RecordError("DUPLICATE_VALUE", message, [exc.field])])
        except RecordError as exc:
            return WriteOutcome(None, errors=[exc])

    def _automated(self, obj: SfObject, values: Record) -> Record:
        """The values as the org keeps them: text trimmed when automation is on."""
        if not self.org.settings.automation:
            return values
        return trim_text(values, {f.name for f in obj.fields if f.is_string})

    def find_by(self, obj: SfObject, key_field: SfField, value: Any) -> list[str]:
        """Return the ids of live records whose ``key_field`` equals ``value`` (case-insensitive)."""
        table = self.org.table(obj.name)
        if table.is_unique(key_field.name):
            found = table.lookup(key_field.name, value)
            return [found] if found else []
        wanted = str(value).lower()
        return [r["Id"] for r in table.scan() if str(r.get(key_field.name) or "").lower() == wanted]

    # --- checks ----------------------------------------------------------------------------------

    def _existing(self, obj: SfObject, record_id: Any) -> Record:
        key = normalize_id(record_id)
        if key is None or key[:3] != obj.key_prefix:
            raise RecordError(
                "MALFORMED_ID",
                f"{obj.label} ID: id value of incorrect type: {display(record_id)}",
                ["Id"],
            )
        record = self.org.table(obj.name).get(key)
        if record is not None:
            return record
        if self.org.find_deleted(obj.name, key) is not None:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")

    def _take_lock(self, obj: SfObject, origin: Origin, key: str | None) -> None:
        if self.org.faults.take_record(origin[0], origin[1], obj.name) is not None:
            raise RecordError(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record or 1 records: {key or obj.key_prefix}",
            )

    def _resolve_refs(self, obj: SfObject, values: Record) -> Record:
        resolved = dict(values)
        for name, value in values.items():
            if not (isinstance(value, tuple) and value and value[0] == "ref"):
                continue
            _, key_name, key_value = value
            lookup = obj.field(name)
            assert lookup is not None
            parent = self.org.schema.get(lookup.reference_to[0])
            assert parent is not None
            key_field = parent.field(key_name)
            assert key_field is not None
            matches = (
                self.find_by(parent, key_field, key_value) if key_name != "Id" else [key_value]
            )
            if len(matches) != 1:
                what = "not found" if not matches else "matches more than one record"
                raise RecordError(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {display(key_value)} {what} "
                    f"for field {key_name} in entity {parent.name}",
                    [name],
                )
            resolved[name] = matches[0]
        return resolved

    def _check_access(self, obj: SfObject, values: Record, *, creating: bool) -> None:
        refused = []
        for name in values:
            f = obj.field(name)
            assert f is not None
            if not (f.createable if creating else f.updateable):
                refused.append(f.name)
        if refused:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(refused)}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or permission set.",
                refused,
            )

    def _check_values(self, obj: SfObject, values: Record) -> None:
        for name, value in values.items():
            if value is None:
                continue
            f = obj.field(name)
            assert f is not None
            if (f.is_string or f.type == "textarea") and f.length and len(value) > f.length:
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{f.label}: data value too large: {value} (max length={f.length})",
                    [f.name],
                )
            if f.type == "email" and not _EMAIL_RE.fullmatch(value):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", [f.name]
                )
            if f.type == "picklist" and f.restricted_picklist and value not in f.picklist:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{f.label}: bad value for restricted picklist field: {value}",
                    [f.name],
                )
            if f.type == "int" and abs(value) > INT_LIMIT:
                raise RecordError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{f.label}: value outside of valid range on numeric field: {value}",
                    [f.name],
                )
            if f.type == "reference":
                self._check_reference(f, value)

    def _check_reference(self, f: SfField, value: Any) -> None:
        key = normalize_id(value)
        if key is None:
            raise RecordError(
                "MALFORMED_ID", f"{f.label}: id value of incorrect type: {display(value)}", [f.name]
            )
        target = self.org.schema.get(f.reference_to[0])
        assert target is not None
        if key[:3] != target.key_prefix:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{f.label}: id value of incorrect type: {display(value)}",
                [f.name],
            )
        if self.org.table(target.name).get(key) is None:
            if self.org.find_deleted(target.name, key) is not None:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [f.name])
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])

    def _check_required(self, obj: SfObject, record: Record, *, creating: bool) -> None:
        # On create the server fills defaulted fields (OwnerId, checkboxes); on update a
        # required field may not be set to null.
        missing = [
            f.name
            for f in obj.fields
            if not f.nillable
            and f.createable
            and record.get(f.name) in (None, "")
            and not (creating and f.defaulted_on_create)
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _check_rules(self, obj: SfObject, record: Record, existing: Record | None) -> None:
        # The demo org's one validation rule: a contact's birthdate cannot be in the future.
        if (
            obj.name == "Contact"
            and record.get("Birthdate")
            and record["Birthdate"] > self.org.now_wire()[:10]
        ):
            raise RecordError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "Birthdate cannot be in the future.",
                ["Birthdate"],
            )
        table = self.org.table(obj.name)
        try:
            table.check_unique(record, ignore_id=record["Id"])
        except UniqueViolation as exc:
            raise RecordError(
                "DUPLICATE_VALUE",
                f"duplicate value found: {exc.field} duplicates value on record with id: {exc.other_id}",
                [exc.field],
            ) from None
        if self.org.settings.duplicate_rule and obj.name == "Contact" and record.get("Email"):
            email = record["Email"].lower()
            changed = existing is None or (existing.get("Email") or "").lower() != email
            if changed and any(
                (r.get("Email") or "").lower() == email and r["Id"] != record["Id"]
                for r in table.scan()
            ):
                raise RecordError("DUPLICATES_DETECTED", "Use one of these records?")

    # --- apply -----------------------------------------------------------------------------------

    def _stamp(self, obj: SfObject, record: Record, *, created: bool) -> Record:
        now = self.org.now_wire()
        user = self.org.integration_user_id
        record = dict(record)
        if created:
            record["Id"] = self.org.new_id(obj.name)
            record.update(CreatedDate=now, CreatedById=user, IsDeleted=False)
            if obj.field("OwnerId") is not None and record.get("OwnerId") is None:
                record["OwnerId"] = user
        record.update(LastModifiedDate=now, LastModifiedById=user, SystemModstamp=now)
        if obj.field("Name") is not None and obj.field("Name").calculated:  # type: ignore[union-attr]
            record["Name"] = " ".join(
                p for p in (record.get("FirstName"), record.get("LastName")) if p
            )
        if obj.name == "Opportunity":
            stage = record.get("StageName")
            if stage in STAGES and (created and record.get("Probability") is None):
                record["Probability"] = float(STAGES[stage])
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"
        return record

    def _store(self, obj: SfObject, record: Record, existing: Record | None) -> None:
        table = self.org.table(obj.name)
        if existing is None:
            table.insert(record)
        else:
            table.replace(record)

    def _delete_cascade(self, obj: SfObject, record: Record) -> None:
        now = self.org.now_wire()
        tombstone = record | {
            "IsDeleted": True,
            "SystemModstamp": now,
            "LastModifiedDate": now,
            "LastModifiedById": self.org.integration_user_id,
            "_deleted_at": now,
        }
        self.org.table(obj.name).delete(record["Id"], tombstone)
        for child in self.org.schema.objects.values():
            for f in child.fields:
                if f.cascade_delete and obj.name in f.reference_to:
                    for row in [
                        r
                        for r in self.org.table(child.name).scan()
                        if r.get(f.name) == record["Id"]
                    ]:
                        self._delete_cascade(child, row)

    def _undelete_cascade(self, obj: SfObject, tombstone: Record) -> None:
        now = self.org.now_wire()
        record = {k: v for k, v in tombstone.items() if k != "_deleted_at"}
        record.update(
            IsDeleted=False,
            LastModifiedDate=now,
            LastModifiedById=self.org.integration_user_id,
            SystemModstamp=now,
        )
        self.org.table(obj.name).restore(record)
        for child in self.org.schema.objects.values():
            for f in child.fields:
                if f.cascade_delete and obj.name in f.reference_to:
                    for row in [
                        r
                        for r in self.org.table(child.name).bin.values()
                        if r.get(f.name) == tombstone["Id"]
                        and r["_deleted_at"] >= tombstone["_deleted_at"]  # deleted with it
                    ]:
                        self._undelete_cascade(child, row)
