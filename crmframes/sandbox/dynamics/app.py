"""The Dynamics 365 / Dataverse protocol of the sandbox: routes, bearer tokens, counts, faults.

Edge: identity calls go to :mod:`~crmframes.sandbox.dynamics.identity`; ``/api/data/v9.x/``
calls are authenticated (401 with ``WWW-Authenticate`` otherwise), counted (a ``$batch``
counts once, as for service protection), checked against the request allocation (429 with
``Retry-After``), and routed to metadata, ``$batch`` or the entity sets. Faults and
internal errors are rendered in Dataverse's error shape (reference/dataverse-api.md §7).
"""

from __future__ import annotations

import random
import re
from typing import Any
from urllib.parse import unquote

import orjson

from crmframes.sandbox.dynamics.batch import BatchError, execute_batch, parse_batch
from crmframes.sandbox.dynamics.identity import DynamicsCredentials, Identity
from crmframes.sandbox.dynamics.metadata import Metadata
from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.dynamics.records import Changes
from crmframes.sandbox.dynamics.refs import associate
from crmframes.sandbox.dynamics.values import ODATA_HEADERS, DataverseError, error_response
from crmframes.sandbox.dynamics.webapi import NOT_FOUND_SEGMENT, EntitySets, Preferences
from crmframes.sandbox.faults import Fault
from crmframes.sandbox.server import CallCounter, HttpError, Request, Response

__all__ = ["DynamicsApp"]

_WEB_API = re.compile(r"/api/data/v9\.[0-2](?P<rest>/.*)?")
_TENANT = re.compile(r"/(?P<tenant>[A-Za-z0-9.-]+)(?P<rest>/.*)")
_THROTTLED = (
    "0x80072322",
    "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
)


