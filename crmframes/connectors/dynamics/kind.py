"""Dynamics 365 / Dataverse as the registry knows it: settings, accounts-file entry, flows, connector.

Edge (it names the connector). :mod:`crmframes.registry` imports this module the first time someone asks for
``"dynamics"``; the sandbox side is named by a string so that a client never imports the sandbox.
"""

from __future__ import annotations

from crmframes.connectors.dynamics.connector import DynamicsConnector
from crmframes.connectors.dynamics.settings import FLOWS, DynamicsAccount, DynamicsSettings
from crmframes.registry import CrmKind

__all__ = ["KIND"]


KIND = CrmKind(
    name="dynamics",
    label="Dynamics 365",
    settings=DynamicsSettings,
    account=DynamicsAccount,
    flows=FLOWS,
    connector=DynamicsConnector,
    sandbox="crmframes.sandbox.dynamics.support:SUPPORT",
    probe=("contact", "lastname"),  # read once by crmframes check
)
