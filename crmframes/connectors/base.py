"""The Connector protocol: the one seam between the operations and a CRM's wire format.

Pure (types only). A connector knows its CRM's protocol and nothing of the seed's
workflow: it describes objects, reads pages of records for a :class:`ReadRequest`, says
which ids are well formed and what time the CRM thinks it is. Everything else — windows,
conversions, rejects, progress — lives once in :mod:`crmframes.operations`.

The protocol is the whole seam: the operations, the forms, the job runner and
``crmframes check`` use a connector only through the members declared here (a test,
``tests/test_protocol_seam.py``, checks both connectors and scans the callers). It is
``runtime_checkable``, so ``isinstance(conn, Connector)`` tells a connector from anything
else by its members, never by its class.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from crmframes.filters import Expr
    from crmframes.frames import Collation
    from crmframes.schema import Field, ObjectSchema

__all__ = [
    "ApiLimits",
    "BulkJobRef",
    "Connector",
    "CreatedRecord",
    "DeletedRecord",
    "Page",
    "ReadMode",
    "ReadRequest",
    "ThrottleReport",
    "WriteBatch",
    "WriteOp",
    "WriteOutcome",
    "WriteParallelism",
]

ReadMode = Literal["auto", "rest", "bulk"]
WriteOp = Literal["insert", "update", "upsert", "delete"]


@dataclass(frozen=True)
class ReadRequest:
    """What to read: an object, its fields, a filter, an order, a limit.

    Attributes:
        object: the object's API name, as the connector's :meth:`Connector.describe` spells it.
        fields: field names to return (the id and modified fields are the caller's to add).
        where: a validated filter expression, or None for every record.
        order_by: ``(field, descending)`` pairs.
        limit: the most records to return.
        mode: ``"rest"`` (JSON pages), ``"bulk"`` (Salesforce Bulk API 2.0 CSV), or
            ``"auto"`` (the connector picks by size; see its documentation).
        include_deleted: also read soft-deleted records (Salesforce ``queryAll``).
    """

    object: str
    fields: tuple[str, ...]
    where: Expr | None = None
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    mode: ReadMode = "auto"
    include_deleted: bool = False


@dataclass
class Page:
    """One page of records: an Arrow table of wire values, one column per requested field.

    Wire values: text as strings (dates and datetimes as the CRM writes them, ISO 8601),
    numbers as int64 / float64, booleans as bool; nulls as nulls.

    Attributes:
        table: the records.
        total: how many records the whole read will return, when the CRM said.
        mode: how the page was read (``"rest"`` or ``"bulk"``).
    """

    table: pa.Table
    total: int | None = None
    mode: str = "rest"
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteBatch:
    """One batch of record writes, no longer than :meth:`Connector.write_limit` allows.

    Values are Python values the connector serialises for its wire format: ``None`` (set
    the field to null), ``str``, ``int``, ``float``, ``bool``, :class:`datetime.date` and
    timezone-aware UTC :class:`datetime.datetime`. A field absent from a record is left
    unchanged by an update or upsert. Lookup fields carry the target record's id.

    Attributes:
        object: the object's API name, as :meth:`Connector.describe` spells it.
        op: ``"insert"`` (create), ``"update"`` (by the object's id field, which every record
            carries), ``"upsert"`` (by ``key``: a Salesforce external-id field or a Dataverse
            alternate-key column, which every record carries) or ``"delete"`` (by id; each
            record is ``{id_field: id}``).
        records: the records, in order.
        key: the upsert key field; None for the other operations.
    """

    object: str
    op: WriteOp
    records: tuple[Mapping[str, Any], ...]
    key: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """What the CRM did with one record of a :class:`WriteBatch`.

    Attributes:
        ok: whether the write succeeded.
        id: the record's CRM id (for a failed update or delete, the id that was sent).
        created: for a successful upsert or insert, whether a record was created.
        error_symbol: the CRM's symbolic error (Salesforce ``statusCode``; a Dataverse name
            such as ``DuplicateRecord`` derived from the HRESULT).
        error_message: the CRM's message.
        error_code: the HTTP status or the CRM's numeric code, as text.
        error_fields: the fields the error names, comma-separated.
        transient: whether the same write may succeed if sent again later (a locked row,
            a throttled or unavailable service); the operations retry these.
        missing: the record does not exist (never did, or already deleted): Salesforce
            ``ENTITY_IS_DELETED`` / ``NOT_FOUND``, Dataverse ``0x80040217``. A delete sent
            again after its first outcome was lost reads this as done when the CRM shows
            the record was deleted after that first call.
        exists: an insert that carried its own id found a record with that id already
            there (Dataverse ``0x80040237``): when the id was chosen by the export (see
            :meth:`Connector.new_record_ids`), an earlier send of the same row created it;
            when the row named it, :meth:`Connector.read_created` tells whether a send of
            ours whose answer was lost made it.
    """

    ok: bool
    id: str | None = None
    created: bool | None = None
    error_symbol: str = ""
    error_message: str = ""
    error_code: str = ""
    error_fields: str = ""
    transient: bool = False
    missing: bool = False
    exists: bool = False


@dataclass(frozen=True)
class BulkJobRef:
    """A bulk write job the CRM accepted, so that a resumed export can collect its results."""

    job_id: str
    object: str
    op: WriteOp


@dataclass(frozen=True)
class DeletedRecord:
    """A record deleted in the CRM: its id, when, and by whom (when the CRM says)."""

    id: str
    deleted_at: datetime
    deleted_by: str | None = None


@dataclass(frozen=True)
class CreatedRecord:
    """When and by whom a record was created, as the CRM stamps it.

    Attributes:
        id: the record's id (the connector's canonical form).
        created_at: the CRM's creation stamp (Dataverse ``createdon``: whole seconds), or
            None when the writer set it (Dataverse ``overriddencreatedon``): then it says
            nothing about when the record was made.
        created_by: the id of the user who created it, when the CRM says.
        by_caller: whether that user is the connected user (this connector's).
        untold: when ``created_at`` is None, why the stamp cannot tell, in the CRM's terms.
    """

    id: str
    created_at: datetime | None
    created_by: str | None = None
    by_caller: bool = False
    untold: str | None = None


@dataclass(frozen=True)
class WriteParallelism:
    """How many write calls a CRM takes at once from one user, and how to cut rows for them.

    Attributes:
        default: calls in flight when the caller does not say (``max_parallel=``) and the CRM
            has not advised a degree yet.
        ceiling: the most calls in flight, ever (the CRM's concurrent-request limit, or
            well under it).
        follows_hint: the CRM advises a degree in its answers (Dataverse's
            ``x-ms-dop-hint``); it then replaces ``default`` and caps ``max_parallel``.
        min_batch: cut rows into whole waves of equal calls that fill the degree, none
            smaller than this (None: the fewest calls, each as large as allowed).
        min_bulk_job: a large bulk export runs one job per call in flight, none smaller
            than this (None: no bulk jobs).
    """

    default: int = 1
    ceiling: int = 1
    follows_hint: bool = False
    min_batch: int | None = None
    min_bulk_job: int | None = None


@runtime_checkable
class ThrottleReport(Protocol):
    """What a connector learnt of the CRM's limits (``connectors.throttling.Throttling``).

    A connector offers it as :attr:`Connector.throttling`; the operations read it for an
    export's degree of parallelism and the throttles in ``result.stats``.
    """

    dop_hint: int | None  # Dataverse's x-ms-dop-hint: the degree of parallelism it advises

    def snapshot(self) -> tuple[int, float]:
        """Throttles met and seconds waited on them so far."""


@dataclass(frozen=True)
class ApiLimits:
    """What the CRM says of the API calls left to the connected user (``crmframes check``).

    Attributes:
        remaining: calls left in the CRM's window, when it counts them (Salesforce
            ``DailyApiRequests``); None when it does not say.
        maximum: the window's allocation, when the CRM says.
        detail: one line for people saying what the CRM reported
            (``"14,900 of 15,000 daily API requests left"``).
        window: what frees calls again once none are left (``"the rolling 24-hour window"``).
    """

    remaining: int | None
    maximum: int | None
    detail: str
    window: str = "the CRM's window"

    @property
    def exhausted(self) -> bool:
        """Whether the CRM counts calls and none are left: calls fail until the window frees some."""
        return bool(self.maximum) and self.remaining == 0


@runtime_checkable
class Connector(Protocol):
    """What every CRM connector offers the operations, the forms, the runner and ``check``.

    Read-only values are properties, so a plain class attribute, an instance attribute or a
    property all satisfy them.
    """

    @property
    def system(self) -> str:
        """The CRM's name (``"salesforce"``, ``"dynamics"``), as settings and errors spell it."""

    @property
    def instance(self) -> str:
        """The org's URL, without credentials: what export journals are tied to."""

    @property
    def id_chunk_size(self) -> int:
        """Ids per query when fetching a population of records."""

    @property
    def collation(self) -> Collation:
        """How the CRM orders text (:func:`crmframes.frames.text_order_key`)."""

    @property
    def cursor_resumes(self) -> int:
        """Reads restarted past their last id after the CRM dropped a cursor, so far.

        An import reports the difference over its reads (``stats.resumed``); a CRM whose
        pages never expire keeps it at 0.
        """

    def objects(self) -> list[str]:
        """The names of every object that can be read (cached after the first call), sorted."""

    def read_limits(self) -> ApiLimits:
        """What the CRM says of the API calls left (one API call).

        Raises:
            PermissionDeniedError: the user may not read the limits (imports and exports
                may still work); its message names the permission needed, when the CRM has
                one for this (Salesforce: "View Setup and Configuration").
        """

    def describe(self, object_name: str) -> ObjectSchema:
        """Describe an object (cached); raise ``NotFoundError`` with close matches if unknown."""

    def field(self, object_name: str, name: str) -> Field:
        """Resolve one field name of an object, relationship paths included where supported."""

    def read(self, request: ReadRequest) -> Iterator[Page]:
        """Yield the pages of records a request selects, in order."""

    def normalize_id(self, value: object) -> str | None:
        """The canonical form of a record id (surrounding whitespace dropped), or None."""

    def server_time(self) -> datetime:
        """The CRM's current time (from its HTTP ``Date`` header), timezone-aware UTC."""

    @property
    def api_calls(self) -> int:
        """API calls this connector has made, counted as the CRM counts them."""

    @property
    def throttling(self) -> ThrottleReport:
        """Throttles met and time waited on them (shared by the connector's threads)."""

    @property
    def write_parallelism(self) -> WriteParallelism:
        """How many write calls the CRM takes at once, and how to cut rows for them."""

    @property
    def longest_call(self) -> timedelta:
        """How long after it left a write call may still change records.

        The longer of the connector's HTTP timeout and the CRM's own limit on one call's
        run: an insert whose answer was lost can only have created a record that long
        after it left (:mod:`crmframes.operations.own_ids`).
        """

    def close(self) -> None:
        """Release the HTTP session."""

    # --- writes ------------------------------------------------------------------------------

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        """The most records one :meth:`write` (or one bulk job) may carry for ``op``."""

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        """Send one batch in one API call; return one outcome per record, in order.

        Per-record failures are outcomes. A failure of the whole call raises a
        ``ConnectorError`` after the HTTP layer's retries; when an insert or a delete lost
        its connection after it was sent, the error has ``outcome_unknown=True``: some
        records may have been created or deleted (updates and upserts are simply re-sent).
        """

    @property
    def supports_bulk_write(self) -> bool:
        """Whether :meth:`write_bulk` exists (Salesforce Bulk API 2.0 ingest)."""

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        """Write a large batch as one bulk job; call ``on_submitted`` as soon as the job exists.

        The callback runs after the job is created and before any data is uploaded, so a
        process that dies at any later point leaves a job id the journal knows about.

        Returns one outcome per record, in order (results are matched back to the input
        rows by content, as the CRM echoes them).
        """

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        """The outcomes of a job submitted by an earlier process, waiting for it to finish.

        None when the job never ran (still open, aborted, or unknown): send the batch again.
        """

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> list[str] | None:
        """Ids for new records, derived from ``seeds``, when the CRM takes client-chosen ids.

        The same seed always gives the same id, so an insert sent again after its answer was
        lost names the same record: the CRM creates it once and answers the second send
        with ``exists`` (Dataverse takes a primary id in a create's body). None when the CRM
        assigns ids itself (Salesforce): a lost insert is then settled by :meth:`find_created`.
        """

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        """Ids of records created by this user at or after ``since`` that match ``records``.

        Resolves an insert whose outcome is unknown, and never guesses: only records the
        connected user created since ``since`` (the CRM's clock), compared on the fields the
        CRM keeps as sent (a sent null of a field the CRM defaults matches any value; text
        as the CRM trims it). Ids in ``exclude`` (records the export journals read
        hold) match none. Input records with equal values form a group: it gets ids only
        when exactly as many CRM records match it; otherwise (none, fewer, or more: another
        writer sent the same values) each of its records gets None.
        """

    def read_created(self, object_name: str, ids: Sequence[str]) -> list[CreatedRecord]:
        """When and by whom the records ``ids`` were created (those that exist, any order).

        Settles an insert that named its own id, was sent again after its answer was lost,
        and found the id taken (:attr:`WriteOutcome.exists`): an earlier send of ours made
        the record only if the connected user created it after that send left. A CRM whose
        inserts never name ids (Salesforce refuses an ``Id`` on create) is never asked.
        """

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        """Records deleted in ``[start, end]`` (both included), oldest first.

        Raises ``RequestRejectedError`` naming the CRM's horizon when ``start`` is older than
        the CRM keeps deletions (Salesforce ``earliestDateAvailable``; Dataverse audit retention).
        """

    def deleted_horizon(self, object_name: str) -> datetime | None:
        """The oldest moment :meth:`read_deleted` can reach for an object (None: no limit).

        Salesforce keeps deletions per object (``earliestDateAvailable``); Dataverse's
        audit retention is the environment's, the same for every table.
        """
