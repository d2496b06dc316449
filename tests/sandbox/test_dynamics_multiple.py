"""Dataverse's CreateMultiple / UpdateMultiple / UpsertMultiple actions in the sandbox.

Over raw HTTPS and with Microsoft's own client (powerplatform-dataverse-client), unchanged.
"""

import pytest
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from crmframes import Sandbox
from tests.clients import dynamics_session
from tests.sandbox.test_dynamics_client import client_for

API = "/api/data/v9.2"
CONTACT = "Microsoft.Dynamics.CRM.contact"
ACCOUNT = "Microsoft.Dynamics.CRM.account"
TAKEN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture
def wapi(dv_empty):
    session = dynamics_session(dv_empty)

    def call(method, path, **kwargs):
        return session.request(method, dv_empty.url + API + path, timeout=60, **kwargs)

    return call


def contacts(wapi, select="lastname,firstname,crmf_externalid"):
    rows = wapi("GET", f"/contacts?$select={select}&$orderby=lastname").json()["value"]
    return [{k: v for k, v in row.items() if not k.startswith("@")} for row in rows]


def create_multiple(wapi, targets, set_name="contacts", **kwargs):
    return wapi(
        "POST",
        f"/{set_name}/Microsoft.Dynamics.CRM.CreateMultiple",
        json={"Targets": targets},
        **kwargs,
    )


