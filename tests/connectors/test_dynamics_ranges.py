"""Dataverse reads of a large table go in parallel id ranges: never a row lost or repeated.

The ranges are on the primary id (a GUID never changes), in SQL Server's ``uniqueidentifier``
order, so rows updated, created or deleted while the ranges are read cannot move between them.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from crmframes import Clock, F, Sandbox, import_from_crm
from crmframes.connectors.dynamics.ranges import guid_key, key_guid, plan_ranges, range_filter
from crmframes.sandbox import production_profile
from crmframes.sandbox.dynamics.odata_eval import guid_order_key

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


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


# The production profile sends x-ms-dop-hint (8); at this speed its modelled times vanish
FAST_PRODUCTION = production_profile("dynamics", speed=10_000)


@pytest.fixture
def dv() -> Iterator[Sandbox]:
    """5,500 contacts, the clock frozen, answers carrying ``x-ms-dop-hint: 8``."""
    with Sandbox(
        "dynamics",
        data="demo",
        scale=1.1,
        clock=Clock(START, frozen=True),
        profile=FAST_PRODUCTION,
    ) as sb:
        yield sb


def _ranged(url: str) -> bool:
    return "contactid%20gt%20" in url


def test_guid_keys_order_as_sql_server_orders_uniqueidentifiers():
    guids = [
        str(uuid.UUID(int=n * 0x0123456789ABCDEF0123456789ABCDEF % (1 << 128))) for n in range(50)
    ]
    assert sorted(guids, key=guid_key) == sorted(guids, key=guid_order_key)
    assert [key_guid(guid_key(g)) for g in guids] == guids


def test_ranges_cover_every_id_past_the_first_page_once():
    first, last = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-100000000000"
    plan = plan_ranges(first, last, None, 1000, degree=8)
    assert plan[0][0] == last and plan[-1][1] is None
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))  # contiguous
    keys = [guid_key(after) for after, _ in plan]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == 8
    # a table of about 2,000 rows is cut in ranges of at least MIN_RANGE_ROWS, not 8
    top = "00000000-0000-0000-0000-200000000000"
    assert len(plan_ranges(first, last, top, 1000, degree=8)) == 1
    assert range_filter("contactid", first, None) == f"contactid gt {first}"
    assert range_filter("contactid", first, last) == f"contactid gt {first} and contactid le {last}"


def test_a_large_read_goes_in_ranges_and_returns_each_row_once(dv):
    seen: list[str] = []
    conn = dv.connector(session=HookedSession(dv, seen.append))
    result = import_from_crm(conn, "contact", fields=["lastname"], progress=False)
    ids = result.frame["contactid"].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(dv.records("contact")["contactid"])
    assert sum(map(_ranged, seen)) >= 2  # several ranges, read at once
    assert result.stats.rows == len(ids) == 5500


def test_a_filtered_large_read_in_ranges_keeps_the_filter(dv):
    seen: list[str] = []
    conn = dv.connector(session=HookedSession(dv, seen.append))
    records = dv.records("contact")
    name = records["lastname"].iloc[0]
    where = F("emailaddress1").not_null() | (F("lastname") == name)  # an "or": parenthesised
    result = import_from_crm(
        conn, "contact", fields=["lastname", "emailaddress1"], where=where, progress=False
    )
    same_name = records["lastname"].str.lower() == name.lower()  # Dataverse: case-insensitive
    wanted = records[records["emailaddress1"].notna() | same_name]
    assert sum(map(_ranged, seen)) >= 2
    ids = result.frame["contactid"].tolist()
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(wanted["contactid"])


def test_rows_changed_during_a_parallel_read_are_never_lost_or_repeated(dv):
    before = set(dv.records("contact")["contactid"])
    fired: list[dict[str, int]] = []
    lock = threading.Lock()

    def meddle(url: str) -> None:
        # The CRM's users edit, add and delete contacts while the ranges are being read.
        with lock:
            if _ranged(url) and len(fired) < 3:
                fired.append(
                    dv.simulate_activity(
                        "contact", updates=300, creates=40, deletes=30, seed=len(fired)
                    )
                )

    conn = dv.connector(session=HookedSession(dv, meddle))
    result = import_from_crm(conn, "contact", fields=["lastname", "jobtitle"], progress=False)
    after = set(dv.records("contact")["contactid"])
    ids = result.frame["contactid"].tolist()
    assert len(fired) == 3 and sum(f["deleted"] for f in fired) == 90
    assert len(ids) == len(set(ids))  # nothing repeated
    assert before & after <= set(ids)  # every row there throughout the read: read
    assert set(ids) <= before | after  # and nothing that never existed


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le"])
def test_the_sandbox_compares_guids_in_sql_server_order_also_on_ties_of_the_last_group(op):
    from operator import itemgetter

    from crmframes.sandbox.dynamics.odata_eval import compare_pred

    tail = "-8899-aabbccddeeff"
    guids = [f"{a:08x}-{b:04x}-4677{tail}" for a in (1, 2, 0xFFFFFFFF) for b in (0, 7)]
    guids += ["00000000-0000-0000-0000-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
    tests = {"gt": int.__gt__, "ge": int.__ge__, "lt": int.__lt__, "le": int.__le__}
    for bound in guids:
        pred = compare_pred(itemgetter("id"), op, bound, key=guid_order_key)
        got = [g for g in guids if pred({"id": g})]
        assert got == [g for g in guids if tests[op](guid_key(g), guid_key(bound))]


def test_without_a_dop_hint_a_large_read_stays_one_chain():
    # The local sandbox sends no x-ms-dop-hint: its client's CPU is the bottleneck, and
    # ranges would only add calls and server work.
    with Sandbox("dynamics", data="demo", scale=1.1) as sb:
        seen: list[str] = []
        conn = sb.connector(session=HookedSession(sb, seen.append))
        result = import_from_crm(conn, "contact", fields=["lastname"], progress=False)
    assert not any(map(_ranged, seen)) and result.stats.pages == 2
    assert result.stats.rows == 5500
