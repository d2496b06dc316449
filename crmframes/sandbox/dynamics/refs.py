"""``/<set>(<key>)/<navigation>/$ref``: associate and disassociate through a lookup.

Microsoft documents ("Associate and disassociate table rows using the Web API", reference
§5) ``PUT /contacts(<id>)/parentcustomerid_account/$ref`` with ``{"@odata.id":
"accounts(<id>)"}`` (absolute or relative) to set a single-valued navigation property and
``DELETE`` on the same URL to clear it: the same write as ``PATCH`` with
``parentcustomerid_account@odata.bind``, so it goes through the same write engine (validations,
org automation, audits, faults). Collection-valued navigation properties (``POST
/accounts(<id>)/contact_customer_accounts/$ref``) are refused as not supported by the sandbox.
"""

from __future__ import annotations

import re
from typing import Any

from crmframes.sandbox.dynamics.records import Writer, parse_key
from crmframes.sandbox.dynamics.schema import DvEntity, DvSchema
from crmframes.sandbox.dynamics.values import ODATA_HEADERS, DataverseError
from crmframes.sandbox.server import Request, Response

_REF = re.compile(r"(?P<set>[A-Za-z_]\w*)\((?P<key>.*)\)/(?P<nav>[A-Za-z_]\w*)/\$ref")
NOT_FOUND_SEGMENT = "0x8006088a"


def associate(request: Request, rest: str, schema: DvSchema, writer: Writer) -> Response:
    """Answer ``PUT`` / ``DELETE`` on ``<set>(<key>)/<nav>/$ref``."""
    match = _REF.fullmatch(rest)
    entity = schema.by_set(match["set"]) if match else None
    if match is None or entity is None:
        segment = rest.split("(")[0].split("/")[0]
        raise DataverseError(
            404, NOT_FOUND_SEGMENT, f"Resource not found for the segment '{segment}'."
        ).http()
    nav = match["nav"]
    if entity.navigation(nav) is None:
        if _is_collection_valued(schema, entity, nav):
            raise DataverseError(
                400,
                "0x80060888",
                f"Associating through the collection-valued navigation property '{nav}' is not "
                "supported by the crmframes sandbox: PUT the single-valued $ref (or "
                "<lookup>@odata.bind) on the related row instead.",
            ).http()
        raise DataverseError(
            400,
            "0x80060888",
            f"Could not find a property named '{nav}' on type "
            f"'Microsoft.Dynamics.CRM.{entity.logical_name}'.",
        ).http()
    if request.method == "PUT":
        value = _target(request)
    elif request.method == "DELETE":
        value = None
    else:
        raise DataverseError(
            405, "0x80060888", f"The HTTP verb '{request.method}' is not allowed on this resource."
        ).http()
    if not entity.writable:
        raise DataverseError(
            405,
            "0x80040800",
            f"The '{entity.logical_name}' entity cannot be written through the Web API.",
        ).http()
    try:
        key = parse_key(entity, match["key"])
        with writer.org.db.lock:
            existing = writer.find(entity, key)
            if existing is None:
                raise writer.not_found(entity, key)
            changes = writer.read_body(entity, {f"{nav}@odata.bind": value})
            writer.update(entity, existing, changes, origin=(request.method, request.target))
    except DataverseError as exc:
        raise exc.http() from exc
    return Response.empty(204, ODATA_HEADERS)


def _target(request: Request) -> Any:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("@odata.id"), str):
        raise DataverseError(
            400, "0x80048d19", 'A $ref body must be {"@odata.id": "<set>(<id>)"}.'
        ).http()
    return body["@odata.id"]


def _is_collection_valued(schema: DvSchema, entity: DvEntity, nav: str) -> bool:
    return any(
        rel["ReferencedEntityNavigationPropertyName"] == nav
        and rel["ReferencedEntity"] == entity.logical_name
        for other in schema.entities.values()
        for rel in other.many_to_one_relationships()
    )
