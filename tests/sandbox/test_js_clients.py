"""Node clients we did not write, unchanged, against both sandboxes: jsforce, msal-node, DynamicsWebApi.

Each CRM's script (tests/clients_js/*.cjs) runs once as a subprocess and prints one JSON object: per
step, ``{"ok": result}`` or ``{"error": {...}}`` as the client raised it. Node trusts the sandbox CA
through NODE_EXTRA_CA_CERTS (never by turning verification off). The pinned packages are installed
with ``npm ci`` when tests/clients_js/node_modules is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmframes import Sandbox

JS = Path(__file__).resolve().parent.parent / "clients_js"


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the pinned client packages installed (``npm ci`` once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "node and npm are needed for tests/sandbox/test_js_clients.py: install Node.js 20+"
        )
    if not (JS / "node_modules" / ".package-lock.json").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS)],
            timeout=240,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci --prefix {JS} failed (it needs the npm registry):\n{done.stderr}")
    return node


def run_script(node: str, sandbox: Sandbox, script: str, *args: str) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy")  # the sandbox is on loopback
    }
    env.update(
        SANDBOX_URL=sandbox.url,
        SANDBOX_CREDENTIALS=json.dumps(sandbox.credentials),
        NODE_EXTRA_CA_CERTS=sandbox.ca_file,
    )
    if sandbox.crm == "salesforce":
        env["SF_VERSION"] = sandbox.settings().api_version  # type: ignore[union-attr]
    done = subprocess.run(
        [node, str(JS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert "fatal" not in result, result["fatal"]
    return result


def ok(result: dict[str, Any], name: str) -> Any:
    assert "ok" in result[name], f"{name}: {result[name]}"
    return result[name]["ok"]


def error(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "error" in result[name], f"{name} should have failed: {result[name]}"
    return dict(result[name]["error"])


# --- Salesforce: jsforce ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def salesforce_run(node: str) -> Iterator[tuple[Sandbox, dict[str, Any], dict[str, Any]]]:
    with Sandbox("salesforce", data="demo") as sb:
        main = run_script(node, sb, "salesforce.cjs")
        # getUpdated / getDeleted leave out the current minute: let the sandbox clock pass it.
        sb.clock.advance(minutes=2)
        replication = run_script(node, sb, "salesforce.cjs", "replication")
        yield sb, main, replication


def test_jsforce_logins(salesforce_run):
    sb, result, _ = salesforce_run
    creds = sb.credentials
    info = ok(result, "client_credentials")["userInfo"]
    assert info["url"] == f"{sb.url}/id/{info['organizationId']}/{info['id']}"
    assert ok(result, "identity")["username"] == creds["username"]
    assert ok(result, "password")["userInfo"]["id"] == info["id"]
    assert ok(result, "soap_login")["userInfo"]["organizationId"] == info["organizationId"]
    assert ok(result, "password")["count"] == ok(result, "soap_login")["count"] > 0
    assert ok(result, "refresh") == {"refreshed": True, "records": 1}
    jwt_login = ok(result, "jwt_bearer")
    assert (jwt_login["userInfo"]["id"], jwt_login["records"]) == (info["id"], 2)
    assert error(result, "bad_login")["name"] == "invalid_grant"


def test_jsforce_logout_revokes_the_token(salesforce_run):
    _, result, _ = salesforce_run
    logout = ok(result, "logout")
    assert logout["refused"] is True
    assert logout["error"]["errorCode"] == "INVALID_SESSION_ID"


def test_jsforce_describe(salesforce_run):
    _, result, _ = salesforce_run
    assert {"Account", "Contact", "Lead", "Opportunity"} <= set(
        ok(result, "describe_global")["names"]
    )
    contact = ok(result, "describe_contact")
    assert contact["name"] == "Contact"
    assert {"Id", "LastName", "External_Id__c"} <= set(contact["fields"])


def test_jsforce_query_pages(salesforce_run):
    _, result, _ = salesforce_run
    pages = ok(result, "query_pages")
    assert pages["firstPage"] == pages["secondPage"] == 2000
    assert pages["firstDone"] is False
    assert pages["all"] == pages["distinct"] == pages["totalSize"] == 5000
    rows = ok(result, "query_builder")["rows"]
    assert len(rows) == 5
    names = [r["LastName"] for r in rows]
    assert names == sorted(names, key=str.upper)
    assert all(n.startswith("S") and r["Account"]["Name"] for n, r in zip(names, rows, strict=True))


def test_jsforce_single_writes(salesforce_run):
    _, result, _ = salesforce_run
    crud = ok(result, "crud_single")
    assert crud["created"]["success"] and crud["created"]["id"].startswith("003")
    assert crud["updated"]["success"] and crud["phone"] == "555-0199"
    assert crud["upserted"]["created"] is True
    assert crud["again"] == {**crud["upserted"], "created": False}
    assert crud["deleted"] == {"id": crud["created"]["id"], "success": True, "errors": []}


def test_jsforce_collections(salesforce_run):
    _, result, _ = salesforce_run
    coll = ok(result, "crud_collection")
    assert [r["success"] for r in coll["created"]] == [True, True]
    assert [r["success"] for r in coll["updated"]] == [True, True]
    assert coll["titles"] == ["Scientist", "Scientist"]  # composite retrieve, body form
    assert [r["created"] for r in coll["upserted"]] == [True, True]
    assert coll["partial"][0]["success"] is True
    assert coll["partial"][1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert [r["success"] for r in coll["deleted"]] == [True, True]


def test_jsforce_composite_with_references(salesforce_run):
    """``POST /composite`` used to be 405: references, ids in urls, a query's records[0]."""
    _, result, _ = salesforce_run
    acct, person, check, found, rename = ok(result, "composite")["compositeResponse"]
    assert [a["httpStatusCode"] for a in (acct, person, check, found, rename)] == [
        201,
        201,
        200,
        200,
        204,
    ]
    assert person["httpHeaders"]["Location"].endswith(f"/sobjects/Contact/{person['body']['id']}")
    assert check["body"]["AccountId"] == acct["body"]["id"]
    assert found["body"]["records"][0]["Id"] == person["body"]["id"]
    assert rename["referenceId"] == "rename" and rename["body"] is None


