"""Read when and by whom Dataverse records were created (``createdon``, ``_createdby_value``).

Edge: Dataverse Web API over requests, through the connector's ``_send``. An insert that
names its own primary id and is sent again after its answer was lost answers
``0x80040237`` (:attr:`~crmframes.connectors.base.WriteOutcome.exists`) whether the lost send
made the record or someone made it before; the export tells the two apart by the record's
own stamps (:meth:`crmframes.operations.delivery.Delivery.settle_taken`), which this reads:
``GET <set>?$select=<pk>,createdon,_createdby_value&$filter=Microsoft.Dynamics.CRM.In(...)``,
400 GUIDs per query, and the caller from ``WhoAmI`` (cached by the connector). ``createdon``
is UTC to the whole second (reference/dataverse-api.md §3: "no fractional seconds").
A record created with ``overriddencreatedon`` (a migration back-dating it) has ``createdon``
set to that value, so its stamp is reported as None: unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import orjson

from crmframes.connectors.base import CreatedRecord
from crmframes.connectors.dynamics.odata_compiler import build_query
from crmframes.connectors.dynamics.wire import guid, parse_time
from crmframes.errors import ConfigError
from crmframes.filters import F

if TYPE_CHECKING:
    from crmframes.connectors.dynamics.connector import DynamicsConnector

__all__ = ["read_created"]

_CREATED_BY = "_createdby_value"
_OVERRIDDEN = "overriddencreatedon"  # set by the writer: createdon then holds its value
_UNTOLD = "its creation date was set by the writer (overriddencreatedon)"
_IN_CHUNK = 400  # GUIDs per In() query: ~16 KB of URL, as the writer's taken-id reads
_PAGE = 5000
_SAFE = "$,'()=@/:"  # OData punctuation left readable in the query string


def read_created(
    conn: DynamicsConnector, object_name: str, ids: Sequence[str]
) -> list[CreatedRecord]:
    """When and by whom the records ``ids`` of a table were created (those that exist).

    One ``GET`` per 400 ids (paged by ``@odata.nextLink``), plus one ``WhoAmI`` the first
    time the connector needs the caller. A value that is not a GUID names no record.

    Raises:
        ConfigError: the table has no ``createdon`` column.
        ConnectorError: a call failed.
    """
    schema = conn.describe(object_name)
    if schema.created_field is None or _CREATED_BY not in schema.fields:
        raise ConfigError(
            f"{schema.name} has no createdon / createdby columns to tell who created a record"
        )
    wanted = sorted({found for value in ids if (found := guid(value)) is not None})
    if not wanted:
        return []
    user = conn._user_id or conn._who_am_i()
    columns = [schema.id_field, schema.created_field, _CREATED_BY]
    if _OVERRIDDEN in schema.fields:
        columns.append(_OVERRIDDEN)
    entity_set = schema.entity_set or schema.name
    records = []
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        options = build_query(schema, columns, where=F(schema.id_field).isin(chunk))
        link: str | None = f"{entity_set}?{urlencode(options, quote_via=quote, safe=_SAFE)}"
        while link:
            body = orjson.loads(
                conn._send(
                    "GET",
                    link,
                    operation=f"read who created {schema.name} records",
                    headers={"Prefer": f"odata.maxpagesize={_PAGE}"},
                ).content
            )
            for row in body.get("value", []):
                by = guid(row.get(_CREATED_BY))
                overridden = bool(row.get(_OVERRIDDEN))
                records.append(
                    CreatedRecord(
                        id=str(row[schema.id_field]).lower(),
                        created_at=None
                        if overridden
                        else parse_time(str(row[schema.created_field])),
                        created_by=by,
                        by_caller=by is not None and by == user,
                        untold=_UNTOLD if overridden else None,
                    )
                )
            link = body.get("@odata.nextLink")
    return records
