"""Bulk API 2.0 query results read from resultPages, several pages in flight, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from crmframes import Sandbox, import_from_crm
from crmframes.connectors.salesforce.result_pages import in_order

ROWS = 60


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo", scale=0.05) as box:
        box._app.bulk.page_records = 7  # small pages: 60 rows need 9 links over 2 answers
        yield box


def _read(sb: Sandbox, parallel: int) -> tuple[list[str], list[tuple[str, str, int | None]]]:
    conn = sb.connector(bulk_page_size=10)
    conn.bulk_read_parallel = parallel
    before = len(sb.request_log())
    frame = import_from_crm(
        conn, "Contact", fields=["LastName"], order_by="Id", limit=ROWS, mode="bulk",
        progress=False,
    ).frame  # fmt: skip
    return frame["Id"].tolist(), sb.request_log()[before:]


def test_bulk_results_read_from_result_pages_match_the_locator_chain(sb):
    parallel, calls = _read(sb, 4)
    chained, chain_calls = _read(sb, 1)
    assert parallel == chained and len(parallel) == ROWS
    pages = [t for m, t, s in calls if "/resultPages" in t]
    links = [t for m, t, s in calls if "/results?" in t]
    assert len(pages) == 2 and len(links) == 9  # one listing per five links
    assert all("locator=" in t for t in links)
    assert not any("/resultPages" in t for m, t, s in chain_calls)


def test_in_order_keeps_order_and_degree() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def fetch(item: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01 * (5 - int(item) % 5))  # later items finish first
        with lock:
            running -= 1
        return item * 2

    items = [str(i) for i in range(12)]
    assert list(in_order(iter(items), fetch, 3)) == [i * 2 for i in items]
    assert peak == 3


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b'{"done": true}', "lists no pages"),
        (b'{"resultPages": [{"size": 7}], "done": true}', "has no resultLink"),
        (b"[]", "lists no pages"),
    ],
)
def test_an_odd_result_pages_answer_is_a_connector_error(answer, message):
    from crmframes.connectors.salesforce.result_pages import result_links
    from crmframes.errors import ConnectorError

    with pytest.raises(ConnectorError, match=message):
        list(result_links(lambda url: answer, "/jobs/query/750x/resultPages"))
