"""Describe, CRUD, upsert and sObject Collections through simple-salesforce against the sandbox."""

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)


def test_describe_global_lists_the_objects(demo_sf):
    names = {o["name"]: o for o in demo_sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Lead", "Opportunity", "User"} <= set(names)
    assert names["Contact"]["keyPrefix"] == "003"


def test_sobject_describe_types_fields_as_salesforce_does(demo_sf):
    fields = {f["name"]: f for f in demo_sf.Contact.describe()["fields"]}
    assert fields["LastName"]["type"] == "string" and fields["LastName"]["length"] == 80
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["createable"] is True
    assert fields["AccountId"]["type"] == "reference" and fields["AccountId"]["referenceTo"] == [
        "Account"
    ]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert (
        fields["External_Id__c"]["externalId"] is True
        and fields["External_Id__c"]["unique"] is True
    )
    assert fields["Id"]["idLookup"] is True and fields["Id"]["soapType"] == "tns:ID"
    assert fields["Birthdate"]["type"] == "date" and fields["CreatedDate"]["type"] == "datetime"
    assert fields["CreatedDate"]["createable"] is False
    assert fields["MailingAddress"]["type"] == "address"
    assert fields["MailingCity"]["compoundFieldName"] == "MailingAddress"


def test_create_get_update_delete(empty_sandbox, empty_sf):
    created = empty_sf.Account.create({"Name": "Acme", "NumberOfEmployees": 12})
    assert (
        created["success"] is True and created["id"].startswith("001") and len(created["id"]) == 18
    )
    record = empty_sf.Account.get(created["id"])
    assert record["Name"] == "Acme" and record["NumberOfEmployees"] == 12
    assert record["CreatedDate"] == record["LastModifiedDate"]
    empty_sandbox.clock.advance(seconds=5)
    assert empty_sf.Account.update(created["id"], {"Name": "Acme Corp"}) == 204
    again = empty_sf.Account.get(created["id"])
    assert again["Name"] == "Acme Corp" and again["LastModifiedDate"] > again["CreatedDate"]
    assert empty_sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        empty_sf.Account.get(created["id"])
    assert info.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_creates_then_updates_by_external_id(empty_sf):
    assert empty_sf.Contact.upsert("External_Id__c/CX-1", {"LastName": "Doe"}) == 201
    assert empty_sf.Contact.upsert("External_Id__c/CX-1", {"FirstName": "Jane"}) == 200
    record = empty_sf.Contact.get_by_custom_id("External_Id__c", "CX-1")
    assert (record["FirstName"], record["LastName"], record["Name"]) == ("Jane", "Doe", "Jane Doe")
    raw = empty_sf.Contact.upsert("External_Id__c/CX-1", {"Title": "CEO"}, raw_response=True)
    assert raw.json() == {"id": record["Id"], "success": True, "errors": [], "created": False}


def test_read_by_a_non_unique_lookup_answers_300(empty_sf):
    empty_sf.Contact.create({"LastName": "A", "Email": "same@example.com"})
    empty_sf.Contact.create({"LastName": "B", "Email": "same@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord) as info:
        empty_sf.Contact.get_by_custom_id("Email", "same@example.com")
    assert len(info.value.content) == 2


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"FirstName": "NoLast"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "x", "AccountId": "not-an-id"}, "MALFORMED_ID", ["AccountId"]),
        (
            {"LastName": "x", "AccountId": "001Rs0000099999"},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        ({"LastName": "x", "Email": "no-at-sign"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        (
            {"LastName": "x", "Birthdate": "2999-01-01"},
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            ["Birthdate"],
        ),
        ({"LastName": "x", "Name": "Full"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
        (
            {"LastName": "x", "Loyalty_Tier__c": "Diamond"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Loyalty_Tier__c"],
        ),
    ],
)
def test_record_errors_use_the_real_codes(empty_sf, body, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as info:
        empty_sf.Contact.create(body)
    assert info.value.content == [
        {"message": info.value.content[0]["message"], "errorCode": code, "fields": fields}
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"LastName": "x", "Nope__c": 1}, "INVALID_FIELD"),
        ({"LastName": "x", "Birthdate": "tomorrow"}, "JSON_PARSER_ERROR"),
    ],
)
def test_request_errors_refuse_the_whole_body(empty_sf, body, code):
    with pytest.raises(SalesforceMalformedRequest) as info:
        empty_sf.Contact.create(body)
    assert info.value.content[0]["errorCode"] == code


def test_unique_external_id_gives_duplicate_value(empty_sf):
    first = empty_sf.Contact.create({"LastName": "A", "External_Id__c": "dup-1"})
    with pytest.raises(SalesforceMalformedRequest) as info:
        empty_sf.Contact.create({"LastName": "B", "External_Id__c": "DUP-1"})
    error = info.value.content[0]
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert first["id"] in error["message"]


def test_duplicate_rule_is_optional():
    from crmframes import Sandbox
    from tests.clients import salesforce_client

    with Sandbox("salesforce", data="empty", duplicate_rule=True) as sb:
        sf = salesforce_client(sb)
        sf.Contact.create({"LastName": "A", "Email": "twin@example.com"})
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.Contact.create({"LastName": "B", "Email": "TWIN@example.com"})
        assert info.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_unknown_record_and_unknown_object_are_404(empty_sf):
    with pytest.raises(SalesforceResourceNotFound):
        empty_sf.Contact.get("003Rs0000099999")
    with pytest.raises(SalesforceResourceNotFound):
        empty_sf.restful("sobjects/Nope__c/describe")


def test_collections_create_update_upsert_delete(empty_sf):
    records = [
        {"attributes": {"type": "Contact"}, "LastName": f"C{i}", "External_Id__c": f"E{i}"}
        for i in range(3)
    ]
    records.append({"attributes": {"type": "Contact"}, "FirstName": "missing last name"})
    created = empty_sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in created] == [True, True, True, False]
    assert created[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert created[3]["id"] is None
    ids = [r["id"] for r in created[:3]]

    updates = [{"attributes": {"type": "Contact"}, "id": i, "Title": "VP"} for i in ids]
    updates.append({"attributes": {"type": "Contact"}, "id": "003Rs0000099999", "Title": "VP"})
    updated = empty_sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    assert [r["success"] for r in updated] == [True, True, True, False]

    upserts = [
        {"attributes": {"type": "Contact"}, "External_Id__c": "E0", "LastName": "Zero"},
        {"attributes": {"type": "Contact"}, "External_Id__c": "E9", "LastName": "Nine"},
    ]
    upserted = empty_sf.restful(
        "composite/sobjects/Contact/External_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": upserts},
    )
    assert [(r["success"], r["created"]) for r in upserted] == [(True, False), (True, True)]
    assert upserted[0]["id"] == ids[0]

    deleted = empty_sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": ",".join([ids[0], ids[0], "bad"]), "allOrNone": "false"},
    )
    assert [r["success"] for r in deleted] == [True, False, False]
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert deleted[2]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_all_or_none_rolls_everything_back(empty_sf):
    records = [
        {"attributes": {"type": "Account"}, "Name": "ok"},
        {"attributes": {"type": "Account"}},
    ]
    result = empty_sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert result[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert result[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert empty_sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_collections_refuse_more_than_200_records(empty_sf):
    records = [{"attributes": {"type": "Account"}, "Name": str(i)} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as info:
        empty_sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert info.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_duplicate_external_ids_inside_one_upsert_fail_those_records(empty_sf):
    records = [
        {"attributes": {"type": "Contact"}, "External_Id__c": "D", "LastName": n} for n in "ab"
    ]
    result = empty_sf.restful(
        "composite/sobjects/Contact/External_Id__c", method="PATCH", json={"records": records}
    )
    assert [r["errors"][0]["statusCode"] for r in result] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_lookup_by_parent_external_id(empty_sf):
    empty_sf.Account.create({"Name": "Parent", "External_Id__c": "ACC-1"})
    created = empty_sf.Contact.create({"LastName": "Kid", "Account": {"External_Id__c": "ACC-1"}})
    row = empty_sf.query(
        f"SELECT Account.External_Id__c FROM Contact WHERE Id = '{created['id']}'"
    )["records"][0]
    assert row["Account"]["External_Id__c"] == "ACC-1"


def test_deleting_an_account_cascades_to_its_contacts(sandbox, sf):
    row = sf.query("SELECT Id, AccountId FROM Contact WHERE AccountId != null LIMIT 1")["records"][
        0
    ]
    assert sf.Account.delete(row["AccountId"]) == 204
    assert (
        sf.query(f"SELECT COUNT() FROM Contact WHERE AccountId = '{row['AccountId']}'")["totalSize"]
        == 0
    )
    gone = sf.query_all(
        f"SELECT Id FROM Contact WHERE Id = '{row['Id']}' AND IsDeleted = true",
        include_deleted=True,
    )
    assert gone["totalSize"] == 1


def test_limits_and_the_limit_info_header(demo_sf):
    limits = demo_sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    demo_sf.query("SELECT Id FROM User LIMIT 1")
    assert demo_sf.api_usage["api-usage"].total == 100_000
    assert demo_sf.api_usage["api-usage"].used >= 1
