"""The OAuth userinfo endpoint of the sandbox, read with simple-salesforce's own ``oauth2`` call."""

from tests.clients import salesforce_client, trusted_session


def test_userinfo_names_the_integration_user(demo_sandbox):
    sf = salesforce_client(demo_sandbox)
    info = sf.oauth2("userinfo")
    user = sf.User.get(info["user_id"])
    assert user["Username"] == info["preferred_username"] == demo_sandbox.credentials["username"]
    assert info["sub"].endswith(f"/id/{info['organization_id']}/{info['user_id']}")
    assert info["organization_id"].startswith("00D") and info["active"] is True


def test_userinfo_refuses_a_bad_token(demo_sandbox):
    reply = trusted_session(demo_sandbox).get(
        f"{demo_sandbox.url}/services/oauth2/userinfo",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=30,
    )
    assert (reply.status_code, reply.text) == (403, "Bad_OAuth_Token")


def test_userinfo_is_not_an_api_call(demo_sandbox):
    sf = salesforce_client(demo_sandbox)
    before = demo_sandbox.api_call_count()
    sf.oauth2("userinfo")
    assert demo_sandbox.api_call_count() == before
