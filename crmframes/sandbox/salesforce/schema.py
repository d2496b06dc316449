"""The Salesforce sandbox's objects and fields, and their describe JSON.

Edge helper of the Salesforce sandbox (pure data). Five standard objects (User, Account,
Contact, Lead, Opportunity) with the fields a marketing sync touches, typed as
``/sobjects/{Obj}/describe`` reports them (reference/salesforce-api.md §4), plus two
custom fields: ``External_Id__c`` (unique external id, the upsert key) and
``Loyalty_Tier__c`` on Contact. Field and object names are case-insensitive in SOQL and
JSON bodies, so every lookup here is too.

Longer than 500 lines: pure data: the fields of five objects as describe reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmframes.sandbox.demo_org import (
    ACCOUNT_TYPES,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPPORTUNITY_TYPES,
    RATINGS,
    SALUTATIONS,
)
from crmframes.sandbox.demo_org import OPPORTUNITY_STAGES as STAGES

__all__ = ["SCHEMA", "SfField", "SfObject", "SfSchema"]

STRING_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "email",
        "phone",
        "url",
        "combobox",
        "encryptedstring",
    }
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}


@dataclass(frozen=True)
class SfField:
    """One field as describe reports it."""

    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    cascade_delete: bool = False
    picklist: tuple[str, ...] = ()
    default_value: Any = None
    restricted_picklist: bool = False
    precision: int = 0
    scale: int = 0
    custom: bool = False
    calculated: bool = False
    name_field: bool = False
    compound_field_name: str | None = None
    components: tuple[str, ...] = ()

    @property
    def is_string(self) -> bool:
        """Whether values are text (string, picklist, email, phone, url, ...)."""
        return self.type in STRING_TYPES

    @property
    def is_number(self) -> bool:
        """Whether values are JSON numbers."""
        return self.type in NUMBER_TYPES

    @property
    def is_id(self) -> bool:
        """Whether values are record ids (the Id field or a lookup)."""
        return self.type in ID_TYPES

    @property
    def filterable(self) -> bool:
        """Whether the field may appear in a WHERE clause (long text and compounds may not)."""
        return self.type != "address" and not (self.type == "textarea" and self.length > 255)

    @property
    def sortable(self) -> bool:
        """Whether the field may appear in ORDER BY."""
        return self.filterable and self.type != "multipicklist"

    def describe(self) -> dict[str, Any]:
        """Return the field's entry in ``/sobjects/{Obj}/describe``."""
        text = self.is_string or self.is_id
        return {
            "aggregatable": self.filterable and self.type not in ("textarea", "boolean"),
            "autoNumber": False,
            "byteLength": self.length * 3 if text else 0,
            "calculated": self.calculated,
            "calculatedFormula": None,
            "cascadeDelete": self.cascade_delete,
            "caseSensitive": self.case_sensitive,
            "compoundFieldName": self.compound_field_name,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default_value if self.type == "boolean" else None,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": 9 if self.type == "int" else 0,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": None,
            "filterable": self.filterable,
            "filteredLookupInfo": None,
            "groupable": self.filterable
            and self.type not in ("double", "currency", "percent", "datetime"),
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "inlineHelpText": None,
            "label": self.label,
            "length": self.length,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.nillable and not self.calculated and self.createable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default_value,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.restricted_picklist,
            "scale": self.scale,
            "searchPrefilterable": self.type == "reference",
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.sortable,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


@dataclass(frozen=True)
class SfObject:
    """One sObject: its describe header and its fields (lookups case-insensitive)."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[SfField, ...]
    custom: bool = False
    _by_lower: dict[str, SfField] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, SfField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {f.name.lower(): f for f in self.fields})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name},
        )

    def field(self, name: str) -> SfField | None:
        """Return the field called ``name`` (any case), or None."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> SfField | None:
        """Return the lookup field whose relationship is called ``name`` (any case)."""
        return self._by_relationship.get(name.lower())

    @property
    def field_names(self) -> list[str]:
        """The API names of every field, in describe order."""
        return [f.name for f in self.fields]

    def header(self, version: str) -> dict[str, Any]:
        """Return the object's entry in the describe-global list."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "createable": True,
            "custom": self.custom,
            "customSetting": False,
            "deepCloneable": False,
            "deletable": self.name != "User",
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "hasSubtypes": False,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.name != "User",
            "updateable": True,
            "urls": {
                "rowTemplate": f"{base}/{{ID}}",
                "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
                "describe": f"{base}/describe",
                "sobject": base,
            },
        }

    def describe(self, version: str, schema: SfSchema) -> dict[str, Any]:
        """Return ``/sobjects/{Obj}/describe``."""
        children = [
            {
                "cascadeDelete": f.cascade_delete,
                "childSObject": child.name,
                "deprecatedAndHidden": False,
                "field": f.name,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": _plural(child.name),
                "restrictedDelete": False,
            }
            for child in schema.objects.values()
            for f in child.fields
            if self.name in f.reference_to
            and f.name not in ("OwnerId", "CreatedById", "LastModifiedById")
        ]
        return {
            **self.header(version),
            "actionOverrides": [],
            "childRelationships": children,
            "compactLayoutable": True,
            "fields": [f.describe() for f in self.fields],
            "listviewable": None,
            "lookupLayoutable": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [
                {
                    "active": True,
                    "available": True,
                    "defaultRecordTypeMapping": True,
                    "developerName": "Master",
                    "master": True,
                    "name": "Master",
                    "recordTypeId": "012000000000000AAA",
                    "urls": {
                        "layout": f"/services/data/v{version}/sobjects/{self.name}/describe/layouts/012000000000000AAA"
                    },
                }
            ],
            "searchLayoutable": True,
            "supportedScopes": [
                {"label": "All " + self.label_plural.lower(), "name": "everything"}
            ],
        }


def _plural(name: str) -> str:
    return {"Opportunity": "Opportunities"}.get(name, name + "s")


@dataclass(frozen=True)
class SfSchema:
    """All objects of the sandbox org (lookups case-insensitive)."""

    objects: dict[str, SfObject]

    def get(self, name: str) -> SfObject | None:
        """Return the object called ``name`` (any case), or None."""
        for obj in self.objects.values():
            if obj.name.lower() == name.lower():
                return obj
        return None

    def by_prefix(self, key_prefix: str) -> SfObject | None:
        """Return the object whose ids start with ``key_prefix``."""
        for obj in self.objects.values():
            if obj.key_prefix == key_prefix:
                return obj
        return None


# --- field constructors -------------------------------------------------------------------


def _text(name: str, label: str, length: int, type: str = "string", **kw: Any) -> SfField:
    return SfField(name, type, label, length=length, **kw)


def _pick(name: str, label: str, values: tuple[str, ...], **kw: Any) -> SfField:
    return SfField(name, "picklist", label, length=255, picklist=values, **kw)


def _ref(name: str, label: str, target: str, relationship: str, **kw: Any) -> SfField:
    return SfField(
        name,
        "reference",
        label,
        length=18,
        reference_to=(target,),
        relationship_name=relationship,
        **kw,
    )


def _flag(name: str, label: str, **kw: Any) -> SfField:
    return SfField(
        name, "boolean", label, nillable=False, defaulted_on_create=True, default_value=False, **kw
    )


def _system(owner: bool = True) -> tuple[SfField, ...]:
    audit: dict[str, Any] = {
        "createable": False,
        "updateable": False,
        "defaulted_on_create": True,
        "nillable": False,
    }
    fields = [
        SfField(
            "IsDeleted",
            "boolean",
            "Deleted",
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            nillable=False,
            default_value=False,
        ),
    ]
    if owner:
        fields.append(
            _ref("OwnerId", "Owner ID", "User", "Owner", nillable=False, defaulted_on_create=True)
        )
    fields += [
        SfField("CreatedDate", "datetime", "Created Date", **audit),
        _ref("CreatedById", "Created By ID", "User", "CreatedBy", **audit),
        SfField("LastModifiedDate", "datetime", "Last Modified Date", **audit),
        _ref("LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy", **audit),
        SfField("SystemModstamp", "datetime", "System Modstamp", **audit),
    ]
    return tuple(fields)


def _id() -> SfField:
    return SfField(
        "Id",
        "id",
        "Record ID",
        length=18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
        id_lookup=True,
    )


def _address(prefix: str, label: str, street: str = "Street") -> tuple[SfField, ...]:
    compound = f"{prefix}Address"
    parts = (
        _text(
            f"{prefix}{street}",
            f"{label} Street".strip(),
            255,
            "textarea",
            compound_field_name=compound,
        ),
        _text(f"{prefix}City", f"{label} City".strip(), 40, compound_field_name=compound),
        _text(
            f"{prefix}State", f"{label} State/Province".strip(), 80, compound_field_name=compound
        ),
        _text(
            f"{prefix}PostalCode",
            f"{label} Zip/Postal Code".strip(),
            20,
            compound_field_name=compound,
        ),
        _text(f"{prefix}Country", f"{label} Country".strip(), 80, compound_field_name=compound),
    )
    whole = SfField(
        compound,
        "address",
        f"{label} Address".strip(),
        createable=False,
        updateable=False,
        components=tuple(p.name for p in parts),
    )
    return (*parts, whole)


LOYALTY_TIERS = ("Bronze", "Silver", "Gold", "Platinum")

_EXTERNAL_ID: dict[str, Any] = {
    "external_id": True,
    "id_lookup": True,
    "unique": True,
    "custom": True,
}

USER = SfObject(
    "User",
    "User",
    "Users",
    "005",
    (
        _id(),
        _text("Username", "Username", 80, nillable=False, id_lookup=True, unique=True),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, nillable=False),
        _text(
            "Name",
            "Full Name",
            121,
            createable=False,
            updateable=False,
            name_field=True,
            calculated=True,
        ),
        _text("Alias", "Alias", 8, nillable=False),
        _text("Email", "Email", 128, "email", nillable=False),
        _flag("IsActive", "Active"),
        *_system(owner=False),
    ),
)

ACCOUNT = SfObject(
    "Account",
    "Account",
    "Accounts",
    "001",
    (
        _id(),
        _text("Name", "Account Name", 255, nillable=False, name_field=True),
        _text("AccountNumber", "Account Number", 40),
        _pick("Type", "Account Type", ACCOUNT_TYPES),
        _pick("Industry", "Industry", INDUSTRIES),
        SfField("AnnualRevenue", "currency", "Annual Revenue", precision=18),
        SfField("NumberOfEmployees", "int", "Employees"),
        _text("Phone", "Account Phone", 40, "phone"),
        _text("Website", "Website", 255, "url"),
        *_address("Billing", "Billing"),
        _text("Description", "Account Description", 32000, "textarea"),
        _ref("ParentId", "Parent Account ID", "Account", "Parent"),
        _text("External_Id__c", "External Id", 50, **_EXTERNAL_ID),
        *_system(),
    ),
)

CONTACT = SfObject(
    "Contact",
    "Contact",
    "Contacts",
    "003",
    (
        _id(),
        _ref("AccountId", "Account ID", "Account", "Account", cascade_delete=True),
        _pick("Salutation", "Salutation", SALUTATIONS),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, nillable=False),
        _text(
            "Name",
            "Full Name",
            121,
            createable=False,
            updateable=False,
            name_field=True,
            calculated=True,
        ),
        _text("Title", "Title", 128),
        _text("Department", "Department", 80),
        _text("Email", "Email", 80, "email", id_lookup=True),
        _text("Phone", "Business Phone", 40, "phone"),
        _text("MobilePhone", "Mobile Phone", 40, "phone"),
        SfField("Birthdate", "date", "Birthdate"),
        *_address("Mailing", "Mailing"),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        _flag("HasOptedOutOfEmail", "Email Opt Out"),
        _flag("DoNotCall", "Do Not Call"),
        _text("Description", "Contact Description", 32000, "textarea"),
        _text("External_Id__c", "External Id", 50, **_EXTERNAL_ID),
        _pick(
            "Loyalty_Tier__c", "Loyalty Tier", LOYALTY_TIERS, custom=True, restricted_picklist=True
        ),
        *_system(),
    ),
)

LEAD = SfObject(
    "Lead",
    "Lead",
    "Leads",
    "00Q",
    (
        _id(),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, nillable=False),
        _text(
            "Name",
            "Full Name",
            121,
            createable=False,
            updateable=False,
            name_field=True,
            calculated=True,
        ),
        _text("Company", "Company", 255, nillable=False),
        _text("Title", "Title", 128),
        _text("Email", "Email", 80, "email", id_lookup=True),
        _text("Phone", "Phone", 40, "phone"),
        _pick(
            "Status",
            "Status",
            LEAD_STATUSES,
            nillable=False,
            defaulted_on_create=True,
            default_value="Open - Not Contacted",
        ),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        _pick("Industry", "Industry", INDUSTRIES),
        _pick("Rating", "Rating", RATINGS),
        SfField("AnnualRevenue", "currency", "Annual Revenue", precision=18),
        SfField("NumberOfEmployees", "int", "Employees"),
        *_address("", "", street="Street"),
        SfField(
            "IsConverted",
            "boolean",
            "Converted",
            nillable=False,
            defaulted_on_create=True,
            default_value=False,
            updateable=False,
        ),
        _text("External_Id__c", "External Id", 50, **_EXTERNAL_ID),
        *_system(),
    ),
)

OPPORTUNITY = SfObject(
    "Opportunity",
    "Opportunity",
    "Opportunities",
    "006",
    (
        _id(),
        _ref("AccountId", "Account ID", "Account", "Account", cascade_delete=True),
        _text("Name", "Name", 120, nillable=False, name_field=True),
        SfField("Amount", "currency", "Amount", precision=18, scale=2),
        _pick("StageName", "Stage", tuple(STAGES), nillable=False),
        SfField("CloseDate", "date", "Close Date", nillable=False),
        SfField("Probability", "percent", "Probability (%)", precision=3, defaulted_on_create=True),
        _pick("Type", "Opportunity Type", OPPORTUNITY_TYPES),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        SfField(
            "IsClosed",
            "boolean",
            "Closed",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            calculated=True,
            default_value=False,
        ),
        SfField(
            "IsWon",
            "boolean",
            "Won",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            calculated=True,
            default_value=False,
        ),
        _text("External_Id__c", "External Id", 50, **_EXTERNAL_ID),
        *_system(),
    ),
)

SCHEMA = SfSchema({o.name: o for o in (USER, ACCOUNT, CONTACT, LEAD, OPPORTUNITY)})
