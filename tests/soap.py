"""A Salesforce SOAP API client for tests: undelete() against the sandbox, over trusted HTTPS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import requests

from crmframes import Sandbox
from tests.clients import access_token, trusted_session

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"


def soap_endpoint(sandbox: Sandbox, session: requests.Session, token: str) -> str:
    """The partner API's server URL for this org (``/services/Soap/u/{ver}/{org id}``)."""
    info = session.get(
        f"{sandbox.url}/services/oauth2/userinfo",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    info.raise_for_status()
    return f"{sandbox.url}/services/Soap/u/62.0/{info.json()['organization_id'][:15]}"


def undelete_envelope(token: str, ids: list[str], *, header: str = "") -> str:
    """The SOAP request body of undelete(ids), as the partner WSDL defines it."""
    items = "".join(f"<urn:ids>{i}</urn:ids>" for i in ids)
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:urn="{PARTNER}">'
        f"<soapenv:Header><urn:SessionHeader><urn:sessionId>{token}</urn:sessionId>"
        f"</urn:SessionHeader>{header}</soapenv:Header>"
        f"<soapenv:Body><urn:undelete>{items}</urn:undelete></soapenv:Body></soapenv:Envelope>"
    )


def soap_post(sandbox: Sandbox, body_for_token: Any, *, token: str | None = None) -> ET.Element:
    """Post one SOAP call (its body built from the session id) and return the parsed reply."""
    session = trusted_session(sandbox)
    token = token or access_token(sandbox, session)
    given = token if token != "expired" else "00Dexpired!AQ"
    reply = session.post(
        soap_endpoint(sandbox, session, access_token(sandbox, session)),
        data=body_for_token(given).encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'},
        timeout=30,
    )
    return ET.fromstring(reply.content)


def undelete(sandbox: Sandbox, ids: list[str]) -> list[dict[str, Any]]:
    """Call undelete(ids); return each UndeleteResult as a dict (id, success, errors)."""
    root = soap_post(sandbox, lambda token: undelete_envelope(token, ids))
    results = []
    for result in root.iter(f"{{{PARTNER}}}result"):
        errors = [
            {
                "statusCode": e.findtext(f"{{{PARTNER}}}statusCode"),
                "message": e.findtext(f"{{{PARTNER}}}message"),
            }
            for e in result.findall(f"{{{PARTNER}}}errors")
        ]
        results.append(
            {
                "id": result.findtext(f"{{{PARTNER}}}id") or None,
                "success": result.findtext(f"{{{PARTNER}}}success") == "true",
                "errors": errors,
            }
        )
    return results


def fault_code(root: ET.Element) -> str | None:
    """The ``faultcode`` of a SOAP fault reply, or None."""
    return root.findtext(f".//{{{SOAP_ENV}}}Fault/faultcode")