class DynamicsApp:
    """One emulated Dataverse environment (and its tenant) behind the HTTPS server."""

    def __init__(
        self, org: DataverseOrg, credentials: DynamicsCredentials, counter: CallCounter
    ) -> None:
        self.org = org
        self.counter = counter
        self.identity = Identity(org, credentials)
        self.metadata = Metadata(org.schema)
        self.sets = EntitySets(org)
        self._base_url = ""

    @property
    def credentials(self) -> DynamicsCredentials:
        """The secrets the environment accepts."""
        return self.identity.credentials

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value
        self.identity.base_url = value
        self.sets.base_url = value
        self.metadata.root = f"{value}/api/data/v9.2/"

    # --- App protocol --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one call."""
        web = _WEB_API.fullmatch(request.path)
        if web is None:
            tenant = _TENANT.fullmatch(request.path)
            if tenant is not None:
                return self.identity.handle(request, tenant["tenant"], tenant["rest"])
            raise DataverseError(
                404,
                NOT_FOUND_SEGMENT,
                f"Resource not found for the segment '{request.path.strip('/')}'.",
            ).http()
        token = _bearer(request)
        if not self.identity.check(token):
            return Response.empty(
                401,
                {
                    **ODATA_HEADERS,
                    "WWW-Authenticate": (
                        f"Bearer authorization_uri={self.base_url}/{self.credentials.tenant_id}/oauth2/authorize, "
                        f"resource_id={self.base_url}/"
                    ),
                },
            )
        if self.counter.total() >= self.org.settings.daily_api_limit:
            return error_response(429, *_THROTTLED, {"Retry-After": "300"})
        rest = unquote((web["rest"] or "/")[1:])
        self.counter.count(_family(request.method, rest))
        if rest == "$batch" and request.method == "POST":
            return self._batch(request)
        refusal = _media_type_refusal(request)
        if refusal is not None:
            return refusal
        return self.route(request, rest)

    def route(self, request: Request, rest: str) -> Response:
        """Answer a Web API call by its path below ``/api/data/v9.2/`` (also used by ``$batch``)."""
        try:
            if rest in ("", "$metadata") and request.method != "GET":
                # ASP.NET Web API's answer when the resource has no action for the verb
                # [unverified for Dataverse].
                return error_response(
                    405,
                    "",
                    f"The requested resource does not support http method '{request.method}'.",
                )
            if rest == "":
                return self.metadata.service_document()
            if rest == "$metadata":
                return self.metadata.csdl()
            if rest.startswith("EntityDefinitions"):
                return self.metadata.definitions(request, rest)
            if rest in ("WhoAmI", "WhoAmI()"):
                return self._who_am_i(request)
            if rest.endswith("/$ref"):
                return associate(request, rest, self.org.schema, self.sets.writer)
            return self.sets.handle(request, rest)
        except HttpError as exc:
            return exc.response

    # --- what a request did, for the production profile (crmframes.sandbox.profile) --------------

    def limited(self, request: Request) -> bool:
        """Whether a call is a Web API call (service protection applies; identity calls not)."""
        return _WEB_API.fullmatch(request.path) is not None

    def work(self, request: Request, response: Response) -> dict[str, int]:
        """Records the call read or wrote, by operation; a ``$batch`` sums its parts."""
        if response.status >= 500 or response.status in (401, 404, 405, 415):
            return {}
        web = _WEB_API.fullmatch(request.path)
        rest = unquote(((web["rest"] if web else None) or "/")[1:])
        if rest == "$batch":
            done: dict[str, int] = {}
            for method, path, if_match in _batch_parts(request.body):
                for operation, n in _one_call(method, path, if_match).items():
                    done[operation] = done.get(operation, 0) + n
            return done
        if request.method == "GET" and response.status == 200 and "(" not in rest:
            return {"query": _rows_in(response)} if "EntityDefinitions" not in rest else {}
        action = rest.rsplit("Microsoft.Dynamics.CRM.", 1)[-1] if ".CRM." in rest else ""
        if action in _MULTIPLE and request.method == "POST":
            try:
                targets = request.json().get("Targets")
            except (ValueError, AttributeError):
                return {}
            return {_MULTIPLE[action]: len(targets) if isinstance(targets, list) else 0}
        return _one_call(request.method, rest, request.header("If-Match") is not None)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Render a request-level fault as Dataverse would answer it."""
        if fault.kind == "rate_limited":
            retry = f"{fault.retry_after:g}" if fault.retry_after is not None else "5"
            return error_response(429, *_THROTTLED, {"Retry-After": retry})
        if fault.kind == "unavailable":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return error_response(
                503,
                "0x80040216",
                "The service is temporarily unavailable. Please try again later.",
                headers,
            )
        if fault.kind == "session_expired":
            self.identity.revoke(_bearer(request))
            return Response.empty(
                401,
                {
                    **ODATA_HEADERS,
                    "WWW-Authenticate": 'Bearer error="invalid_token", '
                    'error_description="The access token is expired"',
                },
            )
        return self.error_response(RuntimeError(fault.kind), request)

    def error_response(self, exc: BaseException, request: Request) -> Response:
        """Dataverse's answer to an internal error."""
        return error_response(500, "0x80040216", "An unexpected error occurred.")

    def http_error(self, status: int, message: str) -> Response:
        """Dataverse's answer to an HTTP-level error (bad framing, oversized headers, timeout).

        Errors raised before OData routing carry an empty ``code`` (reference §7; Microsoft's
        "Troubleshoot Dataverse Web API client errors" shows one).
        """
        return error_response(status, "", message)

    def simulate(
        self, object_name: str, *, updates: int, creates: int, deletes: int, rng: random.Random
    ) -> dict[str, int]:
        """Play CRM users: edit, add and delete records server-side (no API calls counted)."""
        entity = self.org.schema.get(object_name) or self.org.schema.by_set(object_name)
        if entity is None or not entity.writable or entity.single_row:
            raise DataverseError(404, "0x80060888", f"no writable table {object_name!r}")
        writer = self.sets.writer
        origin = ("SIMULATE", f"activity {entity.logical_name}")
        text = next(
            a.logical_name
            for a in entity.attributes
            if a.logical_name in ("jobtitle", "description", "name", "subject")
            and a.valid_for_update
        )
        done = {"updated": 0, "created": 0, "deleted": 0}
        with self.org.db.lock:
            table = self.org.table(entity.logical_name)
            for record_id in rng.sample(
                sorted(table.rows), min(updates + deletes, len(table.rows))
            ):
                existing = table.rows[record_id]
                if done["updated"] < updates:
                    writer.update(
                        entity,
                        existing,
                        Changes(values={text: f"Edited {rng.randrange(10**6)}"}),
                        origin=origin,
                    )
                    done["updated"] += 1
                else:
                    writer.delete(entity, existing, origin=origin)
                    done["deleted"] += 1
            for number in range(creates):
                primary = (
                    "lastname" if entity.attribute("lastname") else entity.primary_name or "name"
                )
                values = {primary: f"Newcomer {number + 1}"}
                if primary == "lastname":
                    values["firstname"] = rng.choice(("Ada", "Grace", "Alan"))
                writer.create(entity, Changes(values=values), origin=origin)
                done["created"] += 1
        return done

    def expire_sessions(self) -> None:
        """Invalidate every access token issued so far."""
        self.identity.revoke_all()

    def close(self) -> None:
        """Nothing to release: every worker is a daemon thread of the server."""

    # --- pieces ---------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        try:
            items = parse_batch(request.body, request.header("Content-Type") or "")
        except BatchError as exc:
            return exc.response()
        prefs = Preferences.parse(request.header("Prefer"))
        return execute_batch(
            items,
            handle=self._inner,
            transaction=self.org.db.transaction,
            api_root="/api/data/v9.2",
            continue_on_error=prefs.continue_on_error,
            base_url=self.base_url,
        )

    def _inner(self, request: Request) -> Response:
        web = _WEB_API.fullmatch(request.path)
        if web is None:
            return error_response(
                400, "0x80060888", f"The URL '{request.target}' is not a Web API URL."
            )
        try:
            return self.route(request, unquote((web["rest"] or "/")[1:]))
        except Exception as exc:  # one bad part must not break the batch
            return self.error_response(exc, request)

    def _who_am_i(self, request: Request) -> Response:
        if request.method != "GET":  # a function answers GET only (web-api-client-errors)
            return error_response(
                404,
                "",
                "No HTTP resource was found that matches the request URI "
                f"'{self.base_url}{request.path}'.",
            )
        return Response.json(
            200,
            {
                "@odata.context": f"{self.base_url}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": self.org.guid("businessunit"),
                "UserId": self.org.integration_user_id,
                "OrganizationId": self.org.guid("organization"),
            },
            ODATA_HEADERS,
        )

    def api_info(self) -> dict[str, Any]:
        """What a client needs to reach this environment."""
        return {"url": self.base_url, "authority": f"{self.base_url}/{self.credentials.tenant_id}"}


