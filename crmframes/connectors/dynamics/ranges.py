"""Plan a Dataverse read of a large table as primary-key ranges read in parallel.

Edge helper of the Dataverse connector (threads; its calls go through the connector's fetch). The key of a range is
the table's primary id: a GUID never changes, so a row that is updated while the read runs
stays in its range and is read once; a range on ``modifiedon`` would let an updated row
move into a range already read (lost) or not yet read (read twice). The ranges follow the
order SQL Server gives ``uniqueidentifier`` values (``SqlGuid.CompareTo``: the last six
bytes first, then bytes 8-9, 6-7, 4-5, 0-3, the first three groups byte-swapped), because
Dataverse compares ``contactid gt <guid>`` in that order
(learn.microsoft.com/sql/connect/ado-net/sql/compare-guid-uniqueidentifier-values).

The plan: the first page is read ordered on the id (:data:`FIRST_PAGE` rows; a table that
fits is read in that one call), then, when there is more, the largest id (one cheap call). The rows past the first
page's last id are then cut into equal spans of the key space up to that largest id, the
last one open-ended so rows created above it during the read are still seen as a
sequential read would see them. The first page's density estimates how many rows each span
holds, so a table of a few thousand rows is not cut into calls of a handful of rows. Each
span is a chain of ``@odata.nextLink`` pages; :data:`MAX_DEGREE` chains at most in flight.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

__all__ = [
    "FIRST_PAGE",
    "MAX_DEGREE",
    "MIN_RANGE_ROWS",
    "guid_key",
    "key_guid",
    "next_link",
    "plan_ranges",
    "range_filter",
    "ranges_in_order",
    "read_in_ranges",
]

FIRST_PAGE = 500  # rows of the first (ordered) page: a small table is read in this one call
MIN_RANGE_ROWS = 1000  # rows below which another range costs a round trip more than it saves
MAX_DEGREE = 52  # Dataverse's concurrent requests per user (service protection limits)
_TOP = (1 << 128) - 1
# (start, end) of the hex digits of a GUID string, most significant first in SQL Server order
_SQL_ORDER = (
    (24, 36), (19, 23), (16, 18), (14, 16), (11, 13), (9, 11), (6, 8), (4, 6), (2, 4), (0, 2),
)  # fmt: skip

_NEXT_LINK = re.compile(rb'"@odata\.nextLink"\s*:\s*"([^"]+)"')
T = TypeVar("T")
P = TypeVar("P")
Fetch = Callable[..., bytes]


def guid_key(guid: str) -> int:
    """The integer that orders GUIDs as SQL Server orders ``uniqueidentifier`` values.

    Examples:
        >>> hex(guid_key("00112233-4455-6677-8899-aabbccddeeff"))
        '0xaabbccddeeff88997766554433221100'
    """
    text = guid.lower()
    return int("".join(text[a:b] for a, b in _SQL_ORDER), 16)


def key_guid(key: int) -> str:
    """The GUID of a key of :func:`guid_key` (its inverse).

    Examples:
        >>> key_guid(0xAABBCCDDEEFF88997766554433221100)
        '00112233-4455-6677-8899-aabbccddeeff'
    """
    digits = f"{key:032x}"
    parts: dict[tuple[int, int], str] = {}
    at = 0
    for a, b in _SQL_ORDER:
        parts[(a, b)] = digits[at : at + b - a]
        at += b - a
    text = ["-"] * 36
    for (a, b), chunk in parts.items():
        text[a:b] = chunk
    return "".join(text)


def plan_ranges(
    first: str, last: str, top: str | None, rows: int, *, degree: int
) -> list[tuple[str, str | None]]:
    """Cut the ids past ``last`` into ranges ``(after, up_to)``, the last one open-ended.

    Args:
        first: the smallest id of the first page (SQL Server order).
        last: its largest id: every range starts past it.
        top: the largest id of the table (None: unknown, the whole key space).
        rows: rows of the first page (for the density).
        degree: the most ranges.

    Returns:
        ``(after, up_to)`` pairs in key order: ids ``> after`` and ``<= up_to`` (None: no end).

    Examples:
        >>> plan_ranges("00000000-0000-0000-0000-000000000000",
        ...             "00000000-0000-0000-0000-100000000000",
        ...             "00000000-0000-0000-0000-300000000000", 1000, degree=2)
        [('00000000-0000-0000-0000-100000000000', '00000000-0000-0000-0000-200000000000'), \
('00000000-0000-0000-0000-200000000000', None)]
    """
    low, high = guid_key(last), guid_key(top) if top is not None else _TOP
    start = guid_key(first)
    count = max(1, degree)
    if rows > 1 and high > low and low > start:
        expected = (high - low) * (rows - 1) / (low - start)  # rows past the first page
        count = max(1, min(count, -(-int(expected) // MIN_RANGE_ROWS)))
    if high <= low:
        count = 1
    step = (high - low) // count
    bounds = [low + step * i for i in range(count)]
    after = [key_guid(b) for b in bounds]
    return [(a, after[i + 1] if i + 1 < count else None) for i, a in enumerate(after)]


def range_filter(id_field: str, after: str, up_to: str | None) -> str:
    """The OData condition of one range (GUID literals are unquoted in OData).

    Examples:
        >>> range_filter("contactid", "00000000-0000-0000-0000-000000000001", None)
        'contactid gt 00000000-0000-0000-0000-000000000001'
    """
    condition = f"{id_field} gt {after}"
    return condition if up_to is None else f"{condition} and {id_field} le {up_to}"


def ranges_in_order(items: Sequence[T], read: Callable[[T], list[P]], degree: int) -> Iterator[P]:
    """Read every item (a whole chain of pages) in a worker, ``degree`` at once, in order.

    The pages of each item are yielded in the items' order, so the merged read is one
    partition of the ids, each range in its own order. An error of a range surfaces when
    its pages are asked for; the ranges still in flight finish before the pool closes.
    """
    workers = max(1, min(degree, len(items)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crmframes-ranges") as pool:
        futures: list[Future[list[P]] | None] = [pool.submit(read, i) for i in items]
        try:
            for number, future in enumerate(futures):
                assert future is not None
                futures[number] = None  # a range's pages go once they are handed over
                yield from future.result()
        finally:
            for future in futures:
                if future is not None:
                    future.cancel()


def read_in_ranges(
    fetch: Fetch,
    url: Callable[[dict[str, str]], str],
    parse: Callable[[bytes], P],
    options: dict[str, str],
    *,
    id_field: str,
    first_headers: dict[str, str],
    degree: Callable[[], int],
) -> Iterator[P]:
    """Read a query's rows: the first page ordered on the id, then the rest in ranges.

    Args:
        fetch: GET a URL (optionally with headers), the answer's body.
        url: the URL of query options.
        parse: a page's body into what is yielded.
        options: the query's options (``$select`` with the id, maybe ``$filter``).
        id_field: the primary id column.
        first_headers: the first call's headers (its page size and count annotations).
        degree: the ranges to read at once, asked once the first answer is in (its
            ``x-ms-dop-hint``).

    A table that fits in the first page costs that one call; a larger one a probe for its
    largest id, then the ranges.
    """
    first_options = {**options, "$orderby": f"{id_field} asc", "$count": "true"}
    probe = {
        "$select": id_field,
        **({"$filter": options["$filter"]} if "$filter" in options else {}),
        "$orderby": f"{id_field} desc",
        "$top": "1",
    }
    raw = fetch(url(first_options), first_headers)
    more = next_link(raw) is not None
    rows = orjson.loads(raw)["value"] if more else []
    yield parse(raw)
    if not more or not rows:
        return
    top = (orjson.loads(fetch(url(probe))).get("value") or [{}])[0].get(id_field)
    wanted = max(1, min(degree(), MAX_DEGREE))
    plan = plan_ranges(
        str(rows[0][id_field]), str(rows[-1][id_field]), top, len(rows), degree=wanted
    )
    del raw, rows

    def read_range(bounds: tuple[str, str | None]) -> list[P]:
        condition = range_filter(id_field, *bounds)
        where = options.get("$filter")
        ranged = {**options, "$filter": f"({where}) and {condition}" if where else condition}
        return [parse(body) for body in _chain(fetch(url(ranged)), fetch)]

    yield from ranges_in_order(plan, read_range, wanted)


def _chain(first: bytes, fetch: Fetch) -> Iterator[bytes]:
    """The pages of one range: its first answer, then its ``@odata.nextLink`` chain."""
    body: bytes | None = first
    while body is not None:
        link = next_link(body)
        yield body
        body = fetch(link) if link else None


def next_link(body: bytes) -> str | None:
    """The ``@odata.nextLink`` of a page, found without parsing it (it closes the page)."""
    match = _NEXT_LINK.search(body, max(0, len(body) - 8192))
    if match is None and b"@odata.nextLink" in body:  # elsewhere in the page: parse to be sure
        found: Any = orjson.loads(body).get("@odata.nextLink")
        return str(found) if found else None
    return None if match is None else match.group(1).decode().replace("\\/", "/")
