"""Salesforce, client side: its settings and auth flows, the connector and the SOQL compiler.

Edge. ``settings`` (pure) holds :class:`SalesforceSettings`, its flows and its accounts-file
entry; ``connector`` (simple-salesforce as the transport) holds a ``writer`` part (sObject
Collections, Bulk API 2.0 ingest, getDeleted); ``soql_compiler`` turns filters into SOQL;
``kind`` describes all of it to :mod:`crmframes.registry`.
"""

from __future__ import annotations

from crmframes.connectors.salesforce.connector import SalesforceConnector
from crmframes.connectors.salesforce.settings import SalesforceAuth, SalesforceSettings

__all__ = ["SalesforceAuth", "SalesforceConnector", "SalesforceSettings"]
