"""Salesforce sandbox authentication: OAuth 2.0 token and userinfo endpoints, SOAP login, sessions.

Edge helper of the Salesforce sandbox. Flows (reference/salesforce-api.md §1): client
credentials (form fields or HTTP Basic, as simple-salesforce sends them), username-password
(password plus optional security token), refresh token, JWT bearer (RS256, verified with
PyJWT against the sandbox's generated key), and the SOAP ``login()`` call simple-salesforce
uses for username + password + token. Sessions expire after ``session_seconds`` of
inactivity on the sandbox clock; an expired or unknown token gets
``401 INVALID_SESSION_ID``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crmframes.sandbox.salesforce.org import INTEGRATION_USERNAME, SalesforceOrg
from crmframes.sandbox.server import Request, Response

__all__ = ["Credentials", "Sessions", "identity", "oauth_token", "revoke", "soap_login", "userinfo"]

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass(frozen=True)
class Credentials:
    """The secrets a sandbox accepts (all generated per sandbox)."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    refresh_token: str
    private_key: str
    public_key: str

    @classmethod
    def generate(cls) -> Credentials:
        """Make a fresh set: random secrets and a 2048-bit RSA key pair for JWT bearer."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(
            client_id="3MVG9sandbox"
            + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y"),
            client_secret=secrets.token_hex(32),
            username=INTEGRATION_USERNAME,
            password="Sandbox-" + secrets.token_urlsafe(12),
            security_token=secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")[:24],
            refresh_token="5Aep861sandbox" + secrets.token_urlsafe(40),
            private_key=private,
            public_key=public,
        )

    def as_dict(self) -> dict[str, str]:
        """The credentials as the sandbox hands them out."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
            "refresh_token": self.refresh_token,
            "private_key": self.private_key,
        }


@dataclass
class _Session:
    user_id: str
    last_used: float


class Sessions:
    """Issued access tokens and their inactivity expiry (thread-safe).

    Expired sessions are purged whenever the store has doubled since the last purge (at
    least :data:`PURGE_AT` sessions), so a client asking for a token per request holds the
    store near twice the live sessions, at an amortised constant cost per token.
    """

    PURGE_AT = 1024

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._purge_at = self.PURGE_AT
        self.refresh_revoked = False  # set by oauth2/revoke of the refresh token

    def __len__(self) -> int:
        """The number of sessions held (live ones, and expired ones not yet purged)."""
        with self._lock:
            return len(self._sessions)

    def issue(self) -> str:
        """Issue a new access token for the integration user."""
        token = f"{self.org.org_id[:15]}!AQ{secrets.token_urlsafe(72)}"
        now = self.org.clock.timestamp()
        with self._lock:
            if len(self._sessions) >= self._purge_at:
                self._purge(now)
            self._sessions[token] = _Session(self.org.integration_user_id, now)
        return token

    def _purge(self, now: float) -> None:
        horizon = now - self.org.settings.session_seconds
        self._sessions = {t: s for t, s in self._sessions.items() if s.last_used >= horizon}
        self._purge_at = max(self.PURGE_AT, 2 * len(self._sessions))

    def check(self, token: str | None) -> bool:
        """Whether ``token`` is a live session; touching it extends its life."""
        if not token:
            return False
        now = self.org.clock.timestamp()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return False
            if now - session.last_used > self.org.settings.session_seconds:
                del self._sessions[token]
                return False
            session.last_used = now
            return True

    def revoke(self, token: str | None) -> None:
        """End one session (a no-op for an unknown token)."""
        with self._lock:
            self._sessions.pop(token or "", None)

    def known(self, token: str | None) -> bool:
        """Whether ``token`` was issued and not yet revoked (whatever its idle time)."""
        with self._lock:
            return (token or "") in self._sessions

    def expire_all(self) -> None:
        """End every session (the next call answers 401 INVALID_SESSION_ID)."""
        with self._lock:
            self._sessions.clear()


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


