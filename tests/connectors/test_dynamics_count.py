"""Dataverse reads know their total from the first page's ``@odata.count``, never a capped one.

Dataverse counts at most 5,000 rows; ``Prefer: odata.include-annotations`` with
``Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded`` says whether the count was capped
(Learn: "Count rows using OData").
"""

from __future__ import annotations

import pytest

from crmframes import Sandbox, import_from_crm
from crmframes.connectors.base import ReadRequest
from crmframes.connectors.dynamics import connector as dynamics
from tests.clients import dynamics_session

CAPPED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"


def test_each_page_of_a_read_carries_the_total_from_the_first(monkeypatch):
    monkeypatch.setattr(dynamics, "PAGE_SIZE", 200)
    with Sandbox("dynamics", data="demo", scale=0.1) as sb:  # 500 contacts
        conn = sb.connector()
        pages = list(conn.read(ReadRequest("contact", ("lastname",))))
        assert [(p.table.num_rows, p.total) for p in pages] == [(200, 500), (200, 500), (100, 500)]
        limited = list(conn.read(ReadRequest("contact", ("lastname",), limit=450)))
        assert [p.total for p in limited] == [450, 450, 450]
        # A limited read ascending on a nullable first key is read in two halves (set, null).
        by_email = (("emailaddress1", False),)
        halves = list(
            conn.read(ReadRequest("contact", ("lastname",), order_by=by_email, limit=450))
        )
        assert sum(p.table.num_rows for p in halves) == 450
        assert {p.total for p in halves} == {None}  # each half counts only its own rows


def test_an_import_bar_shows_the_total(monkeypatch, capsys):
    monkeypatch.setattr(dynamics, "PAGE_SIZE", 200)
    with Sandbox("dynamics", data="demo", scale=0.1) as sb:
        import_from_crm(sb.connector(), "contact", fields=["lastname"], progress=True)
    assert "500/500" in capsys.readouterr().err


def test_a_count_at_the_cap_is_a_total_and_one_over_it_is_none():
    with Sandbox("dynamics", data="demo", scale=1.0) as sb:  # exactly 5,000 contacts
        conn = sb.connector()
        first = next(iter(conn.read(ReadRequest("contact", ("lastname",)))))
        assert first.total == 5000
        api = dynamics_session(sb)
        root = f"{sb.url}/api/data/v9.2"
        api.post(f"{root}/contacts", json={"lastname": "One More"}, timeout=30).raise_for_status()
        pages = list(conn.read(ReadRequest("contact", ("lastname",))))
        assert sum(p.table.num_rows for p in pages) == 5001
        assert {p.total for p in pages} == {None}  # 5,000 would be wrong: the count was capped
        body = api.get(
            f"{root}/contacts?$select=lastname&$count=true",
            headers={"Prefer": f'odata.maxpagesize=10,odata.include-annotations="{CAPPED}"'},
            timeout=30,
        ).json()
        assert body["@odata.count"] == 5000 and body[f"@{CAPPED}"] is True


@pytest.mark.parametrize(
    ("wanted", "count_annotations", "lookups"),
    [
        (CAPPED, [f"@{CAPPED}"], False),
        (
            "Microsoft.Dynamics.CRM.*",
            ["@Microsoft.Dynamics.CRM.totalrecordcount", f"@{CAPPED}"],
            True,
        ),
        ("OData.Community.Display.V1.FormattedValue", [], False),
    ],
)
def test_the_sandbox_adds_only_the_annotations_asked_for(wanted, count_annotations, lookups):
    with Sandbox("dynamics", data="demo", scale=0.1) as sb:
        body = (
            dynamics_session(sb)
            .get(
                f"{sb.url}/api/data/v9.2/contacts?$select=_parentcustomerid_value&$count=true&$top=50",
                headers={"Prefer": f'odata.include-annotations="{wanted}"'},
                timeout=30,
            )
            .json()
        )
    assert [k for k in body if k.startswith("@Microsoft")] == count_annotations
    keys = {k for row in body["value"] for k in row}
    assert any(k.endswith("lookuplogicalname") for k in keys) is lookups


def test_pages_parsed_the_slow_way_carry_the_total_too(monkeypatch):
    monkeypatch.setattr(dynamics, "PAGE_SIZE", 200)
    monkeypatch.setattr(dynamics, "json_page", lambda *args: None)  # a page Arrow cannot read
    with Sandbox("dynamics", data="demo", scale=0.1) as sb:
        pages = list(sb.connector().read(ReadRequest("contact", ("lastname",))))
    assert [(p.table.num_rows, p.total) for p in pages] == [(200, 500), (200, 500), (100, 500)]
