"""Bulk API 2.0 in the Salesforce sandbox: ingest and query jobs, CSV in and out.

Edge: ``/services/data/vXX.X/jobs/ingest`` and ``/jobs/query`` as in reference/salesforce-api.md
§8. Jobs run in a background thread once their data is complete, so clients see the real
state machine (``Open → UploadComplete → InProgress → JobComplete | Failed | Aborted``) and
poll for it. Ingest rows go through the same write engine as REST, so a row fails with the
same codes; results come back as ``sf__Id`` / ``sf__Created`` / ``sf__Error`` CSV. Query
results are paged by ``maxRecords`` with an opaque ``Sforce-Locator`` (``null`` on the last
page).

Longer than 500 lines: one API (Bulk 2.0): ingest and query jobs share the job state machine and
the CSV handling.
"""

from __future__ import annotations

import base64
import collections
import csv
import io
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from crmframes.sandbox.salesforce.columns import BulkColumns, render_texts
from crmframes.sandbox.salesforce.ids import IdFactory
from crmframes.sandbox.salesforce.org import SalesforceOrg
from crmframes.sandbox.salesforce.records import Origin, RecordError, WriteOutcome
from crmframes.sandbox.salesforce.rest import RestApi, not_found
from crmframes.sandbox.salesforce.schema import SfField, SfObject
from crmframes.sandbox.salesforce.soql import QueryPlan, SoqlError, parse_soql, plan_query
from crmframes.sandbox.salesforce.values import CoercionError, coerce_csv, display
from crmframes.sandbox.server import HttpError, Request, Response, Router

if TYPE_CHECKING:
    from crmframes.sandbox.profile import Profile

__all__ = ["BulkApi"]

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DEFAULT_MAX_RECORDS = 100_000
NULL_MARKER = "#N/A"
TERMINAL = ("JobComplete", "Failed", "Aborted")
# "A request can provide CSV data that does not in total exceed 150 MB of base64 encoded
# content" (Bulk API 2.0 guide, "Upload Job Data"); the Salesforce CLI splits at 150,000,000.
MAX_JOB_BASE64_BYTES = 150_000_000
RESULT_PAGES_VERSION = 58.0  # GET .../resultPages exists from API 58.0 on
RESULT_LINKS = 5  # result links per resultPages answer ("up to five URIs in one response")
RENDERED_JOBS = 4  # query jobs whose rendered result is kept; older ones render again if asked
DAY = 86_400.0  # the Bulk API 2.0 daily record allocation is over a rolling 24 hours


def _base64_length(size: int) -> int:
    return 4 * -(-size // 3)


def _locator(number: int) -> str:
    return base64.urlsafe_b64encode(str(number).encode()).decode()


def _error(status: int, code: str, message: str) -> HttpError:
    return HttpError(Response.json(status, [{"errorCode": code, "message": message}]))


@dataclass
class _Job:
    id: str
    kind: Literal["ingest", "query"]
    operation: str
    object: str
    version: str
    created: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    query: str | None = None
    state: str = "Open"  # Open, UploadComplete, InProgress, JobComplete, Failed, Aborted
    modstamp: str = ""
    error_message: str | None = None
    processed: int = 0
    failed: int = 0
    started: float = 0.0
    seconds: float = 0.0
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    plan: QueryPlan | None = None
    rows: list[dict[str, Any]] | None = None  # the query's snapshot (records are replaced on write)
    results: pa.Table | None = None  # the whole result as text columns, while it is being read
    lock: threading.Lock = field(default_factory=threading.Lock)

    def aborted(self) -> bool:
        """Whether the job was aborted (another thread may set it at any time)."""
        return self.state == "Aborted"

    def info(self, user_id: str) -> dict[str, Any]:
        base = f"services/data/v{self.version}/jobs/{self.kind}/{self.id}"
        data: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": user_id,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "numberRecordsProcessed": self.processed,
            "retries": 0,
            "totalProcessingTime": int(self.seconds * 1000),
        }
        if self.kind == "ingest":
            data |= {
                "contentUrl": f"{base}/batches",
                "numberRecordsFailed": self.failed,
                "apiActiveProcessingTime": int(self.seconds * 1000),
                "apexProcessingTime": 0,
            }
            if self.external_id:
                data["externalIdFieldName"] = self.external_id
        if self.error_message:
            data["errorMessage"] = self.error_message
        return data


