"""The Salesforce protocol of the sandbox: routes, authentication, call counting, faults.

Edge: turns HTTP calls into the REST, OAuth, SOAP (login, undelete) and Bulk API 2.0 handlers, checks
the bearer token, counts API calls the way Salesforce does (every REST and Bulk request
but the versions list; token requests are not API calls, reference §9), enforces the daily
allocation, adds ``Sforce-Limit-Info``, and renders faults and internal errors in
Salesforce's error shape.
"""

from __future__ import annotations

import gzip
import random
import re
import secrets
from collections.abc import Callable

import orjson
from isal import igzip

from crmframes.sandbox.faults import Fault
from crmframes.sandbox.salesforce.auth import (
    Credentials,
    Sessions,
    identity,
    oauth_token,
    revoke,
    soap_login,
    userinfo,
)
from crmframes.sandbox.salesforce.bulk import BulkApi
from crmframes.sandbox.salesforce.composite import Composite
from crmframes.sandbox.salesforce.org import SalesforceOrg
from crmframes.sandbox.salesforce.rest import GZIP_LEVEL, RestApi, accepts_gzip, not_found
from crmframes.sandbox.salesforce.soap import limit_fault, soap_call
from crmframes.sandbox.server import CallCounter, HttpError, Request, Response, Router

__all__ = ["SalesforceApp"]

OLDEST_VERSION = 31.0
_VERSIONED = re.compile(r"/services/data/v(?P<version>\d+\.\d)(?P<rest>/.*)?")
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("/query", "query"),
    ("/queryAll", "query"),
    ("/composite", "composite"),
    ("/jobs/", "bulk2"),
    ("/limits", "limits"),
)
_SOAP_CALL = re.compile(r"/services/Soap/u/\d+\.\d/[0-9A-Za-z]{15}/?")
_BULK_UPLOAD = re.compile(r"/jobs/ingest/[^/]+/batches/?$")
_IDENTITY = re.compile(r"/id/(?P<org>00D[0-9A-Za-z]{12,15})/(?P<user>005[0-9A-Za-z]{12,15})/?")
_SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


