"""Dataverse sandbox metadata: the service document, ``$metadata`` and ``EntityDefinitions``.

Edge: answers ``GET /api/data/v9.2/``, ``/$metadata`` (a minimal CSDL) and
``/EntityDefinitions`` by key or by ``$filter``, with ``Attributes`` (and the type casts
``.../Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`` with ``$expand=OptionSet``
that Microsoft's client asks for) and ``Keys`` (reference/dataverse-api.md §4). Metadata is
never paged.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from crmframes.sandbox.dynamics.schema import TYPES, DvEntity, DvSchema
from crmframes.sandbox.dynamics.values import ODATA_HEADERS, DataverseError
from crmframes.sandbox.server import Request, Response

__all__ = ["Metadata"]

_JSON = "application/json; odata.metadata=minimal"
_CONDITION = re.compile(
    r"\s*([A-Za-z]+(?:/[A-Za-z]+)?)\s+eq\s+('(?:[^']|'')*'|true|false|\d+)\s*", re.IGNORECASE
)
_DEFINITION = re.compile(
    r"EntityDefinitions(?:\((?P<key>[^)]*)\))?(?:/(?P<part>Attributes|Keys)"
    r"(?:\((?P<attr>[^)]*)\))?(?:/Microsoft\.Dynamics\.CRM\.(?P<cast>\w+))?)?"
)


class Metadata:
    """Metadata resources of one environment."""

    def __init__(self, schema: DvSchema) -> None:
        self.schema = schema
        self.root = ""  # https://127.0.0.1:PORT/api/data/v9.2/, set when the port is known
        self._csdl: bytes | None = None

    def service_document(self) -> Response:
        """``GET /api/data/v9.2/``: every entity set."""
        value = [
            {"name": e.entity_set, "kind": "EntitySet", "url": e.entity_set}
            for e in self.schema.entities.values()
        ]
        value.append({"name": "EntityDefinitions", "kind": "EntitySet", "url": "EntityDefinitions"})
        return Response.json(
            200,
            {"@odata.context": f"{self.root}$metadata", "value": value},
            {**ODATA_HEADERS, "Content-Type": _JSON},
        )

    def csdl(self) -> Response:
        """``GET /api/data/v9.2/$metadata``: a minimal CSDL document."""
        if self._csdl is None:
            self._csdl = _csdl(self.schema).encode()
        return Response.raw(200, self._csdl, "application/xml", ODATA_HEADERS)

    def definitions(self, request: Request, path: str) -> Response:
        """``GET /EntityDefinitions...``."""
        match = _DEFINITION.fullmatch(path)
        if match is None:
            raise DataverseError(
                404, "0x80060888", f"Resource not found for the segment '{path}'."
            ).http()
        select = _select(request.arg("$select"))
        expand = request.arg("$expand") or ""
        if match["key"] is None:
            entities = [
                e
                for e in self.schema.entities.values()
                if _matches(e.header(), request.arg("$filter"))
            ]
            value = [self._entity(e, select, expand) for e in entities]
            return self._json(
                {"@odata.context": f"{self.root}$metadata#EntityDefinitions", "value": value}
            )
        entity = self._entity_by_key(match["key"])
        if match["part"] is None:
            return self._json(
                {
                    "@odata.context": f"{self.root}$metadata#EntityDefinitions/$entity",
                    **self._entity(entity, select, expand),
                }
            )
        if match["part"] == "Keys":
            return self._json(
                {
                    "@odata.context": f"{self.root}$metadata#EntityDefinitions('{entity.logical_name}')"
                    "/Keys",
                    "value": entity.key_metadata(),
                }
            )
        attributes = list(entity.attributes)
        cast = match["cast"]
        if cast is not None:
            if cast not in {t[2] for t in TYPES.values()} and cast != "LookupAttributeMetadata":
                raise DataverseError(
                    400, "0x80060888", f"The type 'Microsoft.Dynamics.CRM.{cast}' is not defined."
                ).http()
            attributes = [a for a in attributes if TYPES[a.type][2] == cast]
        if match["attr"] is not None:
            wanted = _key_value(match["attr"], "LogicalName")
            found = [
                a
                for a in attributes
                if a.logical_name == wanted
                or str(a.describe(entity.logical_name)["MetadataId"]) == wanted
            ]
            if not found:
                raise DataverseError(
                    404,
                    "0x80040217",
                    f"Could not find attribute {wanted} for entity {entity.logical_name}.",
                ).http()
            return self._json(
                {
                    "@odata.context": f"{self.root}$metadata#EntityDefinitions('{entity.logical_name}')"
                    "/Attributes/$entity",
                    **self._attribute(entity, found[0], select, expand),
                }
            )
        rows = [
            self._attribute(entity, a, select, expand)
            for a in attributes
            if _matches(a.describe(entity.logical_name), request.arg("$filter"))
        ]
        return self._json(
            {
                "@odata.context": f"{self.root}$metadata#EntityDefinitions('{entity.logical_name}')"
                "/Attributes",
                "value": rows,
            }
        )

    # --- helpers --------------------------------------------------------------------------------

    def _json(self, payload: dict[str, Any]) -> Response:
        return Response.json(200, payload, {**ODATA_HEADERS, "Content-Type": _JSON})

    def _entity_by_key(self, key: str) -> DvEntity:
        wanted = _key_value(key, "LogicalName")
        for entity in self.schema.entities.values():
            if wanted in (entity.logical_name, entity.header()["MetadataId"]):
                return entity
        raise DataverseError(
            404, "0x80040217", f"Could not find an entity with name or id '{wanted}'."
        ).http()

    def _entity(self, entity: DvEntity, select: list[str] | None, expand: str) -> dict[str, Any]:
        data = _pick(entity.header(), select)
        # ``$expand=Attributes($select=...),Keys,ManyToOneRelationships(...)``: each item.
        for item in _expand_items(expand):
            name = item.split("(", 1)[0].strip()
            inner = re.search(r"\$select=([^;)]*)", item)
            chosen = _select(inner.group(1) if inner else None)
            if name == "Attributes":
                data["Attributes"] = [
                    self._attribute(entity, a, chosen, "") for a in entity.attributes
                ]
            elif name == "Keys":
                data["Keys"] = [_pick(k, chosen) for k in entity.key_metadata()]
            elif name == "ManyToOneRelationships":
                data["ManyToOneRelationships"] = [
                    _pick(r, chosen) for r in entity.many_to_one_relationships()
                ]
            else:
                raise DataverseError(
                    400,
                    "0x80060888",
                    f"Could not find a property named '{name}' on type "
                    "'Microsoft.Dynamics.CRM.EntityMetadata'.",
                ).http()
        return data

    def _attribute(
        self, entity: DvEntity, attr: Any, select: list[str] | None, expand: str
    ) -> dict[str, Any]:
        data = _pick(attr.describe(entity.logical_name), select)
        if expand.startswith("OptionSet") and attr.options:
            data["OptionSet"] = attr.option_set(entity.logical_name)
        elif expand.startswith("OptionSet"):
            data["OptionSet"] = None
        return data


def _expand_items(text: str) -> list[str]:
    """Split ``$expand`` at top-level commas: ``Attributes($select=a,b),Keys``."""
    items, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current.strip():
        items.append(current.strip())
    return items


def _select(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _pick(data: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return data
    unknown = [s for s in select if s not in data]
    if unknown:
        raise DataverseError(
            400,
            "0x80060888",
            f"Could not find a property named '{unknown[0]}' on type "
            "'Microsoft.Dynamics.CRM.EntityMetadata'.",
        ).http()
    keep = {"@odata.type", "MetadataId", *select}
    return {k: v for k, v in data.items() if k in keep}


def _key_value(text: str, name: str) -> str:
    text = text.strip()
    if text.startswith(f"{name}="):
        text = text[len(name) + 1 :]
    return text.strip("'").replace("''", "'")


def _matches(data: dict[str, Any], text: str | None) -> bool:
    """Evaluate the small ``$filter`` metadata clients send: ``A eq 'x' [and|or B eq true ...]``."""
    if not text:
        return True
    results: list[bool] = []
    joins: list[str] = []
    for index, part in enumerate(re.split(r"\s+(and|or)\s+", text.strip(), flags=re.IGNORECASE)):
        if index % 2:
            joins.append(part.lower())
            continue
        match = _CONDITION.fullmatch(part.strip("() "))
        if match is None:
            raise DataverseError(
                400, "0x8006088a", f"Bad Request - Error in query syntax: '{text}'."
            ).http()
        path, literal = match.groups()
        value: Any = data
        for step in path.split("/"):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, dict) and "Value" in value:
            value = value["Value"]
        expected: Any = (
            literal[1:-1].replace("''", "'")
            if literal.startswith("'")
            else (
                literal.lower() == "true" if literal.lower() in ("true", "false") else int(literal)
            )
        )
        results.append(value == expected)
    outcome = results[0]
    for join, result in zip(joins, results[1:], strict=True):
        outcome = (outcome and result) if join == "and" else (outcome or result)
    return outcome


def _csdl(schema: DvSchema) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
        '<EntityType Name="crmbaseentity" Abstract="true"/>',
    ]
    for entity in schema.entities.values():
        lines.append(f'<EntityType Name="{entity.logical_name}" BaseType="mscrm.crmbaseentity">')
        lines.append(f'<Key><PropertyRef Name="{entity.primary_id}"/></Key>')
        for attr in entity.attributes:
            lines.append(
                f"<Property Name={quoteattr(attr.odata_name)} Type={quoteattr(attr.edm_type)}/>"
            )
        for attr in entity.attributes:
            for nav, target in attr.navigation.items():
                lines.append(f'<NavigationProperty Name="{nav}" Type="mscrm.{target}"/>')
        lines.append("</EntityType>")
    lines.append('<EntityContainer Name="System">')
    for entity in schema.entities.values():
        lines.append(
            f'<EntitySet Name="{entity.entity_set}" EntityType="Microsoft.Dynamics.CRM.{entity.logical_name}"/>'
        )
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines)
