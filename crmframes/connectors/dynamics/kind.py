"""Dynamics 365 / Dataverse as the registry knows it: settings, accounts-file entry, flows, connector.

Edge (it names the connector; :func:`read_limits` is what ``crmframes check`` asks of
it). :mod:`crmframes.registry` imports this module the first time someone asks for
``"dynamics"``; the sandbox side is named by a string so that a client never imports the sandbox.
"""

from __future__ import annotations

from crmframes.connectors.dynamics.connector import DynamicsConnector
from crmframes.connectors.dynamics.settings import FLOWS, DynamicsAccount, DynamicsSettings
from crmframes.registry import CrmKind

__all__ = ["KIND", "read_limits"]


# Dataverse answers every Web API call with its service protection counters (informational,
# reference/dataverse-api.md "Service protection"); it has no resource listing limits.
_PROTECTION_HEADERS = (
    "x-ms-ratelimit-burst-remaining-xrm-requests",
    "x-ms-ratelimit-time-remaining-xrm-requests",
)


def read_limits(conn: DynamicsConnector) -> tuple[bool, str]:
    """The service protection counters, for ``crmframes check`` (one ``WhoAmI`` call)."""
    reply = conn.http.send("GET", conn.api_root + "WhoAmI", operation="call WhoAmI")
    found = {name: reply.headers[name] for name in _PROTECTION_HEADERS if name in reply.headers}
    if found:
        shown = ", ".join(
            f"{name.removeprefix('x-ms-ratelimit-')}={value}" for name, value in found.items()
        )
        return True, f"service protection headers: {shown}"
    return (
        True,
        "Dataverse lists no limits; this environment sent no service protection headers "
        "(defaults: 6,000 requests and 20 minutes of execution per user per 5 minutes)",
    )


KIND = CrmKind(
    name="dynamics",
    label="Dynamics 365",
    settings=DynamicsSettings,
    account=DynamicsAccount,
    flows=FLOWS,
    connector=DynamicsConnector,
    sandbox="crmframes.sandbox.dynamics.support:SUPPORT",
    probe=("contact", "lastname"),  # read once by crmframes check
    limits=read_limits,
)
