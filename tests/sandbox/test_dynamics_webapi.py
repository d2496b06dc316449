"""The Dataverse Web API of the sandbox over raw HTTPS: metadata, queries, paging, writes, errors."""

import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest

from crmframes.sandbox.demo_org import scaled_counts
from tests.clients import dynamics_session

API = "/api/data/v9.2"


@pytest.fixture(scope="module")
def api(dv_demo):
    session = dynamics_session(dv_demo)
    base = dv_demo.url + API

    def call(method, path, **kwargs):
        return session.request(method, base + path, timeout=60, **kwargs)

    return call


@pytest.fixture
def wapi(dv):
    session = dynamics_session(dv)

    def call(method, path, **kwargs):
        return session.request(method, dv.url + API + path, timeout=60, **kwargs)

    return call


def test_service_document_and_csdl(api):
    doc = api("GET", "/").json()
    assert {"name": "contacts", "kind": "EntitySet", "url": "contacts"} in doc["value"]
    csdl = api("GET", "/$metadata")
    assert csdl.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(csdl.content)
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    contact = root.find(".//edm:EntityType[@Name='contact']", ns)
    assert contact.find("edm:Key/edm:PropertyRef", ns).get("Name") == "contactid"
    types = {p.get("Name"): p.get("Type") for p in contact.findall("edm:Property", ns)}
    assert types["birthdate"] == "Edm.Date" and types["_parentcustomerid_value"] == "Edm.Guid"


def test_entity_definitions_the_way_the_microsoft_client_asks(api):
    reply = api(
        "GET",
        "/EntityDefinitions?%24select=LogicalName%2CEntitySetName%2CPrimaryIdAttribute"
        "&%24filter=LogicalName+eq+%27contact%27",
    )
    rows = reply.json()["value"]
    assert [(r["LogicalName"], r["EntitySetName"], r["PrimaryIdAttribute"]) for r in rows] == [
        ("contact", "contacts", "contactid")
    ]
    assert "MetadataId" in rows[0]
    single = api(
        "GET", "/EntityDefinitions(LogicalName='account')?$select=LogicalName,PrimaryNameAttribute"
    ).json()
    assert single["PrimaryNameAttribute"] == "name"


def test_attributes_casts_and_keys(api):
    attrs = api("GET", "/EntityDefinitions(LogicalName='contact')/Attributes").json()["value"]
    by_name = {a["LogicalName"]: a for a in attrs}
    assert by_name["lastname"]["MaxLength"] == 50
    assert by_name["lastname"]["RequiredLevel"]["Value"] == "SystemRequired"
    assert by_name["fullname"]["IsValidForCreate"] is False
    assert by_name["parentcustomerid"]["Targets"] == ["account", "contact"]
    picklists = api(
        "GET",
        "/EntityDefinitions(LogicalName='contact')/Attributes/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName"
        "&$expand=OptionSet($select=Options)",
    ).json()["value"]
    tiers = next(p for p in picklists if p["LogicalName"] == "crmf_loyaltytier")
    assert [o["Label"]["UserLocalizedLabel"]["Label"] for o in tiers["OptionSet"]["Options"]][
        :2
    ] == ["Bronze", "Silver"]
    keys = api("GET", "/EntityDefinitions(LogicalName='contact')/Keys").json()["value"]
    assert keys[0]["KeyAttributes"] == ["crmf_externalid"]


def test_query_select_filter_orderby_top(api):
    reply = api(
        "GET",
        "/accounts?$select=name,numberofemployees&$filter=numberofemployees gt 100 and "
        "statecode eq 0&$orderby=numberofemployees desc,name&$top=10",
    )
    assert reply.headers["OData-Version"] == "4.0"
    body = reply.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name,numberofemployees,accountid)")
    rows = body["value"]
    assert len(rows) == 10 and "@odata.nextLink" not in body
    sizes = [r["numberofemployees"] for r in rows]
    assert sizes == sorted(sizes, reverse=True) and min(sizes) > 100
    assert list(rows[0]) == ["@odata.etag", "name", "numberofemployees", "accountid"]
    assert rows[0]["@odata.etag"].startswith('W/"')


def test_paging_follows_next_link_verbatim(api):
    headers = {"Prefer": "odata.maxpagesize=2000"}
    reply = api("GET", "/contacts?$select=fullname,emailaddress1&$count=true", headers=headers)
    assert reply.headers["Preference-Applied"] == "odata.maxpagesize=2000"
    body = reply.json()
    assert body["@odata.count"] == scaled_counts(1.0)["contacts"]
    seen = [r["contactid"] for r in body["value"]]
    link = body["@odata.nextLink"]
    assert "$skiptoken=" in link and "%3Ccookie" in link
    while link:
        page = api("GET", link[link.index(API) + len(API) :], headers=headers).json()
        seen += [r["contactid"] for r in page["value"]]
        link = page.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == scaled_counts(1.0)["contacts"]


