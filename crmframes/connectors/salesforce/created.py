"""Read when and by whom Salesforce records were created (``CreatedDate``, ``CreatedById``).

Edge: SOQL over REST, through the connector's :meth:`read`. The protocol's
:meth:`~crmframes.connectors.base.Connector.read_created` settles an insert that named its
own id and found it taken; a Salesforce create never names an ``Id`` (Salesforce refuses
one, reference/salesforce-api.md), so no export asks: this answers any other caller truly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crmframes.connectors.base import CreatedRecord, ReadRequest
from crmframes.connectors.salesforce.wire import parse_datetime
from crmframes.filters import F

if TYPE_CHECKING:
    from crmframes.connectors.salesforce.connector import SalesforceConnector

__all__ = ["read_created"]


def read_created(
    conn: SalesforceConnector, object_name: str, ids: Sequence[str]
) -> list[CreatedRecord]:
    """When and by whom the records ``ids`` of an object were created (those that exist).

    ``SELECT Id, CreatedDate, CreatedById ... WHERE Id IN (...)``, ``id_chunk_size`` ids
    per query; malformed ids name no record.

    Raises:
        ConnectorError: a call failed.
    """
    schema = conn.describe(object_name)
    wanted = sorted({found for value in ids if (found := conn.normalize_id(value)) is not None})
    if not wanted:
        return []
    user = conn.writer._current_user()
    created = schema.created_field or "CreatedDate"
    records = []
    for start in range(0, len(wanted), conn.id_chunk_size):
        chunk = wanted[start : start + conn.id_chunk_size]
        request = ReadRequest(
            object=schema.name,
            fields=(schema.id_field, created, "CreatedById"),
            where=F(schema.id_field).isin(chunk),
            mode="rest",
        )
        for page in conn.read(request):
            for row in page.table.to_pylist():
                by = conn.normalize_id(row.get("CreatedById"))
                records.append(
                    CreatedRecord(
                        id=str(conn.normalize_id(row[schema.id_field]) or row[schema.id_field]),
                        created_at=parse_datetime(str(row[created])),
                        created_by=by,
                        by_caller=by is not None and by == conn.normalize_id(user),
                    )
                )
    return records
