"""The Microsoft identity platform of the Dataverse sandbox: OIDC discovery and the token endpoint.

Edge: ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token``
(client credentials, username-password, refresh token, device code) and
``/{tenant}/oauth2/v2.0/devicecode``, answering as Entra ID does (reference/dataverse-api.md
§1), so that msal works unchanged. Access tokens are JWTs signed by the sandbox; they
expire on the sandbox clock, after which the Web API answers 401.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.server import Request, Response

__all__ = ["DynamicsCredentials", "Identity"]

_JSON = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
# RFC 8628's grant type (Python msal sends it) and the short name msal-node polls with, which
# Entra ID accepts too (msal-common's GrantType.DEVICE_CODE_GRANT is "device_code").
_DEVICE_CODE_GRANTS = ("urn:ietf:params:oauth:grant-type:device_code", "device_code")


@dataclass(frozen=True)
class DynamicsCredentials:
    """The secrets a Dataverse sandbox accepts (generated per sandbox)."""

    tenant_id: str
    client_id: str
    client_secret: str
    username: str
    password: str
    signing_key: str

    @classmethod
    def generate(cls) -> DynamicsCredentials:
        """Make a fresh set of ids and secrets."""
        return cls(
            tenant_id=str(uuid.uuid4()),
            client_id=str(uuid.uuid4()),
            client_secret="sbx~" + secrets.token_urlsafe(30),
            username="integration@crmframes-sandbox.onmicrosoft.com",
            password="Sandbox-" + secrets.token_urlsafe(12),
            signing_key=secrets.token_hex(32),
        )

    def as_dict(self) -> dict[str, str]:
        """The credentials as the sandbox hands them out."""
        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
        }


class Identity:
    """Issues and checks the tokens of one sandbox tenant."""

    def __init__(self, org: DataverseOrg, credentials: DynamicsCredentials) -> None:
        self.org = org
        self.credentials = credentials
        self.base_url = ""
        self._lock = threading.Lock()
        self._refresh_tokens: dict[str, str] = {}  # token -> username
        self._device_codes: dict[str, float] = {}  # device code -> issue time
        self._revoked: set[str] = set()

    # --- endpoints -----------------------------------------------------------------------------

    def handle(self, request: Request, tenant: str, rest: str) -> Response:
        """Answer ``/{tenant}/...`` identity calls."""
        if tenant not in (self.credentials.tenant_id, "organizations", "common"):
            return self._error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID",
            )
        if rest in ("/v2.0/.well-known/openid-configuration", "/.well-known/openid-configuration"):
            return self._discovery(tenant)
        if rest == "/oauth2/v2.0/token" and request.method == "POST":
            return self._token(request)
        if rest == "/oauth2/v2.0/devicecode" and request.method == "POST":
            return self._device_code(request)
        if rest.startswith("/userrealm/") and tenant == "common":
            return Response.json(
                200,
                {
                    "ver": "1.0",
                    "account_type": "Managed",
                    "domain_name": self.credentials.username.split("@")[-1],
                    "cloud_instance_name": "microsoftonline.com",
                    "cloud_audience_urn": "urn:federation:MicrosoftOnline",
                },
            )
        return self._error(404, "invalid_request", 90011, "The requested endpoint does not exist.")

    def _discovery(self, tenant: str) -> Response:
        root = f"{self.base_url}/{self.credentials.tenant_id if tenant in ('organizations', 'common') else tenant}"
        return Response.json(
            200,
            {
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def _token(self, request: Request) -> Response:
        form = request.form()
        client_id, client_secret = self._client(request, form)
        grant = form.get("grant_type", "")
        creds = self.credentials
        if client_id != creds.client_id:
            return self._error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{creds.tenant_id}'.",
            )
        scopes = form.get("scope", "").split()
        # A refresh token and a device code carry the scope they were issued for.
        bound = grant in ("refresh_token", *_DEVICE_CODE_GRANTS)
        if not bound and not any(self._is_resource_scope(s) for s in scopes):
            return self._error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {scopes[0] if scopes else '(none)'} was not found in "
                f"the tenant named {creds.tenant_id}.",
            )
        if grant == "client_credentials":
            if not hmac.compare_digest(client_secret or "", creds.client_secret):
                return self._error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the "
                    "secret being sent in the request is the client secret value, not the client "
                    f"secret ID, for a secret added to app '{creds.client_id}'.",
                )
            return self._issue(user=False)
        if grant == "password":
            if form.get("username") != creds.username or not hmac.compare_digest(
                form.get("password", ""), creds.password
            ):
                return self._error(
                    400,
                    "invalid_grant",
                    50126,
                    "Error validating credentials due to invalid username or password.",
                )
            return self._issue(user=True)
        if grant == "refresh_token":
            with self._lock:
                known = form.get("refresh_token", "") in self._refresh_tokens
            if not known:
                return self._error(
                    400,
                    "invalid_grant",
                    70000,
                    "The provided value for the 'refresh_token' is not valid.",
                )
            return self._issue(user=True)
        if grant in _DEVICE_CODE_GRANTS:
            code = form.get("device_code", "")
            with self._lock:
                issued = self._device_codes.pop(code, None)
            if issued is None:
                return self._error(
                    400,
                    "expired_token",
                    70020,
                    "The provided value for the 'device_code' is not valid or has expired.",
                )
            return self._issue(user=True)  # the sandbox's user signs in at once
        if not grant:
            return self._error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        return self._error(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _device_code(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.credentials.client_id:
            return self._error(
                400, "unauthorized_client", 700016, "Application was not found in the directory."
            )
        code = secrets.token_urlsafe(32)
        user_code = secrets.token_hex(4).upper()
        with self._lock:
            self._device_codes[code] = self.org.clock.timestamp()
        url = f"{self.base_url}/devicelogin"
        return Response.json(
            200,
            {
                "user_code": user_code,
                "device_code": code,
                "verification_uri": url,
                "expires_in": 900,
                "interval": 1,
                "message": f"To sign in, use a web browser to open the page {url} and enter the code {user_code} "
                "to authenticate.",
            },
            _JSON,
        )

    # --- tokens ------------------------------------------------------------------------------------

    def _is_resource_scope(self, scope: str) -> bool:
        resource, _, name = scope.rstrip("/").rpartition("/")
        return resource.rstrip("/") == self.base_url and name in (".default", "user_impersonation")

    def _issue(self, *, user: bool) -> Response:
        creds = self.credentials
        now = int(self.org.clock.timestamp())
        lifetime = self.org.settings.session_seconds
        claims = {
            "aud": self.base_url,
            "iss": f"{self.base_url}/{creds.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": creds.tenant_id,
            "appid": creds.client_id,
            "oid": self.org.integration_user_id,
            "jti": secrets.token_hex(8),
        }
        if user:
            claims["upn"] = creds.username
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": jwt.encode(claims, creds.signing_key, algorithm="HS256"),
        }
        if user:
            refresh = secrets.token_urlsafe(48)
            with self._lock:
                self._refresh_tokens[refresh] = creds.username
            info = {"uid": self.org.integration_user_id, "utid": creds.tenant_id}
            body |= {
                "scope": f"{self.base_url}/user_impersonation",
                "refresh_token": refresh,
                "client_info": base64.urlsafe_b64encode(orjson.dumps(info)).decode().rstrip("="),
                "id_token": jwt.encode(
                    {
                        "aud": creds.client_id,
                        "iss": claims["iss"],
                        "iat": now,
                        "nbf": now,
                        "exp": now + lifetime,
                        "tid": creds.tenant_id,
                        "oid": self.org.integration_user_id,
                        "sub": self.org.integration_user_id,
                        "preferred_username": creds.username,
                        "name": "crmframes Integration",
                        "ver": "2.0",
                    },
                    creds.signing_key,
                    algorithm="HS256",
                ),
            }
        return Response.json(200, body, _JSON)

    def check(self, token: str | None) -> bool:
        """Whether a bearer token is one of ours, unexpired on the sandbox clock, not revoked."""
        if not token or token in self._revoked:
            return False
        try:
            claims = jwt.decode(
                token,
                self.credentials.signing_key,
                algorithms=["HS256"],
                audience=self.base_url,
                # expiry is checked on the sandbox clock below; iat/nbf would be checked
                # against real time and refuse every token once a test advances the clock
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return False
        return bool(claims.get("exp", 0) > self.org.clock.timestamp())

    def revoke(self, token: str | None) -> None:
        """Make one token invalid from now on."""
        if token:
            with self._lock:
                self._revoked.add(token)

    def revoke_all(self) -> None:
        """Invalidate every token issued so far (the next call answers 401)."""
        self.credentials = DynamicsCredentials(
            **{**self.credentials.__dict__, "signing_key": secrets.token_hex(32)}
        )

    # --- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.header("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, None
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def _error(self, status: int, error: str, code: int, description: str) -> Response:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = self.org.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
        return Response.json(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
                f"{correlation}\r\nTimestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
            _JSON,
        )
