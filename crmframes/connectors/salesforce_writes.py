"""The write side of the Salesforce connector: Collections, Bulk API 2.0 ingest, getDeleted.

Edge: mixed into :class:`~crmframes.connectors.salesforce.SalesforceConnector`, every call
through its :class:`~crmframes.connectors.http.HttpClient` (timeouts, retries honouring
``Retry-After``, one re-login on 401). ``write`` is one sObject Collections call of at most
200 records with ``allOrNone: false`` (reference/salesforce-api.md §5); ``write_bulk`` is one
Bulk API 2.0 ingest job (§8.1) whose CSV results are matched back to the input rows by
content; ``read_deleted`` is getDeleted (§7) with the window widened and filtered so that
both ends are included. Failures of single records become :class:`WriteOutcome` values;
failures of a whole call raise the translated ``ConnectorError``.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from crmframes.connectors.base import (
    BulkJobRef,
    DeletedRecord,
    Page,
    ReadRequest,
    WriteBatch,
    WriteOp,
    WriteOutcome,
)
from crmframes.connectors.salesforce_wire import (
    EchoMatcher,
    bulk_outcome,
    check_batch,
    check_op,
    collection_outcome,
    csv_bytes,
    csv_rows,
    json_record,
    parse_datetime,
    record_id,
)
from crmframes.errors import (
    BatchTooLargeError,
    ConnectorError,
    NotFoundError,
    RequestRejectedError,
)
from crmframes.filters import F
from crmframes.writes import canonical

if TYPE_CHECKING:
    import requests
    from simple_salesforce.api import Salesforce

    from crmframes.connectors.http import HttpClient
    from crmframes.schema import Field, ObjectSchema

__all__ = [
    "BULK_UPLOAD_BYTES",
    "BULK_WRITE_LIMIT",
    "COLLECTION_LIMIT",
    "SalesforceWrites",
]

COLLECTION_LIMIT = 200  # records per sObject Collections call (reference §5)
BULK_WRITE_LIMIT = 100_000  # records per Bulk API 2.0 ingest job written by crmframes
BULK_UPLOAD_BYTES = 100_000_000  # raw CSV per job: Salesforce takes 150 MB base64, ~100 MB raw
CLOCK_SLACK = timedelta(seconds=2)  # find_created looks this much before ``since``
DELETED_DAYS = 15  # Salesforce keeps deletions (the recycle bin) about this long
# seconds between job polls: growing by half from the first to the cap (a job of 100,000
# rows takes seconds; doubling to 5 s left up to 3 s idle after it finished)
POLL_FIRST, POLL_GROWTH, POLL_CAP = 0.1, 1.5, 2.0
POLL_LIMIT = 4 * 3600.0  # seconds a bulk job may take before crmframes stops waiting
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
_SENDABLE_ID = re.compile(r"[A-Za-z0-9]{1,64}")


class SalesforceWrites:
    """Writes and deletion reads of :class:`SalesforceConnector` (see the module docstring)."""

    system: str
    http: HttpClient
    sf: Salesforce
    _user_id: str | None = None  # the connected user, from the OAuth identity URL

    if TYPE_CHECKING:  # provided by the connector

        def describe(self, object_name: str) -> ObjectSchema:
            """Describe an object (cached)."""

        def read(self, request: ReadRequest) -> Iterator[Page]:
            """Yield the pages of records a request selects."""

        def server_time(self) -> datetime:
            """The org's clock."""

        def normalize_id(self, value: object) -> str | None:
            """The 18-character id, or None."""

    # --- limits -------------------------------------------------------------------------------

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        """The most records one :meth:`write` (200) or one bulk job (100,000) carries.

        A bulk job is also limited to :data:`BULK_UPLOAD_BYTES` of CSV: :meth:`write_bulk`
        refuses a batch whose CSV is larger (write fewer records per job).
        """
        check_op(op)
        return BULK_WRITE_LIMIT if bulk else COLLECTION_LIMIT

    @property
    def supports_bulk_write(self) -> bool:
        """True: Bulk API 2.0 ingest jobs are available."""
        return True

    # --- sObject Collections ------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        """Send one batch as one sObject Collections call (``allOrNone: false``).

        Insert ``POST composite/sobjects``, update ``PATCH composite/sobjects``, upsert
        ``PATCH composite/sobjects/{Obj}/{key}``, delete ``DELETE composite/sobjects?ids=``.
        An insert or a delete is not retried after a dropped connection (its outcome is
        unknown: ``outcome_unknown=True``); updates and upserts are idempotent and may be. ``error_code`` is the HTTP status of the
        call (Salesforce has no numeric code per record). A delete id that cannot even be
        put in the URL is a ``MALFORMED_ID`` outcome without being sent.

        Raises:
            ValueError: more than 200 records, a record without its id or key, a value that
                cannot be sent (a naive datetime, NaN).
            ConnectorError: the whole call failed (``outcome_unknown=True`` for an insert
                whose connection was lost).
        """
        records = check_batch(batch, COLLECTION_LIMIT)
        if not records:
            return []
        base = self.sf.base_url + "composite/sobjects"
        operation = f"{batch.op} {batch.object}"
        if batch.op == "delete":
            return self._delete_collection(batch, base, operation)
        body = {
            "allOrNone": False,
            "records": [json_record(batch, r) for r in records],
        }
        url = base if batch.op != "upsert" else f"{base}/{batch.object}/{batch.key}"
        reply = self.http.send(
            "POST" if batch.op == "insert" else "PATCH",
            url,
            operation=operation,
            idempotent=batch.op != "insert",
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        results = _result_list(reply, len(records), operation)
        sent = [record_id(r) if batch.op == "update" else None for r in records]
        status = str(reply.status_code)
        return [
            collection_outcome(res, batch.op, s, status)
            for res, s in zip(results, sent, strict=True)
        ]

    def _delete_collection(
        self, batch: WriteBatch, base: str, operation: str
    ) -> list[WriteOutcome]:
        ids = [record_id(r) for r in batch.records]
        outcomes: list[WriteOutcome | None] = [None] * len(ids)
        sendable = [i for i, v in enumerate(ids) if _SENDABLE_ID.fullmatch(v or "")]
        unsendable = set(range(len(ids))) - set(sendable)  # a comma or blank would break the list
        for i, value in enumerate(ids):
            if i in unsendable:
                outcomes[i] = WriteOutcome(
                    ok=False,
                    id=value,
                    error_symbol="MALFORMED_ID",
                    error_message=f"malformed id {value}",
                    error_fields="Id",
                )
        if sendable:
            reply = self.http.send(
                "DELETE",
                base,
                operation=operation,
                # sent again after a lost answer, a delete reports its records as already
                # deleted: the operations must know the first answer was lost
                idempotent=False,
                params={"ids": ",".join(ids[i] or "" for i in sendable), "allOrNone": "false"},
                headers={"Accept": "application/json"},
            )
            results = _result_list(reply, len(sendable), operation)
            for i, result in zip(sendable, results, strict=True):
                outcomes[i] = collection_outcome(result, "delete", ids[i], str(reply.status_code))
        return [o for o in outcomes if o is not None]

    # --- Bulk API 2.0 ingest ------------------------------------------------------------------

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        """Write a batch as one Bulk API 2.0 ingest job and return its outcomes in input order.

        Calls ``POST jobs/ingest``, then ``on_submitted`` (so that a process that dies
        from here on can find the job with :meth:`resume_bulk`), ``PUT .../batches`` with
        the CSV, ``PATCH`` ``UploadComplete``, polls ``GET jobs/ingest/{id}`` (backing off
        from 0.05 s to 5 s) and reads the successful, failed and unprocessed results.
        CSV cells: null (or an empty string) is ``#N/A`` (sets null), a field absent from
        a record is an empty cell (left unchanged). Rows never processed are outcomes
        ``UNPROCESSED``, transient.

        Raises:
            ValueError: more than :data:`BULK_WRITE_LIMIT` records, a record without its
                id or key, a value that cannot be sent.
            BatchTooLargeError: the CSV is over :data:`BULK_UPLOAD_BYTES` (no job was made).
            ConnectorError: a call failed, or the job failed without processing any row.
        """
        records = check_batch(batch, BULK_WRITE_LIMIT)
        if not records:
            return []
        header, rows = csv_rows(batch)
        data = csv_bytes(header, rows)
        if len(data) > BULK_UPLOAD_BYTES:
            raise BatchTooLargeError(
                f"the batch is {len(data) / 1e6:.0f} MB of CSV, over the "
                f"{BULK_UPLOAD_BYTES / 1e6:.0f} MB a Bulk API 2.0 job takes; "
                "write fewer records per job"
            )
        jobs = self.sf.base_url + "jobs/ingest"
        spec: dict[str, Any] = {
            "object": batch.object,
            "operation": batch.op,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if batch.op == "upsert":
            spec["externalIdFieldName"] = batch.key
        created = self.http.send(
            "POST",
            jobs,
            operation=f"create bulk {batch.op} job on {batch.object}",
            idempotent=False,  # a lost answer leaves an Open job behind, never data
            data=orjson.dumps(spec),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        job_id = str(orjson.loads(created.content)["id"])
        if on_submitted is not None:
            on_submitted(BulkJobRef(job_id, batch.object, batch.op))
        try:
            self.http.send(
                "PUT",
                f"{jobs}/{job_id}/batches",
                operation=f"upload bulk {batch.op} data",
                idempotent=False,  # sent twice, the rows would be in the job twice
                data=data,
                headers={"Content-Type": "text/csv"},
            )
            self._close_job(job_id)
        except ConnectorError:
            self._abort_if_open(job_id)
            raise
        info = self._wait_for_job(job_id, len(rows))
        return self._bulk_outcomes(job_id, info, batch.op, header, rows)

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        """The outcomes of a job an earlier process submitted, waiting for it to finish.

        ``GET jobs/ingest/{id}``: an Open job is aborted (its upload may be incomplete)
        and, like an aborted or failed job that processed nothing or an unknown one (404),
        gives None: send the batch again. A running job is waited for; a finished one (complete,
        failed, or aborted after processing rows) gives its outcomes in input order.

        Raises:
            ValueError: ``job`` is not a job of this batch's object and operation.
            ConnectorError: a call failed.
        """
        if job.object != batch.object or job.op != batch.op:
            raise ValueError(
                f"job {job.job_id} is a {job.op} of {job.object}, "
                f"not a {batch.op} of {batch.object}"
            )
        try:
            info = self._job_info(job.job_id)
        except NotFoundError:
            return None
        if info["state"] == "Open":
            self._abort_if_open(job.job_id)
            return None
        if info["state"] not in TERMINAL:
            info = self._wait_for_job(job.job_id, len(batch.records))
        if info["state"] in ("Aborted", "Failed") and not int(
            info.get("numberRecordsProcessed") or 0
        ):
            return None  # nothing was written: send the batch again
        header, rows = csv_rows(batch)
        return self._bulk_outcomes(job.job_id, info, batch.op, header, rows)

    def _job_url(self, job_id: str) -> str:
        return f"{self.sf.base_url}jobs/ingest/{job_id}"

    def _job_info(self, job_id: str) -> dict[str, Any]:
        reply = self.http.send("GET", self._job_url(job_id), operation="read bulk ingest job")
        info: dict[str, Any] = orjson.loads(reply.content)
        return info

    def _set_state(self, job_id: str, state: str) -> None:
        self.http.send(
            "PATCH",
            self._job_url(job_id),
            operation=f"set bulk job {state}",
            data=orjson.dumps({"state": state}),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def _close_job(self, job_id: str) -> None:
        try:
            self._set_state(job_id, "UploadComplete")
        except RequestRejectedError:
            # A retry after a lost answer finds the job closed already (409): fine.
            if self._job_info(job_id)["state"] == "Open":
                raise

    def _abort_if_open(self, job_id: str) -> None:
        try:
            if self._job_info(job_id)["state"] == "Open":
                self._set_state(job_id, "Aborted")
        except ConnectorError:  # the job stays Open; Salesforce closes stale jobs itself
            pass

    def _wait_for_job(self, job_id: str, total: int) -> dict[str, Any]:
        """Poll until the job ends: paced by its progress once it reports some.

        Salesforce updates ``numberRecordsProcessed`` while a job runs; from the rate
        seen since the first poll that reported progress, the next poll is timed for
        when the rest should be done (within ``POLL_FIRST`` .. ``POLL_CAP``), so the
        wait after the job ends stays short without polling more often than needed.
        """
        wait, waited = POLL_FIRST, 0.0
        first: tuple[float, int] | None = None  # (when, processed) at the first progress
        while True:
            info = self._job_info(job_id)
            if info["state"] in TERMINAL:
                return info
            now, done = time.monotonic(), int(info.get("numberRecordsProcessed") or 0)
            if first is None and done:
                first = (now, done)
            elif first is not None and done > first[1] and now > first[0]:
                rate = (done - first[1]) / (now - first[0])
                remaining = max(total - done, 0) / rate
                wait = min(max(remaining * 1.05 + 0.05, POLL_FIRST), POLL_CAP)
            if waited >= POLL_LIMIT:
                raise ConnectorError(
                    f"bulk job {job_id} is still {info['state']} after {POLL_LIMIT / 3600:g} "
                    "hours; resume it later",
                    system=self.system,
                    operation="wait for bulk job",
                )
            time.sleep(wait)
            waited += wait
            if first is None or done <= first[1]:
                wait = min(wait * POLL_GROWTH, POLL_CAP)

    def _job_results(self, job_id: str, which: str) -> tuple[list[str], list[list[str]]]:
        reply = self.http.send(
            "GET",
            f"{self._job_url(job_id)}/{which}/",
            operation=f"read bulk job {which}",
            headers={"Accept": "text/csv"},
        )
        lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"), newline="")))
        if not lines:
            return [], []
        return lines[0], [line for line in lines[1:] if line]

    def _bulk_outcomes(
        self,
        job_id: str,
        info: dict[str, Any],
        op: WriteOp,
        header: list[str],
        rows: list[list[str]],
    ) -> list[WriteOutcome]:
        """Match the job's result rows to the input rows by their echoed cells (a multiset)."""
        match = EchoMatcher(rows)
        outcomes: list[WriteOutcome | None] = [None] * len(rows)
        id_column = next((i for i, n in enumerate(header) if n.lower() == "id"), None)
        sent_ids = (
            [row[id_column] for row in rows]
            if op in ("update", "delete") and id_column is not None
            else None
        )
        state = str(info["state"])
        processed = int(info.get("numberRecordsProcessed") or 0)
        failed = int(info.get("numberRecordsFailed") or 0)
        wanted = []
        if processed > failed:
            wanted.append("successfulResults")
        if failed:
            wanted.append("failedResults")
        if state != "JobComplete" or processed < len(rows):
            wanted.append("unprocessedrecords")
        for which in wanted:
            result_header, result_rows = self._job_results(job_id, which)
            columns = [result_header.index(name) for name in header]
            first = columns[0] if columns else 0
            contiguous = columns == list(range(first, first + len(columns)))
            for line in result_rows:
                echoed = (
                    line[first : first + len(columns)] if contiguous else [line[c] for c in columns]
                )
                index = match(echoed)
                if index is None:
                    continue  # not one of ours (cannot happen unless Salesforce re-wrote it)
                sent = sent_ids[index] if sent_ids else None
                outcomes[index] = bulk_outcome(which, result_header, line, sent, op)
        if state == "Failed" and all(o is None for o in outcomes):
            raise RequestRejectedError(
                f"the bulk job failed: {info.get('errorMessage') or 'no reason given'}",
                system=self.system,
                operation="bulk ingest",
                code="InvalidBatch",
                payload=info,
            )
        reason = f"the job ended {state}" + (
            f": {info['errorMessage']}" if info.get("errorMessage") else ""
        )
        return [
            o
            if o is not None
            else WriteOutcome(
                ok=False,
                id=sent_ids[i] if sent_ids else None,
                error_symbol="UNPROCESSED",
                error_message=f"Salesforce did not process this record ({reason})",
                transient=True,
            )
            for i, o in enumerate(outcomes)
        ]

    # --- resolving inserts whose outcome is unknown ------------------------------------------------

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> None:
        """None: Salesforce assigns record ids itself (a create cannot name its ``Id``)."""
        return None

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        """Ids of records this user created since ``since`` that match ``records``, in order.

        One SOQL query (paged): ``Id`` and the sent fields where the creation date is at
        least ``since`` minus :data:`CLOCK_SLACK` (``since`` is the moment the call left, on
        the CRM's clock) and ``CreatedById`` is the connected user (from the OAuth identity,
        or ``GET /services/oauth2/userinfo`` for an access token). Only what Salesforce keeps
        as sent is compared: a null sent to a field describe marks ``defaultedOnCreate``
        (``Opportunity.Probability``, checkboxes, ``OwnerId``) matches any value, text is
        compared with its outer whitespace trimmed, an empty text equals null; dates,
        datetimes to the second, numbers and booleans in one canonical text form. A group
        of equal input records gets ids only when exactly as many CRM records match it:
        none, fewer or more (another export of the same values) is not guessed at.

        Raises:
            ValueError: ``since`` is naive.
            ConnectorError: a call failed.
        """
        if since.tzinfo is None:
            raise ValueError("since must be a timezone-aware datetime")
        if not records:
            return []
        schema = self.describe(object_name)
        created = schema.created_field or "CreatedDate"
        fields: dict[str, Field] = {}
        for record in records:
            for name in record:
                column = schema.resolve(name)
                fields[column.name] = column
        fields.pop(schema.id_field, None)
        lower = (since - CLOCK_SLACK).astimezone(UTC).replace(microsecond=0)
        request = ReadRequest(
            object=schema.name,
            fields=(schema.id_field, *fields),
            where=(F(created) >= lower) & (F("CreatedById") == self._current_user()),
            order_by=((created, False), (schema.id_field, False)),
            mode="rest",
        )
        rows = [row for page in self.read(request) for row in page.table.to_pylist()]
        excluded = {self.normalize_id(i) or i for i in exclude}
        rows = [r for r in rows if str(r[schema.id_field]) not in excluded]
        # group the input records by what can be compared of them, then match group by group
        groups: dict[tuple[tuple[str, str | None], ...], list[int]] = {}
        for index, record in enumerate(records):
            sent = {schema.resolve(n).name: v for n, v in record.items()}
            sent.pop(schema.id_field, None)
            signature = tuple(
                sorted(
                    (name, self._comparable(value, fields[name]))
                    for name, value in sent.items()
                    if not (fields[name].defaulted_on_create and value in (None, ""))
                )
            )
            groups.setdefault(signature, []).append(index)
        found: dict[tuple[tuple[str, str | None], ...], list[str]] = {
            signature: [
                str(row[schema.id_field])
                for row in rows
                if all(self._comparable(row.get(n), fields[n]) == v for n, v in signature)
            ]
            for signature in groups
        }
        # a CRM record two groups could claim (one sent a defaulted field, one did not)
        # belongs to neither for sure
        shared = Counter(i for matches in found.values() for i in matches)
        ids: list[str | None] = [None] * len(records)
        for signature, members in groups.items():
            matches = found[signature]
            if len(matches) == len(members) and all(shared[m] == 1 for m in matches):
                for index, match in zip(members, matches, strict=True):
                    ids[index] = match
        return ids

    def _comparable(self, value: Any, column: Field) -> str | None:
        """One text form of a sent or read value, as Salesforce keeps it.

        An empty or blank text is null, text is trimmed, ids have 18 characters.
        """
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if column.kind in ("id", "reference"):
                return self.normalize_id(value) or value
        return canonical(value)

    def _current_user(self) -> str:
        if self._user_id is None:
            instance = self.sf.base_url.split("/services/")[0]
            reply = self.http.send(
                "GET",
                f"{instance}/services/oauth2/userinfo",
                operation="read the connected user",
                counted=False,  # an OAuth endpoint, not an API call (reference §9)
                headers={"Accept": "application/json"},
            )
            self._user_id = str(orjson.loads(reply.content)["user_id"])
        return self._user_id

    # --- getDeleted ---------------------------------------------------------------------------

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        """Records deleted in ``[start, end]`` (both included), oldest first.

        ``GET sobjects/{Obj}/deleted/?start=&end=``. Salesforce truncates both ends to the
        minute, so the request starts at ``start``'s minute and ends a minute past
        ``end``'s, and the answer is filtered here. Windows longer than 15 days, or with
        more than 600,000 deletions (``EXCEEDED_ID_LIMIT``), are split. When Salesforce has
        not yet covered the end of the window (``latestDateCovered`` before ``end``: its
        delete log lags by up to a minute), the rest comes from the recycle bin
        (``queryAll`` on ``IsDeleted = true`` by ``SystemModstamp``, one more call).

        Raises:
            ValueError: a naive datetime, or ``start`` after ``end``.
            RequestRejectedError: ``start`` is before ``earliestDateAvailable`` (the message
                names it); Salesforce keeps deletions about 15 days.
            ConnectorError: a call failed.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware datetimes")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if start > end:
            raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
        schema = self.describe(object_name)
        found: dict[str, DeletedRecord] = {}
        covered = start
        piece = _minute(start)
        while piece <= end:
            stop = min(piece + timedelta(days=DELETED_DAYS), end)
            records, covered = self._deleted_split(schema.name, piece, stop, start)
            found.update((r.id, r) for r in records)
            piece = _minute(stop) + timedelta(minutes=1)
        if covered < end and "SystemModstamp" in schema.fields:
            found.update((r.id, r) for r in self._deleted_in_bin(schema, covered, end))
        return sorted(
            (r for r in found.values() if start <= r.deleted_at <= end),
            key=lambda r: (r.deleted_at, r.id),
        )

    def _deleted_split(
        self, name: str, start: datetime, end: datetime, wanted: datetime
    ) -> tuple[list[DeletedRecord], datetime]:
        try:
            return self._deleted_call(name, start, end, wanted)
        except RequestRejectedError as exc:
            if exc.code != "EXCEEDED_ID_LIMIT" or end - start <= timedelta(minutes=2):
                raise
        middle = _minute(start + (end - start) / 2)
        first, _ = self._deleted_split(name, start, middle, wanted)
        second, covered = self._deleted_split(name, middle + timedelta(minutes=1), end, wanted)
        return first + second, covered

    def _deleted_call(
        self, name: str, start: datetime, end: datetime, wanted: datetime
    ) -> tuple[list[DeletedRecord], datetime]:
        try:
            reply = self.http.send(
                "GET",
                f"{self.sf.base_url}sobjects/{name}/deleted/",
                operation=f"read deleted {name}",
                params={
                    "start": _minute(start).isoformat(),
                    "end": (_minute(end) + timedelta(minutes=2)).isoformat(),
                },
            )
        except RequestRejectedError as exc:
            if exc.code == "INVALID_REPLICATION_DATE":
                horizon = self.deleted_horizon(name)
                if horizon is not None and wanted < horizon:
                    raise RequestRejectedError(
                        f"Salesforce keeps deleted {name} records for about {DELETED_DAYS} days: "
                        f"the earliest date available is {horizon.isoformat()}, and the window "
                        f"starts at {wanted.isoformat()}. Hint: start at or after the earliest "
                        "date available, and read deletions more often than every "
                        f"{DELETED_DAYS} days",
                        system=self.system,
                        operation=f"read deleted {name}",
                        status=exc.status,
                        code=exc.code,
                        payload=exc.payload,
                    ) from exc
            raise
        body = orjson.loads(reply.content)
        records = [
            DeletedRecord(id=str(r["id"]), deleted_at=parse_datetime(r["deletedDate"]))
            for r in body.get("deletedRecords") or ()
        ]
        covered = body.get("latestDateCovered")
        return records, parse_datetime(covered) if covered else end

    def _deleted_in_bin(
        self, schema: ObjectSchema, after: datetime, end: datetime
    ) -> list[DeletedRecord]:
        ceiling = end.replace(microsecond=0) + timedelta(seconds=1)  # SOQL has no fractions
        request = ReadRequest(
            object=schema.name,
            fields=(schema.id_field, "SystemModstamp"),
            where=(F("IsDeleted") == True)  # noqa: E712 - a filter, not a comparison
            & (F("SystemModstamp") >= after.replace(microsecond=0))
            & (F("SystemModstamp") <= ceiling),
            mode="rest",
            include_deleted=True,
        )
        return [
            DeletedRecord(id=str(row[schema.id_field]), deleted_at=parse_datetime(stamp))
            for page in self.read(request)
            for row in page.table.to_pylist()
            if (stamp := row["SystemModstamp"])
        ]

    def deleted_horizon(self, object_name: str) -> datetime | None:
        """Salesforce's ``earliestDateAvailable`` for an object's deletions (one getDeleted call).

        Asks ``sobjects/<object>/deleted`` about the last few minutes of the org's clock
        (read from the uncounted versions resource).

        Raises:
            NotFoundError: no such object.
            ConnectorError: a call failed.
        """
        name = self.describe(object_name).name
        now = _minute(self.server_time())
        reply = self.http.send(
            "GET",
            f"{self.sf.base_url}sobjects/{name}/deleted/",
            operation=f"read the deletion horizon of {name}",
            params={
                "start": (now - timedelta(minutes=5)).isoformat(),
                "end": now.isoformat(),
            },
        )
        earliest = orjson.loads(reply.content).get("earliestDateAvailable")
        return parse_datetime(earliest) if earliest else None


# --- private helpers ---------------------------------------------------------------------------


def _result_list(reply: requests.Response, expected: int, operation: str) -> list[dict[str, Any]]:
    body = orjson.loads(reply.content)
    if not isinstance(body, list) or len(body) != expected:
        raise ConnectorError(
            f"expected {expected} results, got {len(body) if isinstance(body, list) else body!r}",
            system="salesforce",
            operation=operation,
            status=reply.status_code,
            payload=reply.text,
        )
    return body


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
