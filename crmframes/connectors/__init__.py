"""CRM connectors: each knows one CRM's wire protocol, behind the one Connector protocol.

Edge. ``SalesforceConnector`` (simple-salesforce as the transport) and ``DynamicsConnector``
(msal + requests); both are built from settings (``from_env()``) or from a sandbox
(``sandbox.connector()``).
"""

from __future__ import annotations

from crmframes.connectors.base import Connector, Page, ReadRequest
from crmframes.connectors.dynamics import DynamicsConnector
from crmframes.connectors.http import RetryPolicy
from crmframes.connectors.salesforce import SalesforceConnector

__all__ = [
    "Connector",
    "DynamicsConnector",
    "Page",
    "ReadRequest",
    "RetryPolicy",
    "SalesforceConnector",
]
