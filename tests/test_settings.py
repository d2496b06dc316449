import pytest

from crmframes import (
    ClientCredentials,
    ConfigError,
    DeviceCode,
    DynamicsSettings,
    Password,
    SalesforceSettings,
    Secret,
)
from crmframes.settings import AccessToken, JwtBearer, build_auth


def test_secret_is_masked_everywhere():
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"


def test_auth_objects_never_show_their_secrets():
    auth = Password(
        username="u",
        password=Secret("pw-123"),
        client_id="cid",
        client_secret=Secret("cs-456"),
        security_token=Secret("tok-789"),
    )
    text = repr(auth) + repr(SalesforceSettings(url="https://x.my.salesforce.com", auth=auth))
    for secret in ("pw-123", "cs-456", "tok-789"):
        assert secret not in text


def test_secret_equality_compares_values():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")


@pytest.mark.parametrize(
    "auth",
    [
        ClientCredentials(client_id="cid", client_secret=Secret("s")),
        Password(
            username="u",
            password=Secret("p"),
            client_id="cid",
            client_secret=Secret("s"),
            security_token=Secret("t"),
        ),
        JwtBearer(client_id="cid", username="u", private_key=Secret("-----BEGIN PRIVATE KEY-----")),
        # a sandbox org's JWT audience: to_env used to drop it, and from_env fell back to
        # login.salesforce.com
        JwtBearer(
            client_id="cid",
            username="u",
            private_key=Secret("-----BEGIN PRIVATE KEY-----"),
            audience="https://test.salesforce.com",
        ),
        AccessToken(token=Secret("00D!x")),
    ],
)
def test_settings_round_trip_through_the_environment(auth):
    settings = SalesforceSettings(url="https://127.0.0.1:8443/", auth=auth, ca_file="/tmp/ca.pem")
    again = SalesforceSettings.from_env(settings.to_env())
    assert again == settings
    assert again.url == "https://127.0.0.1:8443"


def test_from_env_names_the_missing_variable():
    with pytest.raises(ConfigError, match="CRMFRAMES_SALESFORCE_CLIENT_SECRET"):
        SalesforceSettings.from_env(
            {"CRMFRAMES_SALESFORCE_URL": "https://x", "CRMFRAMES_SALESFORCE_CLIENT_ID": "c"}
        )


def test_from_env_refuses_an_unknown_flow():
    with pytest.raises(ConfigError, match="not a known flow"):
        SalesforceSettings.from_env({"CRMFRAMES_SALESFORCE_AUTH": "magic"})


def test_settings_refuse_plain_http():
    with pytest.raises(ConfigError, match="https"):
        SalesforceSettings(url="http://example.com", auth=AccessToken(token=Secret("t")))


@pytest.mark.parametrize(
    "auth",
    [
        ClientCredentials(client_id="cid", client_secret=Secret("s")),
        Password(username="u", password=Secret("p"), client_id="cid"),
        DeviceCode(client_id="cid"),
        AccessToken(token=Secret("eyJ")),
    ],
)
def test_dynamics_settings_round_trip(auth):
    settings = DynamicsSettings(url="https://acme.crm4.dynamics.com/", tenant_id="t-1", auth=auth)
    again = DynamicsSettings.from_env(settings.to_env())
    assert again == settings
    assert again.token_authority == "https://login.microsoftonline.com/t-1"


def test_dynamics_settings_refuse_a_salesforce_flow():
    with pytest.raises(ConfigError, match="Salesforce flow"):
        DynamicsSettings(
            url="https://x.crm.dynamics.com",
            tenant_id="t",
            auth=JwtBearer(client_id="c", username="u", private_key=Secret("k")),
        )


def test_a_bad_timeout_is_a_config_error():
    with pytest.raises(ConfigError, match="TIMEOUT"):
        SalesforceSettings.from_env(
            {
                "CRMFRAMES_SALESFORCE_URL": "https://x",
                "CRMFRAMES_SALESFORCE_AUTH": "access_token",
                "CRMFRAMES_SALESFORCE_ACCESS_TOKEN": "t",
                "CRMFRAMES_SALESFORCE_TIMEOUT": "soon",
            }
        )


def test_from_env_reports_every_missing_variable_at_once():
    with pytest.raises(ConfigError) as caught:
        SalesforceSettings.from_env({"CRMFRAMES_SALESFORCE_AUTH": "password"})
    message = str(caught.value)
    for name in ("URL", "USERNAME", "PASSWORD", "CLIENT_ID"):
        assert f"CRMFRAMES_SALESFORCE_{name}" in message
    assert message.startswith("4 environment variables missing")


def test_dynamics_from_env_reports_every_missing_variable_at_once():
    with pytest.raises(ConfigError) as caught:
        DynamicsSettings.from_env({"CRMFRAMES_DYNAMICS_URL": "https://x.crm.dynamics.com"})
    message = str(caught.value)
    assert message.startswith("3 environment variables missing for CRMFRAMES_DYNAMICS_AUTH=")
    missing = message.split(": ", 1)[1].split(" (", 1)[0]
    assert missing.split(", ") == [
        "CRMFRAMES_DYNAMICS_TENANT_ID",
        "CRMFRAMES_DYNAMICS_CLIENT_ID",
        "CRMFRAMES_DYNAMICS_CLIENT_SECRET",
    ]


@pytest.mark.parametrize(
    ("flow", "values", "expected"),
    [
        ("access_token", {"token": "00D!x"}, AccessToken(token=Secret("00D!x"))),
        (
            "client_credentials",
            {"client_id": "cid", "client_secret": Secret("s"), "username": None},
            ClientCredentials(client_id="cid", client_secret=Secret("s")),
        ),
    ],
)
def test_build_auth_builds_the_flows_object(flow, values, expected):
    assert build_auth(flow, values) == expected


def test_build_auth_names_what_a_flow_misses_and_unknown_flows():
    with pytest.raises(ConfigError, match="flow 'password' needs username"):
        build_auth("password", {"password": "p", "client_id": "c"})
    with pytest.raises(
        ConfigError, match="'saml' is not a known flow; use one of client_credentials"
    ):
        build_auth("saml", {})