def _bearer(request: Request) -> str | None:
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _media_type_refusal(request: Request) -> Response | None:
    """415 for a body that is not JSON, in ASP.NET Web API's words (no type: octet-stream)."""
    if not request.body or request.method not in ("POST", "PATCH", "PUT"):
        return None
    declared = request.header("Content-Type") or ""
    media = declared.split(";", 1)[0].strip().lower() or "application/octet-stream"
    if media == "application/json":
        return None
    return error_response(
        415,
        "",
        f"The request entity's media type '{media}' is not supported for this resource.",
    )


_MULTIPLE = {"CreateMultiple": "create", "UpdateMultiple": "update", "UpsertMultiple": "upsert"}
_BATCH_PART = re.compile(
    rb"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1\r?\n((?:[^\r\n]+\r?\n)*)", re.MULTILINE
)


def _batch_parts(body: bytes) -> list[tuple[str, str, bool]]:
    """The parts of a ``$batch`` body: method, path, whether it carries ``If-Match``."""
    return [
        (m[1].decode(), m[2].decode("utf-8", "replace"), b"if-match:" in m[3].lower())
        for m in _BATCH_PART.finditer(body)
    ]


def _one_call(method: str, path: str, if_match: bool) -> dict[str, int]:
    """One record's work: ``PATCH`` is an upsert unless ``If-Match`` makes it an update."""
    if method == "GET":
        return {"query": 1}
    if method == "POST":
        return {"create": 1}
    if method in ("PATCH", "PUT"):
        return {"update" if if_match else "upsert": 1}
    return {"delete": 1} if method == "DELETE" else {}


def _rows_in(response: Response) -> int:
    try:
        page = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return 0
    rows = page.get("value") if isinstance(page, dict) else None
    return len(rows) if isinstance(rows, list) else 1


def _family(method: str, rest: str) -> str:
    if rest == "$batch":
        return "batch"
    if rest.startswith("EntityDefinitions") or rest in ("", "$metadata"):
        return "metadata"
    if method == "GET":
        return "retrieve" if re.match(r"[A-Za-z_]\w*\(", rest) else "query"
    if rest.endswith((".UpdateMultiple", ".UpsertMultiple", "/$ref")):
        return "update"  # a $ref PUT / DELETE sets or clears a lookup
    return {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}.get(
        method, "other"
    )
