"""Reads whose server-side cursor dies resume exactly where they stopped (issue 17 item 5).

Salesforce: a query locator is invalid after an answer lost on the last page, after 15
minutes idle or once 10 newer cursors are open (API < 56.0), or 2 days after the query.
Dataverse: the paging cookie is a keyset, so a nextLink keeps working, even after the
sandbox forgot its cached result and the last row sent was deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
import requests
from simple_salesforce import Salesforce

from crmframes import Clock, F, RequestRejectedError, Sandbox, import_from_crm
from crmframes.connectors.base import Page, ReadRequest
from crmframes.connectors.salesforce import SalesforceConnector
from crmframes.connectors.salesforce.paging import KeysetCursor
from crmframes.schema import Field, ObjectSchema
from tests.clients import access_token, dynamics_session, trusted_session

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
OBJECTS = {
    "salesforce": ("Contact", "Id", "LastName"),
    "dynamics": ("contact", "contactid", "lastname"),
}
LAST_PAGE = {"salesforce": r"/query/01g\w+-4000", "dynamics": r"contacts\?.*skiptoken"}


class HookedSession(requests.Session):
    """A session trusting the sandbox CA that runs ``hook(url)`` before each request."""

    def __init__(self, sandbox: Sandbox, hook: Callable[[str], None]) -> None:
        super().__init__()
        self.verify = sandbox.ca_file
        self.trust_env = False
        self.hook = hook

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.hook(str(url))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(params=["salesforce", "dynamics"])
def big(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """5,500 contacts: three REST pages on Salesforce, two on Dataverse; the clock frozen."""
    with Sandbox(request.param, data="demo", scale=1.1, clock=Clock(START, frozen=True)) as sb:
        yield sb


@pytest.fixture
def sf() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo", scale=1.1, clock=Clock(START, frozen=True)) as sb:
        yield sb


@pytest.fixture
def dv() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo", scale=1.1, clock=Clock(START, frozen=True)) as sb:
        yield sb


def _ids(sb: Sandbox) -> list[str]:
    obj, key, _ = OBJECTS[sb.crm]
    return sorted(sb.records(obj)[key])


def _legacy(sb: Sandbox, hook: Callable[[str], None]) -> SalesforceConnector:
    """A connector on API 55.0, before Salesforce lifted its cursor limits."""
    return SalesforceConnector(
        replace(sb.settings(), api_version="55.0"),  # type: ignore[arg-type]
        session=HookedSession(sb, hook),
    )


def _more(url: str) -> bool:
    return re.search(r"/query/01g\w+-\d+", url) is not None


def test_a_lost_answer_on_the_last_page_is_resumed_without_loss_or_repeat(big):
    obj, key, last = OBJECTS[big.crm]
    fault = big.faults.add("drop_after", LAST_PAGE[big.crm], times=1)
    conn = big.connector()
    result = import_from_crm(conn, obj, fields=[last], progress=False)
    assert fault.fired == 1
    ids = result.frame[key].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == _ids(big)
    assert result.stats.rows == len(ids)


def test_salesforce_resumes_past_the_last_id_after_idle_expiry(sf):
    def idle(url: str) -> None:
        if _more(url):
            sf.clock.advance(minutes=16)  # the cursor sat idle past 15 minutes

    conn = _legacy(sf, idle)
    result = import_from_crm(conn, "Contact", fields=["LastName"], progress=False)
    ids = result.frame["Id"].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == _ids(sf)
    assert conn.cursor_resumes == result.stats.resumed == 2  # both later pages: resumed
    assert "resumed 2x after a dead cursor" in str(result.stats)


def test_salesforce_resumes_when_ten_newer_cursors_released_its_own(sf):
    session = trusted_session(sf)
    other = Salesforce(
        instance_url=sf.url, session_id=access_token(sf, session), session=session, version="55.0"
    )

    def crowd(url: str) -> None:
        if _more(url):
            for _ in range(10):  # each query of 5,500 contacts opens a cursor
                assert not other.query("SELECT Id FROM Contact")["done"]

    conn = _legacy(sf, crowd)
    result = import_from_crm(conn, "Contact", fields=["LastName"], progress=False)
    ids = result.frame["Id"].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == _ids(sf)
    assert conn.cursor_resumes == 2


def test_salesforce_resume_keeps_the_filter_and_the_limit(sf):
    def idle(url: str) -> None:
        if _more(url):
            sf.clock.advance(minutes=16)

    conn = _legacy(sf, idle)
    where = F("LastName") != "Zzz"
    result = import_from_crm(
        conn, "Contact", fields=["LastName"], where=where, limit=4500, progress=False
    )
    ids = result.frame["Id"].tolist()
    assert ids == _ids(sf)[:4500]  # no order asked: the first 4,500 by id, each once
    assert conn.cursor_resumes == 2


def test_an_ordered_limited_read_whose_cursor_dies_is_refused_clearly(sf):
    def idle(url: str) -> None:
        if _more(url):
            sf.clock.advance(minutes=16)

    conn = _legacy(sf, idle)
    with pytest.raises(RequestRejectedError, match=r"cannot restart exactly.*without limit="):
        import_from_crm(
            conn, "Contact", fields=["LastName"], order_by="LastName", limit=5000, progress=False
        )
    unlimited = import_from_crm(
        conn, "Contact", fields=["LastName"], order_by="LastName", progress=False
    )
    assert len(unlimited.frame) == 5500  # without a limit the order is applied here: resumable
    names = unlimited.frame["LastName"].str.upper().tolist()  # Salesforce's collation
    assert names == sorted(names)


def test_dataverse_next_link_survives_a_forgotten_cursor_and_a_deleted_last_row(dv):
    big = dv
    api = dynamics_session(big)
    root = f"{big.url}/api/data/v9.2"
    before = _ids(big)

    def forget(url: str) -> None:
        if "skiptoken" not in url:
            return
        cookie = requests.utils.unquote(requests.utils.unquote(requests.utils.unquote(url)))
        last = re.search(r'last="([0-9a-f-]{36})"', cookie)
        assert last is not None
        api.delete(f"{root}/contacts({last[1]})", timeout=30).raise_for_status()
        for _ in range(201):  # more open result sets than the sandbox keeps
            reply = api.get(
                f"{root}/accounts?$select=name",
                headers={"Prefer": "odata.maxpagesize=1"},
                timeout=30,
            )
            assert "@odata.nextLink" in reply.json()

    conn = big.connector(session=HookedSession(big, forget))
    result = import_from_crm(conn, "contact", fields=["lastname"], progress=False)
    ids = result.frame["contactid"].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == before  # the deleted row came on page 1


SCHEMA = ObjectSchema(
    "Contact",
    {"Id": Field("Id", "id"), "LastName": Field("LastName", "string")},
    "Id",
)


def test_the_resumed_query_keeps_filter_order_and_what_is_left_of_the_limit():
    request = ReadRequest("Contact", ("Id", "LastName"), where=F("LastName") == "O'Hara", limit=5)
    cursor = KeysetCursor.for_request(request, "Id", ["Id", "LastName"])
    assert cursor.soql(SCHEMA, ["Id", "LastName"]) == (
        "SELECT Id, LastName FROM Contact WHERE LastName = 'O\\'Hara' "
        "ORDER BY Id ASC NULLS LAST LIMIT 5"
    )
    page = Page(pa.table({"Id": ["003000000000001AAA", "003000000000002AAA"]}), total=5)
    assert cursor.seen(page).total == 5
    cursor.resume(RequestRejectedError("gone", system="salesforce", operation="q"), "Contact")
    assert cursor.soql(SCHEMA, ["Id", "LastName"]) == (
        "SELECT Id, LastName FROM Contact WHERE (LastName = 'O\\'Hara') "
        "AND Id > '003000000000002AAA' ORDER BY Id ASC NULLS LAST LIMIT 3"
    )
    assert cursor.seen(Page(pa.table({"Id": ["003000000000003AAA"]}), total=3)).total == 5


def test_a_read_without_the_id_cannot_resume():
    request = ReadRequest("Contact", ("LastName",))
    cursor = KeysetCursor.for_request(request, "Id", ["LastName"])
    dead = RequestRejectedError("gone", system="salesforce", operation="q")
    with pytest.raises(RequestRejectedError, match="does not select Id"):
        cursor.resume(dead, "Contact")
