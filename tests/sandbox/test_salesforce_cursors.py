"""The sandbox's query locators expire as Salesforce's do, by the API version that opened them.

Before API 56.0: 15 minutes idle, at most 10 open per user (the oldest released). Since
56.0: no count limit, results kept 2 days from the query ("API Query Cursor Limits").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from crmframes import Clock, Sandbox
from tests.clients import access_token, trusted_session

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
QUERY = "SELECT Id FROM Contact"  # 2,500 contacts: a second page, so a cursor


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo", scale=0.5, clock=Clock(START, frozen=True)) as sb:
        yield sb


def _client(sb: Sandbox, version: str) -> Salesforce:
    session = trusted_session(sb)
    return Salesforce(
        instance_url=sb.url, session_id=access_token(sb, session), session=session, version=version
    )


def _locator(sf: Salesforce) -> str:
    first = sf.query(QUERY)
    assert not first["done"]
    return str(first["nextRecordsUrl"]).rsplit("/", 1)[1]


def _invalid(sf: Salesforce, locator: str) -> bool:
    code = None
    try:
        sf.query_more(locator)
    except SalesforceMalformedRequest as exc:
        code = exc.content[0]["errorCode"]
    return code == "INVALID_QUERY_LOCATOR"


def test_before_56_an_eleventh_cursor_releases_the_oldest(sandbox):
    sf = _client(sandbox, "55.0")
    locators = [_locator(sf) for _ in range(11)]
    assert _invalid(sf, locators[0])
    assert not _invalid(sf, locators[1])


def test_since_56_many_cursors_stay_open(sandbox):
    sf = _client(sandbox, "59.0")
    locators = [_locator(sf) for _ in range(30)]
    assert not _invalid(sf, locators[0])


def test_before_56_a_cursor_expires_after_15_minutes_idle(sandbox):
    sf = _client(sandbox, "55.0")
    locator = _locator(sf)
    sandbox.clock.advance(minutes=14)
    assert not _invalid(sf, locator)  # used: idle again from now
    sandbox.clock.advance(minutes=15, seconds=1)
    assert _invalid(sf, locator)


def test_since_56_a_cursor_lasts_two_days_from_its_query(sandbox):
    sf = _client(sandbox, "59.0")
    locator = _locator(sf)
    sandbox.clock.advance(minutes=16)
    assert not _invalid(sf, locator)
    sandbox.clock.advance(days=2)
    assert _invalid(_client(sandbox, "59.0"), locator)  # a new session: the old one expired
