"""Authentication against the sandbox: plain requests, and simple-salesforce's own login paths."""

import base64
import time

import jwt
import pytest
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from tests.clients import salesforce_client, trusted_session


class RedirectingSession(requests.Session):
    """simple-salesforce hard-codes https://{domain}.salesforce.com for logins: send those to the sandbox."""

    def __init__(self, sandbox):
        super().__init__()
        self.verify, self.trust_env = sandbox.ca_file, False
        self.target = sandbox.url
        self.logins = 0

    def request(self, method, url, *args, **kwargs):
        for host in (
            "https://login.salesforce.com",
            "https://test.salesforce.com",
            "https://sandbox-org.my.salesforce.com",
        ):
            if url.startswith(host):
                url = self.target + url[len(host) :]
                self.logins += 1
        return super().request(method, url, *args, **kwargs)


def token(sandbox, **form):
    return trusted_session(sandbox).post(
        f"{sandbox.url}/services/oauth2/token", data=form, timeout=30
    )


def test_client_credentials_from_plain_requests(demo_sandbox):
    creds = demo_sandbox.credentials
    reply = token(
        demo_sandbox,
        grant_type="client_credentials",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
    )
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == demo_sandbox.url
    assert body["token_type"] == "Bearer" and isinstance(body["issued_at"], str)
    assert "refresh_token" not in body
    assert (
        demo_sandbox.api_call_count() == demo_sandbox.api_call_count()
    )  # token calls are not API calls


def test_client_credentials_with_http_basic(demo_sandbox):
    creds = demo_sandbox.credentials
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    reply = trusted_session(demo_sandbox).post(
        f"{demo_sandbox.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    assert reply.status_code == 200


def test_password_and_refresh_token_flows(demo_sandbox):
    creds = demo_sandbox.credentials
    password = token(
        demo_sandbox,
        grant_type="password",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        username=creds["username"],
        password=creds["password"] + creds["security_token"],
    )
    assert password.status_code == 200
    refreshed = token(
        demo_sandbox,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        refresh_token=creds["refresh_token"],
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
            "invalid_client_id",
        ),
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "password", "username": "someone@else", "password": "x"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "stale"}, "invalid_grant"),
    ],
)
def test_token_errors_have_the_oauth_shape(demo_sandbox, form, error):
    creds = demo_sandbox.credentials
    form = {"client_id": creds["client_id"], "client_secret": creds["client_secret"], **form}
    reply = token(demo_sandbox, **form)
    assert reply.status_code == 400
    assert reply.json()["error"] == error and reply.json()["error_description"]


def test_simple_salesforce_oauth_password_login(demo_sandbox):
    creds = demo_sandbox.credentials
    session = RedirectingSession(demo_sandbox)
    sf = Salesforce(
        username=creds["username"],
        password=creds["password"],
        consumer_key=creds["client_id"],
        consumer_secret=creds["client_secret"],
        session=session,
    )
    assert sf.sf_instance == demo_sandbox.url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0


def test_simple_salesforce_soap_login(demo_sandbox):
    creds = demo_sandbox.credentials
    session_id, instance = SalesforceLogin(
        username=creds["username"],
        password=creds["password"],
        security_token=creds["security_token"],
        session=trusted_session(demo_sandbox),
        scratch_url=demo_sandbox.url,
    )
    assert instance == demo_sandbox.url.removeprefix("https://")
    sf = Salesforce(instance=instance, session_id=session_id, session=trusted_session(demo_sandbox))
    assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1


def test_simple_salesforce_soap_login_failure(demo_sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        SalesforceLogin(
            username="who@example.com",
            password="x",
            security_token="y",
            session=trusted_session(demo_sandbox),
            scratch_url=demo_sandbox.url,
        )
    assert info.value.code == "INVALID_LOGIN"


def test_simple_salesforce_client_credentials_login(demo_sandbox):
    creds = demo_sandbox.credentials
    sf = Salesforce(
        consumer_key=creds["client_id"],
        consumer_secret=creds["client_secret"],
        domain="sandbox-org.my",
        session=RedirectingSession(demo_sandbox),
    )
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] > 0


def test_simple_salesforce_jwt_bearer_login(demo_sandbox):
    creds = demo_sandbox.credentials
    sf = Salesforce(
        username=creds["username"],
        consumer_key=creds["client_id"],
        privatekey=creds["private_key"],
        session=RedirectingSession(demo_sandbox),
    )
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_a_jwt_signed_with_another_key_is_refused(demo_sandbox):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    creds = demo_sandbox.credentials
    assertion = jwt.encode(
        {
            "iss": creds["client_id"],
            "sub": creds["username"],
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 60,
        },
        other,
        "RS256",
    )
    reply = token(
        demo_sandbox, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"


def test_an_idle_session_expires_on_the_sandbox_clock(sandbox):
    sf = salesforce_client(sandbox)
    sf.query("SELECT Id FROM User LIMIT 1")
    sandbox.clock.advance(hours=2, minutes=1)
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert info.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_simple_salesforce_logs_in_again_when_its_session_expires(sandbox):
    creds = sandbox.credentials
    session = RedirectingSession(sandbox)
    sf = Salesforce(
        username=creds["username"],
        password=creds["password"],
        consumer_key=creds["client_id"],
        consumer_secret=creds["client_secret"],
        session=session,
    )
    sandbox.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    assert session.logins == 2


def test_requests_without_a_token_are_refused(demo_sandbox):
    reply = trusted_session(demo_sandbox).get(
        f"{demo_sandbox.url}/services/data/v59.0/sobjects/", timeout=30
    )
    assert reply.status_code == 401
    assert reply.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_versions_list_needs_no_token(demo_sandbox):
    versions = (
        trusted_session(demo_sandbox).get(f"{demo_sandbox.url}/services/data/", timeout=30).json()
    )
    assert {"label", "url", "version"} <= set(versions[0])
    assert "59.0" in {v["version"] for v in versions}
