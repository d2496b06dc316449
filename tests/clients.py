"""Clients for the sandbox in tests: sessions that trust its CA (never verify=False)."""

from __future__ import annotations

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
    return str(reply.json()["access_token"])


def salesforce_client(sandbox: Sandbox) -> Salesforce:
    session = trusted_session(sandbox)
    return Salesforce(
        instance_url=sandbox.url,
        session_id=access_token(sandbox, session),
        session=session,
        object_pairs_hook=dict,
    )
