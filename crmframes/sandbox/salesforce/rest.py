"""Salesforce REST resources of the sandbox: describe, query paging, CRUD, collections, replication.

Edge: the ``/services/data/vXX.X/...`` resources of reference/salesforce-api.md §2-7, built
on the org state, the SOQL engine and the write engine. Each handler takes a
:class:`~crmframes.sandbox.server.Request` and returns a
:class:`~crmframes.sandbox.server.Response` in the real wire shapes.

Longer than 500 lines: the REST resources of one API share the org state, the query cursor and
the error shapes; one short handler per resource.
"""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from isal import igzip

from crmframes.sandbox.salesforce.ids import IdFactory, normalize_id
from crmframes.sandbox.salesforce.org import RECYCLE_BIN_DAYS, UPDATED_HORIZON_DAYS, SalesforceOrg
from crmframes.sandbox.salesforce.records import RecordError, RequestError, WriteOutcome, Writer
from crmframes.sandbox.salesforce.schema import SfObject
from crmframes.sandbox.salesforce.soql import QueryPlan, SoqlError, parse_soql, plan_query
from crmframes.sandbox.salesforce.values import CoercionError, format_datetime, parse_datetime
from crmframes.sandbox.server import HttpError, Request, Response

__all__ = ["GZIP_LEVEL", "RestApi", "accepts_gzip", "not_found"]

DEFAULT_BATCH = 2000
MIN_BATCH = 200
COLLECTION_LIMIT = 200
RETRIEVE_LIMIT = 2000  # ids per collection retrieve (REST API, sObject Collections)
# Query locators (reference/salesforce-api.md §2.3). Before API 56.0 a user had at most 10
# open cursors (opening an 11th released the oldest) and a cursor expired after 15 minutes
# idle; since 56.0 there is no count limit and a cursor's results stay 2 days from the query
# ("API Query Cursor Limits", Salesforce app limits cheatsheet). The sandbox has one API
# user, so "per user" is the whole org; it remembers at most MAX_CURSORS cursors (memory).
LEGACY_CURSOR_VERSION = 56.0
LEGACY_MAX_CURSORS = 10
CURSOR_IDLE_SECONDS = 15 * 60
CURSOR_LIFETIME_SECONDS = 2 * 24 * 3600
MAX_CURSORS = 200
REPLICATION_ID_LIMIT = 600_000
GZIP_LEVEL = 1  # cheap for the sandbox's CPU; the wire format is the same at any level
# ISA-L's gzip (isal) compresses ~6x faster than zlib at level 1, for the same wire format


def not_found(message: str = "The requested resource does not exist") -> HttpError:
    """The 404 the REST API gives for an unknown resource."""
    return HttpError(Response.json(404, [{"errorCode": "NOT_FOUND", "message": message}]))


def _bad_request(code: str, message: str, status: int = 400) -> HttpError:
    return HttpError(Response.json(status, [{"message": message, "errorCode": code}]))


@dataclass
class _Cursor:
    plan: QueryPlan
    rows: list[dict[str, Any]]
    batch: int
    last_used: float
    ahead: tuple[tuple[int, int, str, bool], Future[bytes]] | None = None
    opened: float = 0.0
    legacy: bool = False  # opened through an API version before 56.0

    def expired(self, now: float) -> bool:
        if self.legacy:
            return now - self.last_used > CURSOR_IDLE_SECONDS
        return now - self.opened > CURSOR_LIFETIME_SECONDS