def pages_of(call, path, prefer, between=None):
    """Follow a query's next links; return ``(path, ids)`` per page after the first."""
    headers = {"Prefer": prefer}
    link = call("GET", path, headers=headers).json()["@odata.nextLink"]
    pages = []
    while link:
        if between is not None:
            between(len(pages))
        path = link[link.index(API) + len(API) :]
        page = call("GET", path, headers=headers).json()
        pages.append((path, [r["contactid"] for r in page["value"]]))
        link = page.get("@odata.nextLink")
    return pages


def test_the_last_page_asked_again_comes_again_after_its_cursor_is_gone(api, dv_demo):
    cursors = dv_demo._app.sets._cursors
    held = len(cursors)
    pages = pages_of(
        api, "/contacts?$select=contactid&$orderby=lastname,contactid", "odata.maxpagesize=2000"
    )
    assert len(cursors) == held  # forgotten once the last page was served
    last_path, last_ids = pages[-1]
    again = api("GET", last_path, headers={"Prefer": "odata.maxpagesize=2000"}).json()
    assert [r["contactid"] for r in again["value"]] == last_ids
    assert "@odata.nextLink" not in again


@pytest.mark.parametrize("annotations", [False, True])
def test_a_paged_read_is_a_snapshot_a_record_renamed_meanwhile_comes_once(wapi, annotations):
    """Pages come from the query's cursor, with annotations too (one scan, no doubles)."""
    prefer = "odata.maxpagesize=1000" + (',odata.include-annotations="*"' if annotations else "")
    first = wapi("GET", "/contacts?$select=contactid&$orderby=lastname,contactid&$top=1")
    renamed = first.json()["value"][0]["contactid"]

    def rename(page):
        if page == 1:  # after the first record was served, it moves to the end of the order
            assert wapi("PATCH", f"/contacts({renamed})", json={"lastname": "Zz"}).ok

    pages = pages_of(
        wapi, "/contacts?$select=contactid&$orderby=lastname,contactid", prefer, rename
    )
    seen = [i for _, ids in pages for i in ids]
    assert len(seen) == len(set(seen)) and renamed not in seen


def test_default_and_maximum_page_size_is_5000(api):
    body = api(
        "GET", "/contacts?$select=contactid", headers={"Prefer": "odata.maxpagesize=99999"}
    ).json()
    assert len(body["value"]) == 5000


def test_count_endpoint_and_in_function(api):
    total = api("GET", "/accounts/$count")
    assert total.headers["Content-Type"].startswith("text/plain") and int(total.text) == 1000
    ids = [r["accountid"] for r in api("GET", "/accounts?$select=accountid&$top=3").json()["value"]]
    values = "[" + ",".join(f'"{i}"' for i in ids) + "]"
    rows = api(
        "GET",
        "/accounts?$select=name&$filter=Microsoft.Dynamics.CRM.In(PropertyName='accountid',"
        f"PropertyValues={values})",
    ).json()["value"]
    assert sorted(r["accountid"] for r in rows) == sorted(ids)


def test_annotations_on_request(api):
    headers = {"Prefer": 'odata.include-annotations="*"'}
    row = api(
        "GET",
        "/contacts?$select=fullname,_parentcustomerid_value,donotemail&$filter="
        "_parentcustomerid_value ne null&$top=1",
        headers=headers,
    ).json()["value"][0]
    assert row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"]
    assert row["donotemail@OData.Community.Display.V1.FormattedValue"] in ("Yes", "No")
    keys = list(row)
    assert keys.index(
        "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    ) < keys.index("_parentcustomerid_value")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("/contacts?$filter=nope eq 1", 400, "0x80060888"),
        ("/contacts?$filter=lastname eq 'O'Bryan'", 400, "0x80060888"),
        ("/contacts?$select=nope", 400, "0x0"),  # the codes of web-api-client-errors
        ("/conacts", 404, "0x8006088a"),
        ("/Account", 404, "0x8006088a"),
        ("/contacts(00000000-0000-0000-0000-000000000001)", 404, "0x80040217"),
        ("/contacts(crmf_externalid='nobody')", 404, "0x80060891"),
        ("/contacts(lastname='x')", 400, "0x80060888"),
    ],
)
def test_read_errors_have_the_dataverse_shape(api, query, status, code):
    reply = api("GET", query)
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code and reply.json()["error"]["message"]