class BulkApi:
    """Bulk API 2.0 jobs of one org."""

    def __init__(self, org: SalesforceOrg, rest: RestApi) -> None:
        self.org = org
        self.rest = rest
        self._jobs: dict[str, _Job] = {}
        self._ids = IdFactory("750")
        self._lock = threading.Lock()
        self._rendered: list[_Job] = []  # query jobs holding their rendered result, oldest first
        self.columns = BulkColumns(org.db)
        self.page_records = DEFAULT_MAX_RECORDS  # records per parallel result page
        self.profile: Profile | None = None  # production: jobs queue and process at its pace
        self._ingested: collections.deque[tuple[float, int]] = collections.deque()

    def add_routes(self, router: Router, v: str) -> None:
        """Register the ``/jobs/...`` routes under the versioned prefix ``v``."""
        job = r"(?P<job>750[A-Za-z0-9]{15})"
        router.add("POST", v + r"/jobs/ingest/?", self.create_ingest)
        router.add("GET", v + r"/jobs/(?P<kind>ingest|query)/?", self.list_jobs)
        router.add("PUT", v + rf"/jobs/ingest/{job}/batches/?", self.upload)
        router.add(
            ("GET", "PATCH", "DELETE"), v + rf"/jobs/(?P<kind>ingest|query)/{job}/?", self.job
        )
        router.add(
            "GET",
            v + rf"/jobs/ingest/{job}/(?P<which>(?i:successfulResults|failedResults|"
            r"unprocessedRecords))/?",
            self.ingest_results,
        )
        router.add("POST", v + r"/jobs/query/?", self.create_query)
        router.add("GET", v + rf"/jobs/query/{job}/results/?", self.query_results)
        router.add("GET", v + rf"/jobs/query/{job}/resultPages/?", self.result_pages)

    # --- shared --------------------------------------------------------------------------------

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except orjson.JSONDecodeError as exc:
            raise _error(
                400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}"
            ) from exc
        if not isinstance(body, dict):
            raise _error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return body

    def _new_job(
        self,
        kind: Literal["ingest", "query"],
        body: dict[str, Any],
        request: Request,
        operation: str,
        object_name: str,
    ) -> _Job:
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        line_ending = str(body.get("lineEnding") or "LF")
        if delimiter not in DELIMITERS:
            raise _error(400, "INVALIDJOB", f"Invalid value for columnDelimiter: {delimiter}")
        if line_ending not in LINE_ENDINGS:
            raise _error(400, "INVALIDJOB", f"Invalid value for lineEnding: {line_ending}")
        if str(body.get("contentType") or "CSV") != "CSV":
            raise _error(400, "INVALIDJOB", "Only CSV content is supported")
        job = _Job(
            id=self._ids.next(),
            kind=kind,
            operation=operation,
            object=object_name,
            version=request.params["version"],
            created=self.org.now_wire(),
            delimiter=delimiter,
            line_ending=line_ending,
        )
        with self._lock:
            self._jobs[job.id] = job
        return job

    def _job(self, request: Request, kind: str | None = None) -> _Job:
        job = self._jobs.get(request.params["job"])
        if job is None or (kind is not None and job.kind != kind):
            raise not_found("The requested resource does not exist")
        return job

    def job(self, request: Request) -> Response:
        """``GET|PATCH|DELETE /jobs/{ingest|query}/{id}``: job info, state change, deletion."""
        job = self._job(request, request.params["kind"])
        if request.method == "GET":
            return Response.json(200, job.info(self.org.integration_user_id))
        if request.method == "DELETE":
            if job.state not in TERMINAL:
                raise _error(
                    400, "INVALIDJOBSTATE", f"Job {job.id} is not in a terminal state: {job.state}"
                )
            with self._lock:
                self._jobs.pop(job.id, None)
            self._drop_rendered(job)
            return Response.empty(204)
        state = self._body(request).get("state")
        with job.lock:
            if state == "Aborted":
                if job.state in TERMINAL:
                    raise _error(400, "INVALIDJOBSTATE", f"Job {job.id} is already {job.state}")
                job.state = "Aborted"
            elif state == "UploadComplete" and job.kind == "ingest":
                if job.state != "Open":
                    raise _error(409, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}, not Open")
                job.state = "UploadComplete"
                origin = (request.method, request.target)
                threading.Thread(target=self._run_ingest, args=(job, origin), daemon=True).start()
            else:
                raise _error(400, "INVALIDJOBSTATE", f"Invalid state transition to {state!r}")
            job.modstamp = self.org.now_wire()
        return Response.json(200, job.info(self.org.integration_user_id))

    def list_jobs(self, request: Request) -> Response:
        """``GET /jobs/ingest`` and ``GET /jobs/query``: all jobs of that kind."""
        kind = request.params["kind"]
        user = self.org.integration_user_id
        jobs = [j.info(user) for j in list(self._jobs.values()) if j.kind == kind]
        return Response.json(200, {"done": True, "records": jobs, "nextRecordsUrl": None})

    # --- ingest --------------------------------------------------------------------------------

    def create_ingest(self, request: Request) -> Response:
        """``POST /jobs/ingest``: open an ingest job."""
        body = self._body(request)
        obj = self.org.schema.get(str(body.get("object") or ""))
        if obj is None:
            raise _error(
                404, "NOT_FOUND", f"Entity '{body.get('object')}' is not supported by the Bulk API."
            )
        operation = str(body.get("operation") or "")
        if operation not in INGEST_OPERATIONS:
            raise _error(400, "INVALIDJOB", f"Invalid value for operation: {operation}")
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            key = obj.field(str(external or ""))
            if key is None or not (key.external_id or key.id_lookup):
                raise _error(
                    400,
                    "INVALIDJOB",
                    f"External ID was blank or invalid for {obj.name}. "
                    "An External ID must be specified for upsert.",
                )
            external = key.name
        job = self._new_job("ingest", body, request, operation, obj.name)
        job.external_id = str(external) if operation == "upsert" else None
        return Response.json(200, job.info(self.org.integration_user_id))

    def upload(self, request: Request) -> Response:
        """``PUT /jobs/ingest/{id}/batches``: add CSV data to an open job (201).

        The data must be ``text/csv`` (415 otherwise) and a job holds at most 150 MB of it
        once base64-encoded, as Salesforce counts it (about 112 MB of CSV): an upload past
        that is refused with 400 and the job keeps what it had.
        """
        job = self._job(request, "ingest")
        declared = request.header("Content-Type") or ""
        media = declared.split(";", 1)[0].strip().lower()
        if media != "text/csv":
            raise _error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"MediaType of '{media or 'none'}' is not supported by this resource; "
                "upload job data as 'Content-Type: text/csv'",
            )
        with job.lock:
            if job.state != "Open":
                raise _error(
                    409,
                    "INVALIDJOBSTATE",
                    f"Job {job.id} is {job.state}; data can only be added while it is Open",
                )
            size = sum(len(blob) for blob in job.uploads) + len(request.body)
            if _base64_length(size) > MAX_JOB_BASE64_BYTES:
                raise _error(
                    400,
                    "ClientInputError",
                    f"Failed to read request. Exceeded max size limit of {MAX_JOB_BASE64_BYTES} "
                    f"bytes of base64-encoded data per job (this job would hold "
                    f"{_base64_length(size)}); split the data into several jobs",
                )
            job.uploads.append(request.body)
        return Response.empty(201)

    def _run_ingest(self, job: _Job, origin: Origin) -> None:
        started = time.perf_counter()
        if self.profile is not None:  # production: the job waits in the queue (UploadComplete)
            self._wait(job, self.profile.bulk_seconds("ingest", 0)[0])
        with job.lock:
            if job.aborted():
                return
            job.state = "InProgress"
        processing = time.perf_counter()
        obj = self.org.schema.objects[job.object]
        try:
            rows = self._read_csv(job)
            columns = self._columns(obj, job.header)
        except _CsvProblem as exc:
            with job.lock:
                job.state, job.error_message = "Failed", exc.message
            return
        allowed = self._allow_records(len(rows))
        if allowed < len(rows):
            # "If the limit is exceeded while processing your job data, the remaining data
            # isn't processed. The ingest job is marked as having failed." (Bulk API 2.0 guide)
            job.unprocessed, rows = rows[allowed:], rows[:allowed]
            job.error_message = (
                f"Exceeded the Bulk API 2.0 limit of {self._daily_limit():,} records uploaded "
                "per rolling 24 hours; the remaining records were not processed, see "
                "unprocessedrecords, and load them in a new job later"
            )
        for position, row in enumerate(rows):
            if job.aborted():
                job.unprocessed = rows[position:]
                break
            outcome = self._ingest_row(job, obj, columns, row, origin)
            if outcome.success:
                job.successes.append(
                    [outcome.id or "", "true" if outcome.created else "false", *row]
                )
            else:
                e = outcome.errors[0]
                message = f"{e.status_code}:{e.message}:{','.join(e.fields)} --"
                job.failures.append([outcome.id or "", message, *row])
                job.failed += 1
            job.processed += 1
        if self.profile is not None:
            pace = self.profile.bulk_seconds("ingest", job.processed)[1]
            self._wait(job, pace - (time.perf_counter() - processing))
        with job.lock:
            job.seconds = time.perf_counter() - started
            job.modstamp = self.org.now_wire()
            if not job.aborted():
                job.state = "Failed" if job.error_message else "JobComplete"

    def _wait(self, job: _Job, seconds: float) -> None:
        """Sleep ``seconds`` (the production profile's pace), ending early if the job is aborted."""
        deadline = time.monotonic() + seconds
        while not job.aborted() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))

    def _daily_limit(self) -> int | None:
        return None if self.profile is None else self.profile.bulk_daily_records

    def _allow_records(self, wanted: int) -> int:
        """Take up to ``wanted`` records of the daily ingest allocation; return how many."""
        limit = self._daily_limit()
        if limit is None or self.profile is None:
            return wanted
        with self._lock:
            now = time.monotonic()
            while self._ingested and self._ingested[0][0] <= now - DAY / self.profile.speed:
                self._ingested.popleft()
            allowed = max(0, min(wanted, limit - sum(n for _, n in self._ingested)))
            self._ingested.append((now, allowed))
        return allowed

    def _read_csv(self, job: _Job) -> list[list[str]]:
        rows: list[list[str]] = []
        for blob in job.uploads:
            try:
                text = blob.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise _CsvProblem("InvalidBatch : The CSV data is not valid UTF-8") from exc
            reader = csv.reader(
                io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter], strict=True
            )
            try:
                header = next(reader, None)
                body = [r for r in reader if r != []]
            except csv.Error as exc:
                raise _CsvProblem(f"InvalidBatch : Failed to parse CSV: {exc}") from exc
            if header is None:
                continue
            if job.header and header != job.header:
                raise _CsvProblem(
                    "InvalidBatch : Every upload of a job must have the same header row"
                )
            job.header = header
            for number, row in enumerate(body, start=2):
                if len(row) != len(header):
                    raise _CsvProblem(
                        f"InvalidBatch : Row {number} has {len(row)} columns, expected {len(header)}"
                    )
            rows.extend(body)
        if not job.header:
            raise _CsvProblem("InvalidBatch : The job has no data; upload a CSV with a header row")
        return rows

    def _columns(self, obj: SfObject, header: list[str]) -> list[tuple[SfField, str | None]]:
        columns: list[tuple[SfField, str | None]] = []
        for name in header:
            relationship, _, key = name.partition(".")
            if key:
                lookup = obj.relationship(relationship)
                parent = self.org.schema.get(lookup.reference_to[0]) if lookup else None
                key_field = parent.field(key) if parent else None
                if (
                    lookup is None
                    or key_field is None
                    or not (key_field.external_id or key_field.name == "Id")
                ):
                    raise _CsvProblem(f"InvalidBatch : Field name not found : {name}")
                columns.append((lookup, key_field.name))
                continue
            f = obj.field(name)
            if f is None:
                raise _CsvProblem(f"InvalidBatch : Field name not found : {name}")
            columns.append((f, None))
        return columns

    def _ingest_row(
        self,
        job: _Job,
        obj: SfObject,
        columns: list[tuple[SfField, str | None]],
        row: list[str],
        origin: Origin,
    ) -> WriteOutcome:
        writer = self.rest.writer
        values: dict[str, Any] = {}
        try:
            for (f, ref_key), cell in zip(columns, row, strict=True):
                if cell == "":
                    continue  # an empty cell leaves the field as it is (insert: null)
                if cell == NULL_MARKER:
                    values[f.name] = None
                elif ref_key is not None:
                    values[f.name] = ("ref", ref_key, cell)
                else:
                    try:
                        values[f.name] = coerce_csv(f, cell)
                    except CoercionError:
                        raise RecordError(
                            "INVALID_TYPE_ON_FIELD_IN_RECORD",
                            f"{f.label}: value not of required type: {display(cell)}",
                            [f.name],
                        ) from None
        except RecordError as exc:
            return WriteOutcome(None, errors=[exc])
        record_id = values.pop("Id", None)
        if job.operation == "insert":
            return writer.insert(obj, values, origin=origin)
        if job.operation == "update":
            if not record_id:
                return WriteOutcome(
                    None,
                    errors=[
                        RecordError(
                            "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]
                        )
                    ],
                )
            return writer.update(obj, record_id, values, origin=origin)
        if job.operation == "upsert":
            assert job.external_id is not None
            key_field = obj.field(job.external_id)
            assert key_field is not None
            key_value = record_id if key_field.name == "Id" else values.get(key_field.name)
            return writer.upsert(obj, key_field, key_value, values, origin=origin)
        outcome = writer.delete(record_id, origin=origin, obj=obj)
        if job.operation == "hardDelete" and outcome.success and outcome.id:
            with self.org.db.lock:
                self.org.table(obj.name).bin.pop(outcome.id, None)
        return outcome

    def ingest_results(self, request: Request) -> Response:
        """``GET /jobs/ingest/{id}/successfulResults|failedResults|unprocessedrecords``."""
        job = self._job(request, "ingest")
        which = request.params["which"].lower()
        if which == "successfulresults":
            header, rows = ["sf__Id", "sf__Created", *job.header], job.successes
        elif which == "failedresults":
            header, rows = ["sf__Id", "sf__Error", *job.header], job.failures
        else:
            header, rows = job.header, job.unprocessed
        text = self._write_csv(job, [header, *rows], quote_all=True)
        return Response.raw(200, text.encode(), "text/csv")

    # --- query ---------------------------------------------------------------------------------

    def create_query(self, request: Request) -> Response:
        """``POST /jobs/query``: start a query job."""
        body = self._body(request)
        operation = str(body.get("operation") or "query")
        if operation not in ("query", "queryAll"):
            raise _error(400, "INVALIDJOB", f"Invalid value for operation: {operation}")
        text = str(body.get("query") or "")
        try:
            plan = plan_query(parse_soql(text), self.org.schema)
        except SoqlError as exc:
            raise _error(400, exc.code, exc.message) from exc
        if plan.is_count or plan.offset is not None or plan.aggregate or plan.children:
            raise _error(
                400,
                "INVALIDJOB",
                "Bulk API 2.0 query does not support aggregates, COUNT(), OFFSET or subqueries",
            )
        job = self._new_job("query", body, request, operation, plan.object.name)
        job.query, job.plan, job.state = text, plan, "UploadComplete"
        threading.Thread(target=self._run_query, args=(job,), daemon=True).start()
        return Response.json(200, job.info(self.org.integration_user_id))

    def _run_query(self, job: _Job) -> None:
        started = time.perf_counter()
        if self.profile is not None:  # production: the job waits in the queue (UploadComplete)
            self._wait(job, self.profile.bulk_seconds("query", 0)[0])
        with job.lock:
            if job.aborted():
                return
            job.state = "InProgress"
        processing = time.perf_counter()
        assert job.plan is not None
        try:
            records = self.org.scan(job.object, include_deleted=job.operation == "queryAll")
            rows = job.plan.execute(records, self.org, now=self.org.clock.now())
            results = self._results(job.plan, rows)
        except Exception as exc:  # a sandbox bug: fail the job as Salesforce would, not hang it
            with job.lock:
                job.state, job.error_message = "Failed", f"InternalServerError: {exc!r}"
                job.modstamp = self.org.now_wire()
            raise
        if self.profile is not None:
            pace = self.profile.bulk_seconds("query", len(rows))[1]
            self._wait(job, pace - (time.perf_counter() - processing))
        with job.lock:
            job.rows, job.results = rows, results
            job.processed = len(rows)
            job.seconds = time.perf_counter() - started
            job.modstamp = self.org.now_wire()
            if not job.aborted():
                job.state = "JobComplete"
        self._keep_rendered(job)

    def _keep_rendered(self, job: _Job) -> None:
        """Mark the job's result the newest kept; drop the oldest beyond ``RENDERED_JOBS``.

        Salesforce keeps results for days; the sandbox keeps the rows (a list of references)
        and only a few rendered results, so a client that never reads a job to its end
        (or never deletes it) does not hold a rendered copy of every result it asked for.
        """
        with self._lock:
            kept = [*(other for other in self._rendered if other is not job), job]
            dropped, self._rendered = kept[:-RENDERED_JOBS], kept[-RENDERED_JOBS:]
        for old in dropped:
            with old.lock:
                old.results = None

    def _rendered_results(self, job: _Job) -> pa.Table:
        """The job's rendered result, rendered again from its rows if it was dropped."""
        with job.lock:
            if job.results is None:
                assert job.plan is not None and job.rows is not None
                job.results = self._results(job.plan, job.rows)
            results = job.results
        self._keep_rendered(job)
        return results

    def _drop_rendered(self, job: _Job) -> None:
        """Drop the job's rendered result: its last page is out, or the job is deleted."""
        with job.lock:
            job.results = None
        with self._lock:
            self._rendered = [other for other in self._rendered if other is not job]

    def query_results(self, request: Request) -> Response:
        """``GET /jobs/query/{id}/results?maxRecords=&locator=``: one CSV page."""
        job = self._job(request, "query")
        if job.state != "JobComplete":
            code = (
                "JOB_NOT_COMPLETE" if job.state not in ("Failed", "Aborted") else "INVALIDJOBSTATE"
            )
            raise _error(
                412 if code == "JOB_NOT_COMPLETE" else 400,
                code,
                f"Job {job.id} is {job.state}; results are available once it is JobComplete",
            )
        limit_text = request.arg("maxRecords") or str(DEFAULT_MAX_RECORDS)
        locator = request.arg("locator") or ""
        try:
            limit = int(limit_text)
            offset = int(base64.urlsafe_b64decode(locator.encode()).decode()) if locator else 0
        except ValueError as exc:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator or maxRecords") from exc
        results = self._rendered_results(job)
        if limit <= 0 or not 0 <= offset <= results.num_rows:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator or maxRecords")
        end = min(offset + limit, results.num_rows)
        body = self._csv_page(job, results.slice(offset, end - offset))
        next_locator = (
            base64.urlsafe_b64encode(str(end).encode()).decode()
            if end < results.num_rows
            else "null"
        )
        headers = {"Sforce-NumberOfRecords": str(end - offset), "Sforce-Locator": next_locator}
        if end == results.num_rows:  # asked again, the result renders again from the rows
            self._drop_rendered(job)
        return Response.raw(200, body, "text/csv", headers)

    def result_pages(self, request: Request) -> Response:
        """``GET /jobs/query/{id}/resultPages?locator=``: links to read the result in parallel.

        Up to five ``resultLink`` URLs (``.../results?locator=&maxRecords=``, each one page
        of :attr:`page_records`), ``nextRecordsUrl`` for the next five (null on the last
        answer) and ``done``; API 58.0+, same version as the job or 409 (Bulk API 2.0
        guide, "Get Parallel Results for a Query Job").
        """
        version = request.params["version"]
        if float(version) < RESULT_PAGES_VERSION:
            raise not_found()
        job = self._job(request, "query")
        if float(version) != float(job.version):
            raise _error(
                409,
                "INVALIDVERSION",
                f"Job {job.id} was created with API version {job.version}; use that version",
            )
        if job.state != "JobComplete":
            raise _error(
                412 if job.state not in ("Failed", "Aborted") else 400,
                "JOB_NOT_COMPLETE" if job.state not in ("Failed", "Aborted") else "INVALIDJOBSTATE",
                f"Job {job.id} is {job.state}; results are available once it is JobComplete",
            )
        try:
            first = int(base64.urlsafe_b64decode((request.arg("locator") or "MA==").encode()))
        except ValueError as exc:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator") from exc
        size, total = self.page_records, job.processed
        pages = max(1, -(-total // size))
        if not 0 <= first < pages:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator")
        base = f"/services/data/v{version}/jobs/query/{job.id}"
        last = min(first + RESULT_LINKS, pages)
        links = [
            {"resultLink": f"{base}/results?locator={_locator(page * size)}&maxRecords={size}"}
            for page in range(first, last)
        ]
        following = f"{base}/resultPages?locator={_locator(last)}" if last < pages else None
        return Response.json(
            200, {"resultPages": links, "nextRecordsUrl": following, "done": following is None}
        )

    def _results(self, plan: QueryPlan, rows: list[dict[str, Any]]) -> pa.Table:
        """The job's whole result as text columns, rendered at job time as Salesforce does.

        Plain fields come from the org's rendered columns (sandbox/salesforce/columns.py);
        parent fields (``Account.Name``) and rows those columns do not hold are read through
        the plan's flat projection.
        """
        names = list(plan.columns)
        if all("." not in name for name in names):
            table = self.columns.render(plan.object, names, rows)
            if table is not None:
                return table
        flat, org = plan.project_flat, self.org
        values = [flat(record, org) for record in rows]
        columns = list(zip(*values, strict=True)) if values else [()] * len(names)
        kinds = self._kinds(plan)
        return pa.Table.from_arrays(
            [render_texts(column, kind) for column, kind in zip(columns, kinds, strict=True)],
            names=names,
        )

    @staticmethod
    def _csv_page(job: _Job, page: pa.Table) -> bytes:
        """One results page: values double-quoted, nulls left empty (reference §8.2)."""
        buffer = io.BytesIO()
        pacsv.write_csv(
            page,
            buffer,
            pacsv.WriteOptions(
                quoting_style="all_valid",
                delimiter=DELIMITERS[job.delimiter],
                eol=LINE_ENDINGS[job.line_ending],
            ),
        )
        return buffer.getvalue()

    def _kinds(self, plan: QueryPlan) -> list[str]:
        """The describe type of each selected path's last field (``string`` if unknown)."""
        kinds = []
        for path in plan.columns:
            obj: SfObject | None = plan.object
            parts = path.split(".")
            for part in parts[:-1]:
                lookup = obj.relationship(part) if obj else None
                obj = self.org.schema.get(lookup.reference_to[0]) if lookup else None
            f = obj.field(parts[-1]) if obj else None
            kinds.append(f.type if f is not None else "string")
        return kinds

    @staticmethod
    def _write_csv(job: _Job, lines: list[list[Any]], *, quote_all: bool) -> str:
        sep = DELIMITERS[job.delimiter]
        end = LINE_ENDINGS[job.line_ending]

        def cell(value: Any) -> str:
            if value is None:
                return '""' if quote_all else ""
            if isinstance(value, bool):
                value = "true" if value else "false"
            return '"' + str(value).replace('"', '""') + '"'

        return "".join(sep.join(cell(v) for v in line) + end for line in lines)


class _CsvProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