def test_create_multiple_returns_the_ids_and_writes_the_records(wapi, dv_empty):
    reply = create_multiple(
        wapi,
        [
            {"@odata.type": CONTACT, "firstname": "Ada", "lastname": "Lovelace"},
            {"@odata.type": CONTACT, "lastname": "Hopper", "contactid": TAKEN},
        ],
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["@odata.context"] == (
        f"{dv_empty.url}{API}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    )
    assert len(body["Ids"]) == 2 and body["Ids"][1] == TAKEN  # a client-chosen id is kept
    for record_id, name in zip(body["Ids"], ["Lovelace", "Hopper"], strict=True):
        assert wapi("GET", f"/contacts({record_id})?$select=lastname").json()["lastname"] == name


@pytest.mark.parametrize(
    ("bad", "status", "code"),
    [
        ({"lastname": "x" * 51}, 400, "0x80044331"),  # too long, as for a single create
        ({"lastname": "Twice", "contactid": TAKEN}, 412, "0x80040237"),  # the id is taken
        ({"lastname": "Ghost", "nosuchcolumn": 1}, 400, "0x80048d19"),
        ({"firstname": "NoLastName"}, 400, "0x80040203"),
    ],
)
def test_create_multiple_is_all_or_nothing_with_the_failing_records_error(wapi, bad, status, code):
    assert create_multiple(
        wapi, [{"@odata.type": CONTACT, "lastname": "First", "contactid": TAKEN}]
    )
    before = contacts(wapi)
    reply = create_multiple(
        wapi,
        [{"@odata.type": CONTACT, "lastname": "Fine"}, {"@odata.type": CONTACT, **bad}],
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    assert contacts(wapi) == before  # "Fine" was undone with the rest


def test_create_multiple_fails_a_record_as_a_single_create_does(wapi):
    target = {"lastname": "Ghost", "nosuchcolumn": 1}
    single = wapi("POST", "/contacts", json=target)
    multiple = create_multiple(wapi, [{"@odata.type": CONTACT, **target}])
    assert multiple.status_code == single.status_code == 400
    assert multiple.json() == single.json()


@pytest.mark.parametrize(
    "target",
    [
        {"lastname": "Untyped"},  # Microsoft: "You must specify the @odata.type annotation"
        {"@odata.type": ACCOUNT, "name": "Wrong table"},
    ],
)
def test_targets_must_name_the_table_of_the_set(wapi, target):
    reply = create_multiple(wapi, [target])
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "0x80040203")
    assert contacts(wapi) == []


@pytest.mark.parametrize("body", [{}, {"Targets": []}, {"Targets": "x"}])
def test_a_body_without_targets_is_refused(wapi, body):
    reply = wapi("POST", "/contacts/Microsoft.Dynamics.CRM.CreateMultiple", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "0x80040203"


def test_update_multiple_answers_204_and_is_all_or_nothing(wapi):
    ids = create_multiple(
        wapi,
        [{"@odata.type": CONTACT, "lastname": "A"}, {"@odata.type": CONTACT, "lastname": "B"}],
    ).json()["Ids"]
    url = "/contacts/Microsoft.Dynamics.CRM.UpdateMultiple"
    reply = wapi(
        "POST",
        url,
        json={
            "Targets": [
                {"@odata.type": CONTACT, "contactid": ids[0], "firstname": "Ann"},
                {"@odata.type": CONTACT, "contactid": ids[1], "firstname": "Bob"},
            ]
        },
    )
    assert reply.status_code == 204 and reply.content == b""
    assert [c["firstname"] for c in contacts(wapi)] == ["Ann", "Bob"]
    missing = "00000000-0000-0000-0000-0000000000ff"
    reply = wapi(
        "POST",
        url,
        json={
            "Targets": [
                {"@odata.type": CONTACT, "contactid": ids[0], "firstname": "Changed"},
                {"@odata.type": CONTACT, "contactid": missing, "firstname": "Nobody"},
            ]
        },
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "0x80040217")
    assert [c["firstname"] for c in contacts(wapi)] == ["Ann", "Bob"]
    unnamed = wapi("POST", url, json={"Targets": [{"@odata.type": CONTACT, "firstname": "X"}]})
    assert unnamed.status_code == 400


def test_upsert_multiple_by_alternate_key_creates_and_updates(wapi):
    create_multiple(wapi, [{"@odata.type": CONTACT, "lastname": "Known", "crmf_externalid": "E-1"}])
    reply = wapi(
        "POST",
        "/contacts/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={
            "Targets": [
                {"@odata.type": CONTACT, "@odata.id": "contacts(crmf_externalid='E-1')",
                 "firstname": "Updated"},
                {"@odata.type": CONTACT, "@odata.id": "contacts(crmf_externalid='E-2')",
                 "lastname": "New"},
            ]
        },
    )  # fmt: skip
    assert reply.status_code == 204
    assert contacts(wapi) == [
        {"lastname": "Known", "firstname": "Updated", "crmf_externalid": "E-1",
         "contactid": contacts(wapi)[0]["contactid"]},
        {"lastname": "New", "firstname": None, "crmf_externalid": "E-2",
         "contactid": contacts(wapi)[1]["contactid"]},
    ]  # fmt: skip
    wrong_set = wapi(
        "POST",
        "/contacts/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={"Targets": [{"@odata.type": CONTACT, "@odata.id": "accounts(accountnumber='1')"}]},
    )
    assert wrong_set.status_code == 400
    assert len(contacts(wapi)) == 2


def test_actions_answer_post_only(wapi):
    reply = wapi("GET", "/contacts/Microsoft.Dynamics.CRM.CreateMultiple")
    assert reply.status_code == 405


def test_create_multiple_applies_org_automation_like_a_single_create():
    with Sandbox("dynamics", data="empty", automation=True) as sb:
        session = dynamics_session(sb)
        base = sb.url + API
        ids = session.post(
            base + "/contacts/Microsoft.Dynamics.CRM.CreateMultiple",
            json={"Targets": [{"@odata.type": CONTACT, "lastname": "  Padded  "}]},
            timeout=60,
        ).json()["Ids"]
        single = session.post(base + "/contacts", json={"lastname": "  Padded  "}, timeout=60)
        single_id = single.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
        names = [
            session.get(f"{base}/contacts({i})?$select=lastname", timeout=60).json()["lastname"]
            for i in (ids[0], single_id)
        ]
    assert names[0] == names[1] == "Padded"


# --- Microsoft's client, unchanged ---------------------------------------------------------------


def test_microsoft_client_creates_updates_and_upserts_many(dv_empty, monkeypatch):
    with client_for(dv_empty, monkeypatch) as client:
        ids = client.records.create(
            "contact", [{"firstname": "Ada", "lastname": "Lovelace"}, {"lastname": "Hopper"}]
        )
        assert len(ids) == 2
        names = [
            client.records.retrieve("contact", i, select=["lastname"])["lastname"] for i in ids
        ]
        assert names == ["Lovelace", "Hopper"]
        client.records.update("contact", ids, {"jobtitle": "Pioneer"})  # UpdateMultiple
        titles = [
            client.records.retrieve("contact", i, select=["jobtitle"])["jobtitle"] for i in ids
        ]
        assert titles == ["Pioneer", "Pioneer"]
        client.records.upsert(
            "account",
            [
                UpsertItem(alternate_key={"accountnumber": "A-1"}, record={"name": "Contoso"}),
                UpsertItem(alternate_key={"accountnumber": "A-2"}, record={"name": "Fabrikam"}),
            ],
        )  # UpsertMultiple
        client.records.upsert(
            "account",
            [
                UpsertItem(alternate_key={"accountnumber": "A-1"}, record={"name": "Contoso Ltd"}),
                UpsertItem(alternate_key={"accountnumber": "A-3"}, record={"name": "Litware"}),
            ],
        )
        accounts = client.records.list("account", select=["name", "accountnumber"])
    found = sorted((r["accountnumber"], r["name"]) for r in accounts)
    assert found == [("A-1", "Contoso Ltd"), ("A-2", "Fabrikam"), ("A-3", "Litware")]


def test_microsoft_client_batch_sends_create_multiple_as_one_part(dv_empty, monkeypatch):
    with client_for(dv_empty, monkeypatch) as client:
        batch = client.batch.new()
        batch.records.create("contact", [{"lastname": "A"}, {"lastname": "B"}])
        batch.records.create("contact", {"lastname": "C"})
        result = batch.execute()
        assert [r.status_code for r in result.responses] == [200, 204]
        assert len(result.responses[0].data["Ids"]) == 2
        names = sorted(r["lastname"] for r in client.records.list("contact", select=["lastname"]))
    assert names == ["A", "B", "C"]


def test_each_action_counts_as_one_call(wapi, dv_empty):
    dv_empty.reset_api_calls()
    ids = create_multiple(wapi, [{"@odata.type": CONTACT, "lastname": n} for n in "ABC"]).json()[
        "Ids"
    ]
    targets = [{"@odata.type": CONTACT, "contactid": i, "jobtitle": "X"} for i in ids]
    wapi("POST", "/contacts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets})
    assert dv_empty.api_calls() == {"create": 1, "update": 1}