def _token_response(
    request: Request,
    sessions: Sessions,
    creds: Credentials,
    base_url: str,
    *,
    scope: str = "api refresh_token",
) -> Response:
    org = sessions.org
    token = sessions.issue()
    identity = f"{base_url}/id/{org.org_id}/{org.integration_user_id}"
    issued_at = str(int(org.clock.timestamp() * 1000))
    signature = base64.b64encode(
        hmac.new(
            creds.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
    ).decode()
    body: dict[str, Any] = {
        "access_token": token,
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
        "scope": scope,
    }
    return Response.json(
        200, body, {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
    )


def _client_from(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.header("Authorization") or ""
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def oauth_token(
    request: Request, sessions: Sessions, creds: Credentials, base_url: str
) -> Response:
    """``POST /services/oauth2/token`` for the four supported grant types."""
    if request.method != "POST":
        return _oauth_error("invalid_request", "must use HTTP POST", 400)
    form = request.form()
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error("invalid_request", "grant type is missing")
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return _jwt_bearer(request, form, sessions, creds, base_url)
    client_id, client_secret = _client_from(request, form)
    if grant not in ("client_credentials", "password", "refresh_token"):
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if client_id != creds.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    secret_needed = grant != "refresh_token" or client_secret is not None
    if secret_needed and not hmac.compare_digest(client_secret or "", creds.client_secret):
        return _oauth_error("invalid_client", "invalid client credentials")
    if grant == "password":
        password = form.get("password", "")
        valid = (creds.password, creds.password + creds.security_token)
        if form.get("username") != creds.username or password not in valid:
            return _oauth_error("invalid_grant", "authentication failure")
        return _token_response(request, sessions, creds, base_url, scope="api")
    if grant == "refresh_token":
        given = form.get("refresh_token", "")
        if sessions.refresh_revoked or not hmac.compare_digest(given, creds.refresh_token):
            return _oauth_error("invalid_grant", "expired access/refresh token")
        return _token_response(request, sessions, creds, base_url)
    return _token_response(request, sessions, creds, base_url, scope="api")


def userinfo(request: Request, sessions: Sessions, base_url: str) -> Response:
    """``GET /services/oauth2/userinfo``: the OpenID Connect claims of the token's user.

    A missing, unknown or expired token gets ``403 Bad_OAuth_Token`` (plain text), as
    Salesforce answers it.
    """
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not sessions.check(token.strip()):
        return Response.raw(403, b"Bad_OAuth_Token", "text/plain;charset=UTF-8")
    org = sessions.org
    user = org.table("User").get(org.integration_user_id) or {}
    return Response.json(
        200,
        {
            "sub": f"{base_url}/id/{org.org_id}/{org.integration_user_id}",
            "user_id": org.integration_user_id,
            "organization_id": org.org_id,
            "preferred_username": user.get("Username"),
            "nickname": user.get("Alias"),
            "name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": user.get("FirstName"),
            "family_name": user.get("LastName"),
            "zoneinfo": "GMT",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
        },
    )


def revoke(request: Request, sessions: Sessions, creds: Credentials) -> Response:
    """``POST /services/oauth2/revoke`` (form ``token=``) or ``GET ...?token=``: end a token.

    An access token stops working at once; the refresh token is revoked with every access
    token (Salesforce revokes "it and any associated access tokens"): the refresh grant then
    answers ``invalid_grant``. Success is an empty 200; anything else a 400
    ``invalid_token`` (Salesforce's "Revoke OAuth Tokens").
    """
    if request.method not in ("GET", "POST"):
        return _oauth_error("invalid_request", "must use HTTP POST or GET", 400)
    token = (request.form() if request.method == "POST" else {}).get("token")
    token = token or request.arg("token") or ""
    if token and hmac.compare_digest(token, creds.refresh_token):
        if sessions.refresh_revoked:
            return _oauth_error("invalid_token", "invalid token")
        sessions.refresh_revoked = True
        sessions.expire_all()
        return Response.empty(200)
    if not sessions.known(token):
        return _oauth_error("invalid_token", "invalid token")
    sessions.revoke(token)
    return Response.empty(200)


def identity(
    request: Request, sessions: Sessions, base_url: str, org_id: str, user_id: str
) -> Response:
    """``GET /id/{orgId}/{userId}``: the identity URL's user, org and endpoint facts.

    The token comes in the ``Authorization`` header or the ``oauth_token`` parameter; a
    bad one gets ``403 Bad_OAuth_Token`` like userinfo. ``version=`` fills the ``urls``
    (``{version}`` stays literal without it, ``latest`` means the newest); only the URLs
    the sandbox serves are listed (Salesforce Help, "Identity URLs").
    """
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        token = request.arg("oauth_token") or ""
    if not sessions.check(token.strip()):
        return Response.raw(403, b"Bad_OAuth_Token", "text/plain;charset=UTF-8")
    org = sessions.org
    if (org_id, user_id) != (org.org_id, org.integration_user_id):
        return Response.raw(404, b"Bad_Id", "text/plain;charset=UTF-8")
    version = request.arg("version") or "{version}"
    if version == "latest":
        version = org.settings.api_version
    user = org.table("User").get(user_id) or {}
    rest = f"{base_url}/services/data/v{version}/"
    return Response.json(
        200,
        {
            "id": f"{base_url}/id/{org_id}/{user_id}",
            "asserted_user": True,
            "user_id": user_id,
            "organization_id": org_id,
            "username": user.get("Username"),
            "nick_name": user.get("Alias"),
            "display_name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "first_name": user.get("FirstName"),
            "last_name": user.get("LastName"),
            "timezone": "GMT",
            "photos": None,
            "addr_street": None,
            "addr_city": None,
            "addr_state": None,
            "addr_country": None,
            "addr_zip": None,
            "mobile_phone": None,
            "mobile_phone_verified": False,
            "is_lightning_login_user": False,
            "status": {"created_date": None, "body": None},
            "urls": {
                "partner": f"{base_url}/services/Soap/u/{version}/{org_id[:15]}",
                "rest": rest,
                "sobjects": rest + "sobjects/",
                "query": rest + "query/",
            },
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "last_modified_date": user.get("LastModifiedDate"),
            "is_app_installed": True,
        },
    )


def _jwt_bearer(
    request: Request, form: dict[str, str], sessions: Sessions, creds: Credentials, base_url: str
) -> Response:
    assertion = form.get("assertion")
    if not assertion:
        return _oauth_error("invalid_request", "assertion is missing")
    try:
        claims = jwt.decode(
            assertion,
            creds.public_key,
            algorithms=["RS256"],
            audience=["https://login.salesforce.com", "https://test.salesforce.com", base_url],
            options={"require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        return _oauth_error("invalid_grant", "expired authorization code")
    except jwt.InvalidTokenError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if claims.get("iss") != creds.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if claims.get("sub") != creds.username:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return _token_response(request, sessions, creds, base_url, scope="api")


def _soap_fault(code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {html.escape(message)}</faultstring>"
        f'<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.raw(500, body.encode(), "text/xml;charset=UTF-8")


def _soap_client_fault(message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:Client</faultcode><faultstring>{html.escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.raw(500, body.encode(), "text/xml;charset=UTF-8")


def soap_login(
    request: Request, sessions: Sessions, creds: Credentials, base_url: str, version: str
) -> Response:
    """``POST /services/Soap/u/{version}`` with a partner ``login`` call."""
    try:
        root = ET.fromstring(request.body)
    except ET.ParseError as exc:
        # Not XML at all is the client's fault, not a failed login: a SOAP 1.1 Client fault.
        return _soap_client_fault(f"The request is not well-formed XML: {exc}")
    username = password = None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "username":
            username = element.text or ""
        elif tag == "password":
            password = element.text or ""
    valid = (creds.password, creds.password + creds.security_token)
    if username != creds.username or password not in valid:
        return _soap_fault(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
        )
    org = sessions.org
    token = sessions.issue()
    server = f"{base_url}/services/Soap/u/{version}/{org.org_id[:15]}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org.org_id[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{server}</serverUrl><sessionId>{token}</sessionId>"
        f"<userId>{org.integration_user_id}</userId><userInfo>"
        f"<organizationId>{org.org_id}</organizationId><organizationName>crmframes sandbox</organizationName>"
        f"<sessionSecondsValid>{org.settings.session_seconds}</sessionSecondsValid>"
        f"<userEmail>{creds.username}</userEmail><userFullName>Integration User</userFullName>"
        f"<userId>{org.integration_user_id}</userId><userName>{creds.username}</userName>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response.raw(200, body.encode(), "text/xml;charset=UTF-8")
