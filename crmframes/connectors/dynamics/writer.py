"""Write Dataverse records in ``$batch`` calls, find lost inserts, and read deletions from audits.

Edge: Dataverse Web API over requests, through the connector's :class:`HttpClient`.
:class:`DynamicsWriter` is the write part of
:class:`~crmframes.connectors.dynamics.DynamicsConnector` (which holds one and delegates to it):

- :meth:`~DynamicsWriter.write` sends inserts and updates as one ``CreateMultiple`` /
  ``UpdateMultiple`` (:mod:`crmframes.connectors.dynamics.multiple`, Microsoft's fastest
  write path), and upserts and deletes (or every write, with the connector's
  ``write_messages = "batch"``) as one ``$batch`` (reference/dataverse-api.md §6) with
  ``Prefer: odata.continue-on-error`` and every record as its own request outside any
  changeset, so records fail independently: insert ``POST /<set>`` (the id from
  ``OData-EntityId``), update ``PATCH /<set>(<id>)`` with ``If-Match: *`` (never an
  accidental create), upsert ``PATCH /<set>(<key>='<value>')?$select=<id>`` with
  ``Prefer: return=representation`` (201 created, 200 updated; §5), delete
  ``DELETE /<set>(<id>)``. The wire format (the body, the answer, values, outcomes) is
  :mod:`crmframes.connectors.dynamics.wire`.
- Lookup columns (``_x_value`` in frames) are written as ``<nav>@odata.bind:
  "/<targetset>(<guid>)"``, the navigation property taken from the table's
  ``ManyToOneRelationships``. A lookup with several target tables (``parentcustomerid``:
  account or contact; ``ownerid``) accepts ``"account:<guid>"``; a bare GUID, which is what
  an import of ``_parentcustomerid_value`` gives, is looked up: every bare GUID of the batch
  in one extra ``$batch`` of ``GET`` queries (one per target table), remembered for the
  connector's life. So a round trip (import, edit, export) works, at one call more per
  batch that carries unknown bare GUIDs in such a column.
- :meth:`~DynamicsWriter.find_created` resolves an insert batch whose answer was lost;
  :meth:`~DynamicsWriter.read_deleted` reads Delete audit rows (§8a) within the audit
  retention of the ``organizations`` row (``auditretentionperiodv2``).

Longer than 500 lines: $batch writes, lookup binds, lost inserts and audit deletions share the
batch helpers below.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import quote, urlencode, urlsplit

import orjson

from crmframes.connectors.base import BulkJobRef, DeletedRecord, WriteBatch, WriteOp, WriteOutcome
from crmframes.connectors.dynamics.multiple import MULTIPLE_OPS, write_multiple
from crmframes.connectors.dynamics.odata_compiler import build_query
from crmframes.connectors.dynamics.wire import (
    BatchAnswer,
    BatchRequest,
    aware,
    batch_body,
    canonical,
    guid,
    json_value,
    key_literal,
    logical_name,
    outcome,
    parse_time,
    read_batch,
)
from crmframes.errors import ConfigError, ConnectorError, RequestRejectedError
from crmframes.filters import F
from crmframes.schema import Field, ObjectSchema

if TYPE_CHECKING:
    from crmframes.connectors.dynamics.connector import DynamicsConnector

__all__ = ["CREATED_SLACK", "WRITE_LIMIT", "DynamicsWriter"]

WRITE_LIMIT = 1000  # requests per $batch (reference §6)
CREATED_SLACK = timedelta(seconds=2)  # clock skew allowed when looking for lost inserts
_SYSTEM = "dynamics"
_PAGE = 5000
_IN_CHUNK = 400  # GUIDs per In() query: ~16 KB of URL, well under the 64 KB a batch GET takes
_LOOKUP_CACHE = 200_000

_AUDIT = ObjectSchema(
    "audit",
    {
        "auditid": Field("auditid", "id"),
        "createdon": Field("createdon", "datetime"),
        "operation": Field("operation", "integer"),
        "objecttypecode": Field("objecttypecode", "string"),
        "_objectid_value": Field("_objectid_value", "reference"),
        "_userid_value": Field("_userid_value", "reference"),
    },
    "auditid",
    case_sensitive=True,
    entity_set="audits",
)


@dataclasses.dataclass
class _Pending:
    """A lookup bind whose target table is not known yet (a bare GUID, several targets)."""

    field: Field
    guid: str


class DynamicsWriter:
    """The write part of ``DynamicsConnector``: ``$batch`` writes, lost inserts, the audit log.

    The connector holds one and delegates to it; the writer sends through the connector and
    reads the metadata its ``describe`` gathered (entity sets, primary ids, navigation
    properties, audit flags). The GUID -> table cache of lookup binds is the writer's own.
    """

    def __init__(self, conn: DynamicsConnector) -> None:
        self.conn = conn
        self._lookup_tables: dict[str, str] = {}  # GUID -> the table holding it

    # --- limits and bulk ---------------------------------------------------------------------

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        """The most records one :meth:`write` carries: 1,000 (the ``$batch`` limit).

        Raises:
            ValueError: an unknown ``op``.
            ConfigError: ``bulk=True``: Dataverse has no bulk ingest here.
        """
        _check_op(op)
        if bulk:
            raise _no_bulk()
        return WRITE_LIMIT

    @property
    def supports_bulk_write(self) -> bool:
        """False: Dataverse writes go in ``$batch`` calls of up to 1,000 records."""
        return False

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        """Not available on Dataverse: raise :class:`ConfigError` (use :meth:`write`)."""
        raise _no_bulk()

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        """Not available on Dataverse: raise :class:`ConfigError` (use :meth:`write`)."""
        raise _no_bulk()

    # --- writing -----------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        """Send a batch as one ``POST $batch``; return one outcome per record, in order.

        Records that cannot be sent (an update without a GUID id, a lookup value naming a
        table the column cannot point to) get a failed outcome without a request. A batch
        with bare GUIDs in a multi-target lookup may cost one more call (see the module
        docstring), and the first lookup a connector binds lists the tables once (their
        entity sets, ``EntityDefinitions``).

        Raises:
            ValueError: an unknown op, more than 1,000 records, an upsert without a key,
                a naive datetime.
            TypeError: a value of a type Dataverse has no JSON for.
            ConfigError: the upsert key is not an alternate key of the table.
            UnknownFieldError: a record names a column the table does not have.
            ConnectorError: the call failed as a whole; an insert or delete batch whose
                connection was lost raises ``UnavailableError`` with ``outcome_unknown=True``
                (inserts without ids: use :meth:`find_created`; inserts naming their ids:
                send again, ``exists`` then means taken, by the lost call or before it;
                deletes: send again, ``missing`` then means done or gone before).
        """
        _check_op(batch.op)
        if len(batch.records) > WRITE_LIMIT:
            raise ValueError(
                f"a Dataverse $batch carries at most {WRITE_LIMIT} records, not "
                f"{len(batch.records)}; split the batch (write_limit() says the size)"
            )
        if not batch.records:
            return []
        schema = self.conn.describe(batch.object)
        key = self._upsert_key(schema, batch.key) if batch.op == "upsert" else None
        outcomes: list[WriteOutcome | None] = [None] * len(batch.records)
        parts: list[BatchRequest] = []
        for index, record in enumerate(batch.records):
            prepared = self._prepare(schema, batch.op, key, index, record)
            if isinstance(prepared, WriteOutcome):
                outcomes[index] = prepared
            else:
                parts.append(prepared)
        parts = self._bind_pending(schema, parts, outcomes)
        if parts:
            # Sent again after a lost answer, an insert without its own id would create twice
            # and a delete would read "does not exist": the caller must know (outcome_unknown).
            # An insert naming its ids is not resent here either: its second create answers
            # exists, which only the caller can read (an id it chose: done; an id its row
            # named: created by the lost call, or by someone before; DESIGN §4.6).
            idempotent = batch.op in ("update", "upsert")
            if batch.op in MULTIPLE_OPS and self.conn.write_messages == "multiple":
                written = write_multiple(
                    self.conn._send,
                    schema,
                    batch.op,
                    parts,
                    idempotent=idempotent,
                    taken=lambda ids: self._taken_ids(schema, ids),
                )
                for part, result in zip(parts, written, strict=True):
                    outcomes[part.index] = result
                return [o if o is not None else WriteOutcome(ok=False) for o in outcomes]
            answers = self._batch(
                parts, operation=f"{batch.op} {schema.name}", idempotent=idempotent
            )
            for number, part in enumerate(parts):
                answer = answers[number] if number < len(answers) else None
                outcomes[part.index] = outcome(schema, batch.op, part, answer)
        return [o if o is not None else WriteOutcome(ok=False) for o in outcomes]

    def _taken_ids(self, schema: ObjectSchema, ids: list[str]) -> set[str]:
        """Which of ``ids`` name an existing record (lower case): ``In()`` queries of 400."""
        found: set[str] = set()
        primary = schema.id_field
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            options = build_query(schema, [primary], where=F(primary).isin(chunk))
            url = f"{schema.entity_set or schema.name}?{_encode(options)}"
            rows = self._rows(url, f"find taken ids in {schema.name}")
            found |= {str(row[primary]).lower() for row in rows}
        return found

    def _upsert_key(self, schema: ObjectSchema, key: str | None) -> Field:
        if key is None:
            raise ValueError("an upsert needs a key: an alternate-key column of the table")
        found = self.conn.field(schema.name, key)
        logical = logical_name(found)
        if found.name != schema.id_field and (logical,) not in schema.keys:
            keys = ", ".join("+".join(k) for k in schema.keys) or "none"
            raise ConfigError(
                f"{schema.name} has no alternate key on {key!r} (its alternate keys: {keys}). "
                "Hint: upsert by an alternate key, or by the primary id "
                f"{schema.id_field!r}; an administrator can add a key in the table's settings"
            )
        return found

    def _prepare(
        self,
        schema: ObjectSchema,
        op: WriteOp,
        key: Field | None,
        index: int,
        record: Mapping[str, Any],
    ) -> BatchRequest | WriteOutcome:
        """Turn one record into its request, or into a failed outcome when it cannot be sent."""
        entity_set = schema.entity_set or schema.name
        if op == "insert":
            sent = record.get(schema.id_field)
            body = self._body(schema, record, skip=() if sent else (schema.id_field,))
            if isinstance(body, WriteOutcome):
                return body
            return BatchRequest(
                index, "POST", entity_set, None if sent is None else str(sent), body
            )
        if op == "upsert":
            assert key is not None
            value = record.get(key.name, record.get(logical_name(key)))
            literal = key_literal(key, value)
            if literal is None:
                return _failed(
                    "InvalidArgument", f"no value for the upsert key {key.name}", key.name
                )
            body = self._body(schema, record, skip=(key.name, logical_name(key)))
            if isinstance(body, WriteOutcome):
                return body
            if key.name == schema.id_field:  # upsert by id: PATCH /<set>(<guid>), no If-Match
                segment, sent = literal, literal
            else:  # an alternate key: /<set>(<column>='<value>'), the value URL-encoded
                segment, sent = quote(f"{key.name}={literal}", safe="'="), None
            path = f"{entity_set}({segment})?$select={schema.id_field}"
            return BatchRequest(
                index, "PATCH", path, sent, body, {"Prefer": "return=representation"}
            )
        record_id = guid(record.get(schema.id_field))
        if record_id is None:
            return _failed(
                "InvalidArgument",
                f"{record.get(schema.id_field)!r} is not a GUID: an {op} needs the "
                f"record's {schema.id_field}",
                schema.id_field,
            )
        if op == "delete":
            return BatchRequest(index, "DELETE", f"{entity_set}({record_id})", record_id)
        body = self._body(schema, record, skip=(schema.id_field,))
        if isinstance(body, WriteOutcome):
            return body
        return BatchRequest(
            index, "PATCH", f"{entity_set}({record_id})", record_id, body, {"If-Match": "*"}
        )

    def _body(
        self, schema: ObjectSchema, record: Mapping[str, Any], *, skip: Sequence[str]
    ) -> dict[str, Any] | WriteOutcome:
        body: dict[str, Any] = {}
        fields = schema.fields
        for name, value in record.items():
            if name in skip:
                continue
            column = fields.get(name) or self.conn.field(schema.name, name)
            if column.kind != "reference":
                body[column.name] = json_value(value, column.name)
                continue
            bind = self._bind(schema, column, value)
            if isinstance(bind, WriteOutcome):
                return bind
            nav, target = bind
            body[f"{nav}@odata.bind"] = target
        return body

    def _bind(
        self, schema: ObjectSchema, column: Field, value: Any
    ) -> tuple[str, str | _Pending | None] | WriteOutcome:
        """The navigation property and ``/<set>(<guid>)`` of a lookup value."""
        targets = column.references
        if value is None or value == "":
            return self._nav(schema, column, targets[0] if targets else ""), None
        text = str(value)
        table, _, rest = text.rpartition(":")
        target_id = guid(rest)
        if target_id is None or (table and table not in targets):
            return _failed(
                "InvalidArgument",
                f"{text!r} is not a lookup value for {column.name}: give the target's GUID"
                + (
                    f", as 'table:<guid>' with table one of {', '.join(targets)}" if targets else ""
                ),
                column.name,
            )
        if not table:
            if len(targets) == 1:
                table = targets[0]
            elif target_id in self._lookup_tables:
                table = self._lookup_tables[target_id]
            else:  # resolved for the whole batch at once, before it is sent
                return self._nav(schema, column, targets[0]), _Pending(column, target_id)
        return self._nav(schema, column, table), f"/{self._entity_set(table)}({target_id})"

    def _nav(self, schema: ObjectSchema, column: Field, table: str) -> str:
        navigation = self.conn._navigation.get(schema.name, {})
        logical = logical_name(column)
        found = navigation.get((logical, table))
        if found is None:  # an owner binds through one property whatever the table
            candidates = {nav for (attr, _), nav in navigation.items() if attr == logical}
            found = candidates.pop() if len(candidates) == 1 else None
        if found is None:  # no relationship metadata: Dataverse's naming of system lookups
            found = logical if len(column.references) <= 1 else f"{logical}_{table}"
        return found

    def _entity_set(self, table: str) -> str:
        if self.conn._tables is None or table not in self.conn._tables:
            self.conn.objects()
        return (self.conn._tables or {}).get(table) or table

    def _bind_pending(
        self, schema: ObjectSchema, parts: list[BatchRequest], outcomes: list[WriteOutcome | None]
    ) -> list[BatchRequest]:
        """Find the tables of the bare GUIDs in multi-target lookups; fill in their binds."""
        pending = [
            (part, name, value)
            for part in parts
            for name, value in (part.body or {}).items()
            if isinstance(value, _Pending)
        ]
        if not pending:
            return parts
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, _, value in pending:
            for table in value.field.references:
                wanted[table].add(value.guid)
        self._resolve(wanted, operation=f"find lookup targets for {schema.name}")
        failed: set[int] = set()
        for part, name, value in pending:
            assert part.body is not None
            holder = self._lookup_tables.get(value.guid)
            if holder is None:
                targets = " or ".join(value.field.references)
                outcomes[part.index] = _failed(
                    "ObjectDoesNotExist",
                    f"{value.field.name}: no {targets} has the id {value.guid}",
                    value.field.name,
                )
                failed.add(part.index)
                continue
            del part.body[name]
            nav = self._nav(schema, value.field, holder)
            part.body[f"{nav}@odata.bind"] = f"/{self._entity_set(holder)}({value.guid})"
        return [p for p in parts if p.index not in failed]

    def _resolve(self, wanted: Mapping[str, set[str]], *, operation: str) -> None:
        """One ``$batch`` of ``GET <set>?$filter=In(<pk>, [...])`` per table and chunk."""
        if len(self._lookup_tables) > _LOOKUP_CACHE:
            self._lookup_tables.clear()
        self.conn.objects()
        parts: list[BatchRequest] = []
        tables: list[str] = []
        for table, guids in sorted(wanted.items()):
            primary = self.conn._primary_ids.get(table)
            if primary is None or table not in (self.conn._tables or {}):
                continue  # a target this environment does not expose (team, ...)
            schema = ObjectSchema(
                table, {primary: Field(primary, "id")}, primary, case_sensitive=True
            )
            ordered = sorted(guids)
            for start in range(0, len(ordered), _IN_CHUNK):
                chunk = ordered[start : start + _IN_CHUNK]
                options = build_query(schema, [primary], where=F(primary).isin(chunk))
                parts.append(
                    BatchRequest(len(parts), "GET", f"{self._entity_set(table)}?{_encode(options)}")
                )
                tables.append(table)
        if not parts:
            return
        for table, answer in zip(tables, self._batch(parts, operation=operation), strict=False):
            if answer.status != 200:
                raise ConnectorError(
                    f"looking up lookup targets in {table} failed: HTTP {answer.status}",
                    system=_SYSTEM,
                    operation=operation,
                    status=answer.status,
                    payload=answer.body.decode("utf-8", "replace"),
                )
            primary = self.conn._primary_ids[table]
            for row in orjson.loads(answer.body).get("value", []):
                self._lookup_tables[str(row[primary]).lower()] = table

    # --- the $batch call -----------------------------------------------------------------------

    def _batch(
        self, parts: list[BatchRequest], *, operation: str, idempotent: bool = True
    ) -> list[BatchAnswer]:
        """Send ``parts`` as one ``$batch`` (continue on error); return the answers in order."""
        boundary = f"batch_{uuid.uuid4()}"
        prefix = urlsplit(self.conn.api_root).path
        response = self.conn._send(
            "POST",
            "$batch",
            operation=operation,
            data=batch_body(boundary, parts, prefix),
            headers={
                "Content-Type": f"multipart/mixed; boundary={boundary}",
                "Prefer": "odata.continue-on-error",
            },
            idempotent=idempotent,
        )
        content_type = response.headers.get("Content-Type", "")
        answers = read_batch(content_type, response.content)
        if answers is None:
            raise ConnectorError(
                f"Dataverse answered the $batch with {content_type or 'no content type'}, "
                "not multipart/mixed",
                system=_SYSTEM,
                operation=operation,
                status=response.status_code,
                payload=response.text,
            )
        return answers

    # --- lost inserts ------------------------------------------------------------------------

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> list[str]:
        """GUIDs for new records, one per seed (UUID version 5: the same seed, the same id).

        Dataverse takes a client-chosen primary id in a create's body (reference §5), so an
        insert is idempotent by construction: sent twice, the second create answers
        ``0x80040237`` (:attr:`WriteOutcome.exists`).
        """
        space = uuid.uuid5(
            uuid.NAMESPACE_URL, f"{self.conn.api_root}#{self.conn.describe(object_name).name}"
        )
        return [str(uuid.uuid5(space, seed)) for seed in seeds]

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        """Match records to rows this user created since ``since`` (``GET <set>``, paged).

        Queries the table for rows created (``createdon``, or ``modifiedon`` when the
        records back-date ``overriddencreatedon``) at or after ``since`` minus
        :data:`CREATED_SLACK`, by the caller (``_createdby_value``, from ``WhoAmI``), and
        gives each record the id of a distinct row whose sent columns (those a create can
        set) all equal the record's, compared in one canonical text form: dates, datetimes
        to the second in UTC, numbers, booleans, GUIDs in lower case.

        Returns:
            One id per record, in order; None where no row matches.

        Raises:
            ValueError: ``since`` is naive.
            ConfigError: the table has no ``createdon`` column.
        """
        moment = aware(since, "since")
        if not records:
            return []
        schema = self.conn.describe(object_name)
        if schema.created_field is None:
            raise ConfigError(f"{schema.name} has no createdon column to find new records by")
        user = self.conn._user_id or self.conn._who_am_i()
        names = list(dict.fromkeys(name for record in records for name in record))
        compared = {
            name: column
            for name in names
            if (column := self.conn.field(schema.name, name)).createable
            and column.name != "overriddencreatedon"
        }
        stamp = "modifiedon" if "overriddencreatedon" in names else schema.created_field
        after = (moment - CREATED_SLACK).replace(microsecond=0)
        options = build_query(
            schema,
            [schema.id_field, *(c.name for c in compared.values())],
            where=(F(stamp) >= after) & (F("_createdby_value") == user),
            order_by=[schema.created_field],
        )
        rows = list(
            self._rows(f"{schema.entity_set}?{_encode(options)}", f"find created {schema.name}")
        )
        claimed: set[str] = set(exclude)  # ids this export already gave to other rows
        pools: dict[tuple[str, ...], dict[tuple[str | None, ...], deque[str]]] = {}
        found: list[str | None] = []
        for record in records:
            sent = tuple(n for n in record if n in compared)
            if sent not in pools:
                pool: dict[tuple[str | None, ...], deque[str]] = defaultdict(deque)
                for row in rows:
                    signature = tuple(
                        canonical(compared[n], row.get(compared[n].name)) for n in sent
                    )
                    pool[signature].append(str(row[schema.id_field]).lower())
                pools[sent] = pool
            candidates = pools[sent][tuple(canonical(compared[n], record[n]) for n in sent)]
            while candidates and candidates[0] in claimed:
                candidates.popleft()
            match = candidates.popleft() if candidates else None
            if match is not None:
                claimed.add(match)
            found.append(match)
        return found

    # --- deletions ---------------------------------------------------------------------------

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        """Records deleted in ``[start, end]`` (both included), oldest first (``GET audits``).

        Reads the Delete audit rows of the table (operation 3, reference §8a), paged.
        Audit times are whole seconds, so both ends are compared to the second.

        Raises:
            ValueError: naive datetimes, or ``start`` after ``end``.
            RequestRejectedError: auditing is off for the environment or the table, or
                ``start`` is older than the audit retention (the message names the
                earliest date available).
        """
        first, last = aware(start, "start"), aware(end, "end")
        if first > last:
            raise ValueError(f"start ({first.isoformat()}) is after end ({last.isoformat()})")
        schema = self.conn.describe(object_name)
        operation = f"read deleted {schema.name}"
        if not self.conn._audited.get(schema.name, True):
            raise _rejected(
                f"auditing is off for the {schema.name} table (IsAuditEnabled is false), so "
                "Dataverse kept no record of its deletions. Hint: turn auditing on for the "
                "table (Power Platform admin centre, table settings); later deletions will "
                "then be readable",
                operation,
            )
        enabled, days, horizon = self._audit_settings(operation)
        if not enabled:
            raise _rejected(
                "auditing is off for this environment, so Dataverse kept no record of "
                "deletions. Hint: turn on 'Start Auditing' in the environment's audit settings",
                operation,
            )
        if horizon is not None and first < horizon:
            raise _rejected(
                f"Dataverse keeps audit history for {days} days; the earliest date available "
                f"is {horizon:%Y-%m-%dT%H:%M:%SZ}. Hint: start the window at or after it",
                operation,
            )
        where = (
            (F("operation") == 3)
            & (F("objecttypecode") == schema.name)
            & (F("createdon") >= first.replace(microsecond=0))
            & (F("createdon") <= last.replace(microsecond=0))
        )
        options = build_query(
            _AUDIT,
            ["auditid", "createdon", "_objectid_value", "_userid_value"],
            where=where,
            order_by=["createdon"],
        )
        return [
            DeletedRecord(
                id=str(row["_objectid_value"]).lower(),
                deleted_at=parse_time(row["createdon"]),
                deleted_by=str(row["_userid_value"]).lower() if row.get("_userid_value") else None,
            )
            for row in self._rows(f"audits?{_encode(options)}", operation)
        ]

    def deleted_horizon(self, object_name: str) -> datetime | None:
        """The oldest moment :meth:`read_deleted` reaches: now minus the audit retention.

        The retention is the environment's, the same for every table: ``object_name`` is
        taken for the protocol's one signature and not looked up. Reads
        ``auditretentionperiodv2`` (days; -1 or null: kept forever, so None) of the
        ``organizations`` row; now is the environment's clock (its ``Date`` header).
        """
        return self._audit_settings("read the audit retention")[2]

    def _audit_settings(self, operation: str) -> tuple[bool, int | None, datetime | None]:
        """(auditing on, retention days, horizon) from ``GET organizations`` (one call)."""
        response = self.conn._send(
            "GET",
            "organizations?$select=auditretentionperiodv2,isauditenabled",
            operation=operation,
        )
        rows = orjson.loads(response.content).get("value") or [{}]
        enabled = rows[0].get("isauditenabled") is not False
        days = rows[0].get("auditretentionperiodv2")
        if not isinstance(days, int) or days < 0:
            return enabled, None, None
        now = self.conn.http.last_date or datetime.now(UTC)
        return enabled, days, (now - timedelta(days=days)).replace(microsecond=0)

    def _rows(self, url: str, operation: str) -> Iterator[dict[str, Any]]:
        """Every row of a collection GET, following ``@odata.nextLink`` verbatim."""
        headers = {"Prefer": f"odata.maxpagesize={_PAGE}"}
        link: str | None = url
        while link:
            body = orjson.loads(
                self.conn._send("GET", link, operation=operation, headers=headers).content
            )
            yield from body.get("value", [])
            link = body.get("@odata.nextLink")


# --- pure helpers ---------------------------------------------------------------------------


def _check_op(op: object) -> None:
    if op not in get_args(WriteOp):
        raise ValueError(f"op must be one of {get_args(WriteOp)}, not {op!r}")


def _no_bulk() -> ConfigError:
    return ConfigError(
        "Dataverse has no bulk ingest in crmframes: write in $batch calls of up to "
        f"{WRITE_LIMIT} records with write() (supports_bulk_write is False)"
    )


def _rejected(message: str, operation: str) -> RequestRejectedError:
    return RequestRejectedError(message, system=_SYSTEM, operation=operation)


def _failed(symbol: str, message: str, fields: str = "") -> WriteOutcome:
    return WriteOutcome(ok=False, error_symbol=symbol, error_message=message, error_fields=fields)


def _encode(options: Mapping[str, str]) -> str:
    return urlencode(options, quote_via=quote, safe="$,'()=@/:")
