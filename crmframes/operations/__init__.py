"""The seed's operations, written once over the Connector protocol.

Orchestration: import from the CRM (with the automatic index); export, delete and deleted
imports arrive with the export issue.
"""

from __future__ import annotations

from crmframes.operations.autoindex import AutoIndex
from crmframes.operations.importing import ImportResult, ImportStats, import_from_crm

__all__ = ["AutoIndex", "ImportResult", "ImportStats", "import_from_crm"]
