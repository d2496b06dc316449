"""A third CRM, registered from outside the package, runs through the public functions.

``tests/memory_crm`` is a CRM written the way a new one would be: a client package
(settings, accounts-file entry, a connector over HTTPS) and a sandbox package (an
in-memory table behind a JSON API), registered with ``crmframes.registry.register``.
Nothing in ``crmframes/`` names it: the registry is the whole seam.
"""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from types import SimpleNamespace

import pandas as pd
import pytest

import crmframes
from crmframes import F, Sandbox, delete_in_crm, export_to_crm, import_from_crm, registry
from crmframes.accounts import connect
from crmframes.check import check_connection
from crmframes.errors import ConfigError
from crmframes.runner import run_job
from crmframes.sandbox import production_profile
from crmframes.specs import Job, parse_accounts
from tests.memory_crm import KIND, registered
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


def test_a_job_sends_again_the_rows_a_third_crm_rejected_for_now(
    memory: Sandbox, tmp_path: pathlib.Path
):
    people = tmp_path / "people.csv"
    people.write_text("email,name\nada@example.org,Ada\nbob@example.org,Bob\n")
    account = {
        "crm": "memory",
        "url": memory.url,
        "ca_file": memory.ca_file,
        "auth": {"flow": "client_credentials", "client_id": "memory-app",
                 "client_secret": {"env": "MEMORY_SECRET"}},
    }  # fmt: skip
    export = {"object": "Member", "source": "people", "key": "Email", "journal": False}
    export |= {"mapping": {"email": "Email", "name": "Name"}, "max_retries": 0}
    job = Job.from_dict(
        {
            "name": "members",
            "account": account,
            "store": str(tmp_path / "s.duckdb"),
            "steps": [
                {"merge": {"table": "people", "source": {"file": str(people)}, "key": "email"}},
                {"export": export | {"retry": {"times": 1, "wait": "1m"}}},
            ],
        }
    )
    busy = memory.faults.add("lock_row", "Member", times=2)  # MEMBERS_BUSY, a symbol it declares
    waits: list[float] = []
    environ = {"MEMORY_SECRET": memory.credentials["client_secret"]}
    report = run_job(job, progress=False, environ=environ, sleep=waits.append)
    assert report.ok, report.error
    assert busy.fired == 2 and waits == [60.0]
    ((first,),) = [report.steps[1].attempts]
    assert first.error.startswith("2 rows rejected for now: MEMBERS_BUSY (HTTP 409): the server")
    assert (report.steps[1].counts, report.steps[1].rejects) == ({"rows": 2, "created": 2}, {})
    assert sorted(memory.records("Member")["Email"]) == ["ada@example.org", "bob@example.org"]


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
# the public names crmframes re-exports
ALLOWED = {"crmframes", "crmframes.connectors"}
# Modules that may spell a CRM's name in a string, each with its reason.
NAMING = {"crmframes.demo.narration": "the demo runs on the Dynamics 365 sandbox"}


def outside_the_crm_packages() -> Iterator[tuple[str, ast.Module]]:
    """Every module of crmframes outside the CRM packages, parsed."""
    package = pathlib.Path(crmframes.__file__).parent
    for path in sorted(package.rglob("*.py")):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        if not any(name.startswith(f"crmframes.{p}") for p in CRM_PACKAGES):
            yield name, ast.parse(path.read_text())


def test_only_the_crm_packages_name_a_crm_package():
    wrong = []
    for name, tree in outside_the_crm_packages():
        if name in ALLOWED:
            continue
        for node in ast.walk(tree):
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


def crm_terms(name: str, tree: ast.Module, kinds: list[registry.CrmKind]) -> list[str]:
    """Strings (docstrings aside) that name a CRM or spell one of its for-now error symbols."""
    names = "|".join(re.escape(kind.label) for kind in kinds)
    labels = re.compile(rf"\b({names})\b")
    symbols = {symbol for kind in kinds for symbol in kind.for_now_symbols}
    documented = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    } | {  # the module's own names (connectors.throttling exports a class named Throttling)
        id(element)
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
        for element in ast.walk(node.value)
    }
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in documented
        and (node.value in symbols or labels.search(node.value))
    ]
    found.sort(key=lambda node: (node.lineno, node.col_offset))
    return [f"{name}:{node.lineno}: {node.value!r}" for node in found]


def test_only_the_crm_packages_spell_a_crms_name_or_error_symbols():
    kinds = [registry.crm_kind(name) for name in ("salesforce", "dynamics")]
    wrong = [
        line
        for name, tree in outside_the_crm_packages()
        if name not in NAMING
        for line in crm_terms(name, tree, kinds)
    ]
    assert not wrong, "let the CRM's package declare it (crmframes.registry):\n" + "\n".join(wrong)


def test_the_crm_terms_scan_catches_the_old_shapes():
    old = ast.parse(
        '"""A docstring may name Salesforce."""\n'
        'FOR_NOW = frozenset({"SERVER_UNAVAILABLE", "CONNECTION_LOST"})\n'
        'hint = "(Salesforce: View Setup and Configuration)"\n'
        '_CONCURRENT = ("0x80072326", "Number of concurrent requests exceeded")\n'
        'fine = "SalesforceConnector"\n'
        '__all__ = ["Throttling"]\n'
    )
    kinds = [registry.crm_kind(name) for name in ("salesforce", "dynamics")]
    assert [line.split(": ", 1)[1] for line in crm_terms("old", old, kinds)] == [
        "'SERVER_UNAVAILABLE'",
        "'(Salesforce: View Setup and Configuration)'",
        "'0x80072326'",
    ]


def test_a_third_crm_declares_its_production_figures():
    with registered():
        profile = production_profile("memory", speed=1000)
        assert (profile.round_trip, profile.create, profile.speed) == (0.02, 0.002, 1000)
        with Sandbox("memory", data="empty", profile="production", speed=1000) as sb:
            result = export_to_crm(sb.connector(), "Member", MEMBERS, journal=False, progress=False)
            assert (result.stats.created, sb.throttles()) == (3, {})
            assert "profile='production', speed=1000" in repr(sb)


def test_a_crm_without_production_figures_has_no_production_profile():
    bare = replace(KIND, name="bare", sandbox=SimpleNamespace(production=None, limits=None))
    registry.register(bare)
    try:
        with pytest.raises(ValueError, match="no production profile for 'bare'; use salesforce or"):
            production_profile("bare")
    finally:
        registry.unregister("bare")


def test_crmframes_check_checks_a_third_crm(memory: Sandbox):
    export_to_crm(memory.connector(), "Member", MEMBERS, journal=False, progress=False)
    checks = list(check_connection(lambda: closing(memory.connector()), label="the memory sandbox"))
    assert [(c.name, c.ok) for c in checks] == [("login", True), ("limits", True), ("read", True)]
    assert checks[1].detail == "Memory CRM lists no limits"
    assert checks[2].detail.startswith("read 1 record of Member")
