"""Dynamics 365 / Dataverse, client side: its settings and auth flows, the connector, OData.

Edge. ``connector`` (msal + requests) holds a ``writer`` part (``$batch`` writes, lost
inserts, deletions from the audit log); ``odata_compiler`` turns filters into ``$filter``.
"""

from __future__ import annotations

from crmframes.connectors.dynamics.connector import DynamicsConnector

__all__ = ["DynamicsConnector"]
