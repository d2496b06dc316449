"""The SOAP API calls of the Salesforce sandbox made with a session: ``undelete()``.

Edge helper of the Salesforce sandbox. ``login()`` (no session) lives in
:mod:`~crmframes.sandbox.salesforce.auth`; this module answers the partner API calls posted
to the ``serverUrl`` that login returns, ``/services/Soap/u/{version}/{org id}``, with the
session id in the ``SessionHeader``. Only ``undelete()`` is emulated (restore records from
the recycle bin, SOAP API Developer Guide "undelete()" and "UndeleteResult"); any other
call is refused with a fault that says so, never answered as something else.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from crmframes.sandbox.salesforce.auth import Sessions
from crmframes.sandbox.salesforce.records import WriteOutcome, Writer
from crmframes.sandbox.server import Request, Response

__all__ = ["MAX_IDS", "limit_fault", "soap_call"]

MAX_IDS = 200  # the partner API's limit per create / delete / undelete call
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def soap_call(request: Request, sessions: Sessions, writer: Writer) -> Response:
    """``POST /services/Soap/u/{version}/{org id}``: one partner API call with a session.

    Faults: ``INVALID_SESSION_ID`` (no or an expired session), ``EXCEEDED_ID_LIMIT`` (more
    than 200 ids), ``UNSUPPORTED_API_CALL`` (a call the sandbox does not emulate, or the
    ``AllOrNoneHeader``), ``INVALID_XML`` (a body that is not an envelope).
    """
    try:
        root = ET.fromstring(request.body)
    except ET.ParseError:
        return _fault("soapenv:Client", "INVALID_XML", "the request body is not XML")
    token = _text(root, "sessionId")
    if not sessions.check(token):
        return _fault(
            "sf:INVALID_SESSION_ID",
            "INVALID_SESSION_ID",
            "Invalid Session ID found in SessionHeader: Illegal Session",
        )
    body = next((e for e in root if _local(e.tag) == "Body"), None)
    call = None if body is None or not len(body) else body[0]
    name = "" if call is None else _local(call.tag)
    if name != "undelete" or call is None:
        return _unsupported(f"the sandbox does not emulate the SOAP call {name or '(none)'!r}")
    if (_text(root, "allOrNone") or "").lower() == "true":
        return _unsupported("the sandbox's undelete() does not support the AllOrNoneHeader")
    ids = [(e.text or "").strip() for e in call if _local(e.tag) == "ids"]
    if len(ids) > MAX_IDS:
        return _fault(
            "sf:EXCEEDED_ID_LIMIT",
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_IDS} records into this call",
        )
    origin = ("POST", request.path)
    results = "".join(_result(writer.undelete(i, origin=origin)) for i in ids)
    return _envelope(f"<undeleteResponse>{results}</undeleteResponse>")


def limit_fault() -> Response:
    """The fault of any call once the org's daily API allocation is used up."""
    return _fault(
        "sf:REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
    )


def _result(outcome: WriteOutcome) -> str:
    """One ``UndeleteResult``: errors, id, success (the partner WSDL's element order)."""
    errors = "".join(
        "<errors>"
        + "".join(f"<fields>{html.escape(f)}</fields>" for f in error.fields)
        + f"<message>{html.escape(error.message)}</message>"
        + f"<statusCode>{error.status_code}</statusCode></errors>"
        for error in outcome.errors
    )
    ident = f"<id>{outcome.id}</id>" if outcome.id else '<id xsi:nil="true"/>'
    return f"<result>{errors}{ident}<success>{str(outcome.success).lower()}</success></result>"


def _envelope(content: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns="urn:partner.soap.sforce.com" '
        f'xmlns:xsi="{_XSI}"><soapenv:Body>{content}</soapenv:Body></soapenv:Envelope>'
    )
    return Response.raw(200, body.encode(), "text/xml;charset=UTF-8")


def _fault(faultcode: str, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        f'xmlns:xsi="{_XSI}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{faultcode}</faultcode>"
        f"<faultstring>{code}: {html.escape(message)}</faultstring>"
        f'<detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage>"
        "</sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.raw(500, body.encode(), "text/xml;charset=UTF-8")


def _unsupported(message: str) -> Response:
    return _fault("sf:UNSUPPORTED_API_CALL", "UNSUPPORTED_API_CALL", message)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(root: ET.Element, name: str) -> str | None:
    found = next((e for e in root.iter() if _local(e.tag) == name), None)
    return None if found is None else (found.text or "").strip()
