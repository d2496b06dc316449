"""The Sandbox object and `crmframes sandbox serve`."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest
import requests

from crmframes import SalesforceSettings, Sandbox, SandboxError


def test_start_stop_and_files():
    sb = Sandbox("salesforce", data="empty").start()
    try:
        ca = pathlib.Path(sb.ca_file)
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert sb.url.startswith("https://127.0.0.1:")
    finally:
        sb.stop()
    assert not ca.exists()
    with pytest.raises(SandboxError, match="not running"):
        _ = sb.url


def test_repr_shows_no_secret(demo_sandbox):
    text = repr(demo_sandbox)
    for secret in demo_sandbox.credentials.values():
        assert secret not in text


def test_the_certificate_is_verified_against_the_sandbox_ca_only(demo_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = True  # the system store does not know the throw-away CA
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{demo_sandbox.url}/services/data/", timeout=10)


def test_credentials_and_env_round_trip(demo_sandbox):
    creds = demo_sandbox.credentials
    assert {"client_id", "client_secret", "username", "password"} <= set(creds)
    settings = SalesforceSettings.from_env(demo_sandbox.env())
    assert settings.url == demo_sandbox.url and settings.ca_file == demo_sandbox.ca_file


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"crm": "hubspot"}, ValueError),
        ({"scale": 0}, ValueError),
        ({"data": "full"}, ValueError),
        ({"max_connections": 0}, ValueError),
        ({"max_connections": True}, ValueError),
        ({"request_timeout": 0}, ValueError),
        ({"request_timeout": "60"}, ValueError),
    ],
)
def test_bad_arguments_fail_fast(kwargs, error):
    with pytest.raises(error):
        Sandbox(**kwargs)


def test_two_sandboxes_run_side_by_side():
    with Sandbox("salesforce", data="empty") as a, Sandbox("salesforce", data="empty") as b:
        assert a.url != b.url
        assert a.credentials["client_secret"] != b.credentials["client_secret"]


SALESFORCE_CHILD = """
import requests
from crmframes import SalesforceSettings
s = SalesforceSettings.from_env()
session = requests.Session(); session.trust_env = False; session.verify = s.ca_file
r = session.post(s.url + '/services/oauth2/token', timeout=30, data={'grant_type': 'client_credentials',
                 'client_id': s.auth.client_id, 'client_secret': s.auth.client_secret.reveal()})
print(r.status_code, repr(s))
"""

DYNAMICS_CHILD = """
import msal, requests
from crmframes import DynamicsSettings
s = DynamicsSettings.from_env()
session = requests.Session(); session.trust_env = False; session.verify = s.ca_file
app = msal.ConfidentialClientApplication(s.auth.client_id, client_credential=s.auth.client_secret.reveal(),
                                         authority=s.token_authority, instance_discovery=False, http_client=session)
token = app.acquire_token_for_client(scopes=[s.url + '/.default'])['access_token']
r = session.get(s.url + '/api/data/v9.2/WhoAmI', headers={'Authorization': 'Bearer ' + token}, timeout=30)
print(r.status_code, repr(s))
"""


@pytest.mark.parametrize(
    ("crm", "child_code"), [("salesforce", SALESFORCE_CHILD), ("dynamics", DYNAMICS_CHILD)]
)
def test_serve_json_line_lets_another_process_connect(crm, child_code):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMFRAMES_")}
    command = [
        sys.executable,
        "-m",
        "crmframes.cli",
        "sandbox",
        "serve",
        "--crm",
        crm,
        "--empty",
        "--json",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            line = json.loads(proc.stdout.readline())
            assert set(line) >= {"url", "ca_file", "credentials", "env"}
            child = subprocess.run(
                [sys.executable, "-c", child_code],
                env={**env, **line["env"]},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert child.returncode == 0, child.stderr
            assert child.stdout.startswith("200 ")
            assert line["credentials"]["client_secret"] not in child.stdout
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0


def test_cli_help_exists_for_every_command():
    from click.testing import CliRunner

    from crmframes.cli import main

    runner = CliRunner()
    for args in (
        ["--help"],
        ["demo", "--help"],
        ["sandbox", "--help"],
        ["sandbox", "serve", "--help"],
        ["--version"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, args
        assert result.output.strip()
