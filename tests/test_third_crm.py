"""A third CRM, registered from outside the package, runs through the public functions.

``tests/memory_crm`` is a CRM written the way a new one would be: a client package
(settings, accounts-file entry, a connector over HTTPS) and a sandbox package (an
in-memory table behind a JSON API), registered with ``crmframes.registry.register``.
Nothing in ``crmframes/`` names it: the registry is the whole seam.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator
from contextlib import closing

import pandas as pd
import pytest

import crmframes
from crmframes import F, Sandbox, delete_in_crm, export_to_crm, import_from_crm, registry
from crmframes.accounts import connect
from crmframes.check import check_connection
from crmframes.errors import ConfigError
from crmframes.specs import parse_accounts
from tests.memory_crm import registered
from tests.memory_crm.client import MemoryConnector, MemorySettings

MEMBERS = pd.DataFrame(
    {
        "Email": ["ada@example.org", "bob@example.org", "cy@example.org"],
        "Name": ["Ada", "Bob", "Cy"],
        "Points": [5, 12, 30],
    }
)


@pytest.fixture
def memory() -> Iterator[Sandbox]:
    with registered(), Sandbox("memory", data="empty") as sb:
        yield sb


def test_a_registered_crm_is_known_by_name_and_forgotten_after():
    with registered() as kind:
        assert registry.crm_names() == ("salesforce", "dynamics", "memory")
        assert registry.crm_kind("memory") is kind
    assert "memory" not in registry.crm_names()
    with pytest.raises(ConfigError, match="unknown CRM 'memory'; crmframes knows 'salesforce'"):
        registry.crm_kind("memory")


def test_a_third_crm_imports_exports_and_deletes(memory: Sandbox, tmp_path: pathlib.Path):
    conn = memory.connector()
    assert isinstance(conn, MemoryConnector)

    exported = export_to_crm(
        conn, "Member", MEMBERS, key="Email", journal=tmp_path / "export.jsonl", progress=False
    )
    assert (exported.stats.rows, exported.stats.created, exported.stats.rejected) == (3, 3, 0)

    imported = import_from_crm(
        conn,
        "Member",
        fields=["Email", "Points"],
        where=F("Points") > 10,
        order_by=[("Points", "desc")],
        progress=False,
    )
    assert imported.frame[["Email", "Points"]].to_dict("list") == {
        "Email": ["cy@example.org", "bob@example.org"],
        "Points": [30, 12],
    }

    deleted = delete_in_crm(
        conn, "Member", imported.frame.head(1), journal=tmp_path / "delete.jsonl", progress=False
    )
    assert (deleted.stats.deleted, deleted.stats.rejected) == (1, 0)
    assert sorted(memory.records("Member")["Email"]) == ["ada@example.org", "bob@example.org"]


def test_a_third_crm_rejects_what_its_org_refuses(memory: Sandbox, tmp_path: pathlib.Path):
    rows = pd.DataFrame({"Email": ["nameless@example.org"], "Points": [1]})
    result = export_to_crm(
        memory.connector(), "Member", rows, journal=tmp_path / "j.jsonl", progress=False
    )
    assert result.rejects[["Email", "errorSymbol", "errorFields"]].to_dict("records") == [
        {
            "Email": "nameless@example.org",
            "errorSymbol": "REQUIRED_FIELD_MISSING",
            "errorFields": "Name",
        }
    ]


def test_a_third_crm_connects_from_the_accounts_file(memory: Sandbox, monkeypatch):
    monkeypatch.setenv("MEMORY_SECRET", memory.credentials["client_secret"])
    accounts = parse_accounts(
        "members:\n"
        "  crm: memory\n"
        f"  url: {memory.url}\n"
        f"  ca_file: {memory.ca_file}\n"
        "  auth: {flow: client_credentials, client_id: memory-app,"
        " client_secret: {env: MEMORY_SECRET}}\n"
        "offline:\n"
        "  sandbox: {crm: memory, data: empty}\n"
    )
    with crmframes.connect(accounts.find("members")) as conn:
        assert conn.describe("Member").id_field == "Id"
        assert isinstance(conn.settings, MemorySettings)
    with connect(accounts.find("offline")) as conn:
        result = export_to_crm(conn, "Member", MEMBERS, journal=False, progress=False)
        assert result.stats.created == 3


def test_a_third_crm_takes_only_its_own_flows():
    with registered(), pytest.raises(ConfigError, match="memory has no password flow"):
        parse_accounts(
            "m:\n  crm: memory\n  url: https://members.example.org\n"
            "  auth: {flow: password, client_id: c, username: u, password: {env: P}}\n"
        )


def test_a_third_crm_settings_round_trip_through_the_environment(memory: Sandbox):
    settings = memory.settings()
    assert MemorySettings.from_env(memory.env()) == settings


CRM_PACKAGES = (
    "connectors.salesforce",
    "connectors.dynamics",
    "sandbox.salesforce",
    "sandbox.dynamics",
)
# the public names crmframes re-exports, and one sandbox module (profile.py: each CRM's
# production figures and error shape) that the sandbox's own issue will move into its package
ALLOWED = {"crmframes", "crmframes.connectors", "crmframes.sandbox.profile"}


def test_only_the_crm_packages_name_a_crm_package():
    package = pathlib.Path(crmframes.__file__).parent
    wrong = []
    for path in sorted(package.rglob("*.py")):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        inside = [p for p in CRM_PACKAGES if name.startswith(f"crmframes.{p}")]
        if inside or name in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            wrong += [
                f"{name} imports {t}"
                for t in targets
                if any(t.startswith(f"crmframes.{p}") for p in CRM_PACKAGES)
            ]
    assert not wrong, "find a CRM through crmframes.registry instead:\n" + "\n".join(wrong)


def test_crmframes_check_checks_a_third_crm(memory: Sandbox):
    export_to_crm(memory.connector(), "Member", MEMBERS, journal=False, progress=False)
    checks = list(check_connection(lambda: closing(memory.connector()), label="the memory sandbox"))
    assert [(c.name, c.ok) for c in checks] == [("login", True), ("limits", True), ("read", True)]
    assert checks[1].detail == "Memory CRM lists no limits"
    assert checks[2].detail.startswith("read 1 record of Member")
