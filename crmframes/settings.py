"""Where and how to connect to a CRM: secrets, auth objects and connection settings.

Pure. Settings are frozen keyword-only dataclasses; secrets are wrapped in :class:`Secret`,
whose repr is masked so they never reach a log, a traceback or a notebook output. Auth is
an object the user picks (``ClientCredentials(...)``, ``Password(...)``, ...), never
inferred from which arguments happen to be set. ``from_env`` / ``to_env`` fix the names
of the environment variables once, for the connectors, the CLI and the sandbox.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from crmframes.arguments import check_instance, check_number, check_optional_str, check_str
from crmframes.errors import ArgumentTypeError, ConfigError

__all__ = [
    "AccessToken",
    "ClientCredentials",
    "DeviceCode",
    "DynamicsAuth",
    "DynamicsSettings",
    "JwtBearer",
    "Password",
    "SalesforceAuth",
    "SalesforceSettings",
    "Secret",
]

SALESFORCE_ENV_PREFIX = "CRMFRAMES_SALESFORCE_"
DYNAMICS_ENV_PREFIX = "CRMFRAMES_DYNAMICS_"
DEFAULT_SALESFORCE_API_VERSION = "59.0"
# The variables each flow cannot do without, besides URL (and Dynamics' TENANT_ID); checked
# all at once before anything is built, so every missing one is named in one error.
_SALESFORCE_NEEDS: dict[str, tuple[str, ...]] = {
    "client_credentials": ("CLIENT_ID", "CLIENT_SECRET"),
    "password": ("USERNAME", "PASSWORD", "CLIENT_ID"),
    "jwt": ("CLIENT_ID", "USERNAME", "PRIVATE_KEY"),
    "access_token": ("ACCESS_TOKEN",),
}
_DYNAMICS_NEEDS: dict[str, tuple[str, ...]] = {
    "client_credentials": ("CLIENT_ID", "CLIENT_SECRET"),
    "password": ("USERNAME", "PASSWORD", "CLIENT_ID"),
    "device_code": ("CLIENT_ID",),
    "access_token": ("ACCESS_TOKEN",),
}


class Secret:
    """A string that never shows itself in a repr, a str() or a log line.

    Examples:
        >>> s = Secret("hunter2")
        >>> s
        Secret('********')
        >>> s.reveal()
        'hunter2'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise ArgumentTypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value: str = value

    def reveal(self) -> str:
        """Return the secret text; call it only where the value is sent."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else Secret(value)


class _EnvReader:
    """Reads ``{prefix}NAME`` variables; an empty value counts as unset."""

    def __init__(self, environ: Mapping[str, str] | None, prefix: str) -> None:
        self.env = os.environ if environ is None else environ
        self.prefix = prefix

    def get(self, name: str) -> str | None:
        value = self.env.get(self.prefix + name)
        return value if value else None

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ConfigError(f"environment variable {self.prefix}{name} is not set")
        return value

    def require(self, flow: str, names: tuple[str, ...]) -> None:
        """Raise one ConfigError naming every variable of ``names`` that is unset.

        Reporting them one at a time would make a user set a variable, run again, and
        meet the next one: the whole list comes at once.
        """
        missing = [self.prefix + name for name in names if self.get(name) is None]
        if missing:
            count = (
                "1 environment variable"
                if len(missing) == 1
                else f"{len(missing)} environment variables"
            )
            raise ConfigError(
                f"{count} missing for {self.prefix}AUTH={flow}: {', '.join(missing)} "
                f"(the flow needs {', '.join(self.prefix + n for n in names)}; an empty value "
                f"counts as unset). Set them, or choose another flow with {self.prefix}AUTH"
            )

    def timeout(self) -> float:
        value = self.get("TIMEOUT")
        try:
            return float(value) if value else 120.0
        except ValueError:
            raise ConfigError(
                f"{self.prefix}TIMEOUT={value!r} is not a number of seconds"
            ) from None

    def unknown_flow(self, flow: str, flows: str) -> ConfigError:
        return ConfigError(f"{self.prefix}AUTH={flow!r} is not a known flow; use one of {flows}")


@dataclass(frozen=True, kw_only=True)
class ClientCredentials:
    """OAuth 2.0 client credentials (a connected app / an app registration)."""

    client_id: str
    client_secret: Secret

    def __post_init__(self) -> None:
        check_str("client_id", self.client_id)
        object.__setattr__(self, "client_secret", Secret(self.client_secret))


@dataclass(frozen=True, kw_only=True)
class Password:
    """OAuth 2.0 username-password flow (plus the Salesforce security token if any)."""

    username: str
    password: Secret
    client_id: str
    client_secret: Secret | None = None
    security_token: Secret | None = None

    def __post_init__(self) -> None:
        check_str("username", self.username)
        check_str("client_id", self.client_id)
        object.__setattr__(self, "password", Secret(self.password))
        object.__setattr__(self, "client_secret", _secret(self.client_secret))
        object.__setattr__(self, "security_token", _secret(self.security_token))


@dataclass(frozen=True, kw_only=True)
class JwtBearer:
    """OAuth 2.0 JWT bearer flow: a connected app's consumer key and a private key (PEM)."""

    client_id: str
    username: str
    private_key: Secret
    audience: str = "https://login.salesforce.com"

    def __post_init__(self) -> None:
        for name in ("client_id", "username", "audience"):
            check_str(name, getattr(self, name))
        object.__setattr__(self, "private_key", Secret(self.private_key))


