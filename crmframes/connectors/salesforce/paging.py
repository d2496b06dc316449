"""Resume a Salesforce REST read whose query locator died, past the last id it read.

Pure (builds SOQL text; no I/O). A REST query's later pages come from a server-side cursor
(the query locator in ``nextRecordsUrl``). Salesforce invalidates it: an answer lost on the
last page leaves nothing to fetch again, and cursors expire or are released (before API
56.0: 15 minutes idle, at most 10 per user, the oldest released; since then kept 2 days
from the query; reference/salesforce-api.md §2.3). The read is then ``INVALID_QUERY_LOCATOR``
(reference §6: "restart query"). Restarting from scratch would repeat every row read so
far; instead a read ordered on the id restarts with ``Id > '<last id read>'`` (the keyset
pagination PK chunking relies on), so no row is lost or read twice. A read ordered on
anything else cannot resume exactly (ties, nulls, collation), so it stops with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crmframes.connectors.base import Page, ReadRequest
from crmframes.connectors.salesforce.soql_compiler import build_soql, compile_soql
from crmframes.errors import RequestRejectedError
from crmframes.filters import Expr
from crmframes.schema import ObjectSchema

__all__ = ["KeysetCursor"]

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


@dataclass
class KeysetCursor:
    """Where a REST read stands, so a dead query locator can be replaced exactly.

    Attributes:
        id_field: the record id field (``Id``).
        where: the read's filter.
        order: the order sent: the id alone when the read is resumable (``keyed``).
        limit: the most records the whole read returns.
        keyed: whether the read is ordered on the id and selects it, so it can resume.
        read: records yielded so far.
        last: the id of the last record yielded.
        before: records read by the queries before the current one (for page totals).
    """

    id_field: str
    where: Expr | None
    order: tuple[tuple[str, bool], ...]
    limit: int | None
    keyed: bool
    read: int = 0
    last: str | None = None
    before: int = 0

    @classmethod
    def for_request(cls, request: ReadRequest, id_field: str, names: Sequence[str]) -> KeysetCursor:
        """Plan the read of ``request``: on the id when it has no order of its own."""
        by_id = ((id_field, False),)
        keyed = id_field in names and tuple(request.order_by) in ((), by_id)
        order = by_id if keyed else tuple(request.order_by)
        return cls(id_field, request.where, order, request.limit, keyed)

    def soql(self, schema: ObjectSchema, names: Sequence[str]) -> str:
        """The query to run now: the whole read, or what is left of it past :attr:`last`."""
        remaining = None if self.limit is None else self.limit - self.read
        order = list(self.order)
        if self.last is None:
            return build_soql(
                schema.name, names, where=self.where, schema=schema, order_by=order, limit=remaining
            )
        head = build_soql(schema.name, names, schema=schema)
        whole = build_soql(schema.name, names, schema=schema, order_by=order, limit=remaining)
        condition = f"{self.id_field} > '{self.last}'"
        if self.where is not None:
            condition = f"({compile_soql(self.where, schema)}) AND {condition}"
        return f"{head} WHERE {condition}{whole[len(head) :]}"

    def seen(self, page: Page) -> Page:
        """Note a page handed to the caller; return it with the whole read's total."""
        rows = page.table.num_rows
        if rows and self.keyed:
            last = page.table.column(self.id_field)[rows - 1].as_py()
            self.last = str(last) if last is not None else self.last
        self.read += rows
        if page.total is not None and self.before:
            page.total += self.before
        return page

    def resume(self, exc: RequestRejectedError, object_name: str) -> None:
        """Prepare to replace the dead cursor, or raise when no exact resume is possible.

        Raises:
            RequestRejectedError: the read is ordered on other fields than the id.
        """
        if not self.keyed:
            names = ", ".join(name for name, _ in self.order)
            why = f"ordered by {names}" if names else f"that does not select {self.id_field}"
            raise exc.reworded(
                f"the query locator of this {object_name} read died after {self.read:,} "
                f"records, and a read {why} cannot restart exactly where it "
                "stopped (ties and nulls would repeat or skip rows); Hint: run it again, or "
                "import without limit= (import_from_crm then reads in id order, resumes, "
                "and sorts the frame itself)"
            ) from exc
        if self.last is not None and not _ID.fullmatch(self.last):
            raise RequestRejectedError(
                f"cannot resume the {object_name} read past the id {self.last!r}",
                system=exc.system,
                operation=exc.operation,
                status=exc.status,
                code=exc.code,
            ) from exc
        self.before = self.read
