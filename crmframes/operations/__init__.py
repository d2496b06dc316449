"""The seed's operations, written once over the Connector protocol.

Orchestration: import from the CRM (with the automatic index), export to the CRM and delete
in the CRM (batched, journaled, with rejects), and import the records deleted in the CRM.
"""

from __future__ import annotations

from crmframes.operations.autoindex import AutoIndex
from crmframes.operations.deleted import DeletedResult, import_deleted_from_crm
from crmframes.operations.deleting import delete_in_crm
from crmframes.operations.exporting import (
    BULK_EXPORT_THRESHOLD,
    ExportResult,
    ExportStats,
    export_to_crm,
)
from crmframes.operations.importing import ImportResult, ImportStats, import_from_crm

__all__ = [
    "BULK_EXPORT_THRESHOLD",
    "AutoIndex",
    "DeletedResult",
    "ExportResult",
    "ExportStats",
    "ImportResult",
    "ImportStats",
    "delete_in_crm",
    "export_to_crm",
    "import_deleted_from_crm",
    "import_from_crm",
]
