"""Jobs run end to end on both sandboxes: dry runs, real runs, the CLI, accounts and their secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
import yaml
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.backends import fail

from crmframes import CampaignStore, Sandbox
from crmframes.accounts import load_accounts
from crmframes.cli import main
from crmframes.errors import ConfigError
from crmframes.runner import run_job
from crmframes.specs import Job

PHONE = "+1 555 0100"
# Each CRM's names for the same contact fields.
CRMS: dict[str, dict[str, str]] = {
    "dynamics": {
        "object": "contact",
        "id": "contactid",
        "last": "lastname",
        "email": "emailaddress1",
        "phone": "telephone1",
    },
    "salesforce": {
        "object": "Contact",
        "id": "Id",
        "last": "LastName",
        "email": "Email",
        "phone": "Phone",
    },
}


@pytest.fixture(params=list(CRMS))
def crm(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"crm": request.param} | CRMS[request.param]


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)  # restored after the test
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def dv() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo", scale=0.02) as sb:
        yield sb


def sandbox(crm: dict[str, str]) -> dict[str, Any]:
    return {"sandbox": {"crm": crm["crm"], "scale": 0.02}}


def sync_job(crm: dict[str, str], store: Path) -> Job:
    """Import contacts, fix three phones in the store, export them, and read them back."""
    fixes = (
        f"SELECT {crm['id']}, '{PHONE}' AS {crm['phone']} FROM contacts "
        f"ORDER BY {crm['id']} LIMIT 3"
    )
    return Job.from_dict(
        {
            "name": "sync",
            "account": sandbox(crm),
            "store": str(store),
            "steps": [
                {
                    "import": {
                        "object": crm["object"],
                        "fields": [crm["last"], crm["email"], crm["phone"]],
                        "auto_index": {"activity": "contacts", "instance": "test"},
                        "table": "contacts",
                    }
                },
                {"merge": {"table": "fixes", "source": {"query": fixes}, "key": crm["id"]}},
                {
                    "export": {
                        "object": crm["object"],
                        "source": "fixes",
                        "key": crm["id"],
                        "journal": False,
                    }
                },
                {
                    "import": {
                        "object": crm["object"],
                        "fields": [crm["phone"]],
                        "where": {"field": crm["phone"], "op": "==", "value": PHONE},
                        "table": "check",
                    }
                },
            ],
        },
        source="job.yaml",
    )


def test_dry_run_reads_the_crm_and_writes_nothing(crm, tmp_path):
    store = tmp_path / "campaign.duckdb"
    report = run_job(sync_job(crm, store), dry_run=True, progress=False)
    assert report.ok and report.dry_run
    assert [s.status for s in report.steps] == ["dry run", "skipped", "skipped", "dry run"]
    imported = report.steps[0].counts
    assert imported["imported"] > 0 and imported["inserted"] == imported["imported"]
    assert report.steps[0].api_calls > 0
    assert "does not exist yet" in report.steps[2].notes[0]
    assert report.steps[3].counts == {"imported": 0}
    assert not store.exists()


def test_job_imports_merges_exports_and_reads_back(crm, tmp_path):
    store = tmp_path / "campaign.duckdb"
    report = run_job(sync_job(crm, store), progress=False)
    assert report.ok, report.error
    assert [s.status for s in report.steps] == ["ok"] * 4
    first = report.steps[0].counts["imported"]
    assert report.steps[1].counts == {"rows": 3, "inserted": 3}
    assert report.steps[2].counts == {"rows": 3, "updated": 3}
    assert report.steps[2].api_calls >= 1
    assert report.steps[3].counts == {"imported": 3, "inserted": 3}  # the CRM has the fixes
    with CampaignStore(store) as campaign:
        assert sorted(campaign.tables()) == ["check", "contacts", "fixes"]
        assert "LASTIMPORT_test_contacts" in campaign.options
        assert len(campaign.read("contacts")) == first

    again = run_job(sync_job(crm, store), progress=False)  # a new sandbox, nothing changed since
    assert again.ok, again.error
    assert again.steps[0].counts == {"imported": 0}
    assert "from" not in again.steps[0].notes[0] and "window 20" in again.steps[0].notes[0]


def test_dry_run_leaves_an_existing_store_untouched(crm, tmp_path):
    store = tmp_path / "campaign.duckdb"
    assert run_job(sync_job(crm, store), progress=False).ok
    before = store.read_bytes()
    report = run_job(sync_job(crm, store), dry_run=True, progress=False)
    assert report.ok, report.error
    assert [s.status for s in report.steps] == ["dry run"] * 4
    assert report.steps[2].counts == {"rows": 3, "would update": 3}
    assert store.read_bytes() == before


def test_export_from_a_file_writes_the_crm_ids_back(crm, tmp_path):
    people = tmp_path / "newcomers.csv"
    people.write_text("email,last\nann@example.test,Ann\nbob@example.test,Bob\n")
    job = Job.from_dict(
        {
            "name": "newcomers",
            "account": sandbox(crm),
            "store": str(tmp_path / "campaign.duckdb"),
            "steps": [
                {"merge": {"table": "newcomers", "source": {"file": str(people)}, "key": "email"}},
                {
                    "export": {
                        "object": crm["object"],
                        "source": "newcomers",
                        "mapping": {"email": crm["email"], "last": crm["last"]},
                        "journal": False,
                        "write_back": {"key": "email"},
                    }
                },
            ],
        }
    )
    report = run_job(job, progress=False)
    assert report.ok, report.error
    assert report.steps[1].counts == {"rows": 2, "created": 2, "ids written back": 2}
    with CampaignStore(tmp_path / "campaign.duckdb") as campaign:
        rows = campaign.read("newcomers", order_by="email")
    assert rows["email"].tolist() == ["ann@example.test", "bob@example.test"]
    assert rows["crmId"].notna().all()


def crm_account(sb: Sandbox) -> dict[str, Any]:
    """The account of a running sandbox, its secret read from $SANDBOX_SECRET."""
    creds = sb.credentials
    auth = {"client_id": creds["client_id"], "client_secret": {"env": "SANDBOX_SECRET"}}
    if sb.crm == "salesforce":
        return {"crm": "salesforce", "url": sb.url, "ca_file": sb.ca_file, "auth": auth}
    tenant = creds["tenant_id"]
    return {
        "crm": "dynamics",
        "url": sb.url,
        "tenant_id": tenant,
        "authority": f"{sb.url}/{tenant}",
        "ca_file": sb.ca_file,
        "auth": auth,
    }


def test_deletions_in_the_crm_are_imported_and_applied(crm, tmp_path):
    store = str(tmp_path / "campaign.duckdb")
    first = [
        {"import": {"object": crm["object"], "fields": [crm["last"]], "table": "c"}},
        {
            "delete": {
                "object": crm["object"],
                "source": {"query": f"SELECT {crm['id']} FROM c ORDER BY 1 LIMIT 2"},
                "journal": False,
            }
        },
    ]
    later = [
        {
            "deleted": {
                "object": crm["object"],
                "lookback": "1h",
                "auto_index": {"activity": "deleted"},
                "table": "c",
            }
        }
    ]
    with Sandbox(crm["crm"], data="demo", scale=0.02) as sb:
        environ = {"SANDBOX_SECRET": sb.credentials["client_secret"]}
        for steps in (first, later):
            job = Job.from_dict(
                {"name": "deletions", "account": crm_account(sb), "store": store, "steps": steps}
            )
            report = run_job(job, progress=False, environ=environ)
            assert report.ok, report.error
            sb.clock.advance(seconds=5)  # the CRM's deletion log is read up to its clock
    assert report.steps[0].counts == {"deleted in CRM": 2, "marked": 2}
    with CampaignStore(store) as campaign:
        marked = campaign.sql('SELECT count(*) AS n FROM c WHERE "crmDeletedDate" IS NOT NULL')
        assert int(marked["n"].iloc[0]) == 2
        assert "LASTIMPORT_default_deleted" in campaign.options


def test_reconcile_finds_the_store_changes_and_an_export_sends_them(crm, tmp_path):
    store = str(tmp_path / "campaign.duckdb")
    key, phone = crm["id"], crm["phone"]
    changed = f"SELECT {key}, '{PHONE}' AS {phone} FROM contacts ORDER BY {key} LIMIT 3"
    reconcile = {
        "reconcile": {
            "object": crm["object"],
            "fields": [phone],
            "source": {"table": "contacts", "columns": [key, phone]},
            "key": key,
            "save": {"differences": "diffs", "only_crm": "new_in_crm"},
        }
    }
    corrections = f"SELECT {key}, {phone} FROM contacts WHERE {key} IN (SELECT {key} FROM diffs)"
    steps = [
        {"import": {"object": crm["object"], "fields": [phone], "table": "contacts"}},
        {"merge": {"table": "contacts", "source": {"query": changed}, "key": key}},
        reconcile,
        {
            "export": {
                "object": crm["object"],
                "source": {"query": corrections},
                "key": key,
                "journal": False,
            }
        },
        reconcile,
    ]
    job = Job.from_dict({"name": "fix", "account": sandbox(crm), "store": store, "steps": steps})
    report = run_job(job, progress=False)
    assert report.ok, report.error
    rows = report.steps[0].counts["imported"]
    first, last = report.steps[2].counts, report.steps[4].counts
    assert first == {
        "store rows": rows,
        "CRM rows": rows,
        "identical": rows - 3,
        "different": 3,
        "only in store": 0,
        "only in CRM": 0,
    }
    assert report.steps[3].counts == {"rows": 3, "updated": 3}
    assert last["different"] == 0 and last["identical"] == rows
    with CampaignStore(store) as campaign:
        assert len(campaign.read("diffs")) == 0  # replaced by the last run: nothing differs
        assert list(campaign.read("diffs").columns) == [key, "field", "store", "crm"]
        assert len(campaign.read("new_in_crm")) == 0


def test_a_failing_step_stops_the_job_and_is_reported(tmp_path):
    job = Job.from_dict(
        {
            "name": "broken",
            "account": {"sandbox": {"crm": "salesforce", "data": "empty"}},
            "store": str(tmp_path / "s.duckdb"),
            "steps": [
                {"import": {"object": "Contatc"}},
                {"import": {"object": "Contact"}},
            ],
        }
    )
    report = run_job(job, progress=False)
    assert not report.ok
    assert [s.status for s in report.steps] == ["failed", "skipped"]
    assert report.error is not None and report.error.startswith("step 1 (import Contatc")
    assert "Contact" in report.error  # the close match
    assert "failed: step 1" in str(report)


def test_dedupe_step_removes_duplicates_in_the_store(tmp_path):
    store = tmp_path / "campaign.duckdb"
    people = tmp_path / "people.csv"
    people.write_text("id,email,m\n1,a@x.test,1\n2,A@X.test ,2\n3,b@x.test,3\n")
    job = Job.from_dict(
        {
            "name": "dedupe",
            "account": {"sandbox": {"data": "empty"}},
            "store": str(store),
            "steps": [
                {"merge": {"table": "people", "source": {"file": str(people)}, "key": "id"}},
                {
                    "dedupe": {
                        "table": "people",
                        "on": "email",
                        "key": "id",
                        "modified": "m",
                        "removed_table": "duplicates",
                    }
                },
            ],
        }
    )
    report = run_job(job, progress=False)
    assert report.ok, report.error
    assert report.steps[1].counts["removed"] == 1
    assert report.steps[1].notes == ["1 removed rows kept in duplicates"]
    with CampaignStore(store) as campaign:
        assert sorted(campaign.read("people")["id"].tolist()) == [2, 3]
        removed = campaign.read("duplicates")
        assert removed[["id", "survivorKey"]].astype("str").to_dict("list") == {
            "id": ["1"],
            "survivorKey": ["2"],
        }
    dry = run_job(job, dry_run=True, progress=False)  # the store now has nothing to remove
    assert dry.ok and dry.steps[1].status == "dry run"
    assert dry.steps[1].counts["removed"] == 0


# --- the command line -----------------------------------------------------------------------


def write_job(path: Path, job: Job) -> Path:
    path.write_text(job.to_yaml())
    return path


def test_cli_runs_a_job_and_prints_json(tmp_path):
    path = write_job(
        tmp_path / "job.yaml",
        sync_job(CRMS["dynamics"] | {"crm": "dynamics"}, tmp_path / "s.duckdb"),
    )
    result = CliRunner().invoke(main, ["run", str(path), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["job"] == "sync"
    assert [s["status"] for s in report["steps"]] == ["ok"] * 4
    assert report["steps"][2]["counts"] == {"rows": 3, "updated": 3}


def test_cli_dry_run_prints_a_table_and_progress(tmp_path):
    path = write_job(
        tmp_path / "job.yaml",
        sync_job(CRMS["dynamics"] | {"crm": "dynamics"}, tmp_path / "s.duckdb"),
    )
    result = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "(dry run: nothing written)" in result.stdout
    assert "import contact → contacts" in result.stdout
    assert "[1/4] import contact → contacts ..." in result.stderr
    assert not (tmp_path / "s.duckdb").exists()


def test_cli_store_option_replaces_the_jobs_store(tmp_path):
    path = write_job(
        tmp_path / "job.yaml",
        sync_job(CRMS["salesforce"] | {"crm": "salesforce"}, tmp_path / "s.duckdb"),
    )
    other = tmp_path / "other.duckdb"
    result = CliRunner().invoke(main, ["run", str(path), "--store", str(other), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert other.exists() and not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: j\naccount: a\nsteps:\n  - import: {object: c, limt: 3}\n",
         "job.yaml:4: steps[0].import.limt: unknown key 'limt' (did you mean 'limit'?)"),
        ("name: j\naccount: a\nsteps: [\n", "job.yaml:4:1: broken YAML: "),
        ("name: j\naccount: prod\nsteps:\n  - import: {object: c}\n",
         "job.yaml:2: account: unknown account 'prod' (did you mean 'prd'?); "),
    ],
)  # fmt: skip
def test_cli_configuration_errors_are_one_line_with_exit_code_2(tmp_path, text, message):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("prd:\n  sandbox: {}\n")
    job = tmp_path / "job.yaml"
    job.write_text(text)
    result = CliRunner().invoke(main, ["run", str(job), "--accounts", str(accounts)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"crmframes: configuration error: {tmp_path}/{message}")


def test_cli_a_missing_secret_or_job_file_exits_2_naming_it(tmp_path, dv):
    auth = {"client_id": "x", "client_secret": {"env": "CRMFRAMES_TEST_UNSET"}}
    accounts = accounts_file(tmp_path, dv, auth)
    job = write_job(tmp_path / "job.yaml", named_job(tmp_path))
    result = CliRunner().invoke(main, ["run", str(job), "--accounts", str(accounts)])
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "dv.auth.client_secret: environment variable CRMFRAMES_TEST_UNSET is not set"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    missing = CliRunner().invoke(main, ["run", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert missing.stderr.strip().endswith("nope.yaml: cannot read the job file: no such file")


SEED = """\
name: seed-workflow
account:
  sandbox: {crm: dynamics, scale: 0.3, simulate: {contact: {updates: 5, creates: 2, deletes: 2, seed: 7}}}
