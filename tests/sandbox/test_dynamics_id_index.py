"""The Dataverse sandbox answers id-bounded and id-ordered queries by a seek: the same rows as a scan.

A seek (sandbox/dynamics/id_index.py) replaced the scan and sort of the whole table for the
parallel id ranges of a read; it must never answer differently from the scan it replaces,
including after the table changed between two queries.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crmframes.sandbox import Sandbox
from crmframes.sandbox.clock import Clock
from crmframes.sandbox.dynamics.id_index import IdIndex, id_order, id_span
from crmframes.sandbox.dynamics.odata import plan_query
from crmframes.sandbox.dynamics.odata_eval import guid_order_key
from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.dynamics.schema import SCHEMA
from crmframes.sandbox.dynamics.webapi import MAX_CURSORS
from crmframes.sandbox.faults import Faults
from tests.clients import dynamics_session

CONTACT = SCHEMA.entities["contact"]
NAMES = ["Doe", "Roe", "Poe"]


def org_with(ids: list[str]) -> DataverseOrg:
    org = DataverseOrg(clock=Clock(), faults=Faults())
    org.table("contact").load(
        [
            org.blank(CONTACT) | {"contactid": cid, "lastname": NAMES[n % 3], "statecode": 0}
            for n, cid in enumerate(ids)
        ]
    )
    return org


def by_scan(org: DataverseOrg, filter: str | None, orderby: str | None, top: str | None) -> list:
    plan = plan_query(CONTACT, SCHEMA, select="lastname", filter=filter, orderby=orderby, top=top)
    return plan.execute(org.scan("contact"), org, now=org.clock.now())


def by_seek(
    index: IdIndex, org: DataverseOrg, filter: str | None, orderby: str | None, top: str | None
) -> list:
    plan = plan_query(CONTACT, SCHEMA, select="lastname", filter=filter, orderby=orderby, top=top)
    return index.answer(plan, org, orderby)


GUIDS = st.builds(lambda n: str(uuid.UUID(int=n)), st.integers(0, (1 << 128) - 1))
BOUND = st.tuples(st.sampled_from(["gt", "ge", "lt", "le", "eq"]), st.integers(0, 39))


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(GUIDS, min_size=1, max_size=40, unique=True),
    bounds=st.lists(BOUND, max_size=3),
    extra=st.sampled_from([None, "lastname eq 'Doe'", "lastname ne 'Roe'"]),
    orderby=st.sampled_from([None, "contactid", "contactid asc", "contactid desc", "lastname"]),
    top=st.sampled_from([None, "1", "3"]),
)
def test_a_seek_answers_as_the_scan_does(
    ids: list[str], bounds: list[tuple[str, int]], extra: str | None, orderby: str | None,
    top: str | None,
) -> None:  # fmt: skip
    org = org_with(ids)
    terms = [f"contactid {op} {ids[at % len(ids)]}" for op, at in bounds]
    terms += [extra] if extra else []
    where = " and ".join(terms) or None
    scanned = by_scan(org, where, orderby, top)
    sought = by_seek(IdIndex(), org, where, orderby, top)
    if orderby is not None and orderby != "lastname":
        assert [r["contactid"] for r in sought] == [r["contactid"] for r in scanned]
    elif top is None or len(scanned) < int(top):
        assert sorted(r["contactid"] for r in sought) == sorted(r["contactid"] for r in scanned)
    else:  # no order (or ties in lastname) and a top: any rows that match, as many
        every = {r["contactid"] for r in by_scan(org, where, None, None)}
        assert len(sought) == len(scanned) and {r["contactid"] for r in sought} <= every


def test_the_index_follows_every_change_of_the_table() -> None:
    ids = [str(uuid.UUID(int=n << 84)) for n in range(1, 9)]  # the second group: n000
    org = org_with(ids)
    index = IdIndex()
    span = f"contactid gt {ids[1]} and contactid le {ids[5]}"
    assert [r["contactid"] for r in by_seek(index, org, span, None, None)] == ids[2:6]
    table = org.table("contact")
    table.replace(table.get(ids[3]) | {"lastname": "Edited"})  # an update mid-read
    table.delete(ids[4], table.get(ids[4]) | {"statecode": 1})
    fresh = str(uuid.UUID(int=(3 << 84) + (1 << 80)))  # 3001: between ids[2] and ids[3]
    table.insert(org.blank(CONTACT) | {"contactid": fresh, "lastname": "New"})
    found = by_seek(index, org, span, "contactid", None)
    assert [r["contactid"] for r in found] == [ids[2], fresh, ids[3], ids[5]]
    assert [r["lastname"] for r in found if r["contactid"] == ids[3]] == ["Edited"]


def test_only_id_comparisons_joined_by_and_bound_the_span() -> None:
    low, high = str(uuid.UUID(int=1)), str(uuid.UUID(int=2 << 80))

    def span(text: str) -> Any:
        plan = plan_query(CONTACT, SCHEMA, select=None, filter=text, orderby=None, top=None)
        return id_span(plan.tree, "contactid")

    both = span(f"contactid ge {low} and lastname eq 'Doe' and contactid lt {high}")
    assert (both.low, both.low_inclusive) == (guid_order_key(low), True)
    assert (both.high, both.high_inclusive, both.whole) == (guid_order_key(high), False, False)
    assert span(f"contactid gt {low} and contactid le {high}").whole
    assert span(f"{high} gt contactid").high == guid_order_key(high)  # the literal first
    assert span(f"contactid gt {low} or lastname eq 'Doe'") is None
    assert span(f"not (contactid gt {low})") is None
    assert span(f"_parentcustomerid_value gt {low}") is None
    assert id_order(" contactid  desc ", "contactid") is True
    assert id_order("contactid,lastname", "contactid") is None


def test_pages_of_an_id_range_resume_in_id_order_after_their_cursor_is_evicted() -> None:
    """A range read (bounded on the id, no $orderby) pages in id order, and so does its resume.

    The seek answers in id order; a cursor evicted between pages used to be run again as a
    scan, in insertion order, and the next page continued after the last id in that other
    order: rows were lost and repeated.
    """
    with Sandbox("dynamics", data="demo", scale=0.1) as sandbox:
        api, root = dynamics_session(sandbox), f"{sandbox.url}/api/data/v9.2"
        low = "00000000-0000-0000-0000-000000000000"

        def page(url: str) -> dict[str, Any]:
            reply = api.get(url, headers={"Prefer": "odata.maxpagesize=100"}, timeout=30)
            reply.raise_for_status()
            return dict(reply.json())

        def ids_from(first: dict[str, Any]) -> list[str]:
            """The ids of a first page and of every page its nextLink chain leads to."""
            ids, body = [], first
            while True:
                ids += [r["contactid"] for r in body["value"]]
                if not body.get("@odata.nextLink"):
                    return ids
                body = page(body["@odata.nextLink"])

        for query in (f"$filter=contactid ge {low}", f"$filter=contactid ge {low}&$top=250"):
            whole = ids_from(page(f"{root}/contacts?$select=lastname&{query}"))
            first = page(f"{root}/contacts?$select=lastname&{query}")
            for _ in range(MAX_CURSORS + 1):  # other reads push this one's cursor out
                page(f"{root}/contacts?$select=fullname")  # each leaves a cursor
            resumed = ids_from(first)
            assert resumed == whole and len(set(whole)) == len(whole) > 100
