"""Salesforce, client side: its settings and auth flows, the connector and the SOQL compiler.

Edge. ``connector`` (simple-salesforce as the transport) holds a ``writer`` part (sObject
Collections, Bulk API 2.0 ingest, getDeleted); ``soql_compiler`` turns filters into SOQL.
"""

from __future__ import annotations

from crmframes.connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector"]
