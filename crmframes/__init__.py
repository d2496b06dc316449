"""crmframes: keep a campaign database in sync with Salesforce and Dynamics 365 from DataFrames.

The public surface is re-exported here; everything else is private to its module.
"""

from __future__ import annotations

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
from crmframes.sandbox import Clock, Sandbox
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

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AuthenticationError",
    "ClientCredentials",
    "Clock",
    "ColumnNotFoundError",
    "ConfigError",
    "ConnectorError",
    "CrmframesError",
    "DataError",
    "DeviceCode",
    "DynamicsSettings",
    "FilterError",
    "JwtBearer",
    "NotFoundError",
    "Password",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestRejectedError",
    "SalesforceSettings",
    "Sandbox",
    "SandboxError",
    "Secret",
    "StoreError",
    "UnavailableError",
    "__version__",
]
