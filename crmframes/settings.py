"""How to sign in to any CRM: secrets, auth objects, and the one auth-flow builder.

Pure. Secrets are wrapped in :class:`Secret`, whose repr is masked so they never reach a
log, a traceback or a notebook output. Auth is an object the user picks
(``ClientCredentials(...)``, ``Password(...)``, ...), never inferred from which arguments
happen to be set. :func:`build_auth` turns a flow's name and its named values into that
object, for every way of configuring one (environment variables, the accounts file, the
sandbox); :func:`auth_to_env` is its inverse. Each CRM's settings class (one per CRM
package under ``crmframes/connectors/``) says which flows it takes (:class:`Flow`).
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from crmframes.arguments import check_instance, check_number, check_optional_str, check_str
from crmframes.errors import ArgumentTypeError, ConfigError

__all__ = [
    "FLOW_CLASSES",
    "AccessToken",
    "Auth",
    "ClientCredentials",
    "DeviceCode",
    "EnvReader",
    "Flow",
    "JwtBearer",
    "Password",
    "Secret",
    "auth_from_env",
    "auth_to_env",
    "build_auth",
    "check_common",
]


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


class EnvReader:
    """Reads ``{prefix}NAME`` variables; an empty value counts as unset."""

    def __init__(self, environ: Mapping[str, str] | None, prefix: str) -> None:
        self.env = os.environ if environ is None else environ
        self.prefix = prefix

    def get(self, name: str) -> str | None:
        """The variable ``{prefix}NAME``, or None when unset or empty."""
        value = self.env.get(self.prefix + name)
        return value if value else None

    def need(self, name: str) -> str:
        """The variable ``{prefix}NAME``; a ConfigError naming it when unset."""
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
        """``{prefix}TIMEOUT`` in seconds (120 when unset)."""
        value = self.get("TIMEOUT")
        try:
            return float(value) if value else 120.0
        except ValueError:
            raise ConfigError(
                f"{self.prefix}TIMEOUT={value!r} is not a number of seconds"
            ) from None

    def unknown_flow(self, flow: str, flows: str) -> ConfigError:
        """The error for an ``{prefix}AUTH`` that names no flow of ``flows``."""
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


Auth = ClientCredentials | Password | JwtBearer | AccessToken | DeviceCode
# flow name -> the auth object it builds: the names the environment, the accounts file and
# the sandbox use alike
FLOW_CLASSES: dict[str, type[Auth]] = {
    "client_credentials": ClientCredentials,
    "password": Password,
    "jwt": JwtBearer,
    "access_token": AccessToken,
    "device_code": DeviceCode,
}


@dataclass(frozen=True)
class Flow:
    """The values one auth flow of one CRM needs and may have (auth objects' field names).

    Attributes:
        needs: the values without which the flow cannot sign in.
        may: optional values the CRM uses when given (a Salesforce security token ...).
    """

    needs: tuple[str, ...]
    may: tuple[str, ...] = ()


def build_auth(flow: str, values: Mapping[str, str | Secret | None]) -> Auth:
    """Build the auth object of ``flow`` from named values; the one auth-flow builder.

    Args:
        flow: ``client_credentials``, ``password``, ``jwt``, ``access_token`` or ``device_code``.
        values: the auth object's fields by name (``client_id``, ``client_secret``,
            ``username``, ``password``, ``security_token``, ``private_key``, ``audience``,
            ``token``); None or missing means not given; other names are ignored.

    Raises:
        ConfigError: an unknown flow, or a value the flow needs is missing.

    Examples:
        >>> build_auth("access_token", {"token": "00Dxx!AQ"})
        AccessToken(token=Secret('********'))
    """
    cls = FLOW_CLASSES.get(flow)
    if cls is None:
        raise ConfigError(f"{flow!r} is not a known flow; use one of {', '.join(FLOW_CLASSES)}")
    given: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        value = values.get(field.name)
        if value is not None:
            given[field.name] = value
        elif field.default is dataclasses.MISSING:
            raise ConfigError(f"flow {flow!r} needs {field.name}")
    return cls(**given)


def auth_to_env(auth: Auth, prefix: str) -> dict[str, str]:
    """Return the ``{prefix}AUTH`` variable and the values of ``auth``, secrets in clear.

    The inverse of :func:`auth_from_env`; values left at their default are not written.
    """
    flow = next(name for name, cls in FLOW_CLASSES.items() if isinstance(auth, cls))
    env = {prefix + "AUTH": flow}
    for field in dataclasses.fields(auth):
        value = getattr(auth, field.name)
        if value is None or value == field.default:
            continue
        env[prefix + _env_name(field.name)] = (
            value.reveal() if isinstance(value, Secret) else str(value)
        )
    return env


def auth_from_env(
    env: EnvReader, flows: Mapping[str, Flow], *, also: tuple[str, ...] = ("URL",)
) -> Auth:
    """Build the auth object that ``{prefix}AUTH`` names (default ``client_credentials``).

    Every variable the flow needs, and the settings' own ``also``, is checked at once.

    Raises:
        ConfigError: an unknown flow, or variables the flow needs are unset.
    """
    flow = env.get("AUTH") or "client_credentials"
    if flow not in flows:
        raise env.unknown_flow(flow, ", ".join(flows))
    chosen = flows[flow]
    env.require(flow, (*also, *(_env_name(name) for name in chosen.needs)))
    return build_auth(flow, {name: env.get(_env_name(name)) for name in chosen.needs + chosen.may})


def check_common(settings: Any, auth: Any) -> None:
    """Check what every CRM's settings share: the URL, the auth object, the CA file, the timeout."""
    check_str("url", settings.url, what="an https:// URL")
    names = " or ".join(t.__name__ for t in get_args(auth))
    check_instance("auth", settings.auth, get_args(auth), f"an auth object ({names})")
    check_optional_str("ca_file", settings.ca_file, what="the path of a CA file")
    check_number("timeout", settings.timeout, min=0.001)


def _env_name(name: str) -> str:
    return "ACCESS_TOKEN" if name == "token" else name.upper()
