"""Microsoft's own Dataverse client (powerplatform-dataverse-client), unchanged, against the sandbox."""

import email
import email.policy

import pytest
from PowerPlatform.Dataverse import col
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.config import DataverseConfig

from crmframes import Sandbox
from tests.clients import MsalCredential, dynamics_session


@pytest.fixture(scope="module")
def big():
    """6,000 contacts: enough to page past Dataverse's 5,000-row page."""
    with Sandbox("dynamics", data="demo", scale=1.2) as sb:
        yield sb


def client_for(sandbox, monkeypatch):
    # The Microsoft client makes its own requests sessions: trust the sandbox CA through the
    # environment variable requests reads (never verify=False).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_file)
    # http_retries=1 means one attempt; 0 makes version 1.1.0 return None instead of a response.
    return DataverseClient(sandbox.url, MsalCredential(sandbox), DataverseConfig(http_retries=1))


def test_list_pages_past_5000(big, monkeypatch):
    with client_for(big, monkeypatch) as client:
        result = client.records.list("contact", select=["fullname", "emailaddress1"])
        ids = [r["contactid"] for r in result]
        assert len(ids) == len(set(ids)) == 6000
        pages = list(client.records.list_pages("contact", select=["contactid"], page_size=2500))
        assert [len(p) for p in pages] == [2500, 2500, 1000]


def test_create_retrieve_update_delete(dv, monkeypatch):
    with client_for(dv, monkeypatch) as client:
        new_id = client.records.create("contact", {"firstname": "Grace", "lastname": "Hopper"})
        record = client.records.retrieve("contact", new_id, select=["fullname", "telephone1"])
        assert record["fullname"] == "Grace Hopper"
        client.records.update("contact", new_id, {"telephone1": "555-0199"})
        assert (
            client.records.retrieve("contact", new_id, select=["telephone1"])["telephone1"]
            == "555-0199"
        )
        client.records.delete("contact", new_id)
        assert client.records.retrieve("contact", new_id) is None


def test_query_builder_to_dataframe(dv_demo, monkeypatch):
    with client_for(dv_demo, monkeypatch) as client:
        frame = (
            client.query.builder("account")
            .select("name", "numberofemployees")
            .where(col("numberofemployees") > 5000)
            .order_by("numberofemployees", descending=True)
            .top(25)
            .execute()
            .to_dataframe()
        )
    assert len(frame) == 25
    assert list(frame["numberofemployees"]) == sorted(frame["numberofemployees"], reverse=True)
    assert (frame["numberofemployees"] > 5000).all()


def test_filter_in(dv_demo, monkeypatch):
    with client_for(dv_demo, monkeypatch) as client:
        some = client.records.list("account", select=["accountnumber"], top=5)
        numbers = [r["accountnumber"] for r in some]
        found = client.records.list(
            "account", filter=col("accountnumber").in_(numbers), select=["accountnumber"]
        )
    assert sorted(r["accountnumber"] for r in found) == sorted(numbers)


def test_client_batch_with_a_changeset(dv, monkeypatch):
    with client_for(dv, monkeypatch) as client:
        batch = client.batch.new()
        with batch.changeset() as cs:
            ref = cs.records.create("account", {"name": "Batch Co"})
            cs.records.create(
                "contact", {"lastname": "Inside", "parentcustomerid_account@odata.bind": ref}
            )
        batch.records.create("contact", {"firstname": "no last name"})
        result = batch.execute(continue_on_error=True)
    assert [r.status_code for r in result.responses] == [204, 204, 400]
    assert len(result.entity_ids) == 2
    assert result.responses[2].error_code == "0x80040203"


def test_raw_batch_changeset_is_atomic_and_parses_with_the_stdlib(dv):
    session = dynamics_session(dv)
    body = (
        "--batch_B1\r\nContent-Type: multipart/mixed; boundary=changeset_C1\r\n\r\n"
        "--changeset_C1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        "POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
        '{"name":"Atomic"}\r\n'
        "--changeset_C1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
        "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
        '{"firstname":"missing lastname","parentcustomerid_account@odata.bind":"$1"}\r\n'
        "--changeset_C1--\r\n\r\n"
        "--batch_B1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "GET /api/data/v9.2/accounts?$select=name&$filter=name eq 'Atomic' HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
        "--batch_B1--\r\n"
    )
    reply = session.post(
        f"{dv.url}/api/data/v9.2/$batch",
        data=body.encode(),
        timeout=60,
        headers={
            "Content-Type": "multipart/mixed; boundary=batch_B1",
            "Prefer": "odata.continue-on-error",
        },
    )
    assert reply.status_code == 200
    message = email.message_from_bytes(
        b"Content-Type: " + reply.headers["Content-Type"].encode() + b"\r\n\r\n" + reply.content,
        policy=email.policy.HTTP,
    )
    parts = list(message.iter_parts())
    changeset = list(parts[0].iter_parts())
    assert len(changeset) == 1  # a failed changeset answers with its failing request only
    inner = changeset[0].get_payload(decode=True).decode()
    assert inner.startswith("HTTP/1.1 400") and "0x80040203" in inner
    assert changeset[0]["Content-ID"] == "2"
    lookup = parts[1].get_payload(decode=True).decode()
    assert (
        lookup.startswith("HTTP/1.1 200") and '"value":[]' in lookup
    )  # the account was rolled back
