"""Dynamics 365 / Dataverse as the registry knows it: settings, accounts-file entry, flows, connector.

Edge (it names the connector). :mod:`crmframes.registry` imports this module the first time someone asks for
``"dynamics"``; the sandbox side is named by a string so that a client never imports the sandbox.
"""

from __future__ import annotations

from crmframes.connectors.dynamics.connector import DynamicsConnector
from crmframes.connectors.dynamics.settings import FLOWS, DynamicsAccount, DynamicsSettings
from crmframes.connectors.dynamics.wire import error_symbol
from crmframes.registry import CrmKind

__all__ = ["KIND"]

# Service protection (reference/dataverse-api.md "Service protection": requests, execution
# time, concurrency; and 0x8005f103, which wire.py names Throttling [unverified: not in
# Microsoft's service protection table]). A whole call refused so carries
# the code as its reject's errorSymbol (and HTTP 429); "a batch part can itself be 429", and
# then the reject's errorSymbol is the code's name and its errorCode the code. SQL lock
# contention (0x80044150 / 0x80044151, wire.py) is retried within the export's own rounds,
# as a locked row is on any CRM, and is not "for now".
_THROTTLING = ("0x80072322", "0x80072321", "0x80072326", "0x8005f103")


KIND = CrmKind(
    name="dynamics",
    label="Dynamics 365",
    settings=DynamicsSettings,
    account=DynamicsAccount,
    flows=FLOWS,
    connector=DynamicsConnector,
    sandbox="crmframes.sandbox.dynamics.support:SUPPORT",
    probe=("contact", "lastname"),  # read once by crmframes check
    for_now_symbols=frozenset({*_THROTTLING, *(error_symbol(code, 429) for code in _THROTTLING)}),
)
