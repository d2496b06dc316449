"""SOQL GROUP BY and aggregates, child subqueries, FIELDS() and honest refusals, end to end.

Through simple-salesforce's ``query`` (REST ``/query``); expected values are computed here
from plain queries of the same org.
"""

from collections import Counter

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.clients import access_token, trusted_session


@pytest.fixture
def org(empty_sf):
    accounts = [
        empty_sf.Account.create({"Name": name, "NumberOfEmployees": staff})["id"]
        for name, staff in (("Acme", 10), ("Globex", 30), ("Initech", None))
    ]
    people = [
        ("Ng", accounts[0], "Web"),
        ("ng", accounts[0], "Web"),
        ("Ortiz", accounts[0], None),
        ("Zhou", accounts[1], "Phone Inquiry"),
        ("Adams", None, "Web"),
    ]
    for last, account, source in people:
        empty_sf.Contact.create({"LastName": last, "AccountId": account, "LeadSource": source})
    return empty_sf, accounts


def records(sf, soql):
    return [{k: v for k, v in r.items() if k != "attributes"} for r in sf.query(soql)["records"]]


def test_group_by_counts_with_aliases_and_implied_expr_names(org):
    sf, _ = org
    soql = (
        "SELECT LeadSource src, COUNT(Id), COUNT(AccountId) linked, COUNT_DISTINCT(LastName) "
        "FROM Contact GROUP BY LeadSource ORDER BY LeadSource NULLS LAST"
    )
    got = sf.query(soql)
    assert got["done"] is True and got["totalSize"] == 3
    assert got["records"][0]["attributes"] == {"type": "AggregateResult"}
    # picklists sort in their defined value order (LeadSource: Web before Phone Inquiry)
    assert records(sf, soql) == [
        {"src": "Web", "expr0": 3, "linked": 2, "expr1": 2},  # Ng and ng: one distinct name
        {"src": "Phone Inquiry", "expr0": 1, "linked": 1, "expr1": 1},
        {"src": None, "expr0": 1, "linked": 1, "expr1": 1},
    ]


def test_sum_avg_min_max_without_group_by_answer_one_row(org):
    sf, _ = org
    assert records(
        sf,
        "SELECT SUM(NumberOfEmployees), AVG(NumberOfEmployees), MIN(Name), MAX(Name) total "
        "FROM Account",
    ) == [{"expr0": 40, "expr1": 20.0, "expr2": "Acme", "total": "Initech"}]
    assert records(
        sf, "SELECT COUNT(Id), SUM(NumberOfEmployees) FROM Account WHERE Name = 'x'"
    ) == [{"expr0": 0, "expr1": None}]


def test_having_filters_groups_and_order_by_an_aggregate(org):
    sf, accounts = org
    got = records(
        sf,
        "SELECT AccountId, COUNT(Id) n FROM Contact WHERE AccountId != null "
        "GROUP BY AccountId HAVING COUNT(Id) > 0 ORDER BY COUNT(Id) DESC LIMIT 5",
    )
    assert got == [{"AccountId": accounts[0], "n": 3}, {"AccountId": accounts[1], "n": 1}]
    assert records(
        sf, "SELECT LeadSource FROM Contact GROUP BY LeadSource HAVING LeadSource IN ('web')"
    ) == [{"LeadSource": "Web"}]


def test_group_by_matches_a_count_done_by_hand(demo_sf):
    rows = demo_sf.query_all("SELECT LeadSource FROM Contact")["records"]
    expected = Counter(r["LeadSource"] for r in rows)
    got = demo_sf.query("SELECT LeadSource, COUNT(Id) FROM Contact GROUP BY LeadSource")
    assert {r["LeadSource"]: r["expr0"] for r in got["records"]} == expected


def test_ungrouped_field_and_sum_of_text_are_refused_as_salesforce_does(demo_sf):
    with pytest.raises(SalesforceMalformedRequest) as grouped:
        demo_sf.query("SELECT LastName, COUNT(Id) FROM Contact GROUP BY LeadSource")
    assert "Field must be grouped or aggregated: LastName" in grouped.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as limited:
        demo_sf.query("SELECT MAX(CreatedDate) FROM Contact LIMIT 1")
    assert "must have a GROUP BY clause" in limited.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as summed:
        demo_sf.query("SELECT SUM(LastName) FROM Contact")
    assert summed.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_child_subquery_nests_children_and_gives_null_without_any(org):
    sf, _ = org
    got = sf.query(
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName DESC LIMIT 2) "
        "FROM Account ORDER BY Name"
    )["records"]
    assert [r["Name"] for r in got] == ["Acme", "Globex", "Initech"]
    assert list(got[0]) == ["attributes", "Name", "Contacts"]
    acme = got[0]["Contacts"]
    assert (acme["totalSize"], acme["done"]) == (2, True)
    assert [c["LastName"] for c in acme["records"]] == ["Ortiz", "Ng"]
    assert acme["records"][0]["attributes"]["type"] == "Contact"
    assert [c["LastName"] for c in got[1]["Contacts"]["records"]] == ["Zhou"]
    assert got[2]["Contacts"] is None


