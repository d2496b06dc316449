"""The Sandbox: one emulated CRM org served over HTTPS on 127.0.0.1 with a throw-away CA.

Edge: creates a trustme CA and a certificate for 127.0.0.1, loads the demo org, and runs the
CRM's protocol app in a background thread. It is a product feature (tutorials, users' own
tests), not a test mock: real clients such as simple-salesforce work against it unchanged.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, get_args

import trustme

from crmframes import registry
from crmframes.errors import ConfigError, SandboxError
from crmframes.sandbox.clock import Clock
from crmframes.sandbox.faults import Faults
from crmframes.sandbox.profile import Profile, ProfiledApp, resolve_profile
from crmframes.sandbox.server import MAX_CONNECTIONS, REQUEST_TIMEOUT, CallCounter, HttpsServer
from crmframes.settings import build_auth

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector

__all__ = ["Crm", "Sandbox"]

# The built-in CRMs; a CRM added with crmframes.registry.register is served too.
Crm = Literal["salesforce", "dynamics"]
DataChoice = Literal["demo", "empty"]


class Sandbox:
    """An emulated CRM org on ``https://127.0.0.1:PORT``.

    Args:
        crm: which CRM to emulate: ``"salesforce"``, ``"dynamics"``, or the name of one
            registered with a sandbox (:mod:`crmframes.registry`).
        data: ``"demo"`` loads the demo org (accounts, contacts, leads, opportunities with
            planted duplicates); ``"empty"`` starts with no records.
        scale: multiplies the demo record counts (``scale=200`` gives 1,000,000 contacts).
        port: the TCP port; 0 picks a free one.
        clock: the clock the CRM writes timestamps with (real time by default).
        duplicate_rule: activate the duplicate rule on contact email.
        daily_api_limit: the daily API request allocation.
        session_seconds: how long an access token lives: Salesforce sessions end after this
            much inactivity (default 7200), Dataverse tokens this long after issue (3600).
        automation: model what real orgs do to the records clients write
            (:mod:`crmframes.sandbox.automation`): text trimmed, and a record-triggered
            flow (Salesforce) / plug-in (Dataverse) that formats the phone fields of new
            records. Defaults the CRMs always fill (``Opportunity.Probability``,
            ``statuscode``) are filled either way. The demo data loads as generated.
        max_connections: connections served at once (128); when all are taken, idle
            keep-alive connections are closed and new ones wait until one ends.
        request_timeout: seconds a request's headers and body may take to arrive (60);
            a slower request is answered 408 and its connection closed.
        profile: ``"local"`` (default: answers at once, no service limits) or
            ``"production"`` (a real org's round trip, server time per record, concurrency
            and service limits; :mod:`crmframes.sandbox.profile`), or a
            :class:`~crmframes.sandbox.profile.Profile` with figures of your own
            (``production_profile("dynamics", round_trip=0.2)``).
        speed: divides every modelled time, window and ``Retry-After`` of the production
            profile (``speed=100``: a 5-minute window lasts 3 s).

    Examples:
        >>> with Sandbox("salesforce", data="empty") as sb:
        ...     sb.url.startswith("https://127.0.0.1:")
        True
    """

    def __init__(
        self,
        crm: Crm | str = "salesforce",
        *,
        data: DataChoice = "demo",
        scale: float = 1.0,
        port: int = 0,
        clock: Clock | None = None,
        duplicate_rule: bool = False,
        daily_api_limit: int = 100_000,
        session_seconds: int | None = None,
        automation: bool = False,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT,
        profile: Literal["local", "production"] | Profile = "local",
        speed: float | None = None,
    ) -> None:
        if crm not in registry.crm_names():
            raise ValueError(f"crm must be one of {registry.crm_names()}, not {crm!r}")
        try:
            self._support = registry.sandbox_support(crm)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        self.profile: Profile | None = resolve_profile(crm, profile, speed=speed)
        if data not in get_args(DataChoice):
            raise ValueError(f"data must be one of {get_args(DataChoice)}, not {data!r}")
        if not scale > 0:
            raise ValueError(f"scale must be positive, not {scale!r}")
        if isinstance(max_connections, bool) or not (
            isinstance(max_connections, int) and max_connections >= 1
        ):
            raise ValueError(
                f"max_connections must be a whole number >= 1, not {max_connections!r}"
            )
        if not (isinstance(request_timeout, int | float) and request_timeout > 0):
            raise ValueError(f"request_timeout must be positive seconds, not {request_timeout!r}")
        self.crm: str = crm
        self.data: DataChoice = data
        self.scale = scale
        self.clock = clock or Clock()
        self.faults = Faults()
        self._port = port
        self._max_connections = max_connections
        self._request_timeout = float(request_timeout)
        self._options: dict[str, Any] = {
            "duplicate_rule": duplicate_rule,
            "daily_api_limit": daily_api_limit,
            "session_seconds": session_seconds or self._support.session_seconds,
            "automation": automation,
        }
        self._counter = CallCounter()
        self._server: HttpsServer | None = None
        self._app: Any = None
        self._dir: Path | None = None
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Create the CA, load the data and start serving; return self."""
        with self._lock:
            if self._server is not None:
                return self
            self._dir = Path(tempfile.mkdtemp(prefix="crmframes-sandbox-"))
            try:
                certfile, keyfile = self._write_tls_files(self._dir)
                self._app = self._build_app()
                served = self._app
                if self.profile is not None:
                    served = ProfiledApp(self._app, self.profile, limits=self._support.limits)
                self._server = HttpsServer(
                    served,
                    certfile=certfile,
                    keyfile=keyfile,
                    clock=self.clock,
                    faults=self.faults,
                    port=self._port,
                    max_connections=self._max_connections,
                    request_timeout=self._request_timeout,
                )
            except OSError as exc:
                self._cleanup()
                raise SandboxError(f"the sandbox could not start: {exc}") from exc
            except BaseException:
                self._cleanup()
                raise
            self._app.base_url = self._server.url
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the CA files."""
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
            self._cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _write_tls_files(self, folder: Path) -> tuple[str, str]:
        ca = trustme.CA(organization_name="crmframes sandbox")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(folder / "ca.pem"))
        cert.private_key_pem.write_to_path(str(folder / "server.key"))
        cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
        for blob in cert.cert_chain_pems[1:]:
            blob.write_to_path(str(folder / "server.pem"), append=True)
        return str(folder / "server.pem"), str(folder / "server.key")

    def _build_app(self) -> Any:
        from crmframes.sandbox.demo_org import generate_demo_org

        app, load = self._support.build(
            clock=self.clock,
            faults=self.faults,
            options=self._options,
            counter=self._counter,
            profile=self.profile,
        )
        if self.data == "demo":
            # Millions of new dicts and no cycles: full collections would walk them over and
            # over (tens of seconds at scale=200) and free nothing.
            enabled = gc.isenabled()
            gc.disable()
            try:
                load(generate_demo_org(self.scale))
            finally:
                if enabled:
                    gc.enable()
        return app

    def _running(self) -> HttpsServer:
        if self._server is None:
            raise SandboxError(
                "the sandbox is not running; use it as a context manager or call start()"
            )
        return self._server

    # --- what users connect with ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        return self._running().url

    @property
    def ca_file(self) -> str:
        """Path of the PEM file of the sandbox's CA (trust it, never disable verification)."""
        self._running()
        assert self._dir is not None
        return str(self._dir / "ca.pem")

    @property
    def credentials(self) -> dict[str, str]:
        """The secrets the sandbox accepts: client id/secret, username/password, and more."""
        self._running()
        return dict(self._app.credentials.as_dict())

    def settings(self) -> Any:
        """Connection settings for this sandbox (client-credentials flow).

        A ``SalesforceSettings`` or a ``DynamicsSettings`` (a registered CRM's own settings).
        """
        return self._settings("client_credentials")

    def _settings(self, flow: str) -> Any:
        url, ca_file = self.url, self.ca_file
        values = self._support.auth_values(self._app, flow, url=url, ca_file=ca_file)
        auth = build_auth(flow, values)
        return self._support.settings(self._app, url=url, ca_file=ca_file, auth=auth)

    def connector(self, *, flow: str = "client_credentials", **options: Any) -> Connector:
        """A connector to this sandbox (``SalesforceConnector`` or ``DynamicsConnector``).

        Args:
            flow: the auth flow to use: ``client_credentials`` (default), ``password``, and
                ``jwt`` or ``access_token`` (Salesforce) / ``device_code`` (Dynamics).
            **options: passed to the connector (``retry=``, ``session=`` ...).
        """
        settings = self._settings(flow)
        options = self._support.connector_options(flow) | options
        conn: Connector = registry.crm_kind(self.crm).connector(settings, **options)
        return conn

    def env(self) -> dict[str, str]:
        """Environment variables with which a connector's ``from_env()`` reaches this sandbox."""
        env: dict[str, str] = self.settings().to_env()
        return env

    # --- observing and steering -----------------------------------------------------------------

    def api_call_count(self) -> int:
        """API calls served so far, counted as the CRM counts them (token requests excluded)."""
        return self._counter.total()

    def api_calls(self) -> dict[str, int]:
        """API calls served so far by endpoint family (``query``, ``sobjects``, ``composite``, ...)."""
        return self._counter.by_family()

    def throttles(self) -> dict[str, int]:
        """Calls the production profile refused, by code (``0x80072326``, ``ConcurrentPerOrgLongTxn``...).

        Empty for the local profile, which refuses nothing but the daily allocation.
        """
        app = self._running().app
        return dict(sorted(app.throttled.items())) if isinstance(app, ProfiledApp) else {}

    def reset_api_calls(self) -> None:
        """Set the API call counts back to zero."""
        self._counter.reset()

    def request_log(self) -> list[tuple[str, str, int | None]]:
        """The latest requests as ``(method, target, status)``; status None for a dropped call."""
        return list(self._running().log)

    def simulate_activity(
        self,
        object_name: str,
        *,
        updates: int = 25,
        creates: int = 5,
        deletes: int = 0,
        seed: int | None = None,
    ) -> dict[str, int]:
        """Play the CRM's users: edit, add and delete records, stamped by the sandbox clock.

        The changes are made inside the sandbox (no API calls counted), so tutorials can show
        what an incremental import picks up. Returns how many records were touched.
        """
        import random

        self._running()
        counts: dict[str, int] = self._app.simulate(
            object_name, updates=updates, creates=creates, deletes=deletes, rng=random.Random(seed)
        )
        return counts

    def expire_sessions(self) -> None:
        """End every access token now (the next API call answers 401)."""
        self._running()
        self._app.expire_sessions()

    def records(self, object_name: str, *, include_deleted: bool = False) -> Any:
        """The sandbox's own records of an object as a pandas DataFrame of wire values.

        Column names are the CRM's field names; values are as the API sends them (ISO
        strings for dates and datetimes). Tests compare what a client received with this.
        Salesforce ``include_deleted`` adds the recycle bin.
        """
        import pandas as pd

        self._running()
        rows, columns = self._support.records(
            self._app, object_name, include_deleted=include_deleted
        )
        return pd.DataFrame.from_records(rows, columns=columns)

    @property
    def org(self) -> Any:
        """The emulated org's state (records, schema) for inspection in tests."""
        self._running()
        return self._app.org

    def __repr__(self) -> str:
        state = f"url={self._server.url!r}" if self._server is not None else "stopped"
        profile = (
            "" if self.profile is None else f", profile='production', speed={self.profile.speed:g}"
        )
        return f"Sandbox({self.crm!r}, data={self.data!r}, scale={self.scale!r}{profile}, {state})"
