"""What the sandbox service needs of the Salesforce emulation: build it, sign in to it, read it.

Edge: the :class:`~crmframes.registry.SandboxSupport` of ``"salesforce"``, imported by the
sandbox service only when a Salesforce sandbox starts (the registry names it by a string).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crmframes import registry
from crmframes.errors import SandboxError
from crmframes.sandbox.salesforce.production import LIMITS, PRODUCTION
from crmframes.settings import Auth

__all__ = ["BULK_WARM_ROWS", "SUPPORT", "SalesforceSandbox"]

BULK_WARM_ROWS = 50_000  # tables this large get their Bulk result columns when loaded
# the credentials each flow signs in with (build_auth's names)
_FLOW_VALUES = {
    "client_credentials": ("client_id", "client_secret"),
    "password": ("username", "password", "client_id", "client_secret", "security_token"),
    "jwt": ("client_id", "username", "private_key"),
}


class SalesforceSandbox:
    """Builds a Salesforce org app and hands out what a client needs to reach it."""

    session_seconds = 7200  # Salesforce sessions end after two hours without a call
    production = PRODUCTION  # the production profile's figures
    limits = LIMITS  # how the org refuses a request over a service limit

    def build(
        self, *, clock: Any, faults: Any, options: Mapping[str, Any], counter: Any, profile: Any
    ) -> tuple[Any, Callable[[Any], None]]:
        """Return the org's protocol app and the loader of the demo org."""
        from crmframes.sandbox.salesforce.app import SalesforceApp
        from crmframes.sandbox.salesforce.auth import Credentials
        from crmframes.sandbox.salesforce.demo import load_demo_org
        from crmframes.sandbox.salesforce.org import OrgSettings, SalesforceOrg

        org = SalesforceOrg(clock=clock, faults=faults, settings=OrgSettings(**options))
        app = SalesforceApp(org, Credentials.generate(), counter)
        if profile is not None:
            app.bulk.profile = profile

        def load(demo: Any) -> None:
            load_demo_org(org, demo)
            # Tables of Bulk size get their Bulk result columns now rather than in the first
            # job (~3 s at scale=200), so a Bulk benchmark times the client, not the sandbox.
            app.bulk.columns.warm(list(org.schema.objects.values()), min_rows=BULK_WARM_ROWS)

        return app, load

    def settings(self, app: Any, *, url: str, ca_file: str, auth: Auth) -> Any:
        """``SalesforceSettings`` reaching the org at ``url`` (the client's class, by name)."""
        return registry.crm_kind("salesforce").settings(url=url, auth=auth, ca_file=ca_file)

    def auth_values(self, app: Any, flow: str, *, url: str, ca_file: str) -> dict[str, Any]:
        """The sandbox's credentials for ``flow``; ``access_token`` asks the org for a session."""
        creds: dict[str, str] = app.credentials.as_dict()
        if flow in _FLOW_VALUES:
            return {name: creds[name] for name in _FLOW_VALUES[flow]}
        if flow == "access_token":
            import requests

            session = requests.Session()
            session.verify, session.trust_env = ca_file, False
            reply = session.post(
                f"{url}/services/oauth2/token",
                timeout=60,
                data={
                    "grant_type": "client_credentials",
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                },
            )
            return {"token": reply.json()["access_token"]}
        raise ValueError(
            f"unknown Salesforce flow {flow!r}; use client_credentials, password, jwt or access_token"
        )

    def connector_options(self, flow: str) -> dict[str, Any]:
        """No options: every Salesforce flow signs in without a person."""
        return {}

    def records(
        self, app: Any, object_name: str, *, include_deleted: bool
    ) -> tuple[list[list[Any]], list[str]]:
        """The org's rows of an object (the recycle bin too with ``include_deleted``)."""
        org = app.org
        obj = org.schema.get(object_name)
        if obj is None:
            raise SandboxError(f"the sandbox has no object {object_name!r}")
        columns = [f.name for f in obj.fields if f.type != "address"]
        rows = org.scan(obj.name, include_deleted=include_deleted)
        return [[r.get(c) for c in columns] for r in rows], columns


SUPPORT = SalesforceSandbox()
