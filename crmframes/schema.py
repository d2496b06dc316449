"""What a CRM object looks like to crmframes: its fields, their kinds, its id and modified fields.

Pure. Connectors build an :class:`ObjectSchema` from the CRM's describe call (Salesforce
``sobjects/{Obj}/describe``, Dataverse ``EntityDefinitions(...)/Attributes``); everything
above them (filters, conversions, imports, exports) reads only this shape, so a CRM
difference never leaks past its connector.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from crmframes import display
from crmframes.errors import ColumnNotFoundError

__all__ = ["Field", "FieldKind", "ObjectSchema", "UnknownFieldError"]

FieldKind = Literal["id", "reference", "string", "boolean", "integer", "number", "date", "datetime"]
TEXT_KINDS = frozenset({"id", "reference", "string"})
NUMERIC_KINDS = frozenset({"integer", "number"})


@dataclass(frozen=True)
class Field:
    """One field of a CRM object, described in CRM-neutral terms.

    Attributes:
        name: the name as it appears in frames (``LastName``, ``Account.Name``, ``lastname``,
            ``_parentcustomerid_value``).
        kind: the value type on the wire: ``id`` and ``reference`` are record ids (GUIDs on
            Dataverse), ``date`` and ``datetime`` are calendar values, ``integer`` covers
            Dataverse option-set values.
        crm_type: the CRM's own type name (``picklist``, ``Money``, ``Customer``, ...).
        length: the maximum length of a text value.
        nullable: whether the CRM accepts null.
        required: whether a create must give it (and the CRM will not default it).
        createable: whether a create may set it.
        updateable: whether an update may set it.
        external_id: whether it identifies a record for upserts (external id, alternate key).
        references: target objects of a lookup.
        options: ``(value, label)`` pairs of a picklist or option set.
        filterable: whether it may appear in a filter.
        sortable: whether it may appear in an order by.
        defaulted_on_create: the CRM fills it when a create leaves it null (Salesforce
            describe's ``defaultedOnCreate``), so a sent null may come back as a value.
        case_sensitive: whether two text values that differ only in case are different
            values for the CRM (a key column's duplicates are judged so; Salesforce
            describe's ``caseSensitive``; Dataverse compares text case-insensitively).
    """

    name: str
    kind: FieldKind
    crm_type: str = ""
    label: str = ""
    length: int | None = None
    nullable: bool = True
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    references: tuple[str, ...] = ()
    options: tuple[tuple[Any, str], ...] = ()
    filterable: bool = True
    sortable: bool = True
    defaulted_on_create: bool = False
    case_sensitive: bool = True

    @property
    def is_text(self) -> bool:
        """Whether values are strings on the wire (text, ids, lookups)."""
        return self.kind in TEXT_KINDS

    @property
    def is_numeric(self) -> bool:
        """Whether values are numbers."""
        return self.kind in NUMERIC_KINDS


class UnknownFieldError(ColumnNotFoundError):
    """A field name that the CRM object does not have (names the close matches)."""

    def __init__(self, object_name: str, name: str, matches: list[str]) -> None:
        super().__init__(name)
        hint = f"; did you mean {', '.join(map(repr, matches))}?" if matches else ""
        self.args = (f"{object_name} has no field {name!r}{hint}",)
        self.object_name = object_name
        self.matches = matches


@dataclass(frozen=True)
class ObjectSchema:
    """A CRM object (Salesforce sObject, Dataverse table) and its fields.

    Attributes:
        name: the object's API name (``Contact``, ``contact``).
        fields: the fields by name, in the CRM's order.
        id_field: the primary key (``Id``, ``contactid``).
        modified_fields: last-modified fields the object has, most preferred first
            (``LastModifiedDate``, ``SystemModstamp``; ``modifiedon``).
        created_field: the creation timestamp field (``CreatedDate``, ``createdon``), if any.
        keys: external-id fields and alternate keys usable to match records.
        case_sensitive: whether field names must match case exactly (Dataverse) or not
            (Salesforce).
        label: the display name.
        entity_set: the Web API collection name, when the CRM has one (``contacts``).
        id_prefix: what every record id of the object starts with, when the CRM says
            (Salesforce's ``keyPrefix``: ``003`` for Contact).
    """

    name: str
    fields: Mapping[str, Field]
    id_field: str
    modified_fields: tuple[str, ...] = ()
    keys: tuple[tuple[str, ...], ...] = ()
    case_sensitive: bool = False
    label: str = ""
    entity_set: str | None = None
    created_field: str | None = None
    id_prefix: str | None = None
    _folded: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_folded", {n.lower(): n for n in self.fields})

    @property
    def field_names(self) -> list[str]:
        """Every field name, in the CRM's order."""
        return list(self.fields)

    def find(self, name: str) -> Field | None:
        """The field called ``name`` (case-insensitively on Salesforce), or None."""
        found = self.fields.get(name)
        if found is None and not self.case_sensitive:
            canonical = self._folded.get(name.lower())
            found = None if canonical is None else self.fields[canonical]
        return found

    def resolve(self, name: str) -> Field:
        """The field called ``name``; raise :class:`UnknownFieldError` with close matches.

        Examples:
            >>> schema = ObjectSchema("Contact", {"LastName": Field("LastName", "string")}, "Id")
            >>> schema.resolve("lastname").name
            'LastName'
        """
        found = self.find(name)
        if found is None:
            pool = list(self.fields) if self.case_sensitive else [n.lower() for n in self.fields]
            probe = name if self.case_sensitive else name.lower()
            close = difflib.get_close_matches(probe, pool, n=3, cutoff=0.6)
            matches = close if self.case_sensitive else [self._folded[c] for c in close]
            raise UnknownFieldError(self.name, name, matches)
        return found

    def resolve_all(self, names: Iterable[str]) -> list[Field]:
        """Resolve several names, in order."""
        return [self.resolve(n) for n in names]

    @property
    def modified_field(self) -> str | None:
        """The preferred last-modified field, if the object has one."""
        return self.modified_fields[0] if self.modified_fields else None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per field: name, label, kind, CRM type, role and what it allows.

        ``role`` says which field is the id, the modified or created stamp, or a key.

        Examples:
            >>> schema = ObjectSchema("Contact", {"Id": Field("Id", "id")}, "Id")
            >>> schema.to_frame()[["name", "kind", "role"]].to_dict("records")
            [{'name': 'Id', 'kind': 'id', 'role': 'id'}]
        """
        rows = [
            {
                "name": f.name,
                "label": f.label,
                "kind": f.kind,
                "crm_type": f.crm_type,
                "role": self._role(f.name),
                "length": f.length,
                "required": f.required,
                "nullable": f.nullable,
                "createable": f.createable,
                "updateable": f.updateable,
                "external_id": f.external_id,
                "filterable": f.filterable,
                "sortable": f.sortable,
                "references": ", ".join(f.references),
                "options": ", ".join(str(label) for _, label in f.options),
            }
            for f in self.fields.values()
        ]
        out = pd.DataFrame(rows, columns=_FRAME_COLUMNS)
        out["length"] = out["length"].astype("Int64")
        return out

    def __repr__(self) -> str:
        return (
            f"ObjectSchema({self.name!r}: {len(self.fields)} fields, id {self.id_field!r}, "
            f"modified {self.modified_field!r})"
        )

    def _repr_html_(self) -> str:
        keys = "; ".join(", ".join(key) for key in self.keys)
        facts = [("id", self.id_field), ("modified", ", ".join(self.modified_fields))]
        facts += [("created", self.created_field or ""), ("keys", keys)]
        compact = ["name", "label", "kind", "crm_type", "role", "required", "updateable"]
        shown = display.frame(self.to_frame(), rows=50, columns=compact)
        named = f"{self.name} ({self.label})" if self.label not in ("", self.name) else self.name
        title = f"{named}: {len(self.fields)} fields"
        return display.card(title, facts, [("fields (to_frame() has every column)", shown)])

    def _role(self, name: str) -> str:
        if name == self.id_field:
            return "id"
        if name in self.modified_fields:
            return "modified"
        if name == self.created_field:
            return "created"
        return "key" if any(name in key for key in self.keys) else ""


_FRAME_COLUMNS = [
    "name", "label", "kind", "crm_type", "role", "length", "required", "nullable", "createable",
    "updateable", "external_id", "filterable", "sortable", "references", "options",
]  # fmt: skip
