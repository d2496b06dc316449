"""Salesforce as the registry knows it: its settings, accounts-file entry, flows, connector.

Edge (it names the connector). :mod:`crmframes.registry` imports this module the first time someone asks for
``"salesforce"``; the sandbox side is named by a string so that a client never imports the sandbox.
"""

from __future__ import annotations

from crmframes.connectors.salesforce.connector import SalesforceConnector
from crmframes.connectors.salesforce.settings import FLOWS, SalesforceAccount, SalesforceSettings
from crmframes.registry import CrmKind

__all__ = ["KIND"]


KIND = CrmKind(
    name="salesforce",
    label="Salesforce",
    settings=SalesforceSettings,
    account=SalesforceAccount,
    flows=FLOWS,
    connector=SalesforceConnector,
    sandbox="crmframes.sandbox.salesforce.support:SUPPORT",
    probe=("Contact", "LastName"),  # read once by crmframes check
    # a whole call refused for now: the org down (503), an API limit (403, reference §9)
    for_now_symbols=frozenset({"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}),
)
