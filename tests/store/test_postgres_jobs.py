"""What is built on the store runs on PostgreSQL too: a job file's store and the demo."""

import pandas as pd
import pytest
from click.testing import CliRunner

from crmframes import export_to_crm
from crmframes.cli import main
from crmframes.errors import ConfigError
from crmframes.runner import run_job
from crmframes.specs import Job
from crmframes.store import CampaignStore
from tests.test_runner import SEED  # the seed workflow, its store given per test


def test_a_job_file_store_may_be_a_postgresql_url(pg_url, pg_schema):
    url = pg_url.replace("crm@", "crm:s3cret@") + f"?schema={pg_schema}"
    job = Job.from_yaml(SEED.replace("STORE", url), source="seed.yaml")
    report = run_job(job, progress=False)
    assert report.ok, report.error
    assert "s3cret" not in report.store and "crm:***@" in report.store
    imported, dedupe, delete, reconcile, export, deleted = (s.counts for s in report.steps)
    assert dedupe["removed"] > 0 and dedupe["filled"] > 0
    assert delete == {"rows": dedupe["removed"], "deleted": dedupe["removed"]}
    assert reconcile["different"] == dedupe["filled"]
    assert export == {"rows": dedupe["filled"], "updated": dedupe["filled"]}
    assert deleted["deleted in CRM"] == dedupe["removed"] + 2
    with CampaignStore(url) as store:
        assert store.schema == pg_schema
        assert {"contact", "contact_duplicates", "contact_corrections"} <= set(store.tables())
        assert len(store.read("contact")) == imported["imported"] - dedupe["removed"]


def test_the_demo_runs_on_a_postgresql_store(pg_url, pg_schema, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the journals folder goes in the working folder
    url = f"{pg_url}?schema={pg_schema}"
    args = ["demo", "--store", url, "--scale", "0.2", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1,005 inserted, 0 updated, 0 unchanged into table 'contact'" in result.output
    assert "60 duplicates removed from the store" in result.output
    assert "2 contacts marked deleted (crmDeletedDate)" in result.output
    journals = tmp_path / f"{pg_url.rsplit('/', 1)[1]}.{pg_schema}.journals"
    assert {p.name.split("-20")[0] for p in journals.iterdir()} == {
        "contact-delete",
        "contact-export",
    }
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "sent again         0 calls" in again.output
    with CampaignStore(url, read_only=True) as store:
        assert store.options["LASTIMPORT_sandbox_import_contacts"]
        assert store.read("contact")["crmDeletedDate"].notna().sum() >= 2


def test_an_export_journaled_by_a_postgresql_store_keeps_it_in_a_local_folder(
    pg_url, pg_schema, tmp_path, monkeypatch, dv
):
    monkeypatch.chdir(tmp_path)
    df = pd.DataFrame({"lastname": ["Lovelace", "Hopper"], "crmf_externalid": ["C-1", "C-2"]})
    with CampaignStore(pg_url, schema=pg_schema) as store:
        result = export_to_crm(dv.connector(), "contact", df, journal=store, progress=False)
        assert result.stats.created == 2
        assert result.journal is not None
        folder = tmp_path / f"{pg_url.rsplit('/', 1)[1]}.{pg_schema}.journals"
        assert store.journals == folder and result.journal.parent == folder / "done"


def test_a_job_that_fails_its_checks_creates_no_schema(pg_url, pg_schema):
    from tests.store.pgserver import superuser

    url = f"{pg_url}?schema={pg_schema}"
    job = Job.from_yaml(
        "name: broken\naccount:\n  sandbox: {crm: dynamics, scale: 0.05}\n"
        f"store: {url}\nsteps:\n"
        "  - export:\n      object: contact\n      source: {table: nowhere}\n      key: contactid\n",
        source="broken.yaml",
    )
    with pytest.raises(ConfigError, match="nowhere"):
        run_job(job, progress=False)
    found = superuser(pg_url, f"SELECT count(*) FROM pg_namespace WHERE nspname = '{pg_schema}'")
    assert found == [(0,)]  # checked against no tables, before any store write
