"""What the sandbox service needs of the Dataverse emulation: build it, sign in to it, read it.

Edge: the :class:`~crmframes.registry.SandboxSupport` of ``"dynamics"``, imported by the
sandbox service only when a Dynamics sandbox starts (the registry names it by a string).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from crmframes import registry
from crmframes.errors import SandboxError
from crmframes.sandbox.dynamics.production import LIMITS, PRODUCTION
from crmframes.settings import Auth

__all__ = ["SUPPORT", "DynamicsSandbox"]

# the credentials each flow signs in with (build_auth's names)
_FLOW_VALUES = {
    "client_credentials": ("client_id", "client_secret"),
    "password": ("username", "password", "client_id"),
    "device_code": ("client_id",),
}


class DynamicsSandbox:
    """Builds a Dataverse environment app and hands out what a client needs to reach it."""

    session_seconds = 3600  # Entra ID access tokens live an hour
    production = PRODUCTION  # the production profile's figures
    limits = LIMITS  # how the environment refuses a request over a service limit

    def build(
        self, *, clock: Any, faults: Any, options: Mapping[str, Any], counter: Any, profile: Any
    ) -> tuple[Any, Callable[[Any], None]]:
        """Return the environment's protocol app and the loader of the demo org."""
        from crmframes.sandbox.dynamics.app import DynamicsApp
        from crmframes.sandbox.dynamics.demo import load_demo_org
        from crmframes.sandbox.dynamics.identity import DynamicsCredentials
        from crmframes.sandbox.dynamics.org import DataverseOrg, EnvironmentSettings

        org = DataverseOrg(clock=clock, faults=faults, settings=EnvironmentSettings(**options))
        app = DynamicsApp(org, DynamicsCredentials.generate(), counter)
        return app, partial(load_demo_org, org)

    def settings(self, app: Any, *, url: str, ca_file: str, auth: Auth) -> Any:
        """``DynamicsSettings`` reaching the environment at ``url``, its authority beside it."""
        tenant = app.credentials.as_dict()["tenant_id"]
        return registry.crm_kind("dynamics").settings(
            url=url,
            tenant_id=tenant,
            auth=auth,
            authority=f"{url}/{tenant}",
            ca_file=ca_file,
        )

    def auth_values(self, app: Any, flow: str, *, url: str, ca_file: str) -> dict[str, Any]:
        """The sandbox's credentials for ``flow``."""
        if flow not in _FLOW_VALUES:
            raise ValueError(
                f"unknown Dynamics flow {flow!r}; use client_credentials, password or device_code"
            )
        creds: dict[str, str] = app.credentials.as_dict()
        return {name: creds[name] for name in _FLOW_VALUES[flow]}

    def connector_options(self, flow: str) -> dict[str, Any]:
        """The device-code flow gets a silent prompt: the sandbox signs its user in at once."""
        return {"prompt": lambda message: None} if flow == "device_code" else {}

    def records(
        self, app: Any, object_name: str, *, include_deleted: bool
    ) -> tuple[list[list[Any]], list[str]]:
        """The environment's rows of a table (by logical or entity set name)."""
        org = app.org
        entity = org.schema.get(object_name) or org.schema.by_set(object_name)
        if entity is None:
            raise SandboxError(f"the sandbox has no table {object_name!r}")
        columns = entity.properties
        return [[r.get(c) for c in columns] for r in org.scan(entity.logical_name)], columns


SUPPORT = DynamicsSandbox()
