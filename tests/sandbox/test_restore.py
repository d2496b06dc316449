"""Records that come back in the sandbox: Salesforce undelete (SOAP), Dataverse re-create by id."""

import pytest

from crmframes import Sandbox
from tests.clients import dynamics_session
from tests.soap import fault_code, soap_post, undelete, undelete_envelope

API = "/api/data/v9.2"


@pytest.fixture
def wapi(dv):
    session = dynamics_session(dv)

    def call(method, path, **kwargs):
        return session.request(method, dv.url + API + path, timeout=60, **kwargs)

    return call


def _create_contact(wapi, **values):
    reply = wapi("POST", "/contacts", headers={"Prefer": "return=representation"}, json=values)
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.mark.parametrize("spelling", [str.lower, str.upper])
def test_dataverse_recreates_a_deleted_record_with_its_id(wapi, spelling):
    first = _create_contact(wapi, lastname="Lovelace")
    record_id = first["contactid"]
    assert wapi("DELETE", f"/contacts({record_id})").status_code == 204
    again = _create_contact(wapi, contactid=spelling(record_id), lastname="Lovelace")
    assert again["contactid"] == record_id  # Dataverse writes GUIDs lower-case
    assert again["createdon"] >= first["createdon"]
    assert wapi("GET", f"/contacts({record_id})?$select=lastname").json()["lastname"] == "Lovelace"


@pytest.mark.parametrize("spelling", [str.lower, str.upper])
def test_dataverse_refuses_a_create_with_the_id_of_a_live_record(wapi, spelling):
    first = _create_contact(wapi, lastname="Lovelace")
    reply = wapi(
        "POST", "/contacts", json={"contactid": spelling(first["contactid"]), "lastname": "x"}
    )
    assert reply.status_code == 412
    error = reply.json()["error"]
    assert error["code"] == "0x80040237"
    assert "matching key values already exists" in error["message"]
    count = wapi("GET", "/contacts?$filter=lastname eq 'x'&$count=true").json()
    assert count["value"] == []


def test_dataverse_upsert_by_id_recreates_a_deleted_record(wapi):
    first = _create_contact(wapi, lastname="Hopper")
    record_id = first["contactid"]
    assert wapi("DELETE", f"/contacts({record_id})").status_code == 204
    reply = wapi("PATCH", f"/contacts({record_id.upper()})", json={"lastname": "Hopper"})
    assert reply.status_code == 204, reply.text
    assert wapi("GET", f"/contacts({record_id})?$select=lastname").json()["lastname"] == "Hopper"


# --- Salesforce: undelete() from the recycle bin --------------------------------------------


def test_salesforce_undelete_restores_a_record_and_its_cascaded_children(sandbox, sf):
    account = sf.Account.create({"Name": "Contoso"})["id"]
    contact = sf.Contact.create({"LastName": "Lovelace", "AccountId": account})["id"]
    before = sf.Contact.get(contact)
    sandbox.clock.advance(60)
    sf.Account.delete(account)  # cascades to the contact
    assert sf.query(f"SELECT Id FROM Contact WHERE Id = '{contact}'")["totalSize"] == 0
    calls = sandbox.api_call_count()
    assert undelete(sandbox, [account]) == [{"id": account, "success": True, "errors": []}]
    assert sandbox.api_calls()["soap"] == 1 and sandbox.api_call_count() == calls + 1
    restored = sf.Contact.get(contact)
    assert restored["IsDeleted"] is False and restored["LastName"] == "Lovelace"
    assert restored["LastModifiedDate"] > before["LastModifiedDate"]
    assert restored["SystemModstamp"] > before["SystemModstamp"]
    assert sf.Account.get(account)["Name"] == "Contoso"


def test_salesforce_undelete_answers_per_id(sandbox, sf):
    live = sf.Contact.create({"LastName": "Live"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    results = undelete(sandbox, [live, "not-an-id", gone, gone])
    assert [r["success"] for r in results] == [False, False, True, False]
    assert [r["errors"][0]["statusCode"] for r in results if r["errors"]] == [
        "UNDELETE_FAILED",
        "MALFORMED_ID",
        "UNDELETE_FAILED",
    ]
    assert results[2]["id"] == gone and results[0]["id"] is None


def test_salesforce_soap_calls_need_a_session_and_a_supported_call(sandbox):
    expired = soap_post(sandbox, lambda token: undelete_envelope(token, []), token="expired")
    assert fault_code(expired) == "sf:INVALID_SESSION_ID"
    too_many = soap_post(sandbox, lambda token: undelete_envelope(token, ["003"] * 201))
    assert fault_code(too_many) == "sf:EXCEEDED_ID_LIMIT"
    all_or_none = soap_post(
        sandbox,
        lambda token: undelete_envelope(
            token,
            [],
            header="<urn:AllOrNoneHeader><urn:allOrNone>true</urn:allOrNone></urn:AllOrNoneHeader>",
        ),
    )
    assert fault_code(all_or_none) == "sf:UNSUPPORTED_API_CALL"
    other = soap_post(
        sandbox,
        lambda token: undelete_envelope(token, ["x"]).replace("urn:undelete", "urn:merge"),
    )
    assert fault_code(other) == "sf:UNSUPPORTED_API_CALL"


def test_salesforce_undelete_leaves_children_deleted_before_their_parent(sandbox, sf):
    account = sf.Account.create({"Name": "Contoso"})["id"]
    earlier = sf.Contact.create({"LastName": "Earlier", "AccountId": account})["id"]
    sf.Contact.delete(earlier)
    sandbox.clock.advance(60)
    sf.Account.delete(account)
    assert undelete(sandbox, [account])[0]["success"]
    assert sf.query(f"SELECT Id FROM Contact WHERE Id = '{earlier}'")["totalSize"] == 0
    assert undelete(sandbox, [earlier])[0]["success"]


def test_salesforce_soap_calls_count_against_the_daily_allocation():
    with Sandbox("salesforce", data="empty", daily_api_limit=1) as sb:
        assert undelete(sb, []) == []
        spent = soap_post(sb, lambda token: undelete_envelope(token, []))
        assert fault_code(spent) == "sf:REQUEST_LIMIT_EXCEEDED"
        assert sb.api_calls() == {"soap": 1}
