"""A campaign store in the accounts file: a PostgreSQL URL with its password by reference."""

import pandas as pd
import pytest

import crmframes
from crmframes.accounts import open_store, store_url
from crmframes.errors import ConfigError, StoreError
from crmframes.runner import run_job
from crmframes.specs import Job
from crmframes.specs.account_file import parse_accounts
from tests.store.pgserver import as_role

ACCOUNTS = """\
offline:
  sandbox: {crm: dynamics, data: demo, scale: 0.05}
campaign-db:
  store:
    url: URL
    password: {env: CAMPAIGN_DB_PASSWORD}
"""


def accounts_file(tmp_path, url):
    path = tmp_path / "accounts.yaml"
    path.write_text(ACCOUNTS.replace("URL", url))
    return path


def test_a_store_entry_is_parsed_and_kept_apart_from_the_crm_accounts():
    found = parse_accounts(ACCOUNTS.replace("URL", "postgresql://sync@db:5432/marketing"))
    assert list(found.accounts) == ["offline"]
    entry = found.find_store("campaign-db")
    assert entry.url == "postgresql://sync@db:5432/marketing"
    assert str(entry.password) == "environment variable CAMPAIGN_DB_PASSWORD"
    with pytest.raises(ConfigError, match="'campaign-db' is a campaign store, not a CRM account"):
        found.find("campaign-db")
    with pytest.raises(
        ConfigError, match=r"no campaign store 'offline'.*its stores: 'campaign-db'"
    ):
        found.find_store("offline")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://sync:hunter2@db/marketing", "a password cannot be written in the URL"),
        ("postgresql://sync@db/marketing?password=hunter2", "a password cannot be written"),
        ("postgresql://sync@db/m?sslmode=require&sslpassword=hunter2", "cannot be written"),
        ("https://db.example.com/marketing", "should start with postgresql://"),
    ],
)
def test_a_bad_store_url_is_refused_without_repeating_it(url, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_accounts(ACCOUNTS.replace("URL", url), source="accounts.yaml")
    assert "hunter2" not in str(caught.value)
    assert "accounts.yaml:5: campaign-db.store.url" in str(caught.value)


def test_a_store_entry_holds_only_the_store_key():
    text = ACCOUNTS.replace("URL", "postgresql://sync@db/m") + "  crm: dynamics\n"
    with pytest.raises(ConfigError, match="a store entry holds only the store key"):
        parse_accounts(text)


def test_the_password_is_read_from_its_reference_and_quoted_into_the_url():
    entry = parse_accounts(ACCOUNTS.replace("URL", "postgresql://sync@db/m")).find_store(
        "campaign-db"
    )
    url = store_url(entry, environ={"CAMPAIGN_DB_PASSWORD": "p@ss/word"})
    assert url == "postgresql://sync:p%40ss%2Fword@db/m"
    with pytest.raises(ConfigError, match="environment variable CAMPAIGN_DB_PASSWORD is not set"):
        store_url(entry, environ={})


def test_open_store_opens_the_entry_with_its_password(
    password_role, pg_url, pg_schema, tmp_path, monkeypatch
):
    url = as_role(pg_url, "pwuser") + f"?schema={pg_schema}"
    path = accounts_file(tmp_path, url)
    environ = {"CAMPAIGN_DB_PASSWORD": password_role}
    assert crmframes.open_store is open_store
    with open_store("campaign-db", accounts=path, environ=environ) as store:
        store.merge("Contact", pd.DataFrame({"Id": ["003A"], "Name": ["a"]}), key="Id")
        assert store.tables() == ["Contact"]
        assert password_role not in repr(store) and password_role not in store.path
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        open_store("campaign-db", accounts=path, environ={"CAMPAIGN_DB_PASSWORD": "wrong-pw"})
    assert "wrong-pw" not in str(caught.value)


def test_a_job_names_its_store_as_an_accounts_file_entry(
    password_role, pg_url, pg_schema, tmp_path
):
    path = accounts_file(tmp_path, as_role(pg_url, "pwuser") + f"?schema={pg_schema}")
    job = Job.from_yaml(
        "name: sync\naccount: offline\nstore: account:campaign-db\nsteps:\n"
        "  - import: {object: contact, fields: [lastname], limit: 7}\n",
        source="sync.yaml",
    )
    environ = {"CAMPAIGN_DB_PASSWORD": password_role}
    report = run_job(job, accounts=path, environ=environ, progress=False)
    assert report.ok
    assert password_role not in str(report) and "pwuser:***@" in report.store
    with open_store("campaign-db", accounts=path, environ=environ) as store:
        assert len(store.read("contact")) == 7
    missing = Job.from_yaml(
        "name: sync\naccount: offline\nstore: account:nowhere\nsteps:\n"
        "  - import: {object: contact, fields: [lastname], limit: 7}\n",
        source="sync.yaml",
    )
    with pytest.raises(ConfigError, match=r"sync\.yaml:3: store: no campaign store 'nowhere'"):
        run_job(missing, accounts=path, environ=environ, progress=False)