def test_child_subquery_keeps_its_place_in_the_select_list(org):
    sf, _ = org
    got = sf.query(
        "SELECT Id, (SELECT Id FROM Contacts), Name, NumberOfEmployees FROM Account LIMIT 1"
    )["records"][0]
    assert list(got) == ["attributes", "Id", "Contacts", "Name", "NumberOfEmployees"]


def test_child_subquery_with_where_and_an_unknown_relationship(org):
    sf, _ = org
    got = sf.query(
        "SELECT Name, (SELECT LastName FROM Contacts WHERE LeadSource = 'Web') FROM Account "
        "WHERE Name = 'Acme'"
    )["records"]
    assert sorted(c["LastName"] for c in got[0]["Contacts"]["records"]) == ["Ng", "ng"]
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Name, (SELECT LastName FROM Contactz) FROM Account")
    assert bad.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_fields_all_needs_limit_200_and_fields_standard_does_not(demo_sf):
    with pytest.raises(SalesforceMalformedRequest) as unbounded:
        demo_sf.query("SELECT FIELDS(ALL) FROM Contact")
    assert "LIMIT of at most 200" in unbounded.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest):
        demo_sf.query("SELECT FIELDS(CUSTOM) FROM Contact LIMIT 201")
    every = demo_sf.query("SELECT FIELDS(ALL) FROM Contact LIMIT 200")["records"]
    described = [f["name"] for f in demo_sf.Contact.describe()["fields"]]
    assert len(every) == 200 and list(every[0])[1:] == described
    custom = demo_sf.query("SELECT FIELDS(CUSTOM) FROM Contact LIMIT 1")["records"][0]
    assert list(custom)[1:] and all(name.endswith("__c") for name in list(custom)[1:])
    overlap = demo_sf.query("SELECT Id, FIELDS(STANDARD), LastName FROM Contact LIMIT 1")
    assert list(overlap["records"][0]).count("LastName") == 1
    with pytest.raises(SalesforceMalformedRequest) as twice:
        demo_sf.query("SELECT Id, Id, (SELECT Id FROM Opportunities) FROM Account")
    assert "duplicate field selected: Id" in twice.value.content[0]["message"]
    standard = demo_sf.query("SELECT FIELDS(STANDARD) FROM Contact")["records"][0]
    assert "LastName" in standard and not any(name.endswith("__c") for name in standard)


@pytest.mark.parametrize(
    ("soql", "feature"),
    [
        ("SELECT CALENDAR_YEAR(CreatedDate) FROM Contact", "CALENDAR_YEAR()"),
        ("SELECT Id FROM Contact WHERE CALENDAR_YEAR(CreatedDate) = 2024", "CALENDAR_YEAR()"),
        ("SELECT toLabel(LeadSource) FROM Contact", "toLabel()"),
        ("SELECT Id FROM Contact WITH SECURITY_ENFORCED", "WITH SECURITY_ENFORCED"),
        ("SELECT TYPEOF Owner WHEN User THEN Name END FROM Contact", "TYPEOF"),
        (
            "SELECT LeadSource, COUNT(Id) FROM Contact GROUP BY ROLLUP(LeadSource)",
            "GROUP BY ROLLUP",
        ),
        ("SELECT Id FROM Contact LIMIT 1 FOR UPDATE", "FOR UPDATE"),
        ("SELECT Id FROM Contact USING SCOPE mine", "USING SCOPE"),
    ],
)
def test_soql_the_sandbox_does_not_run_is_refused_as_unsupported_not_malformed(
    demo_sf, soql, feature
):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        demo_sf.query(soql)
    [error] = refused.value.content
    assert error["errorCode"] == "UNSUPPORTED_QUERY"
    assert f"The crmframes sandbox does not support {feature}" in error["message"].replace(
        "the SOQL function ", ""
    )


def test_bulk_query_refuses_aggregates_and_subqueries(demo_sandbox):
    session = trusted_session(demo_sandbox)
    headers = {"Authorization": f"Bearer {access_token(demo_sandbox, session)}"}
    url = f"{demo_sandbox.url}/services/data/v59.0/jobs/query"
    for soql in (
        "SELECT LeadSource, COUNT(Id) FROM Contact GROUP BY LeadSource",
        "SELECT Name, (SELECT LastName FROM Contacts) FROM Account",
    ):
        reply = session.post(url, json={"operation": "query", "query": soql}, headers=headers)
        assert (reply.status_code, reply.json()[0]["errorCode"]) == (400, "INVALIDJOB")


def test_text_order_is_the_english_locale_rule_upper_cased_code_points(org):
    # SOQL ORDER BY: "For English locales, SOQL uses the UTF-8 values of the uppercase
    # character to create a sort order" (SOQL and SOSL Reference, ORDER BY): case-insensitive,
    # but accented capitals sort by code point, after Z.
    sf, _ = org
    for name in ("Şahin", "Çelik", "zimmermann", "Schmidt"):
        sf.Contact.create({"LastName": name})
    names = [
        r["LastName"] for r in sf.query("SELECT LastName FROM Contact ORDER BY LastName")["records"]
    ]
    assert names == [
        "Adams",
        "Ng",
        "ng",
        "Ortiz",
        "Schmidt",
        "Zhou",
        "zimmermann",
        "Çelik",
        "Şahin",
    ]
