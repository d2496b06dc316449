"""The Dynamics 365 / Dataverse connector: msal tokens, table metadata, OData pages into Arrow.

Edge: msal + requests. Tokens come from msal (client secret, username-password, device code,
or a token given as is); every Web API call goes through :class:`HttpClient` (timeouts,
retries honouring ``Retry-After`` on 429 service protection, one transparent token renewal
on 401). Pages of up to 5,000 rows follow ``@odata.nextLink`` verbatim and are parsed with
orjson into Arrow with an explicit schema, one page at a time; a large table is read in
parallel primary-key ranges when the environment's ``x-ms-dop-hint`` recommends parallel
requests (:mod:`crmframes.connectors.dynamics.ranges`). Writes, lost inserts and
deletions live in :mod:`crmframes.connectors.dynamics.writer`, a part the connector holds.

Longer than 500 lines: one protocol kept whole (msal tokens, metadata, OData reads); its writes
are a part of their own (writer.py).
"""

from __future__ import annotations

import difflib
import re
import sys
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import msal
import orjson
import pyarrow as pa
import requests

from crmframes.arguments import check_instance
from crmframes.connectors.base import (
    ApiLimits,
    BulkJobRef,
    CreatedRecord,
    DeletedRecord,
    Page,
    ReadRequest,
    WriteBatch,
    WriteOp,
    WriteOutcome,
    WriteParallelism,
)
from crmframes.connectors.dynamics.created import read_created
from crmframes.connectors.dynamics.odata_compiler import build_query
from crmframes.connectors.dynamics.ranges import FIRST_PAGE, read_in_ranges
from crmframes.connectors.dynamics.ranges import next_link as _next_link
from crmframes.connectors.dynamics.settings import DynamicsSettings
from crmframes.connectors.dynamics.wire import guid
from crmframes.connectors.dynamics.writer import DynamicsWriter
from crmframes.connectors.http import (
    HttpClient,
    RetryPolicy,
    make_session,
    pages_ahead,
    retry_after_seconds,
)
from crmframes.connectors.throttling import Throttling
from crmframes.errors import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    UnavailableError,
)
from crmframes.filters import F
from crmframes.frames import Collation, gc_paused, json_page, records_to_table
from crmframes.schema import Field, FieldKind, ObjectSchema
from crmframes.settings import AccessToken, ClientCredentials, DeviceCode, Password

__all__ = ["PAGE_SIZE", "DynamicsConnector"]

SYSTEM = "dynamics"
PAGE_SIZE = 5000
_KINDS: dict[str, FieldKind] = {
    "Uniqueidentifier": "id",
    "Lookup": "reference",
    "Customer": "reference",
    "Owner": "reference",
    "Boolean": "boolean",
    "Integer": "integer",
    "BigInt": "integer",
    "Picklist": "integer",
    "State": "integer",
    "Status": "integer",
    "Decimal": "number",
    "Double": "number",
    "Money": "number",
}
_MICROSOFT_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.microsoft.com",
    "login.windows.net",
    "login.partner.microsoftonline.cn",
)
# The service protection counters Dataverse may send with any answer (informational).
_RATE_HEADERS = (
    "x-ms-ratelimit-burst-remaining-xrm-requests",
    "x-ms-ratelimit-time-remaining-xrm-requests",
)
_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
# "The maximum length of URL accepted is 32 KB (32768 characters)": Microsoft Learn, Dataverse
# Web API, "Compose HTTP requests and handle errors", Maximum URL length
MAX_URL = 32_768
# "A Dataverse message operation must complete within 2 minutes ... [else] cancels (rolls back)
# the entire message operation": learn.microsoft.com/power-apps/developer/data-platform/analyze-performance
DATAVERSE_CALL_LIMIT = timedelta(minutes=2)


