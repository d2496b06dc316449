"""SOQL query/queryAll through simple-salesforce, unchanged, against the sandbox."""

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from crmframes.sandbox.demo_org import scaled_counts


def test_query_all_pages_through_every_contact(demo_sandbox, demo_sf):
    demo_sandbox.reset_api_calls()
    result = demo_sf.query_all("SELECT Id, FirstName, LastName, Email, Account.Name FROM Contact")
    contacts = scaled_counts(1.0)["contacts"]
    assert result["totalSize"] == contacts
    assert len(result["records"]) == contacts
    assert len({r["Id"] for r in result["records"]}) == contacts
    assert demo_sandbox.api_calls()["query"] == -(-contacts // 2000)


def test_first_page_shape_and_next_records_url(demo_sf):
    page = demo_sf.query("SELECT Id, LastName FROM Contact ORDER BY Id")
    assert page["done"] is False
    assert len(page["records"]) == 2000
    assert page["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert page["nextRecordsUrl"].endswith("-2000")
    first = page["records"][0]
    assert list(first) == ["attributes", "Id", "LastName"]
    assert first["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{first['Id']}",
    }
    more = demo_sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert more["records"][0]["Id"] > page["records"][-1]["Id"]


def test_batch_size_header_sets_the_page_size(demo_sf):
    page = demo_sf.query(
        "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=500"}
    )
    assert len(page["records"]) == 500
    tiny = demo_sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200  # the minimum batch size


def test_null_lookup_makes_the_relationship_null(demo_sf):
    rows = demo_sf.query_all("SELECT Id, AccountId, Account.Name, Account.Owner.Name FROM Contact")[
        "records"
    ]
    orphan = next(r for r in rows if r["AccountId"] is None)
    assert orphan["Account"] is None
    linked = next(r for r in rows if r["AccountId"] is not None)
    assert linked["Account"]["attributes"]["type"] == "Account"
    assert isinstance(linked["Account"]["Name"], str)
    assert linked["Account"]["Owner"]["attributes"]["type"] == "User"


def test_where_order_limit_and_count(demo_sf):
    rows = demo_sf.query(
        "SELECT Name, NumberOfEmployees FROM Account WHERE NumberOfEmployees > 100 AND Industry != null "
        "ORDER BY NumberOfEmployees DESC, Name LIMIT 10"
    )["records"]
    sizes = [r["NumberOfEmployees"] for r in rows]
    assert len(rows) == 10
    assert sizes == sorted(sizes, reverse=True)
    assert all(s > 100 for s in sizes)
    count = demo_sf.query("SELECT COUNT() FROM Account WHERE NumberOfEmployees > 100")
    assert count["records"] == [] and count["done"] is True
    assert count["totalSize"] >= 10


def test_value_formats_are_the_wire_formats(demo_sf):
    row = demo_sf.query(
        "SELECT Id, Birthdate, CreatedDate, HasOptedOutOfEmail FROM Contact WHERE Birthdate != null LIMIT 1"
    )["records"][0]
    assert len(row["Birthdate"]) == 10
    assert row["CreatedDate"].endswith("+0000") and row["CreatedDate"][19] == "."
    assert isinstance(row["HasOptedOutOfEmail"], bool)


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FRM Contact", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE Birthdate = '2020-01-01'", None),
    ],
)
def test_bad_soql_raises_the_malformed_request_exception(demo_sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as info:
        demo_sf.query(soql)
    assert info.value.status == 400
    body = info.value.content
    assert isinstance(body, list) and "errorCode" in body[0] and "message" in body[0]
    if code:
        assert body[0]["errorCode"] == code


def test_malformed_query_message_points_at_the_column(demo_sf):
    with pytest.raises(SalesforceMalformedRequest) as info:
        demo_sf.query("SELECT Id FRM Contact")
    assert "ERROR at Row:1:Column:" in info.value.content[0]["message"]


def test_an_unknown_locator_is_invalid(demo_sf):
    with pytest.raises(SalesforceMalformedRequest) as info:
        demo_sf.query_more("01gRs0000000999XYZ-2000")
    assert info.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_with_include_deleted_sees_the_recycle_bin(sandbox, sf):
    victim = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    assert sf.Lead.delete(victim) == 204
    live = sf.query_all(f"SELECT Id FROM Lead WHERE Id = '{victim}'")
    assert live["totalSize"] == 0
    everything = sf.query_all(
        f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{victim}'", include_deleted=True
    )
    assert everything["records"][0]["IsDeleted"] is True