def test_create_retrieve_update_delete(wapi, dv):
    account = wapi("POST", "/accounts", json={"name": "Contoso", "accountnumber": "C-1"})
    assert account.status_code == 204
    account_url = account.headers["OData-EntityId"]
    assert (
        account_url.startswith(dv.url + API + "/accounts(")
        and account.headers["Location"] == account_url
    )
    account_id = account_url.rsplit("(", 1)[1].rstrip(")")
    created = wapi(
        "POST",
        "/contacts",
        headers={"Prefer": "return=representation"},
        json={
            "firstname": "Ann",
            "lastname": "O'Neil",
            "parentcustomerid_account@odata.bind": f"/accounts({account_id})",
            "birthdate": "1990-05-01",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["fullname"] == "Ann O'Neil" and body["_parentcustomerid_value"] == account_id
    assert body["birthdate"] == "1990-05-01" and body["createdon"].endswith("Z")
    contact = f"/contacts({body['contactid']})"
    assert (
        wapi(
            "PATCH", contact, headers={"If-Match": "*"}, json={"telephone1": "555-0100"}
        ).status_code
        == 204
    )
    again = wapi("GET", contact + "?$select=telephone1,fullname").json()
    assert again["telephone1"] == "555-0100" and again["@odata.etag"] != body["@odata.etag"]
    stale = wapi(
        "PATCH", contact, headers={"If-Match": body["@odata.etag"]}, json={"telephone1": "x"}
    )
    assert stale.status_code == 412
    assert wapi("DELETE", contact).status_code == 204
    assert wapi("GET", contact).status_code == 404
    audits = wapi(
        "GET",
        f"/audits?$filter=operation eq 3 and objecttypecode eq 'contact' and "
        f"_objectid_value eq {body['contactid']}",
    ).json()["value"]
    assert len(audits) == 1 and audits[0]["createdon"].endswith("Z")


def test_upsert_by_alternate_key_and_conditions(wapi):
    key = "/contacts(crmf_externalid='EXT-1')"
    assert wapi("PATCH", key, json={"lastname": "Key"}).status_code == 204
    assert wapi("PATCH", key, json={"firstname": "Again"}).status_code == 204
    row = wapi("GET", key + "?$select=fullname,crmf_externalid").json()
    assert row["fullname"] == "Again Key" and row["crmf_externalid"] == "EXT-1"
    assert (
        wapi("PATCH", key, headers={"If-None-Match": "*"}, json={"lastname": "X"}).status_code
        == 412
    )
    missing = wapi(
        "PATCH",
        "/contacts(crmf_externalid='EXT-2')",
        headers={"If-Match": "*"},
        json={"lastname": "X"},
    )
    assert missing.status_code == 404
    created = wapi(
        "PATCH",
        "/contacts(crmf_externalid='EXT-3')",
        headers={"Prefer": "return=representation"},
        json={"lastname": "New"},
    )
    assert created.status_code == 201
    updated = wapi(
        "PATCH",
        "/contacts(crmf_externalid='EXT-3')",
        headers={"Prefer": "return=representation"},
        json={"lastname": "Newer"},
    )
    assert updated.status_code == 200


def test_single_property_put_and_delete(wapi):
    url = wapi("POST", "/contacts", json={"lastname": "Prop", "jobtitle": "CEO"}).headers[
        "OData-EntityId"
    ]
    path = url[url.index(API) + len(API) :]
    assert wapi("PUT", path + "/jobtitle", json={"value": "CTO"}).status_code == 204
    assert wapi("GET", path + "/jobtitle").json()["value"] == "CTO"
    assert wapi("DELETE", path + "/jobtitle").status_code == 204
    assert wapi("GET", path + "?$select=jobtitle").json()["jobtitle"] is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"lastname": "x" * 51}, 400, "0x80044331"),
        ({"firstname": "no last name"}, 400, "0x80040203"),
        ({"lastname": "x", "nope": 1}, 400, "0x80048d19"),
        ({"lastname": "x", "birthdate": "not a date"}, 400, "0x80048d19"),
        ({"lastname": "x", "crmf_loyaltytier": 7}, 400, "0x8004431a"),
        (
            {
                "lastname": "x",
                "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000009)",
            },
            404,
            "0x80040217",
        ),
        (
            {
                "lastname": "x",
                "ParentCustomerId_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000009)",
            },
            400,
            "0x80048d19",
        ),
    ],
)
def test_write_errors_have_the_dataverse_codes(wapi, body, status, code):
    reply = wapi("POST", "/contacts", json=body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code


def test_alternate_key_violation(wapi):
    assert (
        wapi("POST", "/contacts", json={"lastname": "A", "crmf_externalid": "DUP"}).status_code
        == 204
    )
    reply = wapi("POST", "/contacts", json={"lastname": "B", "crmf_externalid": "dup"})
    assert reply.status_code == 412 and reply.json()["error"]["code"] == "0x80060892"


def test_duplicate_detection_needs_the_header():
    from crmframes import Sandbox

    with Sandbox("dynamics", data="empty", duplicate_rule=True) as sb:
        session = dynamics_session(sb)
        url = sb.url + API + "/contacts"
        assert (
            session.post(
                url, json={"lastname": "A", "emailaddress1": "twin@example.com"}
            ).status_code
            == 204
        )
        assert (
            session.post(
                url, json={"lastname": "B", "emailaddress1": "twin@example.com"}
            ).status_code
            == 204
        )
        checked = session.post(
            url,
            json={"lastname": "C", "emailaddress1": "TWIN@example.com"},
            headers={"MSCRM.SuppressDuplicateDetection": "false"},
        )
        assert checked.status_code == 412 and checked.json()["error"]["code"] == "0x80040333"


def test_deleting_an_account_cascades_and_audits(wapi):
    row = wapi(
        "GET",
        "/contacts?$select=_parentcustomerid_value&$filter=_parentcustomerid_value ne null&$top=1",
    ).json()["value"][0]
    account = row["_parentcustomerid_value"]
    children = wapi("GET", f"/contacts/$count?$filter=_parentcustomerid_value eq {account}").text
    assert wapi("DELETE", f"/accounts({account})").status_code == 204
    assert wapi("GET", f"/contacts/$count?$filter=_parentcustomerid_value eq {account}").text == "0"
    audits = wapi("GET", "/audits?$filter=operation eq 3 and objecttypecode eq 'contact'").json()[
        "value"
    ]
    assert len(audits) == int(children)


def test_who_am_i(api):
    me = api("GET", "/WhoAmI").json()
    assert {"UserId", "BusinessUnitId", "OrganizationId"} <= set(me)


def test_writes_to_read_only_tables_are_refused(api):
    assert api("POST", "/audits", json={}).status_code == 405


def test_url_encoded_filter_values(api):
    name = api("GET", "/accounts?$select=name&$top=1").json()["value"][0]["name"]
    literal = name.replace("'", "''")
    reply = api("GET", f"/accounts?$select=name&$filter=name eq '{quote(literal)}'")
    assert [r["name"] for r in reply.json()["value"]][:1] == [name]


def test_change_tracking_delta_links(wapi):
    first = wapi("GET", "/accounts?$select=name", headers={"Prefer": "odata.track-changes"})
    assert first.headers["Preference-Applied"] == "odata.track-changes"
    body = first.json()
    assert len(body["value"]) == 1000
    delta = body["@odata.deltaLink"]
    assert "$deltatoken=" in delta
    path = lambda link: link[link.index(API) + len(API) :]  # noqa: E731
    assert wapi("GET", path(delta)).json()["value"] == []
    victim = body["value"][0]["accountid"]
    changed = body["value"][1]["accountid"]
    wapi("PATCH", f"/accounts({changed})", json={"name": "Renamed"}, headers={"If-Match": "*"})
    wapi("DELETE", f"/accounts({victim})")
    created = wapi("POST", "/accounts", json={"name": "Brand new"}).headers["OData-EntityId"]
    changes = wapi("GET", path(delta)).json()
    assert changes["@odata.context"].endswith("/$delta")
    names = {r.get("name") for r in changes["value"] if "name" in r}
    assert names == {"Renamed", "Brand new"}
    deleted = [r for r in changes["value"] if r.get("reason") == "deleted"]
    assert [d["id"] for d in deleted] == [victim]
    assert created.rsplit("(", 1)[1].rstrip(")") in {r.get("accountid") for r in changes["value"]}
    refused = wapi(
        "GET", "/accounts?$filter=name eq 'x'", headers={"Prefer": "odata.track-changes"}
    )
    assert refused.status_code == 400


def test_whoami_is_a_function_so_post_is_404(api):
    # learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors
    reply = api("POST", "/WhoAmI", json={})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == ""
    assert reply.json()["error"]["message"].startswith("No HTTP resource was found")
    assert api("GET", "/WhoAmI").status_code == 200
