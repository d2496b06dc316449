"""The Salesforce connector: OAuth, describe, SOQL pages over REST, Bulk API 2.0 query CSV into Arrow.

Edge: simple-salesforce is the transport (its session, base URLs and headers), with
crmframes' own OAuth flows (client credentials, password, JWT bearer, an existing session)
so that a token can be renewed, and every call made through :class:`HttpClient` (timeouts,
retries honouring ``Retry-After``, one transparent re-login on ``INVALID_SESSION_ID``).
REST pages are parsed with orjson into Arrow with an explicit schema, one page at a time;
Bulk API 2.0 result pages are read by pyarrow's CSV reader as Salesforce writes them
(:mod:`crmframes.connectors.salesforce.bulk_csv`; reference/feasibility.md §5).
Writes (sObject Collections, Bulk API 2.0 ingest) and getDeleted live in
:mod:`crmframes.connectors.salesforce.writer`: a part the connector holds and delegates to.

Longer than 500 lines: one protocol kept whole (OAuth, describe, REST and Bulk reads); its
writes are a part of their own (writer.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import jwt
import orjson
import pyarrow as pa
import requests
from simple_salesforce.api import Salesforce

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
from crmframes.connectors.http import (
    HttpClient,
    RetryPolicy,
    make_session,
    pages_ahead,
    retry_after_seconds,
)
from crmframes.connectors.salesforce.bulk_csv import bulk_page_to_table, rest_datetime_text
from crmframes.connectors.salesforce.created import read_created
from crmframes.connectors.salesforce.paging import KeysetCursor
from crmframes.connectors.salesforce.result_pages import (
    READ_DEGREE,
    RESULT_PAGES_VERSION,
    in_order,
    result_links,
)
from crmframes.connectors.salesforce.settings import SalesforceSettings
from crmframes.connectors.salesforce.soql_compiler import build_soql
from crmframes.connectors.salesforce.writer import POLL_CAP, POLL_GROWTH, SalesforceWriter
from crmframes.connectors.throttling import Throttling
from crmframes.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    UnavailableError,
)
from crmframes.frames import Collation, gc_paused, json_page, records_to_table
from crmframes.schema import Field, FieldKind, ObjectSchema, UnknownFieldError
from crmframes.settings import AccessToken, ClientCredentials, JwtBearer, Password

__all__ = ["BULK_THRESHOLD", "SalesforceConnector"]

SYSTEM = "salesforce"
BULK_THRESHOLD = 100_000  # mode="auto" switches to Bulk API 2.0 above this many records
BULK_PAGE = 250_000  # maxRecords per Bulk result page
BULK_DELIMITER = "COMMA"  # the columnDelimiter asked of Bulk query jobs
# seconds before the first poll of a query job; then growing by half up to POLL_CAP. A query
# job reports no progress until it is done, so the poll cannot be timed for its end: doubling
# to 5 s left up to as long again as the job had taken idle after it finished (a 100,000-row
# job of ~12 s on the production profile was seen done at ~16 s); this bounds the idle time
# to half the time waited so far, and to POLL_CAP on long jobs.
QUERY_POLL_FIRST = 0.02
REST_BATCH = 2000
_KINDS: dict[str, FieldKind] = {
    "id": "id",
    "reference": "reference",
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "date": "date",
    "datetime": "datetime",
}
_MODIFIED = ("LastModifiedDate", "SystemModstamp")


def _translate(response: requests.Response, operation: str) -> ConnectorError | None:
    status = response.status_code
    if status < 300:
        return None
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = response.text
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    code = first.get("errorCode") or (body.get("error") if isinstance(body, dict) else None)
    message = (
        first.get("message")
        or (body.get("error_description") if isinstance(body, dict) else None)
        or response.reason
    )
    common: dict[str, Any] = {
        "system": SYSTEM,
        "operation": operation,
        "status": status,
        "code": code,
        "payload": response.text,
    }
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if status == 401:
        return AuthenticationError(message, **common)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        daily = "TotalRequests" in str(message)  # the daily allocation is gone: do not retry today
        return RateLimitedError(message, retryable=not daily, retry_after=retry_after, **common)
    if status == 403:
        return PermissionDeniedError(message, **common)
    if status == 404:
        return NotFoundError(message, **common)
    if status >= 500:
        return UnavailableError(message, retry_after=retry_after, **common)
    return RequestRejectedError(message, **common)


class SalesforceConnector:
    """Reads and writes a Salesforce org.

    Args:
        settings: where and how to connect.
        session: a requests session to use (default: one trusting ``settings.ca_file``).
        retry: how transient failures are retried.
        bulk_threshold: above this many records, ``mode="auto"`` reads with Bulk API 2.0.
        bulk_page_size: records asked per Bulk API 2.0 result page (``maxRecords``). A
            result of more than one such page is read from the pages ``resultPages`` lists
            (API 58.0+; Salesforce sizes them), :attr:`bulk_read_parallel` at once.

    Attributes:
        bulk_read_parallel: Bulk API 2.0 result pages read at once; 1 reads the locator
            chain (``results?locator=``), one page of ``bulk_page_size`` after another.

    Examples:
        >>> conn = SalesforceConnector.from_env()  # doctest: +SKIP
        >>> conn.describe("Contact").id_field  # doctest: +SKIP
        'Id'
    """

    system = SYSTEM
    bulk_read_parallel: int = READ_DEGREE
    # SOQL ORDER BY: "For English locales, SOQL uses the UTF-8 values of the uppercase character"
    collation: Collation = "upper"
    id_chunk_size = 300  # ids per query when fetching a population (URLs stay well under 16 KB)

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        bulk_threshold: int = BULK_THRESHOLD,
        bulk_page_size: int = BULK_PAGE,
    ) -> None:
        check_instance("settings", settings, SalesforceSettings, "SalesforceSettings(...)")
        if bulk_page_size < 1:
            raise ValueError(f"bulk_page_size must be at least 1, not {bulk_page_size}")
        self.settings = settings
        self.bulk_threshold = bulk_threshold
        self.cursor_resumes = 0  # REST reads restarted past their last id (a dead locator)
        self.bulk_page_size = bulk_page_size
        self._session = session or make_session(settings.ca_file)
        self.http = HttpClient(
            system=SYSTEM,
            session=self._session,
            timeout=settings.timeout,
            retry=retry or RetryPolicy(),
            translate=_translate,
            reauthenticate=None if isinstance(settings.auth, AccessToken) else self._login_again,
            max_url=16_384,  # longer URIs get 414 (reference/salesforce-api.md, query)
        )
        self._describes: dict[str, ObjectSchema] = {}
        self._raw_describes: dict[str, dict[str, Any]] = {}
        self._names: dict[str, str] | None = None
        self.user_id: str | None = None  # the connected user, from the OAuth identity URL
        self.writer = SalesforceWriter(self)
        self.sf: Salesforce = self._login()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SalesforceConnector:
        """Connect with ``CRMFRAMES_SALESFORCE_*`` settings (see :class:`SalesforceSettings`)."""
        return cls(SalesforceSettings.from_env(environ))

    def __repr__(self) -> str:
        return f"SalesforceConnector(url={self.settings.url!r}, auth={type(self.settings.auth).__name__})"

    # --- authentication --------------------------------------------------------------------------

    def _login(self) -> Salesforce:
        auth = self.settings.auth
        token_url = f"{self.settings.url}/services/oauth2/token"
        if isinstance(auth, AccessToken):
            token, instance = auth.token.reveal(), self.settings.url
        else:
            if isinstance(auth, ClientCredentials):
                form = {
                    "grant_type": "client_credentials",
                    "client_id": auth.client_id,
                    "client_secret": auth.client_secret.reveal(),
                }
            elif isinstance(auth, Password):
                password = auth.password.reveal() + (
                    auth.security_token.reveal() if auth.security_token else ""
                )
                form = {
                    "grant_type": "password",
                    "client_id": auth.client_id,
                    "username": auth.username,
                    "password": password,
                }
                if auth.client_secret:
                    form["client_secret"] = auth.client_secret.reveal()
            elif isinstance(auth, JwtBearer):
                claims = {
                    "iss": auth.client_id,
                    "sub": auth.username,
                    "aud": auth.audience,
                    "exp": int(time.time()) + 180,
                }
                try:
                    assertion = jwt.encode(claims, auth.private_key.reveal(), algorithm="RS256")
                except (ValueError, TypeError, jwt.PyJWTError) as exc:
                    raise ConfigError(f"the JWT private key cannot sign: {exc}") from None
                form = {
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                }
            else:  # pragma: no cover - the settings type forbids it
                raise ConfigError(f"unsupported Salesforce auth {type(auth).__name__}")
            try:
                reply = self.http.send(
                    "POST",
                    token_url,
                    operation="authenticate",
                    counted=False,
                    renewable=False,
                    data=form,
                    headers={"Accept": "application/json"},
                )
            except (RequestRejectedError, AuthenticationError) as exc:
                raise AuthenticationError(
                    f"Salesforce refused the credentials: {exc.args[0]}",
                    system=SYSTEM,
                    operation="authenticate",
                    status=exc.status,
                    code=exc.code,
                ) from exc
            body = orjson.loads(reply.content)
            token, instance = body["access_token"], body.get("instance_url") or self.settings.url
            # The identity URL ends with the user id (reference §1.1): find_created needs it.
            identity = str(body.get("id") or "")
            self.user_id = identity.rstrip("/").rsplit("/", 1)[-1] if "/id/" in identity else None
        self._session.headers["Authorization"] = f"Bearer {token}"
        self.sf = Salesforce(
            instance_url=instance,
            session_id=token,
            session=self._session,
            version=self.settings.api_version,
        )
        return self.sf

    def _login_again(self) -> None:
        self._login()

    # --- calls ---------------------------------------------------------------------------------------

    def _get(self, path: str, *, operation: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("https://") else self.sf.base_url + path.lstrip("/")
        return self.http.send("GET", url, operation=operation, **kwargs)

    @property
    def api_calls(self) -> int:
        """REST and Bulk calls made so far (token requests are not API calls)."""
        return self.http.calls

    @property
    def write_parallelism(self) -> WriteParallelism:
        """Collections calls or Bulk API 2.0 jobs at once: 4 by default, at most 25.

        Salesforce counts long-running requests (over 20 s) at 25 per org
        (reference/salesforce-api.md §9); an export stays well under it unless told.
        A large bulk export runs one ingest job per call in flight, none under 2,500 rows
        (each job costs its own calls: create, upload, close, polls, results).
        """
        return WriteParallelism(default=4, ceiling=25, min_bulk_job=2_500)

    @property
    def longest_call(self) -> timedelta:
        """The HTTP timeout, or Salesforce's 10 minutes per Apex transaction if longer.

        "Maximum execution time for each Apex transaction: 10 minutes"
        (developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_gov_limits.htm).
        """
        return max(timedelta(seconds=self.settings.timeout), timedelta(minutes=10))

    @property
    def throttling(self) -> Throttling:
        """Throttles met, time waited on them, and the CRM's advice (``x-ms-dop-hint``)."""
        return self.http.throttling

    @property
    def instance(self) -> str:
        """The org's URL: what a journal is tied to (no credentials in it)."""
        return self.settings.url.rstrip("/")

    def server_time(self) -> datetime:
        """The org's clock, from the ``Date`` header of the (uncounted) versions resource."""
        instance = self.sf.base_url.split("/services/")[0]
        self.http.send(
            "GET", f"{instance}/services/data/", operation="read the server time", counted=False
        )
        assert self.http.last_date is not None
        return self.http.last_date

    def read_limits(self) -> ApiLimits:
        """The org's daily API requests left: ``GET /services/data/vXX.X/limits`` (one call).

        Raises:
            PermissionDeniedError: the user lacks "View Setup and Configuration" (the
                message names it, so ``crmframes check`` need not know this CRM).
            ConnectorError: the call failed.
        """
        # reference/salesforce-api.md, limits: DailyApiRequests {"Max", "Remaining"}
        try:
            reply = self.http.send("GET", self.sf.base_url + "limits/", operation="read limits")
        except PermissionDeniedError as exc:
            # "available ... for API users with the View Setup and Configuration permission"
            # (REST API Developer Guide, "Limits" resource)
            raise exc.reworded(
                f"{exc.args[0]} (the limits resource needs the View Setup and Configuration "
                "permission)"
            ) from exc
        daily = orjson.loads(reply.content).get("DailyApiRequests") or {}
        left, cap = int(daily.get("Remaining", 0)), int(daily.get("Max", 0))
        detail = f"{left:,} of {cap:,} daily API requests left"
        return ApiLimits(left, cap, detail, window="the rolling 24-hour window")

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def normalize_id(self, value: object) -> str | None:
        """The 18-character id, or None when ``value`` is not a well-formed Salesforce id.

        Whitespace around the id (spaces, a line break from a file) is dropped, as Dataverse
        GUIDs' is: Salesforce itself answers ``MALFORMED_ID`` to it, and both CRMs read
        such ids alike here (populations, updates and deletes by id).
        """
        if isinstance(value, str):
            value = value.strip()
        if (
            not isinstance(value, str)
            or len(value) not in (15, 18)
            or not value.isalnum()
            or not value.isascii()
        ):
            return None
        head = value[:15]
        suffix = ""
        for start in (0, 5, 10):
            bits = sum(1 << i for i, ch in enumerate(head[start : start + 5]) if "A" <= ch <= "Z")
            suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
        if len(value) == 18 and value[15:].upper() != suffix:
            return None
        return head + suffix

    # --- describe ------------------------------------------------------------------------------------

    def objects(self) -> list[str]:
        """The names of every queryable object."""
        if self._names is None:
            body = orjson.loads(self._get("sobjects/", operation="describe global").content)
            self._names = {
                o["name"].lower(): o["name"] for o in body["sobjects"] if o.get("queryable", True)
            }
        return sorted(self._names.values())

    def _canonical(self, object_name: str) -> str:
        self.objects()
        assert self._names is not None
        found = self._names.get(object_name.lower())
        if found is None:
            import difflib

            close = difflib.get_close_matches(
                object_name.lower(), list(self._names), n=3, cutoff=0.6
            )
            hint = (
                f"; did you mean {', '.join(repr(self._names[c]) for c in close)}?" if close else ""
            )
            raise NotFoundError(
                f"no object {object_name!r} in this org{hint}",
                system=SYSTEM,
                operation=f"describe {object_name}",
            )
        return found

    def describe(self, object_name: str) -> ObjectSchema:
        """Describe an object (``GET sobjects/{Obj}/describe``, cached)."""
        name = self._canonical(object_name)
        if name not in self._describes:
            raw = orjson.loads(
                self._get(f"sobjects/{name}/describe", operation=f"describe {name}").content
            )
            self._raw_describes[name] = raw
            fields = {}
            for f in raw["fields"]:
                if f["type"] in ("address", "location"):
                    continue  # compound fields: their components are fields of their own
                fields[f["name"]] = Field(
                    name=f["name"],
                    kind=_KINDS.get(f["type"], "string"),
                    crm_type=f["type"],
                    label=f.get("label", ""),
                    length=f.get("length") or None,
                    nullable=f.get("nillable", True),
                    required=bool(
                        f.get("createable")
                        and not f.get("nillable")
                        and not f.get("defaultedOnCreate")
                    ),
                    createable=f.get("createable", False),
                    updateable=f.get("updateable", False),
                    external_id=bool(f.get("externalId")),
                    references=tuple(f.get("referenceTo") or ()),
                    options=tuple((p["value"], p["label"]) for p in f.get("picklistValues") or ()),
                    filterable=f.get("filterable", True),
                    sortable=f.get("sortable", True),
                    defaulted_on_create=bool(f.get("defaultedOnCreate")),
                    case_sensitive=bool(f.get("caseSensitive")),
                )
            self._describes[name] = ObjectSchema(
                name=name,
                fields=fields,
                id_field="Id",
                modified_fields=tuple(m for m in _MODIFIED if m in fields),
                keys=tuple((n,) for n, f in fields.items() if f.external_id),
                case_sensitive=False,
                label=raw.get("label", name),
                created_field="CreatedDate" if "CreatedDate" in fields else None,
                id_prefix=raw.get("keyPrefix") or None,
            )
        return self._describes[name]

    def field(self, object_name: str, name: str) -> Field:
        """Resolve a field, following parent relationships (``Account.Owner.Name``)."""
        schema = self.describe(object_name)
        if "." not in name:
            return schema.resolve(name)
        parts = name.split(".")
        current = self._canonical(object_name)
        path = []
        for relationship in parts[:-1]:
            raw = self._raw_describes[current]
            lookup = next(
                (
                    f
                    for f in raw["fields"]
                    if (f.get("relationshipName") or "").lower() == relationship.lower()
                ),
                None,
            )
            if lookup is None or not lookup.get("referenceTo"):
                names = [f["relationshipName"] for f in raw["fields"] if f.get("relationshipName")]
                import difflib

                close = difflib.get_close_matches(relationship, names, n=3, cutoff=0.6)
                raise UnknownFieldError(current, name, [f"{c}.{parts[-1]}" for c in close])
            path.append(lookup["relationshipName"])
            current = self.describe(lookup["referenceTo"][0]).name
        leaf = self.describe(current).resolve(parts[-1])
        return Field(
            name=".".join([*path, leaf.name]),
            kind=leaf.kind,
            crm_type=leaf.crm_type,
            label=leaf.label,
            length=leaf.length,
            createable=False,
            updateable=False,
            filterable=leaf.filterable,
            sortable=leaf.sortable,
            options=leaf.options,
            references=leaf.references,
        )

    # --- reading -------------------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> Iterator[Page]:
        """Yield pages: REST ``query`` (2,000 a page), or a Bulk API 2.0 query job.

        ``mode="auto"`` reads over REST and, when the first page says the result holds more
        than ``bulk_threshold`` records (default :data:`BULK_THRESHOLD`), leaves that cursor and runs a Bulk job instead
        (one wasted call, far fewer calls and ~10x less parsing for big reads).

        A REST read without an order (or ordered on the id alone) is ordered on the id, so
        that when its query locator dies (``INVALID_QUERY_LOCATOR``: an answer lost on the
        last page, or a cursor expired or released) it resumes exactly where it stopped
        with ``Id > <last id read>``. Any other order cannot resume exactly and raises.
        """
        schema = self.describe(request.object)
        fields = [self.field(request.object, n) for n in request.fields]
        soql = build_soql(
            schema.name,
            [f.name for f in fields],
            where=request.where,
            schema=schema,
            order_by=list(request.order_by),
            limit=request.limit,
        )
        if request.mode == "bulk":
            yield from self._bulk(soql, fields, request.include_deleted)
            return
        first = True
        for page in self._rest_resumable(request, schema, fields):
            if first and request.mode == "auto" and (page.total or 0) > self.bulk_threshold:
                yield from self._bulk(soql, fields, request.include_deleted)
                return
            first = False
            yield page

    def _rest_resumable(
        self, request: ReadRequest, schema: ObjectSchema, fields: list[Field]
    ) -> Iterator[Page]:
        """REST pages of ``request``, resumed past the last id read when the cursor dies."""
        cursor = KeysetCursor.for_request(request, schema.id_field, [f.name for f in fields])
        soql = cursor.soql(schema, [f.name for f in fields])
        while True:
            try:
                for page in self._rest(soql, fields, request.include_deleted):
                    yield cursor.seen(page)
                return
            except RequestRejectedError as exc:
                if exc.code != "INVALID_QUERY_LOCATOR":
                    raise
                cursor.resume(exc, schema.name)  # raises when no exact resume is possible
                self.cursor_resumes += 1
                soql = cursor.soql(schema, [f.name for f in fields])

    def _rest(self, soql: str, fields: list[Field], include_deleted: bool) -> Iterator[Page]:
        resource = "queryAll/" if include_deleted else "query/"
        headers = {"Sforce-Query-Options": f"batchSize={REST_BATCH}"}
        first = self._get(resource, operation="query", params={"q": soql}, headers=headers).content
        instance = self.sf.base_url.split("/services/")[0]

        def fetch(url: str) -> bytes:
            return self.http.send(
                "GET", instance + url, operation="query more", headers=headers
            ).content

        for raw in pages_ahead(first, _next_records_url, fetch):
            fast = json_page(raw, "records", fields, {"totalSize": pa.int64()})
            if fast is not None:
                yield Page(fast[0], total=fast[1]["totalSize"], mode="rest")
                continue
            with gc_paused():
                body = orjson.loads(raw)
                table = records_to_table(body["records"], fields)
            yield Page(table, total=body["totalSize"], mode="rest")

    def _bulk(self, soql: str, fields: list[Field], include_deleted: bool) -> Iterator[Page]:
        base = self.sf.base_url + "jobs/query"
        created = self.http.send(
            "POST",
            base,
            operation="create bulk query job",
            json={
                "operation": "queryAll" if include_deleted else "query",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": BULK_DELIMITER,
                "lineEnding": "LF",
            },
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        job = orjson.loads(created.content)["id"]
        wait = QUERY_POLL_FIRST
        while True:
            time.sleep(wait)  # no job is done the moment it is created
            wait = min(wait * POLL_GROWTH, POLL_CAP)
            info = orjson.loads(
                self.http.send("GET", f"{base}/{job}", operation="poll bulk query job").content
            )
            if info["state"] == "JobComplete":
                break
            if info["state"] in ("Failed", "Aborted"):
                raise RequestRejectedError(
                    info.get("errorMessage") or f"bulk query job {info['state']}",
                    system=SYSTEM,
                    operation="bulk query",
                )
        total = int(info.get("numberRecordsProcessed") or 0)
        names = [f.name for f in fields]
        datetimes = [f.name for f in fields if f.kind == "datetime"]

        def fetch(locator: str) -> tuple[pa.Table, str | None]:
            # Runs ahead in a worker: the page is parsed there (Arrow's reader releases the
            # GIL) and its text dropped before the caller gets the table.
            reply = self.http.send(
                "GET",
                f"{base}/{job}/results",
                operation="bulk query results",
                params={"maxRecords": str(self.bulk_page_size)}
                | ({"locator": locator} if locator else {}),
                headers={"Accept": "text/csv"},
                large=True,
            )
            return parse(reply)

        def fetch_link(link: str) -> pa.Table:
            instance = self.sf.base_url.split("/services/")[0]
            reply = self.http.send(
                "GET",
                instance + link,
                operation="bulk query result page",
                headers={"Accept": "text/csv"},
                large=True,
            )
            return parse(reply)[0]

        def parse(reply: requests.Response) -> tuple[pa.Table, str | None]:
            following = reply.headers.get("Sforce-Locator", "null")
            count = reply.headers.get("Sforce-NumberOfRecords")
            table = bulk_page_to_table(
                reply.content,
                names,
                delimiter=BULK_DELIMITER,
                expected_rows=int(count) if count and count.isdigit() else None,
            )
            for name in datetimes:  # the REST text of a datetime, whatever the path
                at = table.column_names.index(name)
                table = table.set_column(at, name, rest_datetime_text(table.column(name)))
            return table, None if not following or following == "null" else following

        # More than one page of our size: read the pages Salesforce lists, in parallel
        # (result_pages); Salesforce then sizes the pages. One page: one call, as before.
        version = float(self.settings.api_version)
        if (
            total > self.bulk_page_size
            and version >= RESULT_PAGES_VERSION
            and self.bulk_read_parallel > 1
        ):
            instance = self.sf.base_url.split("/services/")[0]

            def get_json(url: str) -> bytes:
                absolute = url if url.startswith("https://") else instance + url
                operation = "list bulk query result pages"
                return self.http.send("GET", absolute, operation=operation).content

            links = result_links(get_json, f"{base}/{job}/resultPages")
            for table in in_order(links, fetch_link, self.bulk_read_parallel):
                yield Page(table, total=total, mode="bulk")
                del table
            return
        for table, _ in pages_ahead(fetch(""), itemgetter(1), fetch):
            yield Page(table, total=total, mode="bulk")
            del table  # not held while the next page arrives

    # --- writes and deletions: delegated to the writer part --------------------------------------

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        """The most records one write (200) or one bulk job (100,000) carries."""
        return self.writer.write_limit(op, bulk=bulk)

    @property
    def supports_bulk_write(self) -> bool:
        """True: Bulk API 2.0 ingest jobs are available."""
        return self.writer.supports_bulk_write

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        """Send one batch as one sObject Collections call (see :class:`SalesforceWriter`)."""
        return self.writer.write(batch)

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        """Send one batch as one Bulk API 2.0 ingest job (see :class:`SalesforceWriter`)."""
        return self.writer.write_bulk(batch, on_submitted=on_submitted)

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        """Read back the outcomes of a bulk job sent before a crash."""
        return self.writer.resume_bulk(batch, job)

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> None:
        """None: Salesforce chooses record ids itself."""
        return self.writer.new_record_ids(object_name, seeds)

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        """Find the records an insert of unknown outcome created (see :class:`SalesforceWriter`)."""
        return self.writer.find_created(object_name, records, since, exclude=exclude)

    def read_created(self, object_name: str, ids: Sequence[str]) -> list[CreatedRecord]:
        """When and by whom records were created (see :mod:`.salesforce.created`)."""
        return read_created(self, object_name, ids)

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        """Records deleted in ``[start, end]`` (both included), oldest first (getDeleted)."""
        return self.writer.read_deleted(object_name, start, end)

    def deleted_horizon(self, object_name: str) -> datetime | None:
        """Salesforce's ``earliestDateAvailable`` for an object's deletions (one getDeleted call)."""
        return self.writer.deleted_horizon(object_name)


_NEXT_RECORDS = re.compile(rb'"nextRecordsUrl"\s*:\s*"([^"]+)"')


def _next_records_url(body: bytes) -> str | None:
    """The ``nextRecordsUrl`` of a page, found without parsing the page (it precedes the records)."""
    match = _NEXT_RECORDS.search(body, 0, 2048)
    if match is not None:
        return match.group(1).decode()
    if b'"done":false' in body[:2048].replace(b" ", b""):  # the key is elsewhere: parse to be sure
        found = orjson.loads(body).get("nextRecordsUrl")
        return str(found) if found else None
    return None
