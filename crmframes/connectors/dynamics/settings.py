"""Where and how to reach a Dataverse environment: its settings, auth flows and accounts-file entry.

Pure. :class:`DynamicsSettings` is a frozen keyword-only dataclass; ``from_env`` /
``to_env`` fix the names of its environment variables (``CRMFRAMES_DYNAMICS_*``) once, for
the connector, the CLI and the sandbox. The auth objects and the one builder that makes them
are shared by every CRM (:mod:`crmframes.settings`); :data:`FLOWS` says which flows Dataverse
takes. :class:`DynamicsAccount` is the same settings as an accounts-file entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Self, cast

from pydantic import model_validator

from crmframes.arguments import check_optional_str, check_str
from crmframes.errors import ConfigError
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    DeviceCode,
    EnvReader,
    Flow,
    JwtBearer,
    Password,
    auth_from_env,
    auth_to_env,
    check_common,
)
from crmframes.specs.account_file import CrmAccount, Url
from crmframes.specs.fields import Name, invalid

__all__ = ["DYNAMICS_ENV_PREFIX", "FLOWS", "DynamicsAccount", "DynamicsAuth", "DynamicsSettings"]

DYNAMICS_ENV_PREFIX = "CRMFRAMES_DYNAMICS_"
# The values each flow cannot do without (and may have), besides URL and TENANT_ID.
FLOWS: dict[str, Flow] = {
    "client_credentials": Flow(("client_id", "client_secret")),
    "password": Flow(("username", "password", "client_id"), ("client_secret",)),
    "device_code": Flow(("client_id",)),
    "access_token": Flow(("token",)),
}

DynamicsAuth = ClientCredentials | Password | DeviceCode | AccessToken


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
        check_common(self, DynamicsAuth)
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
        env = EnvReader(environ, prefix)
        # FLOWS holds only this CRM's flows; __post_init__ checks the type all the same
        auth = cast(DynamicsAuth, auth_from_env(env, FLOWS, also=("URL", "TENANT_ID")))
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
        return env | auth_to_env(self.auth, prefix)


class DynamicsAccount(CrmAccount):
    """A Dynamics 365 / Dataverse environment in the accounts file (see :class:`DynamicsSettings`)."""

    crm: Literal["dynamics"]
    tenant_id: Name
    authority: Url | None = None

    @model_validator(mode="after")
    def _flow(self) -> Self:
        if self.auth.flow == "jwt":
            raise invalid("auth", "jwt is a Salesforce flow; Dynamics takes the others")
        return self