@dataclass(frozen=True, kw_only=True)
class AccessToken:
    """An existing session (access token) obtained elsewhere; it cannot be renewed."""

    token: Secret

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", Secret(self.token))


@dataclass(frozen=True, kw_only=True)
class DeviceCode:
    """OAuth 2.0 device-code flow (a person signs in on another device); Dynamics only."""

    client_id: str

    def __post_init__(self) -> None:
        check_str("client_id", self.client_id)


SalesforceAuth = ClientCredentials | Password | JwtBearer | AccessToken
DynamicsAuth = ClientCredentials | Password | DeviceCode | AccessToken
_AuthName = Literal["client_credentials", "password", "jwt", "access_token"]


def _check_common(settings: Any, auth: Any) -> None:
    """Check what both CRMs' settings share: the URL, the auth object, the CA file, the timeout."""
    check_str("url", settings.url, what="an https:// URL")
    names = " or ".join(t.__name__ for t in get_args(auth))
    check_instance("auth", settings.auth, get_args(auth), f"an auth object ({names})")
    check_optional_str("ca_file", settings.ca_file, what="the path of a CA file")
    check_number("timeout", settings.timeout, min=0.001)


@dataclass(frozen=True, kw_only=True)
class SalesforceSettings:
    """How to reach one Salesforce org.

    Attributes:
        url: the My Domain URL (``https://acme.my.salesforce.com``), the login URL, or a
            sandbox URL; tokens are requested at ``{url}/services/oauth2/token``.
        auth: the auth object.
        api_version: REST API version, without the ``v``.
        ca_file: a CA bundle to trust instead of the system one (the sandbox's CA).
        timeout: seconds to wait for any one HTTP call.
    """

    url: str
    auth: SalesforceAuth
    api_version: str = DEFAULT_SALESFORCE_API_VERSION
    ca_file: str | None = None
    timeout: float = 120.0

    def __post_init__(self) -> None:
        _check_common(self, SalesforceAuth)
        check_str("api_version", self.api_version)
        if not self.url.startswith("https://"):
            raise ConfigError(
                f"Salesforce url must start with https:// (got {self.url!r}); "
                "Salesforce and the sandbox only speak HTTPS"
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = SALESFORCE_ENV_PREFIX
    ) -> SalesforceSettings:
        """Build settings from ``CRMFRAMES_SALESFORCE_*`` environment variables.

        ``{prefix}AUTH`` names the flow (``client_credentials``, ``password``, ``jwt``,
        ``access_token``; default ``client_credentials``); the other variables are
        ``URL``, ``CLIENT_ID``, ``CLIENT_SECRET``, ``USERNAME``, ``PASSWORD``,
        ``SECURITY_TOKEN``, ``PRIVATE_KEY`` (PEM text), ``ACCESS_TOKEN``,
        ``API_VERSION``, ``CA_FILE`` and ``TIMEOUT``.

        Raises:
            ConfigError: a variable the chosen flow needs is missing.
        """
        env = _EnvReader(environ, prefix)
        flow = env.get("AUTH") or "client_credentials"
        if flow not in _SALESFORCE_NEEDS:
            raise env.unknown_flow(flow, ", ".join(_SALESFORCE_NEEDS))
        env.require(flow, ("URL", *_SALESFORCE_NEEDS[flow]))
        auth: SalesforceAuth
        if flow == "client_credentials":
            auth = ClientCredentials(
                client_id=env.need("CLIENT_ID"), client_secret=Secret(env.need("CLIENT_SECRET"))
            )
        elif flow == "password":
            auth = Password(
                username=env.need("USERNAME"),
                password=Secret(env.need("PASSWORD")),
                client_id=env.need("CLIENT_ID"),
                client_secret=_secret(env.get("CLIENT_SECRET")),
                security_token=_secret(env.get("SECURITY_TOKEN")),
            )
        elif flow == "jwt":
            auth = JwtBearer(
                client_id=env.need("CLIENT_ID"),
                username=env.need("USERNAME"),
                private_key=Secret(env.need("PRIVATE_KEY")),
            )
        else:
            auth = AccessToken(token=Secret(env.need("ACCESS_TOKEN")))
        return cls(
            url=env.need("URL"),
            auth=auth,
            api_version=env.get("API_VERSION") or DEFAULT_SALESFORCE_API_VERSION,
            ca_file=env.get("CA_FILE"),
            timeout=env.timeout(),
        )

    def to_env(self, *, prefix: str = SALESFORCE_ENV_PREFIX) -> dict[str, str]:
        """Return the environment variables that make :meth:`from_env` rebuild these settings.

        The values include the secrets in clear text: hand them to a child process, never
        print them where others can read.
        """
        env = {prefix + "URL": self.url, prefix + "API_VERSION": self.api_version}
        if self.ca_file:
            env[prefix + "CA_FILE"] = self.ca_file
        auth = self.auth
        flow: _AuthName
        if isinstance(auth, ClientCredentials):
            flow = "client_credentials"
            env |= {prefix + "CLIENT_ID": auth.client_id}
            env |= {prefix + "CLIENT_SECRET": auth.client_secret.reveal()}
        elif isinstance(auth, Password):
            flow = "password"
            env |= {prefix + "USERNAME": auth.username, prefix + "PASSWORD": auth.password.reveal()}
            env |= {prefix + "CLIENT_ID": auth.client_id}
            if auth.client_secret:
                env[prefix + "CLIENT_SECRET"] = auth.client_secret.reveal()
            if auth.security_token:
                env[prefix + "SECURITY_TOKEN"] = auth.security_token.reveal()
        elif isinstance(auth, JwtBearer):
            flow = "jwt"
            env |= {prefix + "CLIENT_ID": auth.client_id, prefix + "USERNAME": auth.username}
            env[prefix + "PRIVATE_KEY"] = auth.private_key.reveal()
        else:
            flow = "access_token"
            env[prefix + "ACCESS_TOKEN"] = auth.token.reveal()
        env[prefix + "AUTH"] = flow
        return env


