"""crmframes: keep a campaign database in sync with Salesforce and Dynamics 365 from DataFrames.

The public surface is re-exported here; everything else is private to its module.
"""

from __future__ import annotations

from crmframes.connectors import DynamicsConnector, RetryPolicy, SalesforceConnector
from crmframes.errors import (
    AuthenticationError,
    ColumnNotFoundError,
    ConfigError,
    ConnectorError,
    CrmframesError,
    DataError,
    FilterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    SandboxError,
    StoreError,
    UnavailableError,
)
from crmframes.filters import F, evaluate, validate
from crmframes.operations import AutoIndex, ImportResult, ImportStats, import_from_crm
from crmframes.sandbox import Clock, Sandbox
from crmframes.schema import Field, ObjectSchema
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    DeviceCode,
    DynamicsSettings,
    JwtBearer,
    Password,
    SalesforceSettings,
    Secret,
)
from crmframes.store import CampaignStore, MergeResult

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AuthenticationError",
    "AutoIndex",
    "CampaignStore",
    "ClientCredentials",
    "Clock",
    "ColumnNotFoundError",
    "ConfigError",
    "ConnectorError",
    "CrmframesError",
    "DataError",
    "DeviceCode",
    "DynamicsConnector",
    "DynamicsSettings",
    "F",
    "Field",
    "FilterError",
    "ImportResult",
    "ImportStats",
    "JwtBearer",
    "MergeResult",
    "NotFoundError",
    "ObjectSchema",
    "Password",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "SalesforceConnector",
    "SalesforceSettings",
    "Sandbox",
    "SandboxError",
    "Secret",
    "StoreError",
    "UnavailableError",
    "__version__",
    "evaluate",
    "import_from_crm",
    "validate",
]
