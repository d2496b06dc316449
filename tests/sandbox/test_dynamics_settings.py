"""Dataverse sandbox: the organization row (audit settings), relationship metadata, owner binds."""

from __future__ import annotations

from crmframes import Sandbox
from tests.clients import dynamics_session

API = "/api/data/v9.2"
RELATIONSHIPS = (
    "ManyToOneRelationships($select=ReferencingAttribute,ReferencedEntity,"
    "ReferencingEntityNavigationPropertyName)"
)


def test_organization_row_carries_the_audit_settings(dv_empty: Sandbox) -> None:
    session = dynamics_session(dv_empty)
    rows = session.get(
        f"{dv_empty.url}{API}/organizations?$select=auditretentionperiodv2,isauditenabled",
        timeout=30,
    ).json()["value"]
    who = session.get(f"{dv_empty.url}{API}/WhoAmI", timeout=30).json()
    assert [
        (r["organizationid"], r["auditretentionperiodv2"], r["isauditenabled"]) for r in rows
    ] == [(who["OrganizationId"], 90, True)]


def test_organization_is_updated_never_created_or_deleted(dv_empty: Sandbox) -> None:
    session = dynamics_session(dv_empty)
    root = f"{dv_empty.url}{API}/organizations"
    org_id = session.get(root, timeout=30).json()["value"][0]["organizationid"]
    patched = session.patch(
        f"{root}({org_id})",
        json={"auditretentionperiodv2": 30},
        headers={"If-Match": "*"},
        timeout=30,
    )
    created = session.post(root, json={"name": "second"}, timeout=30)
    deleted = session.delete(f"{root}({org_id})", timeout=30)
    assert patched.status_code == 204
    assert session.get(root, timeout=30).json()["value"][0]["auditretentionperiodv2"] == 30
    assert (created.status_code, created.json()["error"]["code"]) == (400, "0x80040800")
    assert "'Delete' method does not support" in deleted.json()["error"]["message"]
    assert len(dv_empty.records("organization")) == 1


def test_entity_definitions_expand_keys_and_relationships_together(dv_empty: Sandbox) -> None:
    session = dynamics_session(dv_empty)
    body = session.get(
        f"{dv_empty.url}{API}/EntityDefinitions(LogicalName='contact')"
        f"?$expand=Attributes($select=LogicalName),Keys,{RELATIONSHIPS}",
        timeout=30,
    ).json()
    navigation = {
        (r["ReferencingAttribute"], r["ReferencedEntity"]): r[
            "ReferencingEntityNavigationPropertyName"
        ]
        for r in body["ManyToOneRelationships"]
    }
    assert [k["KeyAttributes"] for k in body["Keys"]] == [["crmf_externalid"]]
    assert {"LogicalName", "MetadataId"} >= set(body["Attributes"][0]) - {"@odata.type"}
    assert navigation[("parentcustomerid", "account")] == "parentcustomerid_account"
    assert navigation[("parentcustomerid", "contact")] == "parentcustomerid_contact"
    assert navigation[("ownerid", "systemuser")] == "ownerid"


def test_owner_is_bound_through_ownerid(dv_empty: Sandbox) -> None:
    session = dynamics_session(dv_empty)
    user = session.get(f"{dv_empty.url}{API}/WhoAmI", timeout=30).json()["UserId"]
    reply = session.post(
        f"{dv_empty.url}{API}/contacts",
        json={"lastname": "Owned", "ownerid@odata.bind": f"/systemusers({user})"},
        headers={"Prefer": 'return=representation,odata.include-annotations="*"'},
        params={"$select": "_ownerid_value"},
        timeout=30,
    )
    body = reply.json()
    assert reply.status_code == 201
    assert body["_ownerid_value"] == user
    assert body["_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "ownerid"


def test_a_locked_row_is_a_generic_sql_error(dv_empty: Sandbox) -> None:
    session = dynamics_session(dv_empty)
    dv_empty.faults.add("lock_row", "contact", times=1)
    first = session.post(f"{dv_empty.url}{API}/contacts", json={"lastname": "x"}, timeout=30)
    second = session.post(f"{dv_empty.url}{API}/contacts", json={"lastname": "x"}, timeout=30)
    assert (first.status_code, first.json()["error"]["code"]) == (500, "0x80044150")
    assert "deadlock" in first.json()["error"]["message"]
    assert second.status_code == 204
