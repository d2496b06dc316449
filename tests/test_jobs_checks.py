"""A job is checked whole before its first step: nothing reaches the CRM or the store when it fails.

Each mistake is one line ``file:line: path: ...`` with exit code 2, and the sandbox's API
call count and the store file are the same afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from crmframes import CampaignStore, Sandbox
from crmframes.cli import main
from crmframes.errors import ConfigError
from crmframes.runner import run_job
from crmframes.runner.checks import query_tables
from crmframes.specs import ImportSpec, Job
from tests.test_runner import crm_account

SECRET_ENV = "JOBS_CHECKS_SECRET"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo", scale=0.02) as sandbox:
        yield sandbox


def account(sb: Sandbox) -> dict[str, Any]:
    found = crm_account(sb)
    found["auth"]["client_secret"] = {"env": SECRET_ENV}
    return found


def run_cli(sb: Sandbox, *args: str) -> Any:
    runner = CliRunner(env={SECRET_ENV: sb.credentials["client_secret"]})
    return runner.invoke(main, ["run", *args, "--no-progress"])


def job_text(sb: Sandbox, store: Path, steps: list[dict[str, Any]]) -> str:
    data = {"name": "checked", "account": account(sb), "store": str(store), "steps": steps}
    return yaml.safe_dump(data, sort_keys=False)


IMPORT = {"import": {"object": "contact", "fields": ["lastname"], "table": "contacts"}}


def existing_store(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.duckdb"
    with CampaignStore(path) as store:
        store.merge("people", pd.DataFrame({"id": ["1"], "last": ["Ann"]}), key="id")
    return path


def line_of(job: Path, text: str) -> int:
    """The line of the job file that holds ``text`` first."""
    return next(n for n, line in enumerate(job.read_text().splitlines(), 1) if text in line)


def refused(sb: Sandbox, job: Path, store: Path, message: str, *args: str) -> None:
    """Run the job through the CLI; it must exit 2 with ``message`` and change nothing."""
    before_calls = sb.api_call_count()
    before = store.read_bytes() if store.exists() else None
    result = run_cli(sb, str(job), *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"crmframes: configuration error: {message}"), lines[0]
    assert sb.api_call_count() == before_calls
    assert (store.read_bytes() if store.exists() else None) == before


def test_a_step_reading_a_table_no_step_writes_is_refused_before_any_call(sb, tmp_path):
    store = existing_store(tmp_path)
    export = {"export": {"object": "contact", "source": "peeple", "key": "contactid"}}
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, [IMPORT, export]))
    line = line_of(job, "source: peeple")
    refused(
        sb,
        job,
        store,
        f"{job}:{line}: steps[1].export.source.table: table 'peeple' is not in the store and "
        "no earlier step writes it (did you mean 'people'?); the store has people",
    )


def test_a_query_reading_a_missing_table_is_refused_naming_the_query(sb, tmp_path):
    store = tmp_path / "new.duckdb"
    query = (
        "WITH recent AS (SELECT * FROM contacts) "
        "SELECT contactid FROM recent WHERE contactid IN (SELECT contactid FROM diffs)"
    )
    export = {"export": {"object": "contact", "source": {"query": query}, "key": "contactid"}}
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, [IMPORT, export]))
    refused(
        sb,
        job,
        store,
        f"{job}:{line_of(job, 'query:')}: steps[1].export.source.query: table 'diffs' is not in the store and no "
        "earlier step writes it; the store has no tables yet",
    )
    assert not store.exists()


def test_a_table_a_later_step_writes_says_to_move_the_step(sb, tmp_path):
    store = tmp_path / "s.duckdb"
    steps = [
        {"dedupe": {"table": "contacts", "on": "lastname"}},
        IMPORT,
    ]
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, steps))
    refused(
        sb,
        job,
        store,
        f"{job}:{line_of(job, 'table: contacts')}: steps[0].dedupe.table: table 'contacts' is not in the store and step 2 "
        "writes it: move this step after that one",
    )


@pytest.mark.parametrize(
    ("step", "path", "name"),
    [
        ({"import": {"object": "contact", "table": "__crmframes_options"}},
         "steps[0].import.table", "__crmframes_options"),
        ({"merge": {"table": "people", "source": "_CRMFRAMES_dtypes", "key": "id"}},
         "steps[0].merge.source.table", "_CRMFRAMES_dtypes"),
        ({"export": {"object": "contact", "source": "people", "rejects": "__crmframes_x"}},
         "steps[0].export.rejects.table", "__crmframes_x"),
    ],
)  # fmt: skip
def test_a_reserved_table_name_is_refused_before_any_call(sb, tmp_path, step, path, name):
    store = existing_store(tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, [step]))
    message = f"{path}: table name {name!r} is reserved for crmframes' own tables; choose another"
    refused(sb, job, store, f"{job}:{line_of(job, name)}: {message}")


@pytest.mark.parametrize(
    "name", ["__crmframes_options", "_crmframes_x", "_CrmFrames_y", "crmframes_z", "x__crmframes_"]
)
def test_the_jobs_reserved_names_are_the_stores(name, tmp_path):
    try:
        ImportSpec(object="contact", table=name)
        spec_refuses = False
    except ValueError:
        spec_refuses = True
    with CampaignStore() as store:
        try:
            store.merge(name, pd.DataFrame({"id": ["1"]}), key="id")
            store_refuses = False
        except ConfigError:
            store_refuses = True
    assert spec_refuses == store_refuses


def test_a_nul_in_a_job_file_is_one_line_naming_the_key(sb, tmp_path):
    store = existing_store(tmp_path)
    job = tmp_path / "job.yaml"
    text = job_text(sb, store, [IMPORT]).replace("table: contacts", "table: con\x00tacts")
    job.write_text(text)
    line = line_of(job, "\x00")
    refused(
        sb,
        job,
        store,
        f"{job}:{line}: steps[0].import.table: control character U+0000 at "
        "column 15 is not "
        "allowed in YAML; delete it",
    )


def test_an_escaped_control_character_in_a_name_is_refused(sb, tmp_path):
    store = existing_store(tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, [IMPORT]).replace("table: contacts", 'table: "a\\x01b"'))
    refused(
        sb,
        job,
        store,
        f"{job}:{line_of(job, 'table:')}: steps[0].import.table: holds the control character "
        "U+0001 at position 2; delete it",
    )


def test_a_control_character_in_the_accounts_file_is_one_line_naming_the_key(sb, tmp_path):
    store = existing_store(tmp_path)
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump({"dv": account(sb)}, sort_keys=False).replace("dynamics", "dyn\x1bamics")
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump({"name": "j", "account": "dv", "store": str(store), "steps": [IMPORT]})
    )
    refused(
        sb,
        job,
        store,
        f"{accounts}:2: dv.crm: control character U+001B at column 11 is not allowed in YAML",
        "--accounts",
        str(accounts),
    )


def test_a_query_duckdb_cannot_parse_and_a_missing_file_are_refused(sb, tmp_path):
    store = existing_store(tmp_path)
    bad_query = {"merge": {"table": "t", "source": {"query": "SELEC id FROM people"}, "key": "id"}}
    job = tmp_path / "job.yaml"
    job.write_text(job_text(sb, store, [IMPORT, bad_query]))
    refused(
        sb,
        job,
        store,
        f"{job}:{line_of(job, 'query:')}: steps[1].merge.source.query: DuckDB cannot parse "
        'the query: syntax error at or near "SELEC"',
    )
    missing = {"merge": {"table": "t", "source": {"file": str(tmp_path / "no.csv")}, "key": "id"}}
    job.write_text(job_text(sb, store, [IMPORT, missing]))
    line = line_of(job, "no.csv")
    refused(sb, job, store, f"{job}:{line}: steps[1].merge.source.file: no such file")


def test_tables_of_the_store_and_of_earlier_steps_pass_in_any_case(tmp_path):
    store = existing_store(tmp_path)
    with CampaignStore(store) as campaign:
        campaign.sql("CREATE VIEW ann AS SELECT * FROM people WHERE last = 'Ann'")
    steps = [
        {"merge": {"table": "anns", "source": {"query": "SELECT * FROM ann"}, "key": "id"}},
        {"merge": {"table": "Copy", "source": {"query": 'SELECT * FROM "PEOPLE"'}, "key": "id"}},
        {
            "dedupe": {
                "table": "copy",
                "on": "last",
                "keep": "first",
                "key": "id",
                "removed_table": "gone",
            }
        },
        {"merge": {"table": "again", "source": "GONE", "key": "id"}},
    ]
    job = Job.from_dict(
        {
            "name": "j",
            "account": {"sandbox": {"data": "empty"}},
            "store": str(store),
            "steps": steps,
        }
    )
    report = run_job(job, progress=False)
    assert report.ok, report.error
    assert report.steps[0].counts == {"rows": 1, "inserted": 1}


def test_query_tables_reads_what_duckdb_would_look_up():
    with CampaignStore() as parser:
        query = (
            "WITH a AS (SELECT * FROM one) SELECT * FROM a JOIN main.Two USING (k) "
            "WHERE k IN (SELECT k FROM three) UNION ALL SELECT * FROM read_csv('x.csv') "
            "UNION ALL SELECT * FROM information_schema.tables"
        )
        assert sorted(query_tables(query, parser=parser)) == ["Two", "one", "three"]
        assert query_tables("DELETE FROM x", parser=parser) == []  # left to the step