@dataclass(frozen=True, kw_only=True)
class DynamicsSettings:
    """How to reach one Dynamics 365 / Dataverse environment.

    Attributes:
        url: the environment URL (``https://acme.crm4.dynamics.com``) or a sandbox URL; the
            Web API is ``{url}/api/data/v9.2/`` and tokens are asked for ``{url}/.default``.
        tenant_id: the Entra ID tenant (GUID or domain).
        auth: the auth object.
        authority: the token authority; default ``https://login.microsoftonline.com/{tenant_id}``.
        ca_file: a CA bundle to trust instead of the system one (the sandbox's CA).
        timeout: seconds to wait for any one HTTP call.
    """

    url: str
    tenant_id: str
    auth: DynamicsAuth
    authority: str | None = None
    ca_file: str | None = None
    timeout: float = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.auth, JwtBearer):
            raise ConfigError(
                "JwtBearer is a Salesforce flow; for Dynamics use ClientCredentials, Password, "
                "DeviceCode or AccessToken"
            )
        _check_common(self, DynamicsAuth)
        check_str("tenant_id", self.tenant_id)
        check_optional_str("authority", self.authority)
        if not self.url.startswith("https://"):
            raise ConfigError(
                f"Dynamics url must start with https:// (got {self.url!r}); Dataverse only speaks HTTPS"
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if isinstance(self.auth, JwtBearer):
            raise ConfigError(
                "JwtBearer is a Salesforce flow; for Dynamics use ClientCredentials, Password, "
                "DeviceCode or AccessToken"
            )

    @property
    def token_authority(self) -> str:
        """The authority msal talks to."""
        return (self.authority or f"https://login.microsoftonline.com/{self.tenant_id}").rstrip("/")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = DYNAMICS_ENV_PREFIX
    ) -> DynamicsSettings:
        """Build settings from ``CRMFRAMES_DYNAMICS_*`` environment variables.

        ``{prefix}AUTH`` names the flow (``client_credentials`` by default, ``password``,
        ``device_code``, ``access_token``); the other variables are ``URL``, ``TENANT_ID``,
        ``AUTHORITY``, ``CLIENT_ID``, ``CLIENT_SECRET``, ``USERNAME``, ``PASSWORD``,
        ``ACCESS_TOKEN``, ``CA_FILE`` and ``TIMEOUT``.

        Raises:
            ConfigError: a variable the chosen flow needs is missing.
        """
        env = _EnvReader(environ, prefix)
        flow = env.get("AUTH") or "client_credentials"
        if flow not in _DYNAMICS_NEEDS:
            raise env.unknown_flow(flow, ", ".join(_DYNAMICS_NEEDS))
        env.require(flow, ("URL", "TENANT_ID", *_DYNAMICS_NEEDS[flow]))
        auth: DynamicsAuth
        if flow == "client_credentials":
            auth = ClientCredentials(
                client_id=env.need("CLIENT_ID"), client_secret=Secret(env.need("CLIENT_SECRET"))
            )
        elif flow == "password":
            auth = Password(
                username=env.need("USERNAME"),
                password=Secret(env.need("PASSWORD")),
                client_id=env.need("CLIENT_ID"),
                client_secret=_secret(env.get("CLIENT_SECRET")),
            )
        elif flow == "device_code":
            auth = DeviceCode(client_id=env.need("CLIENT_ID"))
        else:
            auth = AccessToken(token=Secret(env.need("ACCESS_TOKEN")))
        return cls(
            url=env.need("URL"),
            tenant_id=env.need("TENANT_ID"),
            auth=auth,
            authority=env.get("AUTHORITY"),
            ca_file=env.get("CA_FILE"),
            timeout=env.timeout(),
        )

    def to_env(self, *, prefix: str = DYNAMICS_ENV_PREFIX) -> dict[str, str]:
        """Return the environment variables that make :meth:`from_env` rebuild these settings.

        The values include the secrets in clear text: hand them to a child process, never
        print them where others can read.
        """
        env = {prefix + "URL": self.url, prefix + "TENANT_ID": self.tenant_id}
        if self.authority:
            env[prefix + "AUTHORITY"] = self.authority
        if self.ca_file:
            env[prefix + "CA_FILE"] = self.ca_file
        auth = self.auth
        if isinstance(auth, ClientCredentials):
            env[prefix + "AUTH"] = "client_credentials"
            env[prefix + "CLIENT_ID"] = auth.client_id
            env[prefix + "CLIENT_SECRET"] = auth.client_secret.reveal()
        elif isinstance(auth, Password):
            env[prefix + "AUTH"] = "password"
            env |= {prefix + "USERNAME": auth.username, prefix + "PASSWORD": auth.password.reveal()}
            env[prefix + "CLIENT_ID"] = auth.client_id
            if auth.client_secret:
                env[prefix + "CLIENT_SECRET"] = auth.client_secret.reveal()
        elif isinstance(auth, DeviceCode):
            env[prefix + "AUTH"] = "device_code"
            env[prefix + "CLIENT_ID"] = auth.client_id
        elif isinstance(auth, AccessToken):
            env[prefix + "AUTH"] = "access_token"
            env[prefix + "ACCESS_TOKEN"] = auth.token.reveal()
        return env
