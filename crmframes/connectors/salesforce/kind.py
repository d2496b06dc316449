"""Salesforce as the registry knows it: its settings, accounts-file entry, flows, connector.

Edge (it names the connector; :func:`read_limits` is what ``crmframes check`` asks of
it). :mod:`crmframes.registry` imports this module the first time someone asks for
``"salesforce"``; the sandbox side is named by a string so that a client never imports the sandbox.
"""

from __future__ import annotations

import orjson

from crmframes.connectors.salesforce.connector import SalesforceConnector
from crmframes.connectors.salesforce.settings import FLOWS, SalesforceAccount, SalesforceSettings
from crmframes.registry import CrmKind

__all__ = ["KIND", "read_limits"]


def read_limits(conn: SalesforceConnector) -> tuple[bool, str]:
    """The daily API requests left, for ``crmframes check`` (``GET limits/``).

    Reference: salesforce-api.md, limits. Salesforce serves it only to users with "View
    Setup and Configuration" (a ``PermissionDeniedError`` otherwise).
    """
    reply = conn.http.send("GET", conn.sf.base_url + "limits/", operation="read limits")
    daily = orjson.loads(reply.content).get("DailyApiRequests") or {}
    left, cap = int(daily.get("Remaining", 0)), int(daily.get("Max", 0))
    if cap and left == 0:
        return (
            False,
            f"0 of {cap:,} daily API requests left: calls fail until the rolling "
            "24-hour window frees some; ask the org's admin or wait",
        )
    return True, f"{left:,} of {cap:,} daily API requests left"


KIND = CrmKind(
    name="salesforce",
    label="Salesforce",
    settings=SalesforceSettings,
    account=SalesforceAccount,
    flows=FLOWS,
    connector=SalesforceConnector,
    sandbox="crmframes.sandbox.salesforce.support:SUPPORT",
    probe=("Contact", "LastName"),  # read once by crmframes check
    limits=read_limits,
)