class SalesforceApp:
    """One emulated Salesforce org behind the HTTPS server.

    Args:
        org: the org state.
        credentials: the secrets it accepts.
        counter: where API calls are counted.
        base_url: the sandbox's ``https://127.0.0.1:PORT``, set once the port is known.
    """

    def __init__(self, org: SalesforceOrg, credentials: Credentials, counter: CallCounter) -> None:
        self.org = org
        self.credentials = credentials
        self.counter = counter
        self.base_url = ""
        self.sessions = Sessions(org)
        self.rest = RestApi(org)
        self.bulk = BulkApi(org, self.rest)
        self.router = self._routes()

    # --- App protocol --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one call, gzip-compressed when the client accepts it (as Salesforce does)."""
        response = self._answer(request)
        if response.body and accepts_gzip(request) and "Content-Encoding" not in response.headers:
            response.body = igzip.compress(response.body, compresslevel=GZIP_LEVEL, mtime=0)
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
        return response

    def _answer(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/services/oauth2/token"):
            return oauth_token(request, self.sessions, self.credentials, self.base_url)
        if path.rstrip("/") == "/services/oauth2/userinfo" and request.method in ("GET", "POST"):
            return userinfo(request, self.sessions, self.base_url)
        if path.rstrip("/") == "/services/oauth2/revoke":
            return revoke(request, self.sessions, self.credentials)
        person = _IDENTITY.fullmatch(path)
        if person is not None and request.method in ("GET", "POST"):
            return identity(request, self.sessions, self.base_url, person["org"], person["user"])
        match = re.fullmatch(r"/services/Soap/u/(?P<version>\d+\.\d)/?", path)
        if match and request.method == "POST":
            return soap_login(
                request, self.sessions, self.credentials, self.base_url, match["version"]
            )
        if re.fullmatch(r"/services/Soap/u/\d+\.\d/[0-9A-Za-z]{15}/?", path):
            if request.method != "POST":
                raise not_found()
            if self.counter.total() >= self.org.settings.daily_api_limit:
                return limit_fault()
            self.counter.count("soap")  # every SOAP call is an API call, like REST ones
            return soap_call(request, self.sessions, self.rest.writer)
        if path.rstrip("/") == "/services/data":
            return self._versions()
        versioned = _VERSIONED.fullmatch(path)
        if versioned is None:
            raise not_found()
        if not self.sessions.check(_bearer(request)):
            return Response.json(401, _SESSION_EXPIRED, {"WWW-Authenticate": "Token"})
        version = float(versioned["version"])
        if not OLDEST_VERSION <= version <= float(self.org.settings.api_version):
            raise not_found()
        used = self.counter.total()
        if used >= self.org.settings.daily_api_limit:
            return Response.json(
                403,
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
            )
        self.counter.count(_family(versioned["rest"] or "/"))
        handler = self.router.resolve(request)
        if handler is None:
            raise not_found()
        if handler is False:
            allowed = ",".join(self.router.allowed(request.path))
            return Response.json(
                405,
                [
                    {
                        "errorCode": "METHOD_NOT_ALLOWED",
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
                    }
                ],
                {"Allow": allowed},
            )
        assert callable(handler)
        refusal = _media_type_refusal(request)
        if refusal is not None:
            return refusal
        try:
            response = handler(request)
        except HttpError as exc:
            response = exc.response
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={used + 1}/{self.org.settings.daily_api_limit}"
        )
        return response

    # --- what a request did, for the production profile (crmframes.sandbox.profile) --------------

    def limited(self, request: Request) -> bool:
        """Whether a call is an API call the org's limits apply to (REST, Bulk, SOAP; no logins)."""
        return (
            request.path.startswith("/services/data/v")
            or _SOAP_CALL.fullmatch(request.path) is not None
        )

    def work(self, request: Request, response: Response) -> dict[str, int]:
        """Records the call read or wrote, by operation (a Bulk job's rows are timed by the job)."""
        if response.status >= 500 or response.status in (401, 403, 404, 405, 415):
            return {}
        versioned = _VERSIONED.fullmatch(request.path)
        rest = (versioned["rest"] if versioned else None) or "/"
        method, parts = request.method, [p for p in rest.split("/") if p]
        if parts[:1] in (["query"], ["queryAll"]) and method == "GET":
            return {"query": _records_in(response)}
        if parts[:2] == ["composite", "sobjects"]:
            if method == "DELETE":
                return {"delete": _count(request.arg("ids"))}
            if method == "GET" or (method == "POST" and len(parts) == 3):
                return {"query": _count(request.arg("ids")) or len(_json_list(request, "ids"))}
            operation = "create" if method == "POST" else "upsert" if len(parts) == 4 else "update"
            return {operation: len(_json_list(request, "records"))}
        if parts[:1] == ["sobjects"] and len(parts) in (2, 3, 4):
            one = {"POST": "create", "PATCH": "update", "DELETE": "delete", "GET": "query"}
            if method not in one or (len(parts) == 2 and method != "POST"):
                return {}
            return {"upsert" if len(parts) == 4 and method == "PATCH" else one[method]: 1}
        return {}

    def simulate(
        self, object_name: str, *, updates: int, creates: int, deletes: int, rng: random.Random
    ) -> dict[str, int]:
        """Play CRM users: edit, add and delete records server-side (no API calls counted)."""
        obj = self.rest.sobject(object_name)
        writer = self.rest.writer
        origin = ("SIMULATE", f"activity {obj.name}")
        text = next(
            f for f in obj.fields if f.name in ("Title", "Description", "Name") and f.updateable
        )
        done = {"updated": 0, "created": 0, "deleted": 0}
        with self.org.db.lock:
            rows = sorted(self.org.table(obj.name).rows)
            for record_id in rng.sample(rows, min(updates + deletes, len(rows))):
                if done["updated"] < updates:
                    outcome = writer.update(
                        obj, record_id, {text.name: f"Edited {rng.randrange(10**6)}"}, origin=origin
                    )
                    done["updated"] += outcome.success
                else:
                    done["deleted"] += writer.delete(record_id, origin=origin, obj=obj).success
            for number in range(creates):
                values = {
                    "LastName": f"Newcomer {number + 1}",
                    "FirstName": rng.choice(("Ada", "Grace", "Alan")),
                }
                if obj.field("LastName") is None:
                    values = {"Name": f"New {obj.label} {number + 1}"}
                done["created"] += writer.insert(obj, values, origin=origin).success
        return done

    def expire_sessions(self) -> None:
        """End every session now."""
        self.sessions.expire_all()

    def close(self) -> None:
        """Nothing to release: every worker is a daemon thread of the server."""

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Render a request-level fault as Salesforce would answer it."""
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault.kind == "unavailable":
            return Response.json(
                503,
                [
                    {
                        "errorCode": "SERVER_UNAVAILABLE",
                        "message": "Server temporarily unavailable. Please try again later.",
                    }
                ],
                headers,
            )
        if fault.kind == "rate_limited":
            return Response.json(
                403,
                [
                    {
                        "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
                headers,
            )
        if fault.kind == "session_expired":
            self.sessions.revoke(_bearer(request))
            return Response.json(401, _SESSION_EXPIRED)
        return self.error_response(RuntimeError(fault.kind), request)

    def error_response(self, exc: BaseException, request: Request) -> Response:
        """Salesforce's answer to an internal error."""
        ticket = (
            f"{secrets.randbelow(10**9)}-{secrets.randbelow(10**5)} ({secrets.randbelow(10**9)})"
        )
        return Response.json(
            500,
            [
                {
                    "errorCode": "UNKNOWN_EXCEPTION",
                    "message": f"An unexpected error occurred. Please include this ErrorId if you contact "
                    f"support: {ticket}",
                }
            ],
        )

    def http_error(self, status: int, message: str) -> Response:
        """Salesforce's answer to an HTTP-level error (bad framing, oversized headers, timeout)."""
        code = "UNSUPPORTED_MEDIA_TYPE" if status == 415 else "BAD_REQUEST"
        return Response.json(status, [{"errorCode": code, "message": message}])

    # --- routes ---------------------------------------------------------------------------------

    def _versions(self) -> Response:
        newest = int(float(self.org.settings.api_version))
        return Response.json(
            200,
            [
                {"label": f"API {v}.0", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(int(OLDEST_VERSION), newest + 1)
            ],
        )

    def _routes(self) -> Router:
        router = Router()
        rest, bulk = self.rest, self.bulk
        v = r"/services/data/v(?P<version>\d+\.\d)"
        obj = r"(?P<object>[A-Za-z][A-Za-z0-9_]*)"
        add: Callable[..., None] = router.add
        add("GET", v + r"/?", lambda r: rest.resources(r, self.base_url))
        add("GET", v + r"/composite/?", rest.composite)
        add("GET", v + r"/jobs/?", rest.jobs)
        add("GET", v + r"/recent/?", rest.recent)
        add("GET", v + r"/limits/?", lambda r: rest.limits(r, self.counter.total()))
        add("GET", v + r"/sobjects/?", rest.describe_global)
        add("GET", v + rf"/sobjects/{obj}/?", rest.sobject_info)
        add("POST", v + rf"/sobjects/{obj}/?", rest.create)
        add("GET", v + rf"/sobjects/{obj}/describe/?", rest.describe)
        add("GET", v + rf"/sobjects/{obj}/deleted/?", rest.deleted)
        add("GET", v + rf"/sobjects/{obj}/updated/?", rest.updated)
        add(("GET", "PATCH", "DELETE"), v + rf"/sobjects/{obj}/(?P<id>[^/]+)/?", rest.record)
        add(
            ("GET", "PATCH", "DELETE"),
            v + rf"/sobjects/{obj}/(?P<field>[^/]+)/(?P<value>[^/]+)/?",
            rest.by_external_id,
        )
        add("GET", v + r"/query/?", lambda r: rest.query(r, include_deleted=False))
        add("GET", v + r"/queryAll/?", lambda r: rest.query(r, include_deleted=True))
        add("GET", v + r"/(?:query|queryAll)/(?P<locator>[A-Za-z0-9]+-\d+)/?", rest.query_more)
        add("POST", v + r"/composite/sobjects/?", rest.collection_create)
        add("PATCH", v + r"/composite/sobjects/?", rest.collection_update)
        add("DELETE", v + r"/composite/sobjects/?", rest.collection_delete)
        add(
            "PATCH",
            v + rf"/composite/sobjects/{obj}/(?P<field>[A-Za-z0-9_]+)/?",
            rest.collection_upsert,
        )
        add(("GET", "POST"), v + rf"/composite/sobjects/{obj}/?", rest.collection_retrieve)
        composite = Composite(router, self.org.db)
        add("POST", v + r"/composite/?", composite.handle)
        add("POST", v + r"/composite/batch/?", composite.handle_batch)
        bulk.add_routes(router, v)
        return router


def _bearer(request: Request) -> str | None:
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return request.header("X-SFDC-Session")


def _media_type_refusal(request: Request) -> Response | None:
    """415 for a REST body that is not JSON (Bulk uploads check for CSV themselves)."""
    if not request.body or request.method not in ("POST", "PATCH", "PUT"):
        return None
    if _BULK_UPLOAD.search(request.path):
        return None
    declared = request.header("Content-Type") or ""
    media = declared.split(";", 1)[0].strip().lower()
    if media == "application/json":
        return None
    # Salesforce's wording (nforce#74); it also takes XML, which the sandbox does not speak.
    return Response.json(
        415,
        [
            {
                "errorCode": "UNSUPPORTED_MEDIA_TYPE",
                "message": f"MediaType of '{media or 'none'}' is not supported by this resource"
                + ("; the sandbox speaks JSON only" if "xml" in media else ""),
            }
        ],
    )


def _count(ids: str | None) -> int:
    return len([i for i in (ids or "").split(",") if i])


def _json_list(request: Request, key: str) -> list[object]:
    try:
        body = request.json()
    except ValueError:
        return []
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, list) else []


def _records_in(response: Response) -> int:
    body = response.body
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)  # a count of records: the stdlib's speed will do
    try:
        page = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    records = page.get("records") if isinstance(page, dict) else None
    return len(records) if isinstance(records, list) else 0


def _family(rest: str) -> str:
    for prefix, family in _FAMILIES:
        if rest.startswith(prefix):
            return family
    if rest.startswith("/sobjects"):
        parts = [p for p in rest.split("/") if p]
        if len(parts) <= 1 or (len(parts) == 3 and parts[2] == "describe"):
            return "describe"
        if len(parts) == 3 and parts[2] in ("deleted", "updated"):
            return "replication"
        return "sobjects"
    return "other"
