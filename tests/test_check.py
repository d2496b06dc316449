"""`crmframes check`: log in, read the limits and one record, one line per check."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from crmframes import RetryPolicy, Sandbox
from crmframes.accounts import connect
from crmframes.check import Check, _limits, check_connection
from crmframes.cli import main
from crmframes.connectors.base import ApiLimits
from crmframes.errors import ConfigError, PermissionDeniedError


def write_accounts(tmp_path: Path, accounts: dict[str, Any]) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(accounts, sort_keys=False))
    return path


def secret_file(tmp_path: Path, secret: str) -> dict[str, str]:
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    return {"file": str(path)}


def salesforce_account(sb: Sandbox, secret: dict[str, str]) -> dict[str, Any]:
    creds = sb.credentials
    return {
        "crm": "salesforce",
        "url": sb.url,
        "ca_file": sb.ca_file,
        "auth": {"client_id": creds["client_id"], "client_secret": secret},
    }


def dynamics_account(sb: Sandbox, secret: dict[str, str]) -> dict[str, Any]:
    creds = sb.credentials
    return {
        "crm": "dynamics",
        "url": sb.url,
        "tenant_id": creds["tenant_id"],
        "authority": f"{sb.url}/{creds['tenant_id']}",
        "ca_file": sb.ca_file,
        "auth": {"client_id": creds["client_id"], "client_secret": secret},
    }


@pytest.mark.parametrize(
    ("crm", "limits"),
    [
        ("salesforce", "daily API requests left"),
        ("dynamics", "Dataverse lists no limits"),
    ],
)
def test_check_a_sandbox_passes_every_check(crm, limits):
    result = CliRunner().invoke(main, ["check", "--sandbox", crm])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [
        ["✓", "login"],
        ["✓", "limits"],
        ["✓", "read"],
    ]
    assert limits in lines[1]
    assert "read 1 record of" in lines[2]
    assert lines[3] == "all checks passed"


def test_check_salesforce_account_from_the_accounts_file(tmp_path, demo_sandbox):
    accounts = write_accounts(
        tmp_path,
        {
            "prod": salesforce_account(
                demo_sandbox, secret_file(tmp_path, demo_sandbox.credentials["client_secret"])
            )
        },
    )
    result = CliRunner().invoke(main, ["check", "prod", "--accounts", str(accounts)])
    assert result.exit_code == 0, result.output
    assert "account 'prod': logged in to" in result.stdout
    assert "daily API requests left" in result.stdout


def test_check_wrong_secret_fails_login_and_says_what_to_check(tmp_path, dv_demo):
    accounts = write_accounts(
        tmp_path, {"prod": dynamics_account(dv_demo, secret_file(tmp_path, "wrong"))}
    )
    result = CliRunner().invoke(main, ["check", "prod", "--accounts", str(accounts)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✗ login    account 'prod': ")
    assert "Check the credentials" in lines[0]
    assert lines[1:] == ["some checks failed"]


def test_check_unknown_account_lists_the_names(tmp_path):
    accounts = write_accounts(tmp_path, {"prd": {"sandbox": {}}})
    result = CliRunner().invoke(main, ["check", "prod", "--accounts", str(accounts)])
    assert result.exit_code == 1
    assert result.stdout.startswith("✗ account  unknown account 'prod' (did you mean 'prd'?)")


def test_check_needs_an_account_or_a_sandbox():
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert "name an ACCOUNT from the accounts file, or pass --sandbox" in result.stderr


def test_check_a_refused_limits_call_fails_that_check_only(sandbox):
    sandbox.faults.add("rate_limited", "/limits", times=1)
    conn = sandbox.connector(retry=RetryPolicy(attempts=1))  # no wait: the refusal stands
    checks = list(check_connection(lambda: contextlib.closing(conn), label="the org"))
    assert [(c.name, c.ok) for c in checks] == [("login", True), ("limits", False), ("read", True)]
    assert "The API limit is reached" in checks[1].detail
    assert str(checks[1]).startswith("✗ limits   ")


def test_check_fails_the_limits_when_none_are_left_and_says_when_they_come_back(demo_sandbox):
    conn = demo_sandbox.connector()
    real = conn.read_limits()
    assert real.window == "the rolling 24-hour window" and not real.exhausted
    conn.read_limits = lambda: ApiLimits(  # this connector's answer only: no global patched
        0, 15_000, "0 of 15,000 daily API requests left", window=real.window
    )
    checks = list(check_connection(lambda: contextlib.closing(conn), label="the org"))
    assert checks[1] == Check(
        "limits",
        False,
        "0 of 15,000 daily API requests left: calls fail until the rolling 24-hour window "
        "frees some; ask the org's admin or wait",
    )
    assert checks[2].ok  # the read is still tried: only a failed login stops the others


def test_connect_takes_an_account_name_from_the_accounts_file(tmp_path, demo_sandbox):
    secret = secret_file(tmp_path, demo_sandbox.credentials["client_secret"])
    accounts = write_accounts(tmp_path, {"prod": salesforce_account(demo_sandbox, secret)})
    with connect("prod", accounts=accounts) as conn:
        assert conn.instance == demo_sandbox.url
        assert conn.describe("Contact").name == "Contact"
    with (
        pytest.raises(ConfigError, match="unknown account 'prd'"),
        connect("prd", accounts=accounts),
    ):
        pass


def test_connect_is_public_and_checks_its_account_first():
    import crmframes
    from crmframes import ArgumentTypeError

    assert crmframes.connect is connect
    with pytest.raises(ArgumentTypeError, match="account"), crmframes.connect(5):  # type: ignore[arg-type]
        pass


def refuse_limits(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A user without the permission the org's limits need: ``/limits`` answers 403."""
    if response.request.path_url.rstrip("/").endswith("/limits"):
        response.close()  # the org's own answer dropped, its connection released
        response.status_code = 403
        response._content = (
            b'[{"message": "Insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}]'
        )
    return response


def test_check_names_the_permission_salesforce_needs_for_the_limits(demo_sandbox):
    session = requests.Session()
    session.trust_env, session.verify = False, demo_sandbox.ca_file
    session.hooks["response"].append(refuse_limits)  # this session only: no global patched
    conn = demo_sandbox.connector(session=session)
    with pytest.raises(PermissionDeniedError, match="needs the View Setup and Configuration"):
        conn.read_limits()
    checks = list(check_connection(lambda: contextlib.closing(conn), label="the org"))
    assert [(c.name, c.ok) for c in checks] == [("login", True), ("limits", False), ("read", True)]
    assert checks[1].detail == (
        "salesforce read limits (HTTP 403, INSUFFICIENT_ACCESS): Insufficient access (the limits "
        "resource needs the View Setup and Configuration permission). Reading the limits needs "
        "a permission imports and exports do not: grant it to this user to check the limits"
    )


def test_check_of_a_crm_whose_limits_are_refused_names_no_other_crm():
    class Refusing:  # a connector of some CRM: only what check_connection calls
        system, api_calls = "memory", 0

        def read_limits(self) -> ApiLimits:
            raise PermissionDeniedError("no", system="memory", operation="read limits")

    check = _limits(Refusing())  # type: ignore[arg-type]
    assert not check.ok and "Salesforce" not in check.detail
    assert check.detail.startswith("memory read limits: no. Reading the limits needs a permission")
