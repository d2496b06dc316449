"""CRM connectors: each knows one CRM's wire protocol, behind the one Connector protocol.

Edge. One package per CRM: ``salesforce/`` (``SalesforceConnector``, simple-salesforce as
the transport) and ``dynamics/`` (``DynamicsConnector``, msal + requests), each with its
settings, auth flows and query compiler; both are built from settings (``from_env()``) or
from a sandbox (``sandbox.connector()``). Everything else finds a CRM by name through
:mod:`crmframes.registry`; the two built-in connectors are re-exported here only because
they are public names.
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
