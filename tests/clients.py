"""Clients for the sandbox in tests: sessions that trust its CA (never verify=False)."""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce import Salesforce

from crmframes import Sandbox


def trusted_session(sandbox: Sandbox) -> requests.Session:
    """A requests session that trusts only the sandbox CA.

    trust_env=False: this machine sets REQUESTS_CA_BUNDLE, which would override `verify`.
    """
    session = requests.Session()
    session.verify = sandbox.ca_file
    session.trust_env = False
    return session


def access_token(sandbox: Sandbox, session: requests.Session) -> str:
    return str(token_reply(sandbox, session)["access_token"])


def token_reply(sandbox: Sandbox, session: requests.Session) -> dict[str, Any]:
    """The token endpoint's answer to a client-credentials request (token, identity URL...)."""
    creds = sandbox.credentials
    reply = session.post(
        f"{sandbox.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        timeout=30,
    )
    reply.raise_for_status()
    return dict(reply.json())


def salesforce_client(sandbox: Sandbox) -> Salesforce:
    session = trusted_session(sandbox)
    return Salesforce(
        instance_url=sandbox.url,
        session_id=access_token(sandbox, session),
        session=session,
        object_pairs_hook=dict,
    )


def dynamics_app(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    """An msal confidential client for the sandbox tenant (no instance discovery, trusted CA)."""
    import msal

    creds = sandbox.credentials
    return msal.ConfidentialClientApplication(
        creds["client_id"],
        client_credential=creds["client_secret"],
        authority=f"{sandbox.url}/{creds['tenant_id']}",
        instance_discovery=False,
        http_client=trusted_session(sandbox),
    )


def dynamics_token(sandbox: Sandbox) -> str:
    result = dynamics_app(sandbox).acquire_token_for_client(scopes=[f"{sandbox.url}/.default"])
    return str(result["access_token"])


def dynamics_session(sandbox: Sandbox) -> requests.Session:
    """A session with the Web API's usual headers and a bearer token."""
    session = trusted_session(sandbox)
    session.headers.update(
        {
            "Authorization": f"Bearer {dynamics_token(sandbox)}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
    )
    return session


class MsalCredential:
    """An azure-core TokenCredential over an msal confidential client (what a user would write)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.app = dynamics_app(sandbox)

    def get_token(self, *scopes: str, **kwargs: object):  # type: ignore[no-untyped-def]
        import time

        from azure.core.credentials import AccessToken

        result = self.app.acquire_token_for_client(scopes=list(scopes))
        return AccessToken(result["access_token"], int(time.time()) + int(result["expires_in"]))
