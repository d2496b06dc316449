"""Answer a Dataverse query bounded or ordered on the primary id by a seek, as SQL Server does.

Edge helper of the Dataverse sandbox (pure but for its cache). A real environment's tables
are SQL Server tables whose primary key is the id, so ``contactid gt A and contactid le B``
can read the rows of that span only, and ``$orderby=contactid`` read them in order, by that
key's index (the server time the production profile models): that is what makes
a client's parallel id ranges worth having (connectors/dynamics/ranges.py). The sandbox
scanned and sorted the whole table for each such query instead, so its own CPU, not the
modelled server time, bounded a parallel read on the production profile. An
:class:`IdIndex` keeps each table's live records sorted in SQL Server's ``uniqueidentifier``
order (:func:`~.odata_eval.guid_order_key`), rebuilt whenever the table has changed (the
table's ``version``), and :func:`id_span` reads the span a ``$filter`` bounds the id to
from its syntax tree. The span only narrows the rows the query's whole filter then runs on,
so an answer holds the same rows as the scan's; without an ``$orderby`` they come in id
order (a real environment's unordered answer is in no promised order either), and a page
after an evicted cursor resumes in that order (:func:`in_id_order`).
"""

from __future__ import annotations

import bisect
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from crmframes.sandbox.database import Table

from .odata import _Compare, _Lit, _Logic, _Prop
from .odata_eval import MIRROR, QueryPlan, Record, guid_order_key
from .org import DataverseOrg

__all__ = ["IdIndex", "IdSpan", "id_order", "id_span", "in_id_order"]


@dataclass(frozen=True, slots=True)
class IdSpan:
    """Bounds on the primary id, as :func:`~.odata_eval.guid_order_key` keys (None: open)."""

    low: str | None = None
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = True
    whole: bool = True  # the filter is these bounds and nothing else

    def narrow(self, other: IdSpan) -> IdSpan:
        """Both spans at once (their intersection)."""
        low, low_in = self.low, self.low_inclusive
        if other.low is not None and (
            low is None or (other.low, not other.low_inclusive) > (low, not low_in)
        ):
            low, low_in = other.low, other.low_inclusive
        high, high_in = self.high, self.high_inclusive
        if other.high is not None and (
            high is None or (other.high, other.high_inclusive) < (high, high_in)
        ):
            high, high_in = other.high, other.high_inclusive
        return IdSpan(low, low_in, high, high_in, self.whole and other.whole)


def id_span(tree: Any, primary_id: str) -> IdSpan | None:
    """The span a ``$filter`` tree bounds ``primary_id`` to through ``and``, or None.

    Only comparisons of the id itself with a GUID literal, joined by ``and`` at the top,
    count; anything else (``or``, ``not``, other columns) leaves the span as wide, and the
    span is then not :attr:`~IdSpan.whole`: the filter must still run on its rows.

    Examples:
        >>> from crmframes.sandbox.dynamics.odata import _Parser
        >>> tree = _Parser("contactid gt 00000000-0000-0000-0000-00000000000a and "
        ...                "lastname eq 'Doe'", None).parse()
        >>> id_span(tree, "contactid").low
        '00000000000a00000000000000000000'
        >>> id_span(_Parser("lastname eq 'Doe'", None).parse(), "contactid") is None
        True
    """
    if isinstance(tree, _Logic) and tree.op == "and":
        found = [id_span(item, primary_id) for item in tree.items]
        spans = [s for s in found if s is not None]
        if not spans:
            return None
        span = spans[0]
        for other in spans[1:]:
            span = span.narrow(other)
        return span if len(spans) == len(found) else replace(span, whole=False)
    if not isinstance(tree, _Compare):
        return None
    left, right, op = tree.left, tree.right, tree.op
    if isinstance(left, _Lit):
        left, right, op = right, left, MIRROR[op]
    if not (
        isinstance(left, _Prop)
        and left.segments == (primary_id,)
        and isinstance(right, _Lit)
        and right.edm == "Edm.Guid"
    ):
        return None
    key = guid_order_key(str(right.value).lower().strip("{}"))
    if op == "eq":
        return IdSpan(key, True, key, True)
    if op in ("gt", "ge"):
        return IdSpan(low=key, low_inclusive=op == "ge")
    if op in ("lt", "le"):
        return IdSpan(high=key, high_inclusive=op == "le")
    return None


def id_order(orderby: str | None, primary_id: str) -> bool | None:
    """``False`` / ``True`` when ``$orderby`` is the primary id alone (asc / desc), else None.

    Examples:
        >>> id_order("contactid desc", "contactid"), id_order("lastname", "contactid")
        (True, None)
    """
    if orderby is None:
        return None
    match = re.fullmatch(rf"\s*{re.escape(primary_id)}(?:\s+(asc|desc))?\s*", orderby)
    return None if match is None else match[1] == "desc"


def in_id_order(plan: QueryPlan, orderby: str | None) -> bool:
    """Whether :meth:`IdIndex.answer` hands the rows of ``plan`` back in ascending id order.

    Ordered on the id ascending, or bounded on it without an order (a seek reads in id
    order): an evicted cursor's next page then resumes past its last id, not after a
    position in another order (``webapi._resume_at``).
    """
    descending = id_order(orderby, plan.entity.primary_id)
    if descending is not None:
        return not descending
    return orderby is None and id_span(plan.tree, plan.entity.primary_id) is not None


class IdIndex:
    """Each table's live records in primary-id order, rebuilt when the table has changed."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[int, list[str], list[Record]]] = {}
        self._lock = threading.Lock()

    def answer(self, plan: QueryPlan, org: DataverseOrg, orderby: str | None) -> list[Record]:
        """The rows of ``plan``, by a seek when it bounds or orders on the id, else a scan."""
        entity = plan.entity
        descending = id_order(orderby, entity.primary_id)
        span = id_span(plan.tree, entity.primary_id)
        now = org.clock.now()
        if descending is None and span is None:
            return plan.execute(org.scan(entity.logical_name), org, now=now)
        table = org.db[entity.logical_name]
        found = self.rows(table, org.db.lock, span, descending=bool(descending))
        if span is not None and span.whole and (descending is not None or orderby is None):
            return found if plan.top is None else found[: plan.top]  # the seek is the answer
        return plan.execute(found, org, now=now, seek=descending is not None)

    def rows(
        self,
        table: Table,
        lock: AbstractContextManager[Any],
        span: IdSpan | None,
        *,
        descending: bool = False,
    ) -> list[Record]:
        """The live records of ``table`` within ``span``, in id order (reversed: descending).

        Args:
            table: the sandbox database's table (``rows``, ``key``, ``name``, ``version``).
            lock: the database's lock, held while the table is read.
            span: the id bounds, or None for every record.
            descending: the order of the rows handed back.
        """
        with lock:
            version = table.version
            with self._lock:
                built = self._tables.get(table.name)
            if built is None or built[0] != version:
                records = list(table.rows.values())
                keys = [guid_order_key(r[table.key]) for r in records]
                order = sorted(range(len(records)), key=keys.__getitem__)
                built = (version, [keys[i] for i in order], [records[i] for i in order])
                with self._lock:
                    self._tables[table.name] = built
        _, keys, records = built
        start, end = 0, len(keys)
        if span is not None:
            if span.low is not None:
                seek = bisect.bisect_left if span.low_inclusive else bisect.bisect_right
                start = seek(keys, span.low)
            if span.high is not None:
                seek = bisect.bisect_right if span.high_inclusive else bisect.bisect_left
                end = max(start, seek(keys, span.high))
        found = records[start:end]
        if descending:
            found.reverse()
        return found
