"""Where and how to reach a Salesforce org: its settings, auth flows and accounts-file entry.

Pure. :class:`SalesforceSettings` is a frozen keyword-only dataclass; ``from_env`` /
``to_env`` fix the names of its environment variables (``CRMFRAMES_SALESFORCE_*``) once,
for the connector, the CLI and the sandbox. The auth objects and the one builder that makes
them are shared by every CRM (:mod:`crmframes.settings`); :data:`FLOWS` says which flows
Salesforce takes. :class:`SalesforceAccount` is the same settings as an accounts-file entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Self, cast

from pydantic import BeforeValidator, model_validator

from crmframes.arguments import check_str
from crmframes.errors import ConfigError
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    EnvReader,
    Flow,
    JwtBearer,
    Password,
    auth_from_env,
    auth_to_env,
    check_common,
)
from crmframes.specs.account_file import CrmAccount
from crmframes.specs.fields import Name, invalid

__all__ = [
    "DEFAULT_SALESFORCE_API_VERSION",
    "FLOWS",
    "SALESFORCE_ENV_PREFIX",
    "SalesforceAccount",
    "SalesforceAuth",
    "SalesforceSettings",
]

SALESFORCE_ENV_PREFIX = "CRMFRAMES_SALESFORCE_"
DEFAULT_SALESFORCE_API_VERSION = "59.0"
# The values each flow cannot do without (and may have); the environment's variables are
# their upper-case names, checked all at once before anything is built, so every missing
# one is named in one error.
FLOWS: dict[str, Flow] = {
    "client_credentials": Flow(("client_id", "client_secret")),
    "password": Flow(("username", "password", "client_id"), ("client_secret", "security_token")),
    "jwt": Flow(("client_id", "username", "private_key"), ("audience",)),
    "access_token": Flow(("token",)),
}

SalesforceAuth = ClientCredentials | Password | JwtBearer | AccessToken


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
        check_common(self, SalesforceAuth)
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
        ``SECURITY_TOKEN``, ``PRIVATE_KEY`` (PEM text), ``AUDIENCE`` (JWT), ``ACCESS_TOKEN``,
        ``API_VERSION``, ``CA_FILE`` and ``TIMEOUT``.

        Raises:
            ConfigError: a variable the chosen flow needs is missing.
        """
        env = EnvReader(environ, prefix)
        # FLOWS holds only this CRM's flows; __post_init__ checks the type all the same
        auth = cast(SalesforceAuth, auth_from_env(env, FLOWS))
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
        return env | auth_to_env(self.auth, prefix)


def _version(value: object) -> object:
    return f"{value:.1f}" if isinstance(value, float) else value  # api_version: 59.0 unquoted


class SalesforceAccount(CrmAccount):
    """A Salesforce org in the accounts file (see :class:`SalesforceSettings`)."""

    crm: Literal["salesforce"]
    api_version: Annotated[Name, BeforeValidator(_version)] = DEFAULT_SALESFORCE_API_VERSION

    @model_validator(mode="after")
    def _flow(self) -> Self:
        if self.auth.flow == "device_code":
            raise invalid("auth", "Salesforce has no device_code flow here; use another flow")
        return self
