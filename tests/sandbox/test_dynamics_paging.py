"""A Dataverse nextLink keeps working after the sandbox forgot its cached result.

Dataverse's paging cookie is a keyset computed as each page is asked for ("Paging
behaviors and ordering"): no server cursor expires. The sandbox caches results and, once
one is evicted, runs the query again and continues past the row the cookie names, also
when that row (and the one after it) was deleted in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crmframes import Sandbox
from crmframes.sandbox.dynamics.webapi import MAX_CURSORS
from tests.clients import dynamics_session


@pytest.fixture
def dv() -> Iterator[tuple[Sandbox, requests.Session, str]]:
    with Sandbox("dynamics", data="demo", scale=0.1) as sb:
        yield sb, dynamics_session(sb), f"{sb.url}/api/data/v9.2"


def _page(api: requests.Session, url: str) -> dict[str, Any]:
    reply = api.get(url, headers={"Prefer": "odata.maxpagesize=100"}, timeout=30)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


def _evict(api: requests.Session, root: str) -> None:
    for _ in range(MAX_CURSORS + 1):  # more open results than the sandbox caches
        assert "@odata.nextLink" in _page(api, f"{root}/contacts?$select=fullname")


@pytest.mark.parametrize("orderby", ["", "&$orderby=contactid", "&$orderby=lastname,contactid"])
def test_a_next_link_continues_past_deleted_rows_once_its_result_was_evicted(dv, orderby):
    _, api, root = dv
    query = f"{root}/contacts?$select=lastname{orderby}"
    everything = []
    url: str | None = query
    while url:
        body = _page(api, url)
        everything += [row["contactid"] for row in body["value"]]
        url = body.get("@odata.nextLink")
    first = _page(api, query)
    sent = [row["contactid"] for row in first["value"]]
    assert sent == everything[:100]
    for gone in everything[99:101]:  # the last row sent and the first one not sent yet
        api.delete(f"{root}/contacts({gone})", timeout=30).raise_for_status()
    _evict(api, root)
    second = _page(api, first["@odata.nextLink"])
    assert [row["contactid"] for row in second["value"]] == everything[101:201]
