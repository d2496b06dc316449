"""The Dataverse sandbox's tables and columns, as EntityDefinitions and Attributes report them.

Edge helper of the Dataverse sandbox (pure data). Seven tables (systemuser, account, contact,
lead, opportunity, audit, and the one-row organization with its audit settings) with the columns a marketing sync touches, typed with Dataverse's
AttributeTypeCode, MaxLength and RequiredLevel (reference/dataverse-api.md §2-4), the
lookups with their navigation properties, two alternate keys (``accountnumber`` on account,
``crmf_externalid`` on contact) and option sets. Logical names are lower case and exact;
only ``$filter`` string *values* compare case-insensitively.

Customisations of this demo org, so the sandbox can produce the rejects users meet: contact
``lastname`` is SystemRequired, and the industry option set carries the demo's industries.

Longer than 500 lines: pure data: the columns of seven tables as Dataverse reports them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from crmframes.sandbox.demo_org import INDUSTRIES, LEAD_SOURCES

__all__ = ["SCHEMA", "DvAttribute", "DvEntity", "DvSchema", "metadata_id"]

_METADATA_NAMESPACE = uuid.UUID("6f1c8e52-3b52-4a8a-9b2e-6c7f1d0a9e11")

# AttributeTypeCode -> (Edm type, AttributeTypeName, metadata cast)
TYPES: dict[str, tuple[str, str, str]] = {
    "String": ("Edm.String", "StringType", "StringAttributeMetadata"),
    "Memo": ("Edm.String", "MemoType", "MemoAttributeMetadata"),
    "Integer": ("Edm.Int32", "IntegerType", "IntegerAttributeMetadata"),
    "BigInt": ("Edm.Int64", "BigIntType", "BigIntAttributeMetadata"),
    "Decimal": ("Edm.Decimal", "DecimalType", "DecimalAttributeMetadata"),
    "Double": ("Edm.Double", "DoubleType", "DoubleAttributeMetadata"),
    "Money": ("Edm.Decimal", "MoneyType", "MoneyAttributeMetadata"),
    "Boolean": ("Edm.Boolean", "BooleanType", "BooleanAttributeMetadata"),
    "DateTime": ("Edm.DateTimeOffset", "DateTimeType", "DateTimeAttributeMetadata"),
    "Lookup": ("Edm.Guid", "LookupType", "LookupAttributeMetadata"),
    "Customer": ("Edm.Guid", "CustomerType", "LookupAttributeMetadata"),
    "Owner": ("Edm.Guid", "OwnerType", "LookupAttributeMetadata"),
    "Picklist": ("Edm.Int32", "PicklistType", "PicklistAttributeMetadata"),
    "State": ("Edm.Int32", "StateType", "StateAttributeMetadata"),
    "Status": ("Edm.Int32", "StatusType", "StatusAttributeMetadata"),
    "Uniqueidentifier": ("Edm.Guid", "UniqueidentifierType", "AttributeMetadata"),
    "EntityName": ("Edm.String", "EntityNameType", "EntityNameAttributeMetadata"),
}
LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
OPTION_TYPES = frozenset({"Picklist", "State", "Status"})
NUMBER_TYPES = frozenset({"Integer", "BigInt", "Decimal", "Double", "Money"})
TEXT_TYPES = frozenset({"String", "Memo", "EntityName"})


def metadata_id(*parts: str) -> str:
    """A stable MetadataId for an entity, attribute or key."""
    return str(uuid.uuid5(_METADATA_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class DvAttribute:
    """One column as ``EntityDefinitions(...)/Attributes`` reports it.

    ``targets`` holds a lookup's target tables; a lookup is addressed in JSON as
    ``_<name>_value`` and bound through the navigation properties in ``navigation``.
    """

    logical_name: str
    type: str
    display: str
    max_length: int | None = None
    required: str = "None"
    valid_for_create: bool = True
    valid_for_update: bool = True
    date_only: bool = False
    targets: tuple[str, ...] = ()
    options: tuple[tuple[int, str], ...] = ()
    fmt: str | None = None
    custom: bool = False
    primary_id: bool = False
    primary_name: bool = False
    min_value: float | None = None
    max_value: float | None = None
    precision: int | None = None

    @property
    def is_lookup(self) -> bool:
        """Whether this is a lookup (``_<name>_value`` in JSON)."""
        return self.type in LOOKUP_TYPES

    @property
    def odata_name(self) -> str:
        """The property name in Web API JSON, ``$select`` and ``$filter``."""
        return f"_{self.logical_name}_value" if self.is_lookup else self.logical_name

    @property
    def edm_type(self) -> str:
        """The CSDL type of the property (``Edm.Date`` for date-only columns)."""
        return "Edm.Date" if self.date_only else TYPES[self.type][0]

    @property
    def navigation(self) -> dict[str, str]:
        """Single-valued navigation property name -> target table, for ``@odata.bind``."""
        if not self.is_lookup:
            return {}
        # An owner is bound through the one property ``ownerid`` (reference §3.3: its
        # associatednavigationproperty); the sandbox has no team table to bind to.
        if len(self.targets) == 1 or self.type == "Owner":
            return {self.logical_name: self.targets[0]}
        return {f"{self.logical_name}_{target}": target for target in self.targets}

    def option_label(self, value: int) -> str | None:
        """The label of an option value, or None."""
        return dict(self.options).get(value)

    def describe(self, entity: str) -> dict[str, Any]:
        """The attribute's metadata JSON (the base AttributeMetadata properties)."""
        cast = TYPES[self.type][2]
        data: dict[str, Any] = {
            "@odata.type": f"#Microsoft.Dynamics.CRM.{cast}",
            "LogicalName": self.logical_name,
            "SchemaName": _schema_name(self.logical_name),
            "AttributeType": self.type,
            "AttributeTypeName": {"Value": TYPES[self.type][1]},
            "DisplayName": _label(self.display),
            "EntityLogicalName": entity,
            "IsCustomAttribute": self.custom,
            "IsPrimaryId": self.primary_id,
            "IsPrimaryName": self.primary_name,
            "IsValidForCreate": self.valid_for_create,
            "IsValidForUpdate": self.valid_for_update,
            "IsValidForRead": True,
            "IsLogical": False,
            "AttributeOf": None,
            "RequiredLevel": {
                "Value": self.required,
                "CanBeChanged": self.required != "SystemRequired",
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            "MetadataId": metadata_id(entity, self.logical_name),
        }
        if self.type in TEXT_TYPES:
            data["MaxLength"] = self.max_length
            data["FormatName"] = {
                "Value": self.fmt or ("TextArea" if self.type == "Memo" else "Text")
            }
        if self.type == "DateTime":
            data["Format"] = "DateOnly" if self.date_only else "DateAndTime"
            data["DateTimeBehavior"] = {"Value": "DateOnly" if self.date_only else "UserLocal"}
        if self.is_lookup:
            data["Targets"] = list(self.targets)
        if self.type in NUMBER_TYPES:
            data["MinValue"] = self.min_value
            data["MaxValue"] = self.max_value
            if self.precision is not None:
                data["Precision"] = self.precision
        return data

    def option_set(self, entity: str) -> dict[str, Any]:
        """The ``OptionSet`` of a picklist, state or status column."""
        return {
            "MetadataId": metadata_id(entity, self.logical_name, "optionset"),
            "Name": f"{entity}_{self.logical_name}",
            "IsGlobal": False,
            "OptionSetType": self.type if self.type != "Picklist" else "Picklist",
            "Options": [
                {"Value": value, "Label": _label(label), "Color": None, "IsManaged": False}
                for value, label in self.options
            ],
        }


@dataclass(frozen=True)
class DvEntity:
    """One table: EntityDefinitions header, attributes, alternate keys (lookups exact-case)."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str | None
    object_type_code: int
    display: str
    display_plural: str
    attributes: tuple[DvAttribute, ...]
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    custom: bool = False
    audited: bool = True
    writable: bool = True
    single_row: bool = False  # the organization: one row, updated but never created or deleted
    _by_name: dict[str, DvAttribute] = field(init=False, repr=False, compare=False)
    _by_odata: dict[str, DvAttribute] = field(init=False, repr=False, compare=False)
    _by_navigation: dict[str, tuple[DvAttribute, str]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.logical_name: a for a in self.attributes})
        object.__setattr__(self, "_by_odata", {a.odata_name: a for a in self.attributes})
        object.__setattr__(
            self,
            "_by_navigation",
            {nav: (a, target) for a in self.attributes for nav, target in a.navigation.items()},
        )

    def attribute(self, logical_name: str) -> DvAttribute | None:
        """The column with this logical name (exact case), or None."""
        return self._by_name.get(logical_name)

    def column(self, odata_name: str) -> DvAttribute | None:
        """The column behind a Web API property name (``_x_value`` for lookups), or None."""
        return self._by_odata.get(odata_name)

    def navigation(self, name: str) -> tuple[DvAttribute, str] | None:
        """The lookup and target table behind a single-valued navigation property."""
        return self._by_navigation.get(name)

    @property
    def properties(self) -> list[str]:
        """Every Web API property name, in metadata order."""
        return [a.odata_name for a in self.attributes]

    def header(self) -> dict[str, Any]:
        """The EntityMetadata JSON (without Attributes)."""
        return {
            "@odata.type": "#Microsoft.Dynamics.CRM.EntityMetadata",
            "MetadataId": metadata_id(self.logical_name),
            "LogicalName": self.logical_name,
            "SchemaName": _schema_name(self.logical_name),
            "EntitySetName": self.entity_set,
            "LogicalCollectionName": self.entity_set,
            "PrimaryIdAttribute": self.primary_id,
            "PrimaryNameAttribute": self.primary_name,
            "ObjectTypeCode": self.object_type_code,
            "DisplayName": _label(self.display),
            "DisplayCollectionName": _label(self.display_plural),
            "IsCustomEntity": self.custom,
            "IsActivity": False,
            "IsValidForAdvancedFind": True,
            "ChangeTrackingEnabled": self.writable,
            "IsAuditEnabled": {
                "Value": self.audited,
                "CanBeChanged": True,
                "ManagedPropertyLogicalName": "canmodifyauditsettings",
            },
            "TableType": "Standard",
        }

    def many_to_one_relationships(self) -> list[dict[str, Any]]:
        """The lookups as ``EntityDefinitions(...)/ManyToOneRelationships`` reports them.

        ``ReferencingEntityNavigationPropertyName`` is the (case-sensitive) property a
        client names in ``<nav>@odata.bind`` (reference §5).
        """
        return [
            {
                "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
                "MetadataId": metadata_id(self.logical_name, "relationship", nav),
                "SchemaName": f"{target}_{self.logical_name}_{attr.logical_name}",
                "RelationshipType": "OneToManyRelationship",
                "ReferencedEntity": target,
                "ReferencedAttribute": f"{target}id",
                "ReferencingEntity": self.logical_name,
                "ReferencingAttribute": attr.logical_name,
                "ReferencedEntityNavigationPropertyName": f"{target}_{self.logical_name}_{attr.logical_name}",
                "ReferencingEntityNavigationPropertyName": nav,
                "IsCustomRelationship": attr.custom,
            }
            for attr in self.attributes
            for nav, target in attr.navigation.items()
        ]

    def key_metadata(self) -> list[dict[str, Any]]:
        """The alternate keys as ``EntityDefinitions(...)/Keys`` reports them."""
        return [
            {
                "MetadataId": metadata_id(self.logical_name, "key", name),
                "LogicalName": name,
                "SchemaName": _schema_name(name),
                "DisplayName": _label(name),
                "EntityLogicalName": self.logical_name,
                "KeyAttributes": list(columns),
                "EntityKeyIndexStatus": "Active",
            }
            for name, columns in self.keys
        ]


@dataclass(frozen=True)
class DvSchema:
    """All tables of the sandbox org."""

    entities: dict[str, DvEntity]

    def by_set(self, entity_set: str) -> DvEntity | None:
        """The table whose EntitySetName is ``entity_set`` (exact case), or None."""
        for entity in self.entities.values():
            if entity.entity_set == entity_set:
                return entity
        return None

    def get(self, logical_name: str) -> DvEntity | None:
        """The table with this logical name, or None."""
        return self.entities.get(logical_name)


def _schema_name(logical: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in logical.split("_"))


def _label(text: str) -> dict[str, Any]:
    localized = {
        "Label": text,
        "LanguageCode": 1033,
        "IsManaged": True,
        "MetadataId": metadata_id("label", text),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


# --- column constructors ------------------------------------------------------------------------


def _text(name: str, display: str, length: int, **kw: Any) -> DvAttribute:
    return DvAttribute(name, "String", display, max_length=length, **kw)


def _memo(name: str, display: str, length: int = 2000) -> DvAttribute:
    return DvAttribute(name, "Memo", display, max_length=length)


def _options(labels: tuple[str, ...] | list[str], start: int = 1) -> tuple[tuple[int, str], ...]:
    return tuple((start + i, label) for i, label in enumerate(labels))


def _money(name: str, display: str) -> DvAttribute:
    return DvAttribute(
        name,
        "Money",
        display,
        min_value=-922337203685477.0,
        max_value=922337203685477.0,
        precision=4,
    )


def _integer(name: str, display: str, low: int = 0, high: int = 1_000_000_000) -> DvAttribute:
    return DvAttribute(name, "Integer", display, min_value=low, max_value=high)


def _lookup(name: str, display: str, *targets: str, kind: str = "Lookup") -> DvAttribute:
    return DvAttribute(name, kind, display, targets=targets)


def _address() -> tuple[DvAttribute, ...]:
    return (
        _text("address1_line1", "Address 1: Street 1", 250),
        _text("address1_city", "Address 1: City", 80),
        _text("address1_stateorprovince", "Address 1: State/Province", 50),
        _text("address1_postalcode", "Address 1: ZIP/Postal Code", 20),
        _text("address1_country", "Address 1: Country/Region", 80),
    )


def _system(
    states: tuple[tuple[int, str], ...], statuses: tuple[tuple[int, str], ...], owned: bool = True
) -> tuple[DvAttribute, ...]:
    read_only: dict[str, Any] = {"valid_for_create": False, "valid_for_update": False}
    columns = [
        DvAttribute(
            "statecode",
            "State",
            "Status",
            required="SystemRequired",
            options=states,
            valid_for_create=False,
        ),
        DvAttribute("statuscode", "Status", "Status Reason", options=statuses),
        DvAttribute("createdon", "DateTime", "Created On", **read_only),
        DvAttribute("modifiedon", "DateTime", "Modified On", **read_only),
        DvAttribute("overriddencreatedon", "DateTime", "Record Created On", valid_for_update=False),
        DvAttribute("createdby", "Lookup", "Created By", targets=("systemuser",), **read_only),
        DvAttribute("modifiedby", "Lookup", "Modified By", targets=("systemuser",), **read_only),
        DvAttribute("versionnumber", "BigInt", "Version Number", **read_only),
    ]
    if owned:
        columns.append(
            DvAttribute(
                "ownerid",
                "Owner",
                "Owner",
                targets=("systemuser", "team"),
                required="SystemRequired",
            )
        )
    return tuple(columns)


ACTIVE = _options(("Active", "Inactive"), start=0)
ACTIVE_STATUS = ((1, "Active"), (2, "Inactive"))
INDUSTRY_OPTIONS = _options(INDUSTRIES)
LEAD_SOURCE_OPTIONS = _options(LEAD_SOURCES)
ACCOUNT_CATEGORIES = ((1, "Preferred Customer"), (2, "Standard"))
CUSTOMER_TYPES = (
    (1, "Competitor"),
    (2, "Consultant"),
    (3, "Customer"),
    (4, "Investor"),
    (5, "Partner"),
    (6, "Influencer"),
    (7, "Press"),
    (8, "Prospect"),
    (9, "Reseller"),
    (10, "Supplier"),
    (11, "Vendor"),
    (12, "Other"),
)
LEAD_STATES = ((0, "Open"), (1, "Qualified"), (2, "Disqualified"))
LEAD_STATUSES = (
    (1, "New"),
    (2, "Contacted"),
    (3, "Qualified"),
    (4, "Lost"),
    (5, "Cannot Contact"),
    (6, "No Longer Interested"),
    (7, "Canceled"),
)
LEAD_QUALITY = ((1, "Hot"), (2, "Warm"), (3, "Cold"))
OPPORTUNITY_STATES = ((0, "Open"), (1, "Won"), (2, "Lost"))
OPPORTUNITY_STATUSES = (
    (1, "In Progress"),
    (2, "On Hold"),
    (3, "Won"),
    (4, "Canceled"),
    (5, "Out-Sold"),
)
SALES_STAGES = ((0, "Qualify"), (1, "Develop"), (2, "Propose"), (3, "Close"))
LOYALTY_TIERS = _options(("Bronze", "Silver", "Gold", "Platinum"), start=100000000)

SYSTEMUSER = DvEntity(
    "systemuser",
    "systemusers",
    "systemuserid",
    "fullname",
    8,
    "User",
    "Users",
    (
        DvAttribute(
            "systemuserid", "Uniqueidentifier", "User", primary_id=True, valid_for_update=False
        ),
        _text("firstname", "First Name", 64),
        _text("lastname", "Last Name", 64, required="SystemRequired"),
        _text(
            "fullname",
            "Full Name",
            200,
            primary_name=True,
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text("internalemailaddress", "Primary Email", 100, fmt="Email"),
        _text("domainname", "User Name", 1024, required="SystemRequired"),
        DvAttribute("isdisabled", "Boolean", "Status", valid_for_create=False),
        *_system(ACTIVE, ACTIVE_STATUS, owned=False),
    ),
    writable=False,
)

ACCOUNT = DvEntity(
    "account",
    "accounts",
    "accountid",
    "name",
    1,
    "Account",
    "Accounts",
    (
        DvAttribute(
            "accountid", "Uniqueidentifier", "Account", primary_id=True, valid_for_update=False
        ),
        _text("name", "Account Name", 160, primary_name=True, required="ApplicationRequired"),
        _text("accountnumber", "Account Number", 20),
        DvAttribute("customertypecode", "Picklist", "Relationship Type", options=CUSTOMER_TYPES),
        DvAttribute("accountcategorycode", "Picklist", "Category", options=ACCOUNT_CATEGORIES),
        DvAttribute("industrycode", "Picklist", "Industry", options=INDUSTRY_OPTIONS),
        _money("revenue", "Annual Revenue"),
        _integer("numberofemployees", "Number of Employees"),
        _text("telephone1", "Main Phone", 50, fmt="Phone"),
        _text("websiteurl", "Website", 200, fmt="Url"),
        *_address(),
        _memo("description", "Description"),
        _lookup("parentaccountid", "Parent Account", "account"),
        _lookup("primarycontactid", "Primary Contact", "contact"),
        _text("crmf_externalid", "External Id", 50, custom=True),
        *_system(ACTIVE, ACTIVE_STATUS),
    ),
    keys=(("crmf_account_accountnumber", ("accountnumber",)),),
)

CONTACT = DvEntity(
    "contact",
    "contacts",
    "contactid",
    "fullname",
    2,
    "Contact",
    "Contacts",
    (
        DvAttribute(
            "contactid", "Uniqueidentifier", "Contact", primary_id=True, valid_for_update=False
        ),
        _text("salutation", "Salutation", 100),
        _text("firstname", "First Name", 50, required="Recommended"),
        _text("lastname", "Last Name", 50, required="SystemRequired"),
        _text(
            "fullname",
            "Full Name",
            160,
            primary_name=True,
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text("jobtitle", "Job Title", 100),
        _text("department", "Department", 100),
        _text("emailaddress1", "Email", 100, fmt="Email"),
        _text("telephone1", "Business Phone", 50, fmt="Phone"),
        _text("mobilephone", "Mobile Phone", 50, fmt="Phone"),
        DvAttribute("birthdate", "DateTime", "Birthday", date_only=True),
        *_address(),
        _lookup("parentcustomerid", "Company Name", "account", "contact", kind="Customer"),
        DvAttribute("leadsourcecode", "Picklist", "Lead Source", options=LEAD_SOURCE_OPTIONS),
        DvAttribute("donotemail", "Boolean", "Do not allow Emails"),
        DvAttribute("donotphone", "Boolean", "Do not allow Phone Calls"),
        _memo("description", "Description"),
        _text("crmf_externalid", "External Id", 50, custom=True),
        DvAttribute(
            "crmf_loyaltytier", "Picklist", "Loyalty Tier", options=LOYALTY_TIERS, custom=True
        ),
        *_system(ACTIVE, ACTIVE_STATUS),
    ),
    keys=(("crmf_contact_externalid", ("crmf_externalid",)),),
)

LEAD = DvEntity(
    "lead",
    "leads",
    "leadid",
    "fullname",
    4,
    "Lead",
    "Leads",
    (
        DvAttribute("leadid", "Uniqueidentifier", "Lead", primary_id=True, valid_for_update=False),
        _text("subject", "Topic", 300, required="ApplicationRequired"),
        _text("firstname", "First Name", 50),
        _text("lastname", "Last Name", 50, required="ApplicationRequired"),
        _text(
            "fullname",
            "Name",
            160,
            primary_name=True,
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text("companyname", "Company Name", 100),
        _text("jobtitle", "Job Title", 100),
        _text("emailaddress1", "Email", 100, fmt="Email"),
        _text("telephone1", "Business Phone", 50, fmt="Phone"),
        DvAttribute("leadsourcecode", "Picklist", "Lead Source", options=LEAD_SOURCE_OPTIONS),
        DvAttribute("industrycode", "Picklist", "Industry", options=INDUSTRY_OPTIONS),
        DvAttribute("leadqualitycode", "Picklist", "Rating", options=LEAD_QUALITY),
        _money("revenue", "Annual Revenue"),
        _integer("numberofemployees", "No. of Employees"),
        *_address(),
        _text("crmf_externalid", "External Id", 50, custom=True),
        *_system(LEAD_STATES, LEAD_STATUSES),
    ),
)

OPPORTUNITY = DvEntity(
    "opportunity",
    "opportunities",
    "opportunityid",
    "name",
    3,
    "Opportunity",
    "Opportunities",
    (
        DvAttribute(
            "opportunityid",
            "Uniqueidentifier",
            "Opportunity",
            primary_id=True,
            valid_for_update=False,
        ),
        _text("name", "Topic", 300, primary_name=True, required="ApplicationRequired"),
        _lookup("parentaccountid", "Account", "account"),
        _money("estimatedvalue", "Est. Revenue"),
        DvAttribute("estimatedclosedate", "DateTime", "Est. Close Date", date_only=True),
        _integer("closeprobability", "Probability", 0, 100),
        _text("stepname", "Pipeline Phase", 200),
        DvAttribute("salesstagecode", "Picklist", "Process Code", options=SALES_STAGES),
        _text("crmf_externalid", "External Id", 50, custom=True),
        *_system(OPPORTUNITY_STATES, OPPORTUNITY_STATUSES),
    ),
)

AUDIT = DvEntity(
    "audit",
    "audits",
    "auditid",
    None,
    4567,
    "Audit",
    "Audits",
    (
        DvAttribute(
            "auditid",
            "Uniqueidentifier",
            "Record Id",
            primary_id=True,
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "createdon", "DateTime", "Changed Date", valid_for_create=False, valid_for_update=False
        ),
        DvAttribute(
            "operation",
            "Picklist",
            "Operation",
            options=((1, "Create"), (2, "Update"), (3, "Delete"), (4, "Access")),
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "action",
            "Picklist",
            "Event",
            options=((1, "Create"), (2, "Update"), (3, "Delete")),
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "objecttypecode", "EntityName", "Entity", valid_for_create=False, valid_for_update=False
        ),
        DvAttribute(
            "objectid",
            "Lookup",
            "Record",
            targets=("account", "contact", "lead", "opportunity"),
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "userid",
            "Lookup",
            "Changed By",
            targets=("systemuser",),
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text(
            "attributemask", "Changed Field", 4000, valid_for_create=False, valid_for_update=False
        ),
        DvAttribute(
            "transactionid",
            "Uniqueidentifier",
            "Transaction Id",
            valid_for_create=False,
            valid_for_update=False,
        ),
    ),
    audited=False,
    writable=False,
)

ORGANIZATION = DvEntity(
    "organization",
    "organizations",
    "organizationid",
    "name",
    1019,
    "Organization",
    "Organizations",
    (
        DvAttribute(
            "organizationid",
            "Uniqueidentifier",
            "Organization",
            primary_id=True,
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text(
            "name",
            "Organization Name",
            160,
            primary_name=True,
            required="SystemRequired",
            valid_for_create=False,
        ),
        DvAttribute("isauditenabled", "Boolean", "Is Auditing Enabled", valid_for_create=False),
        # Days audit rows are kept; -1 keeps them forever (the v2 setting the admin centre writes).
        _integer("auditretentionperiodv2", "Audit Retention Period Settings V2", -1, 365_000),
        DvAttribute(
            "createdon", "DateTime", "Created On", valid_for_create=False, valid_for_update=False
        ),
        DvAttribute(
            "modifiedon", "DateTime", "Modified On", valid_for_create=False, valid_for_update=False
        ),
        DvAttribute(
            "createdby",
            "Lookup",
            "Created By",
            targets=("systemuser",),
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "modifiedby",
            "Lookup",
            "Modified By",
            targets=("systemuser",),
            valid_for_create=False,
            valid_for_update=False,
        ),
        DvAttribute(
            "versionnumber",
            "BigInt",
            "Version Number",
            valid_for_create=False,
            valid_for_update=False,
        ),
    ),
    audited=False,
    single_row=True,
)

SCHEMA = DvSchema(
    {
        e.logical_name: e
        for e in (SYSTEMUSER, ACCOUNT, CONTACT, LEAD, OPPORTUNITY, AUDIT, ORGANIZATION)
    }
)
