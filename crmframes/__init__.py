"""crmframes: keep a campaign database in sync with Salesforce and Dynamics 365 from DataFrames.

The public surface is re-exported here; everything else is private to its module.
"""

from __future__ import annotations

from crmframes.accounts import connect, open_store
from crmframes.connectors import DynamicsConnector, RetryPolicy, SalesforceConnector
from crmframes.connectors.dynamics import DynamicsSettings
from crmframes.connectors.salesforce import SalesforceSettings
from crmframes.dedupe import DedupeResult, deduplicate, find_duplicates
from crmframes.errors import (
    ArgumentTypeError,
    AuthenticationError,
    BatchTooLargeError,
    ColumnNotFoundError,
    ConfigError,
    ConnectorError,
    CrmframesError,
    DataError,
    FilterError,
    JournalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    SandboxError,
    StoreError,
    UnavailableError,
    WriteRejectedError,
)
from crmframes.filters import F, evaluate, validate
from crmframes.operations import (
    AutoIndex,
    DeletedResult,
    ExportResult,
    ExportStats,
    ImportResult,
    ImportStats,
    delete_in_crm,
    export_to_crm,
    import_deleted_from_crm,
    import_from_crm,
)
from crmframes.reconcile import ReconcileResult, reconcile
from crmframes.runner import JobReport, run_job
from crmframes.sandbox import Clock, Sandbox
from crmframes.schema import Field, ObjectSchema
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    DeviceCode,
    JwtBearer,
    Password,
    Secret,
)
from crmframes.specs import (
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    Job,
    MergeSpec,
    ReconcileSpec,
)
from crmframes.store import CampaignStore, MergeResult

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "ArgumentTypeError",
    "AuthenticationError",
    "AutoIndex",
    "BatchTooLargeError",
    "CampaignStore",
    "ClientCredentials",
    "Clock",
    "ColumnNotFoundError",
    "ConfigError",
    "ConnectorError",
    "CrmframesError",
    "DataError",
    "DedupeResult",
    "DedupeSpec",
    "DeleteSpec",
    "DeletedResult",
    "DeletedSpec",
    "DeviceCode",
    "DynamicsConnector",
    "DynamicsSettings",
    "ExportResult",
    "ExportSpec",
    "ExportStats",
    "F",
    "Field",
    "FilterError",
    "ImportResult",
    "ImportSpec",
    "ImportStats",
    "Job",
    "JobReport",
    "JournalError",
    "JwtBearer",
    "MergeResult",
    "MergeSpec",
    "NotFoundError",
    "ObjectSchema",
    "Password",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReconcileResult",
    "ReconcileSpec",
    "RequestRejectedError",
    "RetryPolicy",
    "SalesforceConnector",
    "SalesforceSettings",
    "Sandbox",
    "SandboxError",
    "Secret",
    "StoreError",
    "UnavailableError",
    "WriteRejectedError",
    "__version__",
    "connect",
    "deduplicate",
    "delete_in_crm",
    "evaluate",
    "export_to_crm",
    "find_duplicates",
    "import_deleted_from_crm",
    "import_from_crm",
    "open_store",
    "reconcile",
    "run_job",
    "validate",
]