def _translate(response: requests.Response, operation: str) -> ConnectorError | None:
    status = response.status_code
    if status < 300 or status == 304:
        return None
    try:
        body: Any = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = (
        (error.get("message") if isinstance(error, dict) else None)
        or response.reason
        or f"HTTP {status}"
    )
    common: dict[str, Any] = {
        "system": SYSTEM,
        "operation": operation,
        "status": status,
        "code": code or None,
        "payload": response.text,
    }
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if status == 401:
        return AuthenticationError(message, **common)
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, **common)
    if status == 403:
        return PermissionDeniedError(message, **common)
    if status == 404:
        return NotFoundError(message, **common)
    if status >= 500:
        return UnavailableError(message, retry_after=retry_after, **common)
    return RequestRejectedError(message, **common)


def _without_bearer(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Msal's request options, minus the session's ``Authorization`` header.

    The Dataverse access token is a header of the whole session; the identity provider
    must never see it (least of all the expired one, when the token is renewed). requests
    drops a session header that a request sets to None.
    """
    headers = dict(kwargs.get("headers") or {})
    headers.setdefault("Authorization", None)
    return {**kwargs, "headers": headers}


class _MsalHttp:
    """The http client msal uses: our session, with the authority's port restored.

    msal drops the port when it builds the user-realm discovery URL of a non-Microsoft
    authority (reference/dataverse-api.md §1.4); this puts it back, so the username-password
    flow works against any authority.
    """

    def __init__(self, session: requests.Session, authority: str, timeout: float) -> None:
        self.session = session
        parts = urlsplit(authority)
        self.netloc = parts.netloc
        self.hostname = parts.hostname or ""
        self.timeout = timeout

    def _fix(self, url: str) -> str:
        prefix = f"https://{self.hostname}/"
        if self.netloc != self.hostname and url.startswith(prefix):
            return f"https://{self.netloc}/" + url[len(prefix) :]
        return url

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.get(self._fix(url), **_without_bearer(kwargs))

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.post(self._fix(url), **_without_bearer(kwargs))

    def close(self) -> None:
        """Nothing to close: the connector owns the session."""


class DynamicsConnector:
    """Reads and writes a Dataverse environment.

    Args:
        settings: where and how to connect.
        session: a requests session to use (default: one trusting ``settings.ca_file``).
        retry: how transient failures are retried.
        prompt: where the device-code flow shows its sign-in message (default: stderr).
    """

    system = SYSTEM
    # Dataverse orders text with its SQL collation, Latin1_General_CI_AI by default
    collation: Collation = "accent_case_insensitive"
    id_chunk_size = (
        200  # ids per query when fetching a population (keeps URLs well under the limit)
    )
    cursor_resumes = 0  # a nextLink never expires mid-read: no read is ever resumed
    # how inserts and updates go: "multiple" (CreateMultiple / UpdateMultiple, the default;
    # upserts and deletes stay in $batch) or "batch" (every write as $batch)
    write_messages: Literal["multiple", "batch"] = "multiple"

    def __init__(
        self,
        settings: DynamicsSettings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        prompt: Callable[[str], None] | None = None,
    ) -> None:
        check_instance("settings", settings, DynamicsSettings, "DynamicsSettings(...)")
        self.settings = settings
        self._session = session or make_session(settings.ca_file)
        self._session.headers.update(_HEADERS)
        self.api_root = f"{settings.url}/api/data/v9.2/"
        self._prompt = prompt or (lambda message: print(message, file=sys.stderr))
        self.http = HttpClient(
            system=SYSTEM,
            session=self._session,
            timeout=settings.timeout,
            retry=retry or RetryPolicy(),
            translate=_translate,
            reauthenticate=None if isinstance(settings.auth, AccessToken) else self._renew,
            max_url=MAX_URL,
            dop_header="x-ms-dop-hint",  # the degree of parallelism Dataverse advises
        )
        self._app: msal.ClientApplication | None = None
        self._account: dict[str, Any] | None = None
        self._describes: dict[str, ObjectSchema] = {}
        self._tables: dict[str, str] | None = None  # logical name -> entity set
        self._primary_ids: dict[str, str] = {}  # logical name -> primary id column
        self._navigation: dict[str, dict[tuple[str, str], str]] = {}  # see describe()
        self._audited: dict[str, bool] = {}  # logical name -> IsAuditEnabled
        self._user_id: str | None = None  # the caller, from WhoAmI
        self.writer = DynamicsWriter(self)
        self._authenticate(force=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DynamicsConnector:
        """Connect with ``CRMFRAMES_DYNAMICS_*`` settings (see :class:`DynamicsSettings`)."""
        return cls(DynamicsSettings.from_env(environ))

    def __repr__(self) -> str:
        return f"DynamicsConnector(url={self.settings.url!r}, auth={type(self.settings.auth).__name__})"

    # --- authentication --------------------------------------------------------------------------------

    def _msal_app(self) -> msal.ClientApplication:
        if self._app is None:
            authority = self.settings.token_authority
            microsoft = urlsplit(authority).hostname in _MICROSOFT_HOSTS
            http = _MsalHttp(self._session, authority, self.settings.timeout)
            auth = self.settings.auth
            options: dict[str, Any] = {"authority": authority, "http_client": http}
            if not microsoft:
                options["instance_discovery"] = False
            try:
                if isinstance(auth, ClientCredentials) or (
                    isinstance(auth, Password) and auth.client_secret
                ):
                    secret = auth.client_secret.reveal() if auth.client_secret else ""
                    self._app = msal.ConfidentialClientApplication(
                        auth.client_id, client_credential=secret, **options
                    )
                else:
                    assert isinstance(auth, Password | DeviceCode)
                    self._app = msal.PublicClientApplication(auth.client_id, **options)
            except (ValueError, requests.RequestException) as exc:
                raise AuthenticationError(
                    f"cannot reach the authority {authority}: {exc}",
                    system=SYSTEM,
                    operation="authenticate",
                ) from exc
        return self._app

    def _authenticate(self, *, force: bool) -> None:
        auth = self.settings.auth
        if isinstance(auth, AccessToken):
            self._session.headers["Authorization"] = f"Bearer {auth.token.reveal()}"
            return
        app = self._msal_app()
        resource = f"{self.settings.url}/.default"
        user_scope = [f"{self.settings.url}/user_impersonation"]
        result: dict[str, Any] | None
        if isinstance(auth, ClientCredentials):
            assert isinstance(app, msal.ConfidentialClientApplication)
            if force:
                app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes=[resource])
        else:
            result = None
            if self._account is not None:
                result = app.acquire_token_silent(
                    user_scope, account=self._account, force_refresh=force
                )
            if not result and isinstance(auth, Password):
                with (
                    warnings.catch_warnings()
                ):  # msal deprecates ROPC for public clients; the user chose it
                    warnings.simplefilter("ignore", DeprecationWarning)
                    result = app.acquire_token_by_username_password(
                        auth.username, auth.password.reveal(), scopes=user_scope
                    )
            elif not result:
                assert isinstance(app, msal.PublicClientApplication)
                flow = app.initiate_device_flow(scopes=user_scope)
                if "user_code" not in flow:
                    raise AuthenticationError(
                        flow.get("error_description", "device flow failed"),
                        system=SYSTEM,
                        operation="authenticate",
                        code=flow.get("error"),
                    )
                self._prompt(flow["message"])
                result = app.acquire_token_by_device_flow(flow)
            accounts = app.get_accounts()
            self._account = accounts[0] if accounts else None
        if not result or "access_token" not in result:
            error = (result or {}).get("error", "no token")
            description = (result or {}).get("error_description", "").split("\r\n")[0]
            raise AuthenticationError(
                f"the authority refused the credentials: {error}: {description}",
                system=SYSTEM,
                operation="authenticate",
                code=error,
            )
        self._session.headers["Authorization"] = f"Bearer {result['access_token']}"

    def _renew(self) -> None:
        self._authenticate(force=True)

    # --- calls -------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, operation: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("https://") else self.api_root + path
        return self.http.send(method, url, operation=operation, **kwargs)

    @property
    def api_calls(self) -> int:
        """Web API calls made so far (token requests are not counted)."""
        return self.http.calls

    @property
    def write_parallelism(self) -> WriteParallelism:
        """At the ``x-ms-dop-hint`` degree (4 before one arrives), at most 52 in flight.

        Microsoft: send parallel requests at the degree the header recommends, and prefer
        smaller batches sent in parallel over large ones sent in turn
        (learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests,
        .../bulk-operations); 52 concurrent requests per user (reference/dataverse-api.md
        "Service protection"). Calls of fewer than 250 records cost more than they save.
        """
        return WriteParallelism(default=4, ceiling=52, follows_hint=True, min_batch=250)

    @property
    def longest_call(self) -> timedelta:
        """The HTTP timeout, or Dataverse's 2 minutes if longer (:data:`DATAVERSE_CALL_LIMIT`)."""
        return max(timedelta(seconds=self.settings.timeout), DATAVERSE_CALL_LIMIT)

    @property
    def throttling(self) -> Throttling:
        """Throttles met, time waited on them, and the CRM's advice (``x-ms-dop-hint``)."""
        return self.http.throttling

    @property
    def instance(self) -> str:
        """The org's URL: what a journal is tied to (no credentials in it)."""
        return self.settings.url.rstrip("/")

    def server_time(self) -> datetime:
        """The environment's clock, from the ``Date`` header of a ``WhoAmI`` call (one API call).

        Dataverse has no uncounted resource to ask, and a clock read earlier cannot be carried
        forward reliably, so an incremental import spends this one call on a fresh reading.
        """
        self._who_am_i()
        assert self.http.last_date is not None
        return self.http.last_date

    def read_limits(self) -> ApiLimits:
        """Dataverse's service protection counters, from a ``WhoAmI`` call's headers (one call).

        Dataverse has no resource listing limits; it may answer each call with its
        counters (reference/dataverse-api.md "Service protection"), informational only.
        """
        reply = self._send("GET", "WhoAmI", operation="call WhoAmI")
        found = {name: reply.headers[name] for name in _RATE_HEADERS if name in reply.headers}
        if found:
            shown = ", ".join(
                f"{name.removeprefix('x-ms-ratelimit-')}={value}" for name, value in found.items()
            )
            return ApiLimits(None, None, f"service protection headers: {shown}")
        return ApiLimits(
            None,
            None,
            "Dataverse lists no limits; this environment sent no service protection headers "
            "(defaults: 6,000 requests and 20 minutes of execution per user per 5 minutes)",
        )

    def _who_am_i(self) -> str:
        """Call ``WhoAmI``; remember and return the caller's ``UserId`` (systemuser id)."""
        body = orjson.loads(self._send("GET", "WhoAmI", operation="call WhoAmI").content)
        self._user_id = str(body["UserId"]).lower()
        return self._user_id

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def normalize_id(self, value: object) -> str | None:
        """The lower-case GUID, or None when ``value`` is not a GUID."""
        return guid(value)

    # --- metadata ----------------------------------------------------------------------------------------

    def objects(self) -> list[str]:
        """The logical names of every table."""
        if self._tables is None:
            body = orjson.loads(
                self._send(
                    "GET",
                    "EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute",
                    operation="list tables",
                ).content
            )
            self._tables = {
                e["LogicalName"]: e["EntitySetName"]
                for e in body["value"]
                if e.get("EntitySetName")
            }
            self._primary_ids = {
                e["LogicalName"]: e["PrimaryIdAttribute"]
                for e in body["value"]
                if e.get("PrimaryIdAttribute")
            }
        return sorted(self._tables)

    def _logical(self, name: str) -> str:
        tables = {
            **dict.fromkeys(self.objects()),
            **{v: k for k, v in (self._tables or {}).items()},
        }
        if name in (self._tables or {}):
            return name
        if name in tables and tables[name] is not None:
            return str(tables[name])
        close = difflib.get_close_matches(name.lower(), self.objects(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise NotFoundError(
            f"no table {name!r} in this environment{hint}",
            system=SYSTEM,
            operation=f"describe {name}",
        )

    def describe(self, object_name: str) -> ObjectSchema:
        """Describe a table by logical name or entity set (``EntityDefinitions``; two calls, cached).

        A lower-case name is tried as a logical name first; only when there is no such table
        does the connector list the tables (one call more) to read an entity set name or to
        suggest close matches. The lookups' navigation properties (``ManyToOneRelationships``)
        and whether the table is audited come with the definition; writes and
        :meth:`read_deleted` need them.
        """
        if self._tables is None and _LOGICAL_NAME.fullmatch(object_name):
            if object_name in self._describes:
                return self._describes[object_name]
            try:
                return self._describe(object_name)
            except NotFoundError:
                pass  # not a logical name: an entity set name, or a typo
        name = self._logical(object_name)
        if name in self._describes:
            return self._describes[name]
        return self._describe(name)

    def _describe(self, name: str) -> ObjectSchema:
        key = quote(f"LogicalName='{name}'", safe="=")
        relationships = (
            "ManyToOneRelationships($select=ReferencingAttribute,ReferencedEntity,"
            "ReferencingEntityNavigationPropertyName)"
        )
        body = orjson.loads(
            self._send(
                "GET",
                f"EntityDefinitions({key})?$expand=Attributes,Keys,{relationships}",
                operation=f"describe {name}",
            ).content
        )
        picklists = orjson.loads(
            self._send(
                "GET",
                f"EntityDefinitions({key})/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
                "?$select=LogicalName&$expand=OptionSet($select=Options)",
                operation=f"describe {name} options",
            ).content
        )
        options = {
            p["LogicalName"]: tuple(
                (o["Value"], _label(o.get("Label")))
                for o in (p.get("OptionSet") or {}).get("Options", [])
            )
            for p in picklists.get("value", [])
        }
        keys = tuple(tuple(k["KeyAttributes"]) for k in body.get("Keys") or ())
        key_columns = {c for k in keys for c in k}
        fields: dict[str, Field] = {}
        for a in body["Attributes"]:
            kind_name = a.get("AttributeType")
            if kind_name in (None, "Virtual", "PartyList", "ManagedProperty", "CalendarRules"):
                continue
            lookup = kind_name in ("Lookup", "Customer", "Owner")
            name_on_wire = f"_{a['LogicalName']}_value" if lookup else a["LogicalName"]
            kind: FieldKind = _KINDS.get(kind_name, "string")
            if kind_name == "DateTime":
                kind = "date" if a.get("Format") == "DateOnly" else "datetime"
            fields[name_on_wire] = Field(
                name=name_on_wire,
                kind=kind,
                crm_type=kind_name,
                label=_label(a.get("DisplayName")),
                length=a.get("MaxLength"),
                nullable=(a.get("RequiredLevel") or {}).get("Value") != "SystemRequired",
                required=(a.get("RequiredLevel") or {}).get("Value") == "SystemRequired"
                and bool(a.get("IsValidForCreate")),
                createable=bool(a.get("IsValidForCreate")),
                updateable=bool(a.get("IsValidForUpdate")),
                external_id=a["LogicalName"] in key_columns,
                references=tuple(a.get("Targets") or ()),
                options=options.get(a["LogicalName"], ()),
                # Dataverse's SQL collation compares text (and so alternate keys) in any case
                case_sensitive=kind != "string",
            )
        schema = ObjectSchema(
            name=name,
            fields=fields,
            id_field=body["PrimaryIdAttribute"],
            modified_fields=("modifiedon",) if "modifiedon" in fields else (),
            keys=keys,
            case_sensitive=True,
            label=_label(body.get("DisplayName")) or name,
            entity_set=body["EntitySetName"],
            created_field="createdon" if "createdon" in fields else None,
        )
        # (lookup logical name, target table) -> the navigation property @odata.bind names
        self._navigation[name] = {
            (r["ReferencingAttribute"], r["ReferencedEntity"]): r[
                "ReferencingEntityNavigationPropertyName"
            ]
            for r in body.get("ManyToOneRelationships") or ()
            if r.get("ReferencingEntityNavigationPropertyName")
        }
        self._audited[name] = bool((body.get("IsAuditEnabled") or {}).get("Value", True))
        self._describes[name] = schema
        return schema

    def field(self, object_name: str, name: str) -> Field:
        """Resolve a column by its Web API name (``lastname``, ``_parentcustomerid_value``)."""
        schema = self.describe(object_name)
        if name not in schema.fields and f"_{name}_value" in schema.fields:
            return schema.fields[f"_{name}_value"]
        return schema.resolve(name)

    # --- reading -------------------------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> Iterator[Page]:
        """Yield pages of up to 5,000 rows, following ``@odata.nextLink`` verbatim.

        SQL Server sorts nulls first in ascending order and ``$orderby`` cannot say otherwise,
        so a limited read ordered ascending on a nullable first key is split in two: the rows
        where that key is set, then (if the limit is not reached) the rows where it is null.
        The order contract (nulls last) then holds for the first key under ``$top`` as well.
        """
        if request.limit is not None and request.order_by and not request.order_by[0][1]:
            key = request.order_by[0][0]
            if self.field(request.object, key).nullable:
                rows = 0
                known = F(key).not_null()
                for page in self._read(
                    replace(
                        request, where=known if request.where is None else request.where & known
                    )
                ):
                    rows += page.table.num_rows
                    yield replace(page, total=None)  # this half's count is not the read's
                if rows < request.limit:
                    missing = F(key).is_null()
                    for page in self._read(
                        replace(
                            request,
                            limit=request.limit - rows,
                            where=missing if request.where is None else request.where & missing,
                        )
                    ):
                        yield replace(page, total=None)
                return
        yield from self._read(request)

    def _read(self, request: ReadRequest) -> Iterator[Page]:
        schema = self.describe(request.object)
        fields = [self.field(request.object, n) for n in request.fields]
        # No server cursor to lose: Dataverse's paging cookie is a keyset (each page is
        # computed when asked for, past the previous page's last row; without $orderby on
        # the primary id), so a nextLink fetched again after a lost answer, or much later,
        # continues exactly where it stopped (README: "Cursors that die are resumed").
        options = build_query(
            schema,
            [f.name for f in fields],
            where=request.where,
            order_by=list(request.order_by),
            top=request.limit,
        )
        # An unlimited, unordered read of a table larger than one page goes in id ranges
        # read in parallel (ranges.py) when the environment recommends parallel requests
        # (x-ms-dop-hint > 1, sent with every answer, so known after describe); a limit or
        # an order needs the one sequential chain, and without a hint (a local sandbox,
        # where the client's CPU is the bottleneck) ranges would only add work.
        hint = self.throttling.dop_hint or 1
        if (
            hint > 1
            and request.limit is None
            and not request.order_by
            and schema.id_field in request.fields
        ):
            yield from self._read_ranges(schema, fields, options)
            return
        options["$count"] = "true"
        headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        # The first page asks whether its count hit the 5,000 cap; the next pages need not.
        first = {"Prefer": f"odata.maxpagesize={PAGE_SIZE},{_COUNT_ANNOTATIONS}"}
        total: int | None = None
        fetch = self._fetcher(schema, headers)
        for number, raw in enumerate(
            pages_ahead(fetch(_url(schema, options), first), _next_link, fetch)
        ):
            table, said = _parse(raw, fields)
            if number == 0:
                total = _total(said.get("@odata.count"), said.get(_LIMIT_EXCEEDED), request.limit)
            yield Page(table, total=total, mode="rest")

    def _fetcher(self, schema: ObjectSchema, headers: dict[str, str]) -> Callable[..., bytes]:
        def fetch(link: str, sent: dict[str, str] = headers) -> bytes:
            return self._send(
                "GET", link, operation=f"query {schema.name}", headers=sent, large=True
            ).content

        return fetch

    def _read_ranges(
        self, schema: ObjectSchema, fields: list[Field], options: dict[str, str]
    ) -> Iterator[Page]:
        """Read the first page ordered on the id, then the ids past it in parallel ranges."""
        size = min(FIRST_PAGE, PAGE_SIZE)
        first = {"Prefer": f"odata.maxpagesize={size},{_COUNT_ANNOTATIONS}"}
        total: int | None = None
        for number, (table, said) in enumerate(
            read_in_ranges(
                self._fetcher(schema, {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}),
                lambda query: _url(schema, query),
                lambda raw: _parse(raw, fields),
                options,
                id_field=schema.id_field,
                first_headers=first,
                degree=lambda: self.throttling.dop_hint or 1,
            )
        ):
            if number == 0:
                total = _total(said.get("@odata.count"), said.get(_LIMIT_EXCEEDED), None)
            yield Page(table, total=total, mode="rest")

    # --- writes and deletions: delegated to the writer part --------------------------------------

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        """The most records one write carries: 1,000 (the ``$batch`` limit)."""
        return self.writer.write_limit(op, bulk=bulk)

    @property
    def supports_bulk_write(self) -> bool:
        """False: Dataverse writes go in ``$batch`` calls of up to 1,000 records."""
        return self.writer.supports_bulk_write

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        """Refuse: Dataverse has no bulk ingest here (see :class:`DynamicsWriter`)."""
        return self.writer.write_bulk(batch, on_submitted=on_submitted)

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        """Refuse: Dataverse has no bulk jobs to resume."""
        return self.writer.resume_bulk(batch, job)

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        """Send one batch as one ``$batch`` call (see :class:`DynamicsWriter`)."""
        return self.writer.write(batch)

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> list[str]:
        """Client-chosen ids for new records, derived from ``seeds``."""
        return self.writer.new_record_ids(object_name, seeds)

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        """Find the records an insert of unknown outcome created (see :class:`DynamicsWriter`)."""
        return self.writer.find_created(object_name, records, since, exclude=exclude)

    def read_created(self, object_name: str, ids: Sequence[str]) -> list[CreatedRecord]:
        """When and by whom records were created (``createdon``, ``_createdby_value``).

        See :func:`crmframes.connectors.dynamics.created.read_created`.
        """
        return read_created(self, object_name, ids)

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        """Records deleted in ``[start, end]`` from the audit log, oldest first."""
        return self.writer.read_deleted(object_name, start, end)

    def deleted_horizon(self, object_name: str) -> datetime | None:
        """The oldest deletion the audit log still holds (the environment's, any table)."""
        return self.writer.deleted_horizon(object_name)


# Dataverse counts at most 5,000 rows (``@odata.count``); these annotations say whether the
# count was capped, so a capped one is never shown as the total. Learn: "Count rows using OData",
# https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows
_LIMIT_EXCEEDED = "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
_COUNT_ANNOTATIONS = (
    'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
    'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"'
)


def _total(count: object, exceeded: object, limit: int | None) -> int | None:
    """The rows a read returns, from its first page's count; None when the count was capped.

    Without the limit annotation (a server that ignored the preference) a count below the
    cap is still exact; one at the cap may be capped, so it is not used.
    """
    if not isinstance(count, int) or isinstance(count, bool) or exceeded is True:
        return None
    if exceeded is None and count >= PAGE_SIZE:
        return None
    return count if limit is None else min(count, limit)


_COUNTS: dict[str, pa.DataType] = {"@odata.count": pa.int64(), _LIMIT_EXCEEDED: pa.bool_()}
_LOGICAL_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _url(schema: ObjectSchema, options: dict[str, str]) -> str:
    encoded = urlencode(options, quote_via=quote, safe="$,'()=@/:")
    return f"{schema.entity_set}?{encoded}"


def _parse(raw: bytes, fields: Sequence[Field]) -> tuple[pa.Table, dict[str, Any]]:
    """A page's records as Arrow (the fast path when it fits) and its annotations."""
    fast = json_page(raw, "value", fields, _COUNTS)
    if fast is not None:
        return fast[0], fast[1]
    with gc_paused():
        body = orjson.loads(raw)
        table = records_to_table(body.pop("value"), fields)
    return table, body  # the page's annotations, without its records


def _label(value: Any) -> str:
    if isinstance(value, dict):
        localized = value.get("UserLocalizedLabel") or {}
        return str(localized.get("Label") or "")
    return ""
