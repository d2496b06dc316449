"""Dynamics 365 / Dataverse, client side: its settings and auth flows, the connector, OData.

Edge. ``settings`` (pure) holds :class:`DynamicsSettings`, its flows and its accounts-file
entry; ``connector`` (msal + requests) holds a ``writer`` part (``$batch`` writes, lost
inserts, deletions from the audit log); ``odata_compiler`` turns filters into ``$filter``;
``kind`` describes all of it to :mod:`crmframes.registry`.
"""

from __future__ import annotations

from crmframes.connectors.dynamics.connector import DynamicsConnector
from crmframes.connectors.dynamics.settings import DynamicsAuth, DynamicsSettings

__all__ = ["DynamicsAuth", "DynamicsConnector", "DynamicsSettings"]