store: STORE
steps:
  - import:
      object: contact
      fields: [firstname, lastname, emailaddress1, telephone1, jobtitle]
      auto_index: {activity: import_contacts, instance: sandbox}
  - dedupe:
      table: contact
      on: [emailaddress1, [firstname, lastname]]
      modified: modifiedon
      key: contactid
      merge: [telephone1, jobtitle]
      removed_table: contact_duplicates
  - delete:
      object: contact
      source: {table: contact_duplicates, columns: [contactid]}
      journal: false
  - reconcile:
      object: contact
      fields: [telephone1, jobtitle]
      source: {table: contact, columns: [contactid, telephone1, jobtitle]}
      key: contactid
      save: {differences: contact_corrections}
  - export:
      object: contact
      source:
        query: >-
          SELECT contactid, telephone1, jobtitle FROM contact
          WHERE contactid IN (SELECT contactid FROM contact_corrections)
      key: contactid
      journal: false
  - deleted:
      object: contact
      lookback: 1d
      auto_index: {activity: deleted_contacts, instance: sandbox}
      table: contact
"""


def test_the_seed_workflow_runs_from_one_file(tmp_path):
    job = Job.from_yaml(SEED.replace("STORE", str(tmp_path / "c.duckdb")), source="seed.yaml")
    report = run_job(job, progress=False)
    assert report.ok, report.error
    imported, dedupe, delete, reconcile, export, deleted = (s.counts for s in report.steps)
    assert dedupe["removed"] > 0 and dedupe["filled"] > 0
    assert delete == {"rows": dedupe["removed"], "deleted": dedupe["removed"]}
    assert reconcile["different"] == dedupe["filled"]  # the store's filled survivors
    assert export == {"rows": dedupe["filled"], "updated": dedupe["filled"]}
    assert deleted["deleted in CRM"] == dedupe["removed"] + 2  # + the sandbox users' deletions
    assert imported["imported"] == dedupe["rows"]


def test_cli_a_failing_step_exits_1_after_the_report(tmp_path):
    job = Job.from_dict(
        {
            "name": "broken",
            "account": {"sandbox": {"data": "empty"}},
            "store": str(tmp_path / "s.duckdb"),
            "steps": [{"import": {"object": "nothing_here"}}],
        }
    )
    path = write_job(tmp_path / "job.yaml", job)
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "failed" in result.stdout
    assert result.stderr.startswith("crmframes: step 1 (import nothing_here")


def test_cli_run_has_help():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "--dry-run" in result.output and "--accounts" in result.output


# --- accounts and secrets -------------------------------------------------------------------


def accounts_file(tmp_path: Path, sb: Sandbox, auth: dict[str, Any]) -> Path:
    creds = sb.credentials
    account = {
        "crm": "dynamics",
        "url": sb.url,
        "tenant_id": creds["tenant_id"],
        "authority": f"{sb.url}/{creds['tenant_id']}",
        "ca_file": sb.ca_file,
        "auth": auth,
    }
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"other": {"sandbox": {}}, "dv": account}, sort_keys=False))
    return path


def named_job(tmp_path: Path) -> Job:
    return Job.from_dict(
        {
            "name": "named",
            "account": "dv",
            "store": str(tmp_path / "s.duckdb"),
            "steps": [{"import": {"object": "contact", "fields": ["lastname"], "limit": 5}}],
        }
    )


def test_a_named_account_reads_its_secret_from_the_environment(tmp_path, dv):
    secret = dv.credentials["client_secret"]
    auth = {
        "flow": "client_credentials",
        "client_id": dv.credentials["client_id"],
        "client_secret": {"env": "DV_SECRET"},
    }
    path = accounts_file(tmp_path, dv, auth)
    report = run_job(
        named_job(tmp_path), accounts=path, environ={"DV_SECRET": secret}, progress=False
    )
    assert report.ok, report.error
    assert report.account == "'dv'"
    assert report.steps[0].counts["imported"] == 5
    shown = [str(report), repr(report), json.dumps(report.to_dict()), repr(load_accounts(path))]
    assert not any(secret in text for text in shown)

    cli = CliRunner(env={"DV_SECRET": secret, "CRMFRAMES_ACCOUNTS": str(path)})
    job = write_job(tmp_path / "job.yaml", named_job(tmp_path))
    result = cli.invoke(main, ["run", str(job), "--json"])
    assert result.exit_code == 0, result.output
    assert secret not in result.output


def test_a_missing_environment_variable_names_the_place(tmp_path, dv):
    auth = {"client_id": "x", "client_secret": {"env": "DV_SECRET_UNSET"}}
    path = accounts_file(tmp_path, dv, auth)
    with pytest.raises(ConfigError) as info:
        run_job(named_job(tmp_path), accounts=path, environ={}, progress=False)
    line = path.read_text().splitlines().index("    client_secret:") + 1
    assert str(info.value) == (
        f"{path}:{line}: dv.auth.client_secret: environment variable DV_SECRET_UNSET is not set"
    )


def test_secrets_come_from_the_keyring(tmp_path, dv, memory_keyring):
    creds = dv.credentials
    memory_keyring.set_password("crmframes-test", creds["username"], creds["password"])
    auth = {
        "flow": "password",
        "client_id": creds["client_id"],
        "username": creds["username"],
        "password": {"keyring": f"crmframes-test:{creds['username']}"},
    }
    path = accounts_file(tmp_path, dv, auth)
    report = run_job(named_job(tmp_path), accounts=path, environ={}, progress=False)
    assert report.ok, report.error
    assert creds["password"] not in str(report) + json.dumps(report.to_dict())

    memory_keyring.delete_password("crmframes-test", creds["username"])
    with pytest.raises(ConfigError, match=r"dv.auth.password: the keyring has no entry"):
        run_job(named_job(tmp_path), accounts=path, environ={}, progress=False)


def test_no_keyring_backend_is_a_clear_error(tmp_path, dv, memory_keyring):
    keyring.set_keyring(fail.Keyring())
    auth = {"client_id": "x", "client_secret": {"keyring": "svc:user"}}
    path = accounts_file(tmp_path, dv, auth)
    with pytest.raises(ConfigError, match=r"dv.auth.client_secret: no system keyring is available"):
        run_job(named_job(tmp_path), accounts=path, environ={}, progress=False)


def test_secrets_come_from_files(tmp_path, dv):
    (tmp_path / "secret.txt").write_text(dv.credentials["client_secret"] + "\n")
    auth = {
        "client_id": dv.credentials["client_id"],
        "client_secret": {"file": str(tmp_path / "secret.txt")},
    }
    report = run_job(
        named_job(tmp_path), accounts=accounts_file(tmp_path, dv, auth), progress=False
    )
    assert report.ok, report.error


def test_an_unknown_account_names_the_job_line_and_the_choices(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text("dv2:\n  sandbox: {}\n")
    with pytest.raises(ConfigError) as info:
        run_job(named_job(tmp_path), accounts=path, progress=False)
    assert str(info.value) == (
        f"<dict>: account: unknown account 'dv' (did you mean 'dv2'?); {path} names: 'dv2'"
    )


def test_accounts_file_comes_from_the_environment_or_the_config_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"no such accounts file"):
        load_accounts(environ={"CRMFRAMES_ACCOUNTS": str(tmp_path / "missing.yaml")})
    empty = load_accounts(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert empty.accounts == {}
    with pytest.raises(ConfigError, match=r"unknown account 'dv'; .* \(missing: create it"):
        empty.find("dv")
    (tmp_path / "crmframes").mkdir()
    (tmp_path / "crmframes" / "accounts.yaml").write_text("dv:\n  sandbox: {crm: salesforce}\n")
    found = load_accounts(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert found.find("dv").crm == "salesforce"


def test_run_step_runs_one_spec_as_a_job_would_and_raises_its_error(dv_demo, tmp_path):
    from crmframes.errors import StoreError
    from crmframes.runner import run_step
    from crmframes.specs import ExportSpec, ImportSpec

    conn = dv_demo.connector()
    with CampaignStore(tmp_path / "one.duckdb") as store:
        spec = ImportSpec(object="contact", fields=["lastname"], limit=7, table="people")
        report, result = run_step(spec, conn, store=store)
        assert report.ok and report.steps[0].label == "import contact → people"
        assert report.steps[0].counts == {"imported": 7, "inserted": 7}
        assert len(result.frame) == 7 and len(store.read("people")) == 7
        missing = ExportSpec(object="contact", source={"table": "nobody"}, key="contactid")
        with pytest.raises(StoreError, match="no table 'nobody'"):
            run_step(missing, conn, store=store)