class RestApi:
    """The REST resources of one org."""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self.writer = Writer(org)
        self._cursors: collections.OrderedDict[str, _Cursor] = collections.OrderedDict()
        self._cursor_lock = threading.Lock()
        self._locators = IdFactory("01g")

    # --- helpers -----------------------------------------------------------------------------

    def sobject(self, name: str) -> SfObject:
        """Return the object named in a URL, or raise the REST 404."""
        obj = self.org.schema.get(name)
        if obj is None:
            raise not_found()
        return obj

    def _project_all(
        self, obj: SfObject, record: dict[str, Any], version: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        names = fields or obj.field_names
        soql = f"SELECT {', '.join(names)} FROM {obj.name}"
        try:
            plan = plan_query(parse_soql(soql), self.org.schema)
        except SoqlError as exc:
            raise _bad_request(exc.code, exc.message) from exc
        return plan.project(record, self.org, version)

    # --- resources, describe, limits ---------------------------------------------------------------

    def resources(self, request: Request, base_url: str) -> Response:
        """``GET /services/data/vXX.X/``: the resource directory, only resources that answer.

        ``identity`` is the absolute identity URL, as Salesforce lists it; ``base_url`` is
        the sandbox's ``https://127.0.0.1:PORT``.
        """
        base = f"/services/data/v{request.params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "recent", "jobs")
        directory = {name: f"{base}/{name}" for name in names}
        directory["identity"] = f"{base_url}/id/{self.org.org_id}/{self.org.integration_user_id}"
        return Response.json(200, directory)

    def composite(self, request: Request) -> Response:
        """``GET /composite/``: the composite resources the sandbox serves."""
        base = f"/services/data/v{request.params['version']}/composite"
        return Response.json(200, {"batch": f"{base}/batch", "sobjects": f"{base}/sobjects"})

    def jobs(self, request: Request) -> Response:
        """``GET /jobs/``: the Bulk API 2.0 job families."""
        base = f"/services/data/v{request.params['version']}/jobs"
        return Response.json(200, {"ingest": f"{base}/ingest", "query": f"{base}/query"})

    def recent(self, request: Request) -> Response:
        """``GET /recent/``: recently viewed records; nobody views records in the sandbox."""
        return Response.json(200, [])

    def describe_global(self, request: Request) -> Response:
        """``GET /sobjects/``: the describe-global list."""
        version = request.params["version"]
        return Response.json(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_LIMIT,
                "sobjects": [o.header(version) for o in self.org.schema.objects.values()],
            },
        )

    def sobject_info(self, request: Request) -> Response:
        """``GET /sobjects/{Obj}/``: basic information and recent items."""
        obj = self.sobject(request.params["object"])
        return Response.json(
            200, {"objectDescribe": obj.header(request.params["version"]), "recentItems": []}
        )

    def describe(self, request: Request) -> Response:
        """``GET /sobjects/{Obj}/describe``."""
        obj = self.sobject(request.params["object"])
        return Response.json(200, obj.describe(request.params["version"], self.org.schema))

    def limits(self, request: Request, used: int) -> Response:
        """``GET /limits/``: the org's allocations."""
        cap = self.org.settings.daily_api_limit

        def entry(maximum: int, remaining: int) -> dict[str, int]:
            return {"Max": maximum, "Remaining": remaining}

        return Response.json(
            200,
            {
                "ConcurrentAsyncGetReportInstances": entry(200, 200),
                "DailyApiRequests": entry(cap, max(cap - used, 0)),
                "DailyAsyncApexExecutions": entry(250000, 250000),
                "DailyBulkApiBatches": entry(15000, 15000),
                "DailyBulkV2QueryFileStorageMB": entry(976562, 976562),
                "DailyBulkV2QueryJobs": entry(10000, 10000),
                "DataStorageMB": entry(1024, 1000),
                "FileStorageMB": entry(1024, 1024),
                "HourlyODataCallout": entry(10000, 10000),
            },
        )

    # --- query -----------------------------------------------------------------------------------

    def query(self, request: Request, *, include_deleted: bool) -> Response:
        """``GET /query?q=`` and ``GET /queryAll?q=``: run SOQL and return the first page."""
        text = request.arg("q")
        if not text:
            raise _bad_request("MALFORMED_QUERY", "A query string has to be specified")
        try:
            plan = plan_query(parse_soql(text), self.org.schema)
        except SoqlError as exc:
            raise _bad_request(exc.code, exc.message) from exc
        records = self.org.scan(plan.object.name, include_deleted=include_deleted)
        now = self.org.clock.now()
        if plan.is_count:
            total = plan.count(records, self.org, now=now)
            total = max(0, total - (plan.offset or 0))
            if plan.limit is not None:
                total = min(total, plan.limit)
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        if plan.aggregate is not None:  # GROUP BY answers come whole, without a locator
            groups = plan.aggregate.run(records, self.org, now=now)
            return Response.json(200, {"totalSize": len(groups), "done": True, "records": groups})
        rows = plan.execute(records, self.org, now=now)
        opened = self.org.clock.timestamp()
        cursor = _Cursor(
            plan,
            rows,
            self._batch_size(request, DEFAULT_BATCH),
            opened,
            opened=opened,
            legacy=float(request.params["version"]) < LEGACY_CURSOR_VERSION,
        )
        return self._page(request, cursor, None, 0)

    def query_more(self, request: Request) -> Response:
        """``GET /query/{locator}-{offset}``: the next page of an open cursor."""
        locator, _, offset_text = request.params["locator"].partition("-")
        with self._cursor_lock:
            cursor = self._cursors.get(locator)
            now = self.org.clock.timestamp()
            if cursor is not None and cursor.expired(now):
                del self._cursors[locator]
                cursor = None
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.rows):
            raise _bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = now
        cursor.batch = self._batch_size(request, cursor.batch)
        return self._page(request, cursor, locator, int(offset_text))

    def _batch_size(self, request: Request, default: int) -> int:
        options = request.header("Sforce-Query-Options") or ""
        for part in options.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "batchsize" and value.strip().isdigit():
                return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
        return default

    def _page(
        self, request: Request, cursor: _Cursor, locator: str | None, offset: int
    ) -> Response:
        version = request.params["version"]
        total = len(cursor.rows)
        end = min(offset + cursor.batch, total)
        if end < total and locator is None:
            locator = self._open_cursor(cursor)
        packed = accepts_gzip(request)
        prepared = cursor.ahead
        if prepared is not None and prepared[0] == (offset, end, version, packed):
            body = prepared[1].result()
        else:
            body = self._render(cursor, offset, end, version, locator, packed=packed)
        cursor.ahead = None
        response = Response.raw(200, body, "application/json;charset=UTF-8")
        if packed:  # compressed here, so the next page is compressed ahead too
            response.headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        if end < total:
            # Render the next page once this one is sent, in the same thread, while the
            # client reads: paging then costs the slower side, not the sum of both (and no
            # second thread fights this one for the GIL).
            following = min(end + cursor.batch, total)
            ahead: Future[bytes] = Future()
            cursor.ahead = ((end, following, version, packed), ahead)

            def render_ahead() -> None:
                if ahead.set_running_or_notify_cancel():
                    try:
                        page = self._render(cursor, end, following, version, locator, packed=packed)
                        ahead.set_result(page)
                    except Exception as exc:  # surfaces when that page is asked for
                        ahead.set_exception(exc)

            response.after = render_ahead
        elif locator is not None:
            with self._cursor_lock:
                self._cursors.pop(locator, None)
        return response

    def _render(
        self,
        cursor: _Cursor,
        offset: int,
        end: int,
        version: str,
        locator: str | None,
        *,
        packed: bool = False,
    ) -> bytes:
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if end < len(cursor.rows):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = cursor.plan.project_many(cursor.rows[offset:end], self.org, version)
        data = orjson.dumps(body)
        return igzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if packed else data

    def _open_cursor(self, cursor: _Cursor) -> str:
        locator = self._locators.next()
        with self._cursor_lock:
            self._cursors[locator] = cursor
            while len(self._cursors) > MAX_CURSORS:  # the oldest cursor is released first
                self._cursors.popitem(last=False)
            # a cursor opened before API 56.0 is released once 10 newer ones are open
            older = list(self._cursors.items())[:-LEGACY_MAX_CURSORS]
            for name, known in older:
                if known.legacy:
                    del self._cursors[name]
        return locator

    # --- single records ------------------------------------------------------------------------------

    def _origin(self, request: Request) -> tuple[str, str]:
        return request.method, request.target

    def _record_body(self, obj: SfObject, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except orjson.JSONDecodeError as exc:
            raise _bad_request(
                "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}"
            ) from exc
        try:
            return self.writer.read_json_record(obj, body)
        except RequestError as exc:
            raise HttpError(Response.json(exc.status, exc.body())) from exc

    @staticmethod
    def _single_error(outcome: WriteOutcome) -> HttpError:
        # An error without fields is about the addressed record itself: 404 (unknown or
        # deleted); errors about field values are 400 with the fields named.
        error = outcome.errors[0]
        if error.status_code == "INVALID_CROSS_REFERENCE_KEY" and not error.fields:
            return not_found()
        status = 404 if error.status_code == "ENTITY_IS_DELETED" and not error.fields else 400
        return HttpError(
            Response.json(
                status,
                [
                    {"message": e.message, "errorCode": e.status_code, "fields": e.fields}
                    for e in outcome.errors
                ],
            )
        )

    def create(self, request: Request) -> Response:
        """``POST /sobjects/{Obj}/``: create one record (201)."""
        obj = self.sobject(request.params["object"])
        values = self._record_body(obj, request)
        if "Id" in values:
            raise _bad_request("INVALID_FIELD", "Cannot specify Id in an insert call")
        with self.org.db.lock:
            outcome = self.writer.insert(obj, values, origin=self._origin(request))
        if not outcome.success:
            raise self._single_error(outcome)
        return Response.json(201, {"id": outcome.id, "success": True, "errors": []})

    def record(self, request: Request) -> Response:
        """``GET|PATCH|DELETE /sobjects/{Obj}/{Id}`` (an id; a bare field name is a 404)."""
        obj = self.sobject(request.params["object"])
        ident = request.params["id"]
        key = normalize_id(ident)
        if key is None or key[:3] != obj.key_prefix:
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {ident}"
            )
        if request.method == "GET":
            record = self._read(obj, ident)
            fields = self._fields_arg(request)
            return Response.json(
                200, self._project_all(obj, record, request.params["version"], fields)
            )
        if request.method == "DELETE":
            with self.org.db.lock:
                outcome = self.writer.delete(ident, origin=self._origin(request), obj=obj)
        else:
            values = self._record_body(obj, request)
            with self.org.db.lock:
                outcome = self.writer.update(obj, ident, values, origin=self._origin(request))
        if not outcome.success:
            raise self._single_error(outcome)
        return Response.empty(204)

    def _fields_arg(self, request: Request) -> list[str] | None:
        text = request.arg("fields")
        return [f.strip() for f in text.split(",") if f.strip()] if text else None

    def _read(self, obj: SfObject, ident: str) -> dict[str, Any]:
        key = normalize_id(ident)
        record = self.org.get(obj.name, key) if key else None
        if record is None:
            if key and self.org.find_deleted(obj.name, key) is not None:
                raise HttpError(
                    Response.json(
                        404, [{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]
                    )
                )
            raise not_found()
        return record

    def by_external_id(self, request: Request) -> Response:
        """``GET|PATCH|DELETE /sobjects/{Obj}/{Field}/{value}``: read, upsert or delete by external id."""
        obj = self.sobject(request.params["object"])
        key_field = obj.field(request.params["field"])
        if key_field is None or not (key_field.external_id or key_field.id_lookup):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: "
                f"{request.params['field']}"
            )
        value = request.params["value"]
        version = request.params["version"]
        if request.method == "PATCH":
            values = self._record_body(obj, request)
            with self.org.db.lock:
                matches = (
                    self.writer.find_by(obj, key_field, value) if key_field.name != "Id" else []
                )
                if len(matches) > 1:
                    return Response.json(
                        300, [f"/services/data/v{version}/sobjects/{obj.name}/{m}" for m in matches]
                    )
                outcome = self.writer.upsert(
                    obj, key_field, value, values, origin=self._origin(request)
                )
            if not outcome.success:
                raise self._single_error(outcome)
            status = 201 if outcome.created else 200
            return Response.json(
                status,
                {"id": outcome.id, "success": True, "errors": [], "created": bool(outcome.created)},
            )
        matches = self.writer.find_by(obj, key_field, value)
        if not matches:
            raise not_found()
        if len(matches) > 1:
            return Response.json(
                300, [f"/services/data/v{version}/sobjects/{obj.name}/{m}" for m in matches]
            )
        if request.method == "DELETE":
            with self.org.db.lock:
                outcome = self.writer.delete(matches[0], origin=self._origin(request), obj=obj)
            if not outcome.success:
                raise self._single_error(outcome)
            return Response.empty(204)
        record = self._read(obj, matches[0])
        return Response.json(
            200, self._project_all(obj, record, version, self._fields_arg(request))
        )

    # --- sObject Collections ---------------------------------------------------------------------------

    def _collection_body(self, request: Request) -> tuple[bool, list[Any]]:
        try:
            body = request.json()
        except orjson.JSONDecodeError as exc:
            raise _bad_request(
                "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}"
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise _bad_request(
                "JSON_PARSER_ERROR", "The request body must be an object with a records array"
            )
        records = body["records"]
        if len(records) > COLLECTION_LIMIT:
            raise _bad_request(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        return bool(body.get("allOrNone", False)), records

    def _typed_records(
        self, records: list[Any], fixed: SfObject | None
    ) -> list[tuple[SfObject, dict[str, Any], Any]]:
        typed = []
        for index, raw in enumerate(records):
            if not isinstance(raw, dict):
                raise _bad_request(
                    "JSON_PARSER_ERROR", f"The record at index {index} is not an object"
                )
            obj = fixed
            if obj is None:
                kind = (
                    (raw.get("attributes") or {}).get("type")
                    if isinstance(raw.get("attributes"), dict)
                    else None
                )
                if not kind:
                    raise _bad_request(
                        "INVALID_TYPE", f"No type information for record at index {index}"
                    )
                found = self.org.schema.get(str(kind))
                if found is None:
                    raise _bad_request("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
                obj = found
            try:
                values = self.writer.read_json_record(obj, raw)
            except RequestError as exc:
                raise HttpError(Response.json(exc.status, exc.body())) from exc
            typed.append((obj, values, raw.get("id") if "id" in raw else raw.get("Id")))
        return typed

    def _run_collection(
        self, all_or_none: bool, work: list[Any], run: Any, *, upsert: bool = False
    ) -> Response:
        with self.org.db.transaction() as tx:
            outcomes: list[WriteOutcome] = [run(item) for item in work]
            if all_or_none and any(not o.success for o in outcomes):
                tx.rollback()
                rolled = RecordError(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all "
                    "records were valid and the request was using AllOrNone header",
                )
                outcomes = [
                    o if not o.success else WriteOutcome(None, errors=[rolled]) for o in outcomes
                ]
        return Response.json(200, [o.as_result(upsert=upsert) for o in outcomes])

    def collection_create(self, request: Request) -> Response:
        """``POST /composite/sobjects``: create up to 200 records."""
        all_or_none, records = self._collection_body(request)
        work = self._typed_records(records, None)
        origin = self._origin(request)

        def run(item: tuple[SfObject, dict[str, Any], Any]) -> WriteOutcome:
            obj, values, _ = item
            if values.get("Id") is not None:
                return WriteOutcome(
                    None,
                    errors=[
                        RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
                    ],
                )
            return self.writer.insert(obj, values, origin=origin)

        return self._run_collection(all_or_none, work, run)

    def collection_update(self, request: Request) -> Response:
        """``PATCH /composite/sobjects``: update up to 200 records by id."""
        all_or_none, records = self._collection_body(request)
        work = self._typed_records(records, None)
        origin = self._origin(request)

        def run(item: tuple[SfObject, dict[str, Any], Any]) -> WriteOutcome:
            obj, values, record_id = item
            if record_id in (None, ""):
                return WriteOutcome(
                    None,
                    errors=[
                        RecordError(
                            "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]
                        )
                    ],
                )
            return self.writer.update(obj, record_id, values, origin=origin)

        return self._run_collection(all_or_none, work, run)

    def collection_upsert(self, request: Request) -> Response:
        """``PATCH /composite/sobjects/{Obj}/{ExtField}``: upsert up to 200 records."""
        obj = self.sobject(request.params["object"])
        key_field = obj.field(request.params["field"])
        if key_field is None or not (key_field.external_id or key_field.id_lookup):
            raise _bad_request(
                "INVALID_FIELD",
                f"Field name provided, {request.params['field']} is not an "
                f"External ID or indexed field for {obj.name}",
            )
        all_or_none, records = self._collection_body(request)
        work = self._typed_records(records, obj)
        origin = self._origin(request)
        counts = collections.Counter(
            str(values.get(key_field.name)).lower()
            for _, values, _ in work
            if values.get(key_field.name) is not None
        )

        def run(item: tuple[SfObject, dict[str, Any], Any]) -> WriteOutcome:
            _, values, record_id = item
            key_value = record_id if key_field.name == "Id" else values.get(key_field.name)
            if key_value is not None and counts[str(key_value).lower()] > 1:
                return WriteOutcome(
                    None,
                    errors=[
                        RecordError(
                            "DUPLICATE_EXTERNAL_ID",
                            f"Duplicate external id specified: {key_value}",
                            [key_field.name],
                        )
                    ],
                )
            return self.writer.upsert(obj, key_field, key_value, values, origin=origin)

        return self._run_collection(all_or_none, work, run, upsert=True)

    def collection_delete(self, request: Request) -> Response:
        """``DELETE /composite/sobjects?ids=...&allOrNone=``: delete up to 200 records."""
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not ids:
            raise _bad_request("MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > COLLECTION_LIMIT:
            raise _bad_request(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = (request.arg("allOrNone") or "false").lower() == "true"
        origin = self._origin(request)
        return self._run_collection(
            all_or_none, ids, lambda i: self.writer.delete(i, origin=origin)
        )

    def collection_retrieve(self, request: Request) -> Response:
        """``GET /composite/sobjects/{Obj}?ids=&fields=``: a list of records, null for misses.

        ``POST`` with ``{"ids": [...], "fields": [...]}`` in the body is the documented form
        for id lists too long for a URL (REST API, "Get Records Using sObject Collections").
        """
        obj = self.sobject(request.params["object"])
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        fields = self._fields_arg(request)
        if request.method == "POST" and request.body:
            try:
                body = request.json()
            except ValueError as exc:
                raise _bad_request("JSON_PARSER_ERROR", "the body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise _bad_request("JSON_PARSER_ERROR", "expected an object with ids and fields")
            ids = [str(i) for i in body.get("ids") or []]
            fields = [str(f) for f in body.get("fields") or []] or None
        if not ids or not fields:
            raise _bad_request("MISSING_ARGUMENT", "ids and fields parameters are required")
        if len(ids) > RETRIEVE_LIMIT:
            raise _bad_request(
                "EXCEEDED_ID_LIMIT", f"cannot retrieve more than {RETRIEVE_LIMIT} records per call"
            )
        version = request.params["version"]
        out = []
        for ident in ids:
            record = self.org.get(obj.name, ident)
            out.append(None if record is None else self._project_all(obj, record, version, fields))
        return Response.json(200, out)

    # --- replication: getDeleted / getUpdated ---------------------------------------------------------

    def _window(self, request: Request, horizon_days: int) -> tuple[str, str, str]:
        try:
            start = parse_datetime(request.arg("start") or "")
            end = parse_datetime(request.arg("end") or "")
        except CoercionError as exc:
            raise _bad_request(
                "INVALID_REPLICATION_DATE",
                "start and end must be ISO 8601 datetimes, e.g. 2024-01-02T03:04:05Z",
            ) from exc
        start = start.replace(second=0, microsecond=0)
        end = end.replace(second=0, microsecond=0)
        now = self.org.clock.now().replace(second=0, microsecond=0)
        earliest = now - timedelta(days=horizon_days)
        if end <= start:
            raise _bad_request(
                "INVALID_REPLICATION_DATE",
                "startDate must chronologically precede endDate by more than one minute",
            )
        if start < earliest:
            raise _bad_request(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {horizon_days} days ago "
                f"(earliest date available: {format_datetime(earliest)})",
            )
        latest = min(end, now)
        return format_datetime(start), format_datetime(latest), format_datetime(earliest)

    def deleted(self, request: Request) -> Response:
        """``GET /sobjects/{Obj}/deleted/?start=&end=``: getDeleted."""
        obj = self.sobject(request.params["object"])
        start, latest, earliest = self._window(request, RECYCLE_BIN_DAYS)
        rows = sorted(
            self.org.deleted_between(obj.name, start, latest), key=lambda r: r["_deleted_at"]
        )
        if len(rows) > REPLICATION_ID_LIMIT:
            raise _bad_request("EXCEEDED_ID_LIMIT", "too many ids returned; narrow the window")
        return Response.json(
            200,
            {
                "deletedRecords": [{"id": r["Id"], "deletedDate": r["_deleted_at"]} for r in rows],
                "earliestDateAvailable": earliest,
                "latestDateCovered": latest,
            },
        )

    def updated(self, request: Request) -> Response:
        """``GET /sobjects/{Obj}/updated/?start=&end=``: getUpdated (by SystemModstamp)."""
        obj = self.sobject(request.params["object"])
        start, latest, _ = self._window(request, UPDATED_HORIZON_DAYS)
        ids = [r["Id"] for r in self.org.scan(obj.name) if start <= r["SystemModstamp"] <= latest]
        if len(ids) > REPLICATION_ID_LIMIT:
            raise _bad_request("EXCEEDED_ID_LIMIT", "too many ids returned; narrow the window")
        return Response.json(200, {"ids": ids, "latestDateCovered": latest})


def accepts_gzip(request: Request) -> bool:
    """Whether the request's ``Accept-Encoding`` allows a gzip-compressed answer."""
    for part in (request.header("Accept-Encoding") or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=") or "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False