def test_jsforce_composite_all_or_none_rolls_back(salesforce_run):
    _, result, _ = salesforce_run
    rollback = ok(result, "composite_rollback")
    acct, bad, never = rollback["res"]["compositeResponse"]
    assert bad["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    for halted in (acct, never):
        assert halted["httpStatusCode"] == 400
        assert halted["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert rollback["left"] == 0  # the account created first is gone


def test_jsforce_composite_all_or_none_covers_collections(salesforce_run):
    """An outer allOrNone turns a Collections subrequest's partial success into a rollback."""
    _, result, _ = salesforce_run
    outcome = ok(result, "composite_collection")
    people, after = outcome["res"]["compositeResponse"]
    assert [r["success"] for r in people["body"]] == [False, False]
    assert people["body"][1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert after["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert outcome["kept"] == 0


def test_jsforce_composite_partial_halts_only_dependents(salesforce_run):
    _, result, _ = salesforce_run
    bad, dependent, fine = ok(result, "composite_partial")["compositeResponse"]
    assert bad["httpStatusCode"] == dependent["httpStatusCode"] == 400
    assert dependent["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "No value for bad.id found in bad" in dependent["body"][0]["message"]
    assert fine["httpStatusCode"] == 201 and fine["body"]["success"] is True


def test_jsforce_composite_batch(salesforce_run):
    """``POST /composite/batch``: independent subrequests; haltOnError answers 412 after a failure."""
    _, result, _ = salesforce_run
    going, halting = ok(result, "composite_batch").values()
    assert going["hasErrors"] is halting["hasErrors"] is True
    assert [r["statusCode"] for r in going["results"]] == [201, 404, 200]
    assert going["results"][1]["result"][0]["errorCode"] == "NOT_FOUND"
    assert going["results"][2]["result"]["totalSize"] == 1
    assert [r["statusCode"] for r in halting["results"]] == [201, 404, 412]
    assert halting["results"][2]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"


def test_jsforce_bulk2(salesforce_run):
    _, result, _ = salesforce_run
    ingest = ok(result, "bulk_ingest")
    assert (ingest["successful"], ingest["failed"], ingest["created"]) == (2, 0, ["true", "true"])
    assert ok(result, "bulk_query") == {"records": ["Lovelace"]}


def test_jsforce_query_surface(salesforce_run):
    _, result, _ = salesforce_run
    more = ok(result, "query_more")
    assert more["smallPage"] == 500  # Sforce-Query-Options: batchSize=500
    assert more["deleted"] == 3  # scanAll: queryAll sees the recycle bin
    assert more["nested"] == [2, 2, 2]  # include('Contacts'): a child subquery, LIMIT 2 per parent
    assert more["groups"] == sorted(more["groups"], reverse=True) and sum(more["groups"]) > 0
    assert more["starFields"] > 30  # select('*') expands from describe
    assert more["count"] == 1
    assert more["limitInfo"]["apiUsage"]["limit"] == 100_000  # read from Sforce-Limit-Info


def test_jsforce_bulk2_update_delete_and_failed_rows(salesforce_run):
    _, result, _ = salesforce_run
    jobs = ok(result, "bulk_update_delete")
    assert jobs["updated"] == 1
    assert jobs["deleted"] == [jobs["lovelace"]]
    assert [e.split(":")[0] for e in jobs["failed"]] == ["INVALID_CROSS_REFERENCE_KEY"]
    # 5,000 demo contacts + 7 created by REST + 4 by composite requests + 2 by Bulk - 3 - 1 deleted.
    assert ok(result, "bulk_query_all") == 5009


def test_jsforce_other_resources(salesforce_run):
    _, result, replication = salesforce_run
    assert ok(result, "limits") is True
    assert ok(result, "recent") == 0
    # This run created 1 + 1 + 2 + 2 + 1 contacts by REST and 2 by Bulk; deleted 3 and 1 of them.
    deleted = ok(replication, "deleted")
    single = ok(result, "crud_single")["deleted"]["id"]
    several = [r["id"] for r in ok(result, "crud_collection")["deleted"]]
    by_bulk = ok(result, "bulk_update_delete")["deleted"]
    assert sorted(deleted) == sorted([single, *several, *by_bulk])
    single_writes, collection = ok(result, "crud_single"), ok(result, "crud_collection")
    alive = {
        single_writes["upserted"]["id"],
        *(r["id"] for r in collection["upserted"]),
        collection["partial"][0]["id"],
        *ok(result, "bulk_ingest")["ids"],
    } - set(deleted)
    updated = set(ok(replication, "updated"))
    assert len(alive) == 5
    assert alive <= updated and not updated & set(deleted)


def test_jsforce_error_shapes(salesforce_run):
    _, result, _ = salesforce_run
    assert error(result, "bad_query")["errorCode"] == "MALFORMED_QUERY"
    bad_field = error(result, "bad_field")
    assert bad_field["errorCode"] == "INVALID_FIELD"
    assert "No such column 'NoSuchField__c' on entity 'Contact'" in bad_field["message"]
    assert error(result, "missing_record")["errorCode"] == "NOT_FOUND"


# --- Dataverse: msal-node and DynamicsWebApi ----------------------------------------------------


@pytest.fixture(scope="module")
def dataverse_run(node: str) -> Iterator[dict[str, Any]]:
    with Sandbox("dynamics", data="demo") as sb:
        yield run_script(node, sb, "dataverse.cjs")


def test_msal_node_logins(dataverse_run):
    result = dataverse_run
    assert ok(result, "client_credentials") == {"tokenType": "Bearer", "hasToken": True}
    assert ok(result, "password")["hasRefresh"] is True
    refreshed = ok(result, "refresh")
    assert refreshed["userId"] == ok(result, "whoami")["UserId"]
    bad = error(result, "bad_secret")
    assert bad["errorCode"] == "invalid_client"
    assert "AADSTS7000215" in bad["message"]


def test_dynamics_web_api_describe(dataverse_run):
    described = ok(dataverse_run, "describe")
    assert described["entity"] == {
        "LogicalName": "contact",
        "EntitySetName": "contacts",
        "PrimaryIdAttribute": "contactid",
    }
    assert {"contactid", "lastname", "crmf_externalid"} <= set(described["attributes"])
    assert described["csdl"] is True


def test_dynamics_web_api_query_pages(dataverse_run):
    pages = ok(dataverse_run, "query_pages")
    assert pages["firstPage"] == pages["secondPage"] == 2000
    assert pages["hasNext"] is True
    assert pages["all"] == pages["distinct"] == pages["count"] == 5000
    assert pages["employees"] == sorted(pages["employees"], reverse=True)
    assert len(pages["employees"]) == 5 and min(pages["employees"]) > 5000


def test_dynamics_web_api_fetchxml(dataverse_run):
    fetched = ok(dataverse_run, "fetchxml")
    assert fetched["top"] == [["contactid", "fullname", "lastname"]] * 3
    assert fetched["all"] == fetched["distinct"] == 5000  # paging cookie, page by page


def test_dynamics_web_api_writes(dataverse_run):
    crud = ok(dataverse_run, "crud")
    assert crud["guid"] is True
    assert crud["fullname"] == "Grace Hopper"
    assert crud["telephone1"] == "555-0199"
    assert crud["upserted"] == {"lastname": "Liskov", "crmf_externalid": "JS-0001"}
    assert crud["represented"] == "Noether"
    assert crud["afterDelete"]["status"] == 404
    assert crud["afterDelete"]["code"] == "0x80040217"
    assert ok(dataverse_run, "create_multiple") == {"ids": 2}
    assert ok(dataverse_run, "batch") == {"created": 2, "name": "Batch Ltd", "linked": True}


def test_dynamics_web_api_more(dataverse_run):
    more = ok(dataverse_run, "more")
    assert more["annotations"] == {"lookup": "account", "formatted": "Active"}
    assert more["deltaLink"] is True  # Prefer: odata.track-changes
    assert (more["fresh"], more["stale"]) == (True, False)  # If-Match: a stale etag is 412
    assert (more["noCreate"], more["ghostRead"]) == (None, 404)  # If-Match: * never creates
    assert (more["title"], more["cleared"]) == ("Admiral", None)  # single-property PUT, DELETE
    assert more["multiple"] == [["Ada", "Two"], [None, "Upserted"]]  # Update/UpsertMultiple
    # A failing changeset answers its failing request only, and nothing of it is written.
    [failed] = more["changeset"]
    assert failed["status"] == 400 and failed["error"]["code"] == "0x80040203"
    assert more["rolledBack"] == 0


def test_dynamics_web_api_associates_through_ref(dataverse_run):
    """``PUT`` / ``DELETE .../parentcustomerid_account/$ref`` used to be 404 for 'contacts'."""
    refs = ok(dataverse_run, "associate")
    assert (refs["set"], refs["cleared"]) == (True, None)
    refused = refs["collection"]
    assert (refused["status"], refused["code"]) == (400, "0x80060888")
    assert "not supported by the crmframes sandbox" in refused["message"]


def test_msal_node_device_code(dataverse_run):
    """msal-node polls with ``grant_type=device_code`` (Python msal: the RFC 8628 URN): both work."""
    flow = ok(dataverse_run, "device_code")
    assert flow["shown"]["userCode"] is True
    assert flow["shown"]["verificationUri"].endswith("/devicelogin")
    assert flow["hasToken"] is True


def test_dynamics_web_api_expand_is_refused_honestly(dataverse_run):
    refused = error(dataverse_run, "expand")
    assert (refused["status"], refused["code"]) == (400, "0x80060888")
    assert "'$expand' is not supported by the crmframes sandbox" in refused["message"]


def test_dynamics_web_api_error_shapes(dataverse_run):
    result = dataverse_run
    assert {k: error(result, "bad_filter")[k] for k in ("status", "code")} == {
        "status": 400,
        "code": "0x80060888",
    }
    bad_select = error(result, "bad_select")
    assert (bad_select["status"], bad_select["code"]) == (400, "0x0")
    assert "nosuchcolumn" in bad_select["message"]
    unknown = error(result, "unknown_set")
    assert (unknown["status"], unknown["code"]) == (404, "0x8006088a")
    missing = error(result, "missing_record")
    assert (missing["status"], missing["code"]) == (404, "0x80040217")


def test_a_405_lists_the_methods_the_path_serves(demo_sandbox):
    """The 405 used to list GET,PATCH,DELETE,POST for every path, methods it then refused."""
    from tests.clients import access_token, trusted_session

    session = trusted_session(demo_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(demo_sandbox, session)}"
    base = f"{demo_sandbox.url}/services/data/v{demo_sandbox.settings().api_version}"
    record = session.get(f"{base}/query", params={"q": "SELECT Id FROM Contact LIMIT 1"}).json()
    reply = session.put(f"{base}/sobjects/Contact/{record['records'][0]['Id']}", json={})
    assert reply.status_code == 405
    assert reply.headers["Allow"] == "GET,PATCH,DELETE"
    assert (
        reply.json()[0]["message"] == "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE"
    )


def test_composite_request_checks_its_body_first(sandbox):
    """Malformed composite bodies are refused whole, before any subrequest runs."""
    from tests.clients import access_token, trusted_session

    session = trusted_session(sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(sandbox, session)}"
    base = f"/services/data/v{sandbox.settings().api_version}"
    create = {"method": "POST", "url": f"{base}/sobjects/Account", "body": {"Name": "Never"}}
    bodies = [
        {"compositeRequest": [{**create, "referenceId": f"a{i}"} for i in range(26)]},
        {"compositeRequest": [{**create, "referenceId": "not-valid"}]},
        {"compositeRequest": [{**create, "referenceId": "a", "httpHeaders": {"Accept": "x"}}]},
        {"compositeRequest": [create]},
    ]
    before = sandbox.api_call_count()
    for body in bodies:
        reply = session.post(f"{sandbox.url}{base}/composite", json=body)
        assert reply.status_code == 400, body
        assert reply.json()[0]["errorCode"] == "INVALID_INPUT"
    assert sandbox.api_call_count() == before + len(bodies)  # one call each, nothing created
    count = session.get(
        f"{sandbox.url}{base}/query",
        params={"q": "SELECT COUNT() FROM Account WHERE Name = 'Never'"},
    )
    assert count.json()["totalSize"] == 0
    directory = session.get(f"{sandbox.url}{base}/composite").json()
    assert directory == {
        "batch": f"{base}/composite/batch",
        "sobjects": f"{base}/composite/sobjects",
    }
    refused = session.post(f"{sandbox.url}{base}/composite/batch", json={"batchRequests": []})
    assert refused.status_code == 400


def test_ref_refusals_and_counting(dv):
    from tests.clients import dynamics_session

    session = dynamics_session(dv)
    api = f"{dv.url}/api/data/v9.2"
    account = session.get(f"{api}/accounts", params={"$select": "accountid", "$top": "1"})
    account_id = account.json()["value"][0]["accountid"]
    ghost = "00000000-0000-0000-0000-0000000000ab"
    dv.reset_api_calls()
    missing = session.put(
        f"{api}/contacts({ghost})/parentcustomerid_account/$ref",
        json={"@odata.id": f"{api}/accounts({account_id})"},
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "0x80040217")
    contact = session.get(f"{api}/contacts", params={"$select": "contactid", "$top": "1"})
    ref = f"{api}/contacts({contact.json()['value'][0]['contactid']})/parentcustomerid_account/$ref"
    bad = session.put(ref, json={"id": account_id})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "0x80048d19")
    wrong_table = session.put(ref, json={"@odata.id": f"contacts({ghost})"})
    assert wrong_table.status_code == 400
    assert session.delete(ref).status_code == 204
    assert dv.api_calls()["update"] == 4
