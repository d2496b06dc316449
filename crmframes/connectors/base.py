"""The Connector protocol: the one seam between the operations and a CRM's wire format.

Pure (types only). A connector knows its CRM's protocol and nothing of the seed's
workflow: it describes objects, reads pages of records for a :class:`ReadRequest`, says
which ids are well formed and what time the CRM thinks it is. Everything else — windows,
conversions, rejects, progress — lives once in :mod:`crmframes.operations`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from crmframes.filters import Expr
    from crmframes.schema import Field, ObjectSchema

__all__ = ["Connector", "Page", "ReadMode", "ReadRequest"]

ReadMode = Literal["auto", "rest", "bulk"]


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


class Connector(Protocol):
    """What every CRM connector offers the operations."""

    system: str  # "salesforce" or "dynamics"
    id_chunk_size: int  # ids per query when fetching a population of records

    def describe(self, object_name: str) -> ObjectSchema:
        """Describe an object (cached); raise ``NotFoundError`` with close matches if unknown."""

    def field(self, object_name: str, name: str) -> Field:
        """Resolve one field name of an object, relationship paths included where supported."""

    def read(self, request: ReadRequest) -> Iterator[Page]:
        """Yield the pages of records a request selects, in order."""

    def normalize_id(self, value: object) -> str | None:
        """The canonical form of a record id, or None when ``value`` is not a well-formed id."""

    def server_time(self) -> datetime:
        """The CRM's current time (from its HTTP ``Date`` header), timezone-aware UTC."""

    @property
    def api_calls(self) -> int:
        """API calls this connector has made, counted as the CRM counts them."""

    def close(self) -> None:
        """Release the HTTP session."""
