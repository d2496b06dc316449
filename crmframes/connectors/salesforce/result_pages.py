"""Read a Bulk API 2.0 query result from ``resultPages``, several pages in flight at once.

Edge: Salesforce Bulk API 2.0 over the connector's :class:`~crmframes.connectors.http.HttpClient`.
From API 58.0, ``GET /jobs/query/<id>/resultPages`` lists up to five ``resultLink`` URLs
(each one page of the result, readable independently) and a ``nextRecordsUrl`` for the next
five (Bulk API 2.0 guide, "Get Parallel Results for a Query Job"; reference/salesforce-api.md
§8). Reading the locator chain (``results?locator=``) waits one round trip per page in turn;
here :data:`READ_DEGREE` pages are fetched (gzip-compressed: requests asks for it and
Salesforce answers so) and parsed in workers, and handed over in the result's order, at
most that many held at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import orjson

from crmframes.errors import ConnectorError

__all__ = ["READ_DEGREE", "RESULT_PAGES_VERSION", "in_order", "result_links"]

READ_DEGREE = 4  # result pages in flight at once
RESULT_PAGES_VERSION = 58.0  # resultPages exists from API 58.0 on

T = TypeVar("T")


def result_links(get_json: Callable[[str], bytes], first: str) -> Iterator[str]:
    """Every ``resultLink`` of a job, following ``nextRecordsUrl`` (one call per five links)."""
    url: str | None = first
    while url:
        body = orjson.loads(get_json(url))
        pages = body.get("resultPages") if isinstance(body, dict) else None
        if not isinstance(pages, list):
            raise ConnectorError(
                "the resultPages answer lists no pages",
                system="salesforce",
                operation="read bulk query result pages",
                payload=body,
            )
        for page in pages:
            # the guide's example names each link resultLink; its table says resultUrl
            link = (
                page.get("resultLink") or page.get("resultUrl") if isinstance(page, dict) else None
            )
            if not link:
                raise ConnectorError(
                    "a result page has no resultLink",
                    system="salesforce",
                    operation="read bulk query result pages",
                    payload=page,
                )
            yield str(link)
        url = None if body.get("done") else body.get("nextRecordsUrl")


def in_order(items: Iterator[str], fetch: Callable[[str], T], degree: int) -> Iterator[T]:
    """``fetch`` each item in a worker, ``degree`` at once; yield the results in order.

    An error of a fetch surfaces when its result is asked for; the fetches still in flight
    then finish before the pool closes.
    """
    with ThreadPoolExecutor(max_workers=degree, thread_name_prefix="crmframes-pages") as pool:
        ahead: deque[Future[T]] = deque()
        for item in items:
            ahead.append(pool.submit(fetch, item))
            if len(ahead) >= degree:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
