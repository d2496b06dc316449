"""The sandbox's Microsoft identity platform, driven by msal unchanged."""

import msal
import pytest

from crmframes import Sandbox
from tests.clients import dynamics_app, dynamics_token, trusted_session


def token_form(sandbox, **form):
    creds = sandbox.credentials
    url = f"{sandbox.url}/{creds['tenant_id']}/oauth2/v2.0/token"
    return trusted_session(sandbox).post(url, data=form, timeout=30)


def test_msal_client_credentials_then_cache(dv_demo):
    app = dynamics_app(dv_demo)
    first = app.acquire_token_for_client(scopes=[f"{dv_demo.url}/.default"])
    assert first["token_type"] == "Bearer" and first["access_token"]
    assert first["token_source"] == "identity_provider"
    second = app.acquire_token_for_client(scopes=[f"{dv_demo.url}/.default"])
    assert second["token_source"] == "cache"


def test_discovery_document_has_what_msal_needs(dv_demo):
    tenant = dv_demo.credentials["tenant_id"]
    doc = (
        trusted_session(dv_demo)
        .get(f"{dv_demo.url}/{tenant}/v2.0/.well-known/openid-configuration", timeout=30)
        .json()
    )
    assert doc["token_endpoint"] == f"{dv_demo.url}/{tenant}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{dv_demo.url}/{tenant}/v2.0"
    assert doc["device_authorization_endpoint"].endswith("/oauth2/v2.0/devicecode")


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"client_secret": "wrong"}, "invalid_client", 7000215),
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, "unauthorized_client", 700016),
        ({"scope": "https://other.crm.dynamics.com/.default"}, "invalid_resource", 500011),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type", 70003),
    ],
)
def test_token_errors_have_the_entra_shape(dv_demo, change, error, code):
    creds = dv_demo.credentials
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "scope": f"{dv_demo.url}/.default",
        **change,
    }
    reply = token_form(dv_demo, **form)
    assert reply.status_code in (400, 401)
    body = reply.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert {"trace_id", "correlation_id", "timestamp"} <= set(body)


def test_msal_returns_the_error_dict_for_a_bad_secret(dv_demo):
    creds = dv_demo.credentials
    app = msal.ConfidentialClientApplication(
        creds["client_id"],
        client_credential="not-the-secret",
        authority=f"{dv_demo.url}/{creds['tenant_id']}",
        instance_discovery=False,
        http_client=trusted_session(dv_demo),
    )
    result = app.acquire_token_for_client(scopes=[f"{dv_demo.url}/.default"])
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]


def test_password_and_refresh_token_grants(dv_demo):
    creds = dv_demo.credentials
    scope = f"{dv_demo.url}/user_impersonation offline_access openid profile"
    password = token_form(
        dv_demo,
        grant_type="password",
        client_id=creds["client_id"],
        username=creds["username"],
        password=creds["password"],
        scope=scope,
    )
    assert password.status_code == 200
    body = password.json()
    assert {"access_token", "refresh_token", "id_token", "client_info"} <= set(body)
    refreshed = token_form(
        dv_demo,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        refresh_token=body["refresh_token"],
        scope=scope,
    )
    assert refresh_ok(refreshed)
    wrong = token_form(
        dv_demo,
        grant_type="password",
        client_id=creds["client_id"],
        username=creds["username"],
        password="nope",
        scope=scope,
    )
    assert wrong.json()["error"] == "invalid_grant"


def refresh_ok(reply):
    return reply.status_code == 200 and reply.json()["access_token"]


def test_msal_device_code_flow(dv_demo):
    creds = dv_demo.credentials
    app = msal.PublicClientApplication(
        creds["client_id"],
        authority=f"{dv_demo.url}/{creds['tenant_id']}",
        instance_discovery=False,
        http_client=trusted_session(dv_demo),
    )
    flow = app.initiate_device_flow(scopes=[f"{dv_demo.url}/user_impersonation"])
    assert "user_code" in flow and flow["verification_uri"].startswith(dv_demo.url)
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("access_token"), result
    assert [a["username"] for a in app.get_accounts()] == [creds["username"]]


def test_web_api_refuses_missing_and_expired_tokens():
    with Sandbox("dynamics", data="empty", session_seconds=600) as sb:
        session = trusted_session(sb)
        anonymous = session.get(f"{sb.url}/api/data/v9.2/contacts", timeout=30)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
        token = dynamics_token(sb)
        ok = session.get(
            f"{sb.url}/api/data/v9.2/contacts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert ok.status_code == 200
        sb.clock.advance(minutes=11)
        expired = session.get(
            f"{sb.url}/api/data/v9.2/contacts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert expired.status_code == 401


def test_expire_sessions_invalidates_every_token(dv):
    token = dynamics_token(dv)
    dv.expire_sessions()
    reply = trusted_session(dv).get(
        f"{dv.url}/api/data/v9.2/accounts", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert reply.status_code == 401
